package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"

	"github.com/openomm/omm/enroll/checkin"
)

// How a load run's devices connect, as -conn says.
const (
	// connNew: a new TCP and TLS connection per wake (a poll and the
	// command round trips it leads to), closed afterwards, with a full
	// TLS handshake each time; what a phone woken by a push does.
	connNew = "new"
	// connResume: a new connection per wake like connNew, resuming the
	// device's previous TLS session (session tickets).
	connResume = "resume"
	// connKeepAlive: each device keeps its connection between wakes.
	connKeepAlive = "keepalive"
)

// validConn reports whether mode is one of the -conn values.
func validConn(mode string) bool {
	return mode == connNew || mode == connResume || mode == connKeepAlive
}

// reconnects reports whether a device's connection is closed after each
// wake in mode.
func reconnects(mode string) bool { return mode != connKeepAlive }

// sessionCacheSize is how many TLS sessions a device's client keeps: one
// server, so a few tickets suffice.
const sessionCacheSize = 4

// deviceClient returns the HTTP client of one device presenting cert (nil
// for a device that signs its messages instead), resuming its TLS
// sessions when the run asks for it.
func (a *api) deviceClient(cert *tls.Certificate) *http.Client {
	if a.forward != "" {
		return proxyClient(a.forward, cert)
	}
	c := newClient(a.roots, cert)
	if a.resume {
		c.Transport.(*http.Transport).TLSClientConfig.ClientSessionCache = tls.NewLRUClientSessionCache(sessionCacheSize)
	}
	return c
}

// handshakes counts the TLS handshakes of a phase, and those that
// resumed a session.
type handshakes struct {
	full, resumed atomic.Int64
}

// trace returns ctx with a client trace that counts the handshakes of the
// requests made with it.
func (h *handshakes) trace(ctx context.Context) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		TLSHandshakeDone: func(st tls.ConnectionState, err error) {
			switch {
			case err != nil:
			case st.DidResume:
				h.resumed.Add(1)
			default:
				h.full.Add(1)
			}
		},
	})
}

// handshakeCount is a phase's handshakes, for the report.
type handshakeCount struct {
	Full    int64 `json:"full"`
	Resumed int64 `json:"resumed"`
}

func (h *handshakes) count() handshakeCount {
	return handshakeCount{Full: h.full.Load(), Resumed: h.resumed.Load()}
}

func (c handshakeCount) String() string {
	return fmt.Sprintf("%d TLS handshakes (%d full, %d resumed)", c.Full+c.Resumed, c.Full, c.Resumed)
}

// proxyTransport plays a TLS-terminating proxy in front of a server that
// serves plain HTTP (ommserver -trusted-proxies): it sends each request
// over plain HTTP to the host and port of its https URL, with the
// device's certificate, if any, in the header the server reads
// (percent-escaped PEM, as nginx's $ssl_client_escaped_cert). The server
// must trust this machine's loopback address as its proxy.
type proxyTransport struct {
	header string
	cert   string // escaped PEM; empty for no certificate
	inner  *http.Transport
}

func (p *proxyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	if out.URL.Scheme == "https" {
		out.URL.Scheme = "http"
	}
	out.Header.Del(p.header)
	if p.cert != "" {
		out.Header.Set(p.header, p.cert)
	}
	return p.inner.RoundTrip(out)
}

// CloseIdleConnections closes the connections to the server, as
// http.Client.CloseIdleConnections expects of its transport.
func (p *proxyTransport) CloseIdleConnections() { p.inner.CloseIdleConnections() }

// proxyClient returns a client that talks to the server as its proxy
// would, forwarding cert (nil: none) in header.
func proxyClient(header string, cert *tls.Certificate) *http.Client {
	t := &proxyTransport{header: header, inner: &http.Transport{MaxIdleConnsPerHost: 4}}
	if cert != nil {
		t.cert = checkin.FormatForwardedCert(cert.Certificate[0])
	}
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
