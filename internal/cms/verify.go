package cms

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"time"

	"go.mozilla.org/pkcs7"
)

// SignedData is a parsed, not yet verified, CMS SignedData.
type SignedData struct {
	p7 *pkcs7.PKCS7
}

// Parse decodes a BER or DER SignedData, such as a device's phase 2 post
// (often BER with indefinite lengths) or an Mdm-Signature header. The input
// is checked against lim (zero fields mean the defaults) before pkcs7 sees
// it; oversized or too deeply nested input fails with ErrTooLarge or
// ErrTooDeep. Nothing is verified yet: call Verify or VerifyDetached.
func Parse(der []byte, lim Limits) (sd *SignedData, err error) {
	if err := checkEncoding(der, lim); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	// pkcs7 is a third-party parser fed with device input; a panic in it
	// must become an error for this request, not take the server down.
	defer func() {
		if r := recover(); r != nil {
			sd, err = nil, fmt.Errorf("parse: %w: %v", ErrMalformed, r)
		}
	}()
	p7, err := pkcs7.Parse(der)
	if err != nil {
		return nil, fmt.Errorf("parse: %w: %w", ErrMalformed, err)
	}
	// pkcs7.Parse also accepts EnvelopedData and EncryptedData; those leave
	// Signers empty and have no certificates, which is not a message anyone
	// could verify.
	if len(p7.Signers) == 0 {
		return nil, fmt.Errorf("parse: %w", ErrNotSigned)
	}
	return &SignedData{p7: p7}, nil
}

// Content returns the encapsulated content, or nil for a detached signature.
func (s *SignedData) Content() []byte {
	if len(s.p7.Content) == 0 {
		return nil
	}
	return s.p7.Content
}

// Certificates returns the certificates the message carries. They are
// claims, not trust: use them to look up a binding, then Verify.
func (s *SignedData) Certificates() []*x509.Certificate {
	return s.p7.Certificates
}

// Signer returns the certificate the single signer names, without checking
// the signature. It lets a server find which enrollment the message claims
// to come from before verifying against the certificate bound to it.
func (s *SignedData) Signer() (*x509.Certificate, error) {
	if len(s.p7.Signers) != 1 {
		return nil, fmt.Errorf("%w: %d signers", ErrSignerCount, len(s.p7.Signers))
	}
	c := s.p7.GetOnlySigner()
	if c == nil {
		return nil, fmt.Errorf("%w: signer's certificate is not in the message", ErrNoCertificate)
	}
	return c, nil
}

// VerifyOptions says whom the caller trusts. At least one of Signer, Roots
// or VerifyChain must be set; every one that is set must be satisfied.
type VerifyOptions struct {
	// Signer pins the exact certificate that must have signed, compared
	// byte for byte (for example the identity bound to an enrollment).
	Signer *x509.Certificate
	// Roots is the anchor pool the signer must chain to through the
	// message's certificates and Intermediates, checked by x509.Verify.
	Roots *x509.CertPool
	// Intermediates are extra certificates offered for path building.
	Intermediates []*x509.Certificate
	// KeyUsages constrains the signer's extended key usage in the Roots
	// check; empty means any.
	KeyUsages []x509.ExtKeyUsage
	// CurrentTime is the time the Roots check evaluates validity at; zero
	// means now. Tests set it; servers usually leave it zero.
	CurrentTime time.Time
	// VerifyChain, if set, is called with the signer's certificate and the
	// certificates the message carries, for trust rules x509.Verify cannot
	// express (such as Apple's expired, SHA-1 signed device CA chain).
	VerifyChain func(signer *x509.Certificate, carried []*x509.Certificate) error
}

// Verify checks the signature over the attached content and that the
// signer is trusted under opts, and returns the signer's certificate.
func (s *SignedData) Verify(opts VerifyOptions) (*x509.Certificate, error) {
	if len(s.p7.Content) == 0 {
		return nil, fmt.Errorf("verify: %w", ErrNoContent)
	}
	return s.verify(opts)
}

// VerifyDetached is Verify for a detached signature over content.
func (s *SignedData) VerifyDetached(content []byte, opts VerifyOptions) (*x509.Certificate, error) {
	if len(s.p7.Content) != 0 && !bytes.Equal(s.p7.Content, content) {
		return nil, fmt.Errorf("verify: %w: message carries different content", ErrBadSignature)
	}
	// A shallow copy keeps s reusable: the content given here is not
	// remembered by the message.
	p7 := *s.p7
	p7.Content = content
	return (&SignedData{p7: &p7}).verify(opts)
}

func (s *SignedData) verify(opts VerifyOptions) (signer *x509.Certificate, err error) {
	if opts.Signer == nil && opts.Roots == nil && opts.VerifyChain == nil {
		return nil, fmt.Errorf("verify: %w", ErrNoTrustPolicy)
	}
	signer, err = s.Signer()
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	defer func() {
		if r := recover(); r != nil {
			signer, err = nil, fmt.Errorf("verify: %w: %v", ErrMalformed, r)
		}
	}()
	// With a nil trust store pkcs7 checks the message digest, the signing
	// time against the signer's validity, and the signature: the
	// cryptographic half. Trust is decided below.
	if err := s.p7.Verify(); err != nil {
		return nil, fmt.Errorf("verify: %w: %w", ErrBadSignature, err)
	}
	if opts.Signer != nil && !bytes.Equal(opts.Signer.Raw, signer.Raw) {
		return nil, fmt.Errorf("verify: %w: not the expected certificate (got %q)", ErrUntrustedSigner, signer.Subject.String())
	}
	if opts.Roots != nil {
		inter := x509.NewCertPool()
		for _, c := range s.p7.Certificates {
			inter.AddCert(c)
		}
		for _, c := range opts.Intermediates {
			inter.AddCert(c)
		}
		usages := opts.KeyUsages
		if len(usages) == 0 {
			usages = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
		}
		if _, err := signer.Verify(x509.VerifyOptions{
			Roots:         opts.Roots,
			Intermediates: inter,
			CurrentTime:   opts.CurrentTime,
			KeyUsages:     usages,
		}); err != nil {
			return nil, fmt.Errorf("verify: %w: %w", ErrUntrustedSigner, err)
		}
	}
	if opts.VerifyChain != nil {
		if err := opts.VerifyChain(signer, s.p7.Certificates); err != nil {
			return nil, fmt.Errorf("verify: %w: %w", ErrUntrustedSigner, err)
		}
	}
	return signer, nil
}

// Verify parses der within the default Limits, verifies it under opts and
// returns the attached content and the signer's certificate.
func Verify(der []byte, opts VerifyOptions) ([]byte, *x509.Certificate, error) {
	sd, err := Parse(der, Limits{})
	if err != nil {
		return nil, nil, err
	}
	signer, err := sd.Verify(opts)
	if err != nil {
		return nil, nil, err
	}
	return sd.Content(), signer, nil
}
