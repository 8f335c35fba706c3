// Package sceptest is the device side of SCEP, for tests and simulators:
// it builds the PKCSReq a device sends (a CSR with its challenge, enveloped
// to the CA and signed with a throw-away certificate, or with the identity
// being renewed) and reads the CertRep. It uses the same CMS code as the
// CA, so it proves the protocol shape, not interoperability; the CA's own
// tests check the wire format against Apple-style requests.
package sceptest

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/openomm/omm/internal/cms"
)

var (
	oidMessageType    = asn1.ObjectIdentifier{2, 16, 840, 1, 113733, 1, 9, 2}
	oidPKIStatus      = asn1.ObjectIdentifier{2, 16, 840, 1, 113733, 1, 9, 3}
	oidFailInfo       = asn1.ObjectIdentifier{2, 16, 840, 1, 113733, 1, 9, 4}
	oidSenderNonce    = asn1.ObjectIdentifier{2, 16, 840, 1, 113733, 1, 9, 5}
	oidRecipientNonce = asn1.ObjectIdentifier{2, 16, 840, 1, 113733, 1, 9, 6}
	oidTransactionID  = asn1.ObjectIdentifier{2, 16, 840, 1, 113733, 1, 9, 7}
	oidChallenge      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 7}
	oidSHA256WithRSA  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
)

// Request is a certificate request as a device makes it.
type Request struct {
	// Key is the key to certify.
	Key *rsa.PrivateKey
	// Challenge is the SCEP payload's challenge; empty for a renewal.
	Challenge string
	// Subject is what the device asks for (the CA decides).
	Subject pkix.Name
	// Signer and SignerKey sign the message; nil means a throw-away
	// self-signed certificate for Key, as in a first enrollment. A renewal
	// signs with the identity being renewed.
	Signer    *x509.Certificate
	SignerKey *rsa.PrivateKey
	// SHA1 signs with SHA-1 (older clients); DES3 envelopes with
	// DES-EDE3 instead of AES-256.
	SHA1, DES3 bool
	// MessageType is "19" (PKCSReq) unless set, e.g. "17" (RenewalReq).
	MessageType string
}

// Pending is a sent request awaiting its CertRep.
type Pending struct {
	signer      *x509.Certificate
	key         *rsa.PrivateKey
	nonce       []byte
	transaction string
}

// ErrFailed reports a CertRep with pkiStatus FAILURE; the message carries
// its failInfo.
var ErrFailed = errors.New("sceptest: CA refused the request")

// Build returns the PKIOperation message for ca.
func (r Request) Build(ca *x509.Certificate) ([]byte, *Pending, error) {
	csr, err := CSR(r.Key, r.Subject, r.Challenge)
	if err != nil {
		return nil, nil, err
	}
	signer, signerKey := r.Signer, r.SignerKey
	if signer == nil {
		if signer, err = selfSigned(r.Key); err != nil {
			return nil, nil, err
		}
		signerKey = r.Key
	}
	var env []byte
	if r.DES3 {
		env, err = cms.EncryptDES3(csr, []*x509.Certificate{ca})
	} else {
		env, err = cms.EncryptAES(csr, []*x509.Certificate{ca})
	}
	if err != nil {
		return nil, nil, err
	}
	p := &Pending{signer: signer, key: signerKey, nonce: make([]byte, 16)}
	_, _ = rand.Read(p.nonce)
	tid := make([]byte, 16)
	_, _ = rand.Read(tid)
	p.transaction = fmt.Sprintf("%x", tid)
	mt := r.MessageType
	if mt == "" {
		mt = "19"
	}
	h := crypto.SHA256
	if r.SHA1 {
		h = crypto.SHA1
	}
	msg, err := cms.SignAttached(env, signerKey, signer, nil, cms.WithDigest(h), cms.WithAttributes(
		cms.Attribute{Type: oidMessageType, Value: asn1.RawValue{Tag: asn1.TagPrintableString, Bytes: []byte(mt)}},
		cms.Attribute{Type: oidTransactionID, Value: asn1.RawValue{Tag: asn1.TagPrintableString, Bytes: []byte(p.transaction)}},
		cms.Attribute{Type: oidSenderNonce, Value: p.nonce},
	))
	return msg, p, err
}

// Read checks the CertRep (signed by ca, answering this request) and
// returns the issued certificate, or ErrFailed with the failInfo.
func (p *Pending) Read(reply []byte, ca *x509.Certificate) (*x509.Certificate, error) {
	sd, err := cms.Parse(reply, cms.Limits{})
	if err != nil {
		return nil, err
	}
	var content []byte
	if sd.Content() == nil {
		if _, err := sd.VerifyDetached(nil, cms.VerifyOptions{Signer: ca}); err != nil {
			return nil, err
		}
	} else {
		if _, err := sd.Verify(cms.VerifyOptions{Signer: ca}); err != nil {
			return nil, err
		}
		content = sd.Content()
	}
	var mt, status, tid string
	var rnonce []byte
	for _, a := range []struct {
		oid asn1.ObjectIdentifier
		out any
	}{{oidMessageType, &mt}, {oidPKIStatus, &status}, {oidTransactionID, &tid}, {oidRecipientNonce, &rnonce}} {
		if err := sd.SignedAttribute(a.oid, a.out); err != nil {
			return nil, err
		}
	}
	switch {
	case mt != "3":
		return nil, fmt.Errorf("sceptest: message type %q, want CertRep", mt)
	case tid != p.transaction || !bytes.Equal(rnonce, p.nonce):
		return nil, errors.New("sceptest: reply to another transaction")
	case status == "2":
		var info string
		_ = sd.SignedAttribute(oidFailInfo, &info)
		return nil, fmt.Errorf("%w: failInfo %s", ErrFailed, info)
	case status != "0":
		return nil, fmt.Errorf("sceptest: pkiStatus %q", status)
	}
	inner, _, err := cms.DecryptSCEP(content, p.signer, p.key)
	if err != nil {
		return nil, err
	}
	certs, err := cms.ParseCertificates(inner)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

// CSR returns a PKCS #10 request for key with a challengePassword
// attribute, which crypto/x509 cannot write.
func CSR(key *rsa.PrivateKey, subject pkix.Name, challenge string) ([]byte, error) {
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	name, err := asn1.Marshal(subject.ToRDNSequence())
	if err != nil {
		return nil, err
	}
	type attribute struct {
		Type   asn1.ObjectIdentifier
		Values []asn1.RawValue `asn1:"set"`
	}
	var attrs []attribute
	if challenge != "" {
		attrs = append(attrs, attribute{oidChallenge, []asn1.RawValue{{Tag: asn1.TagUTF8String, Bytes: []byte(challenge)}}})
	}
	tbs, err := asn1.Marshal(struct {
		Version    int
		Subject    asn1.RawValue
		PublicKey  asn1.RawValue
		Attributes []attribute `asn1:"tag:0"`
	}{0, asn1.RawValue{FullBytes: name}, asn1.RawValue{FullBytes: spki}, attrs})
	if err != nil {
		return nil, err
	}
	sum := crypto.SHA256.New()
	sum.Write(tbs)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum.Sum(nil))
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(struct {
		TBS       asn1.RawValue
		Algorithm pkix.AlgorithmIdentifier
		Signature asn1.BitString
	}{asn1.RawValue{FullBytes: tbs}, pkix.AlgorithmIdentifier{Algorithm: oidSHA256WithRSA, Parameters: asn1.NullRawValue},
		asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}})
}

func selfSigned(key *rsa.PrivateKey) (*x509.Certificate, error) {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "SCEP temporary"},
		NotBefore:    time.Unix(0, 0),
		NotAfter:     time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}
