package enroll

import (
	"context"
	"fmt"
	"time"

	"github.com/openomm/omm/storage"
)

// KindRenewal is a session that renews an enrolled device's MDM identity:
// the server installs a fresh MDM enrollment profile on the device (same
// payload identifier, topic and server URLs) whose SCEP payload carries
// the session's challenge. The session is created at PhaseProfileSent and
// its only step is PhaseEnrolled, when the SCEP CA issues the new identity;
// that identity renews Session.Renews and binds to the same device when
// the device first uses it.
const KindRenewal SessionKind = "renewal"

// Defaults of identity renewal.
const (
	// DefaultRenewalWindow is how long before an MDM identity's NotAfter
	// the server starts renewing it.
	DefaultRenewalWindow = 30 * 24 * time.Hour
	// DefaultRenewalRetry is the first delay before a renewal the device
	// has not completed is tried again; it doubles per attempt up to
	// MaxRenewalRetry.
	DefaultRenewalRetry = time.Hour
	// MaxRenewalRetry bounds the back-off between attempts.
	MaxRenewalRetry = 24 * time.Hour
	// DefaultRenewalLease is how long a claimed renewal is reserved for
	// the process that claimed it; after that another may take it over.
	DefaultRenewalLease = 5 * time.Minute
	// DefaultRenewalAtRisk is how close to its identity's NotAfter an
	// unfinished renewal counts as at risk (see Renewal.AtRisk).
	DefaultRenewalAtRisk = 7 * 24 * time.Hour
	// MaxRenewalBatch bounds how many renewals one claim returns.
	MaxRenewalBatch = 500
)

// RenewalBackoff is the delay after attempt n (1-based) of a renewal:
// DefaultRenewalRetry doubled per earlier attempt, at most MaxRenewalRetry.
func RenewalBackoff(n int) time.Duration {
	d := DefaultRenewalRetry
	for i := 1; i < n && d < MaxRenewalRetry; i++ {
		d *= 2
	}
	return min(d, MaxRenewalRetry)
}

// Renewal is the renewal of one device identity: due once the identity
// enters its renewal window, until an identity renewing it is bound to the
// device (Completed) or the identity expires.
type Renewal struct {
	Org storage.OrgID
	// Identity is the fingerprint of the identity being renewed, Device
	// the device it is bound to, NotAfter its expiry.
	Identity Fingerprint
	Device   string
	NotAfter time.Time
	// Session is the renewal session of the latest attempt and Command the
	// UUID of the InstallProfile that carries its profile; empty before the
	// first attempt.
	Session string
	Command string
	// Attempts counts the claims; NextAttempt is when the renewal may be
	// claimed again if still not completed; LeaseUntil, while in the
	// future, reserves it for the claimer.
	Attempts    int
	NextAttempt time.Time
	LeaseUntil  time.Time
	// Successor is the identity that renewed this one, Completed when it
	// was bound; both zero while pending.
	Successor Fingerprint
	Completed time.Time
	Created   time.Time
	Updated   time.Time
}

// Lapsed reports whether the renewal did not complete before its identity
// expired at now: the device has fallen off management.
func (r Renewal) Lapsed(now time.Time) bool {
	return r.Completed.IsZero() && !now.Before(r.NotAfter)
}

// AtRisk reports whether the renewal is unfinished with less than within
// left before its identity expires: the admin should look at the device.
func (r Renewal) AtRisk(now time.Time, within time.Duration) bool {
	return r.Completed.IsZero() && !now.Add(within).Before(r.NotAfter)
}

// RenewalClaim asks [RenewalStore.ClaimRenewals] for due renewals.
type RenewalClaim struct {
	Org storage.OrgID
	// Now is the claim time; Window how long before NotAfter an identity
	// becomes due; Lease how long a claim is reserved; Limit how many to
	// return (1 to MaxRenewalBatch).
	Now    time.Time
	Window time.Duration
	Lease  time.Duration
	Limit  int
}

// Validate checks the claim.
func (c RenewalClaim) Validate() error {
	switch {
	case c.Org.Validate() != nil:
		return c.Org.Validate()
	case c.Now.IsZero() || c.Window <= 0 || c.Lease <= 0:
		return fmt.Errorf("%w: renewal claim needs a time, a positive window and a positive lease", storage.ErrInvalid)
	case c.Limit < 1 || c.Limit > MaxRenewalBatch:
		return fmt.Errorf("%w: renewal claim limit must be 1-%d", storage.ErrInvalid, MaxRenewalBatch)
	}
	return nil
}

// RenewalStore keeps identity renewals. Every method is safe for
// concurrent use by several processes on one database, and never crosses
// its org. A renewal completes when its successor is bound: the store's
// IdentityStore.BindIdentity of an identity with Renews set marks the
// renewal of Renews completed (Successor, Completed = the entry's time) in
// the same transaction.
type RenewalStore interface {
	// ClaimRenewals records a renewal for every identity of c.Org that is
	// bound to an enrolled Apple device, not revoked, not renewed by a
	// bound identity, unexpired and expiring within c.Window of c.Now, and
	// then claims, in one transaction, up to c.Limit renewals that are not
	// completed, whose identity has not expired, whose NextAttempt has come
	// and whose lease has run out, oldest NextAttempt first: each gets
	// Attempts+1 and LeaseUntil = Now+Lease. Concurrent claimers get
	// disjoint renewals (rows locked by one are skipped by the others).
	ClaimRenewals(ctx context.Context, c RenewalClaim) ([]Renewal, error)
	// QueueRenewal stores the outcome of an attempt on the claimed renewal
	// r, appending entry, in one transaction: when sess is not nil the
	// session is created (KindRenewal, Renews = r.Identity), the session
	// of the previous attempt, if any and not enrolled, loses its
	// challenge, and cmd is queued for r.Device; then the renewal records
	// the session and command, NextAttempt = next, and its lease is
	// released. r.Attempts and r.LeaseUntil must be what ClaimRenewals
	// returned and the lease still held, else ErrConflict (another process
	// took the renewal over) and nothing changes. A completed renewal is
	// ErrConflict too.
	QueueRenewal(ctx context.Context, r Renewal, sess *Session, cmd *Command, next time.Time, entry storage.AuditEntry) (Renewal, error)
	// Renewals lists the org's renewals that are not completed, by
	// NotAfter (soonest first), at most limit (see ListLimit).
	Renewals(ctx context.Context, org storage.OrgID, limit int) ([]Renewal, error)
	// Renewal returns the renewal of the identity f, or ErrNotFound.
	Renewal(ctx context.Context, org storage.OrgID, f Fingerprint) (Renewal, error)
}

// Audit actions of identity renewal.
const (
	// ActionRenewalQueued: an attempt queued a renewal profile for the
	// device (or, while the last one still waits, woke the device again).
	ActionRenewalQueued = "device.identity.renewal.queue"
	// ActionIdentityRenewed: the device used its renewed identity; it is
	// bound to the device.
	ActionIdentityRenewed = "device.identity.renew"
)
