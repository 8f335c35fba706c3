package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
)

const authUserColumns = "org_id, id, username, display_name, email, phone, status, password_hash, version, created, updated"

func scanAuthUser(row pgx.Row) (auth.UserRecord, error) {
	var u auth.UserRecord
	err := row.Scan(&u.Org, &u.ID, &u.Username, &u.DisplayName, &u.Email, &u.Phone, &u.Status, &u.PasswordHash, &u.Version, &u.Created, &u.Updated)
	u.Created, u.Updated = u.Created.UTC(), u.Updated.UTC()
	return u, err
}

// authCollect scans every row with scan; an empty result is an empty slice.
func authCollect[T any](rows pgx.Rows, what string, scan func(pgx.Row) (T, error)) ([]T, error) {
	all, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) { return scan(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	if all == nil {
		all = []T{}
	}
	return all, nil
}

// authExists reports whether query finds a row.
func authExists(ctx context.Context, tx pgx.Tx, query string, args ...any) (bool, error) {
	var one int
	err := tx.QueryRow(ctx, query, args...).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("postgres: %w", err)
	}
	return true, nil
}

// authOptTime stores a zero time as NULL.
func authOptTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func authFromOptTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
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
	err = s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO auth_users ("+authUserColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
			u.Org, u.ID, u.Username, u.DisplayName, u.Email, u.Phone, u.Status, u.PasswordHash, u.Version, u.Created, u.Updated)
		if err := insertError(err, "create user", u.Org, fmt.Sprintf("id %q or username %q", u.ID, u.Username)); err != nil {
			return err
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
	u, err := scanAuthUser(s.pool.QueryRow(ctx, "SELECT "+authUserColumns+" FROM auth_users WHERE org_id = $1 AND id = $2", org, id))
	if err != nil {
		return auth.UserRecord{}, notFound(err, "user %q", id)
	}
	return u, nil
}

// UserByName implements auth.UserStore.
func (s *Store) UserByName(ctx context.Context, org storage.OrgID, username string) (auth.UserRecord, error) {
	u, err := scanAuthUser(s.pool.QueryRow(ctx, "SELECT "+authUserColumns+" FROM auth_users WHERE org_id = $1 AND username = $2", org, username))
	if err != nil {
		return auth.UserRecord{}, notFound(err, "user named %q", username)
	}
	return u, nil
}

// ListUsers implements auth.UserStore.
func (s *Store) ListUsers(ctx context.Context, org storage.OrgID) ([]auth.UserRecord, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+authUserColumns+` FROM auth_users WHERE org_id = $1 ORDER BY username COLLATE "C"`, org)
	if err != nil {
		return nil, fmt.Errorf("postgres: list users: %w", err)
	}
	return authCollect(rows, "list users", scanAuthUser)
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
	err = s.write(ctx, func(tx pgx.Tx) error {
		stored, err := scanAuthUser(tx.QueryRow(ctx, "SELECT "+authUserColumns+" FROM auth_users WHERE org_id = $1 AND id = $2 FOR UPDATE", u.Org, u.ID))
		if err != nil {
			return notFound(err, "update user %q", u.ID)
		}
		if u.Version != stored.Version {
			return fmt.Errorf("update user %q: read version %d, stored %d: %w", u.ID, u.Version, stored.Version, storage.ErrConflict)
		}
		u.Version, u.Created, u.Updated = stored.Version+1, stored.Created, e.Time
		_, err = tx.Exec(ctx, `UPDATE auth_users SET username = $1, display_name = $2, email = $3, phone = $4, status = $5,
			password_hash = $6, version = $7, updated = $8 WHERE org_id = $9 AND id = $10`,
			u.Username, u.DisplayName, u.Email, u.Phone, u.Status, u.PasswordHash, u.Version, u.Updated, u.Org, u.ID)
		if violation(err, uniqueViolation) != nil {
			return fmt.Errorf("update user %q: username %q: %w", u.ID, u.Username, storage.ErrAlreadyExists)
		}
		if err != nil {
			return fmt.Errorf("postgres: update user: %w", err)
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

func scanAuthGroup(row pgx.Row) (auth.Group, error) {
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
	err = s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO auth_groups (org_id, id, name) VALUES ($1, $2, $3)", g.Org, g.ID, g.Name)
		if err := insertError(err, "create group", g.Org, fmt.Sprintf("id %q or name %q", g.ID, g.Name)); err != nil {
			return err
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
	g, err := scanAuthGroup(s.pool.QueryRow(ctx, "SELECT org_id, id, name FROM auth_groups WHERE org_id = $1 AND id = $2", org, id))
	if err != nil {
		return auth.Group{}, notFound(err, "group %q", id)
	}
	return g, nil
}

// ListGroups implements auth.UserStore.
func (s *Store) ListGroups(ctx context.Context, org storage.OrgID) ([]auth.Group, error) {
	rows, err := s.pool.Query(ctx, `SELECT org_id, id, name FROM auth_groups WHERE org_id = $1 ORDER BY name COLLATE "C"`, org)
	if err != nil {
		return nil, fmt.Errorf("postgres: list groups: %w", err)
	}
	return authCollect(rows, "list groups", scanAuthGroup)
}

func authNotFoundIf(missing bool, format string, args ...any) error {
	if !missing {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, storage.ErrNotFound)...)
}

// AddGroupMember implements auth.UserStore.
func (s *Store) AddGroupMember(ctx context.Context, org storage.OrgID, groupID, userID string, e storage.AuditEntry) error {
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx pgx.Tx) error {
		if ok, err := authExists(ctx, tx, "SELECT 1 FROM auth_groups WHERE org_id = $1 AND id = $2", org, groupID); err != nil || !ok {
			return errors.Join(err, authNotFoundIf(!ok, "add member: group %q", groupID))
		}
		if ok, err := authExists(ctx, tx, "SELECT 1 FROM auth_users WHERE org_id = $1 AND id = $2", org, userID); err != nil || !ok {
			return errors.Join(err, authNotFoundIf(!ok, "add member: user %q", userID))
		}
		_, err := tx.Exec(ctx, "INSERT INTO auth_group_members (org_id, group_id, user_id) VALUES ($1, $2, $3)", org, groupID, userID)
		switch {
		case violation(err, uniqueViolation) != nil:
			return fmt.Errorf("add member: user %q in group %q: %w", userID, groupID, storage.ErrAlreadyExists)
		case violation(err, foreignKeyViolation) != nil: // removed concurrently
			return fmt.Errorf("add member: group %q or user %q: %w", groupID, userID, storage.ErrNotFound)
		case err != nil:
			return fmt.Errorf("postgres: add member: %w", err)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
}

// RemoveGroupMember implements auth.UserStore.
func (s *Store) RemoveGroupMember(ctx context.Context, org storage.OrgID, groupID, userID string, e storage.AuditEntry) error {
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM auth_group_members WHERE org_id = $1 AND group_id = $2 AND user_id = $3", org, groupID, userID)
		if err != nil {
			return fmt.Errorf("postgres: remove member: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("remove member: user %q in group %q: %w", userID, groupID, storage.ErrNotFound)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
}

// UserGroups implements auth.UserStore.
func (s *Store) UserGroups(ctx context.Context, org storage.OrgID, userID string) ([]auth.Group, error) {
	rows, err := s.pool.Query(ctx, `SELECT g.org_id, g.id, g.name FROM auth_group_members m
		JOIN auth_groups g ON g.org_id = m.org_id AND g.id = m.group_id
		WHERE m.org_id = $1 AND m.user_id = $2 ORDER BY g.name COLLATE "C"`, org, userID)
	if err != nil {
		return nil, fmt.Errorf("postgres: user groups: %w", err)
	}
	return authCollect(rows, "user groups", scanAuthGroup)
}

// GroupMembers implements auth.UserStore.
func (s *Store) GroupMembers(ctx context.Context, org storage.OrgID, groupID string) ([]string, error) {
	if _, err := s.Group(ctx, org, groupID); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT user_id FROM auth_group_members WHERE org_id = $1 AND group_id = $2 ORDER BY user_id COLLATE "C"`, org, groupID)
	if err != nil {
		return nil, fmt.Errorf("postgres: group members: %w", err)
	}
	return authCollect(rows, "group members", func(r pgx.Row) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
}

const authSignOnColumns = "org_id, mfa_required, pin_length, pin_alphanumeric, pin_allow_simple, pin_idle_timeout_s, pin_max_age_s, version, updated"

func scanAuthSignOn(row pgx.Row) (auth.SignOn, error) {
	var so auth.SignOn
	var idle, maxAge int64
	err := row.Scan(&so.Org, &so.MFARequired, &so.PIN.Length, &so.PIN.Alphanumeric, &so.PIN.AllowSimple, &idle, &maxAge, &so.Version, &so.Updated)
	so.PIN.IdleTimeout, so.PIN.MaxAge = time.Duration(idle)*time.Second, time.Duration(maxAge)*time.Second
	so.Updated = so.Updated.UTC()
	return so, err
}

// SignOn implements auth.SignOnStore.
func (s *Store) SignOn(ctx context.Context, org storage.OrgID) (auth.SignOn, error) {
	so, err := scanAuthSignOn(s.pool.QueryRow(ctx, "SELECT "+authSignOnColumns+" FROM auth_sign_on WHERE org_id = $1", org))
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
	err = s.write(ctx, func(tx pgx.Tx) error {
		var stored int64
		err := tx.QueryRow(ctx, "SELECT version FROM auth_sign_on WHERE org_id = $1 FOR UPDATE", so.Org).Scan(&stored)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: put sign-on rule: %w", err)
		}
		if so.Version != stored {
			return fmt.Errorf("put sign-on rule: read version %d, stored %d: %w", so.Version, stored, storage.ErrConflict)
		}
		so.Version, so.Updated = stored+1, e.Time
		// The version in the conflict clause makes two first writers
		// conflict instead of both succeeding.
		tag, err := tx.Exec(ctx, "INSERT INTO auth_sign_on ("+authSignOnColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (org_id) DO UPDATE SET mfa_required = excluded.mfa_required, pin_length = excluded.pin_length,
			pin_alphanumeric = excluded.pin_alphanumeric, pin_allow_simple = excluded.pin_allow_simple,
			pin_idle_timeout_s = excluded.pin_idle_timeout_s, pin_max_age_s = excluded.pin_max_age_s,
			version = excluded.version, updated = excluded.updated
			WHERE auth_sign_on.version = $10`,
			so.Org, so.MFARequired, so.PIN.Length, so.PIN.Alphanumeric, so.PIN.AllowSimple,
			int64(so.PIN.IdleTimeout/time.Second), int64(so.PIN.MaxAge/time.Second), so.Version, so.Updated, stored)
		if violation(err, foreignKeyViolation) != nil {
			return fmt.Errorf("put sign-on rule: org %q: %w", so.Org, storage.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("postgres: put sign-on rule: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("put sign-on rule: changed concurrently: %w", storage.ErrConflict)
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
	err := s.pool.QueryRow(ctx, "SELECT secret, confirmed, last_step, created FROM auth_totp WHERE org_id = $1 AND user_id = $2", org, userID).
		Scan(&f.Secret, &f.Confirmed, &f.LastStep, &f.Created)
	if err != nil {
		return auth.TOTPFactor{}, notFound(err, "TOTP factor of user %q", userID)
	}
	f.Created = f.Created.UTC()
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
	err = s.write(ctx, func(tx pgx.Tx) error {
		// Only an unconfirmed factor is replaced; a confirmed one leaves
		// the upsert with no row.
		tag, err := tx.Exec(ctx, `INSERT INTO auth_totp (org_id, user_id, secret, confirmed, last_step, created) VALUES ($1, $2, $3, false, 0, $4)
			ON CONFLICT (org_id, user_id) DO UPDATE SET secret = excluded.secret, confirmed = false, last_step = 0, created = excluded.created
			WHERE NOT auth_totp.confirmed`, f.Org, f.UserID, f.Secret, f.Created)
		if violation(err, foreignKeyViolation) != nil {
			return fmt.Errorf("put TOTP factor: org %q: %w", f.Org, storage.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("postgres: put TOTP factor: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("put TOTP factor of user %q: a confirmed factor: %w", f.UserID, storage.ErrAlreadyExists)
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
	return s.write(ctx, func(tx pgx.Tx) error {
		// The compare-and-set: the row lock makes a concurrent caller with
		// the same step wait, re-check the condition and find it false.
		tag, err := tx.Exec(ctx, "UPDATE auth_totp SET last_step = $1, confirmed = true WHERE org_id = $2 AND user_id = $3 AND last_step < $1",
			step, org, userID)
		if err != nil {
			return fmt.Errorf("postgres: use TOTP step: %w", err)
		}
		if tag.RowsAffected() == 0 {
			ok, err := authExists(ctx, tx, "SELECT 1 FROM auth_totp WHERE org_id = $1 AND user_id = $2", org, userID)
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
	return s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM auth_totp WHERE org_id = $1 AND user_id = $2", org, userID)
		if err != nil {
			return fmt.Errorf("postgres: delete TOTP factor: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("delete TOTP factor: user %q: %w", userID, storage.ErrNotFound)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
}

// PhoneCode implements auth.FactorStore.
func (s *Store) PhoneCode(ctx context.Context, org storage.OrgID, sessionID string) (auth.PhoneCode, error) {
	c := auth.PhoneCode{Org: org, SessionID: sessionID}
	err := s.pool.QueryRow(ctx, "SELECT channel, salt, hash, sent, expires, sends FROM auth_phone_codes WHERE org_id = $1 AND session_id = $2",
		org, sessionID).Scan(&c.Channel, &c.Salt, &c.Hash, &c.Sent, &c.Expires, &c.Sends)
	if err != nil {
		return auth.PhoneCode{}, notFound(err, "phone code of session %q", sessionID)
	}
	c.Sent, c.Expires = c.Sent.UTC(), c.Expires.UTC()
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
	err = s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO auth_phone_codes (org_id, session_id, channel, salt, hash, sent, expires, sends)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (org_id, session_id) DO UPDATE SET channel = excluded.channel, salt = excluded.salt, hash = excluded.hash,
			sent = excluded.sent, expires = excluded.expires, sends = excluded.sends`,
			c.Org, c.SessionID, c.Channel, c.Salt, c.Hash, c.Sent, c.Expires, c.Sends)
		if violation(err, foreignKeyViolation) != nil {
			return fmt.Errorf("put phone code: session %q: %w", c.SessionID, storage.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("postgres: put phone code: %w", err)
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
	return s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM auth_phone_codes WHERE org_id = $1 AND session_id = $2 AND hash = $3 AND expires > $4",
			org, sessionID, hash, storage.Normalize(now))
		if err != nil {
			return fmt.Errorf("postgres: consume phone code: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("consume phone code of session %q: no such unexpired code: %w", sessionID, storage.ErrNotFound)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
}

// AuthFailures implements auth.Store.
func (s *Store) AuthFailures(ctx context.Context, org storage.OrgID, key string) (auth.Failures, error) {
	var f auth.Failures
	err := s.pool.QueryRow(ctx, "SELECT count, last FROM auth_failures WHERE org_id = $1 AND key = $2", org, key).Scan(&f.Count, &f.Last)
	if errors.Is(err, pgx.ErrNoRows) {
		return auth.Failures{}, nil
	}
	if err != nil {
		return auth.Failures{}, fmt.Errorf("postgres: failures: %w", err)
	}
	f.Last = f.Last.UTC()
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
	err = s.write(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO auth_failures (org_id, key, count, last) VALUES ($1, $2, 1, $3)
			ON CONFLICT (org_id, key) DO UPDATE SET count = auth_failures.count + 1, last = excluded.last
			RETURNING count, last`, org, key, storage.Normalize(at)).Scan(&f.Count, &f.Last)
		if violation(err, foreignKeyViolation) != nil {
			return fmt.Errorf("record failure: org %q: %w", org, storage.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("postgres: record failure: %w", err)
		}
		f.Last = f.Last.UTC()
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
	if _, err := s.pool.Exec(ctx, "DELETE FROM auth_failures WHERE org_id = $1 AND key = $2", org, key); err != nil {
		return fmt.Errorf("postgres: clear failures: %w", err)
	}
	return nil
}

const authSessionColumns = "org_id, id, token_hash, user_id, state, pin_hash, pin_set, created, last_used, expires, revoked, version"

func scanAuthSession(row pgx.Row) (auth.Session, error) {
	var se auth.Session
	var pinSet *time.Time
	err := row.Scan(&se.Org, &se.ID, &se.TokenHash, &se.UserID, &se.State, &se.PINHash, &pinSet, &se.Created, &se.LastUsed, &se.Expires, &se.Revoked, &se.Version)
	se.PINSet, se.Created, se.LastUsed, se.Expires = authFromOptTime(pinSet), se.Created.UTC(), se.LastUsed.UTC(), se.Expires.UTC()
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
	err = s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO auth_sessions ("+authSessionColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
			se.Org, se.ID, se.TokenHash, se.UserID, se.State, se.PINHash, authOptTime(se.PINSet), se.Created,
			se.LastUsed, se.Expires, se.Revoked, se.Version)
		if err := insertError(err, "create session", se.Org, fmt.Sprintf("id %q or token", se.ID)); err != nil {
			return err
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
	se, err := scanAuthSession(s.pool.QueryRow(ctx, "SELECT "+authSessionColumns+" FROM auth_sessions WHERE org_id = $1 AND token_hash = $2", org, tokenHash))
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
	err = s.write(ctx, func(tx pgx.Tx) error {
		var err error
		stored, err = scanAuthSession(tx.QueryRow(ctx, "SELECT "+authSessionColumns+" FROM auth_sessions WHERE org_id = $1 AND id = $2 FOR UPDATE", se.Org, se.ID))
		if err != nil {
			return notFound(err, "update session %q", se.ID)
		}
		if stored.Revoked || se.Version != stored.Version {
			return fmt.Errorf("update session %q: revoked or changed (version %d, stored %d): %w", se.ID, se.Version, stored.Version, storage.ErrConflict)
		}
		stored.State, stored.PINHash, stored.PINSet, stored.Expires = se.State, se.PINHash, se.PINSet, se.Expires
		stored.Version++
		_, err = tx.Exec(ctx, "UPDATE auth_sessions SET state = $1, pin_hash = $2, pin_set = $3, expires = $4, version = $5 WHERE org_id = $6 AND id = $7",
			stored.State, stored.PINHash, authOptTime(stored.PINSet), stored.Expires, stored.Version, se.Org, se.ID)
		if err != nil {
			return fmt.Errorf("postgres: update session: %w", err)
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
	tag, err := s.pool.Exec(ctx, "UPDATE auth_sessions SET last_used = GREATEST(last_used, $1) WHERE org_id = $2 AND id = $3",
		storage.Normalize(at), org, id)
	if err != nil {
		return fmt.Errorf("postgres: touch session: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("touch session %q: %w", id, storage.ErrNotFound)
	}
	return nil
}

// RevokeSession implements auth.SessionStore.
func (s *Store) RevokeSession(ctx context.Context, org storage.OrgID, id string, e storage.AuditEntry) error {
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "UPDATE auth_sessions SET revoked = true WHERE org_id = $1 AND id = $2 AND NOT revoked", org, id)
		if err != nil {
			return fmt.Errorf("postgres: revoke session: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("revoke session %q: %w", id, storage.ErrNotFound)
		}
		if _, err := tx.Exec(ctx, "DELETE FROM auth_phone_codes WHERE org_id = $1 AND session_id = $2", org, id); err != nil {
			return fmt.Errorf("postgres: revoke session: %w", err)
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
	err = s.write(ctx, func(tx pgx.Tx) error {
		var err error
		if n, err = revokeAuthSessions(ctx, tx, org, userID); err != nil {
			return err
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	return n, err
}

func revokeAuthSessions(ctx context.Context, tx pgx.Tx, org storage.OrgID, userID string) (int, error) {
	if _, err := tx.Exec(ctx, `DELETE FROM auth_phone_codes WHERE org_id = $1 AND session_id IN
		(SELECT id FROM auth_sessions WHERE org_id = $1 AND user_id = $2)`, org, userID); err != nil {
		return 0, fmt.Errorf("postgres: revoke sessions: %w", err)
	}
	tag, err := tx.Exec(ctx, "UPDATE auth_sessions SET revoked = true WHERE org_id = $1 AND user_id = $2 AND NOT revoked", org, userID)
	if err != nil {
		return 0, fmt.Errorf("postgres: revoke sessions: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
