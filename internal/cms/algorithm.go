package cms

import (
	"crypto/x509"
	"fmt"

	"go.mozilla.org/pkcs7"
)

// SignatureAlgorithm returns the algorithm the single signer names in its
// SignerInfo: the digest algorithm and the signature algorithm together
// (x509.SHA1WithRSA for an iPhone's phase 2 post). It reports what the
// message claims, not that the signature verifies: call Verify for that.
// Algorithms this package does not verify yield ErrMalformed.
func (s *SignedData) SignatureAlgorithm() (x509.SignatureAlgorithm, error) {
	if len(s.p7.Signers) != 1 {
		return x509.UnknownSignatureAlgorithm, fmt.Errorf("%w: %d signers", ErrSignerCount, len(s.p7.Signers))
	}
	si := s.p7.Signers[0]
	digest, sig := si.DigestAlgorithm.Algorithm, si.DigestEncryptionAlgorithm.Algorithm
	rsa := sig.Equal(pkcs7.OIDEncryptionAlgorithmRSA) || sig.Equal(pkcs7.OIDEncryptionAlgorithmRSASHA1) ||
		sig.Equal(pkcs7.OIDEncryptionAlgorithmRSASHA256) || sig.Equal(pkcs7.OIDEncryptionAlgorithmRSASHA384) ||
		sig.Equal(pkcs7.OIDEncryptionAlgorithmRSASHA512)
	ecdsa := sig.Equal(pkcs7.OIDDigestAlgorithmECDSASHA1) || sig.Equal(pkcs7.OIDDigestAlgorithmECDSASHA256) ||
		sig.Equal(pkcs7.OIDDigestAlgorithmECDSASHA384) || sig.Equal(pkcs7.OIDDigestAlgorithmECDSASHA512) ||
		sig.Equal(pkcs7.OIDEncryptionAlgorithmECDSAP256) || sig.Equal(pkcs7.OIDEncryptionAlgorithmECDSAP384) ||
		sig.Equal(pkcs7.OIDEncryptionAlgorithmECDSAP521)
	byDigest := func(sha1, sha256, sha384, sha512 x509.SignatureAlgorithm) (x509.SignatureAlgorithm, error) {
		switch {
		case digest.Equal(pkcs7.OIDDigestAlgorithmSHA1):
			return sha1, nil
		case digest.Equal(pkcs7.OIDDigestAlgorithmSHA256):
			return sha256, nil
		case digest.Equal(pkcs7.OIDDigestAlgorithmSHA384):
			return sha384, nil
		case digest.Equal(pkcs7.OIDDigestAlgorithmSHA512):
			return sha512, nil
		}
		return x509.UnknownSignatureAlgorithm, fmt.Errorf("%w: digest algorithm %s", ErrMalformed, digest)
	}
	switch {
	case rsa:
		return byDigest(x509.SHA1WithRSA, x509.SHA256WithRSA, x509.SHA384WithRSA, x509.SHA512WithRSA)
	case ecdsa:
		return byDigest(x509.ECDSAWithSHA1, x509.ECDSAWithSHA256, x509.ECDSAWithSHA384, x509.ECDSAWithSHA512)
	}
	return x509.UnknownSignatureAlgorithm, fmt.Errorf("%w: signature algorithm %s", ErrMalformed, sig)
}
