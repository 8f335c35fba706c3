package devicetls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"testing"
	"time"
)

// testCertificate is a self-signed serving certificate.
func testCertificate(t testing.TB) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"server"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
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
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, ClientSessionCache: tls.NewLRUClientSessionCache(1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var one [1]byte
	if _, err := c.Read(one[:]); err != nil {
		t.Fatal(err)
	}
	select { // the ticket is sealed before the byte is written
	case b := <-states:
		return b
	default:
		t.Fatal("no session ticket was sealed")
		return nil
	}
}

// A classical handshake on the resumption configuration that did not
// resume (Go refused the vetted ticket) starts a session of its own: its
// ticket must not claim a hybrid root.
func TestClassicalFullHandshakeIsNotARoot(t *testing.T) {
	state := sessionState(t)
	base := &tls.Config{}
	s := &server{base: base, now: time.Now}
	for _, tc := range []struct {
		name   string
		cs     tls.ConnectionState
		wrap   func(tls.ConnectionState, *tls.SessionState) ([]byte, error)
		rooted bool
	}{
		{"full hybrid", tls.ConnectionState{Version: tls.VersionTLS13, CurveID: tls.X25519MLKEM768}, s.wrapFull, true},
		{"full classical", tls.ConnectionState{Version: tls.VersionTLS13, CurveID: tls.X25519}, s.wrapFull, false},
		{"vetted resumption", tls.ConnectionState{Version: tls.VersionTLS13, CurveID: tls.X25519, DidResume: true}, s.wrapResumed, true},
		{"vetted ticket refused", tls.ConnectionState{Version: tls.VersionTLS13, CurveID: tls.X25519}, s.wrapResumed, false},
		{"TLS 1.2", tls.ConnectionState{Version: tls.VersionTLS12, CurveID: tls.X25519MLKEM768}, s.wrapFull, false},
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
		if _, rooted := hybridRoot(ss.Extra); rooted != tc.rooted {
			t.Errorf("%s: rooted %v, want %v", tc.name, rooted, tc.rooted)
		}
	}
}
