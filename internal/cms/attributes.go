package cms

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
)

// Attribute is an extra signed attribute, such as the SCEP message type or
// transaction ID. Value is encoded with encoding/asn1; pass an
// asn1.RawValue to choose the tag (SCEP wants PrintableString).
type Attribute struct {
	Type  asn1.ObjectIdentifier
	Value any
}

// WithAttributes adds signed attributes beyond content type, message digest
// and signing time.
func WithAttributes(attrs ...Attribute) SignOption {
	return func(c *signConfig) { c.attrs = append(c.attrs, attrs...) }
}

// WithDigest selects the message digest: crypto.SHA256 (the default) or
// crypto.SHA1, which only an RSA key may use and only to answer a peer
// that asked for it (a SCEP client whose request was SHA-1 signed).
func WithDigest(h crypto.Hash) SignOption {
	return func(c *signConfig) { c.hash = h }
}

var oidSHA1 = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}

func digestOID(h crypto.Hash) (asn1.ObjectIdentifier, error) {
	switch h {
	case crypto.SHA256:
		return oidSHA256, nil
	case crypto.SHA1:
		return oidSHA1, nil
	}
	return nil, fmt.Errorf("sign: %w: digest %v", ErrUnsupportedKey, h)
}

// CertificatesOnly returns a degenerate SignedData: no content, no signers,
// only certs. SCEP carries issued certificates in this form.
func CertificatesOnly(certs ...*x509.Certificate) ([]byte, error) {
	var raw []byte
	for i, c := range certs {
		if c == nil {
			return nil, fmt.Errorf("certificates only: [%d]: %w", i, ErrNoCertificate)
		}
		raw = append(raw, c.Raw...)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("certificates only: %w", ErrNoCertificate)
	}
	return wrap(oidSignedData, signedData{
		Version:          1,
		DigestAlgorithms: []pkix.AlgorithmIdentifier{},
		EncapContentInfo: encapContentInfo{ContentType: oidData},
		Certificates:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: raw},
		SignerInfos:      []signerInfo{},
	})
}

// ParseCertificates reads the certificates of a degenerate SignedData (a
// SCEP CertRep's inner content, a GetCACert answer with several
// certificates), within the default Limits.
func ParseCertificates(der []byte) ([]*x509.Certificate, error) {
	if err := checkEncoding(der, Limits{}); err != nil {
		return nil, fmt.Errorf("parse certificates: %w", err)
	}
	var ci contentInfo
	if rest, err := asn1.Unmarshal(der, &ci); err != nil || len(rest) != 0 || !ci.ContentType.Equal(oidSignedData) {
		return nil, fmt.Errorf("parse certificates: %w: not DER signed data", ErrMalformed)
	}
	var sd signedData
	if rest, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("parse certificates: %w: bad signed data", ErrMalformed)
	}
	certs, err := x509.ParseCertificates(sd.Certificates.Bytes)
	if err != nil || len(certs) == 0 {
		return nil, fmt.Errorf("parse certificates: %w: no certificates", ErrMalformed)
	}
	return certs, nil
}

// SignedAttribute decodes the signer's signed attribute of type oid into
// out, as encoding/asn1 would. It fails with ErrMalformed when the attribute
// is absent or does not decode. Like everything before Verify, the value is
// a claim until the signature is checked.
func (s *SignedData) SignedAttribute(oid asn1.ObjectIdentifier, out any) error {
	if err := s.p7.UnmarshalSignedAttribute(oid, out); err != nil {
		return fmt.Errorf("%w: attribute %v: %w", ErrMalformed, oid, err)
	}
	return nil
}

// Digest returns the signer's message digest algorithm (crypto.SHA1,
// crypto.SHA256 …), so that an answer can use the same one.
func (s *SignedData) Digest() (crypto.Hash, error) {
	if len(s.p7.Signers) != 1 {
		return 0, fmt.Errorf("%w: %d signers", ErrSignerCount, len(s.p7.Signers))
	}
	alg := s.p7.Signers[0].DigestAlgorithm.Algorithm
	for _, d := range []struct {
		oid asn1.ObjectIdentifier
		h   crypto.Hash
	}{
		{oidSHA1, crypto.SHA1},
		{oidSHA256, crypto.SHA256},
		{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}, crypto.SHA384},
		{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}, crypto.SHA512},
	} {
		if alg.Equal(d.oid) {
			return d.h, nil
		}
	}
	return 0, fmt.Errorf("%w: digest algorithm %v", ErrMalformed, alg)
}
