package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/scep"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
)

const sessionColumns = `org_id, id, kind, user_id, policy, requirements, phase, challenge_hash, expires,
	udid, attributes, identity, version, created, updated FROM enroll_sessions`

func scanSession(row pgx.Row) (enroll.Session, error) {
	var se enroll.Session
	var req, attrs []byte
	err := row.Scan(&se.Org, &se.ID, &se.Kind, &se.UserID, &se.Policy, &req, &se.Phase, &se.ChallengeHash, &se.Expires,
		&se.UDID, &attrs, &se.Identity, &se.Version, &se.Created, &se.Updated)
	if err != nil {
		return se, err
	}
	if err := json.Unmarshal(req, &se.Requirements); err != nil {
		return se, fmt.Errorf("postgres: decode session requirements: %w", err)
	}
	if err := json.Unmarshal(attrs, &se.Attributes); err != nil {
		return se, fmt.Errorf("postgres: decode session attributes: %w", err)
	}
	if len(se.Attributes) == 0 {
		se.Attributes = nil
	}
	if len(se.ChallengeHash) == 0 {
		se.ChallengeHash = nil
	}
	se.Expires, se.Created, se.Updated = se.Expires.UTC(), se.Created.UTC(), se.Updated.UTC()
	return se, nil
}

func sessionJSON(se enroll.Session) (req, attrs []byte, err error) {
	if req, err = json.Marshal(se.Requirements); err != nil {
		return nil, nil, fmt.Errorf("%w: requirements: %w", storage.ErrInvalid, err)
	}
	attrs = []byte("{}")
	if len(se.Attributes) > 0 {
		if attrs, err = json.Marshal(se.Attributes); err != nil {
			return nil, nil, fmt.Errorf("%w: attributes: %w", storage.ErrInvalid, err)
		}
	}
	return req, attrs, nil
}

func nullBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// CreateEnrollSession implements enroll.SessionStore.
func (s *Store) CreateEnrollSession(ctx context.Context, se enroll.Session, e storage.AuditEntry) (enroll.Session, error) {
	if err := se.Validate(); err != nil {
		return enroll.Session{}, err
	}
	e, err := rules.ChangeEntry(se.Org, e)
	if err != nil {
		return enroll.Session{}, err
	}
	req, attrs, err := sessionJSON(se)
	if err != nil {
		return enroll.Session{}, err
	}
	var out enroll.Session
	err = s.write(ctx, func(tx pgx.Tx) error {
		if _, err := appendAudit(ctx, tx, e); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO enroll_sessions (org_id, id, kind, user_id, policy, requirements, phase,
			challenge_hash, expires, udid, attributes, identity, version, created, updated)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13, $13)`,
			se.Org, se.ID, se.Kind, se.UserID, se.Policy, req, se.Phase, nullBytes(se.ChallengeHash), storage.Normalize(se.Expires),
			se.UDID, attrs, se.Identity, e.Time)
		if violation(err, uniqueViolation) != nil {
			return fmt.Errorf("create enrollment session %s: %w", se.ID, storage.ErrAlreadyExists)
		}
		if err != nil {
			return fmt.Errorf("postgres: create enrollment session: %w", err)
		}
		out, err = scanSession(tx.QueryRow(ctx, "SELECT "+sessionColumns+" WHERE org_id = $1 AND id = $2", se.Org, se.ID))
		return err
	})
	return out, err
}

// EnrollSession implements enroll.SessionStore.
func (s *Store) EnrollSession(ctx context.Context, org storage.OrgID, id string) (enroll.Session, error) {
	se, err := scanSession(s.pool.QueryRow(ctx, "SELECT "+sessionColumns+" WHERE org_id = $1 AND id = $2", org, id))
	if err != nil {
		return enroll.Session{}, notFound(err, "enrollment session %q", id)
	}
	return se, nil
}

// AdvanceEnrollSession implements enroll.SessionStore.
func (s *Store) AdvanceEnrollSession(ctx context.Context, se enroll.Session, issued *enroll.Identity, e storage.AuditEntry) (enroll.Session, error) {
	if err := se.Validate(); err != nil {
		return enroll.Session{}, err
	}
	e, err := rules.ChangeEntry(se.Org, e)
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
	err = s.write(ctx, func(tx pgx.Tx) error {
		// FOR UPDATE: of two requests with the same challenge, the second
		// waits and then sees the version moved.
		stored, err := scanSession(tx.QueryRow(ctx, "SELECT "+sessionColumns+" WHERE org_id = $1 AND id = $2 FOR UPDATE", se.Org, se.ID))
		if err != nil {
			return notFound(err, "advance enrollment session %q", se.ID)
		}
		if stored.Version != se.Version {
			return fmt.Errorf("advance enrollment session %q: read version %d, stored %d: %w", se.ID, se.Version, stored.Version, storage.ErrConflict)
		}
		if err := enroll.CheckPhase(stored.Kind, stored.Phase, se.Phase); err != nil {
			return err
		}
		if _, err := appendAudit(ctx, tx, e); err != nil {
			return err
		}
		if issued != nil {
			if err := insertIdentity(ctx, tx, *issued); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE enroll_sessions SET phase = $1, challenge_hash = $2, expires = $3, udid = $4,
			attributes = $5, identity = $6, version = version + 1, updated = $7 WHERE org_id = $8 AND id = $9`,
			se.Phase, nullBytes(se.ChallengeHash), storage.Normalize(se.Expires), se.UDID, attrs, se.Identity, e.Time, se.Org, se.ID); err != nil {
			return fmt.Errorf("postgres: advance enrollment session: %w", err)
		}
		out, err = scanSession(tx.QueryRow(ctx, "SELECT "+sessionColumns+" WHERE org_id = $1 AND id = $2", se.Org, se.ID))
		return err
	})
	return out, err
}

const identityColumns = `org_id, fingerprint, serial, session, user_id, policy, device, issued, not_after, renews FROM enroll_identities`

func scanIdentity(row pgx.Row) (enroll.Identity, error) {
	var id enroll.Identity
	err := row.Scan(&id.Org, &id.Fingerprint, &id.Serial, &id.Session, &id.UserID, &id.Policy, &id.Device, &id.Issued, &id.NotAfter, &id.Renews)
	id.Issued, id.NotAfter = id.Issued.UTC(), id.NotAfter.UTC()
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

func insertIdentity(ctx context.Context, tx pgx.Tx, id enroll.Identity) error {
	_, err := tx.Exec(ctx, `INSERT INTO enroll_identities (org_id, fingerprint, serial, session, user_id, policy, device,
		issued, not_after, renews) VALUES ($1, $2, $3, $4, $5, $6, '', $7, $8, $9)`,
		id.Org, id.Fingerprint, id.Serial, id.Session, id.UserID, id.Policy, storage.Normalize(id.Issued), storage.Normalize(id.NotAfter), id.Renews)
	if violation(err, uniqueViolation) != nil {
		return fmt.Errorf("record identity %s: %w", id.Fingerprint, storage.ErrAlreadyExists)
	}
	if violation(err, foreignKeyViolation) != nil {
		return fmt.Errorf("record identity: org %q: %w", id.Org, storage.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: record identity: %w", err)
	}
	return nil
}

// RecordIdentity implements enroll.IdentityStore.
func (s *Store) RecordIdentity(ctx context.Context, id enroll.Identity, e storage.AuditEntry) (enroll.Identity, error) {
	if err := checkNewIdentity(id, id.Org); err != nil {
		return enroll.Identity{}, err
	}
	e, err := rules.ChangeEntry(id.Org, e)
	if err != nil {
		return enroll.Identity{}, err
	}
	id.Issued, id.NotAfter = storage.Normalize(id.Issued), storage.Normalize(id.NotAfter)
	err = s.write(ctx, func(tx pgx.Tx) error {
		if _, err := appendAudit(ctx, tx, e); err != nil {
			return err
		}
		return insertIdentity(ctx, tx, id)
	})
	if err != nil {
		return enroll.Identity{}, err
	}
	return id, nil
}

// Identity implements enroll.IdentityStore.
func (s *Store) Identity(ctx context.Context, org storage.OrgID, f enroll.Fingerprint) (enroll.Identity, error) {
	id, err := scanIdentity(s.pool.QueryRow(ctx, "SELECT "+identityColumns+" WHERE org_id = $1 AND fingerprint = $2", org, f))
	if err != nil {
		return enroll.Identity{}, notFound(err, "identity %s", f)
	}
	return id, nil
}

// BindIdentity implements enroll.IdentityStore.
func (s *Store) BindIdentity(ctx context.Context, org storage.OrgID, f enroll.Fingerprint, device string, e storage.AuditEntry) (enroll.Identity, error) {
	if device == "" || len(device) > enroll.MaxDeviceID {
		return enroll.Identity{}, fmt.Errorf("%w: device ID must be 1-%d bytes", storage.ErrInvalid, enroll.MaxDeviceID)
	}
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return enroll.Identity{}, err
	}
	var out enroll.Identity
	err = s.write(ctx, func(tx pgx.Tx) error {
		id, err := scanIdentity(tx.QueryRow(ctx, "SELECT "+identityColumns+" WHERE org_id = $1 AND fingerprint = $2 FOR UPDATE", org, f))
		if err != nil {
			return notFound(err, "bind identity %s", f)
		}
		switch {
		case id.Device == device:
			out = id
			return nil
		case id.Device != "":
			return fmt.Errorf("bind identity %s: bound to another device: %w", f, storage.ErrConflict)
		}
		if _, err := appendAudit(ctx, tx, e); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE enroll_identities SET device = $1 WHERE org_id = $2 AND fingerprint = $3", device, org, f); err != nil {
			return fmt.Errorf("postgres: bind identity: %w", err)
		}
		id.Device = device
		out = id
		return nil
	})
	return out, err
}

// CreateSCEPCA implements scep.CAStore.
func (s *Store) CreateSCEPCA(ctx context.Context, ca scep.StoredCA, e storage.AuditEntry) (scep.StoredCA, error) {
	if err := ca.Validate(); err != nil {
		return scep.StoredCA{}, err
	}
	e, err := rules.ChangeEntry(ca.Org, e)
	if err != nil {
		return scep.StoredCA{}, err
	}
	ca.Created = e.Time
	err = s.write(ctx, func(tx pgx.Tx) error {
		if _, err := appendAudit(ctx, tx, e); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO enroll_scep_cas (org_id, certificate, private_key, created) VALUES ($1, $2, $3, $4)",
			ca.Org, ca.Certificate, ca.Key, ca.Created)
		if violation(err, uniqueViolation) != nil {
			return fmt.Errorf("create SCEP CA of org %q: %w", ca.Org, storage.ErrAlreadyExists)
		}
		if err != nil {
			return fmt.Errorf("postgres: create SCEP CA: %w", err)
		}
		return nil
	})
	if err != nil {
		return scep.StoredCA{}, err
	}
	return ca, nil
}

// SCEPCA implements scep.CAStore.
func (s *Store) SCEPCA(ctx context.Context, org storage.OrgID) (scep.StoredCA, error) {
	var ca scep.StoredCA
	err := s.pool.QueryRow(ctx, "SELECT org_id, certificate, private_key, created FROM enroll_scep_cas WHERE org_id = $1", org).
		Scan(&ca.Org, &ca.Certificate, &ca.Key, &ca.Created)
	if err != nil {
		return scep.StoredCA{}, notFound(err, "SCEP CA of org %q", org)
	}
	ca.Created = ca.Created.UTC()
	return ca, nil
}
