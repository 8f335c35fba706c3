package policy

import (
	"context"

	"github.com/openomm/omm/storage"
)

// Store keeps policies. storage/memory, storage/sqlite and storage/postgres
// implement it; storage/storagetest pins the behaviour below down. Every
// method is safe for concurrent use, and a policy of another org is
// ErrNotFound, exactly as if it did not exist.
type Store interface {
	// CreatePolicy stores a new policy together with entry, the audit entry
	// that records it (entry.Org must be p.Org). It returns the policy as
	// stored: normalized (see [Policy.Normalize]), Version 1, Created and
	// Updated set to entry.Time. A policy that breaks [Policy.Validate] or
	// an entry that breaks storage.AuditEntry.Validate yields ErrInvalid;
	// an unknown org ErrNotFound; an ID or a priority already used in the
	// org ErrAlreadyExists (of two concurrent creations with one priority,
	// exactly one succeeds). On any error nothing is stored.
	CreatePolicy(ctx context.Context, p Policy, entry storage.AuditEntry) (Policy, error)
	// Policy returns the org's policy id, or ErrNotFound.
	Policy(ctx context.Context, org storage.OrgID, id ID) (Policy, error)
	// ListPolicies returns the org's policies ordered by priority (empty
	// for an unknown org). The built-in default is not stored.
	ListPolicies(ctx context.Context, org storage.OrgID) ([]Policy, error)
	// UpdatePolicy replaces every caller-supplied field of the policy p.ID
	// and appends entry, in one transaction. p.Version must be the stored
	// version, else ErrConflict (of concurrent updates from one version,
	// exactly one succeeds); an unknown policy yields ErrNotFound, a
	// priority used by another policy ErrAlreadyExists, a bad field
	// ErrInvalid. It returns the policy as stored (Version incremented,
	// Updated set to entry.Time). On any error nothing changes.
	UpdatePolicy(ctx context.Context, p Policy, entry storage.AuditEntry) (Policy, error)
	// DeletePolicy removes the org's policy id and appends entry, in one
	// transaction. version must be the stored version, else ErrConflict;
	// an unknown policy yields ErrNotFound. On any error nothing changes.
	DeletePolicy(ctx context.Context, org storage.OrgID, id ID, version int64, entry storage.AuditEntry) error
	// PolicyRevision returns a number that grows with every successful
	// create, update and delete of the org's policies (0 before the
	// first), so that a cache of the org's policies can tell cheaply that
	// it is stale, even when another process made the change.
	PolicyRevision(ctx context.Context, org storage.OrgID) (int64, error)
}
