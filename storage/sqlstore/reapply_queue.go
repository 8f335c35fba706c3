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

// requestReapply records a re-application request inside tx.
func (tx tx) requestReapply(ctx context.Context, org storage.OrgID, user string, at time.Time) error {
	_, err := tx.exec(ctx, `INSERT INTO {reapply_queue} AS q (org_id, user_id, seq, requested_us, claim, claim_until_us)
		VALUES (?, ?, 1, ?, '', 0)
		ON CONFLICT (org_id, user_id) DO UPDATE SET seq = q.seq + 1, requested_us = excluded.requested_us, after_device = ''`,
		org, user, micros(at))
	if tx.s.foreignKey(err) {
		return fmt.Errorf("request re-application: org %q: %w", org, storage.ErrNotFound)
	}
	if err != nil {
		return tx.s.fail("request re-application", err)
	}
	return nil
}

// RequestReapply implements policy.ReapplyQueue.
func (s *Store) RequestReapply(ctx context.Context, org storage.OrgID, user string, at time.Time) error {
	if err := policy.CheckReapply(org, user); err != nil {
		return err
	}
	return s.write(ctx, func(tx tx) error { return tx.requestReapply(ctx, org, user, at) })
}

// checkReapplyClaim validates a claim's holder and term.
func checkReapplyClaim(org storage.OrgID, user, claim string, now, until time.Time) error {
	if err := policy.CheckReapply(org, user); err != nil {
		return err
	}
	return storage.CheckLease(org, "reapply", claim, now, until)
}

const reapplyColumns = "user_id, seq, requested_us, after_device"

func scanReapply(row rowScanner) (policy.ReapplyRequest, error) {
	var r policy.ReapplyRequest
	var requested int64
	if err := row.Scan(&r.User, &r.Seq, &requested, &r.After); err != nil {
		return r, err
	}
	r.Requested = fromMicros(requested)
	return r, nil
}

// ClaimReapply implements policy.ReapplyQueue.
func (s *Store) ClaimReapply(ctx context.Context, org storage.OrgID, user, claim string, now, until time.Time) (policy.ReapplyRequest, bool, error) {
	if err := checkReapplyClaim(org, user, claim, now, until); err != nil {
		return policy.ReapplyRequest{}, false, err
	}
	var r policy.ReapplyRequest
	ok := false
	err := s.write(ctx, func(tx tx) error {
		var err error
		r, err = scanReapply(tx.queryRow(ctx, "SELECT "+reapplyColumns+` FROM {reapply_queue}
			WHERE org_id = ? AND user_id = ? AND (claim = '' OR claim = ? OR claim_until_us <= ?) {FOR UPDATE}`,
			org, user, claim, micros(now)))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return s.fail("claim re-application", err)
		}
		if _, err := tx.exec(ctx, `UPDATE {reapply_queue} SET claim = ?, claim_until_us = ? WHERE org_id = ? AND user_id = ?`,
			claim, micros(until), org, user); err != nil {
			return s.fail("claim re-application", err)
		}
		ok = true
		return nil
	})
	if err != nil || !ok {
		return policy.ReapplyRequest{}, false, err
	}
	return r, true, nil
}

// ClaimDueReapplies implements policy.ReapplyQueue.
func (s *Store) ClaimDueReapplies(ctx context.Context, org storage.OrgID, requestedBy time.Time, claim string, now, until time.Time, limit int) ([]policy.ReapplyRequest, error) {
	if err := checkReapplyClaim(org, "", claim, now, until); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > policy.MaxReapplyClaim {
		return nil, fmt.Errorf("%w: re-application claim of %d requests: 1 to %d", storage.ErrInvalid, limit, policy.MaxReapplyClaim)
	}
	// Nearly every call finds nothing: answer those from a read, without
	// a write transaction.
	const due = `org_id = ? AND requested_us <= ? AND (claim = '' OR claim_until_us <= ?)`
	var waiting bool
	if err := s.queryRow(ctx, "SELECT EXISTS (SELECT 1 FROM {reapply_queue} WHERE "+due+")",
		org, micros(requestedBy), micros(now)).Scan(&waiting); err != nil {
		return nil, s.fail("claim re-applications", err)
	}
	if !waiting {
		return nil, nil
	}
	var out []policy.ReapplyRequest
	err := s.write(ctx, func(tx tx) error {
		out = out[:0]
		rows, err := tx.query(ctx, "SELECT "+reapplyColumns+" FROM {reapply_queue} WHERE "+due+`
			ORDER BY requested_us, user_id LIMIT ? {FOR UPDATE SKIP LOCKED}`, org, micros(requestedBy), micros(now), limit)
		out, err = collect(rows, err, scanReapply)
		if err != nil {
			return s.fail("claim re-applications", err)
		}
		for _, r := range out {
			if _, err := tx.exec(ctx, `UPDATE {reapply_queue} SET claim = ?, claim_until_us = ? WHERE org_id = ? AND user_id = ?`,
				claim, micros(until), org, r.User); err != nil {
				return s.fail("claim re-applications", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ReapplyProgress implements policy.ReapplyQueue.
func (s *Store) ReapplyProgress(ctx context.Context, org storage.OrgID, claim string, r policy.ReapplyRequest, after string) error {
	if err := checkReapplyEnd(org, claim, r); err != nil {
		return err
	}
	if after == "" || len(after) > storage.MaxIDLen {
		return fmt.Errorf("%w: re-application progress: device ID must be 1-%d bytes", storage.ErrInvalid, storage.MaxIDLen)
	}
	// A request made again since the run read it keeps its after_device
	// (requestReapply reset it): its next run starts from the beginning.
	return s.write(ctx, func(tx tx) error {
		if _, err := tx.exec(ctx, `UPDATE {reapply_queue} SET after_device = CASE WHEN seq = ? THEN CAST(? AS TEXT) ELSE after_device END,
			claim = '', claim_until_us = 0 WHERE org_id = ? AND user_id = ? AND claim = ?`,
			r.Seq, after, org, r.User, claim); err != nil {
			return s.fail("re-application progress", err)
		}
		return nil
	})
}

// checkReapplyEnd validates the end of claim's run of r.
func checkReapplyEnd(org storage.OrgID, claim string, r policy.ReapplyRequest) error {
	if err := policy.CheckReapply(org, r.User); err != nil {
		return err
	}
	if claim == "" {
		return fmt.Errorf("%w: re-application ended without a claim", storage.ErrInvalid)
	}
	return nil
}

// ReapplyDone implements policy.ReapplyQueue.
func (s *Store) ReapplyDone(ctx context.Context, org storage.OrgID, claim string, r policy.ReapplyRequest) error {
	if err := checkReapplyEnd(org, claim, r); err != nil {
		return err
	}
	return s.write(ctx, func(tx tx) error {
		if _, err := tx.exec(ctx, `DELETE FROM {reapply_queue} WHERE org_id = ? AND user_id = ? AND claim = ? AND seq = ?`,
			org, r.User, claim, r.Seq); err != nil {
			return s.fail("re-application done", err)
		}
		// Requested again while it ran: free it for another run.
		if _, err := tx.exec(ctx, `UPDATE {reapply_queue} SET claim = '', claim_until_us = 0 WHERE org_id = ? AND user_id = ? AND claim = ?`,
			org, r.User, claim); err != nil {
			return s.fail("re-application done", err)
		}
		return nil
	})
}
