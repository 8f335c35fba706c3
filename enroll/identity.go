package enroll

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// Fingerprint identifies a certificate: the hex SHA-256 of its DER.
type Fingerprint string

// FingerprintOf returns cert's fingerprint.
func FingerprintOf(cert *x509.Certificate) Fingerprint {
	sum := sha256.Sum256(cert.Raw)
	return Fingerprint(hex.EncodeToString(sum[:]))
}

// Validate checks that f is 64 lowercase hex digits.
func (f Fingerprint) Validate() error {
	if len(f) != 64 {
		return fmt.Errorf("%w: fingerprint must be 64 hex digits", storage.ErrInvalid)
	}
	for _, c := range []byte(f) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fmt.Errorf("%w: fingerprint must be lowercase hex", storage.ErrInvalid)
		}
	}
	return nil
}

// Purpose is what an identity certificate was issued for. Every endpoint
// accepts only its own kind: check-in (and SCEP renewal) only PurposeMDM,
// OTA phase 3 only the PurposeOTA identity of its session.
type Purpose string

// Identity purposes.
const (
	// PurposeMDM: the device's MDM identity, issued at the last step of an
	// enrollment (or renewed from one); MDM check-in accepts it.
	PurposeMDM Purpose = "mdm"
	// PurposeOTA: the OTA identity of phase 2, which only signs its
	// session's phase 3 and is valid only as long as that takes.
	PurposeOTA Purpose = "ota"
)

// Identity is a device identity certificate the org's SCEP CA issued. The
// SCEP service records it when it issues the certificate, for the enrollment
// session whose challenge the device presented; the check-in service binds
// it to the device that first authenticates with it, and from then on
// accepts it from that device only.
type Identity struct {
	Org         storage.OrgID
	Fingerprint Fingerprint
	// Serial is the certificate's serial number in hex.
	Serial string
	// Purpose is what the certificate was issued for (PurposeMDM or
	// PurposeOTA); check-in accepts PurposeMDM only.
	Purpose Purpose
	// AttestedUDID is the device the session's phase 2 attested (signed
	// by Apple's device CA): the only device that may authenticate with
	// the identity. Empty for a direct enrollment, which attests no device.
	AttestedUDID string
	// Platform is the platform the session's policy decision was made
	// for; check-in refuses an Authenticate from another platform (a Mac's
	// direct profile does not enroll an iPhone). Empty for identities
	// recorded before it was kept.
	Platform policy.Platform
	// Session is the enrollment session the certificate was issued for;
	// UserID and Policy are copied from it.
	Session string
	UserID  string
	Policy  string
	// Device is the inventory device ID the identity is bound to; empty
	// until the device's first Authenticate.
	Device   string
	Issued   time.Time
	NotAfter time.Time
	// Renews is the fingerprint of the identity this one replaced, for a
	// renewal; the new identity binds to the same device.
	Renews Fingerprint
	// Revoked is when the identity was revoked before any device used it
	// (its user left); zero otherwise. A revoked identity binds to nothing.
	Revoked time.Time
}

// IdentityStore keeps issued identities. Every method is safe for concurrent
// use; an identity of another org is ErrNotFound.
type IdentityStore interface {
	// RecordIdentity stores a newly issued identity (Device empty) with
	// entry, in one transaction. A fingerprint already recorded yields
	// ErrAlreadyExists.
	RecordIdentity(ctx context.Context, id Identity, entry storage.AuditEntry) (Identity, error)
	// Identity returns the org's identity with this fingerprint, or
	// ErrNotFound.
	Identity(ctx context.Context, org storage.OrgID, f Fingerprint) (Identity, error)
	// BindIdentity binds the identity to device and appends entry, in one
	// transaction. Binding to the device it is already bound to is a no-op
	// that appends nothing; an identity bound to another device, or
	// revoked, yields ErrConflict and changes nothing.
	BindIdentity(ctx context.Context, org storage.OrgID, f Fingerprint, device string, entry storage.AuditEntry) (Identity, error)
}

// Binding is what a device's every check-in reads before anything else:
// the identity that proves the request, the device it is bound to, and
// whether that device has commands waiting.
type Binding struct {
	Identity Identity
	// Device is the device Identity is bound to, as stored.
	Device inventory.Device
	// Open is set when the device had commands Pending or NotNow at the
	// read: what [CommandQueue.NextCommand] without SkipNotNow would look
	// at. When it is not set, such a NextCommand would have found nothing
	// at the same instant.
	Open bool
}

// BindingStore reads a [Binding] in one query, where a check-in would
// otherwise read the identity, its device and the device's queue one
// after the other (storage/sqlstore implements it). Every method is safe
// for concurrent use and never crosses its org.
type BindingStore interface {
	// Binding returns the org's identity with fingerprint f together with
	// its device, as IdentityStore.Identity and inventory.Store.Device
	// would. An unknown fingerprint, an identity bound to no device and a
	// device missing from the registry all yield ErrNotFound: the caller
	// then reads them one by one to tell why.
	Binding(ctx context.Context, org storage.OrgID, f Fingerprint) (Binding, error)
}

// MDMProfileIdentifier is the PayloadIdentifier of an org's MDM enrollment
// profile. Removing that profile unenrolls a device (and removes the managed
// apps and profiles that came with it), so deprovisioning ends with it.
func MDMProfileIdentifier(org storage.OrgID) string { return "com.openomm.mdm." + string(org) }

// RevocationStore ends what a user was handed for enrollments they have
// not completed: what the user lifecycle does when a user leaves. Every
// method is safe for concurrent use and never crosses its org.
type RevocationStore interface {
	// RevokeUserEnrollments, in one transaction with entry: every session
	// of the user that has not reached PhaseEnrolled loses its challenge
	// and expires at at (its links, its SCEP challenge and its phase 3 are
	// refused from then on), and every identity issued to the user and
	// bound to no device is revoked at at (BindIdentity refuses it). It
	// returns how many of each it ended; when there were none, nothing
	// changes and entry is not appended, so that calling it again is
	// harmless.
	RevokeUserEnrollments(ctx context.Context, org storage.OrgID, userID string, at time.Time, entry storage.AuditEntry) (sessions, identities int, err error)
	// EnrollmentUsers returns, sorted and once each, the users of org
	// holding an unexpired session that has not reached PhaseEnrolled or an
	// unrevoked identity bound to no device, at at.
	EnrollmentUsers(ctx context.Context, org storage.OrgID, at time.Time) ([]string, error)
	// RevokeEnrollSession ends one session that has not reached
	// PhaseEnrolled, in one transaction with entry: it loses its challenge
	// and expires at at (its link, its SCEP challenge and its phase 3 are
	// refused from then on). A session that already reached PhaseEnrolled
	// (its device has its identity: deprovision the device instead) or has
	// already expired yields ErrConflict, an unknown one ErrNotFound; then
	// nothing changes.
	RevokeEnrollSession(ctx context.Context, org storage.OrgID, id string, at time.Time, entry storage.AuditEntry) error
}

// PurgeStore removes expired enrollment credentials. Safe for concurrent
// use; never crosses its org.
type PurgeStore interface {
	// PurgeEnrollSessions deletes at most limit sessions that did not
	// reach PhaseEnrolled and expired before expiredBefore (enrolled ones
	// stay: the policy profile of their devices comes from them), then at
	// most limit OTA identities bound to no device that expired before it,
	// and returns how many of both; entry, with the sessions' count, is
	// appended with the sessions when there were any.
	PurgeEnrollSessions(ctx context.Context, org storage.OrgID, expiredBefore time.Time, limit int, entry storage.AuditEntry) (int, error)
}
