package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
)

const policyColumns = "org_id, id, name, description, priority, body, version, created, updated"

func scanPolicy(row pgx.Row) (policy.Policy, error) {
	var p policy.Policy
	var body []byte
	if err := row.Scan(&p.Org, &p.ID, &p.Name, &p.Description, &p.Priority, &body, &p.Version, &p.Created, &p.Updated); err != nil {
		return policy.Policy{}, err
	}
	if err := p.UnmarshalBody(body); err != nil {
		return policy.Policy{}, fmt.Errorf("postgres: policy %q: %w", p.ID, err)
	}
	p.Created, p.Updated = p.Created.UTC(), p.Updated.UTC()
	return p, nil
}

// checkPolicy validates the caller-supplied part of a policy write and
// encodes its body.
func checkPolicy(p policy.Policy, e storage.AuditEntry) (policy.Policy, storage.AuditEntry, string, error) {
	if err := p.Validate(); err != nil {
		return p, e, "", err
	}
	e, err := rules.ChangeEntry(p.Org, e)
	if err != nil {
		return p, e, "", err
	}
	body, err := p.MarshalBody()
	if err != nil {
		return p, e, "", fmt.Errorf("%w: %w", storage.ErrInvalid, err)
	}
	return p.Normalize(), e, string(body), nil
}

// checkPolicyPriority fails with ErrAlreadyExists when another policy of
// the org holds priority, naming it. Concurrent writers can both pass it;
// the unique constraint then refuses the second (see priorityTaken).
func checkPolicyPriority(ctx context.Context, tx pgx.Tx, p policy.Policy) error {
	var other string
	err := tx.QueryRow(ctx, "SELECT name FROM policies WHERE org_id = $1 AND priority = $2 AND id <> $3",
		p.Org, p.Priority, p.ID).Scan(&other)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("postgres: check policy priority: %w", err)
	}
	return fmt.Errorf("policy %q: priority %d is used by policy %q: %w", p.Name, p.Priority, other, storage.ErrAlreadyExists)
}

// bumpPolicyRevision counts a change. The row lock it takes also orders
// concurrent changes to one org's policies.
func bumpPolicyRevision(ctx context.Context, tx pgx.Tx, org storage.OrgID) error {
	_, err := tx.Exec(ctx, `INSERT INTO policy_revisions (org_id, revision) VALUES ($1, 1)
		ON CONFLICT (org_id) DO UPDATE SET revision = policy_revisions.revision + 1`, org)
	if violation(err, foreignKeyViolation) != nil {
		return fmt.Errorf("policy change: org %q: %w", org, storage.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: bump policy revision: %w", err)
	}
	return nil
}

// CreatePolicy implements policy.Store.
func (s *Store) CreatePolicy(ctx context.Context, p policy.Policy, e storage.AuditEntry) (policy.Policy, error) {
	p, e, body, err := checkPolicy(p, e)
	if err != nil {
		return policy.Policy{}, err
	}
	p.Version = 1
	p.Created, p.Updated = e.Time, e.Time
	err = s.write(ctx, func(tx pgx.Tx) error {
		// Bumping first serializes creations in one org, so the priority
		// check below sees every committed competitor.
		if err := bumpPolicyRevision(ctx, tx, p.Org); err != nil {
			return err
		}
		if err := checkPolicyPriority(ctx, tx, p); err != nil {
			return fmt.Errorf("create %w", err)
		}
		_, err := tx.Exec(ctx, "INSERT INTO policies ("+policyColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
			p.Org, p.ID, p.Name, p.Description, p.Priority, body, p.Version, p.Created, p.Updated)
		if pe := violation(err, uniqueViolation); pe != nil {
			if pe.ConstraintName == "policies_priority_key" {
				return fmt.Errorf("create policy %q: priority %d: %w", p.Name, p.Priority, storage.ErrAlreadyExists)
			}
			return fmt.Errorf("create policy: id %q: %w", p.ID, storage.ErrAlreadyExists)
		}
		if err != nil {
			return fmt.Errorf("postgres: create policy: %w", err)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return policy.Policy{}, err
	}
	return p, nil
}

// Policy implements policy.Store.
func (s *Store) Policy(ctx context.Context, org storage.OrgID, id policy.ID) (policy.Policy, error) {
	p, err := scanPolicy(s.pool.QueryRow(ctx, "SELECT "+policyColumns+" FROM policies WHERE org_id = $1 AND id = $2", org, id))
	if err != nil {
		return policy.Policy{}, notFound(err, "policy %q", id)
	}
	return p, nil
}

// ListPolicies implements policy.Store.
func (s *Store) ListPolicies(ctx context.Context, org storage.OrgID) ([]policy.Policy, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+policyColumns+" FROM policies WHERE org_id = $1 ORDER BY priority", org)
	if err != nil {
		return nil, fmt.Errorf("postgres: list policies: %w", err)
	}
	ps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (policy.Policy, error) { return scanPolicy(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list policies: %w", err)
	}
	if ps == nil {
		ps = []policy.Policy{}
	}
	return ps, nil
}

// UpdatePolicy implements policy.Store.
func (s *Store) UpdatePolicy(ctx context.Context, p policy.Policy, e storage.AuditEntry) (policy.Policy, error) {
	p, e, body, err := checkPolicy(p, e)
	if err != nil {
		return policy.Policy{}, err
	}
	err = s.write(ctx, func(tx pgx.Tx) error {
		stored, err := scanPolicy(tx.QueryRow(ctx, "SELECT "+policyColumns+" FROM policies WHERE org_id = $1 AND id = $2 FOR UPDATE", p.Org, p.ID))
		if err != nil {
			return notFound(err, "update policy %q", p.ID)
		}
		if p.Version != stored.Version {
			return fmt.Errorf("update policy %q: read version %d, stored version %d: %w", p.ID, p.Version, stored.Version, storage.ErrConflict)
		}
		if err := bumpPolicyRevision(ctx, tx, p.Org); err != nil {
			return err
		}
		if err := checkPolicyPriority(ctx, tx, p); err != nil {
			return fmt.Errorf("update %w", err)
		}
		p.Version = stored.Version + 1
		p.Created, p.Updated = stored.Created, e.Time
		_, err = tx.Exec(ctx, `UPDATE policies SET name = $1, description = $2, priority = $3, body = $4, version = $5, updated = $6
			WHERE org_id = $7 AND id = $8`,
			p.Name, p.Description, p.Priority, body, p.Version, p.Updated, p.Org, p.ID)
		if violation(err, uniqueViolation) != nil {
			return fmt.Errorf("update policy %q: priority %d: %w", p.ID, p.Priority, storage.ErrAlreadyExists)
		}
		if err != nil {
			return fmt.Errorf("postgres: update policy: %w", err)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return policy.Policy{}, err
	}
	return p, nil
}

// DeletePolicy implements policy.Store.
func (s *Store) DeletePolicy(ctx context.Context, org storage.OrgID, id policy.ID, version int64, e storage.AuditEntry) error {
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx pgx.Tx) error {
		var stored int64
		err := tx.QueryRow(ctx, "SELECT version FROM policies WHERE org_id = $1 AND id = $2 FOR UPDATE", org, id).Scan(&stored)
		if err != nil {
			return notFound(err, "delete policy %q", id)
		}
		if version != stored {
			return fmt.Errorf("delete policy %q: read version %d, stored version %d: %w", id, version, stored, storage.ErrConflict)
		}
		if _, err := tx.Exec(ctx, "DELETE FROM policies WHERE org_id = $1 AND id = $2", org, id); err != nil {
			return fmt.Errorf("postgres: delete policy: %w", err)
		}
		if err := bumpPolicyRevision(ctx, tx, org); err != nil {
			return err
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
}

// PolicyRevision implements policy.Store.
func (s *Store) PolicyRevision(ctx context.Context, org storage.OrgID) (int64, error) {
	var rev int64
	err := s.pool.QueryRow(ctx, "SELECT revision FROM policy_revisions WHERE org_id = $1", org).Scan(&rev)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: policy revision: %w", err)
	}
	return rev, nil
}
