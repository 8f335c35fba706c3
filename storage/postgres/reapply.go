package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
)

// AppliedPolicy implements ota.ReapplyStore and android.ReapplyStore.
func (s *Store) AppliedPolicy(ctx context.Context, org storage.OrgID, device string) (policy.Applied, error) {
	a := policy.Applied{Org: org, Device: device}
	err := s.pool.QueryRow(ctx, `SELECT policy, fingerprint, out_of_policy, version, updated FROM policy_applied
		WHERE org_id = $1 AND device = $2`, org, device).Scan(&a.Policy, &a.Fingerprint, &a.OutOfPolicy, &a.Version, &a.Updated)
	if err != nil {
		return policy.Applied{}, notFound(err, "applied policy of device %q", device)
	}
	return a.Normalize(), nil
}

// ApplyPolicy implements ota.ReapplyStore.
func (s *Store) ApplyPolicy(ctx context.Context, a policy.Applied, cmd *enroll.Command, e storage.AuditEntry) (policy.Applied, error) {
	if cmd != nil {
		if err := cmd.Validate(); err != nil {
			return policy.Applied{}, err
		}
	}
	return s.writeApplied(ctx, a, e, func(tx pgx.Tx, e storage.AuditEntry) error {
		if cmd == nil {
			return nil
		}
		_, err := tx.Exec(ctx, "INSERT INTO enroll_commands (org_id, uuid, request_type, body, queued) VALUES ($1, $2, $3, $4, $5)",
			a.Org, cmd.UUID, cmd.RequestType, cmd.Body, e.Time)
		if violation(err, uniqueViolation) != nil {
			return fmt.Errorf("enqueue command %s: %w", cmd.UUID, storage.ErrAlreadyExists)
		}
		if err != nil {
			return fmt.Errorf("postgres: enqueue command: %w", err)
		}
		_, err = tx.Exec(ctx, "INSERT INTO enroll_queue (org_id, device, uuid, status, updated) VALUES ($1, $2, $3, $4, $5)",
			a.Org, a.Device, cmd.UUID, enroll.StatusPending, e.Time)
		if err != nil {
			return fmt.Errorf("postgres: enqueue command: %w", err)
		}
		return nil
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
	return s.writeApplied(ctx, a, e, func(tx pgx.Tx, _ storage.AuditEntry) error {
		if req == nil {
			return nil
		}
		tag, err := tx.Exec(ctx, "UPDATE android_devices SET policy = $1, requirements = $2 WHERE org_id = $3 AND id = $4",
			a.Policy, reqJSON, a.Org, a.Device)
		if err != nil {
			return fmt.Errorf("postgres: update android device requirements: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("android device %q: %w", a.Device, storage.ErrNotFound)
		}
		return nil
	})
}

// writeApplied writes the audit entry, then also (the platform's part of
// the change), then the record, in one transaction.
func (s *Store) writeApplied(ctx context.Context, a policy.Applied, e storage.AuditEntry, also func(pgx.Tx, storage.AuditEntry) error) (policy.Applied, error) {
	if err := a.Validate(); err != nil {
		return policy.Applied{}, err
	}
	e, err := rules.ChangeEntry(a.Org, e)
	if err != nil {
		return policy.Applied{}, err
	}
	stored := a
	stored.Version, stored.Updated = a.Version+1, e.Time
	stored = stored.Normalize()
	err = s.write(ctx, func(tx pgx.Tx) error {
		// The audit entry goes first: its foreign key reports an unknown org.
		if _, err := appendAudit(ctx, tx, e); err != nil {
			return err
		}
		if err := also(tx, e); err != nil {
			return err
		}
		if a.Version == 0 {
			_, err := tx.Exec(ctx, `INSERT INTO policy_applied (org_id, device, policy, fingerprint, out_of_policy, version, updated)
				VALUES ($1, $2, $3, $4, $5, 1, $6)`, a.Org, a.Device, a.Policy, a.Fingerprint, a.OutOfPolicy, stored.Updated)
			if violation(err, uniqueViolation) != nil {
				return fmt.Errorf("applied policy of device %q: already recorded: %w", a.Device, storage.ErrConflict)
			}
			if err != nil {
				return fmt.Errorf("postgres: record applied policy: %w", err)
			}
			return nil
		}
		tag, err := tx.Exec(ctx, `UPDATE policy_applied SET policy = $1, fingerprint = $2, out_of_policy = $3, version = version + 1,
			updated = $4 WHERE org_id = $5 AND device = $6 AND version = $7`,
			a.Policy, a.Fingerprint, a.OutOfPolicy, stored.Updated, a.Org, a.Device, a.Version)
		if err != nil {
			return fmt.Errorf("postgres: record applied policy: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("applied policy of device %q: version %d is not the stored one: %w", a.Device, a.Version, storage.ErrConflict)
		}
		return nil
	})
	if err != nil {
		return policy.Applied{}, err
	}
	return stored, nil
}

// DeviceEnrollSession implements ota.ReapplyStore.
func (s *Store) DeviceEnrollSession(ctx context.Context, org storage.OrgID, device string) (enroll.Session, error) {
	if device == "" { // unbound identities have no device
		return enroll.Session{}, fmt.Errorf("identity of device %q: %w", device, storage.ErrNotFound)
	}
	var session string
	err := s.pool.QueryRow(ctx, `SELECT session FROM enroll_identities WHERE org_id = $1 AND device = $2
		ORDER BY issued LIMIT 1`, org, device).Scan(&session)
	if err != nil {
		return enroll.Session{}, notFound(err, "identity of device %q", device)
	}
	return s.EnrollSession(ctx, org, session)
}
