package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
)

// appendAudit inserts a validated entry inside tx, so that it commits with
// the change it records.
func appendAudit(ctx context.Context, tx pgx.Tx, e storage.AuditEntry) (storage.AuditEntry, error) {
	err := tx.QueryRow(ctx,
		"INSERT INTO audit_log (org_id, time, actor, action, target, details) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
		e.Org, e.Time, e.Actor, e.Action, e.Target, e.Details).Scan(&e.ID)
	if violation(err, foreignKeyViolation) != nil {
		return e, fmt.Errorf("append audit entry: org %q: %w", e.Org, storage.ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("postgres: append audit entry: %w", err)
	}
	return e, nil
}

// AppendAudit implements storage.AuditLog.
func (s *Store) AppendAudit(ctx context.Context, e storage.AuditEntry) (storage.AuditEntry, error) {
	e, err := rules.Entry(e)
	if err != nil {
		return e, err
	}
	err = s.write(ctx, func(tx pgx.Tx) error {
		e, err = appendAudit(ctx, tx, e)
		return err
	})
	return e, err
}

// ListAudit implements storage.AuditLog.
func (s *Store) ListAudit(ctx context.Context, org storage.OrgID, q storage.AuditQuery) (storage.AuditPage, error) {
	q, err := q.Normalize()
	if err != nil {
		return storage.AuditPage{}, err
	}
	rows, err := s.pool.Query(ctx,
		`SELECT id, org_id, time, actor, action, target, details FROM audit_log
		WHERE org_id = $1 AND id > $2 ORDER BY id LIMIT $3`, org, q.After, q.Limit+1)
	if err != nil {
		return storage.AuditPage{}, fmt.Errorf("postgres: list audit: %w", err)
	}
	entries, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.AuditEntry, error) {
		var e storage.AuditEntry
		err := row.Scan(&e.ID, &e.Org, &e.Time, &e.Actor, &e.Action, &e.Target, &e.Details)
		e.Time = e.Time.UTC()
		if e.Details == nil {
			e.Details = map[string]string{}
		}
		return e, err
	})
	if err != nil {
		return storage.AuditPage{}, fmt.Errorf("postgres: list audit: %w", err)
	}
	var page storage.AuditPage
	if len(entries) > q.Limit {
		entries = entries[:q.Limit]
		page.Next = entries[q.Limit-1].ID
	}
	page.Entries = entries
	return page, nil
}
