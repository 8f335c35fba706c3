package scep

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"fmt"

	"github.com/openomm/omm/internal/cms"
)

// SCEP message attributes (RFC 8894 §3.2.1), all under VeriSign's arc.
var (
	oidMessageType    = asn1.ObjectIdentifier{2, 16, 840, 1, 113733, 1, 9, 2}
	oidPKIStatus      = asn1.ObjectIdentifier{2, 16, 840, 1, 113733, 1, 9, 3}
	oidFailInfo       = asn1.ObjectIdentifier{2, 16, 840, 1, 113733, 1, 9, 4}
	oidSenderNonce    = asn1.ObjectIdentifier{2, 16, 840, 1, 113733, 1, 9, 5}
	oidRecipientNonce = asn1.ObjectIdentifier{2, 16, 840, 1, 113733, 1, 9, 6}
	oidTransactionID  = asn1.ObjectIdentifier{2, 16, 840, 1, 113733, 1, 9, 7}

	oidChallengePassword = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 7}
)

// MessageType is a SCEP messageType.
type MessageType string

// Message types this CA handles or sends.
const (
	CertRep    MessageType = "3"
	RenewalReq MessageType = "17"
	PKCSReq    MessageType = "19"
)

// FailInfo says why a request failed (RFC 8894 §3.2.1.4).
type FailInfo string

// Failure reasons.
const (
	BadAlg          FailInfo = "0"
	BadMessageCheck FailInfo = "1"
	BadRequest      FailInfo = "2"
	BadTime         FailInfo = "3"
)

// status values of pkiStatus.
const (
	statusSuccess = "0"
	statusFailure = "2"
)

// request is a parsed, not yet trusted, PKIOperation message.
type request struct {
	sd          *cms.SignedData
	signer      *x509.Certificate
	msgType     MessageType
	transaction string
	nonce       []byte
	digest      crypto.Hash
}

// Limits on a PKIOperation message: a request is a CSR (about 1 KB),
// enveloped and signed with one certificate.
const (
	MaxMessageSize = 64 << 10
	maxDepth       = 24
	maxTransaction = 128
	nonceLen       = 16
)

func printable(s string) asn1.RawValue {
	return asn1.RawValue{Tag: asn1.TagPrintableString, Bytes: []byte(s)}
}

func parseRequest(msg []byte) (*request, error) {
	sd, err := cms.Parse(msg, cms.Limits{MaxSize: MaxMessageSize, MaxDepth: maxDepth})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMessage, err)
	}
	r := &request{sd: sd}
	if r.signer, err = sd.Signer(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMessage, err)
	}
	var mt string
	if err := sd.SignedAttribute(oidMessageType, &mt); err != nil {
		return nil, fmt.Errorf("%w: message type: %w", ErrMessage, err)
	}
	r.msgType = MessageType(mt)
	if err := sd.SignedAttribute(oidTransactionID, &r.transaction); err != nil {
		return nil, fmt.Errorf("%w: transaction ID: %w", ErrMessage, err)
	}
	if r.transaction == "" || len(r.transaction) > maxTransaction {
		return nil, fmt.Errorf("%w: transaction ID must be 1-%d characters", ErrMessage, maxTransaction)
	}
	if err := sd.SignedAttribute(oidSenderNonce, &r.nonce); err != nil {
		return nil, fmt.Errorf("%w: sender nonce: %w", ErrMessage, err)
	}
	if len(r.nonce) == 0 || len(r.nonce) > 64 {
		return nil, fmt.Errorf("%w: sender nonce of %d bytes", ErrMessage, len(r.nonce))
	}
	if r.digest, err = sd.Digest(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMessage, err)
	}
	if sd.Content() == nil {
		return nil, fmt.Errorf("%w: request carries no content", ErrMessage)
	}
	return r, nil
}

// replyDigest answers with the request's digest where the CA can sign it,
// SHA-256 otherwise.
func (r *request) replyDigest() crypto.Hash {
	if r.digest == crypto.SHA1 {
		return crypto.SHA1
	}
	return crypto.SHA256
}

// reply builds a CertRep. With issued set it is a success carrying the
// certificate enveloped to the requester with cipher c; otherwise a
// failure with info.
func (r *request) reply(ca *CA, issued *x509.Certificate, c cms.Cipher, info FailInfo) ([]byte, error) {
	nonce := make([]byte, nonceLen)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	attrs := []cms.Attribute{
		{Type: oidMessageType, Value: printable(string(CertRep))},
		{Type: oidTransactionID, Value: printable(r.transaction)},
		{Type: oidSenderNonce, Value: nonce},
		{Type: oidRecipientNonce, Value: r.nonce},
	}
	opts := func(a ...cms.Attribute) []cms.SignOption {
		return []cms.SignOption{cms.WithDigest(r.replyDigest()), cms.WithAttributes(append(attrs, a...)...)}
	}
	if issued == nil {
		return cms.SignDetached(nil, ca.Key, ca.Certificate, nil,
			opts(cms.Attribute{Type: oidPKIStatus, Value: printable(statusFailure)}, cms.Attribute{Type: oidFailInfo, Value: printable(string(info))})...)
	}
	degenerate, err := cms.CertificatesOnly(issued)
	if err != nil {
		return nil, err
	}
	var env []byte
	if c == cms.DES3CBC {
		env, err = cms.EncryptDES3(degenerate, []*x509.Certificate{r.signer})
	} else {
		env, err = cms.EncryptAES(degenerate, []*x509.Certificate{r.signer}, cms.WithCipher(c))
	}
	if err != nil {
		return nil, err
	}
	return cms.SignAttached(env, ca.Key, ca.Certificate, nil, opts(cms.Attribute{Type: oidPKIStatus, Value: printable(statusSuccess)})...)
}

// challengePassword returns the CSR's challengePassword attribute (PKCS #9),
// which x509.CertificateRequest does not expose.
func challengePassword(csr *x509.CertificateRequest) (string, error) {
	var tbs struct {
		Version       int
		Subject       asn1.RawValue
		PublicKeyInfo asn1.RawValue
		Attributes    []struct {
			Type   asn1.ObjectIdentifier
			Values asn1.RawValue `asn1:"set"`
		} `asn1:"tag:0"`
	}
	if _, err := asn1.Unmarshal(csr.RawTBSCertificateRequest, &tbs); err != nil {
		return "", fmt.Errorf("%w: certificate request attributes: %w", ErrMessage, err)
	}
	for _, a := range tbs.Attributes {
		if !a.Type.Equal(oidChallengePassword) {
			continue
		}
		var v asn1.RawValue
		if _, err := asn1.Unmarshal(a.Values.Bytes, &v); err != nil {
			return "", fmt.Errorf("%w: challenge password: %w", ErrMessage, err)
		}
		switch v.Tag {
		case asn1.TagPrintableString, asn1.TagUTF8String, asn1.TagIA5String, asn1.TagT61String:
			return string(v.Bytes), nil
		}
		return "", fmt.Errorf("%w: challenge password of ASN.1 tag %d", ErrMessage, v.Tag)
	}
	return "", nil
}
