package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
)

const authUserColumns = "org_id, id, username, display_name, email, phone, status, password_hash, version, created_us, updated_us"

func scanAuthUser(row rowScanner) (auth.UserRecord, error) {
	var u auth.UserRecord
	var created, updated int64
	err := row.Scan(&u.Org, &u.ID, &u.Username, &u.DisplayName, &u.Email, &u.Phone, &u.Status, &u.PasswordHash, &u.Version, &created, &updated)
	u.Created, u.Updated = fromMicros(created), fromMicros(updated)
	return u, err
}

// authOptMicros stores a zero time as 0.
func authOptMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func authFromOptMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return fromMicros(us)
}

// foreignKey reports whether err is a foreign key violation.
func authForeignKey(err error) bool { return constraint(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY }

// unique reports whether err is a primary key or unique violation.
func authUnique(err error) bool {
	c := constraint(err)
	return c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || c == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// CreateUser implements auth.UserStore.
func (s *Store) CreateUser(ctx context.Context, u auth.UserRecord, e storage.AuditEntry) (auth.UserRecord, error) {
	if err := u.Validate(); err != nil {
		return auth.UserRecord{}, err
	}
	e, err := rules.ChangeEntry(u.Org, e)
	if err != nil {
		return auth.UserRecord{}, err
	}
	u.Version, u.Created, u.Updated = 1, e.Time, e.Time
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO auth_users ("+authUserColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			u.Org, u.ID, u.Username, u.DisplayName, u.Email, u.Phone, u.Status, u.PasswordHash, u.Version, micros(u.Created), micros(u.Updated))
		switch {
		case authForeignKey(err):
			return fmt.Errorf("create user: org %q: %w", u.Org, storage.ErrNotFound)
		case authUnique(err):
			return fmt.Errorf("create user: id %q or username %q: %w", u.ID, u.Username, storage.ErrAlreadyExists)
		case err != nil:
			return fmt.Errorf("sqlite: create user: %w", err)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return auth.UserRecord{}, err
	}
	return u, nil
}

// User implements auth.UserStore.
func (s *Store) User(ctx context.Context, org storage.OrgID, id string) (auth.UserRecord, error) {
	u, err := scanAuthUser(s.r.QueryRowContext(ctx, "SELECT "+authUserColumns+" FROM auth_users WHERE org_id = ? AND id = ?", org, id))
	if err != nil {
		return auth.UserRecord{}, notFound(err, "user %q", id)
	}
	return u, nil
}

// UserByName implements auth.UserStore.
func (s *Store) UserByName(ctx context.Context, org storage.OrgID, username string) (auth.UserRecord, error) {
	u, err := scanAuthUser(s.r.QueryRowContext(ctx, "SELECT "+authUserColumns+" FROM auth_users WHERE org_id = ? AND username = ?", org, username))
	if err != nil {
		return auth.UserRecord{}, notFound(err, "user named %q", username)
	}
	return u, nil
}

// ListUsers implements auth.UserStore.
func (s *Store) ListUsers(ctx context.Context, org storage.OrgID) ([]auth.UserRecord, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+authUserColumns+" FROM auth_users WHERE org_id = ? ORDER BY username", org)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	return authCollect(rows, "list users", scanAuthUser)
}

// authCollect scans every row with scan.
func authCollect[T any](rows *sql.Rows, what string, scan func(rowScanner) (T, error)) ([]T, error) {
	defer rows.Close()
	all := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", what, err)
		}
		all = append(all, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return all, nil
}

// UpdateUser implements auth.UserStore.
func (s *Store) UpdateUser(ctx context.Context, u auth.UserRecord, e storage.AuditEntry) (auth.UserRecord, error) {
	if err := u.Validate(); err != nil {
		return auth.UserRecord{}, err
	}
	e, err := rules.ChangeEntry(u.Org, e)
	if err != nil {
		return auth.UserRecord{}, err
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		stored, err := scanAuthUser(tx.QueryRowContext(ctx, "SELECT "+authUserColumns+" FROM auth_users WHERE org_id = ? AND id = ?", u.Org, u.ID))
		if err != nil {
			return notFound(err, "update user %q", u.ID)
		}
		if u.Version != stored.Version {
			return fmt.Errorf("update user %q: read version %d, stored %d: %w", u.ID, u.Version, stored.Version, storage.ErrConflict)
		}
		u.Version, u.Created, u.Updated = stored.Version+1, stored.Created, e.Time
		_, err = tx.ExecContext(ctx, `UPDATE auth_users SET username = ?, display_name = ?, email = ?, phone = ?, status = ?,
			password_hash = ?, version = ?, updated_us = ? WHERE org_id = ? AND id = ?`,
			u.Username, u.DisplayName, u.Email, u.Phone, u.Status, u.PasswordHash, u.Version, micros(u.Updated), u.Org, u.ID)
		if authUnique(err) {
			return fmt.Errorf("update user %q: username %q: %w", u.ID, u.Username, storage.ErrAlreadyExists)
		}
		if err != nil {
			return fmt.Errorf("sqlite: update user: %w", err)
		}
		if u.Status == auth.StatusDeactivated {
			if _, err := revokeAuthSessions(ctx, tx, u.Org, u.ID); err != nil {
				return err
			}
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return auth.UserRecord{}, err
	}
	return u, nil
}

func scanAuthGroup(row rowScanner) (auth.Group, error) {
	var g auth.Group
	err := row.Scan(&g.Org, &g.ID, &g.Name)
	return g, err
}

// CreateGroup implements auth.UserStore.
func (s *Store) CreateGroup(ctx context.Context, g auth.Group, e storage.AuditEntry) (auth.Group, error) {
	if err := g.Validate(); err != nil {
		return auth.Group{}, err
	}
	e, err := rules.ChangeEntry(g.Org, e)
	if err != nil {
		return auth.Group{}, err
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO auth_groups (org_id, id, name) VALUES (?, ?, ?)", g.Org, g.ID, g.Name)
		switch {
		case authForeignKey(err):
			return fmt.Errorf("create group: org %q: %w", g.Org, storage.ErrNotFound)
		case authUnique(err):
			return fmt.Errorf("create group: id %q or name %q: %w", g.ID, g.Name, storage.ErrAlreadyExists)
		case err != nil:
			return fmt.Errorf("sqlite: create group: %w", err)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return auth.Group{}, err
	}
	return g, nil
}

// Group implements auth.UserStore.
func (s *Store) Group(ctx context.Context, org storage.OrgID, id string) (auth.Group, error) {
	g, err := scanAuthGroup(s.r.QueryRowContext(ctx, "SELECT org_id, id, name FROM auth_groups WHERE org_id = ? AND id = ?", org, id))
	if err != nil {
		return auth.Group{}, notFound(err, "group %q", id)
	}
	return g, nil
}

// ListGroups implements auth.UserStore.
func (s *Store) ListGroups(ctx context.Context, org storage.OrgID) ([]auth.Group, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT org_id, id, name FROM auth_groups WHERE org_id = ? ORDER BY name", org)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list groups: %w", err)
	}
	return authCollect(rows, "list groups", scanAuthGroup)
}

// exists reports whether query finds a row.
func authExists(ctx context.Context, tx *sql.Tx, query string, args ...any) (bool, error) {
	var one int
	err := tx.QueryRowContext(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlite: %w", err)
	}
	return true, nil
}

// AddGroupMember implements auth.UserStore.
func (s *Store) AddGroupMember(ctx context.Context, org storage.OrgID, groupID, userID string, e storage.AuditEntry) error {
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if ok, err := authExists(ctx, tx, "SELECT 1 FROM auth_groups WHERE org_id = ? AND id = ?", org, groupID); err != nil || !ok {
			return errors.Join(err, authNotFoundIf(!ok, "add member: group %q", groupID))
		}
		if ok, err := authExists(ctx, tx, "SELECT 1 FROM auth_users WHERE org_id = ? AND id = ?", org, userID); err != nil || !ok {
			return errors.Join(err, authNotFoundIf(!ok, "add member: user %q", userID))
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO auth_group_members (org_id, group_id, user_id) VALUES (?, ?, ?)", org, groupID, userID)
		if authUnique(err) {
			return fmt.Errorf("add member: user %q in group %q: %w", userID, groupID, storage.ErrAlreadyExists)
		}
		if err != nil {
			return fmt.Errorf("sqlite: add member: %w", err)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
}

func authNotFoundIf(missing bool, format string, args ...any) error {
	if !missing {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, storage.ErrNotFound)...)
}

// RemoveGroupMember implements auth.UserStore.
func (s *Store) RemoveGroupMember(ctx context.Context, org storage.OrgID, groupID, userID string, e storage.AuditEntry) error {
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM auth_group_members WHERE org_id = ? AND group_id = ? AND user_id = ?", org, groupID, userID)
		if err != nil {
			return fmt.Errorf("sqlite: remove member: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("remove member: user %q in group %q: %w", userID, groupID, storage.ErrNotFound)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
}

// UserGroups implements auth.UserStore.
func (s *Store) UserGroups(ctx context.Context, org storage.OrgID, userID string) ([]auth.Group, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT g.org_id, g.id, g.name FROM auth_group_members m
		JOIN auth_groups g ON g.org_id = m.org_id AND g.id = m.group_id
		WHERE m.org_id = ? AND m.user_id = ? ORDER BY g.name`, org, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: user groups: %w", err)
	}
	return authCollect(rows, "user groups", scanAuthGroup)
}

// GroupMembers implements auth.UserStore.
func (s *Store) GroupMembers(ctx context.Context, org storage.OrgID, groupID string) ([]string, error) {
	if _, err := s.Group(ctx, org, groupID); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, "SELECT user_id FROM auth_group_members WHERE org_id = ? AND group_id = ? ORDER BY user_id", org, groupID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: group members: %w", err)
	}
	return authCollect(rows, "group members", func(r rowScanner) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
}

const authSignOnColumns = "org_id, mfa_required, pin_length, pin_alphanumeric, pin_allow_simple, pin_idle_timeout_s, pin_max_age_s, version, updated_us"

func scanAuthSignOn(row rowScanner) (auth.SignOn, error) {
	var so auth.SignOn
	var idle, maxAge, updated int64
	err := row.Scan(&so.Org, &so.MFARequired, &so.PIN.Length, &so.PIN.Alphanumeric, &so.PIN.AllowSimple, &idle, &maxAge, &so.Version, &updated)
	so.PIN.IdleTimeout, so.PIN.MaxAge = time.Duration(idle)*time.Second, time.Duration(maxAge)*time.Second
	so.Updated = fromMicros(updated)
	return so, err
}

// SignOn implements auth.SignOnStore.
func (s *Store) SignOn(ctx context.Context, org storage.OrgID) (auth.SignOn, error) {
	so, err := scanAuthSignOn(s.r.QueryRowContext(ctx, "SELECT "+authSignOnColumns+" FROM auth_sign_on WHERE org_id = ?", org))
	if err != nil {
		return auth.SignOn{}, notFound(err, "sign-on rule of org %q", org)
	}
	return so, nil
}

// PutSignOn implements auth.SignOnStore.
func (s *Store) PutSignOn(ctx context.Context, so auth.SignOn, e storage.AuditEntry) (auth.SignOn, error) {
	if err := so.Validate(); err != nil {
		return auth.SignOn{}, err
	}
	e, err := rules.ChangeEntry(so.Org, e)
	if err != nil {
		return auth.SignOn{}, err
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		var stored int64
		err := tx.QueryRowContext(ctx, "SELECT version FROM auth_sign_on WHERE org_id = ?", so.Org).Scan(&stored)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: put sign-on rule: %w", err)
		}
		if so.Version != stored {
			return fmt.Errorf("put sign-on rule: read version %d, stored %d: %w", so.Version, stored, storage.ErrConflict)
		}
		so.Version, so.Updated = stored+1, e.Time
		_, err = tx.ExecContext(ctx, "INSERT OR REPLACE INTO auth_sign_on ("+authSignOnColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			so.Org, so.MFARequired, so.PIN.Length, so.PIN.Alphanumeric, so.PIN.AllowSimple,
			int64(so.PIN.IdleTimeout/time.Second), int64(so.PIN.MaxAge/time.Second), so.Version, micros(so.Updated))
		if authForeignKey(err) {
			return fmt.Errorf("put sign-on rule: org %q: %w", so.Org, storage.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: put sign-on rule: %w", err)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return auth.SignOn{}, err
	}
	return so, nil
}

// TOTP implements auth.FactorStore.
func (s *Store) TOTP(ctx context.Context, org storage.OrgID, userID string) (auth.TOTPFactor, error) {
	f := auth.TOTPFactor{Org: org, UserID: userID}
	var created int64
	err := s.r.QueryRowContext(ctx, "SELECT secret, confirmed, last_step, created_us FROM auth_totp WHERE org_id = ? AND user_id = ?", org, userID).
		Scan(&f.Secret, &f.Confirmed, &f.LastStep, &created)
	if err != nil {
		return auth.TOTPFactor{}, notFound(err, "TOTP factor of user %q", userID)
	}
	f.Created = fromMicros(created)
	return f, nil
}

// PutTOTP implements auth.FactorStore.
func (s *Store) PutTOTP(ctx context.Context, f auth.TOTPFactor, e storage.AuditEntry) (auth.TOTPFactor, error) {
	if err := f.Validate(); err != nil {
		return auth.TOTPFactor{}, err
	}
	e, err := rules.ChangeEntry(f.Org, e)
	if err != nil {
		return auth.TOTPFactor{}, err
	}
	f = f.Normalize()
	f.Confirmed, f.LastStep = false, 0
	err = s.write(ctx, func(tx *sql.Tx) error {
		confirmed, err := authExists(ctx, tx, "SELECT 1 FROM auth_totp WHERE org_id = ? AND user_id = ? AND confirmed", f.Org, f.UserID)
		if err != nil {
			return err
		}
		if confirmed {
			return fmt.Errorf("put TOTP factor of user %q: a confirmed factor: %w", f.UserID, storage.ErrAlreadyExists)
		}
		_, err = tx.ExecContext(ctx, "INSERT OR REPLACE INTO auth_totp (org_id, user_id, secret, confirmed, last_step, created_us) VALUES (?, ?, ?, 0, 0, ?)",
			f.Org, f.UserID, f.Secret, micros(f.Created))
		if authForeignKey(err) {
			return fmt.Errorf("put TOTP factor: org %q: %w", f.Org, storage.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: put TOTP factor: %w", err)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return auth.TOTPFactor{}, err
	}
	return f, nil
}

// UseTOTPStep implements auth.FactorStore.
func (s *Store) UseTOTPStep(ctx context.Context, org storage.OrgID, userID string, step int64, e storage.AuditEntry) error {
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		// The compare-and-set: only a later step than the last one used.
		res, err := tx.ExecContext(ctx, "UPDATE auth_totp SET last_step = ?, confirmed = 1 WHERE org_id = ? AND user_id = ? AND last_step < ?",
			step, org, userID, step)
		if err != nil {
			return fmt.Errorf("sqlite: use TOTP step: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			ok, err := authExists(ctx, tx, "SELECT 1 FROM auth_totp WHERE org_id = ? AND user_id = ?", org, userID)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("use TOTP step: user %q: %w", userID, storage.ErrNotFound)
			}
			return fmt.Errorf("use TOTP step %d: already used or older: %w", step, storage.ErrConflict)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
}

// DeleteTOTP implements auth.FactorStore.
func (s *Store) DeleteTOTP(ctx context.Context, org storage.OrgID, userID string, e storage.AuditEntry) error {
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM auth_totp WHERE org_id = ? AND user_id = ?", org, userID)
		if err != nil {
			return fmt.Errorf("sqlite: delete TOTP factor: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("delete TOTP factor: user %q: %w", userID, storage.ErrNotFound)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
}

// PhoneCode implements auth.FactorStore.
func (s *Store) PhoneCode(ctx context.Context, org storage.OrgID, sessionID string) (auth.PhoneCode, error) {
	c := auth.PhoneCode{Org: org, SessionID: sessionID}
	var sent, expires int64
	err := s.r.QueryRowContext(ctx, "SELECT channel, salt, hash, sent_us, expires_us, sends FROM auth_phone_codes WHERE org_id = ? AND session_id = ?",
		org, sessionID).Scan(&c.Channel, &c.Salt, &c.Hash, &sent, &expires, &c.Sends)
	if err != nil {
		return auth.PhoneCode{}, notFound(err, "phone code of session %q", sessionID)
	}
	c.Sent, c.Expires = fromMicros(sent), fromMicros(expires)
	return c, nil
}

// PutPhoneCode implements auth.FactorStore.
func (s *Store) PutPhoneCode(ctx context.Context, c auth.PhoneCode, e storage.AuditEntry) (auth.PhoneCode, error) {
	if err := c.Validate(); err != nil {
		return auth.PhoneCode{}, err
	}
	e, err := rules.ChangeEntry(c.Org, e)
	if err != nil {
		return auth.PhoneCode{}, err
	}
	c = c.Normalize()
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO auth_phone_codes (org_id, session_id, channel, salt, hash, sent_us, expires_us, sends)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, c.Org, c.SessionID, c.Channel, c.Salt, c.Hash, micros(c.Sent), micros(c.Expires), c.Sends)
		if authForeignKey(err) {
			return fmt.Errorf("put phone code: session %q: %w", c.SessionID, storage.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: put phone code: %w", err)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return auth.PhoneCode{}, err
	}
	return c, nil
}

// ConsumePhoneCode implements auth.FactorStore.
func (s *Store) ConsumePhoneCode(ctx context.Context, org storage.OrgID, sessionID string, hash []byte, now time.Time, e storage.AuditEntry) error {
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM auth_phone_codes WHERE org_id = ? AND session_id = ? AND hash = ? AND expires_us > ?",
			org, sessionID, hash, micros(storage.Normalize(now)))
		if err != nil {
			return fmt.Errorf("sqlite: consume phone code: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("consume phone code of session %q: no such unexpired code: %w", sessionID, storage.ErrNotFound)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
}

// AuthFailures implements auth.Store.
func (s *Store) AuthFailures(ctx context.Context, org storage.OrgID, key string) (auth.Failures, error) {
	var f auth.Failures
	var last int64
	err := s.r.QueryRowContext(ctx, "SELECT count, last_us FROM auth_failures WHERE org_id = ? AND key = ?", org, key).Scan(&f.Count, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return auth.Failures{}, nil
	}
	if err != nil {
		return auth.Failures{}, fmt.Errorf("sqlite: failures: %w", err)
	}
	f.Last = fromMicros(last)
	return f, nil
}

// RecordAuthFailure implements auth.Store.
func (s *Store) RecordAuthFailure(ctx context.Context, org storage.OrgID, key string, at time.Time, e storage.AuditEntry) (auth.Failures, error) {
	if err := auth.ValidateFailureKey(key); err != nil {
		return auth.Failures{}, err
	}
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return auth.Failures{}, err
	}
	var f auth.Failures
	err = s.write(ctx, func(tx *sql.Tx) error {
		var last int64
		err := tx.QueryRowContext(ctx, `INSERT INTO auth_failures (org_id, key, count, last_us) VALUES (?, ?, 1, ?)
			ON CONFLICT (org_id, key) DO UPDATE SET count = count + 1, last_us = excluded.last_us
			RETURNING count, last_us`, org, key, micros(storage.Normalize(at))).Scan(&f.Count, &last)
		if authForeignKey(err) {
			return fmt.Errorf("record failure: org %q: %w", org, storage.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: record failure: %w", err)
		}
		f.Last = fromMicros(last)
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return auth.Failures{}, err
	}
	return f, nil
}

// ClearAuthFailures implements auth.Store.
func (s *Store) ClearAuthFailures(ctx context.Context, org storage.OrgID, key string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM auth_failures WHERE org_id = ? AND key = ?", org, key); err != nil {
			return fmt.Errorf("sqlite: clear failures: %w", err)
		}
		return nil
	})
}

const authSessionColumns = "org_id, id, token_hash, user_id, state, pin_hash, pin_set_us, created_us, last_used_us, expires_us, revoked, version"

func scanAuthSession(row rowScanner) (auth.Session, error) {
	var se auth.Session
	var pinSet, created, lastUsed, expires int64
	err := row.Scan(&se.Org, &se.ID, &se.TokenHash, &se.UserID, &se.State, &se.PINHash, &pinSet, &created, &lastUsed, &expires, &se.Revoked, &se.Version)
	se.PINSet, se.Created, se.LastUsed, se.Expires = authFromOptMicros(pinSet), fromMicros(created), fromMicros(lastUsed), fromMicros(expires)
	return se, err
}

// CreateSession implements auth.SessionStore.
func (s *Store) CreateSession(ctx context.Context, se auth.Session, e storage.AuditEntry) (auth.Session, error) {
	if err := se.Validate(); err != nil {
		return auth.Session{}, err
	}
	e, err := rules.ChangeEntry(se.Org, e)
	if err != nil {
		return auth.Session{}, err
	}
	se.LastUsed, se.Version, se.Revoked = se.Created, 1, false
	se = se.Normalize()
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO auth_sessions ("+authSessionColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			se.Org, se.ID, se.TokenHash, se.UserID, se.State, se.PINHash, authOptMicros(se.PINSet), micros(se.Created),
			micros(se.LastUsed), micros(se.Expires), se.Revoked, se.Version)
		switch {
		case authForeignKey(err):
			return fmt.Errorf("create session: org %q: %w", se.Org, storage.ErrNotFound)
		case authUnique(err):
			return fmt.Errorf("create session: id %q or token: %w", se.ID, storage.ErrAlreadyExists)
		case err != nil:
			return fmt.Errorf("sqlite: create session: %w", err)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return auth.Session{}, err
	}
	return se, nil
}

// SessionByToken implements auth.SessionStore.
func (s *Store) SessionByToken(ctx context.Context, org storage.OrgID, tokenHash []byte) (auth.Session, error) {
	se, err := scanAuthSession(s.r.QueryRowContext(ctx, "SELECT "+authSessionColumns+" FROM auth_sessions WHERE org_id = ? AND token_hash = ?", org, tokenHash))
	if err != nil {
		return auth.Session{}, notFound(err, "session by token")
	}
	return se, nil
}

// UpdateSession implements auth.SessionStore.
func (s *Store) UpdateSession(ctx context.Context, se auth.Session, e storage.AuditEntry) (auth.Session, error) {
	if err := se.Validate(); err != nil {
		return auth.Session{}, err
	}
	e, err := rules.ChangeEntry(se.Org, e)
	if err != nil {
		return auth.Session{}, err
	}
	se = se.Normalize()
	var stored auth.Session
	err = s.write(ctx, func(tx *sql.Tx) error {
		var err error
		stored, err = scanAuthSession(tx.QueryRowContext(ctx, "SELECT "+authSessionColumns+" FROM auth_sessions WHERE org_id = ? AND id = ?", se.Org, se.ID))
		if err != nil {
			return notFound(err, "update session %q", se.ID)
		}
		if stored.Revoked || se.Version != stored.Version {
			return fmt.Errorf("update session %q: revoked or changed (version %d, stored %d): %w", se.ID, se.Version, stored.Version, storage.ErrConflict)
		}
		stored.State, stored.PINHash, stored.PINSet, stored.Expires = se.State, se.PINHash, se.PINSet, se.Expires
		stored.Version++
		_, err = tx.ExecContext(ctx, "UPDATE auth_sessions SET state = ?, pin_hash = ?, pin_set_us = ?, expires_us = ?, version = ? WHERE org_id = ? AND id = ?",
			stored.State, stored.PINHash, authOptMicros(stored.PINSet), micros(stored.Expires), stored.Version, se.Org, se.ID)
		if err != nil {
			return fmt.Errorf("sqlite: update session: %w", err)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return auth.Session{}, err
	}
	return stored, nil
}

// TouchSession implements auth.SessionStore.
func (s *Store) TouchSession(ctx context.Context, org storage.OrgID, id string, at time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE auth_sessions SET last_used_us = max(last_used_us, ?) WHERE org_id = ? AND id = ?",
			micros(storage.Normalize(at)), org, id)
		if err != nil {
			return fmt.Errorf("sqlite: touch session: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("touch session %q: %w", id, storage.ErrNotFound)
		}
		return nil
	})
}

// RevokeSession implements auth.SessionStore.
func (s *Store) RevokeSession(ctx context.Context, org storage.OrgID, id string, e storage.AuditEntry) error {
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE auth_sessions SET revoked = 1 WHERE org_id = ? AND id = ? AND NOT revoked", org, id)
		if err != nil {
			return fmt.Errorf("sqlite: revoke session: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("revoke session %q: %w", id, storage.ErrNotFound)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM auth_phone_codes WHERE org_id = ? AND session_id = ?", org, id); err != nil {
			return fmt.Errorf("sqlite: revoke session: %w", err)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
}

// RevokeUserSessions implements auth.SessionStore.
func (s *Store) RevokeUserSessions(ctx context.Context, org storage.OrgID, userID string, e storage.AuditEntry) (int, error) {
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return 0, err
	}
	var n int
	err = s.write(ctx, func(tx *sql.Tx) error {
		var err error
		if n, err = revokeAuthSessions(ctx, tx, org, userID); err != nil {
			return err
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	return n, err
}

func revokeAuthSessions(ctx context.Context, tx *sql.Tx, org storage.OrgID, userID string) (int, error) {
	if _, err := tx.ExecContext(ctx, `DELETE FROM auth_phone_codes WHERE org_id = ? AND session_id IN
		(SELECT id FROM auth_sessions WHERE org_id = ? AND user_id = ?)`, org, org, userID); err != nil {
		return 0, fmt.Errorf("sqlite: revoke sessions: %w", err)
	}
	res, err := tx.ExecContext(ctx, "UPDATE auth_sessions SET revoked = 1 WHERE org_id = ? AND user_id = ? AND NOT revoked", org, userID)
	if err != nil {
		return 0, fmt.Errorf("sqlite: revoke sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
