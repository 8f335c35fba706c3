package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Limits on audit entries, so that a caller passing outside input through
// (a user name, a device's reported value) cannot bloat the log.
const (
	MaxActorLen       = 256
	MaxActionLen      = 64
	MaxTargetLen      = 256
	MaxDetails        = 32
	MaxDetailKeyLen   = 64
	MaxDetailValueLen = 1024
)

// Paging limits for [AuditLog.ListAudit].
const (
	DefaultAuditPage = 100
	MaxAuditPage     = 1000
)

// AuditEntry records one change or security-relevant event in an org.
type AuditEntry struct {
	// ID is assigned by the store: it counts the org's own entries, one
	// more than the org's previous entry, so that it says nothing about
	// other orgs' activity (see [AuditLog.ListAudit] for what a reader can
	// rely on).
	ID  int64
	Org OrgID
	// Time is when it happened, from the caller's clock.
	Time time.Time
	// Actor is who did it: "admin:alice", "user:bob", "device:<udid>",
	// "system".
	Actor string
	// Action names what happened as dotted lowercase words: "org.create",
	// "auth.signin.failure".
	Action string
	// Target is what it happened to: "org:acme", "device:<id>". Optional.
	Target string
	// Details carries further facts. Never put secrets or personal data
	// the privacy contract excludes here.
	Details map[string]string
	// Event, when set, is the kind of event the change emits to the org's
	// event stream (package events), in the same transaction; the store
	// builds it from this entry. It is not kept in the audit log.
	Event EventKind
}

// EventKind names a kind of event of the SDK's event stream; package
// events defines them.
type EventKind string

// Validate checks every field a caller supplies; ID is ignored.
func (e AuditEntry) Validate() error {
	if err := e.Org.Validate(); err != nil {
		return fmt.Errorf("audit entry: %w", err)
	}
	if e.Time.IsZero() {
		return fmt.Errorf("%w: audit entry time is zero", ErrInvalid)
	}
	if err := validateText("audit actor", e.Actor, MaxActorLen, true); err != nil {
		return err
	}
	if err := validateAction(e.Action); err != nil {
		return err
	}
	if err := validateText("audit target", e.Target, MaxTargetLen, false); err != nil {
		return err
	}
	if len(e.Details) > MaxDetails {
		return fmt.Errorf("%w: audit entry has %d details, at most %d allowed", ErrInvalid, len(e.Details), MaxDetails)
	}
	for k, v := range e.Details {
		if err := validateText("audit detail key", k, MaxDetailKeyLen, true); err != nil {
			return err
		}
		if err := validateText("audit detail "+k, v, MaxDetailValueLen, false); err != nil {
			return err
		}
	}
	return nil
}

func validateAction(a string) error {
	if a == "" {
		return fmt.Errorf("%w: audit action is empty", ErrInvalid)
	}
	if len(a) > MaxActionLen {
		return fmt.Errorf("%w: audit action is %d bytes, at most %d allowed", ErrInvalid, len(a), MaxActionLen)
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: audit action %q: use lowercase letters, digits, '.', '_' and '-'", ErrInvalid, a)
		}
	}
	return nil
}

// Normalize returns e as every store keeps it: time normalized, nil Details
// made empty and the map copied, so the caller's map is never aliased.
func (e AuditEntry) Normalize() AuditEntry {
	e.Time = Normalize(e.Time)
	d := make(map[string]string, len(e.Details))
	for k, v := range e.Details {
		d[k] = v
	}
	e.Details = d
	return e
}

// MarshalDetails encodes Details as a JSON object, the form SQL backends
// store.
func (e AuditEntry) MarshalDetails() ([]byte, error) {
	if e.Details == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(e.Details)
}

// AuditQuery selects a page of an org's audit log: oldest first, or
// newest first, optionally filtered. Filters combine with AND; their zero
// values match every entry.
type AuditQuery struct {
	// After and Before bound the entry IDs, exclusive; 0 is no bound. They
	// are the cursors: pass [AuditPage.Next] as After to continue oldest
	// first, as Before to continue newest first.
	After  int64
	Before int64
	// Newest returns the newest entries first (highest ID first).
	Newest bool
	// Limit is the page size: 0 means DefaultAuditPage, larger than
	// MaxAuditPage is reduced to it, negative is ErrInvalid.
	Limit int

	// Actor matches entries whose actor is exactly it ("admin:alice").
	Actor string
	// Target matches entries whose target is exactly it ("device:d1").
	Target string
	// Subject matches entries whose actor or target is it: everything a
	// user did and everything done to them ("user:u1").
	Subject string
	// Action matches the action exactly ("device.lock") or, ending with a
	// dot, every action it starts ("device." matches "device.lock" and
	// "device.state.enrolled").
	Action string
	// Since and Until bound the entry times: Since ≤ Time < Until; a zero
	// time is no bound.
	Since, Until time.Time
}

// Normalize validates q and applies the paging defaults.
func (q AuditQuery) Normalize() (AuditQuery, error) {
	switch {
	case q.After < 0 || q.Before < 0:
		return q, fmt.Errorf("%w: audit cursor %d/%d is negative", ErrInvalid, q.After, q.Before)
	case q.Limit < 0:
		return q, fmt.Errorf("%w: audit page limit %d is negative", ErrInvalid, q.Limit)
	case q.Limit == 0:
		q.Limit = DefaultAuditPage
	case q.Limit > MaxAuditPage:
		q.Limit = MaxAuditPage
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"actor", q.Actor, MaxActorLen}, {"target", q.Target, MaxTargetLen}, {"subject", q.Subject, max(MaxActorLen, MaxTargetLen)}} {
		if err := validateText("audit filter "+f.name, f.v, f.max, false); err != nil {
			return q, err
		}
	}
	if q.Action != "" {
		if err := validateAction(strings.TrimSuffix(q.Action, ".")); err != nil {
			return q, fmt.Errorf("audit filter: %w", err)
		}
	}
	q.Since, q.Until = normalizeBound(q.Since), normalizeBound(q.Until)
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return q, fmt.Errorf("%w: audit filter: since %s is not before until %s", ErrInvalid, q.Since, q.Until)
	}
	return q, nil
}

// ActionPrefix reports whether the Action filter matches every action it
// starts rather than one action.
func (q AuditQuery) ActionPrefix() bool { return strings.HasSuffix(q.Action, ".") }

func normalizeBound(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return Normalize(t)
}

// AuditPage is one page of audit entries.
type AuditPage struct {
	Entries []AuditEntry
	// Next is the cursor for the following page (the last entry's ID, for
	// After or Before by the query's order), or 0 when this page is the
	// last one.
	Next int64
}

// AuditLog is the append-only audit log. There is deliberately no method to
// change or remove an entry. Every method is safe for concurrent use.
type AuditLog interface {
	// AppendAudit appends an entry that records an event with no other
	// stored change (a failed sign-in, a denied request). Changes to other
	// records append their entry through the method that makes the change.
	// An unknown org yields ErrNotFound; a bad field ErrInvalid. It returns
	// the entry as stored, with its ID.
	AppendAudit(ctx context.Context, entry AuditEntry) (AuditEntry, error)
	// ListAudit returns a page of org's entries matching q, in ID order
	// (descending when q.Newest). An unknown org has an empty log. An
	// org's IDs increase by one per entry, in the order its entries
	// commit, whatever other orgs write; so a reader may treat the cursor
	// as a high-water mark. (Entries written before the per-org numbering
	// keep the IDs they had, which may have gaps.)
	ListAudit(ctx context.Context, org OrgID, q AuditQuery) (AuditPage, error)
}

// Normalize returns t as stores keep it: UTC, truncated to microseconds.
func Normalize(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}
