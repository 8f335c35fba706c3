package cms

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
)

// Cipher names a content-encryption algorithm EncryptAES may use.
type Cipher int

// The ciphers EncryptAES offers. Both use CBC because that is what Apple
// devices decrypt in profiles; DES-EDE3 (DES3CBC) is kept apart for SCEP.
const (
	AES256CBC Cipher = iota
	AES128CBC
)

func (c Cipher) keyLen() int {
	switch c {
	case AES128CBC:
		return 16
	case DES3CBC:
		return 24
	}
	return 32
}

func (c Cipher) blockSize() int {
	if c == DES3CBC {
		return des.BlockSize
	}
	return aes.BlockSize
}

func (c Cipher) oid() asn1.ObjectIdentifier {
	switch c {
	case AES128CBC:
		return oidAES128CBC
	case DES3CBC:
		return oidDES3CBC
	}
	return oidAES256CBC
}

func (c Cipher) newBlock(key []byte) (cipher.Block, error) {
	if c == DES3CBC {
		return des.NewTripleDESCipher(key)
	}
	return aes.NewCipher(key)
}

// cipherFor maps a content-encryption algorithm to a Cipher.
func cipherFor(alg asn1.ObjectIdentifier) (Cipher, bool) {
	for _, c := range []Cipher{AES256CBC, AES128CBC, DES3CBC} {
		if alg.Equal(c.oid()) {
			return c, true
		}
	}
	return 0, false
}

// EncryptOption configures EncryptAES.
type EncryptOption func(*encryptConfig)

type encryptConfig struct {
	cipher Cipher
}

// WithCipher selects the content cipher; the default is AES256CBC.
func WithCipher(c Cipher) EncryptOption {
	return func(cfg *encryptConfig) { cfg.cipher = c }
}

// EncryptAES returns a DER EnvelopedData holding content encrypted with a
// fresh AES key, and that key encrypted to each recipient's RSA public key
// (RSAES-PKCS1-v1_5 key transport, the scheme Apple devices implement).
// Recipients are identified by issuer and serial number.
func EncryptAES(content []byte, recipients []*x509.Certificate, opts ...EncryptOption) ([]byte, error) {
	cfg := encryptConfig{cipher: AES256CBC}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.cipher != AES256CBC && cfg.cipher != AES128CBC {
		return nil, fmt.Errorf("encrypt: %w: %d", ErrUnsupportedCipher, cfg.cipher)
	}
	return envelope(content, recipients, cfg.cipher)
}

// envelope encrypts content with c under a fresh key sent to each recipient.
func envelope(content []byte, recipients []*x509.Certificate, c Cipher) ([]byte, error) {
	if len(recipients) == 0 {
		return nil, fmt.Errorf("encrypt: no recipients: %w", ErrNoCertificate)
	}

	key := make([]byte, c.keyLen())
	iv := make([]byte, c.blockSize())
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	if _, err := rand.Read(iv); err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}

	infos := make([]keyTransRecipientInfo, 0, len(recipients))
	for i, r := range recipients {
		if r == nil {
			return nil, fmt.Errorf("encrypt: recipient %d: %w", i, ErrNoCertificate)
		}
		pub, ok := r.PublicKey.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("encrypt: recipient %d: %w: %T (key transport needs RSA)", i, ErrUnsupportedKey, r.PublicKey)
		}
		ek, err := rsa.EncryptPKCS1v15(rand.Reader, pub, key)
		if err != nil {
			return nil, fmt.Errorf("encrypt: recipient %d: %w", i, err)
		}
		infos = append(infos, keyTransRecipientInfo{
			RID:                    issuerAndSerial{Issuer: asn1.RawValue{FullBytes: r.RawIssuer}, Serial: r.SerialNumber},
			KeyEncryptionAlgorithm: pkix.AlgorithmIdentifier{Algorithm: oidRSAEncryption, Parameters: asn1.NullRawValue},
			EncryptedKey:           ek,
		})
	}

	block, err := c.newBlock(key)
	if err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	padded := pkcs7Pad(content, c.blockSize())
	ct := make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, padded)

	ivParam, err := asn1.Marshal(iv)
	if err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	return wrap(oidEnvelopedData, envelopedData{
		RecipientInfos: infos,
		EncryptedContentInfo: encryptedContentInfo{
			ContentType:                oidData,
			ContentEncryptionAlgorithm: pkix.AlgorithmIdentifier{Algorithm: c.oid(), Parameters: asn1.RawValue{FullBytes: ivParam}},
			EncryptedContent:           asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: ct},
		},
	})
}

// Decrypt opens a DER EnvelopedData addressed to cert with its private key,
// which may be any crypto.Decrypter holding an RSA key (an *rsa.PrivateKey
// or a hardware-backed key). Only AES-CBC content is accepted. The input is
// checked against the default Limits first.
func Decrypt(der []byte, cert *x509.Certificate, key crypto.Decrypter) ([]byte, error) {
	out, _, err := open(der, cert, key, func(c Cipher) bool { return c != DES3CBC })
	return out, err
}

// open decrypts an EnvelopedData whose content cipher accept allows, and
// reports the cipher.
func open(der []byte, cert *x509.Certificate, key crypto.Decrypter, accept func(Cipher) bool) ([]byte, Cipher, error) {
	if cert == nil {
		return nil, 0, fmt.Errorf("decrypt: %w", ErrNoCertificate)
	}
	if key == nil {
		return nil, 0, fmt.Errorf("decrypt: %w: nil key", ErrUnsupportedKey)
	}
	if _, ok := key.Public().(*rsa.PublicKey); !ok {
		return nil, 0, fmt.Errorf("decrypt: %w: %T", ErrUnsupportedKey, key.Public())
	}
	if err := checkEncoding(der, Limits{}); err != nil {
		return nil, 0, fmt.Errorf("decrypt: %w", err)
	}
	var ci contentInfo
	if rest, err := asn1.Unmarshal(der, &ci); err != nil || len(rest) != 0 {
		return nil, 0, fmt.Errorf("decrypt: %w: not DER content info", ErrMalformed)
	}
	if !ci.ContentType.Equal(oidEnvelopedData) {
		return nil, 0, fmt.Errorf("decrypt: %w: content type %v", ErrNotEnveloped, ci.ContentType)
	}
	if ci.Content.Class != asn1.ClassContextSpecific || ci.Content.Tag != 0 || !ci.Content.IsCompound {
		return nil, 0, fmt.Errorf("decrypt: %w: bad content wrapper", ErrMalformed)
	}
	var ed envelopedData
	if rest, err := asn1.Unmarshal(ci.Content.Bytes, &ed); err != nil || len(rest) != 0 {
		return nil, 0, fmt.Errorf("decrypt: %w: bad enveloped data", ErrMalformed)
	}

	eci := ed.EncryptedContentInfo
	c, ok := cipherFor(eci.ContentEncryptionAlgorithm.Algorithm)
	if !ok || !accept(c) {
		return nil, 0, fmt.Errorf("decrypt: %w: %v", ErrUnsupportedCipher, eci.ContentEncryptionAlgorithm.Algorithm)
	}
	bs := c.blockSize()
	var iv []byte
	if rest, err := asn1.Unmarshal(eci.ContentEncryptionAlgorithm.Parameters.FullBytes, &iv); err != nil || len(rest) != 0 || len(iv) != bs {
		return nil, 0, fmt.Errorf("decrypt: %w: bad IV", ErrMalformed)
	}
	ct := eci.EncryptedContent.Bytes
	if eci.EncryptedContent.Class != asn1.ClassContextSpecific || eci.EncryptedContent.Tag != 0 ||
		eci.EncryptedContent.IsCompound || len(ct) == 0 || len(ct)%bs != 0 {
		return nil, 0, fmt.Errorf("decrypt: %w: bad encrypted content", ErrMalformed)
	}

	var ri *keyTransRecipientInfo
	for i := range ed.RecipientInfos {
		r := &ed.RecipientInfos[i]
		if bytes.Equal(r.RID.Issuer.FullBytes, cert.RawIssuer) && r.RID.Serial != nil && r.RID.Serial.Cmp(cert.SerialNumber) == 0 {
			ri = r
			break
		}
	}
	if ri == nil {
		return nil, 0, fmt.Errorf("decrypt: %w: no recipient info for this certificate", ErrNotRecipient)
	}
	if !ri.KeyEncryptionAlgorithm.Algorithm.Equal(oidRSAEncryption) {
		return nil, 0, fmt.Errorf("decrypt: %w: key transport %v", ErrUnsupportedKey, ri.KeyEncryptionAlgorithm.Algorithm)
	}
	// SessionKeyLen makes a wrong key yield a random content key instead of
	// an early error, so timing does not tell a padding oracle anything.
	cek, err := key.Decrypt(rand.Reader, ri.EncryptedKey, &rsa.PKCS1v15DecryptOptions{SessionKeyLen: c.keyLen()})
	if err != nil {
		return nil, 0, fmt.Errorf("decrypt: %w: %w", ErrNotRecipient, err)
	}
	block, err := c.newBlock(cek)
	if err != nil {
		return nil, 0, fmt.Errorf("decrypt: %w: %w", ErrNotRecipient, err)
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(pt, ct)
	out, ok := pkcs7Unpad(pt, bs)
	if !ok {
		return nil, 0, fmt.Errorf("decrypt: %w: wrong key or corrupt content", ErrNotRecipient)
	}
	return out, c, nil
}

func pkcs7Pad(b []byte, block int) []byte {
	n := block - len(b)%block
	out := make([]byte, len(b)+n)
	copy(out, b)
	for i := len(b); i < len(out); i++ {
		out[i] = byte(n)
	}
	return out
}

func pkcs7Unpad(b []byte, block int) ([]byte, bool) {
	if len(b) == 0 || len(b)%block != 0 {
		return nil, false
	}
	n := int(b[len(b)-1])
	if n == 0 || n > block {
		return nil, false
	}
	for _, c := range b[len(b)-n:] {
		if int(c) != n {
			return nil, false
		}
	}
	return b[:len(b)-n], true
}
