package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
)

const androidTokenColumns = `org_id, id, user_id, policy, mode, type, ownership, requirements, one_time, uses,
	expires, provider_policy, created FROM android_tokens`

func scanAndroidToken(row pgx.Row) (android.Token, error) {
	var t android.Token
	var req []byte
	err := row.Scan(&t.Org, &t.ID, &t.UserID, &t.Policy, &t.Mode, &t.Type, &t.Ownership, &req, &t.OneTime, &t.Uses,
		&t.Expires, &t.ProviderPolicy, &t.Created)
	if err != nil {
		return t, err
	}
	if err := json.Unmarshal(req, &t.Requirements); err != nil {
		return t, fmt.Errorf("postgres: decode android token requirements: %w", err)
	}
	return t.Normalize(), nil
}

// androidInsertErr maps the constraint errors of an insert.
func androidInsertErr(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case violation(err, uniqueViolation) != nil:
		return fmt.Errorf("create %s: %w", what, storage.ErrAlreadyExists)
	case violation(err, foreignKeyViolation) != nil:
		return fmt.Errorf("create %s: org or device: %w", what, storage.ErrNotFound)
	}
	return fmt.Errorf("postgres: create %s: %w", what, err)
}

// CreateAndroidToken implements android.Store.
func (s *Store) CreateAndroidToken(ctx context.Context, t android.Token, e storage.AuditEntry) (android.Token, error) {
	if err := t.Validate(); err != nil {
		return android.Token{}, err
	}
	e, err := rules.ChangeEntry(t.Org, e)
	if err != nil {
		return android.Token{}, err
	}
	req, err := json.Marshal(t.Requirements)
	if err != nil {
		return android.Token{}, fmt.Errorf("%w: requirements: %w", storage.ErrInvalid, err)
	}
	t.Uses, t.Created = 0, e.Time
	t = t.Normalize()
	err = s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO android_tokens (org_id, id, user_id, policy, mode, type, ownership,
			requirements, one_time, uses, expires, provider_policy, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $11, $12)`,
			t.Org, t.ID, t.UserID, t.Policy, t.Mode, t.Type, t.Ownership, req, t.OneTime, t.Expires, t.ProviderPolicy, t.Created)
		if err := androidInsertErr(err, "android token"); err != nil {
			return err
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return android.Token{}, err
	}
	return t, nil
}

// AndroidToken implements android.Store.
func (s *Store) AndroidToken(ctx context.Context, org storage.OrgID, id string) (android.Token, error) {
	t, err := scanAndroidToken(s.pool.QueryRow(ctx, "SELECT "+androidTokenColumns+" WHERE org_id = $1 AND id = $2", org, id))
	if err != nil {
		return android.Token{}, notFound(err, "android token")
	}
	return t, nil
}

// UseAndroidToken implements android.Store. The row is locked for the
// transaction, so concurrent uses of a one-time token serialize.
func (s *Store) UseAndroidToken(ctx context.Context, org storage.OrgID, id string, at time.Time, e storage.AuditEntry) (android.Token, error) {
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return android.Token{}, err
	}
	if at.IsZero() {
		return android.Token{}, fmt.Errorf("%w: use time is zero", storage.ErrInvalid)
	}
	var t android.Token
	err = s.write(ctx, func(tx pgx.Tx) error {
		var err error
		t, err = scanAndroidToken(tx.QueryRow(ctx, "SELECT "+androidTokenColumns+" WHERE org_id = $1 AND id = $2 FOR UPDATE", org, id))
		if err != nil {
			return notFound(err, "use android token")
		}
		if !storage.Normalize(at).Before(t.Expires) {
			return fmt.Errorf("use android token: expired: %w", storage.ErrConflict)
		}
		if t.OneTime && t.Uses > 0 {
			return fmt.Errorf("use android token: already used: %w", storage.ErrConflict)
		}
		if _, err := tx.Exec(ctx, "UPDATE android_tokens SET uses = uses + 1 WHERE org_id = $1 AND id = $2", org, id); err != nil {
			return fmt.Errorf("postgres: use android token: %w", err)
		}
		t.Uses++
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return android.Token{}, err
	}
	return t, nil
}

const (
	androidDeviceFields = `org_id, id, user_id, policy, mode, type, ownership, token_id, requirements, credential_hash,
	provider_name, provider_policy, created`
	androidDeviceColumns = androidDeviceFields + " FROM android_devices"
)

func scanAndroidDevice(row pgx.Row) (android.Device, error) {
	var d android.Device
	var req []byte
	err := row.Scan(&d.Org, &d.ID, &d.UserID, &d.Policy, &d.Mode, &d.Type, &d.Ownership, &d.TokenID, &req, &d.CredentialHash,
		&d.ProviderName, &d.ProviderPolicy, &d.Created)
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal(req, &d.Requirements); err != nil {
		return d, fmt.Errorf("postgres: decode android device requirements: %w", err)
	}
	return d.Normalize(), nil
}

// CreateAndroidDevice implements android.Store.
func (s *Store) CreateAndroidDevice(ctx context.Context, d android.Device, e storage.AuditEntry) (android.Device, error) {
	if err := d.Validate(); err != nil {
		return android.Device{}, err
	}
	e, err := rules.ChangeEntry(d.Org, e)
	if err != nil {
		return android.Device{}, err
	}
	req, err := json.Marshal(d.Requirements)
	if err != nil {
		return android.Device{}, fmt.Errorf("%w: requirements: %w", storage.ErrInvalid, err)
	}
	d.Created = e.Time
	d = d.Normalize()
	err = s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO android_devices (org_id, id, user_id, policy, mode, type, ownership, token_id,
			requirements, credential_hash, provider_name, provider_policy, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			d.Org, d.ID, d.UserID, d.Policy, d.Mode, d.Type, d.Ownership, d.TokenID, req, nullBytes(d.CredentialHash),
			d.ProviderName, d.ProviderPolicy, d.Created)
		if err := androidInsertErr(err, "android device"); err != nil {
			return err
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return android.Device{}, err
	}
	return d.Normalize(), nil
}

// AndroidDevice implements android.Store.
func (s *Store) AndroidDevice(ctx context.Context, org storage.OrgID, id string) (android.Device, error) {
	d, err := scanAndroidDevice(s.pool.QueryRow(ctx, "SELECT "+androidDeviceColumns+" WHERE org_id = $1 AND id = $2", org, id))
	if err != nil {
		return android.Device{}, notFound(err, "android device %q", id)
	}
	return d, nil
}

const androidCommandColumns = `org_id, id, device_id, kind, wipe, status, detail, created, updated FROM android_commands`

func scanAndroidCommand(row pgx.Row) (android.Command, error) {
	var c android.Command
	if err := row.Scan(&c.Org, &c.ID, &c.DeviceID, &c.Kind, &c.Wipe, &c.Status, &c.Detail, &c.Created, &c.Updated); err != nil {
		return c, err
	}
	return c.Normalize(), nil
}

// CreateAndroidCommand implements android.Store.
func (s *Store) CreateAndroidCommand(ctx context.Context, c android.Command, e storage.AuditEntry) (android.Command, error) {
	if err := c.Validate(); err != nil {
		return android.Command{}, err
	}
	e, err := rules.ChangeEntry(c.Org, e)
	if err != nil {
		return android.Command{}, err
	}
	c.Created, c.Updated = e.Time, e.Time
	c = c.Normalize()
	err = s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO android_commands (org_id, id, device_id, kind, wipe, status, detail, created, updated)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			c.Org, c.ID, c.DeviceID, c.Kind, c.Wipe, c.Status, c.Detail, c.Created, c.Updated)
		if err := androidInsertErr(err, "android command"); err != nil {
			return err
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return android.Command{}, err
	}
	return c, nil
}

// AndroidCommand implements android.Store.
func (s *Store) AndroidCommand(ctx context.Context, org storage.OrgID, id string) (android.Command, error) {
	c, err := scanAndroidCommand(s.pool.QueryRow(ctx, "SELECT "+androidCommandColumns+" WHERE org_id = $1 AND id = $2", org, id))
	if err != nil {
		return android.Command{}, notFound(err, "android command %q", id)
	}
	return c, nil
}

// PendingAndroidCommands implements android.Store.
func (s *Store) PendingAndroidCommands(ctx context.Context, org storage.OrgID, deviceID string) ([]android.Command, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+androidCommandColumns+
		" WHERE org_id = $1 AND device_id = $2 AND status = 'pending' ORDER BY created, id", org, deviceID)
	if err != nil {
		return nil, fmt.Errorf("postgres: pending android commands: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (android.Command, error) { return scanAndroidCommand(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: pending android commands: %w", err)
	}
	if out == nil {
		out = []android.Command{}
	}
	return out, nil
}

// FinishAndroidCommand implements android.Store. The row is locked for the
// transaction, so of concurrent finishes exactly one succeeds.
func (s *Store) FinishAndroidCommand(ctx context.Context, org storage.OrgID, id string, status android.Status, detail string, e storage.AuditEntry) (android.Command, error) {
	if err := android.CheckFinish(status, detail); err != nil {
		return android.Command{}, err
	}
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return android.Command{}, err
	}
	var c android.Command
	err = s.write(ctx, func(tx pgx.Tx) error {
		var err error
		c, err = scanAndroidCommand(tx.QueryRow(ctx, "SELECT "+androidCommandColumns+" WHERE org_id = $1 AND id = $2 FOR UPDATE", org, id))
		if err != nil {
			return notFound(err, "finish android command %q", id)
		}
		if c.Status != android.StatusPending {
			return fmt.Errorf("finish android command %q: it is %s: %w", id, c.Status, storage.ErrConflict)
		}
		if _, err := tx.Exec(ctx, "UPDATE android_commands SET status = $1, detail = $2, updated = $3 WHERE org_id = $4 AND id = $5",
			status, detail, e.Time, org, id); err != nil {
			return fmt.Errorf("postgres: finish android command: %w", err)
		}
		c.Status, c.Detail, c.Updated = status, detail, e.Time
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return android.Command{}, err
	}
	return c, nil
}

// SetAndroidCredential implements android.Store.
func (s *Store) SetAndroidCredential(ctx context.Context, org storage.OrgID, id string, hash []byte, e storage.AuditEntry) (android.Device, error) {
	if len(hash) != sha256.Size {
		return android.Device{}, fmt.Errorf("%w: credential hash must be %d bytes", storage.ErrInvalid, sha256.Size)
	}
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return android.Device{}, err
	}
	var d android.Device
	err = s.write(ctx, func(tx pgx.Tx) error {
		var err error
		d, err = scanAndroidDevice(tx.QueryRow(ctx, "UPDATE android_devices SET credential_hash = $1 WHERE org_id = $2 AND id = $3 RETURNING "+androidDeviceFields,
			hash, org, id))
		if err != nil {
			return notFound(err, "set android credential %q", id)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return android.Device{}, err
	}
	return d, nil
}
