package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/micromdm/plist"

	"github.com/openomm/omm/enroll/checkin"
)

// The proxied deployment in tests: a TLS-terminating proxy, as nginx would
// be, in front of ommserver serving plain HTTP with -trusted-proxies.
const (
	proxyHeader = "X-Client-Cert"
	// proxyFrom is the address the proxy connects to the server from, the
	// only one the server trusts; tests that forge the header connect
	// from 127.0.0.1.
	proxyFrom = "127.0.0.2"
)

// frontProxy requests client certificates and forwards each in
// proxyHeader as percent-escaped PEM (nginx's $ssl_client_escaped_cert),
// replacing whatever the client sent. It keeps its address across server
// restarts, so that the public URL stays the same.
type frontProxy struct {
	ln      net.Listener
	backend atomic.Pointer[url.URL]
}

func newFrontProxy(t *testing.T, dir string) *frontProxy {
	t.Helper()
	return newFrontProxyWith(t, dir, false)
}

// newFrontProxyWith is newFrontProxy that, with forwardedFor, also
// appends each client's address to the X-Forwarded-For it received, as
// nginx's $proxy_add_x_forwarded_for does.
func newFrontProxyWith(t *testing.T, dir string, forwardedFor bool) *frontProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &frontProxy{ln: ln}
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(proxyFrom)}, Timeout: 5 * time.Second}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(p.backend.Load())
			r.Out.Host = r.In.Host
			r.Out.Header.Del(proxyHeader)
			if forwardedFor {
				r.Out.Header["X-Forwarded-For"] = r.In.Header["X-Forwarded-For"]
				r.SetXForwarded()
			}
			if r.In.TLS != nil && len(r.In.TLS.PeerCertificates) > 0 {
				r.Out.Header.Set(proxyHeader, checkin.FormatForwardedCert(r.In.TLS.PeerCertificates[0].Raw))
			}
		},
		Transport: &http.Transport{DialContext: dialer.DialContext},
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second, TLSConfig: &tls.Config{
		ClientAuth: tls.RequestClientCert,
		// The server writes its development certificate at its first start.
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			c, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls", servingFile), filepath.Join(dir, "tls", servingKeyFile))
			return &c, err
		},
	}}
	go srv.ServeTLS(ln, "", "") //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return p
}

func (p *frontProxy) url() string { return "https://" + p.ln.Addr().String() }

// startServerBehind runs the server as plain HTTP behind p, which it
// trusts; the test server's base is the proxy's URL, and backend the
// server's own.
func startServerBehind(t *testing.T, dir string, p *frontProxy) *testServer {
	t.Helper()
	ts := startServerArgs(t, dir, "-postgres", "", "-trusted-proxies", proxyFrom, "-client-cert-header", proxyHeader, "-public-url", p.url())
	backend, err := url.Parse("http://" + strings.TrimPrefix(ts.base, "https://"))
	if err != nil {
		t.Fatal(err)
	}
	p.backend.Store(backend)
	ts.backend = backend.String()
	ts.base = p.url()
	return ts
}

// TestBehindProxy: behind a TLS-terminating proxy, an iPhone enrolls and
// checks in with the certificate the proxy forwards. The same header sent
// straight to the server from an address that is not the proxy's is
// refused, even with the device's real certificate; a client's own header
// sent through the proxy is replaced by the proxy's; and the server does
// not speak TLS any more.
func TestBehindProxy(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	p := newFrontProxy(t, dir)
	w := newWorldVia(t, dir, p)
	token := w.agentSignIn(t, "alice")
	dev := enrollApple(t, w, token, "UDID-PROXY-000001")
	if !strings.HasPrefix(dev.serverURL, p.url()) {
		t.Fatalf("the enrollment profile's server URL %s is not the proxy's %s", dev.serverURL, p.url())
	}
	if st, _ := dev.put(t, dev.serverURL, map[string]any{"Status": "Idle"}); st != http.StatusOK {
		t.Fatalf("idle check-in through the proxy = %d", st)
	}
	leaf := dev.client.Transport.(*http.Transport).TLSClientConfig.Certificates[0].Certificate[0]
	body, err := plist.Marshal(map[string]any{"Status": "Idle", "UDID": dev.udid})
	if err != nil {
		t.Fatal(err)
	}
	path := strings.TrimPrefix(dev.serverURL, p.url())
	send := func(client *http.Client, base string, hdr string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), "PUT", base+path, bytes.NewReader(body))
		if hdr != "" {
			req.Header.Set(proxyHeader, hdr)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := send(http.DefaultClient, w.backend, checkin.FormatForwardedCert(leaf)); st != http.StatusForbidden {
		t.Errorf("the device's certificate in the header, straight from 127.0.0.1 = %d, want 403", st)
	}
	if st := send(w.client, p.url(), checkin.FormatForwardedCert(leaf)); st == http.StatusOK {
		t.Errorf("the device's certificate in a client's own header through the proxy = %d, want a refusal", st)
	}
	// Only a device's own TLS connection to the proxy proves it.
	if st := send(dev.client, p.url(), ""); st != http.StatusOK {
		t.Errorf("the device through the proxy = %d", st)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, err := (&tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}}).DialContext(ctx, "tcp", strings.TrimPrefix(w.backend, "http://")) //nolint:gosec // only checks that no TLS is spoken
	if err == nil {
		conn.Close()
		t.Error("the server behind the proxy still accepts TLS")
	}
	if !strings.Contains(w.out.String(), "serving plain HTTP behind a TLS-terminating proxy") {
		t.Error("the server does not say it serves plain HTTP behind a proxy")
	}
}
