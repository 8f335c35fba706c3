package profile

import "errors"

// Sentinel errors, returned wrapped with %w; test them with errors.Is.
var (
	// ErrEmptyIdentifier reports a profile without PayloadIdentifier.
	ErrEmptyIdentifier = errors.New("profile: empty identifier")
	// ErrNoPayloads reports a profile with nothing to install.
	ErrNoPayloads = errors.New("profile: no payloads")
	// ErrDuplicateUUID reports two payloads (or a payload and the profile)
	// sharing a PayloadUUID.
	ErrDuplicateUUID = errors.New("profile: duplicate payload UUID")
	// ErrDuplicateIdentifier reports two payloads sharing a
	// PayloadIdentifier.
	ErrDuplicateIdentifier = errors.New("profile: duplicate payload identifier")
	// ErrMissingField reports a required key left empty.
	ErrMissingField = errors.New("profile: required field missing")
	// ErrInvalidValue reports a key set to a value Apple does not accept.
	ErrInvalidValue = errors.New("profile: invalid value")
	// ErrInvalidSecurityType reports a Wi-Fi EncryptionType Apple does not
	// know, or one that contradicts the other Wi-Fi settings.
	ErrInvalidSecurityType = errors.New("profile: invalid Wi-Fi security type")
	// ErrNoCertificate reports a signer or recipient without a certificate.
	ErrNoCertificate = errors.New("profile: certificate missing")
	// ErrNoKey reports a signer without a private key.
	ErrNoKey = errors.New("profile: signing key missing")
	// ErrKeyMismatch reports a certificate that does not belong to the key.
	ErrKeyMismatch = errors.New("profile: certificate does not match key")
	// ErrNotConfiguration reports decoded input that is not a configuration
	// profile (or, for DecodeService, not a Profile Service document).
	ErrNotConfiguration = errors.New("profile: not a configuration profile")
	// ErrNotEncrypted reports a Decrypt call on a profile without
	// EncryptedPayloadContent.
	ErrNotEncrypted = errors.New("profile: not encrypted")
	// ErrDecode reports input that cannot be decoded: too large, too deep,
	// malformed, or of the wrong shape.
	ErrDecode = errors.New("profile: cannot decode")
	// ErrSignature reports a signed profile that does not verify or whose
	// signer is not trusted.
	ErrSignature = errors.New("profile: signature not valid")
)
