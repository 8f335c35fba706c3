package devicetls

import (
	"crypto/mlkem"
	"crypto/tls"
	"testing"
	"time"
)

// BenchmarkCheck is what the hybrid key exchange adds to a resumed
// handshake: reading the hello and opening its ticket (the device's
// certificate in it included), against the ML-KEM-768 encapsulation the
// classical group saves the server (BenchmarkMLKEMEncapsulate).
func BenchmarkCheck(b *testing.B) {
	_, resumed, srv := clientHellos(b, true)
	s := &server{base: srv, now: time.Now, resume: srv.Clone()}
	// The hello's ticket has no hybrid root (a plain Go server sealed
	// it): the check runs to its end and keeps the default.
	chi := &tls.ClientHelloInfo{Extensions: []uint16{extensionPreSharedKey}}
	b.ReportAllocs()
	for b.Loop() {
		rc := &recordingConn{hello: resumed}
		chi.Conn = rc
		if cfg, err := s.configFor(chi); err != nil || cfg != nil {
			b.Fatal(cfg, err)
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
