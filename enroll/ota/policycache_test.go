package ota_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/ota"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/profile"
)

// countingKey counts the signatures a key makes.
type countingKey struct {
	crypto.Signer
	n atomic.Int64
}

func (k *countingKey) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	k.n.Add(1)
	return k.Signer.Sign(r, digest, opts)
}

// TestPolicyProfileSignedOnce: devices under the same rules get the same
// signed policy profile, signed once; other rules, and a signature older
// than the cache's lifetime, are signed anew.
func TestPolicyProfileSignedOnce(t *testing.T) {
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "policy signer"},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &raw.PublicKey, raw)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	key := &countingKey{Signer: raw}
	var f *fixture
	signer, err := profile.NewSigner(key, cert, profile.WithClock(func() time.Time { return f.clock.Now() }))
	if err != nil {
		t.Fatal(err)
	}
	f = newFixture(t, ota.WithProfileSigner(signer))

	signed := func(d policy.Decision) []byte {
		t.Helper()
		ticket, err := f.ota.Begin(t.Context(), f.org, "alice", d, enroll.KindDirect)
		if err != nil {
			t.Fatal(err)
		}
		b, err := f.ota.SignedPolicyProfile(t.Context(), f.org, ticket.Session)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := profile.Verify(b, profile.VerifyOptions{Signer: cert}); err != nil {
			t.Fatalf("policy profile does not verify: %v", err)
		}
		return b
	}
	first := signed(decision(true))
	if got := key.n.Load(); got != 1 {
		t.Fatalf("%d signatures for the first policy profile, want 1", got)
	}
	// Another user's enrollment under the same rules (the wipe permission
	// is not in the profile): the same bytes, no new signature.
	if again := signed(decision(false)); !bytes.Equal(again, first) || key.n.Load() != 1 {
		t.Errorf("same rules: equal %v, %d signatures; want the cached profile and 1", bytes.Equal(again, first), key.n.Load())
	}
	// Stricter rules: a profile of their own.
	stricter := decision(true)
	stricter.Requirements.Passcode.MinLength = 8
	if other := signed(stricter); bytes.Equal(other, first) || key.n.Load() != 2 {
		t.Errorf("other rules: equal %v, %d signatures; want a new profile and 2", bytes.Equal(other, first), key.n.Load())
	}
	// A caller that modifies what it got does not modify the cache.
	got := signed(decision(true))
	got[len(got)-1] ^= 0xff
	if again := signed(decision(true)); !bytes.Equal(again, first) {
		t.Errorf("the cached profile changed with a caller's copy")
	}
	// After the cache's lifetime the profile is signed again.
	f.clock.Add(2 * time.Hour)
	if later := signed(decision(true)); key.n.Load() != 3 || bytes.Equal(later, first) {
		t.Errorf("after 2 h: %d signatures, equal %v; want a fresh signature (3)", key.n.Load(), bytes.Equal(later, first))
	}
}
