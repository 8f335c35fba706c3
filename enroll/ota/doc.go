// Package ota owns iOS over-the-air enrollment (the Profile Service, phases
// 1 to 3) and the direct enrollment profile for macOS and simulators. It
// turns an eligible, signed-in user's device into one that holds an MDM
// identity from its org's SCEP CA (package scep) and the MDM enrollment
// profile, after which MDM check-in takes over.
//
// # Sessions
//
// Begin creates an enrollment session (enroll.Session) for a user whose
// policy decision is Enroll; the caller has checked the sign-in and passes
// the org and user as plain values. Every step consumes the session's
// current challenge — 256 random bits naming the session, stored only as a
// SHA-256 hash, compared in constant time, valid for a short time
// (DefaultChallengeTTL) — and issues the next one, in the same store write
// that moves the session forward, so that a replayed or concurrent second
// use finds the session moved and is refused. A refused request changes
// nothing.
//
// # The three phases
//
//  1. ServiceProfile: the ticket's token buys the signed Profile Service
//     document. It requests exactly inventory.OTADeviceAttributes() (never a
//     network identifier) and its texts name the org and what is sent.
//  2. Post, phase 2: the device's attributes, CMS-signed (BER, indefinite
//     lengths) by its Apple device identity. The encoding is bounded
//     (MaxBodySize, nesting depth) before parsing; the signature must verify,
//     the signer is the certificate the SignerInfo names (not whichever comes
//     first in the bundle) and must have been issued by the Apple iPhone
//     Device CA, whose chain up to the Apple Root CA is walked by hand
//     (AppleChain: SHA-1 accepted and the CAs' validity ignored for that
//     pinned chain only); the device certificate itself must be within its
//     own validity period at the service's clock, give or take
//     DeviceCertificateClockSkew. The challenge is checked, and the
//     attributes pass the privacy filter: only the contract's attributes
//     (kept under their inventory keys) and the UDID are recorded on the
//     session. The answer is a signed profile with a SCEP payload whose
//     challenge is bound to the session.
//  3. Post, phase 3: the attributes again, signed by the identity the org CA
//     issued for this very session (another session's certificate is
//     refused), for the same UDID. The answer is the MDM enrollment profile,
//     encrypted to that identity and signed: a SCEP payload for the MDM
//     identity (a fresh single-use challenge) and the MDM payload with the
//     check-in and server URLs ({PublicURL}/mdm/{org}/checkin and /server),
//     the push topic, SignMessage (so Mdm-Signature works),
//     CheckOutWhenRemoved, and AccessRights from inventory.AccessRights with
//     the policy's AllowFullWipe.
//
// DirectProfile is the same MDM profile, unencrypted, for a KindDirect
// session: a signed .mobileconfig with SCEP and MDM payloads that any MDM
// client speaking SCEP and Mdm-Signature can install.
//
// # Policy payloads are a separate profile
//
// The policy's passcode and data-separation restrictions are not put into
// the enrollment profile. A profile is replaced only as a whole and the MDM
// enrollment profile cannot be reinstalled over MDM, so rules inside it
// could never follow a policy change. PolicyProfile and SignedPolicyProfile
// build them as a profile of their own, to be installed with InstallProfile
// once the device has checked in, replaced when the policy changes and
// removed on deprovisioning.
//
// # Re-applying a changed policy
//
// A [Reapplier] brings an enrolled device to a new decision (after a policy
// edit or a change of the user's groups; policy.Set.Reevaluate makes the
// decision): it queues InstallProfile with the new signed policy profile
// (same identifier, so the device replaces the old one), or RemoveProfile
// when the decision needs none, and wakes the device. A fingerprint of
// what the profile enforces (ProfileFingerprint) is kept per device as a
// policy.Applied record, written with the command and its audit entry in
// one transaction; a decision that changes nothing the profile carries
// queues nothing. A device without a record is taken to hold what its
// enrollment session's decision installed.
//
// A policy change never deprovisions anyone. A device whose decision is
// now Denied (its user no longer targeted, an OS below a raised minimum)
// keeps its enrollment and its profile; its record says why it is out of
// policy, for an administrator to decide. Deprovisioning is a separate,
// explicit act (or follows the user's deactivation).
//
// # Signing and trust
//
// Profiles are signed with the org's SCEP CA unless WithProfileSigner names
// a certificate devices already trust. Apple's chain is embedded
// (apple_iphone_device_ca.pem, Apple's public certificates); tests and
// simulators substitute their own with WithAppleChain and package otatest.
// InsecureSkipAppleDeviceCheckForSimulators turns the Apple check off, for
// simulators only, and says so in the log.
//
// # Checking a captured phase 2 body
//
// VerifyPhase2 checks a phase 2 body captured from a device the way Post
// does, without a session, and returns what the SDK would record (after
// the privacy filter), the signer's chain and the signature algorithm:
// integrators test their own captures with it. TestGenuinePhase2 runs it
// on a capture named by the OMM_GENUINE_PHASE2 environment variable (the
// repository holds none: a capture names a device).
package ota
