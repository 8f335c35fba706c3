package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/events"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// AppliedPolicy implements ota.ReapplyStore and android.ReapplyStore.
func (s *Store) AppliedPolicy(ctx context.Context, org storage.OrgID, device string) (policy.Applied, error) {
	a := policy.Applied{Org: org, Device: device}
	err := s.queryRow(ctx, `SELECT policy, fingerprint, out_of_policy, version, updated_us FROM {policy_applied}
		WHERE org_id = ? AND device = ?`, org, device).Scan(&a.Policy, &a.Fingerprint, &a.OutOfPolicy, &a.Version, us{&a.Updated})
	if err != nil {
		return policy.Applied{}, s.notFound(err, "applied policy of device %q", device)
	}
	return a, nil
}

// ApplyPolicy implements ota.ReapplyStore.
func (s *Store) ApplyPolicy(ctx context.Context, a policy.Applied, cmd *enroll.Command, e storage.AuditEntry) (policy.Applied, error) {
	if cmd != nil {
		if err := cmd.Validate(); err != nil {
			return policy.Applied{}, err
		}
	}
	return s.writeApplied(ctx, a, e, func(tx tx, e storage.AuditEntry) error {
		if cmd == nil {
			return nil
		}
		return tx.insertCommand(ctx, a.Org, []string{a.Device}, *cmd, e.Time)
	})
}

// ReapplyAndroidDevice implements android.ReapplyStore.
func (s *Store) ReapplyAndroidDevice(ctx context.Context, a policy.Applied, req *policy.Requirements, e storage.AuditEntry) (policy.Applied, error) {
	var reqJSON []byte
	if req != nil {
		var err error
		if reqJSON, err = json.Marshal(req); err != nil {
			return policy.Applied{}, fmt.Errorf("%w: requirements: %w", storage.ErrInvalid, err)
		}
	}
	return s.writeApplied(ctx, a, e, func(tx tx, _ storage.AuditEntry) error {
		if req == nil {
			return nil
		}
		n, err := tx.affected(ctx, "UPDATE {android_devices} SET policy = ?, requirements = ? WHERE org_id = ? AND id = ?",
			a.Policy, string(reqJSON), a.Org, a.Device)
		if err != nil {
			return s.fail("update android device requirements", err)
		}
		if n == 0 {
			return fmt.Errorf("android device %q: %w", a.Device, storage.ErrNotFound)
		}
		return nil
	})
}

// writeApplied writes the audit entry, then also (the platform's part of
// the change), then the record, in one transaction.
func (s *Store) writeApplied(ctx context.Context, a policy.Applied, e storage.AuditEntry, also func(tx, storage.AuditEntry) error) (policy.Applied, error) {
	e, err := checked(a.Validate(), a.Org, e)
	if err != nil {
		return policy.Applied{}, err
	}
	stored := a
	stored.Version, stored.Updated = a.Version+1, e.Time
	stored = stored.Normalize()
	err = s.write(ctx, func(tx tx) error {
		// The audit entry goes first: its foreign key reports an unknown org.
		if _, err := tx.appendAudit(ctx, e); err != nil {
			return err
		}
		if err := also(tx, e); err != nil {
			return err
		}
		// The device's compliance, when it changes, is an event.
		before := ""
		if a.Version != 0 {
			if err := tx.queryRow(ctx, "SELECT out_of_policy FROM {policy_applied} WHERE org_id = ? AND device = ? {FOR UPDATE}",
				a.Org, a.Device).Scan(&before); err != nil && err != sql.ErrNoRows {
				return s.fail("read applied policy", err)
			}
		}
		if (a.OutOfPolicy != "") != (before != "") || a.OutOfPolicy != before && a.OutOfPolicy != "" {
			tx.emit(events.Compliance(a.Org, a.Device, e.Actor, a.OutOfPolicy == "", a.OutOfPolicy, e.Time))
		}
		if a.Version == 0 {
			_, err := tx.exec(ctx, `INSERT INTO {policy_applied} (org_id, device, policy, fingerprint, out_of_policy, version, updated_us)
				VALUES (?, ?, ?, ?, ?, 1, ?)`, a.Org, a.Device, a.Policy, a.Fingerprint, a.OutOfPolicy, micros(stored.Updated))
			if s.unique(err) {
				return fmt.Errorf("applied policy of device %q: already recorded: %w", a.Device, storage.ErrConflict)
			}
			if err != nil {
				return fmt.Errorf("sqlstore: record applied policy: %w", err)
			}
			return nil
		}
		n, err := tx.affected(ctx, `UPDATE {policy_applied} SET policy = ?, fingerprint = ?, out_of_policy = ?, version = version + 1,
			updated_us = ? WHERE org_id = ? AND device = ? AND version = ?`,
			a.Policy, a.Fingerprint, a.OutOfPolicy, micros(stored.Updated), a.Org, a.Device, a.Version)
		if err != nil {
			return s.fail("record applied policy", err)
		}
		if n == 0 {
			return fmt.Errorf("applied policy of device %q: version %d is not the stored one: %w", a.Device, a.Version, storage.ErrConflict)
		}
		return nil
	})
	return done(stored, err)
}

// DeviceEnrollSession implements ota.ReapplyStore.
func (s *Store) DeviceEnrollSession(ctx context.Context, org storage.OrgID, device string) (enroll.Session, error) {
	if device == "" { // unbound identities have no device
		return enroll.Session{}, fmt.Errorf("identity of device %q: %w", device, storage.ErrNotFound)
	}
	var session string
	err := s.queryRow(ctx, `SELECT session FROM {enroll_identities} WHERE org_id = ? AND device = ?
		ORDER BY issued_us LIMIT 1`, org, device).Scan(&session)
	if err != nil {
		return enroll.Session{}, s.notFound(err, "identity of device %q", device)
	}
	return s.EnrollSession(ctx, org, session)
}
