package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/openomm/omm/events"

	"github.com/openomm/omm/storage"
)

// appendAudit inserts a validated entry inside the transaction, so that it
// commits with the change it records.
func (tx tx) appendAudit(ctx context.Context, e storage.AuditEntry) (storage.AuditEntry, error) {
	details, err := e.MarshalDetails()
	if err != nil {
		return e, fmt.Errorf("encode audit details: %w", err)
	}
	err = tx.queryRow(ctx,
		"INSERT INTO {audit_log} (org_id, time_us, actor, action, target, details) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
		e.Org, micros(e.Time), e.Actor, e.Action, e.Target, string(details)).Scan(&e.ID)
	if tx.s.foreignKey(err) {
		return e, fmt.Errorf("append audit entry: org %q: %w", e.Org, storage.ErrNotFound)
	}
	if err != nil {
		return e, tx.s.fail("append audit entry", err)
	}
	if ev, ok := events.FromAudit(e); ok {
		tx.emit(ev)
	}
	return e, nil
}

// audit appends e in the transaction, for the change it records.
func (tx tx) audit(ctx context.Context, e storage.AuditEntry) error {
	_, err := tx.appendAudit(ctx, e)
	return err
}

// AppendAudit implements storage.AuditLog.
func (s *Store) AppendAudit(ctx context.Context, e storage.AuditEntry) (storage.AuditEntry, error) {
	e, err := validEntry(e)
	if err != nil {
		return e, err
	}
	err = s.write(ctx, func(tx tx) error {
		e, err = tx.appendAudit(ctx, e)
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
	rows, err := s.query(ctx, `SELECT id, org_id, time_us, actor, action, target, details FROM {audit_log}
		WHERE org_id = ? AND id > ? ORDER BY id LIMIT ?`, org, q.After, q.Limit+1)
	entries, err := collect(rows, err, func(r rowScanner) (e storage.AuditEntry, err error) {
		var details []byte
		if err := r.Scan(&e.ID, &e.Org, us{&e.Time}, &e.Actor, &e.Action, &e.Target, &details); err != nil {
			return e, err
		}
		if err := json.Unmarshal(details, &e.Details); err != nil {
			return e, fmt.Errorf("audit entry %d: decode details: %w", e.ID, err)
		}
		return e, nil
	})
	if err != nil {
		return storage.AuditPage{}, s.fail("list audit", err)
	}
	var page storage.AuditPage // no entries: nil, as every backend returned before
	if len(entries) > 0 {
		page.Entries = entries
	}
	if len(entries) > q.Limit {
		page.Entries, page.Next = entries[:q.Limit], entries[q.Limit-1].ID
	}
	return page, nil
}
