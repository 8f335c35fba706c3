package ota

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	_ "crypto/sha1" // Apple's device CA chain is SHA-1 signed
	_ "crypto/sha256"
	_ "crypto/sha512"
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"time"
)

// appleChainPEM is Apple's published chain for device identities: Apple
// iPhone Device CA, Apple iPhone Certification Authority, Apple Root CA.
//
//go:embed apple_iphone_device_ca.pem
var appleChainPEM []byte

// ErrAppleChain reports a phase 2 signer that does not chain to the Apple
// device CA.
var ErrAppleChain = errors.New("ota: signer is not an Apple device identity")

// ErrDeviceCertificateValidity reports a device identity used outside its
// own validity period; it comes wrapped together with ErrAppleChain.
var ErrDeviceCertificateValidity = errors.New("ota: device certificate outside its validity period")

// DeviceCertificateClockSkew is how far the server's clock may be off when
// a device certificate's validity is checked: a certificate is accepted
// from this long before its NotBefore until this long after its NotAfter.
const DeviceCertificateClockSkew = 5 * time.Minute

// AppleChain verifies that a certificate was issued by the Apple iPhone
// Device CA, by walking the chain up to the Apple Root CA by hand.
//
// Go's x509.Verify cannot be used: the intermediates are expired and the
// chain is signed with SHA-1, and Apple's guidance is to trust them anyway.
// So the CAs' validity windows are ignored and SHA-1 accepted — for this
// chain only, pinned byte for byte, never for certificates a device sends
// along.
//
// The device's own certificate is another matter: it names one device and
// is the only link whose validity says anything about now, so it must be
// within its validity period at the time of the check (give or take
// DeviceCertificateClockSkew). Without that rule a certificate and key
// lifted from a device once would enroll for ever. See SECURITY.md.
type AppleChain struct {
	// chain is leaf-issuer first: the device CA, intermediates, the root.
	chain []*x509.Certificate
}

// DefaultAppleChain returns the chain Apple publishes, embedded in this
// package.
func DefaultAppleChain() *AppleChain {
	c, err := NewAppleChain(appleChainPEM)
	if err != nil {
		panic("ota: embedded Apple chain: " + err.Error()) // a build defect, caught by every test
	}
	return c
}

// NewAppleChain reads a PEM bundle holding a device CA, the CAs above it and
// a self-signed root, in any order, and checks that each is signed by the
// next. Tests pass a chain of their own to play devices.
func NewAppleChain(pemBundle []byte) (*AppleChain, error) {
	var certs []*x509.Certificate
	for rest := pemBundle; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("ota: Apple chain: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) < 2 {
		return nil, fmt.Errorf("ota: Apple chain needs a device CA and a root, got %d certificates", len(certs))
	}
	// Order from the root down: the root is self-issued, each next one is
	// issued by the previous.
	var root *x509.Certificate
	for _, c := range certs {
		if bytes.Equal(c.RawIssuer, c.RawSubject) {
			root = c
		}
	}
	if root == nil {
		return nil, errors.New("ota: Apple chain has no root")
	}
	if err := checkSignedBy(root, root); err != nil {
		return nil, fmt.Errorf("ota: Apple root: %w", err)
	}
	down := []*x509.Certificate{root}
	for len(down) < len(certs) {
		parent := down[len(down)-1]
		var child *x509.Certificate
		for _, c := range certs {
			if c != parent && bytes.Equal(c.RawIssuer, parent.RawSubject) && !bytes.Equal(c.RawIssuer, c.RawSubject) {
				child = c
			}
		}
		if child == nil {
			return nil, fmt.Errorf("ota: Apple chain: nothing issued by %q", parent.Subject.CommonName)
		}
		if !child.IsCA {
			return nil, fmt.Errorf("ota: Apple chain: %q is not a CA", child.Subject.CommonName)
		}
		if err := checkSignedBy(child, parent); err != nil {
			return nil, fmt.Errorf("ota: Apple chain: %q: %w", child.Subject.CommonName, err)
		}
		down = append(down, child)
	}
	chain := make([]*x509.Certificate, len(down))
	for i, c := range down {
		chain[len(down)-1-i] = c
	}
	return &AppleChain{chain: chain}, nil
}

// DeviceCA returns the CA that issues device identities.
func (a *AppleChain) DeviceCA() *x509.Certificate { return a.chain[0] }

// Chain returns the pinned chain from the device CA up to the root.
func (a *AppleChain) Chain() []*x509.Certificate { return slices.Clone(a.chain) }

// Verify is VerifyAt at the current time; it has the shape of
// cms.VerifyOptions.VerifyChain.
func (a *AppleChain) Verify(leaf *x509.Certificate, carried []*x509.Certificate) error {
	return a.VerifyAt(time.Now(), leaf, carried)
}

// VerifyAt reports whether leaf is a device identity the device CA issued,
// valid at now. The chain above the device CA was checked when a was made,
// so only the last link is walked here. The certificates a device sends
// along are ignored: they are claims, and the pinned chain is the truth.
func (a *AppleChain) VerifyAt(now time.Time, leaf *x509.Certificate, _ []*x509.Certificate) error {
	ca := a.chain[0]
	switch {
	case leaf == nil:
		return fmt.Errorf("%w: no certificate", ErrAppleChain)
	case leaf.IsCA:
		return fmt.Errorf("%w: signer is a CA certificate", ErrAppleChain)
	case !bytes.Equal(leaf.RawIssuer, ca.RawSubject):
		return fmt.Errorf("%w: issued by %q", ErrAppleChain, leaf.Issuer.String())
	}
	if err := checkSignedBy(leaf, ca); err != nil {
		return fmt.Errorf("%w: %w", ErrAppleChain, err)
	}
	switch {
	case now.Add(DeviceCertificateClockSkew).Before(leaf.NotBefore):
		return fmt.Errorf("%w: %w: not valid before %s", ErrAppleChain, ErrDeviceCertificateValidity, leaf.NotBefore.UTC().Format(time.RFC3339))
	case now.Add(-DeviceCertificateClockSkew).After(leaf.NotAfter):
		return fmt.Errorf("%w: %w: expired %s", ErrAppleChain, ErrDeviceCertificateValidity, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// checkSignedBy verifies child's signature with parent's key, accepting
// SHA-1 and ignoring validity. It does what x509 would do for these
// algorithms, by hand, so that a future Go refusing SHA-1 in
// CheckSignature cannot break enrollment.
func checkSignedBy(child, parent *x509.Certificate) error {
	var h crypto.Hash
	var isECDSA bool
	switch child.SignatureAlgorithm {
	case x509.SHA1WithRSA:
		h = crypto.SHA1
	case x509.SHA256WithRSA:
		h = crypto.SHA256
	case x509.SHA384WithRSA:
		h = crypto.SHA384
	case x509.SHA512WithRSA:
		h = crypto.SHA512
	case x509.ECDSAWithSHA1:
		h, isECDSA = crypto.SHA1, true
	case x509.ECDSAWithSHA256:
		h, isECDSA = crypto.SHA256, true
	case x509.ECDSAWithSHA384:
		h, isECDSA = crypto.SHA384, true
	default:
		return fmt.Errorf("signature algorithm %v not accepted", child.SignatureAlgorithm)
	}
	d := h.New()
	d.Write(child.RawTBSCertificate)
	sum := d.Sum(nil)
	if isECDSA {
		pub, ok := parent.PublicKey.(*ecdsa.PublicKey)
		if !ok || !ecdsa.VerifyASN1(pub, sum, child.Signature) {
			return errors.New("signature does not verify")
		}
		return nil
	}
	pub, ok := parent.PublicKey.(*rsa.PublicKey)
	if !ok || rsa.VerifyPKCS1v15(pub, h, sum, child.Signature) != nil {
		return errors.New("signature does not verify")
	}
	return nil
}
