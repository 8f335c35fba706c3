// Package cms owns every Cryptographic Message Syntax (PKCS #7) operation in
// the project: signing (attached and detached) with any crypto.Signer,
// parsing of untrusted CMS input behind size and nesting limits, signature
// verification that also establishes who signed, and enveloping content to
// RSA recipients with AES.
//
// Parsing of SignedData (devices send BER with indefinite lengths) and the
// signature check are delegated to go.mozilla.org/pkcs7, which converts BER
// to DER recursively; Parse therefore walks the encoding first and refuses
// input that is larger or nested deeper than the caller's Limits, so that
// pkcs7 never sees it.
//
// Signing, enveloping and decryption are encoded here with encoding/asn1
// rather than through pkcs7, for reasons recorded so nobody "simplifies"
// them back: pkcs7 v0.10.0 picks the signature algorithm by type-switching
// on *rsa.PrivateKey and *ecdsa.PrivateKey (so an HSM- or KMS-backed
// crypto.Signer cannot sign) and stamps signing time with time.Now; its
// Encrypt chooses the content cipher from the process-wide variable
// pkcs7.ContentEncryptionAlgorithm (DES by default), which any other
// importer may change concurrently; and its Decrypt accepts DES and 3DES,
// prints to stdout on unknown ciphers and panics on ciphertext that is not
// a whole number of blocks. EncryptAES always uses AES-CBC, and Decrypt
// accepts nothing else; DES-EDE3 exists only for SCEP clients that know
// nothing better, through the separately named EncryptDES3 and DecryptSCEP.
//
// A valid signature alone says nothing about who signed: Verify requires the
// caller to state whom it trusts (a pinned certificate, a root pool or a
// chain callback) and fails with ErrNoTrustPolicy otherwise.
package cms
