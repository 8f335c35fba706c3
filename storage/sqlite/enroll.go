package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
)

const queueColumns = `q.id, q.org_id, q.device, q.uuid, c.request_type, c.body, q.status, q.deliveries, q.detail, c.queued_us, q.updated_us
	FROM enroll_queue q JOIN enroll_commands c ON c.org_id = q.org_id AND c.uuid = q.uuid`

func scanQueued(row rowScanner) (int64, enroll.QueuedCommand, error) {
	var q enroll.QueuedCommand
	var id, queued, updated int64
	err := row.Scan(&id, &q.Org, &q.Device, &q.UUID, &q.RequestType, &q.Body, &q.Status, &q.Deliveries, &q.Detail, &queued, &updated)
	q.Queued, q.Updated = fromMicros(queued), fromMicros(updated)
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
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return err
	}
	list, err := json.Marshal(devices)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error { return enqueueTx(ctx, tx, org, list, cmd, e) })
}

// NextCommand implements enroll.CommandQueue.
func (s *Store) NextCommand(ctx context.Context, org storage.OrgID, device string, opt enroll.NextOptions) (enroll.QueuedCommand, error) {
	opt = opt.Normalize()
	// Most check-ins find nothing queued: answer those from a read
	// connection, without queueing behind the single writer. A command
	// queued after the probe waits for the next check-in, as it would had
	// it been queued a moment later.
	var open bool
	if err := s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM enroll_queue
		WHERE org_id = ? AND device = ? AND status IN ('Pending', 'NotNow') AND (? = 0 OR status = 'Pending'))`,
		org, device, opt.SkipNotNow).Scan(&open); err != nil {
		return enroll.QueuedCommand{}, fmt.Errorf("sqlite: next command for %q: %w", device, err)
	}
	if !open {
		return enroll.QueuedCommand{}, fmt.Errorf("next command for %q: %w", device, storage.ErrNotFound)
	}
	var q enroll.QueuedCommand
	err := s.write(ctx, func(tx *sql.Tx) error {
		after := int64(0)
		for {
			id, next, err := scanQueued(tx.QueryRowContext(ctx, "SELECT "+queueColumns+`
				WHERE q.org_id = ? AND q.device = ? AND q.status IN ('Pending', 'NotNow') AND q.id > ?
				AND (? = 0 OR q.status = 'Pending') ORDER BY q.id LIMIT 1`, org, device, after, opt.SkipNotNow))
			if err != nil {
				return notFound(err, "next command for %q", device)
			}
			after = id
			if why := opt.AbandonReason(next); why != "" {
				if _, err := tx.ExecContext(ctx, "UPDATE enroll_queue SET status = ?, detail = ?, updated_us = ? WHERE id = ?",
					enroll.StatusAbandoned, why, micros(opt.Now), id); err != nil {
					return fmt.Errorf("sqlite: abandon command: %w", err)
				}
				continue
			}
			next.Deliveries++
			next.Updated = opt.Now
			if _, err := tx.ExecContext(ctx, "UPDATE enroll_queue SET deliveries = ?, updated_us = ? WHERE id = ?",
				next.Deliveries, micros(opt.Now), id); err != nil {
				return fmt.Errorf("sqlite: count delivery: %w", err)
			}
			q = next
			return nil
		}
	})
	return q, err
}

// RecordOutcome implements enroll.CommandQueue.
func (s *Store) RecordOutcome(ctx context.Context, org storage.OrgID, device string, o enroll.Outcome) (enroll.QueuedCommand, bool, error) {
	if err := o.Validate(); err != nil {
		return enroll.QueuedCommand{}, false, err
	}
	var q enroll.QueuedCommand
	recorded := false
	err := s.write(ctx, func(tx *sql.Tx) error {
		id, stored, err := scanQueued(tx.QueryRowContext(ctx, "SELECT "+queueColumns+" WHERE q.org_id = ? AND q.device = ? AND q.uuid = ?",
			org, device, o.UUID))
		if err != nil {
			return notFound(err, "command %s for %q", o.UUID, device)
		}
		q = stored
		if !stored.Status.Open() {
			return nil // a replayed answer
		}
		recorded = true
		q.Status, q.Detail, q.Updated = o.Status, o.Detail, storage.Normalize(o.Time)
		_, err = tx.ExecContext(ctx, "UPDATE enroll_queue SET status = ?, detail = ?, updated_us = ? WHERE id = ?",
			q.Status, q.Detail, micros(q.Updated), id)
		if err != nil {
			return fmt.Errorf("sqlite: record outcome: %w", err)
		}
		return nil
	})
	if err != nil {
		return q, false, err
	}
	return q, recorded, nil
}

// ClearQueue implements enroll.CommandQueue.
func (s *Store) ClearQueue(ctx context.Context, org storage.OrgID, device string, e storage.AuditEntry) (int, error) {
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return 0, err
	}
	var n int64
	err = s.write(ctx, func(tx *sql.Tx) error {
		if _, err := appendAudit(ctx, tx, e); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE enroll_queue SET status = ?, detail = ?, updated_us = ?
			WHERE org_id = ? AND device = ? AND status IN ('Pending', 'NotNow')`,
			enroll.StatusAbandoned, enroll.ClearedDetail, micros(e.Time), org, device)
		if err != nil {
			return fmt.Errorf("sqlite: clear queue: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// Commands implements enroll.CommandQueue.
func (s *Store) Commands(ctx context.Context, org storage.OrgID, device string, limit int) ([]enroll.QueuedCommand, error) {
	limit, err := enroll.ListLimit(limit)
	if err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, "SELECT "+queueColumns+" WHERE q.org_id = ? AND q.device = ? ORDER BY q.id DESC LIMIT ?",
		org, device, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list commands: %w", err)
	}
	defer rows.Close()
	out := []enroll.QueuedCommand{}
	for rows.Next() {
		_, q, err := scanQueued(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list commands: %w", err)
		}
		out = append(out, q)
	}
	return out, errors.Join(rows.Err())
}
