package profile

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/openomm/omm/internal/cms"
)

// Signer signs profiles with a key the caller holds: any crypto.Signer
// with an RSA or ECDSA key, so it may live in an HSM or KMS.
type Signer struct {
	key   crypto.Signer
	cert  *x509.Certificate
	chain []*x509.Certificate
	now   func() time.Time
}

// SignerOption configures NewSigner.
type SignerOption func(*Signer)

// WithChain adds intermediate certificates (issuer of cert first) so a
// device can build the path to a root it trusts.
func WithChain(certs ...*x509.Certificate) SignerOption {
	return func(s *Signer) { s.chain = append(s.chain, certs...) }
}

// WithClock sets the source of the signing-time attribute; time.Now by
// default. Tests pass a fixed clock.
func WithClock(now func() time.Time) SignerOption {
	return func(s *Signer) { s.now = now }
}

// NewSigner returns a Signer for key whose certificate is cert. It fails
// with ErrNoKey, ErrNoCertificate or ErrKeyMismatch when the pair is not
// usable, so misconfiguration shows at startup rather than at enrollment.
func NewSigner(key crypto.Signer, cert *x509.Certificate, opts ...SignerOption) (*Signer, error) {
	if key == nil {
		return nil, fmt.Errorf("profile: new signer: %w", ErrNoKey)
	}
	if cert == nil {
		return nil, fmt.Errorf("profile: new signer: %w", ErrNoCertificate)
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("profile: new signer: %w", ErrKeyMismatch)
	}
	s := &Signer{key: key, cert: cert, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	for i, c := range s.chain {
		if c == nil {
			return nil, fmt.Errorf("profile: new signer: chain[%d]: %w", i, ErrNoCertificate)
		}
	}
	return s, nil
}

// Sign wraps an encoded profile (from Encode, EncodeEncrypted or
// Service.Encode) in a CMS SignedData with the content attached: the
// .mobileconfig a device installs.
func (s *Signer) Sign(encoded []byte) ([]byte, error) {
	der, err := cms.SignAttached(encoded, s.key, s.cert, s.chain, cms.WithSigningTime(s.now))
	if err != nil {
		return nil, fmt.Errorf("profile: sign: %w", err)
	}
	return der, nil
}

// SignProfile encodes p and signs it.
func (s *Signer) SignProfile(p *Profile) ([]byte, error) {
	b, err := p.Encode()
	if err != nil {
		return nil, err
	}
	return s.Sign(b)
}

// VerifyOptions says whom a signed profile must come from: the exact
// certificate (Signer), or one chaining to Roots. At least one is needed.
type VerifyOptions struct {
	Signer        *x509.Certificate
	Roots         *x509.CertPool
	Intermediates []*x509.Certificate
	// CurrentTime for the Roots check; zero means now.
	CurrentTime time.Time
}

// Verify checks a signed profile's signature and signer and returns the
// content (the encoded profile) and the signer's certificate. Failures
// wrap ErrSignature, or ErrDecode for input beyond the CMS limits.
func Verify(signed []byte, opts VerifyOptions) ([]byte, *x509.Certificate, error) {
	sd, err := cms.Parse(signed, cms.Limits{})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrDecode, err)
	}
	signer, err := sd.Verify(cms.VerifyOptions{
		Signer:        opts.Signer,
		Roots:         opts.Roots,
		Intermediates: opts.Intermediates,
		CurrentTime:   opts.CurrentTime,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrSignature, err)
	}
	return sd.Content(), signer, nil
}
