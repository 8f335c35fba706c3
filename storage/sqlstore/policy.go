package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

const policyColumns = "org_id, id, name, description, priority, body, version, created_us, updated_us"

func scanPolicy(row rowScanner) (policy.Policy, error) {
	var p policy.Policy
	var body string
	if err := row.Scan(&p.Org, &p.ID, &p.Name, &p.Description, &p.Priority, &body, &p.Version, us{&p.Created}, us{&p.Updated}); err != nil {
		return policy.Policy{}, err
	}
	if err := p.UnmarshalBody([]byte(body)); err != nil {
		return policy.Policy{}, fmt.Errorf("sqlstore: policy %q: %w", p.ID, err)
	}
	return p, nil
}

// checkPolicy validates the caller-supplied part of a policy write and
// encodes its body.
func checkPolicy(p policy.Policy, e storage.AuditEntry) (policy.Policy, storage.AuditEntry, []byte, error) {
	if err := p.Validate(); err != nil {
		return p, e, nil, err
	}
	e, err := changeEntry(p.Org, e)
	if err != nil {
		return p, e, nil, err
	}
	body, err := p.MarshalBody()
	if err != nil {
		return p, e, nil, fmt.Errorf("%w: %w", storage.ErrInvalid, err)
	}
	return p.Normalize(), e, body, nil
}

// checkPolicyPriority fails with ErrAlreadyExists when another policy of
// the org holds priority. Called after bumpPolicyRevision, whose row lock
// orders the org's policy changes, it sees every committed competitor; the
// unique index backs it up anyway.
func (tx tx) checkPolicyPriority(ctx context.Context, p policy.Policy) error {
	var other string
	err := tx.queryRow(ctx, "SELECT name FROM {policies} WHERE org_id = ? AND priority = ? AND id <> ?",
		p.Org, p.Priority, p.ID).Scan(&other)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("sqlstore: check policy priority: %w", err)
	}
	return fmt.Errorf("policy %q: priority %d is used by policy %q: %w", p.Name, p.Priority, other, storage.ErrAlreadyExists)
}

// bumpPolicyRevision counts a change and requests its re-application to
// the org's devices (policy.ReapplyQueue), at at. The row lock it takes
// also orders concurrent changes to one org's policies.
func (tx tx) bumpPolicyRevision(ctx context.Context, org storage.OrgID, at time.Time) error {
	_, err := tx.exec(ctx, `INSERT INTO {policy_revisions} AS r (org_id, revision) VALUES (?, 1)
		ON CONFLICT (org_id) DO UPDATE SET revision = r.revision + 1`, org)
	if tx.s.foreignKey(err) {
		return fmt.Errorf("policy change: org %q: %w", org, storage.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: bump policy revision: %w", err)
	}
	return tx.requestReapply(ctx, org, "", at)
}

// CreatePolicy implements policy.Store.
func (s *Store) CreatePolicy(ctx context.Context, p policy.Policy, e storage.AuditEntry) (policy.Policy, error) {
	p, e, body, err := checkPolicy(p, e)
	if err != nil {
		return policy.Policy{}, err
	}
	p.Version = 1
	p.Created, p.Updated = e.Time, e.Time
	err = s.write(ctx, func(tx tx) error {
		if err := tx.bumpPolicyRevision(ctx, p.Org, e.Time); err != nil {
			return err
		}
		if err := tx.checkPolicyPriority(ctx, p); err != nil {
			return fmt.Errorf("create %w", err)
		}
		_, err := tx.exec(ctx, "INSERT INTO {policies} ("+policyColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			p.Org, p.ID, p.Name, p.Description, p.Priority, string(body), p.Version, micros(p.Created), micros(p.Updated))
		if err := s.inserted(err, "create policy", p.Org, fmt.Sprintf("id %q or priority %d", p.ID, p.Priority)); err != nil {
			return err
		}
		return tx.audit(ctx, e)
	})
	return done(p, err)
}

// Policy implements policy.Store.
func (s *Store) Policy(ctx context.Context, org storage.OrgID, id policy.ID) (policy.Policy, error) {
	return get(s, scanPolicy, s.queryRow(ctx, "SELECT "+policyColumns+" FROM {policies} WHERE org_id = ? AND id = ?", org, id), "policy %q", id)
}

// ListPolicies implements policy.Store.
func (s *Store) ListPolicies(ctx context.Context, org storage.OrgID) ([]policy.Policy, error) {
	rows, err := s.query(ctx, "SELECT "+policyColumns+" FROM {policies} WHERE org_id = ? ORDER BY priority", org)
	ps, err := collect(rows, err, scanPolicy)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list policies: %w", err)
	}
	return ps, nil
}

// storedPolicyVersion reads the version of the org's policy id inside tx.
func (tx tx) storedPolicyVersion(ctx context.Context, org storage.OrgID, id policy.ID, what string) (int64, error) {
	var v int64
	err := tx.queryRow(ctx, "SELECT version FROM {policies} WHERE org_id = ? AND id = ? {FOR UPDATE}", org, id).Scan(&v)
	if err != nil {
		return 0, tx.s.notFound(err, "%s policy %q", what, id)
	}
	return v, nil
}

// UpdatePolicy implements policy.Store.
func (s *Store) UpdatePolicy(ctx context.Context, p policy.Policy, e storage.AuditEntry) (policy.Policy, error) {
	p, e, body, err := checkPolicy(p, e)
	if err != nil {
		return policy.Policy{}, err
	}
	err = s.write(ctx, func(tx tx) error {
		if err := tx.bumpPolicyRevision(ctx, p.Org, e.Time); err != nil {
			return err
		}
		stored, err := scanPolicy(tx.queryRow(ctx, "SELECT "+policyColumns+" FROM {policies} WHERE org_id = ? AND id = ? {FOR UPDATE}", p.Org, p.ID))
		if err != nil {
			return s.notFound(err, "update policy %q", p.ID)
		}
		if p.Version != stored.Version {
			return fmt.Errorf("update policy %q: read version %d, stored version %d: %w", p.ID, p.Version, stored.Version, storage.ErrConflict)
		}
		if err := tx.checkPolicyPriority(ctx, p); err != nil {
			return fmt.Errorf("update %w", err)
		}
		p.Version = stored.Version + 1
		p.Created, p.Updated = stored.Created, e.Time
		_, err = tx.exec(ctx, `UPDATE {policies} SET name = ?, description = ?, priority = ?, body = ?, version = ?, updated_us = ?
			WHERE org_id = ? AND id = ?`,
			p.Name, p.Description, p.Priority, string(body), p.Version, micros(p.Updated), p.Org, p.ID)
		if s.unique(err) {
			return fmt.Errorf("update policy %q: priority %d: %w", p.ID, p.Priority, storage.ErrAlreadyExists)
		}
		if err != nil {
			return fmt.Errorf("sqlstore: update policy: %w", err)
		}
		return tx.audit(ctx, e)
	})
	return done(p, err)
}

// DeletePolicy implements policy.Store.
func (s *Store) DeletePolicy(ctx context.Context, org storage.OrgID, id policy.ID, version int64, e storage.AuditEntry) error {
	e, err := changeEntry(org, e)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx tx) error {
		if err := tx.bumpPolicyRevision(ctx, org, e.Time); err != nil {
			return err
		}
		stored, err := tx.storedPolicyVersion(ctx, org, id, "delete")
		if err != nil {
			return err
		}
		if version != stored {
			return fmt.Errorf("delete policy %q: read version %d, stored version %d: %w", id, version, stored, storage.ErrConflict)
		}
		if _, err := tx.exec(ctx, "DELETE FROM {policies} WHERE org_id = ? AND id = ?", org, id); err != nil {
			return fmt.Errorf("sqlstore: delete policy: %w", err)
		}
		return tx.audit(ctx, e)
	})
}

// PolicyRevision implements policy.Store.
func (s *Store) PolicyRevision(ctx context.Context, org storage.OrgID) (int64, error) {
	var rev int64
	err := s.queryRow(ctx, "SELECT revision FROM {policy_revisions} WHERE org_id = ?", org).Scan(&rev)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sqlstore: policy revision: %w", err)
	}
	return rev, nil
}
