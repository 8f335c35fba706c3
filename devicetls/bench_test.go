package devicetls

import (
	"crypto/mlkem"
	"crypto/tls"
	"testing"
)

// BenchmarkCheck is what the hybrid key exchange adds to a resumed
// handshake of a session rooted in a hybrid one: reading the hello,
// opening its ticket (the device's certificate in it included) and the
// classical configuration's copy, against the ML-KEM-768 encapsulation
// that configuration saves the server (BenchmarkMLKEMEncapsulate).
func BenchmarkCheck(b *testing.B) {
	s, _, resumed := vettingServer(b)
	chi := &tls.ClientHelloInfo{Extensions: []uint16{extensionPreSharedKey}}
	b.ReportAllocs()
	for b.Loop() {
		chi.Conn = &recordingConn{hello: resumed}
		if cfg, err := s.configFor(chi); err != nil || cfg == nil {
			b.Fatal("the classical configuration was not chosen", err)
		}
	}
}

// BenchmarkOpenTicket is what handing the handshake the state the check
// opened saves a classical resumption (unwrapVetted): opening the ticket,
// its device certificate included, a second time.
func BenchmarkOpenTicket(b *testing.B) {
	_, srv, resumed := vettingServer(b)
	h, ok := parseHello(resumed)
	if !ok || h.ticket == nil {
		b.Fatal("no ticket")
	}
	b.ReportAllocs()
	for b.Loop() {
		if ss, err := srv.DecryptTicket(h.ticket, tls.ConnectionState{}); err != nil || ss == nil {
			b.Fatal("the ticket did not open", err)
		}
	}
}

func BenchmarkMLKEMEncapsulate(b *testing.B) {
	dk, err := mlkem.GenerateKey768()
	if err != nil {
		b.Fatal(err)
	}
	ek := dk.EncapsulationKey().Bytes()
	for b.Loop() {
		k, err := mlkem.NewEncapsulationKey768(ek) // the server parses the client's share first
		if err != nil {
			b.Fatal(err)
		}
		k.Encapsulate()
	}
}
