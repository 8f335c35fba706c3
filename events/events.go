// Package events owns the SDK's event stream: one durable, ordered record
// per org of what happened to its devices, users and apps, on both
// platforms, for the product that embeds the SDK (its own audit trail, a
// notification, a ticket, access revoked elsewhere).
//
// Every event is written in the same transaction as the change it
// describes (an outbox): a change that fails emits nothing, and a change
// that committed has its event, even if the process dies right after.
// Each org's events carry a cursor, Seq, that increases by one per event
// in commit order; a consumer reads [Store.Events] after the last Seq it
// handled and keeps that cursor. Delivery is at least once: an event may
// be read again after a crash, and its ID, stable across reads, tells
// duplicates apart. Events of one device are in the order they happened.
//
// Events carry only what the privacy contract allows for the device: the
// inventory values they report are those the privacy filter stored, and
// command results are reduced to their status. The package webhook
// delivers the stream to an HTTPS endpoint, signed.
//
// Producers do not write events themselves: a change names the kind it
// emits on its audit entry (storage.AuditEntry.Event), and the store turns
// that entry into the event ([FromAudit]); the store's own changes build
// theirs with [ForOutcome], [Expired], [Inventory] and [Compliance].
package events

import (
	"context"
	"encoding/base32"
	"fmt"
	"strings"
	"time"

	"github.com/openomm/omm/internal/seqid"
	"github.com/openomm/omm/storage"
)

// Kind names what happened. Kinds are stable: a consumer may switch on
// them.
type Kind = storage.EventKind

// Enrollment.
const (
	// EnrollmentStarted: an enrollment link, session or token was issued
	// to the user. Data: platform, kind (ota, direct, android).
	EnrollmentStarted Kind = "enrollment.started"
	// EnrollmentCompleted: the device is enrolled.
	EnrollmentCompleted Kind = "enrollment.completed"
	// EnrollmentFailed: an enrollment was refused after the user had
	// started it. Data: reason.
	EnrollmentFailed Kind = "enrollment.failed"
	// CheckedOut: the device removed its management profile itself.
	CheckedOut Kind = "device.checked_out"
)

// Device actions.
const (
	// DeprovisionRequested: the organization's data is being removed
	// from the device (work data only). Data: reason.
	DeprovisionRequested Kind = "deprovision.requested"
	// DeprovisionCompleted: the device no longer holds the organization's
	// data and is no longer managed.
	DeprovisionCompleted Kind = "deprovision.completed"
	// LockRequested and LockAcknowledged: a screen lock was sent, and the
	// device carried it out.
	LockRequested    Kind = "lock.requested"
	LockAcknowledged Kind = "lock.acknowledged"
	// WipeRequested and WipeCompleted: a factory reset was sent, and the
	// device carried it out.
	WipeRequested Kind = "wipe.requested"
	WipeCompleted Kind = "wipe.completed"
)

// Commands (Apple MDM). Data: uuid, request_type; CommandQueued also
// devices (how many got it: a fan-out is one event), CommandError also
// detail (the device's explanation, bounded).
const (
	CommandQueued       Kind = "command.queued"
	CommandAcknowledged Kind = "command.acknowledged"
	CommandError        Kind = "command.error"
	CommandNotNow       Kind = "command.not_now"
	// CommandExpired: the device never answered usably; the command is
	// abandoned. Data: uuid, request_type, why.
	CommandExpired Kind = "command.expired"
)

// Inventory, compliance, apps and policy.
const (
	// InventoryChanged: the device's stored inventory changed. Data: one
	// entry per changed key ("value.os_version": "17.4"; "" for a removed
	// value) and apps ("changed") when its app list changed. The values
	// are the privacy filter's: nothing the contract forbids.
	InventoryChanged Kind = "inventory.changed"
	// ComplianceChanged: the device went out of policy or back in. Data:
	// in_policy ("true" or "false"), reason.
	ComplianceChanged Kind = "compliance.changed"
	// PolicyApplied: the device got its policy's settings. Data: policy.
	PolicyApplied Kind = "policy.applied"
	// AppInstalled, AppRemoved and AppRejected: an app from the store was
	// installed, removed, or refused by the user or the device. Data:
	// app, identifier.
	AppInstalled Kind = "app.installed"
	AppRemoved   Kind = "app.removed"
	AppRejected  Kind = "app.rejected"
)

// Users and security.
const (
	// UserDeactivated: the user was deactivated in the built-in
	// directory.
	UserDeactivated Kind = "user.deactivated"
	// CredentialsRevoked: the unused enrollment credentials of a user who
	// left were revoked.
	CredentialsRevoked Kind = "user.credentials_revoked"
	// SecurityDenied: a request was refused for want of a valid
	// credential. Data: method, path, status.
	SecurityDenied Kind = "security.denied"
	// SecurityLockout: an account or agent PIN locked after repeated
	// failures.
	SecurityLockout Kind = "security.lockout"
)

// Identities and credentials.
const (
	// IdentityRenewalQueued: a fresh enrollment profile renewing the
	// device's MDM identity was queued for it (an attempt of its
	// renewal). Data: attempt, not_after.
	IdentityRenewalQueued Kind = "identity.renewal_queued"
	// IdentityRenewed: the device used its renewed identity for the first
	// time; the renewal is complete. Data: serial, previous.
	IdentityRenewed Kind = "identity.renewed"
	// IdentityRenewalAtRisk: a device's identity expires soon and its
	// renewal has not completed (the device did not take it): an admin
	// should look at the device. Data: not_after, attempts.
	IdentityRenewalAtRisk Kind = "identity.renewal_at_risk"
	// CredentialExpiring: a credential of the deployment (the APNs push
	// certificate, the serving certificate) expires within the warning
	// period. Data: credential, not_after.
	CredentialExpiring Kind = "credential.expiring"
)

// Kinds lists every kind, for documentation and tests.
func Kinds() []Kind {
	return []Kind{EnrollmentStarted, EnrollmentCompleted, EnrollmentFailed, CheckedOut,
		DeprovisionRequested, DeprovisionCompleted, LockRequested, LockAcknowledged, WipeRequested, WipeCompleted,
		CommandQueued, CommandAcknowledged, CommandError, CommandNotNow, CommandExpired,
		InventoryChanged, ComplianceChanged, PolicyApplied, AppInstalled, AppRemoved, AppRejected,
		UserDeactivated, CredentialsRevoked, SecurityDenied, SecurityLockout,
		IdentityRenewalQueued, IdentityRenewed, IdentityRenewalAtRisk, CredentialExpiring}
}

// Event is one thing that happened in an org.
type Event struct {
	// ID is unique and stable: the same event read twice has the same ID.
	ID string `json:"id"`
	// Seq is the org's cursor: it increases by one per event, in commit
	// order. Assigned by the store.
	Seq  int64         `json:"seq"`
	Org  storage.OrgID `json:"org"`
	Kind Kind          `json:"kind"`
	// Time is when it happened, from the SDK's clock.
	Time time.Time `json:"time"`
	// Device is the device it is about ("" when none), User its user or
	// the user it is about, Actor who caused it (as in the audit log).
	Device string `json:"device,omitempty"`
	User   string `json:"user,omitempty"`
	Actor  string `json:"actor,omitempty"`
	// Data are the kind's facts (see each Kind).
	Data map[string]string `json:"data,omitempty"`
}

// Limits on an event, as on an audit entry.
const (
	MaxIDLen     = 64
	MaxData      = 64
	MaxDataKey   = 64
	MaxDataValue = 1024
)

// NewID returns a new event ID: 128 bits, unguessable, in the order
// this process made them (internal/seqid), in lowercase base32.
func NewID() string {
	id := seqid.New()
	return "evt_" + strings.ToLower(idEncoding.EncodeToString(id[:]))
}

// idEncoding is base32 without padding in sort order: IDs compare as
// their bytes do.
var idEncoding = base32.NewEncoding("0123456789ABCDEFGHIJKLMNOPQRSTUV").WithPadding(base32.NoPadding)

// Validate checks an event before it is stored (Seq is the store's).
func (e Event) Validate() error {
	if err := e.Org.Validate(); err != nil {
		return fmt.Errorf("event: %w", err)
	}
	switch {
	case e.ID == "" || len(e.ID) > MaxIDLen:
		return fmt.Errorf("%w: event ID %q", storage.ErrInvalid, e.ID)
	case e.Kind == "" || len(e.Kind) > storage.MaxActionLen:
		return fmt.Errorf("%w: event kind %q", storage.ErrInvalid, e.Kind)
	case e.Time.IsZero():
		return fmt.Errorf("%w: event time is zero", storage.ErrInvalid)
	case len(e.Device) > storage.MaxIDLen || len(e.User) > storage.MaxIDLen || len(e.Actor) > storage.MaxActorLen:
		return fmt.Errorf("%w: event device, user or actor too long", storage.ErrInvalid)
	case len(e.Data) > MaxData:
		return fmt.Errorf("%w: event has %d data entries, at most %d", storage.ErrInvalid, len(e.Data), MaxData)
	}
	for k, v := range e.Data {
		if k == "" || len(k) > MaxDataKey || len(v) > MaxDataValue {
			return fmt.Errorf("%w: event data %q too long or empty", storage.ErrInvalid, k)
		}
	}
	return nil
}

// Normalize returns e as stores keep it: time normalized, Data copied
// (nil when empty).
func (e Event) Normalize() Event {
	e.Time = storage.Normalize(e.Time)
	if len(e.Data) == 0 {
		e.Data = nil
		return e
	}
	d := make(map[string]string, len(e.Data))
	for k, v := range e.Data {
		d[k] = v
	}
	e.Data = d
	return e
}

// Paging limits of [Store.Events].
const (
	DefaultPage = 100
	MaxPage     = 1000
)

// Query selects an org's events.
type Query struct {
	// After is the cursor: only events with a greater Seq.
	After int64
	// Device, when set, keeps only that device's events.
	Device string
	// Limit is the page size (DefaultPage when 0, at most MaxPage).
	Limit int
	// Newest lists newest first (for a person reading recent events);
	// After then keeps events with a smaller Seq, 0 meaning from the
	// newest.
	Newest bool
}

// Normalize validates q and fills its defaults.
func (q Query) Normalize() (Query, error) {
	switch {
	case q.After < 0:
		return q, fmt.Errorf("%w: event cursor %d", storage.ErrInvalid, q.After)
	case q.Limit < 0 || q.Limit > MaxPage:
		return q, fmt.Errorf("%w: event page of %d, at most %d", storage.ErrInvalid, q.Limit, MaxPage)
	case len(q.Device) > storage.MaxIDLen:
		return q, fmt.Errorf("%w: device ID too long", storage.ErrInvalid)
	}
	if q.Limit == 0 {
		q.Limit = DefaultPage
	}
	return q, nil
}

// Page is one page of events.
type Page struct {
	Events []Event
	// Next is the cursor for the following page (the last event's Seq),
	// or 0 when this page is the last one.
	Next int64
}

// Store keeps the event stream. Events are written by the stores' own
// changes (see the package comment); this is the reading side and what a
// deliverer keeps. Every method is safe for concurrent use and never
// crosses its org.
type Store interface {
	// Events returns a page of org's events in Seq order (newest first
	// with Query.Newest).
	Events(ctx context.Context, org storage.OrgID, q Query) (Page, error)
	// AppendEvent stores an event that goes with no other change (a
	// refusal): it gets the next Seq. An invalid event is ErrInvalid.
	AppendEvent(ctx context.Context, e Event) (Event, error)
	// PurgeEvents deletes up to limit of org's events older than before,
	// oldest first, and returns how many; the cursor of the events left
	// is unchanged.
	PurgeEvents(ctx context.Context, org storage.OrgID, before time.Time, limit int) (int, error)
	// EventCursor returns where consumer stands in org's stream (0 when
	// it never stored a cursor); SetEventCursor stores it. A cursor never
	// moves back: setting a smaller one is ignored.
	EventCursor(ctx context.Context, org storage.OrgID, consumer string) (int64, error)
	SetEventCursor(ctx context.Context, org storage.OrgID, consumer string, seq int64) error
}

// Appender stores an event that goes with no other change: what a service
// takes to record a refusal (EnrollmentFailed). Store implements it.
type Appender interface {
	AppendEvent(ctx context.Context, e Event) (Event, error)
}

// Failed is the event of an enrollment refused after the user started it
// (their credential was revoked, or they left).
func Failed(org storage.OrgID, device, user, actor, reason string, at time.Time) Event {
	return Event{ID: NewID(), Org: org, Kind: EnrollmentFailed, Time: at, Device: device, User: user, Actor: actor,
		Data: map[string]string{"reason": truncate(reason, MaxDataValue)}}
}

// MaxConsumerLen bounds a consumer's name.
const MaxConsumerLen = 64
