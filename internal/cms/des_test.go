package cms

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"testing"

	"go.mozilla.org/pkcs7"
)

func TestDES3ForSCEPOnly(t *testing.T) {
	p := newPKI(t, rsaKey)
	key := p.leafKey.(*rsa.PrivateKey)
	der, err := EncryptDES3(content, []*x509.Certificate{p.leaf})
	if err != nil {
		t.Fatal(err)
	}
	got, c, err := DecryptSCEP(der, p.leaf, key)
	if err != nil || c != DES3CBC || !bytes.Equal(got, content) {
		t.Fatalf("DecryptSCEP = %q, %v, %v", got, c, err)
	}
	// pkcs7 (what other SCEP code uses) reads it too.
	p7, err := pkcs7.Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := p7.Decrypt(p.leaf, key); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("pkcs7 decrypt: %q, %v", got, err)
	}
	// Profiles never accept it.
	if _, err := Decrypt(der, p.leaf, key); !errors.Is(err, ErrUnsupportedCipher) {
		t.Errorf("Decrypt of DES-EDE3 content: %v, want ErrUnsupportedCipher", err)
	}
	if _, err := EncryptAES(content, []*x509.Certificate{p.leaf}, WithCipher(DES3CBC)); !errors.Is(err, ErrUnsupportedCipher) {
		t.Errorf("EncryptAES(DES3CBC): %v, want ErrUnsupportedCipher", err)
	}
	// DecryptSCEP reports AES as AES.
	for _, want := range []Cipher{AES128CBC, AES256CBC} {
		der, err := EncryptAES(content, []*x509.Certificate{p.leaf}, WithCipher(want))
		if err != nil {
			t.Fatal(err)
		}
		if got, c, err := DecryptSCEP(der, p.leaf, key); err != nil || c != want || !bytes.Equal(got, content) {
			t.Errorf("DecryptSCEP(%v) = %q, %v, %v", want, got, c, err)
		}
	}
}

func TestWeDecryptOpenSSLDES3(t *testing.T) {
	bin := openssl(t)
	p := newPKI(t, rsaKey)
	dir := t.TempDir()
	cert := writePEM(t, dir, "leaf.pem", "CERTIFICATE", p.leaf.Raw)
	data := writeFile(t, dir, "content", content)
	der := runOpenSSL(t, bin, "cms", "-encrypt", "-binary", "-des3", "-in", data, "-outform", "DER", cert)
	got, c, err := DecryptSCEP(der, p.leaf, p.leafKey.(*rsa.PrivateKey))
	if err != nil || c != DES3CBC || !bytes.Equal(got, content) {
		t.Fatalf("DecryptSCEP(openssl -des3) = %q, %v, %v", got, c, err)
	}
}

var oidTestAttr = asn1.ObjectIdentifier{2, 16, 840, 1, 113733, 1, 9, 2}

func TestSignDigestAndAttributes(t *testing.T) {
	p := newPKI(t, rsaKey)
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
		der, err := SignAttached(content, p.leafKey, p.leaf, nil, WithDigest(h),
			WithAttributes(Attribute{Type: oidTestAttr, Value: asn1.RawValue{Tag: asn1.TagPrintableString, Bytes: []byte("19")}}))
		if err != nil {
			t.Fatal(err)
		}
		sd, err := Parse(der, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sd.Verify(VerifyOptions{Signer: p.leaf}); err != nil {
			t.Fatalf("%v: %v", h, err)
		}
		if got, err := sd.Digest(); err != nil || got != h {
			t.Errorf("Digest() = %v, %v; want %v", got, err, h)
		}
		var v string
		if err := sd.SignedAttribute(oidTestAttr, &v); err != nil || v != "19" {
			t.Errorf("SignedAttribute = %q, %v", v, err)
		}
		if err := sd.SignedAttribute(asn1.ObjectIdentifier{1, 2, 3}, &v); !errors.Is(err, ErrMalformed) {
			t.Errorf("absent attribute: %v, want ErrMalformed", err)
		}
	}
	ec := newPKI(t, ecKey)
	if _, err := SignAttached(content, ec.leafKey, ec.leaf, nil, WithDigest(crypto.SHA1)); !errors.Is(err, ErrUnsupportedKey) {
		t.Errorf("ECDSA with SHA-1: %v, want ErrUnsupportedKey", err)
	}
	if _, err := SignAttached(content, p.leafKey, p.leaf, nil, WithDigest(crypto.MD5)); !errors.Is(err, ErrUnsupportedKey) {
		t.Errorf("MD5: %v, want ErrUnsupportedKey", err)
	}
}

func TestCertificatesOnly(t *testing.T) {
	p := newPKI(t, rsaKey)
	der, err := CertificatesOnly(p.leaf, p.inter)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := ParseCertificates(der)
	if err != nil || len(certs) != 2 || !certs[0].Equal(p.leaf) || !certs[1].Equal(p.inter) {
		t.Fatalf("ParseCertificates = %v, %v", certs, err)
	}
	p7, err := pkcs7.Parse(der)
	if err != nil || len(p7.Certificates) != 2 {
		t.Fatalf("pkcs7 reads %v, %v", p7, err)
	}
	if _, err := CertificatesOnly(); !errors.Is(err, ErrNoCertificate) {
		t.Errorf("no certificates: %v", err)
	}
	if _, err := ParseCertificates([]byte{0x30, 0x00}); !errors.Is(err, ErrMalformed) {
		t.Errorf("garbage: %v", err)
	}
}
