package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/events"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

const queueColumns = `q.id, q.org_id, q.device, q.uuid, c.request_type, c.body, q.status, q.deliveries, q.detail, c.queued_us, q.updated_us
	FROM {enroll_queue} q JOIN {enroll_commands} c ON c.org_id = q.org_id AND c.uuid = q.uuid`

// The queries for a device's open commands read the index of open
// commands (SQLite would otherwise plan on the index of all of a device's
// commands and walk its answered history): abandoning them (status,
// detail, time, org, device), whether it has one (org, device, skip
// NotNow), and its next after a queue id (org, device, after, skip
// NotNow). Binding's probe (bindingQuery) reads it too.
const (
	// clearQuery abandons a device's open commands.
	clearQuery = `UPDATE {enroll_queue} {INDEXED BY enroll_queue_open} SET status = ?, detail = ?, updated_us = ?
		WHERE org_id = ? AND device = ? AND status IN ('Pending', 'NotNow')`
	openProbeQuery = `SELECT EXISTS (SELECT 1 FROM {enroll_queue} {INDEXED BY enroll_queue_open}
		WHERE org_id = ? AND device = ? AND status IN ('Pending', 'NotNow') AND (NOT ? OR status = 'Pending'))`
	nextQuery = `SELECT q.id, q.org_id, q.device, q.uuid, c.request_type, c.body, q.status, q.deliveries, q.detail, c.queued_us, q.updated_us
		FROM {enroll_queue} q {INDEXED BY enroll_queue_open} JOIN {enroll_commands} c ON c.org_id = q.org_id AND c.uuid = q.uuid
		WHERE q.org_id = ? AND q.device = ? AND q.status IN ('Pending', 'NotNow') AND q.id > ?
		AND (NOT ? OR q.status = 'Pending') ORDER BY q.id LIMIT 1 {FOR UPDATE OF q}`
)

func scanQueued(row rowScanner) (int64, enroll.QueuedCommand, error) {
	var q enroll.QueuedCommand
	var id int64
	err := row.Scan(&id, &q.Org, &q.Device, &q.UUID, &q.RequestType, &q.Body, &q.Status, &q.Deliveries, &q.Detail, us{&q.Queued}, us{&q.Updated})
	return id, q, err
}

// EnqueueCommand implements enroll.CommandQueue.
func (s *Store) EnqueueCommand(ctx context.Context, org storage.OrgID, devices []string, cmd enroll.Command, e storage.AuditEntry) error {
	if err := cmd.Validate(); err != nil {
		return err
	}
	if err := enroll.ValidateDevices(devices); err != nil {
		return err
	}
	e, err := changeEntry(org, e)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx tx) error { return tx.enqueue(ctx, org, devices, cmd, e) })
}

// NextCommand implements enroll.CommandQueue.
func (s *Store) NextCommand(ctx context.Context, org storage.OrgID, device string, opt enroll.NextOptions) (enroll.QueuedCommand, error) {
	opt = opt.Normalize()
	// Most check-ins find nothing queued: answer those from a read
	// connection, without queueing behind the single writer. A command
	// queued after the probe waits for the next check-in, as it would had
	// it been queued a moment later.
	var open bool
	if err := s.queryRow(ctx, openProbeQuery, org, device, opt.SkipNotNow).Scan(&open); err != nil {
		return enroll.QueuedCommand{}, fmt.Errorf("sqlstore: next command for %q: %w", device, err)
	}
	if !open {
		return enroll.QueuedCommand{}, fmt.Errorf("next command for %q: %w", device, storage.ErrNotFound)
	}
	var q enroll.QueuedCommand
	found := false
	err := s.write(ctx, func(tx tx) error {
		var err error
		q, found, err = s.nextIn(ctx, tx, org, device, opt)
		return err
	})
	if err == nil && !found {
		err = fmt.Errorf("next command for %q: %w", device, storage.ErrNotFound)
	}
	return q, err
}

// nextIn is NextCommand's work in transaction tx (opt normalized): the
// device's oldest open command, its delivery counted, and whether there
// was one; the commands abandoned on the way are committed with tx.
func (s *Store) nextIn(ctx context.Context, tx tx, org storage.OrgID, device string, opt enroll.NextOptions) (enroll.QueuedCommand, bool, error) {
	after := int64(0)
	for {
		id, next, err := scanQueued(tx.queryRow(ctx, nextQuery, org, device, after, opt.SkipNotNow))
		if errors.Is(err, sql.ErrNoRows) {
			return enroll.QueuedCommand{}, false, nil
		}
		if err != nil {
			return enroll.QueuedCommand{}, false, s.fail("next command", err)
		}
		after = id
		if why := opt.AbandonReason(next); why != "" {
			if _, err := tx.exec(ctx, "UPDATE {enroll_queue} SET status = ?, detail = ?, updated_us = ? WHERE id = ?",
				enroll.StatusAbandoned, why, micros(opt.Now), id); err != nil {
				return enroll.QueuedCommand{}, false, fmt.Errorf("sqlstore: abandon command: %w", err)
			}
			tx.emit(events.Expired(org, device, next.UUID, next.RequestType, why, opt.Now))
			continue
		}
		next.Deliveries++
		next.Updated = opt.Now
		if _, err := tx.exec(ctx, "UPDATE {enroll_queue} SET deliveries = ?, updated_us = ? WHERE id = ?",
			next.Deliveries, micros(opt.Now), id); err != nil {
			return enroll.QueuedCommand{}, false, fmt.Errorf("sqlstore: count delivery: %w", err)
		}
		return next, true, nil
	}
}

// RecordOutcome implements enroll.CommandQueue.
func (s *Store) RecordOutcome(ctx context.Context, org storage.OrgID, device string, o enroll.Outcome) (enroll.QueuedCommand, bool, error) {
	if err := o.Validate(); err != nil {
		return enroll.QueuedCommand{}, false, err
	}
	var q enroll.QueuedCommand
	recorded := false
	err := s.write(ctx, func(tx tx) error {
		var err error
		q, recorded, err = s.recordIn(ctx, tx, org, device, o)
		return err
	})
	if err != nil {
		return enroll.QueuedCommand{}, false, err
	}
	return q, recorded, nil
}

// recordIn is RecordOutcome's work in transaction tx (o valid).
func (s *Store) recordIn(ctx context.Context, tx tx, org storage.OrgID, device string, o enroll.Outcome) (enroll.QueuedCommand, bool, error) {
	id, q, err := scanQueued(tx.queryRow(ctx, "SELECT "+queueColumns+" WHERE q.org_id = ? AND q.device = ? AND q.uuid = ? {FOR UPDATE OF q}",
		org, device, o.UUID))
	if err != nil {
		return enroll.QueuedCommand{}, false, s.notFound(err, "command %s for %q", o.UUID, device)
	}
	if !q.Status.Open() {
		return q, false, nil // a replayed answer
	}
	q.Status, q.Detail, q.Updated = o.Status, o.Detail, storage.Normalize(o.Time)
	if _, err := tx.exec(ctx, "UPDATE {enroll_queue} SET status = ?, detail = ?, updated_us = ? WHERE id = ?",
		q.Status, q.Detail, micros(q.Updated), id); err != nil {
		return q, false, fmt.Errorf("sqlstore: record outcome: %w", err)
	}
	tx.emit(events.ForOutcome(org, device, q.UUID, q.RequestType, string(q.Status), q.Detail, q.Updated)...)
	return q, true, nil
}

// RecordOutcomeNext implements enroll.AnswerQueue.
func (s *Store) RecordOutcomeNext(ctx context.Context, org storage.OrgID, device string, o enroll.Outcome, opt enroll.NextOptions,
	hold func(requestType string) bool) (enroll.Answer, error) {
	return s.recordNext(ctx, org, device, o, opt, hold, nil)
}

// RecordOutcomeInventory implements enroll.InventoryAnswerQueue.
func (s *Store) RecordOutcomeInventory(ctx context.Context, org storage.OrgID, device string, o enroll.Outcome, opt enroll.NextOptions,
	hold func(requestType string) bool, inv enroll.InventoryAnswer) (enroll.Answer, error) {
	u, err := inv.Update.Normalize()
	if err != nil {
		return enroll.Answer{}, err
	}
	inv.Update = u
	return s.recordNext(ctx, org, device, o, opt, hold, &inv)
}

// recordNext records o and, unless hold says otherwise, hands out the next
// command, in one transaction; with inv, the inventory update too when the
// answered command is of its type (inv.Update normalized).
func (s *Store) recordNext(ctx context.Context, org storage.OrgID, device string, o enroll.Outcome, opt enroll.NextOptions,
	hold func(requestType string) bool, inv *enroll.InventoryAnswer) (enroll.Answer, error) {
	if err := o.Validate(); err != nil {
		return enroll.Answer{}, err
	}
	opt = opt.Normalize()
	var a enroll.Answer
	err := s.write(ctx, func(tx tx) error {
		var err error
		a = enroll.Answer{}
		var d inventory.Device
		if inv != nil {
			// The device row first, then the queue's, as a device action
			// locks them: two transactions cannot wait for each other.
			if d, err = tx.lockDevice(ctx, org, device, "save inventory of device %q"); err != nil {
				return err
			}
		}
		if a.Command, a.Recorded, err = s.recordIn(ctx, tx, org, device, o); err != nil {
			return err
		}
		if inv != nil && a.Recorded && a.Command.RequestType == inv.RequestType {
			if a.Device, err = tx.saveInventory(ctx, d, inv.Version, inv.Update); err != nil {
				return err
			}
			a.Inventoried = true
		}
		if a.Recorded && hold != nil && hold(a.Command.RequestType) {
			return nil
		}
		a.Looked = true
		a.Next, a.Found, err = s.nextIn(ctx, tx, org, device, opt)
		return err
	})
	if err != nil {
		return enroll.Answer{}, err
	}
	return a, nil
}

// ClearQueue implements enroll.CommandQueue.
func (s *Store) ClearQueue(ctx context.Context, org storage.OrgID, device string, e storage.AuditEntry) (int, error) {
	e, err := changeEntry(org, e)
	if err != nil {
		return 0, err
	}
	var n int64
	err = s.write(ctx, func(tx tx) error {
		n, err = tx.clearQueue(ctx, org, device, e)
		return err
	})
	return int(n), err
}

// clearQueue abandons the device's open commands with entry inside tx, as
// ClearQueue does, and returns how many.
func (tx tx) clearQueue(ctx context.Context, org storage.OrgID, device string, e storage.AuditEntry) (int64, error) {
	if _, err := tx.appendAudit(ctx, e); err != nil {
		return 0, err
	}
	n, err := tx.affected(ctx, clearQuery, enroll.StatusAbandoned, enroll.ClearedDetail, micros(e.Time), org, device)
	if err != nil {
		return 0, tx.s.fail("clear queue", err)
	}
	return n, nil
}

// Commands implements enroll.CommandQueue.
func (s *Store) Commands(ctx context.Context, org storage.OrgID, device string, limit int) ([]enroll.QueuedCommand, error) {
	limit, err := enroll.ListLimit(limit)
	if err != nil {
		return nil, err
	}
	rows, err := s.query(ctx, "SELECT "+queueColumns+" WHERE q.org_id = ? AND q.device = ? ORDER BY q.id DESC LIMIT ?",
		org, device, limit)
	return list(s, "list commands", rows, err, func(r rowScanner) (enroll.QueuedCommand, error) {
		_, q, err := scanQueued(r)
		return q, err
	})
}
