package cms

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" // WithDigest(crypto.SHA1)
	_ "crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"slices"
	"time"
)

// SignOption configures SignAttached and SignDetached.
type SignOption func(*signConfig)

type signConfig struct {
	now   func() time.Time
	hash  crypto.Hash // crypto.SHA256 unless WithDigest says otherwise
	attrs []Attribute // WithAttributes
}

// WithSigningTime adds a signing-time attribute read from now. Without it no
// signing time is included: the attribute is optional in CMS, and leaving it
// out keeps signatures reproducible from their inputs.
func WithSigningTime(now func() time.Time) SignOption {
	return func(c *signConfig) { c.now = now }
}

// SignAttached returns a DER SignedData that carries content and a SHA-256
// signature over it by signer, whose certificate is cert. The chain
// certificates (intermediates, leaf's issuer first) are included so that a
// verifier can build a path to its anchor. RSA keys sign with PKCS #1 v1.5,
// ECDSA keys with ecdsa-with-SHA256; any crypto.Signer holding such a key
// works, including ones backed by an HSM or KMS.
func SignAttached(content []byte, signer crypto.Signer, cert *x509.Certificate, chain []*x509.Certificate, opts ...SignOption) ([]byte, error) {
	if content == nil {
		content = []byte{}
	}
	return sign(content, true, signer, cert, chain, opts)
}

// SignDetached is SignAttached without embedding content: the result is
// what an Mdm-Signature header carries, and the verifier must supply the
// content again.
func SignDetached(content []byte, signer crypto.Signer, cert *x509.Certificate, chain []*x509.Certificate, opts ...SignOption) ([]byte, error) {
	return sign(content, false, signer, cert, chain, opts)
}

func sign(content []byte, attached bool, signer crypto.Signer, cert *x509.Certificate, chain []*x509.Certificate, opts []SignOption) ([]byte, error) {
	cfg := signConfig{hash: crypto.SHA256}
	for _, o := range opts {
		o(&cfg)
	}
	if signer == nil {
		return nil, fmt.Errorf("%w: nil signer", ErrUnsupportedKey)
	}
	if cert == nil {
		return nil, fmt.Errorf("sign: %w", ErrNoCertificate)
	}
	sigAlg, err := signatureAlgorithm(signer.Public())
	if err != nil {
		return nil, err
	}
	digestAlg, err := digestOID(cfg.hash)
	if err != nil {
		return nil, err
	}
	if _, isRSA := signer.Public().(*rsa.PublicKey); cfg.hash != crypto.SHA256 && !isRSA {
		return nil, fmt.Errorf("sign: %w: %v only with RSA keys", ErrUnsupportedKey, cfg.hash)
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("sign: %w", ErrKeyMismatch)
	}
	for i, c := range chain {
		if c == nil {
			return nil, fmt.Errorf("sign: chain[%d]: %w", i, ErrNoCertificate)
		}
	}

	dh := cfg.hash.New()
	dh.Write(content)
	attrs, err := signedAttributes(dh.Sum(nil), cfg.now, cfg.attrs)
	if err != nil {
		return nil, err
	}
	// The signature covers the attributes encoded as a SET (tag 17); in the
	// SignerInfo the same bytes appear under the implicit [0] tag.
	toSign, err := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSet, IsCompound: true, Bytes: attrs})
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	ah := cfg.hash.New()
	ah.Write(toSign)
	sig, err := signer.Sign(rand.Reader, ah.Sum(nil), cfg.hash)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}

	var certs []byte
	certs = append(certs, cert.Raw...)
	for _, c := range chain {
		certs = append(certs, c.Raw...)
	}
	digestAlgID := pkix.AlgorithmIdentifier{Algorithm: digestAlg, Parameters: asn1.NullRawValue}
	sd := signedData{
		Version:          1,
		DigestAlgorithms: []pkix.AlgorithmIdentifier{digestAlgID},
		EncapContentInfo: encapContentInfo{ContentType: oidData},
		Certificates:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: certs},
		SignerInfos: []signerInfo{{
			Version:            1,
			SID:                issuerAndSerial{Issuer: asn1.RawValue{FullBytes: cert.RawIssuer}, Serial: cert.SerialNumber},
			DigestAlgorithm:    digestAlgID,
			SignedAttrs:        asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: attrs},
			SignatureAlgorithm: sigAlg,
			Signature:          sig,
		}},
	}
	if attached {
		sd.EncapContentInfo.Content = content
	}
	return wrap(oidSignedData, sd)
}

// wrap encodes inner and places it in a ContentInfo of the given type.
func wrap(contentType asn1.ObjectIdentifier, inner any) ([]byte, error) {
	der, err := asn1.Marshal(inner)
	if err != nil {
		return nil, fmt.Errorf("cms: encode: %w", err)
	}
	out, err := asn1.Marshal(contentInfo{
		ContentType: contentType,
		Content:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: der},
	})
	if err != nil {
		return nil, fmt.Errorf("cms: encode: %w", err)
	}
	return out, nil
}

func signatureAlgorithm(pub crypto.PublicKey) (pkix.AlgorithmIdentifier, error) {
	switch pub.(type) {
	case *rsa.PublicKey:
		return pkix.AlgorithmIdentifier{Algorithm: oidRSAEncryption, Parameters: asn1.NullRawValue}, nil
	case *ecdsa.PublicKey:
		return pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA256}, nil
	default:
		return pkix.AlgorithmIdentifier{}, fmt.Errorf("%w: %T", ErrUnsupportedKey, pub)
	}
}

// signedAttributes returns the DER contents of the SET OF Attribute: the
// members sorted by their encoding, as DER requires for SET OF.
func signedAttributes(digest []byte, now func() time.Time, extra []Attribute) ([]byte, error) {
	type attr struct {
		oid   asn1.ObjectIdentifier
		value any
	}
	list := []attr{
		{oidAttrContentType, oidData},
		{oidAttrMessageDigest, digest},
	}
	if now != nil {
		list = append(list, attr{oidAttrSigningTime, now().UTC()})
	}
	for _, a := range extra {
		list = append(list, attr{a.Type, a.Value})
	}
	encoded := make([][]byte, 0, len(list))
	for _, a := range list {
		v, err := asn1.Marshal(a.value)
		if err != nil {
			return nil, fmt.Errorf("sign: attribute %v: %w", a.oid, err)
		}
		e, err := asn1.Marshal(attribute{Type: a.oid, Values: asn1.RawValue{Tag: asn1.TagSet, IsCompound: true, Bytes: v}})
		if err != nil {
			return nil, fmt.Errorf("sign: attribute %v: %w", a.oid, err)
		}
		encoded = append(encoded, e)
	}
	slices.SortFunc(encoded, bytes.Compare)
	return bytes.Join(encoded, nil), nil
}
