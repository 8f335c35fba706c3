package checkin_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/openomm/omm/enroll/checkin"
)

const certHeader = "X-Client-Cert"

// escapedPEM is d's certificate as nginx's $ssl_client_escaped_cert
// writes it.
func escapedPEM(d *device) string { return checkin.FormatForwardedCert(d.cert.Raw) }

// proxied sends a check-in message of d as a proxy at remote would forward
// it, with hdr as the forwarded certificate header (none when nil), and
// returns the status.
func proxied(t *testing.T, h http.Handler, d *device, remote string, hdr []string, msg map[string]any) int {
	t.Helper()
	msg["UDID"] = d.udid
	req := httptest.NewRequest(http.MethodPut, fmt.Sprintf("/mdm/%s/checkin", d.org), bytesReader(plistBody(t, msg)))
	req.RemoteAddr = remote
	for _, v := range hdr {
		req.Header.Add(certHeader, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// TestTrustedProxy: behind a TLS-terminating proxy, a device enrolls and
// checks in with the client certificate the proxy forwards; the same
// header from any other address is refused, and so is everything that
// does not prove an identity the org's CA issued.
func TestTrustedProxy(t *testing.T) {
	e := newEnv(t, checkin.WithTrustedProxy("x-client-cert", []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("::1/128")}))
	h := mux(e.svc)
	d := e.newDevice(e.orgA, "PROXY-UDID-1", "u_alice")
	const proxy, stranger = "10.1.2.3:40000", "192.0.2.7:40000"
	auth := func() map[string]any { return map[string]any{"MessageType": "Authenticate", "Topic": topic} }

	// Forged: the header from an address that is not the proxy's is
	// refused, before anything is stored.
	if st := proxied(t, h, d, stranger, []string{escapedPEM(d)}, auth()); st != http.StatusForbidden {
		t.Errorf("forwarded certificate from %s = %d, want 403", stranger, st)
	}
	// Through the proxy: each format the proxies write.
	if st := proxied(t, h, d, proxy, []string{escapedPEM(d)}, auth()); st != http.StatusOK {
		t.Fatalf("Authenticate through the proxy = %d", st)
	}
	der := base64.StdEncoding.EncodeToString(d.cert.Raw)
	if st := proxied(t, h, d, proxy, []string{der}, map[string]any{"MessageType": "TokenUpdate", "Topic": topic,
		"Token": []byte("tok"), "PushMagic": "magic"}); st != http.StatusOK {
		t.Fatalf("TokenUpdate with base64 DER = %d", st)
	}
	if st := proxied(t, h, d, "[::1]:5000", []string{string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d.cert.Raw}))},
		auth()); st != http.StatusOK {
		t.Errorf("Authenticate with raw PEM from the IPv6 proxy = %d", st)
	}
	if got := d.record(); got.ID == "" {
		t.Fatal("the device enrolled through the proxy is not registered")
	}

	other := e.newDevice(e.orgB, "PROXY-UDID-B", "u_bob") // another org's CA
	stranger2 := newCA(t, "Not the org's CA")
	forgedCert, _ := stranger2.issue(t, d.udid)
	for _, tt := range []struct {
		name   string
		remote string
		hdr    []string
		want   int
	}{
		{"the header from a stranger", stranger, []string{escapedPEM(d)}, http.StatusForbidden},
		{"an empty header from a stranger", stranger, []string{""}, http.StatusForbidden},
		{"the header from a look-alike address", "10.2.0.1:1", []string{escapedPEM(d)}, http.StatusForbidden},
		{"an unparsable remote address", "proxy", []string{escapedPEM(d)}, http.StatusForbidden},
		{"two headers from the proxy", proxy, []string{escapedPEM(d), escapedPEM(d)}, http.StatusForbidden},
		{"garbage from the proxy", proxy, []string{"%%%"}, http.StatusForbidden},
		{"a key, not a certificate", proxy, []string{url.QueryEscape(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("x")})))}, http.StatusForbidden},
		{"a certificate of another CA", proxy, []string{base64.StdEncoding.EncodeToString(forgedCert.Raw)}, http.StatusForbidden},
		{"another org's device", proxy, []string{escapedPEM(other)}, http.StatusForbidden},
		{"the proxy without a certificate", proxy, []string{""}, http.StatusBadRequest},
		{"no header from the proxy", proxy, nil, http.StatusBadRequest},
		{"no header from a stranger", stranger, nil, http.StatusBadRequest},
		{"an oversized header", proxy, []string{strings.Repeat("A", checkin.MaxForwardedCert+1)}, http.StatusForbidden},
	} {
		if st := proxied(t, h, d, tt.remote, tt.hdr, auth()); st != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, st, tt.want)
		}
	}
}

// TestTrustedProxyOff: without WithTrustedProxy the header proves nothing,
// from any address; and a connection's own client certificate beside a
// forwarded one is refused.
func TestTrustedProxyOff(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(e.orgA, "PROXY-UDID-2", "u_alice")
	if st := proxied(t, mux(e.svc), d, "127.0.0.1:1", []string{escapedPEM(d)}, map[string]any{"MessageType": "Authenticate", "Topic": topic}); st != http.StatusBadRequest {
		t.Errorf("forwarded certificate without a trusted proxy = %d, want 400 (no identity)", st)
	}

	e2 := newEnv(t, checkin.WithTrustedProxy(certHeader, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}))
	d2 := e2.newDevice(e2.orgA, "PROXY-UDID-3", "u_alice")
	req := httptest.NewRequest(http.MethodPut, fmt.Sprintf("/mdm/%s/checkin", d2.org), bytesReader(plistBody(t,
		map[string]any{"MessageType": "Authenticate", "Topic": topic, "UDID": d2.udid})))
	req.RemoteAddr = "127.0.0.1:1"
	req.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{d2.cert}}
	req.Header.Set(certHeader, escapedPEM(d2))
	if _, err := e2.svc.Proof(req); !errors.Is(err, checkin.ErrForbidden) {
		t.Errorf("a certificate on the connection and in the header: %v, want ErrForbidden", err)
	}
}

// TestParseForwardedCert reads each format proxies write and refuses the
// rest with ErrForwardedCert.
func TestParseForwardedCert(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(e.orgA, "PROXY-UDID-4", "u_alice")
	p := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d.cert.Raw}))
	for _, v := range []string{escapedPEM(d), url.PathEscape(p), p, base64.StdEncoding.EncodeToString(d.cert.Raw)} {
		c, err := checkin.ParseForwardedCert(v)
		if err != nil || !c.Equal(d.cert) {
			t.Errorf("ParseForwardedCert(%.40q…) = %v", v, err)
		}
	}
	for _, v := range []string{"", "%zz", "-----BEGIN CERTIFICATE-----", "bm90IGEgY2VydA==", strings.Repeat("A", checkin.MaxForwardedCert+1)} {
		if _, err := checkin.ParseForwardedCert(v); !errors.Is(err, checkin.ErrForwardedCert) {
			t.Errorf("ParseForwardedCert(%.40q) = %v, want ErrForwardedCert", v, err)
		}
	}
}

// FuzzParseForwardedCert: whatever a proxy (or someone pretending to be
// one) puts in the header, the parser answers without panicking, and
// only with a certificate or ErrForwardedCert.
func FuzzParseForwardedCert(f *testing.F) {
	e := newEnv(f)
	d := e.newDevice(e.orgA, "PROXY-UDID-F", "u_alice")
	f.Add(escapedPEM(d))
	f.Add(base64.StdEncoding.EncodeToString(d.cert.Raw))
	f.Add(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d.cert.Raw})))
	f.Add("%2D%2D%2D%2D%2DBEGIN")
	f.Add("")
	f.Fuzz(func(t *testing.T, v string) {
		c, err := checkin.ParseForwardedCert(v)
		if (c == nil) == (err == nil) || (err != nil && !errors.Is(err, checkin.ErrForwardedCert)) {
			t.Fatalf("ParseForwardedCert = %v, %v", c, err)
		}
	})
}

// BenchmarkParseForwardedCert: reading a certificate as nginx forwards it
// (percent-escaped PEM), on every request behind a proxy.
func BenchmarkParseForwardedCert(b *testing.B) {
	e := newEnv(b)
	v := escapedPEM(e.newDevice(e.orgA, "PROXY-UDID-B", "u_alice"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := checkin.ParseForwardedCert(v); err != nil {
			b.Fatal(err)
		}
	}
}
