package cms

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"testing"
)

// The raw benchmarks measure one signature of a SHA-256 digest, the floor
// that SignAttached cannot go below; the difference is the CMS encoding.

func benchRaw(b *testing.B, k keyKind) {
	key := newKey(b, k)
	digest := sha256.Sum256(content)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := key.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}

func benchSign(b *testing.B, k keyKind) {
	p := newPKI(b, k)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SignAttached(content, p.leafKey, p.leaf, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawSignRSA2048(b *testing.B)      { benchRaw(b, rsaKey) }
func BenchmarkRawSignECDSAP256(b *testing.B)    { benchRaw(b, ecKey) }
func BenchmarkSignAttachedRSA2048(b *testing.B) { benchSign(b, rsaKey) }
func BenchmarkSignAttachedECDSAP256(b *testing.B) {
	benchSign(b, ecKey)
}

func BenchmarkParseVerifyBER(b *testing.B) {
	p := newPKI(b, rsaKey)
	der, err := SignAttached(content, p.leafKey, p.leaf, nil)
	if err != nil {
		b.Fatal(err)
	}
	ber := toBER(b, der)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Verify(ber, VerifyOptions{Signer: p.leaf}); err != nil {
			b.Fatal(err)
		}
	}
}
