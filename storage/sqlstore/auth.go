package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/storage"
)

const authUserColumns = "org_id, id, username, display_name, email, phone, status, password_hash, version, created_us, updated_us"

func scanAuthUser(row rowScanner) (auth.UserRecord, error) {
	var u auth.UserRecord
	err := row.Scan(&u.Org, &u.ID, &u.Username, &u.DisplayName, &u.Email, &u.Phone, &u.Status, &u.PasswordHash, &u.Version, us{&u.Created}, us{&u.Updated})
	return u, err
}

// CreateUser implements auth.UserStore.
func (s *Store) CreateUser(ctx context.Context, u auth.UserRecord, e storage.AuditEntry) (auth.UserRecord, error) {
	e, err := checked(u.Validate(), u.Org, e)
	if err != nil {
		return auth.UserRecord{}, err
	}
	u.Version, u.Created, u.Updated = 1, e.Time, e.Time
	err = s.write(ctx, func(tx tx) error {
		_, err := tx.exec(ctx, "INSERT INTO {auth_users} ("+authUserColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			u.Org, u.ID, u.Username, u.DisplayName, u.Email, u.Phone, u.Status, u.PasswordHash, u.Version, micros(u.Created), micros(u.Updated))
		if err := s.inserted(err, "create user", u.Org, fmt.Sprintf("id %q or username %q", u.ID, u.Username)); err != nil {
			return err
		}
		return tx.audit(ctx, e)
	})
	return done(u, err)
}

// User implements auth.UserStore.
func (s *Store) User(ctx context.Context, org storage.OrgID, id string) (auth.UserRecord, error) {
	return get(s, scanAuthUser, s.queryRow(ctx, "SELECT "+authUserColumns+" FROM {auth_users} WHERE org_id = ? AND id = ?", org, id), "user %q", id)
}

// UserByName implements auth.UserStore.
func (s *Store) UserByName(ctx context.Context, org storage.OrgID, username string) (auth.UserRecord, error) {
	return get(s, scanAuthUser, s.queryRow(ctx, "SELECT "+authUserColumns+" FROM {auth_users} WHERE org_id = ? AND username = ?", org, username), "user named %q", username)
}

// ListUsers implements auth.UserStore.
func (s *Store) ListUsers(ctx context.Context, org storage.OrgID) ([]auth.UserRecord, error) {
	rows, err := s.query(ctx, "SELECT "+authUserColumns+" FROM {auth_users} WHERE org_id = ? ORDER BY username", org)
	return list(s, "list users", rows, err, scanAuthUser)
}

// UpdateUser implements auth.UserStore.
func (s *Store) UpdateUser(ctx context.Context, u auth.UserRecord, e storage.AuditEntry) (auth.UserRecord, error) {
	e, err := checked(u.Validate(), u.Org, e)
	if err != nil {
		return auth.UserRecord{}, err
	}
	err = s.write(ctx, func(tx tx) error {
		stored, err := scanAuthUser(tx.queryRow(ctx, "SELECT "+authUserColumns+" FROM {auth_users} WHERE org_id = ? AND id = ? {FOR UPDATE}", u.Org, u.ID))
		if err != nil {
			return s.notFound(err, "update user %q", u.ID)
		}
		if u.Version != stored.Version {
			return fmt.Errorf("update user %q: read version %d, stored %d: %w", u.ID, u.Version, stored.Version, storage.ErrConflict)
		}
		u.Version, u.Created, u.Updated = stored.Version+1, stored.Created, e.Time
		_, err = tx.exec(ctx, `UPDATE {auth_users} SET username = ?, display_name = ?, email = ?, phone = ?, status = ?,
			password_hash = ?, version = ?, updated_us = ? WHERE org_id = ? AND id = ?`,
			u.Username, u.DisplayName, u.Email, u.Phone, u.Status, u.PasswordHash, u.Version, micros(u.Updated), u.Org, u.ID)
		if s.unique(err) {
			return fmt.Errorf("update user %q: username %q: %w", u.ID, u.Username, storage.ErrAlreadyExists)
		}
		if err != nil {
			return fmt.Errorf("sqlstore: update user: %w", err)
		}
		if u.Status == auth.StatusDeactivated {
			if _, err := tx.revokeAuthSessions(ctx, u.Org, u.ID); err != nil {
				return err
			}
		}
		return tx.audit(ctx, e)
	})
	return done(u, err)
}

func scanAuthGroup(row rowScanner) (auth.Group, error) {
	var g auth.Group
	err := row.Scan(&g.Org, &g.ID, &g.Name)
	return g, err
}

// CreateGroup implements auth.UserStore.
func (s *Store) CreateGroup(ctx context.Context, g auth.Group, e storage.AuditEntry) (auth.Group, error) {
	e, err := checked(g.Validate(), g.Org, e)
	if err != nil {
		return auth.Group{}, err
	}
	err = s.write(ctx, func(tx tx) error {
		_, err := tx.exec(ctx, "INSERT INTO {auth_groups} (org_id, id, name) VALUES (?, ?, ?)", g.Org, g.ID, g.Name)
		if err := s.inserted(err, "create group", g.Org, fmt.Sprintf("id %q or name %q", g.ID, g.Name)); err != nil {
			return err
		}
		return tx.audit(ctx, e)
	})
	return done(g, err)
}

// Group implements auth.UserStore.
func (s *Store) Group(ctx context.Context, org storage.OrgID, id string) (auth.Group, error) {
	return get(s, scanAuthGroup, s.queryRow(ctx, "SELECT org_id, id, name FROM {auth_groups} WHERE org_id = ? AND id = ?", org, id), "group %q", id)
}

// ListGroups implements auth.UserStore.
func (s *Store) ListGroups(ctx context.Context, org storage.OrgID) ([]auth.Group, error) {
	rows, err := s.query(ctx, "SELECT org_id, id, name FROM {auth_groups} WHERE org_id = ? ORDER BY name", org)
	return list(s, "list groups", rows, err, scanAuthGroup)
}

// exists reports whether query finds a row.
func (tx tx) exists(ctx context.Context, query string, args ...any) (bool, error) {
	var one int
	err := tx.queryRow(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlstore: %w", err)
	}
	return true, nil
}

// AddGroupMember implements auth.UserStore.
func (s *Store) AddGroupMember(ctx context.Context, org storage.OrgID, groupID, userID string, e storage.AuditEntry) error {
	e, err := changeEntry(org, e)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx tx) error {
		if ok, err := tx.exists(ctx, "SELECT 1 FROM {auth_groups} WHERE org_id = ? AND id = ?", org, groupID); err != nil || !ok {
			return errors.Join(err, authNotFoundIf(!ok, "add member: group %q", groupID))
		}
		if ok, err := tx.exists(ctx, "SELECT 1 FROM {auth_users} WHERE org_id = ? AND id = ?", org, userID); err != nil || !ok {
			return errors.Join(err, authNotFoundIf(!ok, "add member: user %q", userID))
		}
		_, err := tx.exec(ctx, "INSERT INTO {auth_group_members} (org_id, group_id, user_id) VALUES (?, ?, ?)", org, groupID, userID)
		if s.unique(err) {
			return fmt.Errorf("add member: user %q in group %q: %w", userID, groupID, storage.ErrAlreadyExists)
		}
		if err != nil {
			return fmt.Errorf("sqlstore: add member: %w", err)
		}
		return tx.audit(ctx, e)
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
	e, err := changeEntry(org, e)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx tx) error {
		n, err := tx.affected(ctx, "DELETE FROM {auth_group_members} WHERE org_id = ? AND group_id = ? AND user_id = ?", org, groupID, userID)
		if err != nil {
			return s.fail("remove member", err)
		}
		if n == 0 {
			return fmt.Errorf("remove member: user %q in group %q: %w", userID, groupID, storage.ErrNotFound)
		}
		return tx.audit(ctx, e)
	})
}

// UserGroups implements auth.UserStore.
func (s *Store) UserGroups(ctx context.Context, org storage.OrgID, userID string) ([]auth.Group, error) {
	rows, err := s.query(ctx, `SELECT g.org_id, g.id, g.name FROM {auth_group_members} m
		JOIN {auth_groups} g ON g.org_id = m.org_id AND g.id = m.group_id
		WHERE m.org_id = ? AND m.user_id = ? ORDER BY g.name`, org, userID)
	return list(s, "user groups", rows, err, scanAuthGroup)
}

// GroupMembers implements auth.UserStore.
func (s *Store) GroupMembers(ctx context.Context, org storage.OrgID, groupID string) ([]string, error) {
	if _, err := s.Group(ctx, org, groupID); err != nil {
		return nil, err
	}
	rows, err := s.query(ctx, "SELECT user_id FROM {auth_group_members} WHERE org_id = ? AND group_id = ? ORDER BY user_id", org, groupID)
	return list(s, "group members", rows, err, func(r rowScanner) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
}

const authSignOnColumns = "org_id, mfa_required, pin_length, pin_alphanumeric, pin_allow_simple, pin_idle_timeout_s, pin_max_age_s, version, updated_us"

func scanAuthSignOn(row rowScanner) (auth.SignOn, error) {
	var so auth.SignOn
	var idle, maxAge int64
	err := row.Scan(&so.Org, &so.MFARequired, &so.PIN.Length, &so.PIN.Alphanumeric, &so.PIN.AllowSimple, &idle, &maxAge, &so.Version, us{&so.Updated})
	so.PIN.IdleTimeout, so.PIN.MaxAge = time.Duration(idle)*time.Second, time.Duration(maxAge)*time.Second
	return so, err
}

// SignOn implements auth.SignOnStore.
func (s *Store) SignOn(ctx context.Context, org storage.OrgID) (auth.SignOn, error) {
	return get(s, scanAuthSignOn, s.queryRow(ctx, "SELECT "+authSignOnColumns+" FROM {auth_sign_on} WHERE org_id = ?", org), "sign-on rule of org %q", org)
}

// PutSignOn implements auth.SignOnStore.
func (s *Store) PutSignOn(ctx context.Context, so auth.SignOn, e storage.AuditEntry) (auth.SignOn, error) {
	e, err := checked(so.Validate(), so.Org, e)
	if err != nil {
		return auth.SignOn{}, err
	}
	err = s.write(ctx, func(tx tx) error {
		var stored int64
		err := tx.queryRow(ctx, "SELECT version FROM {auth_sign_on} WHERE org_id = ? {FOR UPDATE}", so.Org).Scan(&stored)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlstore: put sign-on rule: %w", err)
		}
		if so.Version != stored {
			return fmt.Errorf("put sign-on rule: read version %d, stored %d: %w", so.Version, stored, storage.ErrConflict)
		}
		so.Version, so.Updated = stored+1, e.Time
		// The version in the conflict clause makes two first writers
		// conflict instead of both succeeding.
		n, err := tx.affected(ctx, "INSERT INTO {auth_sign_on} AS o ("+authSignOnColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (org_id) DO UPDATE SET mfa_required = excluded.mfa_required, pin_length = excluded.pin_length,
			pin_alphanumeric = excluded.pin_alphanumeric, pin_allow_simple = excluded.pin_allow_simple,
			pin_idle_timeout_s = excluded.pin_idle_timeout_s, pin_max_age_s = excluded.pin_max_age_s,
			version = excluded.version, updated_us = excluded.updated_us
			WHERE o.version = ?`,
			so.Org, so.MFARequired, so.PIN.Length, so.PIN.Alphanumeric, so.PIN.AllowSimple,
			int64(so.PIN.IdleTimeout/time.Second), int64(so.PIN.MaxAge/time.Second), so.Version, micros(so.Updated), stored)
		switch {
		case s.foreignKey(err):
			return fmt.Errorf("put sign-on rule: org %q: %w", so.Org, storage.ErrNotFound)
		case err != nil:
			return s.fail("put sign-on rule", err)
		case n == 0:
			return fmt.Errorf("put sign-on rule: changed concurrently: %w", storage.ErrConflict)
		}
		return tx.audit(ctx, e)
	})
	return done(so, err)
}

// TOTP implements auth.FactorStore.
func (s *Store) TOTP(ctx context.Context, org storage.OrgID, userID string) (auth.TOTPFactor, error) {
	f := auth.TOTPFactor{Org: org, UserID: userID}
	err := s.queryRow(ctx, "SELECT secret, confirmed, last_step, created_us FROM {auth_totp} WHERE org_id = ? AND user_id = ?", org, userID).
		Scan(&f.Secret, &f.Confirmed, &f.LastStep, us{&f.Created})
	if err != nil {
		return auth.TOTPFactor{}, s.notFound(err, "TOTP factor of user %q", userID)
	}
	return f, nil
}

// PutTOTP implements auth.FactorStore.
func (s *Store) PutTOTP(ctx context.Context, f auth.TOTPFactor, e storage.AuditEntry) (auth.TOTPFactor, error) {
	e, err := checked(f.Validate(), f.Org, e)
	if err != nil {
		return auth.TOTPFactor{}, err
	}
	f = f.Normalize()
	f.Confirmed, f.LastStep = false, 0
	err = s.write(ctx, func(tx tx) error {
		// Only an unconfirmed factor is replaced; a confirmed one leaves
		// the upsert with no row.
		n, err := tx.affected(ctx, `INSERT INTO {auth_totp} AS t (org_id, user_id, secret, confirmed, last_step, created_us)
			VALUES (?, ?, ?, false, 0, ?)
			ON CONFLICT (org_id, user_id) DO UPDATE SET secret = excluded.secret, confirmed = false, last_step = 0, created_us = excluded.created_us
			WHERE NOT t.confirmed`, f.Org, f.UserID, f.Secret, micros(f.Created))
		switch {
		case s.foreignKey(err):
			return fmt.Errorf("put TOTP factor: org %q: %w", f.Org, storage.ErrNotFound)
		case err != nil:
			return s.fail("put TOTP factor", err)
		case n == 0:
			return fmt.Errorf("put TOTP factor of user %q: a confirmed factor: %w", f.UserID, storage.ErrAlreadyExists)
		}
		return tx.audit(ctx, e)
	})
	return done(f, err)
}

// UseTOTPStep implements auth.FactorStore.
func (s *Store) UseTOTPStep(ctx context.Context, org storage.OrgID, userID string, step int64, e storage.AuditEntry) error {
	e, err := changeEntry(org, e)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx tx) error {
		// The compare-and-set: only a later step than the last one used.
		n, err := tx.affected(ctx, "UPDATE {auth_totp} SET last_step = ?, confirmed = true WHERE org_id = ? AND user_id = ? AND last_step < ?",
			step, org, userID, step)
		if err != nil {
			return s.fail("use TOTP step", err)
		}
		if n == 0 {
			ok, err := tx.exists(ctx, "SELECT 1 FROM {auth_totp} WHERE org_id = ? AND user_id = ?", org, userID)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("use TOTP step: user %q: %w", userID, storage.ErrNotFound)
			}
			return fmt.Errorf("use TOTP step %d: already used or older: %w", step, storage.ErrConflict)
		}
		return tx.audit(ctx, e)
	})
}

// ResealTOTP implements auth.FactorStore.
func (s *Store) ResealTOTP(ctx context.Context, org storage.OrgID, userID, old, sealed string, e storage.AuditEntry) error {
	e, err := changeEntry(org, e)
	if err != nil {
		return err
	}
	if sealed == "" {
		return fmt.Errorf("%w: the sealed secret is empty", storage.ErrInvalid)
	}
	return s.write(ctx, func(tx tx) error {
		n, err := tx.affected(ctx, "UPDATE {auth_totp} SET secret = ? WHERE org_id = ? AND user_id = ? AND secret = ?", sealed, org, userID, old)
		if err != nil {
			return s.fail("reseal TOTP factor", err)
		}
		if n == 0 {
			ok, err := tx.exists(ctx, "SELECT 1 FROM {auth_totp} WHERE org_id = ? AND user_id = ?", org, userID)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("reseal TOTP factor: user %q: %w", userID, storage.ErrNotFound)
			}
			return fmt.Errorf("reseal TOTP factor of user %q: the secret changed: %w", userID, storage.ErrConflict)
		}
		return tx.audit(ctx, e)
	})
}

// DeleteTOTP implements auth.FactorStore.
func (s *Store) DeleteTOTP(ctx context.Context, org storage.OrgID, userID string, e storage.AuditEntry) error {
	e, err := changeEntry(org, e)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx tx) error {
		n, err := tx.affected(ctx, "DELETE FROM {auth_totp} WHERE org_id = ? AND user_id = ?", org, userID)
		if err != nil {
			return s.fail("delete TOTP factor", err)
		}
		if n == 0 {
			return fmt.Errorf("delete TOTP factor: user %q: %w", userID, storage.ErrNotFound)
		}
		return tx.audit(ctx, e)
	})
}

// PhoneCode implements auth.FactorStore.
func (s *Store) PhoneCode(ctx context.Context, org storage.OrgID, sessionID string) (auth.PhoneCode, error) {
	c := auth.PhoneCode{Org: org, SessionID: sessionID}
	err := s.queryRow(ctx, "SELECT channel, salt, hash, sent_us, expires_us, sends FROM {auth_phone_codes} WHERE org_id = ? AND session_id = ?",
		org, sessionID).Scan(&c.Channel, &c.Salt, &c.Hash, us{&c.Sent}, us{&c.Expires}, &c.Sends)
	if err != nil {
		return auth.PhoneCode{}, s.notFound(err, "phone code of session %q", sessionID)
	}
	return c, nil
}

// PutPhoneCode implements auth.FactorStore.
func (s *Store) PutPhoneCode(ctx context.Context, c auth.PhoneCode, e storage.AuditEntry) (auth.PhoneCode, error) {
	e, err := checked(c.Validate(), c.Org, e)
	if err != nil {
		return auth.PhoneCode{}, err
	}
	c = c.Normalize()
	err = s.write(ctx, func(tx tx) error {
		_, err := tx.exec(ctx, `INSERT INTO {auth_phone_codes} (org_id, session_id, channel, salt, hash, sent_us, expires_us, sends)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (org_id, session_id) DO UPDATE SET channel = excluded.channel, salt = excluded.salt, hash = excluded.hash,
			sent_us = excluded.sent_us, expires_us = excluded.expires_us, sends = excluded.sends`, c.Org, c.SessionID, c.Channel, c.Salt, c.Hash, micros(c.Sent), micros(c.Expires), c.Sends)
		if s.foreignKey(err) {
			return fmt.Errorf("put phone code: session %q: %w", c.SessionID, storage.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlstore: put phone code: %w", err)
		}
		return tx.audit(ctx, e)
	})
	return done(c, err)
}

// ConsumePhoneCode implements auth.FactorStore.
func (s *Store) ConsumePhoneCode(ctx context.Context, org storage.OrgID, sessionID string, hash []byte, now time.Time, e storage.AuditEntry) error {
	e, err := changeEntry(org, e)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx tx) error {
		n, err := tx.affected(ctx, "DELETE FROM {auth_phone_codes} WHERE org_id = ? AND session_id = ? AND hash = ? AND expires_us > ?",
			org, sessionID, hash, micros(storage.Normalize(now)))
		if err != nil {
			return s.fail("consume phone code", err)
		}
		if n == 0 {
			return fmt.Errorf("consume phone code of session %q: no such unexpired code: %w", sessionID, storage.ErrNotFound)
		}
		return tx.audit(ctx, e)
	})
}

// AuthFailures implements auth.Store.
func (s *Store) AuthFailures(ctx context.Context, org storage.OrgID, key string) (auth.Failures, error) {
	var f auth.Failures
	err := s.queryRow(ctx, "SELECT count, last_us FROM {auth_failures} WHERE org_id = ? AND key = ?", org, key).Scan(&f.Count, us{&f.Last})
	if errors.Is(err, sql.ErrNoRows) {
		return auth.Failures{}, nil
	}
	if err != nil {
		return auth.Failures{}, fmt.Errorf("sqlstore: failures: %w", err)
	}
	return f, nil
}

// errReservationRefused rolls back a reservation a rule refused.
var errReservationRefused = errors.New("reservation refused")

// ReserveAuthAttempt implements auth.Store.
func (s *Store) ReserveAuthAttempt(ctx context.Context, org storage.OrgID, at time.Time, rules []auth.AttemptRule) ([]auth.Failures, time.Duration, error) {
	for _, r := range rules {
		if err := auth.ValidateFailureKey(r.Key); err != nil {
			return nil, 0, err
		}
	}
	at = storage.Normalize(at)
	// Rows are locked in key order, so that two reservations sharing keys
	// cannot deadlock.
	order := make([]int, len(rules))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(rules[a].Key, rules[b].Key) })
	out := make([]auth.Failures, len(rules))
	var wait time.Duration
	err := s.write(ctx, func(tx tx) error {
		for _, i := range order {
			key := rules[i].Key
			// The row exists before it is locked: a first attempt under a
			// key must queue behind a concurrent first attempt too.
			_, err := tx.exec(ctx, "INSERT INTO {auth_failures} (org_id, key, count, last_us) VALUES (?, ?, 0, 0) ON CONFLICT (org_id, key) DO NOTHING", org, key)
			if s.foreignKey(err) {
				return fmt.Errorf("reserve attempt: org %q: %w", org, storage.ErrNotFound)
			}
			if err != nil {
				return s.fail("reserve attempt", err)
			}
			var f auth.Failures
			if err := tx.queryRow(ctx, "SELECT count, last_us FROM {auth_failures} WHERE org_id = ? AND key = ? {FOR UPDATE}", org, key).
				Scan(&f.Count, us{&f.Last}); err != nil {
				return s.fail("reserve attempt", err)
			}
			out[i] = f
			wait = max(wait, rules[i].Throttle.Wait(f, at))
		}
		if wait > 0 {
			return errReservationRefused
		}
		for i, r := range rules {
			out[i] = r.Throttle.Next(out[i], at)
			if _, err := tx.exec(ctx, "UPDATE {auth_failures} SET count = ?, last_us = ? WHERE org_id = ? AND key = ?",
				out[i].Count, micros(out[i].Last), org, r.Key); err != nil {
				return s.fail("reserve attempt", err)
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, errReservationRefused):
		return nil, wait, nil
	case err != nil:
		return nil, 0, err
	}
	return out, 0, nil
}

// ReleaseAuthAttempt implements auth.Store.
func (s *Store) ReleaseAuthAttempt(ctx context.Context, org storage.OrgID, key string) error {
	return s.write(ctx, func(tx tx) error {
		if _, err := tx.exec(ctx, "UPDATE {auth_failures} SET count = count - 1 WHERE org_id = ? AND key = ? AND count > 0", org, key); err != nil {
			return s.fail("release attempt", err)
		}
		return nil
	})
}

// ClearAuthFailures implements auth.Store.
func (s *Store) ClearAuthFailures(ctx context.Context, org storage.OrgID, key string) error {
	return s.write(ctx, func(tx tx) error {
		if _, err := tx.exec(ctx, "DELETE FROM {auth_failures} WHERE org_id = ? AND key = ?", org, key); err != nil {
			return fmt.Errorf("sqlstore: clear failures: %w", err)
		}
		return nil
	})
}

const authSessionColumns = "org_id, id, token_hash, user_id, state, pin_hash, pin_set_us, created_us, last_used_us, expires_us, revoked, version"

func scanAuthSession(row rowScanner) (auth.Session, error) {
	var se auth.Session
	err := row.Scan(&se.Org, &se.ID, &se.TokenHash, &se.UserID, &se.State, &se.PINHash, us{&se.PINSet}, us{&se.Created}, us{&se.LastUsed}, us{&se.Expires}, &se.Revoked, &se.Version)
	return se, err
}

// CreateSession implements auth.SessionStore.
func (s *Store) CreateSession(ctx context.Context, se auth.Session, e storage.AuditEntry) (auth.Session, error) {
	e, err := checked(se.Validate(), se.Org, e)
	if err != nil {
		return auth.Session{}, err
	}
	se.LastUsed, se.Version, se.Revoked = se.Created, 1, false
	se = se.Normalize()
	err = s.write(ctx, func(tx tx) error {
		_, err := tx.exec(ctx, "INSERT INTO {auth_sessions} ("+authSessionColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			se.Org, se.ID, se.TokenHash, se.UserID, se.State, se.PINHash, optMicros(se.PINSet), micros(se.Created),
			micros(se.LastUsed), micros(se.Expires), se.Revoked, se.Version)
		if err := s.inserted(err, "create session", se.Org, fmt.Sprintf("id %q or token", se.ID)); err != nil {
			return err
		}
		return tx.audit(ctx, e)
	})
	return done(se, err)
}

// SessionByToken implements auth.SessionStore.
func (s *Store) SessionByToken(ctx context.Context, org storage.OrgID, tokenHash []byte) (auth.Session, error) {
	return get(s, scanAuthSession, s.queryRow(ctx, "SELECT "+authSessionColumns+" FROM {auth_sessions} WHERE org_id = ? AND token_hash = ?", org, tokenHash), "session by token")
}

// UpdateSession implements auth.SessionStore.
func (s *Store) UpdateSession(ctx context.Context, se auth.Session, e storage.AuditEntry) (auth.Session, error) {
	e, err := checked(se.Validate(), se.Org, e)
	if err != nil {
		return auth.Session{}, err
	}
	se = se.Normalize()
	var stored auth.Session
	err = s.write(ctx, func(tx tx) error {
		var err error
		stored, err = scanAuthSession(tx.queryRow(ctx, "SELECT "+authSessionColumns+" FROM {auth_sessions} WHERE org_id = ? AND id = ? {FOR UPDATE}", se.Org, se.ID))
		if err != nil {
			return s.notFound(err, "update session %q", se.ID)
		}
		if stored.Revoked || se.Version != stored.Version {
			return fmt.Errorf("update session %q: revoked or changed (version %d, stored %d): %w", se.ID, se.Version, stored.Version, storage.ErrConflict)
		}
		stored.State, stored.PINHash, stored.PINSet, stored.Expires = se.State, se.PINHash, se.PINSet, se.Expires
		stored.TokenHash = se.TokenHash
		stored.Version++
		_, err = tx.exec(ctx, `UPDATE {auth_sessions} SET state = ?, pin_hash = ?, pin_set_us = ?, expires_us = ?, token_hash = ?, version = ?
			WHERE org_id = ? AND id = ?`,
			stored.State, stored.PINHash, optMicros(stored.PINSet), micros(stored.Expires), stored.TokenHash, stored.Version, se.Org, se.ID)
		if s.unique(err) {
			return fmt.Errorf("update session %q: token hash in use: %w", se.ID, storage.ErrAlreadyExists)
		}
		if err != nil {
			return fmt.Errorf("sqlstore: update session: %w", err)
		}
		return tx.audit(ctx, e)
	})
	return done(stored, err)
}

// TouchSession implements auth.SessionStore.
func (s *Store) TouchSession(ctx context.Context, org storage.OrgID, id string, at time.Time) error {
	return s.write(ctx, func(tx tx) error {
		us := micros(storage.Normalize(at))
		n, err := tx.affected(ctx, "UPDATE {auth_sessions} SET last_used_us = CASE WHEN last_used_us > ? THEN last_used_us ELSE ? END WHERE org_id = ? AND id = ?",
			us, us, org, id)
		if err != nil {
			return s.fail("touch session", err)
		}
		if n == 0 {
			return fmt.Errorf("touch session %q: %w", id, storage.ErrNotFound)
		}
		return nil
	})
}

// RevokeSession implements auth.SessionStore.
func (s *Store) RevokeSession(ctx context.Context, org storage.OrgID, id string, e storage.AuditEntry) error {
	e, err := changeEntry(org, e)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx tx) error {
		n, err := tx.affected(ctx, "UPDATE {auth_sessions} SET revoked = true WHERE org_id = ? AND id = ? AND NOT revoked", org, id)
		if err != nil {
			return s.fail("revoke session", err)
		}
		if n == 0 {
			return fmt.Errorf("revoke session %q: %w", id, storage.ErrNotFound)
		}
		if _, err := tx.exec(ctx, "DELETE FROM {auth_phone_codes} WHERE org_id = ? AND session_id = ?", org, id); err != nil {
			return fmt.Errorf("sqlstore: revoke session: %w", err)
		}
		return tx.audit(ctx, e)
	})
}

// RevokeUserSessions implements auth.SessionStore.
func (s *Store) RevokeUserSessions(ctx context.Context, org storage.OrgID, userID string, e storage.AuditEntry) (int, error) {
	e, err := changeEntry(org, e)
	if err != nil {
		return 0, err
	}
	var n int
	err = s.write(ctx, func(tx tx) error {
		var err error
		if n, err = tx.revokeAuthSessions(ctx, org, userID); err != nil {
			return err
		}
		return tx.audit(ctx, e)
	})
	return n, err
}

func (tx tx) revokeAuthSessions(ctx context.Context, org storage.OrgID, userID string) (int, error) {
	if _, err := tx.exec(ctx, `DELETE FROM {auth_phone_codes} WHERE org_id = ? AND session_id IN
		(SELECT id FROM {auth_sessions} WHERE org_id = ? AND user_id = ?)`, org, org, userID); err != nil {
		return 0, fmt.Errorf("sqlstore: revoke sessions: %w", err)
	}
	n, err := tx.affected(ctx, "UPDATE {auth_sessions} SET revoked = true WHERE org_id = ? AND user_id = ? AND NOT revoked", org, userID)
	if err != nil {
		return 0, tx.s.fail("revoke sessions", err)
	}
	return int(n), nil
}
