package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/scep"
	"github.com/openomm/omm/storage"
)

const sessionColumns = `org_id, id, kind, user_id, policy, requirements, platform, phase, challenge_hash, expires_us,
	udid, attributes, identity, renews, issued_by, version, created_us, updated_us FROM {enroll_sessions}`

func scanSession(row rowScanner) (enroll.Session, error) {
	var se enroll.Session
	var req, attrs string
	err := row.Scan(&se.Org, &se.ID, &se.Kind, &se.UserID, &se.Policy, &req, &se.Platform, &se.Phase, &se.ChallengeHash, us{&se.Expires},
		&se.UDID, &attrs, &se.Identity, &se.Renews, &se.IssuedBy, &se.Version, us{&se.Created}, us{&se.Updated})
	if err != nil {
		return se, err
	}
	if err := json.Unmarshal([]byte(req), &se.Requirements); err != nil {
		return se, fmt.Errorf("sqlstore: decode session requirements: %w", err)
	}
	if err := json.Unmarshal([]byte(attrs), &se.Attributes); err != nil {
		return se, fmt.Errorf("sqlstore: decode session attributes: %w", err)
	}
	if len(se.Attributes) == 0 {
		se.Attributes = nil
	}
	if len(se.ChallengeHash) == 0 {
		se.ChallengeHash = nil
	}
	return se, nil
}

func sessionJSON(se enroll.Session) (req, attrs string, err error) {
	r, err := json.Marshal(se.Requirements)
	if err != nil {
		return "", "", fmt.Errorf("%w: requirements: %w", storage.ErrInvalid, err)
	}
	a := []byte("{}")
	if len(se.Attributes) > 0 {
		if a, err = json.Marshal(se.Attributes); err != nil {
			return "", "", fmt.Errorf("%w: attributes: %w", storage.ErrInvalid, err)
		}
	}
	return string(r), string(a), nil
}

// nullBytes stores an empty hash as NULL.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// CreateEnrollSession implements enroll.SessionStore.
func (s *Store) CreateEnrollSession(ctx context.Context, se enroll.Session, e storage.AuditEntry) (enroll.Session, error) {
	e, err := checked(se.Validate(), se.Org, e)
	if err != nil {
		return enroll.Session{}, err
	}
	req, attrs, err := sessionJSON(se)
	if err != nil {
		return enroll.Session{}, err
	}
	var out enroll.Session
	err = s.write(ctx, func(tx tx) error {
		if _, err := tx.appendAudit(ctx, e); err != nil {
			return err
		}
		if se.MaxOpen > 0 {
			if err := tx.lockUser(ctx, "enroll-sessions", se.Org, se.UserID); err != nil {
				return err
			}
			var open int
			if err := tx.queryRow(ctx, "SELECT count(*) FROM {enroll_sessions} WHERE org_id = ? AND user_id = ? AND phase <> ? AND expires_us > ? AND issued_by = '' AND renews = ''",
				se.Org, se.UserID, enroll.PhaseEnrolled, micros(e.Time)).Scan(&open); err != nil {
				return s.fail("count open enrollment sessions", err)
			}
			if open >= se.MaxOpen {
				return fmt.Errorf("create enrollment session: user %q holds %d open sessions: %w", se.UserID, open, storage.ErrLimit)
			}
		}
		out, err = tx.insertSession(ctx, se, req, attrs, e.Time)
		return err
	})
	return out, err
}

// insertSession stores a new session and returns it as stored.
func (tx tx) insertSession(ctx context.Context, se enroll.Session, req, attrs string, at time.Time) (enroll.Session, error) {
	_, err := tx.exec(ctx, `INSERT INTO {enroll_sessions} (org_id, id, kind, user_id, policy, requirements, platform, phase,
		challenge_hash, expires_us, udid, attributes, identity, renews, issued_by, version, created_us, updated_us)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`,
		se.Org, se.ID, se.Kind, se.UserID, se.Policy, req, se.Platform, se.Phase, nullBytes(se.ChallengeHash), micros(se.Expires),
		se.UDID, attrs, se.Identity, se.Renews, se.IssuedBy, micros(at), micros(at))
	if tx.s.unique(err) {
		return enroll.Session{}, fmt.Errorf("create enrollment session %s: %w", se.ID, storage.ErrAlreadyExists)
	}
	if err != nil {
		return enroll.Session{}, fmt.Errorf("sqlstore: create enrollment session: %w", err)
	}
	return scanSession(tx.queryRow(ctx, "SELECT "+sessionColumns+" WHERE org_id = ? AND id = ?", se.Org, se.ID))
}

// EnrollSession implements enroll.SessionStore.
func (s *Store) EnrollSession(ctx context.Context, org storage.OrgID, id string) (enroll.Session, error) {
	return get(s, scanSession, s.queryRow(ctx, "SELECT "+sessionColumns+" WHERE org_id = ? AND id = ?", org, id), "enrollment session %q", id)
}

// AdvanceEnrollSession implements enroll.SessionStore.
func (s *Store) AdvanceEnrollSession(ctx context.Context, se enroll.Session, issued *enroll.Identity, e storage.AuditEntry) (enroll.Session, error) {
	e, err := checked(se.Validate(), se.Org, e)
	if err != nil {
		return enroll.Session{}, err
	}
	if issued != nil {
		if err := checkNewIdentity(*issued, se.Org); err != nil {
			return enroll.Session{}, err
		}
	}
	_, attrs, err := sessionJSON(se)
	if err != nil {
		return enroll.Session{}, err
	}
	var out enroll.Session
	err = s.write(ctx, func(tx tx) error {
		stored, err := scanSession(tx.queryRow(ctx, "SELECT "+sessionColumns+" WHERE org_id = ? AND id = ? {FOR UPDATE}", se.Org, se.ID))
		if err != nil {
			return s.notFound(err, "advance enrollment session %q", se.ID)
		}
		if stored.Version != se.Version {
			return fmt.Errorf("advance enrollment session %q: read version %d, stored %d: %w", se.ID, se.Version, stored.Version, storage.ErrConflict)
		}
		if err := enroll.CheckPhase(stored.Kind, stored.Phase, se.Phase); err != nil {
			return err
		}
		if _, err := tx.appendAudit(ctx, e); err != nil {
			return err
		}
		if issued != nil {
			if err := tx.insertIdentity(ctx, *issued); err != nil {
				return err
			}
		}
		if _, err := tx.exec(ctx, `UPDATE {enroll_sessions} SET phase = ?, challenge_hash = ?, expires_us = ?, udid = ?,
			attributes = ?, identity = ?, version = version + 1, updated_us = ? WHERE org_id = ? AND id = ?`,
			se.Phase, nullBytes(se.ChallengeHash), micros(se.Expires), se.UDID, attrs, se.Identity, micros(e.Time), se.Org, se.ID); err != nil {
			return fmt.Errorf("sqlstore: advance enrollment session: %w", err)
		}
		out, err = scanSession(tx.queryRow(ctx, "SELECT "+sessionColumns+" WHERE org_id = ? AND id = ?", se.Org, se.ID))
		return err
	})
	return out, err
}

// identityColumnList is what identityDest scans, in its order.
const identityColumnList = `org_id, fingerprint, serial, purpose, udid, platform, session, user_id, policy, device, issued_us, not_after_us,
	renews, revoked_us`

const identityColumns = identityColumnList + " FROM {enroll_identities}"

// identityDest is where a row of identityColumnList goes.
func identityDest(id *enroll.Identity) []any {
	return []any{&id.Org, &id.Fingerprint, &id.Serial, &id.Purpose, &id.AttestedUDID, &id.Platform, &id.Session, &id.UserID, &id.Policy,
		&id.Device, us{&id.Issued}, us{&id.NotAfter}, &id.Renews, us{&id.Revoked}}
}

func scanIdentity(row rowScanner) (id enroll.Identity, err error) {
	err = row.Scan(identityDest(&id)...)
	return id, err
}

func checkNewIdentity(id enroll.Identity, org storage.OrgID) error {
	if err := id.Validate(); err != nil {
		return err
	}
	if id.Org != org {
		return fmt.Errorf("%w: identity of org %q recorded for org %q", storage.ErrInvalid, id.Org, org)
	}
	if id.Device != "" {
		return fmt.Errorf("%w: a new identity is bound to no device yet", storage.ErrInvalid)
	}
	return nil
}

func (tx tx) insertIdentity(ctx context.Context, id enroll.Identity) error {
	_, err := tx.exec(ctx, `INSERT INTO {enroll_identities} (org_id, fingerprint, serial, purpose, udid, platform, session, user_id,
		policy, device, issued_us, not_after_us, renews) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?)`,
		id.Org, id.Fingerprint, id.Serial, id.Purpose, id.AttestedUDID, id.Platform, id.Session, id.UserID, id.Policy,
		micros(id.Issued), micros(id.NotAfter), id.Renews)
	if tx.s.unique(err) {
		return fmt.Errorf("record identity %s: %w", id.Fingerprint, storage.ErrAlreadyExists)
	}
	if tx.s.foreignKey(err) {
		return fmt.Errorf("record identity: org %q: %w", id.Org, storage.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: record identity: %w", err)
	}
	return nil
}

// RecordIdentity implements enroll.IdentityStore.
func (s *Store) RecordIdentity(ctx context.Context, id enroll.Identity, e storage.AuditEntry) (enroll.Identity, error) {
	if err := checkNewIdentity(id, id.Org); err != nil {
		return enroll.Identity{}, err
	}
	e, err := changeEntry(id.Org, e)
	if err != nil {
		return enroll.Identity{}, err
	}
	id.Issued, id.NotAfter = storage.Normalize(id.Issued), storage.Normalize(id.NotAfter)
	err = s.write(ctx, func(tx tx) error {
		if _, err := tx.appendAudit(ctx, e); err != nil {
			return err
		}
		return tx.insertIdentity(ctx, id)
	})
	return done(id, err)
}

// Identity implements enroll.IdentityStore.
func (s *Store) Identity(ctx context.Context, org storage.OrgID, f enroll.Fingerprint) (enroll.Identity, error) {
	return get(s, scanIdentity, s.queryRow(ctx, "SELECT "+identityColumns+" WHERE org_id = ? AND fingerprint = ?", org, f), "identity %s", f)
}

// bindingQuery reads an identity, its device and whether the device has
// open commands (the predicate of NextCommand's probe, on the partial
// index enroll_queue_open), in one statement.
var bindingQuery = "SELECT " + columnsOf("i", identityColumnList) + ", " + columnsOf("d", invDeviceColumns) + `,
	EXISTS (SELECT 1 FROM {enroll_queue} q {INDEXED BY enroll_queue_open} WHERE q.org_id = ? AND q.device = i.device AND q.status IN ('Pending', 'NotNow'))
	FROM {enroll_identities} i JOIN {devices} d ON d.org_id = ? AND d.id = i.device
	WHERE i.org_id = ? AND i.fingerprint = ? AND i.device <> ''`

// columnsOf qualifies each column of a comma-separated list with alias.
func columnsOf(alias, list string) string {
	cols := strings.Split(list, ",")
	for i, c := range cols {
		cols[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// Binding implements enroll.BindingStore.
func (s *Store) Binding(ctx context.Context, org storage.OrgID, f enroll.Fingerprint) (enroll.Binding, error) {
	var b enroll.Binding
	dest := append(identityDest(&b.Identity), invDeviceDest(&b.Device)...)
	if err := s.queryRow(ctx, bindingQuery, org, org, org, f).Scan(append(dest, &b.Open)...); err != nil {
		return enroll.Binding{}, s.notFound(err, "binding of identity %s", f)
	}
	return b, nil
}

// BindIdentity implements enroll.IdentityStore.
func (s *Store) BindIdentity(ctx context.Context, org storage.OrgID, f enroll.Fingerprint, device string, e storage.AuditEntry) (enroll.Identity, error) {
	if device == "" || len(device) > enroll.MaxDeviceID {
		return enroll.Identity{}, fmt.Errorf("%w: device ID must be 1-%d bytes", storage.ErrInvalid, enroll.MaxDeviceID)
	}
	e, err := changeEntry(org, e)
	if err != nil {
		return enroll.Identity{}, err
	}
	var out enroll.Identity
	err = s.write(ctx, func(tx tx) error {
		out, err = tx.bindIdentity(ctx, org, f, device, e)
		return err
	})
	return out, err
}

// bindIdentity binds the identity inside tx, as BindIdentity does, and
// returns it as stored.
func (tx tx) bindIdentity(ctx context.Context, org storage.OrgID, f enroll.Fingerprint, device string, e storage.AuditEntry) (enroll.Identity, error) {
	id, err := scanIdentity(tx.queryRow(ctx, "SELECT "+identityColumns+" WHERE org_id = ? AND fingerprint = ? {FOR UPDATE}", org, f))
	if err != nil {
		return enroll.Identity{}, tx.s.notFound(err, "bind identity %s", f)
	}
	switch {
	case id.Device == device:
		return id, nil
	case id.Device != "":
		return enroll.Identity{}, fmt.Errorf("bind identity %s: bound to another device: %w", f, storage.ErrConflict)
	case !id.Revoked.IsZero():
		return enroll.Identity{}, fmt.Errorf("bind identity %s: revoked: %w", f, storage.ErrConflict)
	}
	if _, err := tx.appendAudit(ctx, e); err != nil {
		return enroll.Identity{}, err
	}
	if _, err := tx.exec(ctx, "UPDATE {enroll_identities} SET device = ? WHERE org_id = ? AND fingerprint = ?", device, org, f); err != nil {
		return enroll.Identity{}, fmt.Errorf("sqlstore: bind identity: %w", err)
	}
	if id.Renews != "" {
		// The successor is in use: its predecessor's renewal is done.
		if _, err := tx.exec(ctx, `UPDATE {enroll_renewals} SET successor = ?, completed_us = ?, lease_us = 0, updated_us = ?
			WHERE org_id = ? AND identity = ? AND completed_us = 0`, f, micros(e.Time), micros(e.Time), org, id.Renews); err != nil {
			return enroll.Identity{}, tx.s.fail("complete renewal", err)
		}
	}
	id.Device = device
	return id, nil
}

// CreateSCEPCA implements scep.CAStore.
func (s *Store) CreateSCEPCA(ctx context.Context, ca scep.StoredCA, e storage.AuditEntry) (scep.StoredCA, error) {
	e, err := checked(ca.Validate(), ca.Org, e)
	if err != nil {
		return scep.StoredCA{}, err
	}
	ca.Created = e.Time
	err = s.write(ctx, func(tx tx) error {
		if _, err := tx.appendAudit(ctx, e); err != nil {
			return err
		}
		_, err := tx.exec(ctx, "INSERT INTO {enroll_scep_cas} (org_id, certificate, private_key, created_us) VALUES (?, ?, ?, ?)",
			ca.Org, ca.Certificate, ca.Key, micros(ca.Created))
		if s.unique(err) {
			return fmt.Errorf("create SCEP CA of org %q: %w", ca.Org, storage.ErrAlreadyExists)
		}
		if err != nil {
			return fmt.Errorf("sqlstore: create SCEP CA: %w", err)
		}
		return nil
	})
	return done(ca, err)
}

// SCEPCA implements scep.CAStore.
func (s *Store) SCEPCA(ctx context.Context, org storage.OrgID) (scep.StoredCA, error) {
	var ca scep.StoredCA
	err := s.queryRow(ctx, "SELECT org_id, certificate, private_key, created_us FROM {enroll_scep_cas} WHERE org_id = ?", org).
		Scan(&ca.Org, &ca.Certificate, &ca.Key, us{&ca.Created})
	if err != nil {
		return scep.StoredCA{}, s.notFound(err, "SCEP CA of org %q", org)
	}
	return ca, nil
}

// ResealSCEPCA implements scep.CAStore.
func (s *Store) ResealSCEPCA(ctx context.Context, org storage.OrgID, old, sealed []byte, e storage.AuditEntry) error {
	e, err := changeEntry(org, e)
	if err != nil {
		return err
	}
	if len(sealed) == 0 || len(sealed) > 16<<10 {
		return fmt.Errorf("%w: sealed CA key must be 1 byte to 16 KiB", storage.ErrInvalid)
	}
	return s.write(ctx, func(tx tx) error {
		n, err := tx.affected(ctx, "UPDATE {enroll_scep_cas} SET private_key = ? WHERE org_id = ? AND private_key = ?", sealed, org, old)
		if err != nil {
			return s.fail("reseal SCEP CA", err)
		}
		if n == 0 {
			ok, err := tx.exists(ctx, "SELECT 1 FROM {enroll_scep_cas} WHERE org_id = ?", org)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("reseal SCEP CA of org %q: %w", org, storage.ErrNotFound)
			}
			return fmt.Errorf("reseal SCEP CA of org %q: the key changed: %w", org, storage.ErrConflict)
		}
		return tx.audit(ctx, e)
	})
}

// RevokeUserEnrollments implements enroll.RevocationStore.
func (s *Store) RevokeUserEnrollments(ctx context.Context, org storage.OrgID, userID string, at time.Time, e storage.AuditEntry) (sessions, identities int, err error) {
	e, err = changeEntry(org, e)
	if err != nil {
		return 0, 0, err
	}
	if userID == "" || len(userID) > storage.MaxIDLen || at.IsZero() {
		return 0, 0, fmt.Errorf("%w: revoke enrollments: user ID must be 1-%d bytes and the time set", storage.ErrInvalid, storage.MaxIDLen)
	}
	us := micros(storage.Normalize(at))
	err = s.write(ctx, func(tx tx) error {
		n, err := tx.affected(ctx, `UPDATE {enroll_sessions} SET challenge_hash = NULL, expires_us = ?, version = version + 1, updated_us = ?
			WHERE org_id = ? AND user_id = ? AND phase <> ? AND expires_us > ?`, us, us, org, userID, enroll.PhaseEnrolled, us)
		if err != nil {
			return s.fail("revoke sessions", err)
		}
		m, err := tx.affected(ctx, `UPDATE {enroll_identities} SET revoked_us = ? WHERE org_id = ? AND user_id = ? AND device = '' AND revoked_us = 0`,
			us, org, userID)
		if err != nil {
			return s.fail("revoke identities", err)
		}
		sessions, identities = int(n), int(m)
		if n+m == 0 {
			return nil
		}
		e.Details = maps.Clone(e.Details)
		if e.Details == nil {
			e.Details = map[string]string{}
		}
		e.Details["sessions"], e.Details["identities"] = strconv.FormatInt(n, 10), strconv.FormatInt(m, 10)
		return tx.audit(ctx, e)
	})
	if err != nil {
		return 0, 0, err
	}
	return sessions, identities, nil
}

// EnrollmentUsers implements enroll.RevocationStore.
func (s *Store) EnrollmentUsers(ctx context.Context, org storage.OrgID, at time.Time) ([]string, error) {
	us := micros(storage.Normalize(at))
	rows, err := s.query(ctx, `SELECT user_id FROM {enroll_sessions} WHERE org_id = ? AND phase <> ? AND expires_us > ?
		UNION SELECT user_id FROM {enroll_identities} WHERE org_id = ? AND device = '' AND revoked_us = 0
		ORDER BY 1`, org, enroll.PhaseEnrolled, us, org)
	return list(s, "enrollment users", rows, err, scanString)
}

func scanString(r rowScanner) (v string, err error) { return v, r.Scan(&v) }

// RevokeEnrollSession implements enroll.RevocationStore.
func (s *Store) RevokeEnrollSession(ctx context.Context, org storage.OrgID, id string, at time.Time, e storage.AuditEntry) error {
	e, err := changeEntry(org, e)
	if err != nil {
		return err
	}
	if at.IsZero() {
		return fmt.Errorf("%w: revoke a session at a time", storage.ErrInvalid)
	}
	us := micros(storage.Normalize(at))
	return s.write(ctx, func(tx tx) error {
		se, err := scanSession(tx.queryRow(ctx, "SELECT "+sessionColumns+" WHERE org_id = ? AND id = ? {FOR UPDATE}", org, id))
		if err != nil {
			return s.notFound(err, "revoke enrollment session %q", id)
		}
		switch {
		case se.Phase == enroll.PhaseEnrolled:
			return fmt.Errorf("revoke enrollment session %q: its device has its identity: %w", id, storage.ErrConflict)
		case micros(se.Expires) <= us:
			return fmt.Errorf("revoke enrollment session %q: expired already: %w", id, storage.ErrConflict)
		}
		if err := tx.audit(ctx, e); err != nil {
			return err
		}
		_, err = tx.exec(ctx, `UPDATE {enroll_sessions} SET challenge_hash = NULL, expires_us = ?, version = version + 1, updated_us = ?
			WHERE org_id = ? AND id = ?`, us, us, org, id)
		return err
	})
}
