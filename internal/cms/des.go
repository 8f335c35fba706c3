package cms

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
)

// DES3CBC is DES-EDE3-CBC (RFC 3370 §5.2), the content cipher of SCEP
// clients that do not offer AES. It exists only for SCEP: EncryptAES and
// Decrypt refuse it, so a profile can never be enveloped with it by mistake.
const DES3CBC Cipher = AES128CBC + 1

var oidDES3CBC = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}

// EncryptDES3 is EncryptAES with DES-EDE3-CBC content encryption, for the
// SCEP CertRep to a client whose request used it (a client that could not
// decrypt AES).
func EncryptDES3(content []byte, recipients []*x509.Certificate) ([]byte, error) {
	return envelope(content, recipients, DES3CBC)
}

// DecryptSCEP is Decrypt that also accepts DES-EDE3-CBC, and reports the
// content cipher the sender chose so that the answer can use the same one.
// SCEP clients choose the cipher from the CA's capabilities, and older ones
// know only DES-EDE3.
func DecryptSCEP(der []byte, cert *x509.Certificate, key crypto.Decrypter) ([]byte, Cipher, error) {
	return open(der, cert, key, func(Cipher) bool { return true })
}

// String names the cipher as OpenSSL does.
func (c Cipher) String() string {
	switch c {
	case AES256CBC:
		return "aes-256-cbc"
	case AES128CBC:
		return "aes-128-cbc"
	case DES3CBC:
		return "des-ede3-cbc"
	}
	return fmt.Sprintf("cipher(%d)", int(c))
}
