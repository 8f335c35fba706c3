package devicetls_test

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openomm/omm/devicetls"
)

// selfSigned returns a certificate for 127.0.0.1 (or a client identity).
func selfSigned(t testing.TB, name string) tls.Certificate {
	t.Helper()
	return selfSignedUntil(t, name, time.Now().Add(30*24*time.Hour))
}

func selfSignedUntil(t testing.TB, name string, notAfter time.Time) tls.Certificate {
	t.Helper()
	return devicetls.SelfSigned(t, name, notAfter)
}

// clock is the server's settable time.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// testServer serves TLS through devicetls and reports each handshake as
// the server saw it.
type testServer struct {
	addr   string
	pool   *x509.CertPool
	states chan tls.ConnectionState
}

func serve(t *testing.T, kex devicetls.KeyExchange, cert tls.Certificate, clk *clock, set ...func(*tls.Config)) *testServer {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert}
	if clk != nil {
		cfg.Time = clk.now
	}
	for _, f := range set {
		f(cfg)
	}
	ln, err := devicetls.NewListener(inner, cfg, kex)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{addr: inner.Addr().String(), pool: x509.NewCertPool(), states: make(chan tls.ConnectionState, 16)}
	ts.pool.AddCert(cert.Leaf)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				tc := c.(*tls.Conn)
				if err := tc.Handshake(); err != nil {
					ts.states <- tls.ConnectionState{}
					return
				}
				ts.states <- tc.ConnectionState()
				tc.Write([]byte("x")) // after the session ticket, which the client reads first
			})
		}
	})
	return ts
}

// client is a device: one session cache across its connections.
type client struct {
	cache  tls.ClientSessionCache
	groups []tls.CurveID // nil: Go's default, the hybrid and X25519 shares
	cert   tls.Certificate
}

func newClient(t *testing.T) *client {
	return &client{cache: tls.NewLRUClientSessionCache(4), cert: selfSigned(t, "device")}
}

// connect opens one connection and returns the handshake as the server saw it.
func (c *client) connect(t *testing.T, ts *testServer) tls.ConnectionState {
	t.Helper()
	devicetls.Connect(t, ts.addr, &tls.Config{
		RootCAs: ts.pool, ClientSessionCache: c.cache, CurvePreferences: c.groups,
		Certificates: []tls.Certificate{c.cert},
	})
	return <-ts.states
}

func want(t *testing.T, what string, got tls.ConnectionState, resumed bool, group tls.CurveID) {
	t.Helper()
	if got.DidResume != resumed || got.CurveID != group {
		t.Errorf("%s: resumed %v with %v, want resumed %v with %v", what, got.DidResume, got.CurveID, resumed, group)
	}
}

func TestResumptionOfHybridSessionIsClassical(t *testing.T) {
	ts := serve(t, devicetls.Hybrid, selfSigned(t, "server"), nil)
	dev := newClient(t)
	want(t, "first connection", dev.connect(t, ts), false, tls.X25519MLKEM768)
	for i := range 3 {
		got := dev.connect(t, ts)
		want(t, "resumption", got, true, tls.X25519)
		if len(got.PeerCertificates) != 1 || got.PeerCertificates[0].Subject.CommonName != "device" {
			t.Errorf("resumption %d: the device's certificate was not carried over: %v", i, got.PeerCertificates)
		}
	}
}

// A ticket the server cannot open (sealed before a restart, or by another
// replica) must not turn the full handshake that follows classical: Go
// picks the group before it looks at the ticket.
func TestUnknownTicketGetsHybridFullHandshake(t *testing.T) {
	cert := selfSigned(t, "server")
	dev := newClient(t)
	before := serve(t, devicetls.Hybrid, cert, nil)
	dev.connect(t, before)
	want(t, "resumption", dev.connect(t, before), true, tls.X25519)

	restarted := serve(t, devicetls.Hybrid, cert, nil)
	want(t, "after the restart", dev.connect(t, restarted), false, tls.X25519MLKEM768)
	want(t, "then", dev.connect(t, restarted), true, tls.X25519)
}

func TestExpiredTicketGetsHybridFullHandshake(t *testing.T) {
	clk := new(clock)
	ts := serve(t, devicetls.Hybrid, selfSigned(t, "server"), clk)
	dev := newClient(t)
	dev.connect(t, ts)
	clk.advance(7*24*time.Hour - time.Minute) // Go still resumes; the root is too old for the classical group
	want(t, "at the end of the ticket's life", dev.connect(t, ts), true, tls.X25519MLKEM768)
	clk.advance(7*24*time.Hour + time.Hour)
	want(t, "expired", dev.connect(t, ts), false, tls.X25519MLKEM768)
}

// A session is resumed classically for a day after its hybrid handshake;
// the first resumption after that uses the hybrid and starts a new day.
func TestRootRenewedDaily(t *testing.T) {
	clk := new(clock)
	ts := serve(t, devicetls.Hybrid, selfSigned(t, "server"), clk)
	dev := newClient(t)
	want(t, "first connection", dev.connect(t, ts), false, tls.X25519MLKEM768)
	clk.advance(23 * time.Hour)
	want(t, "23 hours on", dev.connect(t, ts), true, tls.X25519)
	clk.advance(2 * time.Hour)
	want(t, "25 hours on", dev.connect(t, ts), true, tls.X25519MLKEM768)
	want(t, "then", dev.connect(t, ts), true, tls.X25519)
}

// Two servers sharing ticket keys but not ClientAuth: Go refuses a ticket
// with a client certificate where none is asked for, and one without
// where one is required; the check must refuse them too.
func TestSharedTicketKeysOtherClientAuth(t *testing.T) {
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		t.Fatal(err)
	}
	cert := selfSigned(t, "server")
	shared := func(auth tls.ClientAuthType) func(*tls.Config) {
		return func(c *tls.Config) { c.SetSessionTicketKeys([][32]byte{key}); c.ClientAuth = auth }
	}
	requesting := serve(t, devicetls.Hybrid, cert, nil, shared(tls.RequestClientCert))
	notAsking := serve(t, devicetls.Hybrid, cert, nil, shared(tls.NoClientCert))
	requiring := serve(t, devicetls.Hybrid, cert, nil, shared(tls.RequireAnyClientCert))

	dev := newClient(t)
	dev.connect(t, requesting)
	want(t, "same keys, same ClientAuth", dev.connect(t, requesting), true, tls.X25519)
	want(t, "a certificate where none is asked for", dev.connect(t, notAsking), false, tls.X25519MLKEM768)
	want(t, "without a certificate where one is required", dev.connect(t, requiring), false, tls.X25519MLKEM768)
}

// Go refuses a ticket whose client certificate has expired; the check
// must refuse it too, or the full handshake would be classical.
func TestTicketWithExpiredClientCertificateGetsHybridFullHandshake(t *testing.T) {
	clk := new(clock)
	ts := serve(t, devicetls.Hybrid, selfSigned(t, "server"), clk)
	dev := newClient(t)
	dev.cert = selfSignedUntil(t, "device", time.Now().Add(24*time.Hour))
	dev.connect(t, ts)
	want(t, "resumption", dev.connect(t, ts), true, tls.X25519)
	clk.advance(2 * 24 * time.Hour)
	want(t, "certificate expired", dev.connect(t, ts), false, tls.X25519MLKEM768)
}

// A session that began classically is resumed with the hybrid once the
// client offers it, and only the resumptions after that are classical.
func TestClassicalRootedSessionResumesHybrid(t *testing.T) {
	ts := serve(t, devicetls.Hybrid, selfSigned(t, "server"), nil)
	dev := newClient(t)
	dev.groups = []tls.CurveID{tls.X25519}
	want(t, "classical client", dev.connect(t, ts), false, tls.X25519)
	want(t, "classical client again", dev.connect(t, ts), true, tls.X25519)
	dev.groups = nil
	want(t, "hybrid offered", dev.connect(t, ts), true, tls.X25519MLKEM768)
	want(t, "then", dev.connect(t, ts), true, tls.X25519)
}

// A client that sends only the hybrid's key share keeps it: a classical
// group would cost it a HelloRetryRequest round trip.
func TestHybridOnlyClientKeepsHybrid(t *testing.T) {
	ts := serve(t, devicetls.Hybrid, selfSigned(t, "server"), nil)
	dev := newClient(t)
	dev.groups = []tls.CurveID{tls.X25519MLKEM768}
	dev.connect(t, ts)
	want(t, "resumption", dev.connect(t, ts), true, tls.X25519MLKEM768)
}

func TestOtherKeyExchanges(t *testing.T) {
	for _, tc := range []struct {
		kex          devicetls.KeyExchange
		full, resume tls.CurveID
	}{
		{devicetls.HybridEveryHandshake, tls.X25519MLKEM768, tls.X25519MLKEM768},
		{devicetls.Classical, tls.X25519, tls.X25519},
	} {
		t.Run(tc.kex.String(), func(t *testing.T) {
			ts := serve(t, tc.kex, selfSigned(t, "server"), nil)
			dev := newClient(t)
			want(t, "first connection", dev.connect(t, ts), false, tc.full)
			want(t, "resumption", dev.connect(t, ts), true, tc.resume)
		})
	}
}

func TestNewListenerRefuses(t *testing.T) {
	cert := selfSigned(t, "server")
	for name, tc := range map[string]struct {
		cfg *tls.Config
		kex devicetls.KeyExchange
	}{
		"no config":                     {nil, devicetls.Hybrid},
		"unknown key exchange":          {&tls.Config{Certificates: []tls.Certificate{cert}}, devicetls.KeyExchange(9)},
		"own GetConfigForClient":        {&tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return nil, nil }}, devicetls.Hybrid},
		"own WrapSession":               {&tls.Config{WrapSession: func(tls.ConnectionState, *tls.SessionState) ([]byte, error) { return nil, nil }}, devicetls.Hybrid},
		"classical, no classical group": {&tls.Config{CurvePreferences: []tls.CurveID{tls.X25519MLKEM768}}, devicetls.Classical},
	} {
		inner, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := devicetls.NewListener(inner, tc.cfg, tc.kex)
		inner.Close()
		if !errors.Is(err, devicetls.ErrInvalid) || ln != nil {
			t.Errorf("%s: got %v, %v; want ErrInvalid", name, ln, err)
		}
	}
}

func TestParseKeyExchange(t *testing.T) {
	for _, k := range []devicetls.KeyExchange{devicetls.Hybrid, devicetls.HybridEveryHandshake, devicetls.Classical} {
		got, err := devicetls.ParseKeyExchange(k.String())
		if err != nil || got != k {
			t.Errorf("ParseKeyExchange(%q) = %v, %v", k, got, err)
		}
	}
	if _, err := devicetls.ParseKeyExchange("x25519"); !errors.Is(err, devicetls.ErrInvalid) {
		t.Errorf("ParseKeyExchange(x25519): %v, want ErrInvalid", err)
	}
}
