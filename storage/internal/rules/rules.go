// Package rules holds the checks every storage backend applies before it
// writes, so that memory, sqlite and postgres accept and reject exactly the
// same input and return records in exactly the same form.
package rules

import (
	"fmt"

	"github.com/openomm/omm/storage"
)

// Entry validates an audit entry and returns it as stored.
func Entry(e storage.AuditEntry) (storage.AuditEntry, error) {
	if err := e.Validate(); err != nil {
		return e, err
	}
	e = e.Normalize()
	e.ID = 0
	return e, nil
}

// ChangeEntry validates the audit entry that records a change to a record of
// org and returns it as stored.
func ChangeEntry(org storage.OrgID, e storage.AuditEntry) (storage.AuditEntry, error) {
	if e.Org != org {
		return e, fmt.Errorf("%w: audit entry is for org %q, the change for org %q", storage.ErrInvalid, e.Org, org)
	}
	return Entry(e)
}

// NewOrg validates a CreateOrg call and returns the org and entry as stored.
func NewOrg(o storage.Org, e storage.AuditEntry) (storage.Org, storage.AuditEntry, error) {
	if err := o.Validate(); err != nil {
		return o, e, err
	}
	e, err := ChangeEntry(o.ID, e)
	if err != nil {
		return o, e, err
	}
	o.Version = 1
	o.Created, o.Updated = e.Time, e.Time
	return o, e, nil
}

// UpdatedOrg validates an UpdateOrg call against the stored org and returns
// the org and entry as they are to be stored. A version mismatch yields
// ErrConflict.
func UpdatedOrg(stored, o storage.Org, e storage.AuditEntry) (storage.Org, storage.AuditEntry, error) {
	if o.Version != stored.Version {
		return o, e, fmt.Errorf("update org %q: read version %d, stored version %d: %w", o.ID, o.Version, stored.Version, storage.ErrConflict)
	}
	o.Version = stored.Version + 1
	o.Created, o.Updated = stored.Created, e.Time
	return o, e, nil
}

// CheckOrgUpdate validates the caller-supplied part of an UpdateOrg call,
// before the stored org is read.
func CheckOrgUpdate(o storage.Org, e storage.AuditEntry) (storage.AuditEntry, error) {
	if err := o.Validate(); err != nil {
		return e, err
	}
	return ChangeEntry(o.ID, e)
}
