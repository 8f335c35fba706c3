package cms

import "errors"

// Sentinel errors; operations wrap them with %w so callers can use errors.Is.
var (
	// ErrTooLarge reports input longer than Limits.MaxSize.
	ErrTooLarge = errors.New("cms: input too large")
	// ErrTooDeep reports input nested deeper than Limits.MaxDepth.
	ErrTooDeep = errors.New("cms: input nested too deeply")
	// ErrMalformed reports input that is not a well-formed CMS structure.
	ErrMalformed = errors.New("cms: malformed input")
	// ErrNotSigned reports a message that is not SignedData.
	ErrNotSigned = errors.New("cms: not signed data")
	// ErrNotEnveloped reports a message that is not EnvelopedData.
	ErrNotEnveloped = errors.New("cms: not enveloped data")
	// ErrSignerCount reports a SignedData without exactly one signer.
	ErrSignerCount = errors.New("cms: message must have exactly one signer")
	// ErrBadSignature reports a signature that does not verify.
	ErrBadSignature = errors.New("cms: signature does not verify")
	// ErrUntrustedSigner reports a valid signature by a certificate the
	// caller does not trust.
	ErrUntrustedSigner = errors.New("cms: signer is not trusted")
	// ErrNoTrustPolicy reports a Verify call that did not say whom to trust.
	ErrNoTrustPolicy = errors.New("cms: no signer, roots or chain check given")
	// ErrNoContent reports an attached-signature check on a detached message.
	ErrNoContent = errors.New("cms: message carries no content")
	// ErrNoCertificate reports a signer or recipient without a certificate.
	ErrNoCertificate = errors.New("cms: certificate missing")
	// ErrKeyMismatch reports a certificate whose public key is not the
	// signer's.
	ErrKeyMismatch = errors.New("cms: certificate does not match key")
	// ErrUnsupportedKey reports a key type this package cannot use.
	ErrUnsupportedKey = errors.New("cms: unsupported key type")
	// ErrUnsupportedCipher reports enveloped content that is not AES-CBC.
	ErrUnsupportedCipher = errors.New("cms: unsupported content cipher")
	// ErrNotRecipient reports enveloped data not addressed to the given
	// certificate, or a key that cannot decrypt it.
	ErrNotRecipient = errors.New("cms: not a recipient")
)
