// Package otatest plays an iOS device in OTA enrollment, for tests and
// simulators: a stand-in for Apple's device CA chain (SHA-1 signed, its CAs
// expired, exactly like Apple's), devices with identities it issued, and
// phase 2 and 3 posts signed the way devices sign them (SHA-1, BER with
// indefinite lengths).
package otatest

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/openomm/omm/internal/cms"
)

// Chain is a three-level CA chain shaped like Apple's: a root, an
// intermediate and a device CA.
type Chain struct {
	// PEM holds the three CA certificates, for ota.NewAppleChain.
	PEM      []byte
	deviceCA *x509.Certificate
	caKey    *rsa.PrivateKey
	inter    *x509.Certificate
	root     *x509.Certificate
	serial   int64
}

// The CAs expired in 2022; devices still present identities they issued.
var (
	caNotBefore = time.Date(2007, 4, 16, 0, 0, 0, 0, time.UTC)
	caNotAfter  = time.Date(2022, 4, 12, 0, 0, 0, 0, time.UTC)
)

// NewChain makes a fresh chain. It is slow-ish (three RSA-2048 keys);
// share one per test binary.
func NewChain() (*Chain, error) {
	c := &Chain{}
	rootKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	interKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	if c.caKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	if c.root, err = c.ca("Test Apple Root CA", rootKey, nil, nil); err != nil {
		return nil, err
	}
	if c.inter, err = c.ca("Test Apple iPhone Certification Authority", interKey, c.root, rootKey); err != nil {
		return nil, err
	}
	if c.deviceCA, err = c.ca("Test Apple iPhone Device CA", c.caKey, c.inter, interKey); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	for _, x := range []*x509.Certificate{c.deviceCA, c.inter, c.root} {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: x.Raw})
	}
	c.PEM = b.Bytes()
	return c, nil
}

func (c *Chain) ca(name string, key *rsa.PrivateKey, parent *x509.Certificate, parentKey *rsa.PrivateKey) (*x509.Certificate, error) {
	c.serial++
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(c.serial),
		Subject:               pkix.Name{Country: []string{"US"}, Organization: []string{"Test Apple"}, CommonName: name},
		NotBefore:             caNotBefore,
		NotAfter:              caNotAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		SignatureAlgorithm:    x509.SHA1WithRSA,
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// Device is a device whose identity the chain's device CA issued.
type Device struct {
	UDID string
	Cert *x509.Certificate
	Key  *rsa.PrivateKey
	// Chain is what the device sends along with its signature.
	Chain []*x509.Certificate
}

// NewDevice issues a device identity (RSA-1024, SHA-1, as Apple's are),
// valid from 2020 to 2040.
func (c *Chain) NewDevice(udid string) (*Device, error) {
	return c.NewDeviceValid(udid, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC))
}

// NewDeviceValid is NewDevice with the identity valid from notBefore to
// notAfter, for tests of expired or not yet valid device certificates.
func (c *Chain) NewDeviceValid(udid string, notBefore, notAfter time.Time) (*Device, error) {
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		return nil, err
	}
	c.serial++
	tmpl := &x509.Certificate{
		SerialNumber:       big.NewInt(c.serial),
		Subject:            pkix.Name{CommonName: udid},
		NotBefore:          notBefore,
		NotAfter:           notAfter,
		KeyUsage:           x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		SignatureAlgorithm: x509.SHA1WithRSA,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.deviceCA, &key.PublicKey, c.caKey)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Device{UDID: udid, Cert: cert, Key: key, Chain: []*x509.Certificate{c.deviceCA, c.inter, c.root}}, nil
}

// Attributes returns the XML plist a device posts: the attributes given
// plus UDID and CHALLENGE.
func (d *Device) Attributes(challenge string, attrs map[string]string) []byte {
	all := map[string]string{"UDID": d.UDID}
	if challenge != "" {
		all["CHALLENGE"] = challenge
	}
	for k, v := range attrs {
		all[k] = v
	}
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">` + "\n" +
		`<plist version="1.0">` + "\n<dict>\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "\t<key>%s</key>\n\t<string>%s</string>\n", escape(k), escape(all[k]))
	}
	b.WriteString("</dict>\n</plist>\n")
	return []byte(b.String())
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// Phase2 returns the signed phase 2 post: attributes signed with the
// device identity, SHA-1, BER-encoded with indefinite lengths, carrying
// the device certificate and its chain.
func (d *Device) Phase2(challenge string, attrs map[string]string) ([]byte, error) {
	return SignBER(d.Attributes(challenge, attrs), d.Key, d.Cert, d.Chain)
}

// SignBER signs content as a device does (SHA-1, attached, the signer
// certificate first) and re-encodes the result with indefinite lengths.
func SignBER(content []byte, key crypto.Signer, cert *x509.Certificate, chain []*x509.Certificate) ([]byte, error) {
	der, err := cms.SignAttached(content, key, cert, chain, cms.WithDigest(crypto.SHA1))
	if err != nil {
		return nil, err
	}
	return ToBER(der)
}

// ToBER re-encodes DER with every constructed value in indefinite-length
// form, the way iOS encodes its posts.
func ToBER(der []byte) ([]byte, error) {
	out, rest, err := berize(der)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, errors.New("otatest: trailing bytes")
	}
	return out, nil
}

func berize(b []byte) (out, rest []byte, err error) {
	if len(b) < 2 || b[0]&0x1f == 0x1f {
		return nil, nil, errors.New("otatest: unsupported encoding")
	}
	tag, l := b[0], int(b[1])
	hdr := 2
	if l&0x80 != 0 {
		n := l & 0x7f
		if n == 0 || n > 4 || len(b) < 2+n {
			return nil, nil, errors.New("otatest: bad length")
		}
		l = 0
		for _, c := range b[2 : 2+n] {
			l = l<<8 | int(c)
		}
		hdr += n
	}
	if len(b) < hdr+l {
		return nil, nil, errors.New("otatest: truncated")
	}
	body, rest := b[hdr:hdr+l], b[hdr+l:]
	if tag&0x20 == 0 || l == 0 {
		// Primitive values keep their length; so do empty constructed
		// ones, which BER cannot give an indefinite length.
		return b[:hdr+l], rest, nil
	}
	out = []byte{tag, 0x80}
	for len(body) > 0 {
		var child []byte
		if child, body, err = berize(body); err != nil {
			return nil, nil, err
		}
		out = append(out, child...)
	}
	return append(out, 0, 0), rest, nil
}
