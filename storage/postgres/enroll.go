package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
)

const queueColumns = `q.id, q.org_id, q.device, q.uuid, c.request_type, c.body, q.status, q.deliveries, q.detail, c.queued, q.updated
	FROM enroll_queue q JOIN enroll_commands c ON c.org_id = q.org_id AND c.uuid = q.uuid`

func scanQueued(row pgx.Row) (int64, enroll.QueuedCommand, error) {
	var q enroll.QueuedCommand
	var id int64
	err := row.Scan(&id, &q.Org, &q.Device, &q.UUID, &q.RequestType, &q.Body, &q.Status, &q.Deliveries, &q.Detail, &q.Queued, &q.Updated)
	q.Queued, q.Updated = q.Queued.UTC(), q.Updated.UTC()
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
	return s.write(ctx, func(tx pgx.Tx) error { return enqueueTx(ctx, tx, org, devices, cmd, e) })
}

// NextCommand implements enroll.CommandQueue.
func (s *Store) NextCommand(ctx context.Context, org storage.OrgID, device string, opt enroll.NextOptions) (enroll.QueuedCommand, error) {
	opt = opt.Normalize()
	// Most check-ins find nothing queued: answer those with one statement
	// instead of a transaction's three round trips. A command queued after
	// the probe waits for the next check-in, as it would had it been
	// queued a moment later.
	var open bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM enroll_queue
		WHERE org_id = $1 AND device = $2 AND status IN ('Pending', 'NotNow') AND (NOT $3 OR status = 'Pending'))`,
		org, device, opt.SkipNotNow).Scan(&open); err != nil {
		return enroll.QueuedCommand{}, fmt.Errorf("postgres: next command for %q: %w", device, err)
	}
	if !open {
		return enroll.QueuedCommand{}, fmt.Errorf("next command for %q: %w", device, storage.ErrNotFound)
	}
	var q enroll.QueuedCommand
	err := s.write(ctx, func(tx pgx.Tx) error {
		after := int64(0)
		for {
			// FOR UPDATE: two check-ins of one device at once hand out the
			// command once each, counted twice, never lost.
			id, next, err := scanQueued(tx.QueryRow(ctx, "SELECT "+queueColumns+`
				WHERE q.org_id = $1 AND q.device = $2 AND q.status IN ('Pending', 'NotNow') AND q.id > $3
				AND (NOT $4 OR q.status = 'Pending') ORDER BY q.id LIMIT 1 FOR UPDATE OF q`, org, device, after, opt.SkipNotNow))
			if err != nil {
				return notFound(err, "next command for %q", device)
			}
			after = id
			if why := opt.AbandonReason(next); why != "" {
				if _, err := tx.Exec(ctx, "UPDATE enroll_queue SET status = $1, detail = $2, updated = $3 WHERE id = $4",
					enroll.StatusAbandoned, why, opt.Now, id); err != nil {
					return fmt.Errorf("postgres: abandon command: %w", err)
				}
				continue
			}
			next.Deliveries++
			next.Updated = opt.Now
			if _, err := tx.Exec(ctx, "UPDATE enroll_queue SET deliveries = $1, updated = $2 WHERE id = $3",
				next.Deliveries, opt.Now, id); err != nil {
				return fmt.Errorf("postgres: count delivery: %w", err)
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
	err := s.write(ctx, func(tx pgx.Tx) error {
		id, stored, err := scanQueued(tx.QueryRow(ctx, "SELECT "+queueColumns+" WHERE q.org_id = $1 AND q.device = $2 AND q.uuid = $3 FOR UPDATE OF q",
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
		if _, err := tx.Exec(ctx, "UPDATE enroll_queue SET status = $1, detail = $2, updated = $3 WHERE id = $4",
			q.Status, q.Detail, q.Updated, id); err != nil {
			return fmt.Errorf("postgres: record outcome: %w", err)
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
	err = s.write(ctx, func(tx pgx.Tx) error {
		if _, err := appendAudit(ctx, tx, e); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE enroll_queue SET status = $1, detail = $2, updated = $3
			WHERE org_id = $4 AND device = $5 AND status IN ('Pending', 'NotNow')`,
			enroll.StatusAbandoned, enroll.ClearedDetail, e.Time, org, device)
		if err != nil {
			return fmt.Errorf("postgres: clear queue: %w", err)
		}
		n = tag.RowsAffected()
		return nil
	})
	return int(n), err
}

// Commands implements enroll.CommandQueue.
func (s *Store) Commands(ctx context.Context, org storage.OrgID, device string, limit int) ([]enroll.QueuedCommand, error) {
	limit, err := enroll.ListLimit(limit)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, "SELECT "+queueColumns+" WHERE q.org_id = $1 AND q.device = $2 ORDER BY q.id DESC LIMIT $3",
		org, device, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: list commands: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (enroll.QueuedCommand, error) {
		_, q, err := scanQueued(row)
		return q, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list commands: %w", err)
	}
	if out == nil {
		out = []enroll.QueuedCommand{}
	}
	return out, nil
}
