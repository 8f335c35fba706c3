// Package profile owns Apple configuration profiles: the typed payloads an
// MDM server sends (SCEP, MDM, certificates, passcode, restrictions, mail,
// Wi-Fi, VPN, web clips), the OTA Profile Service document, their XML
// property-list encoding and bounded decoding, CMS signing with any
// crypto.Signer, and encryption of profile content to a device certificate
// for OTA phase 3.
//
// A Profile is plain data. Add fills in each payload's PayloadIdentifier and
// PayloadUUID when they are empty, deriving them from the profile's
// identifier (a name-based UUID), so building the same profile twice yields
// the same identifiers and a device replaces the installed profile instead
// of adding a second one. PayloadType and PayloadVersion are always set by
// the encoder.
//
// Decoding accepts outside input (an admin's upload, a device's reply)
// only behind size, nesting and value-count limits; see Decode.
//
// CMS work is delegated to internal/cms, which also documents why signing
// and encryption do not go through pkcs7 directly.
package profile
