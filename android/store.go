package android

import (
	"context"
	"time"

	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

// Store keeps enrollment tokens, the Android side of enrolled devices, and
// commands. storage/memory, storage/sqlite and storage/postgres implement
// it; storage/storagetest pins its behaviour down. Every method is safe for
// concurrent use; a record of another org is ErrNotFound, exactly as if it
// did not exist; bad input is ErrInvalid and changes nothing. Mutating
// methods append entry (whose Org must be the record's) in the same
// transaction.
type Store interface {
	// CreateAndroidToken stores a new token (Uses 0, Created = entry.Time).
	// A used ID yields ErrAlreadyExists, an unknown org ErrNotFound; with
	// t.MaxOpen set, a user who already holds that many open tokens at
	// entry.Time (see OpenAndroidTokens) yields storage.ErrLimit, also when
	// the tokens are created concurrently.
	CreateAndroidToken(ctx context.Context, t Token, entry storage.AuditEntry) (Token, error)
	// OpenAndroidTokens counts the user's tokens that are unexpired at at
	// and not used up (a one-time token used once is used up).
	OpenAndroidTokens(ctx context.Context, org storage.OrgID, userID string, at time.Time) (int, error)
	// AndroidToken returns the org's token id, or ErrNotFound.
	AndroidToken(ctx context.Context, org storage.OrgID, id string) (Token, error)
	// UseAndroidToken counts one enrollment with token id at time at. A
	// token expired at at, or one-time and already used, yields
	// ErrConflict; of concurrent uses of a one-time token exactly one
	// succeeds. It returns the token as stored after the use.
	UseAndroidToken(ctx context.Context, org storage.OrgID, id string, at time.Time, entry storage.AuditEntry) (Token, error)

	// CreateAndroidDevice stores the Android side of an enrollment
	// (Created = entry.Time). A used ID yields ErrAlreadyExists, an unknown
	// org ErrNotFound.
	CreateAndroidDevice(ctx context.Context, d Device, entry storage.AuditEntry) (Device, error)
	// PurgeAndroidTokens deletes at most limit tokens (used or not) that
	// expired before expiredBefore and returns how many; entry, with the
	// count, is appended in the same transaction when there were any.
	PurgeAndroidTokens(ctx context.Context, org storage.OrgID, expiredBefore time.Time, limit int, entry storage.AuditEntry) (int, error)
	// EnrollAndroidDevice stores an enrollment made with a token, whole or
	// not at all, in one transaction: the token's use (as UseAndroidToken:
	// expired or used up yields ErrConflict), the inventory record (as
	// inventory.Store.CreateDevice: an identifier in use yields
	// ErrAlreadyExists), the Android side (as CreateAndroidDevice), each
	// with its entry. So a one-time token is spent only by an enrollment
	// that completed. It returns the Android side as stored.
	EnrollAndroidDevice(ctx context.Context, e TokenEnrollment) (Device, error)
	// AndroidDevice returns the org's device id, or ErrNotFound.
	AndroidDevice(ctx context.Context, org storage.OrgID, id string) (Device, error)
	// SetAndroidCredential replaces the device's credential hash (32 bytes,
	// else ErrInvalid), so that the previous credential stops working. An
	// unknown device yields ErrNotFound. It returns the device as stored.
	SetAndroidCredential(ctx context.Context, org storage.OrgID, id string, hash []byte, entry storage.AuditEntry) (Device, error)

	// CreateAndroidCommand stores a new pending command (Created and
	// Updated = entry.Time). Its device must be stored (else ErrNotFound);
	// a used ID yields ErrAlreadyExists.
	CreateAndroidCommand(ctx context.Context, c Command, entry storage.AuditEntry) (Command, error)
	// StartAndroidWipe stores a new pending wipe command (Kind
	// CommandWipe, else ErrInvalid) with entry and, in the same
	// transaction, moves the device's inventory record from enrolled to
	// deprovisioning with stateEntry — so that a crash never leaves a wipe
	// asked for on a device still shown enrolled, nor the reverse. A device
	// already deprovisioning (a retry) stays so and stateEntry is not
	// appended; any other state yields inventory.ErrTransition, and a
	// device without both records ErrNotFound, storing nothing.
	StartAndroidWipe(ctx context.Context, c Command, entry, stateEntry storage.AuditEntry) (Command, error)
	// AndroidCommand returns the org's command id, or ErrNotFound.
	AndroidCommand(ctx context.Context, org storage.OrgID, id string) (Command, error)
	// PendingAndroidCommands returns the device's pending commands, oldest
	// first (by Created, then ID); none for an unknown device.
	PendingAndroidCommands(ctx context.Context, org storage.OrgID, deviceID string) ([]Command, error)
	// FinishAndroidCommand moves a pending command to status (done or
	// failed, else ErrInvalid) with detail, Updated = entry.Time. A command
	// that is no longer pending yields ErrConflict (of concurrent finishes
	// exactly one succeeds).
	FinishAndroidCommand(ctx context.Context, org storage.OrgID, id string, status Status, detail string, entry storage.AuditEntry) (Command, error)
}

// TokenRevoker ends the enrollment tokens a user has not used up: what the
// user lifecycle does when a user leaves. Safe for concurrent use; never
// crosses its org.
type TokenRevoker interface {
	// RevokeUserTokens makes every unexpired token of the user that is not
	// used up expire at at, with entry, in one transaction, and returns
	// how many; none: nothing changes and entry is not appended.
	RevokeUserTokens(ctx context.Context, org storage.OrgID, userID string, at time.Time, entry storage.AuditEntry) (int, error)
	// TokenUsers returns, sorted and once each, the users of org holding
	// an unexpired token that is not used up, at at.
	TokenUsers(ctx context.Context, org storage.OrgID, at time.Time) ([]string, error)
}

// DefaultMaxOpenTokens is how many open enrollment tokens (unexpired, not
// used up) one user may hold at once unless configured otherwise
// (WithMaxOpenTokens).
const DefaultMaxOpenTokens = 10

// TokenEnrollment is an enrollment made with a token, as
// Store.EnrollAndroidDevice stores it.
type TokenEnrollment struct {
	// Token is the token's ID, used at At (UseEntry records it).
	Token    string
	At       time.Time
	UseEntry storage.AuditEntry
	// Inventory is the registry record, in its final state (enrolled);
	// RegisterEntry records its creation.
	Inventory     inventory.Device
	RegisterEntry storage.AuditEntry
	// Device is the Android side; DeviceEntry records it.
	Device      Device
	DeviceEntry storage.AuditEntry
}
