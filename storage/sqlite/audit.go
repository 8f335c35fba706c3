package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
	sqlite3 "modernc.org/sqlite/lib"
)

// appendAudit inserts a validated entry inside tx, so that it commits with
// the change it records.
func appendAudit(ctx context.Context, tx *sql.Tx, e storage.AuditEntry) (storage.AuditEntry, error) {
	details, err := e.MarshalDetails()
	if err != nil {
		return e, fmt.Errorf("sqlite: encode audit details: %w", err)
	}
	err = tx.QueryRowContext(ctx,
		"INSERT INTO audit_log (org_id, time_us, actor, action, target, details) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
		e.Org, micros(e.Time), e.Actor, e.Action, e.Target, string(details)).Scan(&e.ID)
	if constraint(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
		return e, fmt.Errorf("append audit entry: org %q: %w", e.Org, storage.ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("sqlite: append audit entry: %w", err)
	}
	return e, nil
}

// AppendAudit implements storage.AuditLog.
func (s *Store) AppendAudit(ctx context.Context, e storage.AuditEntry) (storage.AuditEntry, error) {
	e, err := rules.Entry(e)
	if err != nil {
		return e, err
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
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
	rows, err := s.r.QueryContext(ctx,
		`SELECT id, org_id, time_us, actor, action, target, details FROM audit_log
		WHERE org_id = ? AND id > ? ORDER BY id LIMIT ?`, org, q.After, q.Limit+1)
	if err != nil {
		return storage.AuditPage{}, fmt.Errorf("sqlite: list audit: %w", err)
	}
	defer rows.Close()
	var page storage.AuditPage
	for rows.Next() {
		if len(page.Entries) == q.Limit {
			page.Next = page.Entries[q.Limit-1].ID
			break
		}
		var e storage.AuditEntry
		var us int64
		var details string
		if err := rows.Scan(&e.ID, &e.Org, &us, &e.Actor, &e.Action, &e.Target, &details); err != nil {
			return storage.AuditPage{}, fmt.Errorf("sqlite: list audit: %w", err)
		}
		e.Time = fromMicros(us)
		if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
			return storage.AuditPage{}, fmt.Errorf("sqlite: audit entry %d: decode details: %w", e.ID, err)
		}
		page.Entries = append(page.Entries, e)
	}
	if err := rows.Err(); err != nil {
		return storage.AuditPage{}, fmt.Errorf("sqlite: list audit: %w", err)
	}
	return page, nil
}
