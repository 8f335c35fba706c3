package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
	sqlite3 "modernc.org/sqlite/lib"
)

const androidTokenColumns = `org_id, id, user_id, policy, mode, type, ownership, requirements, one_time, uses,
	expires_us, provider_policy, created_us FROM android_tokens`

func scanAndroidToken(row rowScanner) (android.Token, error) {
	var t android.Token
	var req string
	var expires, created int64
	err := row.Scan(&t.Org, &t.ID, &t.UserID, &t.Policy, &t.Mode, &t.Type, &t.Ownership, &req, &t.OneTime, &t.Uses,
		&expires, &t.ProviderPolicy, &created)
	if err != nil {
		return t, err
	}
	if err := json.Unmarshal([]byte(req), &t.Requirements); err != nil {
		return t, fmt.Errorf("sqlite: decode android token requirements: %w", err)
	}
	t.Expires, t.Created = fromMicros(expires), fromMicros(created)
	return t, nil
}

// androidInsertErr maps the constraint errors of an insert.
func androidInsertErr(err error, what string) error {
	switch constraint(err) {
	case 0:
		if err != nil {
			return fmt.Errorf("sqlite: create %s: %w", what, err)
		}
		return nil
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return fmt.Errorf("create %s: %w", what, storage.ErrAlreadyExists)
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return fmt.Errorf("create %s: org or device: %w", what, storage.ErrNotFound)
	}
	return fmt.Errorf("sqlite: create %s: %w", what, err)
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
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO android_tokens (org_id, id, user_id, policy, mode, type, ownership,
			requirements, one_time, uses, expires_us, provider_policy, created_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)`,
			t.Org, t.ID, t.UserID, t.Policy, t.Mode, t.Type, t.Ownership, string(req), t.OneTime, micros(t.Expires), t.ProviderPolicy, micros(t.Created))
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
	t, err := scanAndroidToken(s.r.QueryRowContext(ctx, "SELECT "+androidTokenColumns+" WHERE org_id = ? AND id = ?", org, id))
	if err != nil {
		return android.Token{}, notFound(err, "android token")
	}
	return t, nil
}

// UseAndroidToken implements android.Store.
func (s *Store) UseAndroidToken(ctx context.Context, org storage.OrgID, id string, at time.Time, e storage.AuditEntry) (android.Token, error) {
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return android.Token{}, err
	}
	if at.IsZero() {
		return android.Token{}, fmt.Errorf("%w: use time is zero", storage.ErrInvalid)
	}
	var t android.Token
	err = s.write(ctx, func(tx *sql.Tx) error {
		var err error
		t, err = scanAndroidToken(tx.QueryRowContext(ctx, "SELECT "+androidTokenColumns+" WHERE org_id = ? AND id = ?", org, id))
		if err != nil {
			return notFound(err, "use android token")
		}
		if !storage.Normalize(at).Before(t.Expires) {
			return fmt.Errorf("use android token: expired: %w", storage.ErrConflict)
		}
		if t.OneTime && t.Uses > 0 {
			return fmt.Errorf("use android token: already used: %w", storage.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE android_tokens SET uses = uses + 1 WHERE org_id = ? AND id = ?", org, id); err != nil {
			return fmt.Errorf("sqlite: use android token: %w", err)
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

const androidDeviceColumns = `org_id, id, user_id, policy, mode, type, ownership, token_id, requirements, credential_hash,
	provider_name, provider_policy, created_us FROM android_devices`

func scanAndroidDevice(row rowScanner) (android.Device, error) {
	var d android.Device
	var req string
	var created int64
	err := row.Scan(&d.Org, &d.ID, &d.UserID, &d.Policy, &d.Mode, &d.Type, &d.Ownership, &d.TokenID, &req, &d.CredentialHash,
		&d.ProviderName, &d.ProviderPolicy, &created)
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal([]byte(req), &d.Requirements); err != nil {
		return d, fmt.Errorf("sqlite: decode android device requirements: %w", err)
	}
	d.Created = fromMicros(created)
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
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO android_devices (org_id, id, user_id, policy, mode, type, ownership, token_id,
			requirements, credential_hash, provider_name, provider_policy, created_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.Org, d.ID, d.UserID, d.Policy, d.Mode, d.Type, d.Ownership, d.TokenID, string(req), nullBytes(d.CredentialHash),
			d.ProviderName, d.ProviderPolicy, micros(d.Created))
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
	d, err := scanAndroidDevice(s.r.QueryRowContext(ctx, "SELECT "+androidDeviceColumns+" WHERE org_id = ? AND id = ?", org, id))
	if err != nil {
		return android.Device{}, notFound(err, "android device %q", id)
	}
	return d, nil
}

const androidCommandColumns = `org_id, id, device_id, kind, wipe, status, detail, created_us, updated_us FROM android_commands`

func scanAndroidCommand(row rowScanner) (android.Command, error) {
	var c android.Command
	var created, updated int64
	if err := row.Scan(&c.Org, &c.ID, &c.DeviceID, &c.Kind, &c.Wipe, &c.Status, &c.Detail, &created, &updated); err != nil {
		return c, err
	}
	c.Created, c.Updated = fromMicros(created), fromMicros(updated)
	return c, nil
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
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO android_commands (org_id, id, device_id, kind, wipe, status, detail, created_us, updated_us)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.Org, c.ID, c.DeviceID, c.Kind, c.Wipe, c.Status, c.Detail, micros(c.Created), micros(c.Updated))
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
	c, err := scanAndroidCommand(s.r.QueryRowContext(ctx, "SELECT "+androidCommandColumns+" WHERE org_id = ? AND id = ?", org, id))
	if err != nil {
		return android.Command{}, notFound(err, "android command %q", id)
	}
	return c, nil
}

// PendingAndroidCommands implements android.Store.
func (s *Store) PendingAndroidCommands(ctx context.Context, org storage.OrgID, deviceID string) ([]android.Command, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+androidCommandColumns+
		" WHERE org_id = ? AND device_id = ? AND status = 'pending' ORDER BY created_us, id", org, deviceID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending android commands: %w", err)
	}
	defer rows.Close()
	out := []android.Command{}
	for rows.Next() {
		c, err := scanAndroidCommand(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: pending android commands: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: pending android commands: %w", err)
	}
	return out, nil
}

// FinishAndroidCommand implements android.Store.
func (s *Store) FinishAndroidCommand(ctx context.Context, org storage.OrgID, id string, status android.Status, detail string, e storage.AuditEntry) (android.Command, error) {
	if err := android.CheckFinish(status, detail); err != nil {
		return android.Command{}, err
	}
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return android.Command{}, err
	}
	var c android.Command
	err = s.write(ctx, func(tx *sql.Tx) error {
		var err error
		c, err = scanAndroidCommand(tx.QueryRowContext(ctx, "SELECT "+androidCommandColumns+" WHERE org_id = ? AND id = ?", org, id))
		if err != nil {
			return notFound(err, "finish android command %q", id)
		}
		if c.Status != android.StatusPending {
			return fmt.Errorf("finish android command %q: it is %s: %w", id, c.Status, storage.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE android_commands SET status = ?, detail = ?, updated_us = ? WHERE org_id = ? AND id = ?",
			status, detail, micros(e.Time), org, id); err != nil {
			return fmt.Errorf("sqlite: finish android command: %w", err)
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
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE android_devices SET credential_hash = ? WHERE org_id = ? AND id = ?", hash, org, id)
		if err != nil {
			return fmt.Errorf("sqlite: set android credential: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return notFound(sql.ErrNoRows, "set android credential %q", id)
		}
		if _, err := appendAudit(ctx, tx, e); err != nil {
			return err
		}
		d, err = scanAndroidDevice(tx.QueryRowContext(ctx, "SELECT "+androidDeviceColumns+" WHERE org_id = ? AND id = ?", org, id))
		return err
	})
	if err != nil {
		return android.Device{}, err
	}
	return d, nil
}
