package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// devCA is the development certificate authority the server generates on
// first start so that it can speak HTTPS with zero configuration. It is
// kept in the data directory and reused, so that a browser or device told
// to trust it once keeps trusting the server after a restart. It is not the
// devices' SCEP CA (enroll/scep keeps one per org in the store).
type devCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// serving is the server's TLS certificate, issued by the CA.
	serving tls.Certificate
	// created says whether this start generated the CA.
	created bool
}

const (
	caFile         = "dev-ca.pem"
	caKeyFile      = "dev-ca-key.pem"
	servingFile    = "tls.pem"
	servingKeyFile = "tls-key.pem"

	caValidity      = 10 * 365 * 24 * time.Hour
	servingValidity = 397 * 24 * time.Hour // the longest browsers accept
	renewBefore     = 30 * 24 * time.Hour
)

// loadOrCreateCA returns the development CA in dir, creating it when
// missing, and a serving certificate for hosts, reissued when it is missing,
// about to expire or does not cover every host.
func loadOrCreateCA(dir string, hosts []string, now time.Time) (*devCA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("development CA: %w", err)
	}
	ca, err := loadCA(dir)
	if errors.Is(err, fs.ErrNotExist) {
		ca, err = createCA(dir, now)
	}
	if err != nil {
		return nil, fmt.Errorf("development CA: %w", err)
	}
	serving, err := tls.LoadX509KeyPair(filepath.Join(dir, servingFile), filepath.Join(dir, servingKeyFile))
	if err != nil || !servingUsable(serving, ca.cert, hosts, now) {
		serving, err = ca.issueServing(dir, hosts, now)
		if err != nil {
			return nil, fmt.Errorf("development CA: server certificate: %w", err)
		}
	}
	ca.serving = serving
	return ca, nil
}

func loadCA(dir string) (*devCA, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, caFile))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, caKeyFile))
	if err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", caFile, err)
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an ECDSA key", caKeyFile)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", caFile, err)
	}
	return &devCA{cert: cert, key: key}, nil
}

func createCA(dir string, now time.Time) (*devCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "OMM example server development CA", Organization: []string{"OMM development"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	if err := writePEM(filepath.Join(dir, caKeyFile), "PRIVATE KEY", key); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, caFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	return &devCA{cert: cert, key: key, created: true}, nil
}

func (ca *devCA) issueServing(dir string, hosts []string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(servingValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := writePEM(filepath.Join(dir, servingKeyFile), "PRIVATE KEY", key); err != nil {
		return tls.Certificate{}, err
	}
	chain := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})...)
	if err := os.WriteFile(filepath.Join(dir, servingFile), chain, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	return tls.LoadX509KeyPair(filepath.Join(dir, servingFile), filepath.Join(dir, servingKeyFile))
}

// servingUsable reports whether c was issued by ca, is valid well beyond now
// and names every host.
func servingUsable(c tls.Certificate, ca *x509.Certificate, hosts []string, now time.Time) bool {
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil || leaf.CheckSignatureFrom(ca) != nil || now.Add(renewBefore).After(leaf.NotAfter) {
		return false
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(leaf.IPAddresses, ip.Equal) {
				return false
			}
		} else if !slices.Contains(leaf.DNSNames, h) {
			return false
		}
	}
	return true
}

// Fingerprint is the SHA-256 fingerprint of the CA certificate, as browsers
// and keychain tools show it.
func (ca *devCA) Fingerprint() string {
	sum := sha256.Sum256(ca.cert.Raw)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

func writePEM(path, typ string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

func randomSerial() *big.Int {
	// 128 random bits; rand.Int only fails when the reader does, and
	// crypto/rand.Reader does not fail.
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		panic(err)
	}
	return n
}

// servingLeaf is the serving certificate, parsed; nil if it cannot be.
func (ca *devCA) servingLeaf() *x509.Certificate {
	if ca.serving.Leaf != nil {
		return ca.serving.Leaf
	}
	if len(ca.serving.Certificate) == 0 {
		return nil
	}
	leaf, err := x509.ParseCertificate(ca.serving.Certificate[0])
	if err != nil {
		return nil
	}
	return leaf
}
