package devicetls

import (
	"crypto/tls"
	"slices"
	"testing"
	"time"
)

// testCertificate is a self-signed serving certificate.
func testCertificate(t testing.TB) tls.Certificate {
	t.Helper()
	return SelfSigned(t, "server", time.Now().Add(time.Hour))
}

// sessionState returns the state of a real TLS 1.3 session, as a server
// seals it into a ticket.
func sessionState(t *testing.T) []byte {
	t.Helper()
	states := make(chan []byte, 1)
	srv := &tls.Config{Certificates: []tls.Certificate{testCertificate(t)}}
	srv.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		b, err := ss.Bytes()
		if err == nil {
			states <- b
		}
		return srv.EncryptTicket(cs, ss)
	}
	// Over TCP, not net.Pipe: the server writes its ticket while the
	// client writes its Finished.
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		s, err := ln.Accept()
		if err != nil {
			return
		}
		defer s.Close()
		s.Write([]byte("x"))
	}()
	Connect(t, ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, ClientSessionCache: tls.NewLRUClientSessionCache(1)})
	select { // the ticket is sealed before the byte is written
	case b := <-states:
		return b
	default:
		t.Fatal("no session ticket was sealed")
		return nil
	}
}

// Which tickets record a hybrid root, and which root: a hybrid full
// handshake starts one, a vetted classical resumption inherits its
// ticket's, and a classical handshake that did not resume (Go refused the
// vetted ticket) starts none.
func TestTicketRoots(t *testing.T) {
	state := sessionState(t)
	base := &tls.Config{}
	now := time.Unix(1_800_000_000, 0)
	s := &server{base: base, now: func() time.Time { return now }}
	vetted := root{at: now.Add(-3 * time.Hour)}
	for _, tc := range []struct {
		name string
		cs   tls.ConnectionState
		wrap func(tls.ConnectionState, *tls.SessionState) ([]byte, error)
		root time.Time // zero: none
	}{
		{"full hybrid", tls.ConnectionState{Version: tls.VersionTLS13, CurveID: tls.X25519MLKEM768}, s.wrapFull, now},
		{"full classical", tls.ConnectionState{Version: tls.VersionTLS13, CurveID: tls.X25519}, s.wrapFull, time.Time{}},
		{"resumed with the hybrid", tls.ConnectionState{Version: tls.VersionTLS13, CurveID: tls.X25519MLKEM768, DidResume: true}, s.wrapFull, now},
		{"vetted resumption", tls.ConnectionState{Version: tls.VersionTLS13, CurveID: tls.X25519, DidResume: true}, s.wrapVetted(vetted), vetted.at},
		{"vetted ticket refused", tls.ConnectionState{Version: tls.VersionTLS13, CurveID: tls.X25519}, s.wrapVetted(vetted), time.Time{}},
		{"TLS 1.2", tls.ConnectionState{Version: tls.VersionTLS12, CurveID: tls.X25519MLKEM768}, s.wrapFull, time.Time{}},
	} {
		ss, err := tls.ParseSessionState(state)
		if err != nil {
			t.Fatal(err)
		}
		ticket, err := tc.wrap(tc.cs, ss)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		ss, err = base.DecryptTicket(ticket, tls.ConnectionState{})
		if err != nil || ss == nil {
			t.Fatalf("%s: the ticket does not open: %v", tc.name, err)
		}
		r, rooted := hybridRoot(ss.Extra)
		if rooted != !tc.root.IsZero() || !r.at.Equal(tc.root) {
			t.Errorf("%s: root %v (%v), want %v", tc.name, r.at, rooted, tc.root)
		}
	}
}

// resumable mirrors crypto/tls's checkForResumption for a ticket it can
// open: a client certificate required but absent, or present but not
// asked for, makes Go refuse it.
func TestResumable(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	withCert := root{at: now.Add(-time.Hour), certEnd: now.Add(24 * time.Hour)}
	without := root{at: now.Add(-time.Hour)}
	for _, tc := range []struct {
		name string
		r    root
		auth tls.ClientAuthType
		want bool
	}{
		{"certificate, requested", withCert, tls.RequestClientCert, true},
		{"certificate, verified if given", withCert, tls.VerifyClientCertIfGiven, true},
		{"certificate, not asked for", withCert, tls.NoClientCert, false},
		{"no certificate, requested", without, tls.RequestClientCert, true},
		{"no certificate, required", without, tls.RequireAnyClientCert, false},
		{"no certificate, required and verified", without, tls.RequireAndVerifyClientCert, false},
		{"no certificate, not asked for", without, tls.NoClientCert, true},
		{"certificate expiring within the margin", root{at: withCert.at, certEnd: now.Add(time.Minute)}, tls.RequestClientCert, false},
		{"root a day old", root{at: now.Add(-rootLifetime)}, tls.RequestClientCert, false},
		{"root in the future", root{at: now.Add(time.Hour)}, tls.RequestClientCert, false},
	} {
		if got := tc.r.resumable(now, tc.auth); got != tc.want {
			t.Errorf("%s: resumable %v, want %v", tc.name, got, tc.want)
		}
	}
}

// vettingServer returns a server whose classical configuration resumes
// sessions rooted in hybrid handshakes, its default configuration srv
// (which asks for client certificates), and the hello of a device
// resuming a session srv began.
func vettingServer(t testing.TB) (s *server, srv *tls.Config, resumed []byte) {
	t.Helper()
	srv = &tls.Config{Certificates: []tls.Certificate{testCertificate(t)}, ClientAuth: tls.RequestClientCert}
	s = &server{base: srv, now: time.Now, resume: srv.Clone()}
	s.resume.CurvePreferences = classical(nil)
	srv.WrapSession = s.wrapFull
	_, resumed = clientHellosFrom(t, srv, true)
	return s, srv, resumed
}

// TestVettedTicketOpenedOnce: the classical configuration chosen for a
// vetted ticket hands the handshake the state the check opened, not a
// second opening of the ticket; another identity is opened with the
// server's keys, and one it cannot open is ignored, as Go's default does.
func TestVettedTicketOpenedOnce(t *testing.T) {
	s, srv, resumed := vettingServer(t)
	h, ok := parseHello(resumed)
	if !ok || h.ticket == nil {
		t.Fatal("the resumed hello offers no ticket")
	}
	cfg, err := s.configFor(&tls.ClientHelloInfo{Extensions: []uint16{extensionPreSharedKey}, Conn: &recordingConn{hello: resumed}})
	if err != nil || cfg == nil || cfg.UnwrapSession == nil {
		t.Fatalf("configFor = %v, %v; want the classical configuration with UnwrapSession", cfg, err)
	}
	first, err := cfg.UnwrapSession(h.ticket, tls.ConnectionState{})
	if err != nil || first == nil {
		t.Fatalf("UnwrapSession of the vetted ticket = %v, %v", first, err)
	}
	again, _ := cfg.UnwrapSession(h.ticket, tls.ConnectionState{})
	if again != first {
		t.Error("the vetted ticket was opened again")
	}
	_, resumed2 := clientHellosFrom(t, srv, true)
	h2, ok := parseHello(resumed2)
	if !ok || h2.ticket == nil || slices.Equal(h2.ticket, h.ticket) {
		t.Fatal("no second ticket")
	}
	other, err := cfg.UnwrapSession(h2.ticket, tls.ConnectionState{})
	if err != nil || other == nil || other == first {
		t.Errorf("UnwrapSession of another session's ticket = %p, %v; want its state, opened", other, err)
	}
	if got, err := cfg.UnwrapSession([]byte("not a ticket"), tls.ConnectionState{}); got != nil || err != nil {
		t.Errorf("UnwrapSession of garbage = %v, %v; want nil, nil (ignored)", got, err)
	}
}
