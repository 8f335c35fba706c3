package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/openomm/omm/events"
	"slices"

	"github.com/openomm/omm/storage"
)

// Audit entry IDs count per org (migration 14): an entry's ID is its org's
// previous ID plus one, whatever other orgs write, so that an org's IDs
// reveal nothing of other orgs' activity. A transaction's entries are
// numbered and inserted when it is about to commit: the org's counter row
// is locked (on PostgreSQL) only from then until the commit, so that
// concurrent writers of an org queue for a moment instead of for their
// whole transaction, and an org's entries become visible in ID order.

// pendingAudit is a write transaction's audit entries, in append order.
type pendingAudit struct {
	entries []*storage.AuditEntry
	orgs    map[storage.OrgID]bool // orgs checked to exist
}

// appendAudit adds a validated entry to the transaction, so that it
// commits with the change it records. The entry's org must exist (else
// ErrNotFound, at once, as a foreign key would say); its ID is assigned
// when the transaction commits, in the entry the result points to.
func (tx tx) appendAudit(ctx context.Context, e storage.AuditEntry) (*storage.AuditEntry, error) {
	p := tx.pending
	if !p.orgs[e.Org] {
		ok, err := tx.exists(ctx, "SELECT 1 FROM {orgs} WHERE id = ?", e.Org)
		if err != nil {
			return nil, tx.s.fail("append audit entry", err)
		}
		if !ok {
			return nil, fmt.Errorf("append audit entry: org %q: %w", e.Org, storage.ErrNotFound)
		}
		if p.orgs == nil {
			p.orgs = map[storage.OrgID]bool{}
		}
		p.orgs[e.Org] = true
	}
	e.ID = 0
	p.entries = append(p.entries, &e)
	if ev, ok := events.FromAudit(e); ok {
		tx.emit(ev)
	}
	return &e, nil
}

// audit appends e in the transaction, for the change it records.
func (tx tx) audit(ctx context.Context, e storage.AuditEntry) error {
	_, err := tx.appendAudit(ctx, e)
	return err
}

// flushAudit numbers the transaction's entries, per org in append order,
// and inserts them. Orgs are numbered in a fixed order, so that two
// transactions writing to the same orgs cannot deadlock on the counters.
func (tx tx) flushAudit(ctx context.Context) error {
	p := tx.pending
	if len(p.entries) == 0 {
		return nil
	}
	counts := map[storage.OrgID]int64{}
	for _, e := range p.entries {
		counts[e.Org]++
	}
	orgs := make([]storage.OrgID, 0, len(counts))
	for o := range counts {
		orgs = append(orgs, o)
	}
	slices.Sort(orgs)
	next := make(map[storage.OrgID]int64, len(orgs))
	for _, o := range orgs {
		var last int64
		err := tx.queryRow(ctx, `INSERT INTO {audit_seq} AS a (org_id, last) VALUES (?, ?)
			ON CONFLICT (org_id) DO UPDATE SET last = a.last + excluded.last RETURNING last`, o, counts[o]).Scan(&last)
		if tx.s.foreignKey(err) {
			return fmt.Errorf("append audit entry: org %q: %w", o, storage.ErrNotFound)
		}
		if err != nil {
			return tx.s.fail("number audit entries", err)
		}
		next[o] = last - counts[o] + 1
	}
	for _, e := range p.entries {
		details, err := e.MarshalDetails()
		if err != nil {
			return fmt.Errorf("encode audit details: %w", err)
		}
		e.ID = next[e.Org]
		next[e.Org]++
		_, err = tx.exec(ctx, "INSERT INTO {audit_log} (org_id, seq, time_us, actor, action, target, details) VALUES (?, ?, ?, ?, ?, ?, ?)",
			e.Org, e.ID, micros(e.Time), e.Actor, e.Action, e.Target, string(details))
		if tx.s.foreignKey(err) {
			return fmt.Errorf("append audit entry: org %q: %w", e.Org, storage.ErrNotFound)
		}
		if err != nil {
			return tx.s.fail("append audit entry", err)
		}
	}
	p.entries = nil
	return nil
}

// AppendAudit implements storage.AuditLog.
func (s *Store) AppendAudit(ctx context.Context, e storage.AuditEntry) (storage.AuditEntry, error) {
	e, err := validEntry(e)
	if err != nil {
		return e, err
	}
	var stored *storage.AuditEntry
	err = s.write(ctx, func(tx tx) error {
		stored, err = tx.appendAudit(ctx, e)
		return err
	})
	if err != nil {
		return e, err
	}
	return *stored, nil
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
	order := "seq"
	if q.Newest {
		order = "seq DESC"
	}
	rows, err := s.query(ctx, `SELECT seq, org_id, time_us, actor, action, target, details FROM {audit_log}
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
		add("seq > ?", q.After)
	}
	if q.Before > 0 {
		add("seq < ?", q.Before)
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
