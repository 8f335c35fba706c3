package sqlstore

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

const androidTokenColumns = `org_id, id, user_id, policy, mode, type, ownership, requirements, one_time, uses,
	expires_us, provider_policy, created_us FROM {android_tokens}`

func scanAndroidToken(row rowScanner) (android.Token, error) {
	var t android.Token
	var req string
	err := row.Scan(&t.Org, &t.ID, &t.UserID, &t.Policy, &t.Mode, &t.Type, &t.Ownership, &req, &t.OneTime, &t.Uses,
		us{&t.Expires}, &t.ProviderPolicy, us{&t.Created})
	if err != nil {
		return t, err
	}
	if err := json.Unmarshal([]byte(req), &t.Requirements); err != nil {
		return t, fmt.Errorf("sqlstore: decode android token requirements: %w", err)
	}
	return t, nil
}

// androidInsertErr maps the constraint errors of an insert.
func (s *Store) androidInsertErr(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case s.unique(err):
		return fmt.Errorf("create %s: %w", what, storage.ErrAlreadyExists)
	case s.foreignKey(err):
		return fmt.Errorf("create %s: org or device: %w", what, storage.ErrNotFound)
	}
	return fmt.Errorf("sqlstore: create %s: %w", what, err)
}

// CreateAndroidToken implements android.Store.
func (s *Store) CreateAndroidToken(ctx context.Context, t android.Token, e storage.AuditEntry) (android.Token, error) {
	e, err := checked(t.Validate(), t.Org, e)
	if err != nil {
		return android.Token{}, err
	}
	req, err := json.Marshal(t.Requirements)
	if err != nil {
		return android.Token{}, fmt.Errorf("%w: requirements: %w", storage.ErrInvalid, err)
	}
	limit := t.MaxOpen
	t.Uses, t.Created = 0, e.Time
	t = t.Normalize()
	err = s.write(ctx, func(tx tx) error {
		if limit > 0 {
			if err := tx.lockUser(ctx, "android-tokens", t.Org, t.UserID); err != nil {
				return err
			}
			n, err := tx.openAndroidTokens(ctx, t.Org, t.UserID, t.Created)
			if err != nil {
				return err
			}
			if n >= limit {
				return fmt.Errorf("create android token: user %q holds %d open tokens: %w", t.UserID, n, storage.ErrLimit)
			}
		}
		_, err := tx.exec(ctx, `INSERT INTO {android_tokens} (org_id, id, user_id, policy, mode, type, ownership,
			requirements, one_time, uses, expires_us, provider_policy, created_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)`,
			t.Org, t.ID, t.UserID, t.Policy, t.Mode, t.Type, t.Ownership, string(req), t.OneTime, micros(t.Expires), t.ProviderPolicy, micros(t.Created))
		if err := s.androidInsertErr(err, "android token"); err != nil {
			return err
		}
		return tx.audit(ctx, e)
	})
	return done(t, err)
}

// openTokensWhere selects a user's open tokens at a time.
const openTokensWhere = "org_id = ? AND user_id = ? AND expires_us > ? AND NOT (one_time AND uses > 0)"

func (tx tx) openAndroidTokens(ctx context.Context, org storage.OrgID, userID string, at time.Time) (int, error) {
	var n int
	if err := tx.queryRow(ctx, "SELECT count(*) FROM {android_tokens} WHERE "+openTokensWhere, org, userID, micros(at)).Scan(&n); err != nil {
		return 0, tx.s.fail("count open android tokens", err)
	}
	return n, nil
}

// OpenAndroidTokens implements android.Store.
func (s *Store) OpenAndroidTokens(ctx context.Context, org storage.OrgID, userID string, at time.Time) (int, error) {
	var n int
	if err := s.queryRow(ctx, "SELECT count(*) FROM {android_tokens} WHERE "+openTokensWhere, org, userID, micros(storage.Normalize(at))).Scan(&n); err != nil {
		return 0, s.fail("count open android tokens", err)
	}
	return n, nil
}

// AndroidToken implements android.Store.
func (s *Store) AndroidToken(ctx context.Context, org storage.OrgID, id string) (android.Token, error) {
	return get(s, scanAndroidToken, s.queryRow(ctx, "SELECT "+androidTokenColumns+" WHERE org_id = ? AND id = ?", org, id), "android token")
}

// UseAndroidToken implements android.Store.
func (s *Store) UseAndroidToken(ctx context.Context, org storage.OrgID, id string, at time.Time, e storage.AuditEntry) (android.Token, error) {
	e, err := changeEntry(org, e)
	if err != nil {
		return android.Token{}, err
	}
	if at.IsZero() {
		return android.Token{}, fmt.Errorf("%w: use time is zero", storage.ErrInvalid)
	}
	var t android.Token
	err = s.write(ctx, func(tx tx) error {
		var err error
		if t, err = tx.useAndroidToken(ctx, org, id, at); err != nil {
			return err
		}
		return tx.audit(ctx, e)
	})
	return done(t, err)
}

// useAndroidToken counts one use of the token inside tx.
func (tx tx) useAndroidToken(ctx context.Context, org storage.OrgID, id string, at time.Time) (android.Token, error) {
	t, err := scanAndroidToken(tx.queryRow(ctx, "SELECT "+androidTokenColumns+" WHERE org_id = ? AND id = ? {FOR UPDATE}", org, id))
	if err != nil {
		return t, tx.s.notFound(err, "use android token")
	}
	if !storage.Normalize(at).Before(t.Expires) {
		return t, fmt.Errorf("use android token: expired: %w", storage.ErrConflict)
	}
	if t.OneTime && t.Uses > 0 {
		return t, fmt.Errorf("use android token: already used: %w", storage.ErrConflict)
	}
	if _, err := tx.exec(ctx, "UPDATE {android_tokens} SET uses = uses + 1 WHERE org_id = ? AND id = ?", org, id); err != nil {
		return t, fmt.Errorf("sqlstore: use android token: %w", err)
	}
	t.Uses++
	return t, nil
}

// EnrollAndroidDevice implements android.Store.
func (s *Store) EnrollAndroidDevice(ctx context.Context, en android.TokenEnrollment) (android.Device, error) {
	d, inv := en.Device, en.Inventory
	if en.At.IsZero() {
		return android.Device{}, fmt.Errorf("%w: enrollment time is zero", storage.ErrInvalid)
	}
	if d.Org != inv.Org || d.ID != inv.ID || d.TokenID != en.Token {
		return android.Device{}, fmt.Errorf("%w: the enrollment's records name different orgs, devices or tokens", storage.ErrInvalid)
	}
	useEntry, err := changeEntry(d.Org, en.UseEntry)
	if err != nil {
		return android.Device{}, err
	}
	regEntry, err := checked(inv.Validate(), inv.Org, en.RegisterEntry)
	if err != nil {
		return android.Device{}, err
	}
	devEntry, err := checked(d.Validate(), d.Org, en.DeviceEntry)
	if err != nil {
		return android.Device{}, err
	}
	req, err := json.Marshal(d.Requirements)
	if err != nil {
		return android.Device{}, fmt.Errorf("%w: requirements: %w", storage.ErrInvalid, err)
	}
	d.Created = devEntry.Time
	d = d.Normalize()
	err = s.write(ctx, func(tx tx) error {
		if _, err := tx.useAndroidToken(ctx, d.Org, en.Token, en.At); err != nil {
			return err
		}
		if err := tx.audit(ctx, useEntry); err != nil {
			return err
		}
		if _, err := tx.insertDevice(ctx, inv, regEntry); err != nil {
			return err
		}
		return tx.insertAndroidDevice(ctx, d, string(req), devEntry)
	})
	if err != nil {
		return android.Device{}, err
	}
	return d, nil
}

const (
	androidDeviceFields = `org_id, id, user_id, policy, mode, type, ownership, token_id, requirements, credential_hash,
	provider_name, provider_policy, created_us`
	androidDeviceColumns = androidDeviceFields + " FROM {android_devices}"
)

func scanAndroidDevice(row rowScanner) (android.Device, error) {
	var d android.Device
	var req string
	err := row.Scan(&d.Org, &d.ID, &d.UserID, &d.Policy, &d.Mode, &d.Type, &d.Ownership, &d.TokenID, &req, &d.CredentialHash,
		&d.ProviderName, &d.ProviderPolicy, us{&d.Created})
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal([]byte(req), &d.Requirements); err != nil {
		return d, fmt.Errorf("sqlstore: decode android device requirements: %w", err)
	}
	return d.Normalize(), nil
}

// CreateAndroidDevice implements android.Store.
func (s *Store) CreateAndroidDevice(ctx context.Context, d android.Device, e storage.AuditEntry) (android.Device, error) {
	e, err := checked(d.Validate(), d.Org, e)
	if err != nil {
		return android.Device{}, err
	}
	req, err := json.Marshal(d.Requirements)
	if err != nil {
		return android.Device{}, fmt.Errorf("%w: requirements: %w", storage.ErrInvalid, err)
	}
	d.Created = e.Time
	d = d.Normalize()
	err = s.write(ctx, func(tx tx) error { return tx.insertAndroidDevice(ctx, d, string(req), e) })
	if err != nil {
		return android.Device{}, err
	}
	return d.Normalize(), nil
}

// insertAndroidDevice stores the Android side of an enrollment, with its
// entry, inside tx.
func (tx tx) insertAndroidDevice(ctx context.Context, d android.Device, req string, e storage.AuditEntry) error {
	_, err := tx.exec(ctx, `INSERT INTO {android_devices} (org_id, id, user_id, policy, mode, type, ownership, token_id,
		requirements, credential_hash, provider_name, provider_policy, created_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.Org, d.ID, d.UserID, d.Policy, d.Mode, d.Type, d.Ownership, d.TokenID, req, nullBytes(d.CredentialHash),
		d.ProviderName, d.ProviderPolicy, micros(d.Created))
	if err := tx.s.androidInsertErr(err, "android device"); err != nil {
		return err
	}
	return tx.audit(ctx, e)
}

// AndroidDevice implements android.Store.
func (s *Store) AndroidDevice(ctx context.Context, org storage.OrgID, id string) (android.Device, error) {
	return get(s, scanAndroidDevice, s.queryRow(ctx, "SELECT "+androidDeviceColumns+" WHERE org_id = ? AND id = ?", org, id), "android device %q", id)
}

const androidCommandColumns = `org_id, id, device_id, kind, wipe, status, detail, created_us, updated_us FROM {android_commands}`

func scanAndroidCommand(row rowScanner) (android.Command, error) {
	var c android.Command
	if err := row.Scan(&c.Org, &c.ID, &c.DeviceID, &c.Kind, &c.Wipe, &c.Status, &c.Detail, us{&c.Created}, us{&c.Updated}); err != nil {
		return c, err
	}
	return c, nil
}

// CreateAndroidCommand implements android.Store.
func (s *Store) CreateAndroidCommand(ctx context.Context, c android.Command, e storage.AuditEntry) (android.Command, error) {
	e, err := checked(c.Validate(), c.Org, e)
	if err != nil {
		return android.Command{}, err
	}
	c.Created, c.Updated = e.Time, e.Time
	c = c.Normalize()
	err = s.write(ctx, func(tx tx) error {
		_, err := tx.exec(ctx, `INSERT INTO {android_commands} (org_id, id, device_id, kind, wipe, status, detail, created_us, updated_us)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.Org, c.ID, c.DeviceID, c.Kind, c.Wipe, c.Status, c.Detail, micros(c.Created), micros(c.Updated))
		if err := s.androidInsertErr(err, "android command"); err != nil {
			return err
		}
		return tx.audit(ctx, e)
	})
	return done(c, err)
}

// StartAndroidWipe implements android.Store.
func (s *Store) StartAndroidWipe(ctx context.Context, c android.Command, e, state storage.AuditEntry) (android.Command, error) {
	invalid := c.Validate()
	if invalid == nil && c.Kind != android.CommandWipe {
		invalid = fmt.Errorf("%w: android command %q is a %s, not a wipe", storage.ErrInvalid, c.ID, c.Kind)
	}
	e, err := checked(invalid, c.Org, e)
	if err != nil {
		return android.Command{}, err
	}
	if state, err = changeEntry(c.Org, state); err != nil {
		return android.Command{}, err
	}
	c.Created, c.Updated = e.Time, e.Time
	c = c.Normalize()
	err = s.write(ctx, func(tx tx) error {
		d, err := tx.lockDevice(ctx, c.Org, c.DeviceID, "wipe device %q")
		if err != nil {
			return err
		}
		switch d.State {
		case inventory.StateDeprovisioning:
		case inventory.StateEnrolled:
			if _, err := tx.exec(ctx, "UPDATE {devices} SET state = ?, version = ?, updated_us = ? WHERE org_id = ? AND id = ?",
				inventory.StateDeprovisioning, d.Version+1, micros(state.Time), c.Org, c.DeviceID); err != nil {
				return fmt.Errorf("sqlstore: update device: %w", err)
			}
			if err := tx.audit(ctx, state); err != nil {
				return err
			}
		default:
			return fmt.Errorf("wipe device %q: %w: it is %s", c.DeviceID, inventory.ErrTransition, d.State)
		}
		_, err = tx.exec(ctx, `INSERT INTO {android_commands} (org_id, id, device_id, kind, wipe, status, detail, created_us, updated_us)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.Org, c.ID, c.DeviceID, c.Kind, c.Wipe, c.Status, c.Detail, micros(c.Created), micros(c.Updated))
		if err := s.androidInsertErr(err, "android command"); err != nil {
			return err
		}
		return tx.audit(ctx, e)
	})
	return done(c, err)
}

// AndroidCommand implements android.Store.
func (s *Store) AndroidCommand(ctx context.Context, org storage.OrgID, id string) (android.Command, error) {
	return get(s, scanAndroidCommand, s.queryRow(ctx, "SELECT "+androidCommandColumns+" WHERE org_id = ? AND id = ?", org, id), "android command %q", id)
}

// PendingAndroidCommands implements android.Store.
func (s *Store) PendingAndroidCommands(ctx context.Context, org storage.OrgID, deviceID string) ([]android.Command, error) {
	rows, err := s.query(ctx, "SELECT "+androidCommandColumns+
		" WHERE org_id = ? AND device_id = ? AND status = 'pending' ORDER BY created_us, id", org, deviceID)
	out, err := collect(rows, err, scanAndroidCommand)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: pending android commands: %w", err)
	}
	return out, nil
}

// FinishAndroidCommand implements android.Store.
func (s *Store) FinishAndroidCommand(ctx context.Context, org storage.OrgID, id string, status android.Status, detail string, e storage.AuditEntry) (android.Command, error) {
	if err := android.CheckFinish(status, detail); err != nil {
		return android.Command{}, err
	}
	e, err := changeEntry(org, e)
	if err != nil {
		return android.Command{}, err
	}
	var c android.Command
	err = s.write(ctx, func(tx tx) error {
		var err error
		c, err = scanAndroidCommand(tx.queryRow(ctx, "SELECT "+androidCommandColumns+" WHERE org_id = ? AND id = ? {FOR UPDATE}", org, id))
		if err != nil {
			return s.notFound(err, "finish android command %q", id)
		}
		if c.Status != android.StatusPending {
			return fmt.Errorf("finish android command %q: it is %s: %w", id, c.Status, storage.ErrConflict)
		}
		if _, err := tx.exec(ctx, "UPDATE {android_commands} SET status = ?, detail = ?, updated_us = ? WHERE org_id = ? AND id = ?",
			status, detail, micros(e.Time), org, id); err != nil {
			return fmt.Errorf("sqlstore: finish android command: %w", err)
		}
		c.Status, c.Detail, c.Updated = status, detail, e.Time
		return tx.audit(ctx, e)
	})
	return done(c, err)
}

// SetAndroidCredential implements android.Store.
func (s *Store) SetAndroidCredential(ctx context.Context, org storage.OrgID, id string, hash []byte, e storage.AuditEntry) (android.Device, error) {
	if len(hash) != sha256.Size {
		return android.Device{}, fmt.Errorf("%w: credential hash must be %d bytes", storage.ErrInvalid, sha256.Size)
	}
	e, err := changeEntry(org, e)
	if err != nil {
		return android.Device{}, err
	}
	var d android.Device
	err = s.write(ctx, func(tx tx) error {
		var err error
		d, err = scanAndroidDevice(tx.queryRow(ctx, "UPDATE {android_devices} SET credential_hash = ? WHERE org_id = ? AND id = ? RETURNING "+
			androidDeviceFields, hash, org, id))
		if err != nil {
			return s.notFound(err, "set android credential %q", id)
		}
		return tx.audit(ctx, e)
	})
	return done(d, err)
}

// RevokeUserTokens implements android.TokenRevoker.
func (s *Store) RevokeUserTokens(ctx context.Context, org storage.OrgID, userID string, at time.Time, e storage.AuditEntry) (int, error) {
	e, err := changeEntry(org, e)
	if err != nil {
		return 0, err
	}
	if userID == "" || len(userID) > storage.MaxIDLen || at.IsZero() {
		return 0, fmt.Errorf("%w: revoke tokens: user ID must be 1-%d bytes and the time set", storage.ErrInvalid, storage.MaxIDLen)
	}
	us := micros(storage.Normalize(at))
	var n int64
	err = s.write(ctx, func(tx tx) error {
		if n, err = tx.affected(ctx, `UPDATE {android_tokens} SET expires_us = ?
			WHERE org_id = ? AND user_id = ? AND expires_us > ? AND NOT (one_time AND uses > 0)`, us, org, userID, us); err != nil {
			return s.fail("revoke android tokens", err)
		}
		if n == 0 {
			return nil
		}
		e.Details = maps.Clone(e.Details)
		if e.Details == nil {
			e.Details = map[string]string{}
		}
		e.Details["tokens"] = strconv.FormatInt(n, 10)
		return tx.audit(ctx, e)
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// TokenUsers implements android.TokenRevoker.
func (s *Store) TokenUsers(ctx context.Context, org storage.OrgID, at time.Time) ([]string, error) {
	rows, err := s.query(ctx, `SELECT DISTINCT user_id FROM {android_tokens}
		WHERE org_id = ? AND expires_us > ? AND NOT (one_time AND uses > 0) ORDER BY 1`, org, micros(storage.Normalize(at)))
	return list(s, "android token users", rows, err, scanString)
}
