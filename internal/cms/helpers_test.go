package cms

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

// Fixed validity so no test depends on the wall clock.
var (
	notBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	notAfter  = time.Date(2045, 1, 1, 0, 0, 0, 0, time.UTC)
	checkTime = time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)
)

type keyKind int

const (
	rsaKey keyKind = iota
	ecKey
)

func (k keyKind) String() string {
	if k == ecKey {
		return "ECDSA-P256"
	}
	return "RSA-2048"
}

func newKey(t testing.TB, k keyKind) crypto.Signer {
	t.Helper()
	var (
		key crypto.Signer
		err error
	)
	switch k {
	case ecKey:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		t.Fatal(err)
	}
	return key
}

var serial int64

// issue makes a certificate for key, signed by parent/parentKey, or
// self-signed when parent is nil.
func issue(t testing.TB, key crypto.Signer, name string, isCA bool, parent *x509.Certificate, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	serial++
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"OMM test"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		IsCA:                  isCA,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageEmailProtection},
	}
	if isCA {
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pki is a root, an intermediate and a leaf, all of one key kind.
type pki struct {
	root, inter, leaf *x509.Certificate
	rootKey, interKey crypto.Signer
	leafKey           crypto.Signer
}

func newPKI(t testing.TB, k keyKind) *pki {
	t.Helper()
	p := &pki{rootKey: newKey(t, k), interKey: newKey(t, k), leafKey: newKey(t, k)}
	p.root = issue(t, p.rootKey, "Test Root", true, nil, nil)
	p.inter = issue(t, p.interKey, "Test Intermediate", true, p.root, p.rootKey)
	p.leaf = issue(t, p.leafKey, "Test Leaf", false, p.inter, p.interKey)
	return p
}

func (p *pki) roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.root)
	return pool
}

// toBER re-encodes a DER value with every constructed value in
// indefinite-length form, the way iOS encodes its phase 2 posts.
func toBER(t testing.TB, der []byte) []byte {
	t.Helper()
	out, rest := berize(t, der)
	if len(rest) != 0 {
		t.Fatalf("toBER: %d trailing bytes", len(rest))
	}
	return out
}

func berize(t testing.TB, b []byte) (out, rest []byte) {
	t.Helper()
	if len(b) < 2 || b[0]&0x1f == 0x1f {
		t.Fatal("berize: unsupported input")
	}
	tag := b[0]
	l, hdr := int(b[1]), 2
	if l&0x80 != 0 {
		n := l & 0x7f
		l = 0
		for i := 0; i < n; i++ {
			l = l<<8 | int(b[2+i])
		}
		hdr = 2 + n
	}
	body, rest := b[hdr:hdr+l], b[hdr+l:]
	if tag&0x20 == 0 || l == 0 {
		return b[:hdr+l], rest
	}
	out = append(out, tag, 0x80)
	for len(body) > 0 {
		var child []byte
		child, body = berize(t, body)
		out = append(out, child...)
	}
	return append(out, 0, 0), rest
}

// nested returns n levels of indefinite-length SEQUENCE around a NULL.
func nested(n int) []byte {
	var b []byte
	for i := 0; i < n; i++ {
		b = append(b, 0x30, 0x80)
	}
	b = append(b, 0x05, 0x00)
	for i := 0; i < n; i++ {
		b = append(b, 0, 0)
	}
	return b
}
