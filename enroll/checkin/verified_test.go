package checkin

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/openomm/omm/internal/cms"
	"github.com/openomm/omm/storage"
)

func TestVerifiedCerts(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	ca := &x509.Certificate{Raw: []byte("ca")}
	otherCA := &x509.Certificate{Raw: []byte("other ca")}
	leaf := &x509.Certificate{Raw: []byte("leaf"), NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour)}
	v := newVerifiedCerts()
	k := keyOf("org_a", ca, leaf)
	if v.known(k, leaf, t0) {
		t.Fatal("known before it was verified")
	}
	v.add(k)
	tests := []struct {
		name string
		k    verifiedKey
		at   time.Time
		want bool
	}{
		{"same org, CA and certificate", k, t0, true},
		{"another org", keyOf("org_b", ca, leaf), t0, false},
		{"another CA of the same org", keyOf("org_a", otherCA, leaf), t0, false},
		{"after the certificate expired", k, t0.Add(2 * time.Hour), false},
		{"before it is valid", k, t0.Add(-2 * time.Hour), false},
	}
	for _, tc := range tests {
		if got := v.known(tc.k, leaf, tc.at); got != tc.want {
			t.Errorf("%s: known = %v, want %v", tc.name, got, tc.want)
		}
	}
	for i := range maxVerified {
		v.add(keyOf("org_a", ca, &x509.Certificate{Raw: []byte{byte(i), byte(i >> 8), byte(i >> 16)}}))
	}
	if len(v.m) > maxVerified {
		t.Errorf("cache holds %d entries, bound %d", len(v.m), maxVerified)
	}
}

// testCA is a CA that issues client-authentication certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T, name string, at time.Time) testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: at.Add(-time.Hour),
		NotAfter: at.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return testCA{cert: cert, key: key}
}

func (c testCA) issue(t *testing.T, cn string, at time.Time) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(at.UnixNano()), Subject: pkix.Name{CommonName: cn}, NotBefore: at.Add(-time.Minute),
		NotAfter: at.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key
}

type oneCA struct{ cert *x509.Certificate }

func (c oneCA) CACertificate(context.Context, storage.OrgID) (*x509.Certificate, error) {
	return c.cert, nil
}

// TestSignatureChainOnce: an Mdm-Signature's signature over the body is
// checked on every message, its signer's chain once per certificate (the
// cache the TLS path uses), and never past the certificate's validity.
func TestSignatureChainOnce(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	at := t0
	ca := newTestCA(t, "org CA", t0)
	svc := New(nil, nil, oneCA{ca.cert}, WithClock(func() time.Time { return at }))
	cert, key := ca.issue(t, "device", t0)
	sign := func(body []byte, key *ecdsa.PrivateKey, cert *x509.Certificate) Proof {
		t.Helper()
		sig, err := cms.SignDetached(body, key, cert, nil, cms.WithSigningTime(func() time.Time { return t0 }))
		if err != nil {
			t.Fatal(err)
		}
		return Proof{Signature: base64.StdEncoding.EncodeToString(sig)}
	}
	body := []byte("<plist><dict/></plist>")
	p := sign(body, key, cert)
	if _, err := svc.certificate(t.Context(), "org_a", p, body); err != nil {
		t.Fatalf("first message: %v", err)
	}
	if !svc.verified.known(keyOf("org_a", ca.cert, cert), cert, at) {
		t.Fatal("the signer's verified chain is not remembered")
	}
	if _, err := svc.certificate(t.Context(), "org_a", p, []byte("<plist><dict><key>x</key></dict></plist>")); !errors.Is(err, ErrForbidden) {
		t.Errorf("the same signature over another body: %v, want ErrForbidden", err)
	}
	// The chain comes from the cache: a certificate of another CA that
	// the cache (wrongly, here by hand) holds is accepted without a chain
	// check, which shows the check is skipped; one it does not hold is
	// refused.
	other := newTestCA(t, "another CA", t0)
	foreign, fkey := other.issue(t, "device", t0)
	fp := sign(body, fkey, foreign)
	if _, err := svc.certificate(t.Context(), "org_a", fp, body); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a certificate of another CA: %v, want ErrForbidden", err)
	}
	svc.verified.add(keyOf("org_a", ca.cert, foreign))
	if _, err := svc.certificate(t.Context(), "org_a", fp, body); err != nil {
		t.Errorf("a cached certificate: %v (the chain was checked again)", err)
	}
	// Past the certificate's validity the cache does not answer, and the
	// chain check refuses.
	at = t0.Add(2 * time.Hour)
	if _, err := svc.certificate(t.Context(), "org_a", p, body); !errors.Is(err, ErrForbidden) {
		t.Errorf("an expired certificate: %v, want ErrForbidden", err)
	}
}

// TestForwardedCertsParsedOnce: behind a proxy, the same header value is
// parsed once (requests get the same certificate), a refused or a long one
// is never remembered, and the cache stays bounded.
func TestForwardedCertsParsedOnce(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	ca := newTestCA(t, "org CA", t0)
	cert, _ := ca.issue(t, "device", t0)
	c := &forwardedCerts{m: map[string]*x509.Certificate{}}
	v := FormatForwardedCert(cert.Raw)
	first, err := c.parse(v)
	if err != nil || !first.Equal(cert) {
		t.Fatalf("parse = %v, %v", first, err)
	}
	if again, err := c.parse(v); err != nil || again != first {
		t.Errorf("second parse of the same value = %p, %v; want the remembered %p", again, err, first)
	}
	if _, err := c.parse("%2D%2D%2D"); !errors.Is(err, ErrForwardedCert) {
		t.Errorf("bad value: %v, want ErrForwardedCert", err)
	}
	padded := v + strings.Repeat(" ", maxForwardedCached)
	if got, err := c.parse(padded); err != nil || !got.Equal(cert) {
		t.Errorf("parse of a long value = %v, %v", got, err)
	}
	if len(c.m) != 1 {
		t.Errorf("cache holds %d values, want the one good one (not the refused one, not one over %d bytes)", len(c.m), maxForwardedCached)
	}
	b64 := base64.StdEncoding.EncodeToString(cert.Raw)
	for i := range maxForwarded + 10 {
		if _, err := c.parse(b64 + strings.Repeat(" ", i%7) + strings.Repeat("\t", i/7)); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.m) > maxForwarded {
		t.Errorf("cache holds %d values, bound %d", len(c.m), maxForwarded)
	}
}
