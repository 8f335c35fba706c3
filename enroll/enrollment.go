package enroll

import (
	"context"
	"fmt"
	"time"

	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

// Enrollment is the MDM state of one enrolled Apple device channel: what the
// check-in protocol told the server. It is keyed by the inventory device ID;
// the inventory record holds everything else about the device.
type Enrollment struct {
	Org    storage.OrgID
	Device string // inventory device ID
	// Channel is the device's MDM identifier: its UDID, or the
	// EnrollmentID of a User Enrollment.
	Channel        string
	UserEnrollment bool
	Topic          string
	Token          []byte
	PushMagic      string
	UnlockToken    []byte
	BootstrapToken []byte
	// TokenDead is set when APNs said the token is invalid; the next
	// TokenUpdate clears it.
	TokenDead bool
	// Enrolled is the time of the first TokenUpdate: the device counts as
	// enrolled from then on. Zero before.
	Enrolled time.Time
	// CheckedOut is when the device said its MDM profile was removed.
	CheckedOut time.Time
	Updated    time.Time
}

// Limits on what a device may store through check-in messages.
const (
	MaxTopic          = 256
	MaxPushToken      = 256
	MaxPushMagic      = 128
	MaxUnlockToken    = 16 << 10
	MaxBootstrapToken = 16 << 10
)

// Validate checks the identifying fields and the sizes of device-supplied
// values.
func (e Enrollment) Validate() error {
	if err := e.Org.Validate(); err != nil {
		return err
	}
	switch {
	case e.Device == "" || len(e.Device) > MaxDeviceID:
		return fmt.Errorf("%w: enrollment device ID must be 1-%d bytes", storage.ErrInvalid, MaxDeviceID)
	case e.Channel == "" || len(e.Channel) > MaxDeviceID:
		return fmt.Errorf("%w: enrollment channel must be 1-%d bytes", storage.ErrInvalid, MaxDeviceID)
	case len(e.Topic) > MaxTopic:
		return fmt.Errorf("%w: push topic longer than %d bytes", storage.ErrInvalid, MaxTopic)
	}
	return checkTokenSizes(e.Token, e.PushMagic, e.UnlockToken, e.BootstrapToken)
}

func checkTokenSizes(token []byte, magic string, unlock, bootstrap []byte) error {
	switch {
	case len(token) > MaxPushToken:
		return fmt.Errorf("%w: push token longer than %d bytes", storage.ErrInvalid, MaxPushToken)
	case len(magic) > MaxPushMagic:
		return fmt.Errorf("%w: push magic longer than %d bytes", storage.ErrInvalid, MaxPushMagic)
	case len(unlock) > MaxUnlockToken:
		return fmt.Errorf("%w: unlock token longer than %d bytes", storage.ErrInvalid, MaxUnlockToken)
	case len(bootstrap) > MaxBootstrapToken:
		return fmt.Errorf("%w: bootstrap token longer than %d bytes", storage.ErrInvalid, MaxBootstrapToken)
	}
	return nil
}

// TokenUpdate is what a TokenUpdate message sets.
type TokenUpdate struct {
	Topic     string
	Token     []byte
	PushMagic string
	// UnlockToken replaces the stored one when the message carries one; a
	// later TokenUpdate without it does not revoke the escrowed token.
	UnlockToken []byte
	At          time.Time
}

// Validate checks the update.
func (u TokenUpdate) Validate() error {
	switch {
	case len(u.Token) == 0 || u.PushMagic == "":
		return fmt.Errorf("%w: token update without token or push magic", storage.ErrInvalid)
	case len(u.Topic) > MaxTopic:
		return fmt.Errorf("%w: push topic longer than %d bytes", storage.ErrInvalid, MaxTopic)
	case u.At.IsZero():
		return fmt.Errorf("%w: token update without time", storage.ErrInvalid)
	}
	return checkTokenSizes(u.Token, u.PushMagic, u.UnlockToken, nil)
}

// EnrollmentStore keeps the MDM state of enrolled devices. Every method is
// safe for concurrent use; another org's enrollment is ErrNotFound. These
// writes are not audited themselves: the device's enrollment, state changes
// and the commands sent to it are, by the inventory and the queue.
type EnrollmentStore interface {
	// StartEnrollment stores e as the device's enrollment at its
	// Authenticate, replacing any earlier one of the same device ID (tokens
	// and times start over; e.Updated is the time).
	StartEnrollment(ctx context.Context, e Enrollment) (Enrollment, error)
	// Enrollment returns the device's enrollment, or ErrNotFound.
	Enrollment(ctx context.Context, org storage.OrgID, device string) (Enrollment, error)
	// UpdateToken applies a TokenUpdate: token and push magic are always
	// overwritten and TokenDead cleared. first reports whether this was
	// the device's first TokenUpdate (Enrolled was zero and is now u.At).
	UpdateToken(ctx context.Context, org storage.OrgID, device string, u TokenUpdate) (e Enrollment, first bool, err error)
	// SetBootstrapToken escrows (or, empty, clears) the bootstrap token.
	// An enrollment that checked out yields ErrConflict and keeps none.
	SetBootstrapToken(ctx context.Context, org storage.OrgID, device string, token []byte, at time.Time) error
	// CheckOut records that the device removed its MDM profile, and
	// forgets its escrowed bootstrap and unlock tokens: nobody may fetch
	// them for a device no longer under management.
	CheckOut(ctx context.Context, org storage.OrgID, device string, at time.Time) error
	// MarkTokenDead flags the push token dead, unless the device sent a
	// different token since (then it is a no-op).
	MarkTokenDead(ctx context.Context, org storage.OrgID, device string, token []byte, at time.Time) error
	// Enrollments returns the enrollments of the listed devices that
	// exist, in no particular order (for a push fan-out).
	Enrollments(ctx context.Context, org storage.OrgID, devices []string) ([]Enrollment, error)
}

// Normalize returns e as stores keep it: times normalized, empty byte
// slices nil.
func (e Enrollment) Normalize() Enrollment {
	e.Enrolled, e.CheckedOut, e.Updated = normalizeTime(e.Enrolled), normalizeTime(e.CheckedOut), normalizeTime(e.Updated)
	e.Token, e.UnlockToken, e.BootstrapToken = nilIfEmpty(e.Token), nilIfEmpty(e.UnlockToken), nilIfEmpty(e.BootstrapToken)
	return e
}

func normalizeTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return storage.Normalize(t)
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// Apply changes e as the TokenUpdate u does, the one rule every store
// follows, and reports whether it was the device's first.
func (u TokenUpdate) Apply(e *Enrollment) (first bool) {
	e.Topic, e.Token, e.PushMagic, e.TokenDead, e.Updated = u.Topic, u.Token, u.PushMagic, false, u.At
	if len(u.UnlockToken) > 0 {
		e.UnlockToken = u.UnlockToken
	}
	if e.Enrolled.IsZero() {
		e.Enrolled = u.At
		return true
	}
	return false
}

// Authentication is everything an MDM Authenticate writes: the device's
// record when it is new, the binding of the identity it presented, the
// end of whatever its earlier enrollment had queued, and its enrollment
// started afresh.
type Authentication struct {
	// Register, when set, is a new device record, stored as
	// inventory.Store.CreateDevice would with RegisterEntry.
	Register      *inventory.Device
	RegisterEntry storage.AuditEntry
	// Identity, when set, is bound to Enrollment.Device with BindEntry,
	// as IdentityStore.BindIdentity would.
	Identity  Fingerprint
	BindEntry storage.AuditEntry
	// ClearEntry records abandoning the device's open commands, as
	// CommandQueue.ClearQueue would.
	ClearEntry storage.AuditEntry
	// Enrollment is started as EnrollmentStore.StartEnrollment would.
	Enrollment Enrollment
}

// AuthenticateStore writes an Authenticate in one transaction, so that a
// crash or a refusal never leaves a device registered without its
// identity bound, or bound without its enrollment started. Every backend
// of this module implements it.
type AuthenticateStore interface {
	// Authenticate does, in one transaction and in this order: create
	// a.Register (when set; a duplicate ID or identifier is
	// ErrAlreadyExists); bind a.Identity (when set) to
	// a.Enrollment.Device (unknown: ErrNotFound; bound to another device
	// or revoked: ErrConflict; already bound to this device: no change and
	// no BindEntry); abandon the device's open commands with ClearEntry;
	// start a.Enrollment. All of it happens or none of it: any error
	// leaves the store as it was. It returns the identity as stored
	// afterwards (zero when a.Identity is not set). Invalid input is
	// ErrInvalid, before any lookup.
	Authenticate(ctx context.Context, a Authentication) (Identity, error)
}
