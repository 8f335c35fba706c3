package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

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

// ListAudit implements storage.AuditLog. Every filter is a condition of
// the query (never applied to rows read into memory), so a page costs the
// same whatever the log's size: the (org_id, id), (org_id, actor, id) and
// (org_id, target, id) indexes serve it in either order.
func (s *Store) ListAudit(ctx context.Context, org storage.OrgID, q storage.AuditQuery) (storage.AuditPage, error) {
	q, err := q.Normalize()
	if err != nil {
		return storage.AuditPage{}, err
	}
	where, args := auditWhere(org, q)
	order := "id"
	if q.Newest {
		order = "id DESC"
	}
	rows, err := s.query(ctx, `SELECT id, org_id, time_us, actor, action, target, details FROM {audit_log}
		WHERE `+where+` ORDER BY `+order+` LIMIT ?`, append(args, q.Limit+1)...)
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

// auditWhere is the condition of a normalized audit query and its
// arguments.
func auditWhere(org storage.OrgID, q storage.AuditQuery) (string, []any) {
	conds := []string{"org_id = ?"}
	args := []any{org}
	add := func(cond string, a ...any) {
		conds = append(conds, cond)
		args = append(args, a...)
	}
	if q.After > 0 {
		add("id > ?", q.After)
	}
	if q.Before > 0 {
		add("id < ?", q.Before)
	}
	if q.Actor != "" {
		add("actor = ?", q.Actor)
	}
	if q.Target != "" {
		add("target = ?", q.Target)
	}
	if q.Subject != "" {
		add("(actor = ? OR target = ?)", q.Subject, q.Subject)
	}
	switch {
	case q.ActionPrefix():
		// substr, not LIKE: '_' is a wildcard there and valid in actions.
		add("substr(action, 1, ?) = ?", len(q.Action), q.Action)
	case q.Action != "":
		add("action = ?", q.Action)
	}
	if !q.Since.IsZero() {
		add("time_us >= ?", micros(q.Since))
	}
	if !q.Until.IsZero() {
		add("time_us < ?", micros(q.Until))
	}
	return strings.Join(conds, " AND "), args
}
