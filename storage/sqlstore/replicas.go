package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
)

// TakeLease implements storage.Leases: one statement, so that two
// replicas racing for a free lease cannot both get it.
func (s *Store) TakeLease(ctx context.Context, org storage.OrgID, name, holder string, now, until time.Time) (bool, error) {
	if err := storage.CheckLease(org, name, holder, now, until); err != nil {
		return false, err
	}
	var n int64
	err := s.write(ctx, func(tx tx) error {
		var err error
		n, err = tx.affected(ctx, `INSERT INTO {leases} AS l (org_id, name, holder, until_us) VALUES (?, ?, ?, ?)
			ON CONFLICT (org_id, name) DO UPDATE SET holder = excluded.holder, until_us = excluded.until_us
			WHERE l.until_us <= ? OR l.holder = excluded.holder`, org, name, holder, micros(until), micros(now))
		if s.foreignKey(err) {
			return fmt.Errorf("lease %q: org %q: %w", name, org, storage.ErrNotFound)
		}
		if err != nil {
			return s.fail("take lease", err)
		}
		return nil
	})
	return err == nil && n == 1, err
}

// QueuePushes implements enroll.PushOutbox.
func (s *Store) QueuePushes(ctx context.Context, org storage.OrgID, devices []string, at time.Time) error {
	if err := enroll.ValidateDevices(devices); err != nil {
		return err
	}
	if err := org.Validate(); err != nil {
		return err
	}
	return s.write(ctx, func(tx tx) error {
		_, err := tx.exec(ctx, `INSERT INTO {push_outbox} (org_id, device, queued_us, claim, claim_until_us)
			SELECT ?, d.value, ?, '', 0 FROM {values d} WHERE true ORDER BY d.value
			ON CONFLICT (org_id, device) DO NOTHING`, org, micros(at), tx.s.strings(devices))
		if s.foreignKey(err) {
			return fmt.Errorf("queue pushes: org %q: %w", org, storage.ErrNotFound)
		}
		if err != nil {
			return s.fail("queue pushes", err)
		}
		return nil
	})
}

// queuePushes records, with a command queued for devices, that they are to
// be woken, releasing any claim on their rows: the claim's push may have
// left before this command was committed.
func (tx tx) queuePushes(ctx context.Context, org storage.OrgID, devices []string, at time.Time) error {
	// In device order, so that two fan-outs to overlapping devices lock
	// their rows in the same order on PostgreSQL.
	_, err := tx.exec(ctx, `INSERT INTO {push_outbox} (org_id, device, queued_us, claim, claim_until_us)
		SELECT ?, d.value, ?, '', 0 FROM {values d} WHERE true ORDER BY d.value
		ON CONFLICT (org_id, device) DO UPDATE SET claim = '', claim_until_us = 0`, org, micros(at), tx.s.strings(devices))
	if err != nil {
		return tx.s.fail("queue pushes", err)
	}
	return nil
}

// ClaimPushes implements enroll.PushOutbox. On PostgreSQL the rows are
// read FOR UPDATE SKIP LOCKED, so that concurrent claimers take different
// rows rather than waiting for each other; SQLite has one writer.
func (s *Store) ClaimPushes(ctx context.Context, org storage.OrgID, devices []string, claim string, now, until time.Time, limit int) ([]string, error) {
	if err := storage.CheckLease(org, "push", claim, now, until); err != nil {
		return nil, err
	}
	if devices != nil {
		if err := enroll.ValidateDevices(devices); err != nil {
			return nil, err
		}
	}
	if limit <= 0 || limit > enroll.MaxPushClaim {
		return nil, fmt.Errorf("%w: push claim of %d devices: 1 to %d", storage.ErrInvalid, limit, enroll.MaxPushClaim)
	}
	// Most drains find nothing to do: answer those from a read, without a
	// write transaction (SQLite's single writer, PostgreSQL's WAL).
	if devices == nil {
		var due bool
		if err := s.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM {push_outbox} WHERE org_id = ? AND claim_until_us <= ?)`,
			org, micros(now)).Scan(&due); err != nil {
			return nil, s.fail("claim pushes", err)
		}
		if !due {
			return nil, nil
		}
	}
	var out []string
	err := s.write(ctx, func(tx tx) error {
		query := `SELECT device FROM {push_outbox} WHERE org_id = ? AND claim_until_us <= ?
			ORDER BY queued_us, device LIMIT ? {FOR UPDATE SKIP LOCKED}`
		args := []any{org, micros(now), limit}
		if devices != nil {
			query = `SELECT device FROM {push_outbox} WHERE org_id = ? AND claim_until_us <= ?
				AND device IN (SELECT d.value FROM {values d}) ORDER BY queued_us, device LIMIT ? {FOR UPDATE SKIP LOCKED}`
			args = []any{org, micros(now), tx.s.strings(devices), limit}
		}
		rows, err := tx.query(ctx, query, args...)
		if err != nil {
			return s.fail("claim pushes", err)
		}
		for rows.Next() {
			var d string
			if err := rows.Scan(&d); err != nil {
				rows.Close()
				return s.fail("claim pushes", err)
			}
			out = append(out, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return s.fail("claim pushes", err)
		}
		if len(out) == 0 {
			return nil
		}
		if _, err := tx.exec(ctx, `UPDATE {push_outbox} SET claim = ?, claim_until_us = ?
			WHERE org_id = ? AND device IN (SELECT d.value FROM {values d})`, claim, micros(until), org, tx.s.strings(out)); err != nil {
			return s.fail("claim pushes", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// heldInOrder selects, taking org, claim and a device list, the devices
// of the list that claim holds, locking their rows in device order on
// PostgreSQL: the order in which queueing a command locks them, so that
// the two cannot deadlock.
const heldInOrder = `SELECT device FROM {push_outbox} WHERE org_id = ? AND claim = ? AND claim <> ''
	AND device IN (SELECT d.value FROM {values d}) ORDER BY device {FOR UPDATE}`

// PushesDone implements enroll.PushOutbox.
func (s *Store) PushesDone(ctx context.Context, org storage.OrgID, claim string, devices []string) error {
	if len(devices) == 0 {
		return nil
	}
	if err := enroll.ValidateDevices(devices); err != nil {
		return err
	}
	return s.write(ctx, func(tx tx) error {
		if _, err := tx.exec(ctx, `DELETE FROM {push_outbox} WHERE org_id = ? AND device IN (`+heldInOrder+`)`,
			org, org, claim, tx.s.strings(devices)); err != nil {
			return s.fail("pushes done", err)
		}
		return nil
	})
}

// RenewPushes implements enroll.PushOutbox.
func (s *Store) RenewPushes(ctx context.Context, org storage.OrgID, claim string, devices []string, now, until time.Time) (int, error) {
	if err := storage.CheckLease(org, "push", claim, now, until); err != nil {
		return 0, err
	}
	if len(devices) == 0 {
		return 0, nil
	}
	if err := enroll.ValidateDevices(devices); err != nil {
		return 0, err
	}
	var n int64
	err := s.write(ctx, func(tx tx) error {
		res, err := tx.exec(ctx, `UPDATE {push_outbox} SET claim_until_us = ?
			WHERE org_id = ? AND device IN (`+heldInOrder+`)`,
			micros(until), org, org, claim, tx.s.strings(devices))
		if err != nil {
			return s.fail("renew pushes", err)
		}
		if n, err = res.RowsAffected(); err != nil {
			return s.fail("renew pushes", err)
		}
		return nil
	})
	return int(n), err
}
