// Package scep owns the per-org device certificate authority and its SCEP
// endpoint (RFC 8894): GetCACaps, GetCACert and PKIOperation (PKCSReq and
// RenewalReq → CertRep).
//
// Each org has one CA. Where its key lives is the Authorities' business:
// GeneratedCAs (the example server's choice) generates an RSA-2048 CA on
// first use and keeps it, private key included, through a CAStore; an
// embedder with an HSM or KMS implements Authorities with any crypto.Signer
// that can also decrypt (SCEP clients envelope their request to the CA's
// RSA key).
//
// A first certificate is issued only against the challenge of an
// enrollment session (package enroll) that awaits one: the challenge is
// checked in constant time, single-use (the session step that consumes it
// commits together with the issued identity, and of two requests with the
// same challenge exactly one wins), bound to its session and short-lived.
// The certificate's subject is chosen here, not by the device: the device
// identity (its UDID after OTA phase 2, else the session) as common name,
// the session as organizational unit, the org as organization; it is valid
// for client authentication for a configurable time (a year by default).
// Every issued certificate is recorded through the IdentityStore contract
// of package enroll, which MDM check-in uses to bind it to a device.
//
// Renewal: a request signed with an identity this CA issued and recorded,
// inside its renewal window and not expired, gets a successor recorded with
// Renews pointing at it.
//
// The request is answered with the digest (SHA-1 or SHA-256) and content
// cipher (AES or DES-EDE3) the client used, so that older clients can read
// it. A refused request that can be answered gets a signed FAILURE CertRep
// (what clients understand) and the service returns the reason as an error;
// nothing is stored. All CMS work goes through internal/cms; sceptest plays
// the device side for tests and simulators.
package scep
