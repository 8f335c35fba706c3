package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
)

const policyColumns = "org_id, id, name, description, priority, body, version, created_us, updated_us"

func scanPolicy(row rowScanner) (policy.Policy, error) {
	var p policy.Policy
	var body string
	var created, updated int64
	if err := row.Scan(&p.Org, &p.ID, &p.Name, &p.Description, &p.Priority, &body, &p.Version, &created, &updated); err != nil {
		return policy.Policy{}, err
	}
	if err := p.UnmarshalBody([]byte(body)); err != nil {
		return policy.Policy{}, fmt.Errorf("sqlite: policy %q: %w", p.ID, err)
	}
	p.Created, p.Updated = fromMicros(created), fromMicros(updated)
	return p, nil
}

// checkPolicy validates the caller-supplied part of a policy write and
// encodes its body.
func checkPolicy(p policy.Policy, e storage.AuditEntry) (policy.Policy, storage.AuditEntry, []byte, error) {
	if err := p.Validate(); err != nil {
		return p, e, nil, err
	}
	e, err := rules.ChangeEntry(p.Org, e)
	if err != nil {
		return p, e, nil, err
	}
	body, err := p.MarshalBody()
	if err != nil {
		return p, e, nil, fmt.Errorf("%w: %w", storage.ErrInvalid, err)
	}
	return p.Normalize(), e, body, nil
}

// checkPolicyPriority fails with ErrAlreadyExists when another policy of the org
// holds priority. Inside a write transaction on the single writer it cannot
// race; the unique index backs it up anyway.
func checkPolicyPriority(ctx context.Context, tx *sql.Tx, p policy.Policy) error {
	var other string
	err := tx.QueryRowContext(ctx, "SELECT name FROM policies WHERE org_id = ? AND priority = ? AND id <> ?",
		p.Org, p.Priority, p.ID).Scan(&other)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("sqlite: check policy priority: %w", err)
	}
	return fmt.Errorf("policy %q: priority %d is used by policy %q: %w", p.Name, p.Priority, other, storage.ErrAlreadyExists)
}

func bumpPolicyRevision(ctx context.Context, tx *sql.Tx, org storage.OrgID) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO policy_revisions (org_id, revision) VALUES (?, 1)
		ON CONFLICT (org_id) DO UPDATE SET revision = revision + 1`, org)
	if err != nil {
		return fmt.Errorf("sqlite: bump policy revision: %w", err)
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
	err = s.write(ctx, func(tx *sql.Tx) error {
		if err := checkPolicyPriority(ctx, tx, p); err != nil {
			return fmt.Errorf("create %w", err)
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO policies ("+policyColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			p.Org, p.ID, p.Name, p.Description, p.Priority, string(body), p.Version, micros(p.Created), micros(p.Updated))
		switch c := constraint(err); {
		case c == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("create policy: org %q: %w", p.Org, storage.ErrNotFound)
		case c != 0:
			return fmt.Errorf("create policy: id %q or priority %d: %w", p.ID, p.Priority, storage.ErrAlreadyExists)
		case err != nil:
			return fmt.Errorf("sqlite: create policy: %w", err)
		}
		if err := bumpPolicyRevision(ctx, tx, p.Org); err != nil {
			return err
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
	p, err := scanPolicy(s.r.QueryRowContext(ctx, "SELECT "+policyColumns+" FROM policies WHERE org_id = ? AND id = ?", org, id))
	if err != nil {
		return policy.Policy{}, notFound(err, "policy %q", id)
	}
	return p, nil
}

// ListPolicies implements policy.Store.
func (s *Store) ListPolicies(ctx context.Context, org storage.OrgID) ([]policy.Policy, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+policyColumns+" FROM policies WHERE org_id = ? ORDER BY priority", org)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list policies: %w", err)
	}
	defer rows.Close()
	ps := []policy.Policy{}
	for rows.Next() {
		p, err := scanPolicy(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list policies: %w", err)
		}
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list policies: %w", err)
	}
	return ps, nil
}

// storedPolicyVersion reads the version of the org's policy id inside tx.
func storedPolicyVersion(ctx context.Context, tx *sql.Tx, org storage.OrgID, id policy.ID, what string) (int64, error) {
	var v int64
	err := tx.QueryRowContext(ctx, "SELECT version FROM policies WHERE org_id = ? AND id = ?", org, id).Scan(&v)
	if err != nil {
		return 0, notFound(err, "%s policy %q", what, id)
	}
	return v, nil
}

// UpdatePolicy implements policy.Store.
func (s *Store) UpdatePolicy(ctx context.Context, p policy.Policy, e storage.AuditEntry) (policy.Policy, error) {
	p, e, body, err := checkPolicy(p, e)
	if err != nil {
		return policy.Policy{}, err
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		stored, err := scanPolicy(tx.QueryRowContext(ctx, "SELECT "+policyColumns+" FROM policies WHERE org_id = ? AND id = ?", p.Org, p.ID))
		if err != nil {
			return notFound(err, "update policy %q", p.ID)
		}
		if p.Version != stored.Version {
			return fmt.Errorf("update policy %q: read version %d, stored version %d: %w", p.ID, p.Version, stored.Version, storage.ErrConflict)
		}
		if err := checkPolicyPriority(ctx, tx, p); err != nil {
			return fmt.Errorf("update %w", err)
		}
		p.Version = stored.Version + 1
		p.Created, p.Updated = stored.Created, e.Time
		_, err = tx.ExecContext(ctx, `UPDATE policies SET name = ?, description = ?, priority = ?, body = ?, version = ?, updated_us = ?
			WHERE org_id = ? AND id = ?`,
			p.Name, p.Description, p.Priority, string(body), p.Version, micros(p.Updated), p.Org, p.ID)
		if constraint(err) != 0 {
			return fmt.Errorf("update policy %q: priority %d: %w", p.ID, p.Priority, storage.ErrAlreadyExists)
		}
		if err != nil {
			return fmt.Errorf("sqlite: update policy: %w", err)
		}
		if err := bumpPolicyRevision(ctx, tx, p.Org); err != nil {
			return err
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
	return s.write(ctx, func(tx *sql.Tx) error {
		stored, err := storedPolicyVersion(ctx, tx, org, id, "delete")
		if err != nil {
			return err
		}
		if version != stored {
			return fmt.Errorf("delete policy %q: read version %d, stored version %d: %w", id, version, stored, storage.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM policies WHERE org_id = ? AND id = ?", org, id); err != nil {
			return fmt.Errorf("sqlite: delete policy: %w", err)
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
	err := s.r.QueryRowContext(ctx, "SELECT revision FROM policy_revisions WHERE org_id = ?", org).Scan(&rev)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: policy revision: %w", err)
	}
	return rev, nil
}
