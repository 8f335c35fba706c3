package storage

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// OrgID identifies an org (tenant). It is opaque: embedders may use their
// own identifiers (a UUID from their IAM, say) as long as they satisfy
// [OrgID.Validate].
type OrgID string

// MaxOrgIDLen, MaxOrgNameLen and MaxDisplayNameLen bound org fields.
const (
	MaxOrgIDLen       = 64
	MaxOrgNameLen     = 63 // a DNS label, so the site name can be a host name
	MaxDisplayNameLen = 200
)

// MaxIDLen bounds the identifiers a directory hands out, users' and
// groups' alike, wherever a package stores or checks one: a host IAM's
// identifiers (UUIDs, "auth0|…", object IDs) fit.
const MaxIDLen = 128

// NewOrgID returns a fresh random org identifier with 128 bits of entropy.
func NewOrgID() OrgID {
	return OrgID("org_" + strings.ToLower(rand.Text()))
}

// Validate reports whether id is 1–64 characters of ASCII letters, digits,
// '_', '-', '.' or ':'.
func (id OrgID) Validate() error {
	if id == "" {
		return fmt.Errorf("%w: org id is empty", ErrInvalid)
	}
	if len(id) > MaxOrgIDLen {
		return fmt.Errorf("%w: org id is %d bytes, at most %d allowed", ErrInvalid, len(id), MaxOrgIDLen)
	}
	for _, c := range []byte(id) {
		if !isIDByte(c) {
			return fmt.Errorf("%w: org id %q: only letters, digits, '_', '-', '.' and ':' are allowed", ErrInvalid, string(id))
		}
	}
	return nil
}

func isIDByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '-' || c == '.' || c == ':'
}

// Org is a tenant: everything else stored belongs to exactly one.
type Org struct {
	ID OrgID
	// Name is the short site name users type to find their org ("acme"):
	// unique across orgs, a lowercase DNS label.
	Name string
	// DisplayName is what people see ("Acme Corporation").
	DisplayName string
	// Version counts changes: 1 after creation, +1 per update. An update
	// must carry the version it read (optimistic concurrency).
	Version int64
	// Created and Updated are the times of the audit entries that recorded
	// the creation and the latest change.
	Created time.Time
	Updated time.Time
}

// Validate checks the fields a caller supplies (ID, Name, DisplayName).
func (o Org) Validate() error {
	if err := o.ID.Validate(); err != nil {
		return err
	}
	if err := ValidateOrgName(o.Name); err != nil {
		return err
	}
	return validateText("org display name", o.DisplayName, MaxDisplayNameLen, true)
}

// ValidateOrgName reports whether name is a valid site name: 1–63 lowercase
// ASCII letters, digits and inner hyphens.
func ValidateOrgName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: org name is empty", ErrInvalid)
	}
	if len(name) > MaxOrgNameLen {
		return fmt.Errorf("%w: org name is %d bytes, at most %d allowed", ErrInvalid, len(name), MaxOrgNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' && i > 0 && i < len(name)-1
		if !ok {
			return fmt.Errorf("%w: org name %q: use lowercase letters, digits and inner hyphens", ErrInvalid, name)
		}
	}
	return nil
}

// validateText checks a human-readable field: valid UTF-8, no control
// characters, at most max runes, and non-empty when required.
func validateText(field, s string, max int, required bool) error {
	if s == "" {
		if required {
			return fmt.Errorf("%w: %s is empty", ErrInvalid, field)
		}
		return nil
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, field)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fmt.Errorf("%w: %s is %d characters, at most %d allowed", ErrInvalid, field, n, max)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return fmt.Errorf("%w: %s contains a control character", ErrInvalid, field)
	}
	return nil
}

// Audit actions for the entries passed to [OrgStore.CreateOrg] and
// [OrgStore.UpdateOrg]. The values are stored in audit rows and matched by
// queries, so they never change once released.
const (
	// ActionOrgCreate records an org created.
	ActionOrgCreate = "org.create"
	// ActionOrgUpdate records an org's name or display name changed.
	ActionOrgUpdate = "org.update"
)

// OrgStore stores orgs. Every method is safe for concurrent use.
type OrgStore interface {
	// CreateOrg stores a new org together with entry, the audit entry that
	// records its creation (entry.Org must be org.ID). It returns the org as
	// stored: Version 1, Created and Updated set to entry.Time. An ID or
	// Name already in use yields ErrAlreadyExists; a field that breaks
	// [Org.Validate] or [AuditEntry.Validate] yields ErrInvalid. On any
	// error nothing is stored.
	CreateOrg(ctx context.Context, org Org, entry AuditEntry) (Org, error)
	// Org returns the org with this ID, or ErrNotFound.
	Org(ctx context.Context, id OrgID) (Org, error)
	// OrgByName returns the org with this site name, or ErrNotFound.
	OrgByName(ctx context.Context, name string) (Org, error)
	// ListOrgs returns every org ordered by Name.
	ListOrgs(ctx context.Context) ([]Org, error)
	// UpdateOrg replaces Name and DisplayName of the org org.ID and appends
	// entry, in one transaction. org.Version must be the stored version,
	// else ErrConflict; an unknown org yields ErrNotFound and a name used by
	// another org ErrAlreadyExists. It returns the org as stored (Version
	// incremented, Updated set to entry.Time). On any error nothing changes.
	UpdateOrg(ctx context.Context, org Org, entry AuditEntry) (Org, error)
}
