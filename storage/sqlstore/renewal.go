package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

const renewalColumns = `org_id, identity, device, not_after_us, session, command, attempts, next_us, lease_us,
	successor, completed_us, created_us, updated_us FROM {enroll_renewals}`

func scanRenewal(row rowScanner) (r enroll.Renewal, err error) {
	err = row.Scan(&r.Org, &r.Identity, &r.Device, us{&r.NotAfter}, &r.Session, &r.Command, &r.Attempts, us{&r.NextAttempt},
		us{&r.LeaseUntil}, &r.Successor, us{&r.Completed}, us{&r.Created}, us{&r.Updated})
	return r, err
}

// ClaimRenewals implements enroll.RenewalStore.
func (s *Store) ClaimRenewals(ctx context.Context, c enroll.RenewalClaim) ([]enroll.Renewal, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c.Now = storage.Normalize(c.Now)
	now, horizon, lease := micros(c.Now), micros(c.Now.Add(c.Window)), micros(storage.Normalize(c.Now.Add(c.Lease)))
	var out []enroll.Renewal
	err := s.write(ctx, func(tx tx) error {
		// Identities entering their window get a renewal, once: the
		// primary key and DO NOTHING make concurrent claimers agree.
		if _, err := tx.exec(ctx, `INSERT INTO {enroll_renewals} (org_id, identity, device, not_after_us, next_us, created_us, updated_us)
			SELECT i.org_id, i.fingerprint, i.device, i.not_after_us, ?, ?, ? FROM {enroll_identities} i
			JOIN {devices} d ON d.org_id = i.org_id AND d.id = i.device
			WHERE i.org_id = ? AND i.device <> '' AND i.revoked_us = 0 AND i.not_after_us > ? AND i.not_after_us <= ? AND d.state = ?
			AND NOT EXISTS (SELECT 1 FROM {enroll_identities} n WHERE n.org_id = i.org_id AND n.renews = i.fingerprint AND n.device <> '')
			ON CONFLICT (org_id, identity) DO NOTHING`, now, now, now, c.Org, now, horizon, inventory.StateEnrolled); err != nil {
			return s.fail("record due renewals", err)
		}
		rows, err := tx.query(ctx, "SELECT "+renewalColumns+` r WHERE r.org_id = ? AND r.completed_us = 0
			AND r.not_after_us > ? AND r.next_us <= ? AND r.lease_us <= ?
			AND EXISTS (SELECT 1 FROM {devices} d WHERE d.org_id = r.org_id AND d.id = r.device AND d.state = ?)
			ORDER BY r.next_us, r.identity LIMIT ? {FOR UPDATE SKIP LOCKED}`,
			c.Org, now, now, now, inventory.StateEnrolled, c.Limit)
		list, err := collect(rows, err, scanRenewal)
		if err != nil {
			return s.fail("claim renewals", err)
		}
		for i := range list {
			if _, err := tx.exec(ctx, `UPDATE {enroll_renewals} SET attempts = attempts + 1, lease_us = ?, updated_us = ?
				WHERE org_id = ? AND identity = ?`, lease, now, c.Org, list[i].Identity); err != nil {
				return s.fail("claim renewal", err)
			}
			list[i].Attempts++
			list[i].LeaseUntil, list[i].Updated = fromMicros(lease), c.Now
		}
		out = list
		return nil
	})
	return done(out, err)
}

// QueueRenewal implements enroll.RenewalStore.
func (s *Store) QueueRenewal(ctx context.Context, r enroll.Renewal, sess *enroll.Session, cmd *enroll.Command, next time.Time, e storage.AuditEntry) (enroll.Renewal, error) {
	e, err := checked(checkRenewalAttempt(r, sess, cmd, next), r.Org, e)
	if err != nil {
		return enroll.Renewal{}, err
	}
	var req, attrs string
	if sess != nil {
		if req, attrs, err = sessionJSON(*sess); err != nil {
			return enroll.Renewal{}, err
		}
	}
	var out enroll.Renewal
	err = s.write(ctx, func(tx tx) error {
		stored, err := scanRenewal(tx.queryRow(ctx, "SELECT "+renewalColumns+" WHERE org_id = ? AND identity = ? {FOR UPDATE}", r.Org, r.Identity))
		if err != nil {
			return s.notFound(err, "renewal of identity %s", r.Identity)
		}
		switch {
		case !stored.Completed.IsZero():
			return fmt.Errorf("renewal of identity %s: already completed: %w", r.Identity, storage.ErrConflict)
		case stored.Attempts != r.Attempts || !stored.LeaseUntil.Equal(storage.Normalize(r.LeaseUntil)) || stored.LeaseUntil.IsZero():
			return fmt.Errorf("renewal of identity %s: claimed by another worker: %w", r.Identity, storage.ErrConflict)
		}
		if _, err := tx.appendAudit(ctx, e); err != nil {
			return err
		}
		stored.Session, stored.Command = r.Session, r.Command
		if sess != nil {
			if stored.Session != "" {
				// One renewal challenge at a time: the previous one ends.
				if _, err := tx.exec(ctx, `UPDATE {enroll_sessions} SET challenge_hash = NULL, expires_us = ?, version = version + 1,
					updated_us = ? WHERE org_id = ? AND id = ? AND phase <> ?`,
					micros(e.Time), micros(e.Time), r.Org, stored.Session, enroll.PhaseEnrolled); err != nil {
					return s.fail("end previous renewal session", err)
				}
			}
			if _, err := tx.insertSession(ctx, *sess, req, attrs, e.Time); err != nil {
				return err
			}
			if err := tx.insertCommand(ctx, r.Org, []string{r.Device}, *cmd, e.Time); err != nil {
				return err
			}
			stored.Session, stored.Command = sess.ID, cmd.UUID
		}
		stored.NextAttempt, stored.LeaseUntil, stored.Updated = storage.Normalize(next), time.Time{}, e.Time
		if _, err := tx.exec(ctx, `UPDATE {enroll_renewals} SET session = ?, command = ?, next_us = ?, lease_us = 0, updated_us = ?
			WHERE org_id = ? AND identity = ?`, stored.Session, stored.Command, micros(stored.NextAttempt), micros(e.Time),
			r.Org, r.Identity); err != nil {
			return s.fail("queue renewal", err)
		}
		out = stored
		return nil
	})
	return done(out, err)
}

// checkRenewalAttempt validates what QueueRenewal is given.
func checkRenewalAttempt(r enroll.Renewal, sess *enroll.Session, cmd *enroll.Command, next time.Time) error {
	switch {
	case r.Org.Validate() != nil:
		return r.Org.Validate()
	case r.Identity.Validate() != nil:
		return r.Identity.Validate()
	case (sess == nil) != (cmd == nil):
		return fmt.Errorf("%w: a renewal attempt queues a session and its command together", storage.ErrInvalid)
	case next.IsZero():
		return fmt.Errorf("%w: a renewal attempt needs the time of the next one", storage.ErrInvalid)
	}
	if sess == nil {
		return nil
	}
	if err := sess.Validate(); err != nil {
		return err
	}
	if sess.Kind != enroll.KindRenewal || sess.Renews != r.Identity || sess.Org != r.Org {
		return fmt.Errorf("%w: the renewal session must renew identity %s of org %q", storage.ErrInvalid, r.Identity, r.Org)
	}
	return cmd.Validate()
}

// Renewals implements enroll.RenewalStore.
func (s *Store) Renewals(ctx context.Context, org storage.OrgID, limit int) ([]enroll.Renewal, error) {
	limit, err := enroll.ListLimit(limit)
	if err != nil {
		return nil, err
	}
	rows, err := s.query(ctx, "SELECT "+renewalColumns+` WHERE org_id = ? AND completed_us = 0
		ORDER BY not_after_us, identity LIMIT ?`, org, limit)
	return list(s, "list renewals", rows, err, scanRenewal)
}

// Renewal implements enroll.RenewalStore.
func (s *Store) Renewal(ctx context.Context, org storage.OrgID, f enroll.Fingerprint) (enroll.Renewal, error) {
	return get(s, scanRenewal, s.queryRow(ctx, "SELECT "+renewalColumns+" WHERE org_id = ? AND identity = ?", org, f), "renewal of identity %s", f)
}
