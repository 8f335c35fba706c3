package profile

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files and the fuzz seed corpus")

var (
	notBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	notAfter  = time.Date(2045, 1, 1, 0, 0, 0, 0, time.UTC)
	fixedNow  = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
)

func clock() time.Time { return fixedNow }

// testRoot is a fixed certificate so that golden files do not change.
func testRoot(t testing.TB) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "root.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("testdata/root.pem: no PEM block")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type keyKind string

const (
	rsaKey keyKind = "RSA2048"
	ecKey  keyKind = "ECDSAP256"
)

func newKey(t testing.TB, k keyKind) crypto.Signer {
	t.Helper()
	var (
		key crypto.Signer
		err error
	)
	if k == ecKey {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// newCert issues a certificate for key from parent (self-signed if nil).
func newCert(t testing.TB, key crypto.Signer, cn string, isCA bool, parent *x509.Certificate, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"OMM Test"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		IsCA:                  isCA,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
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

// signingPKI is a CA and a server signing identity issued by it.
type signingPKI struct {
	ca, cert *x509.Certificate
	key      crypto.Signer
}

func newSigningPKI(t testing.TB, k keyKind) signingPKI {
	t.Helper()
	caKey := newKey(t, k)
	ca := newCert(t, caKey, "OMM Test CA", true, nil, nil)
	key := newKey(t, k)
	return signingPKI{ca: ca, cert: newCert(t, key, "profile signer", false, ca, caKey), key: key}
}
