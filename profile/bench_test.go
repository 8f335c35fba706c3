package profile

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"testing"
)

// The enrollment benchmarks build, encode and sign a typical direct
// enrollment profile (SCEP + MDM payloads). The raw benchmarks sign one
// SHA-256 digest with the same kind of key; the ratio between the two is
// the cost of plist encoding plus CMS around the signature itself.

func benchRawSign(b *testing.B, k keyKind) {
	key := newKey(b, k)
	digest := sha256.Sum256([]byte("profile"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := key.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}

func benchEnrollment(b *testing.B, k keyKind) {
	pki := newSigningPKI(b, k)
	s, err := NewSigner(pki.key, pki.cert, WithChain(pki.ca), WithClock(clock))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		p := newProfile("com.example.enroll").Add(testSCEP(), testMDM())
		if _, err := s.SignProfile(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawSignRSA2048(b *testing.B)             { benchRawSign(b, rsaKey) }
func BenchmarkRawSignECDSAP256(b *testing.B)           { benchRawSign(b, ecKey) }
func BenchmarkEnrollmentProfileRSA2048(b *testing.B)   { benchEnrollment(b, rsaKey) }
func BenchmarkEnrollmentProfileECDSAP256(b *testing.B) { benchEnrollment(b, ecKey) }

// BenchmarkEncodeEnrollment is the plist part alone.
func BenchmarkEncodeEnrollment(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := newProfile("com.example.enroll").Add(testSCEP(), testMDM()).Encode(); err != nil {
			b.Fatal(err)
		}
	}
}
