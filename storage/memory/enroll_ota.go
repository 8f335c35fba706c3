package memory

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/scep"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
)

// otaData holds enrollment sessions, issued identities and SCEP CAs;
// guarded by Store.mu. The zero value is ready.
type otaData struct {
	sessions   map[storage.OrgID]map[string]enroll.Session
	identities map[storage.OrgID]map[enroll.Fingerprint]enroll.Identity
	cas        map[storage.OrgID]scep.StoredCA
}

// storedSession returns s as every backend stores it: UTC microsecond
// times, requirements as their JSON round trip, empty collections nil.
func storedSession(s enroll.Session) (enroll.Session, error) {
	b, err := json.Marshal(s.Requirements)
	if err != nil {
		return s, fmt.Errorf("%w: requirements: %w", storage.ErrInvalid, err)
	}
	var r policy.Requirements
	if err := json.Unmarshal(b, &r); err != nil {
		return s, fmt.Errorf("%w: requirements: %w", storage.ErrInvalid, err)
	}
	s.Requirements = r
	s.Expires, s.Created, s.Updated = storage.Normalize(s.Expires), storage.Normalize(s.Created), storage.Normalize(s.Updated)
	s.ChallengeHash = slices.Clone(s.ChallengeHash)
	if len(s.ChallengeHash) == 0 {
		s.ChallengeHash = nil
	}
	s.Attributes = maps.Clone(s.Attributes)
	if len(s.Attributes) == 0 {
		s.Attributes = nil
	}
	return s, nil
}

func copySession(s enroll.Session) enroll.Session {
	s.ChallengeHash = slices.Clone(s.ChallengeHash)
	s.Attributes = maps.Clone(s.Attributes)
	return s
}

func storedIdentity(id enroll.Identity) enroll.Identity {
	id.Issued, id.NotAfter = storage.Normalize(id.Issued), storage.Normalize(id.NotAfter)
	return id
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
	se.Version, se.Created, se.Updated = 1, e.Time, e.Time
	if se, err = storedSession(se); err != nil {
		return enroll.Session{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orgs[se.Org]; !ok {
		return enroll.Session{}, fmt.Errorf("create enrollment session: org %q: %w", se.Org, storage.ErrNotFound)
	}
	if _, dup := s.ota.sessions[se.Org][se.ID]; dup {
		return enroll.Session{}, fmt.Errorf("create enrollment session %s: %w", se.ID, storage.ErrAlreadyExists)
	}
	if s.ota.sessions == nil {
		s.ota.sessions = map[storage.OrgID]map[string]enroll.Session{}
	}
	if s.ota.sessions[se.Org] == nil {
		s.ota.sessions[se.Org] = map[string]enroll.Session{}
	}
	s.ota.sessions[se.Org][se.ID] = se
	s.appendLocked(e)
	return copySession(se), nil
}

// EnrollSession implements enroll.SessionStore.
func (s *Store) EnrollSession(ctx context.Context, org storage.OrgID, id string) (enroll.Session, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	se, ok := s.ota.sessions[org][id]
	if !ok {
		return enroll.Session{}, fmt.Errorf("enrollment session %q: %w", id, storage.ErrNotFound)
	}
	return copySession(se), nil
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
	var ident enroll.Identity
	if issued != nil {
		if ident, err = newIdentity(*issued, se.Org); err != nil {
			return enroll.Session{}, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	stored, ok := s.ota.sessions[se.Org][se.ID]
	if !ok {
		return enroll.Session{}, fmt.Errorf("advance enrollment session %q: %w", se.ID, storage.ErrNotFound)
	}
	if stored.Version != se.Version {
		return enroll.Session{}, fmt.Errorf("advance enrollment session %q: read version %d, stored %d: %w", se.ID, se.Version, stored.Version, storage.ErrConflict)
	}
	if err := enroll.CheckPhase(stored.Kind, stored.Phase, se.Phase); err != nil {
		return enroll.Session{}, err
	}
	if issued != nil {
		if _, dup := s.ota.identities[se.Org][ident.Fingerprint]; dup {
			return enroll.Session{}, fmt.Errorf("record identity %s: %w", ident.Fingerprint, storage.ErrAlreadyExists)
		}
	}
	next := stored
	next.Phase, next.ChallengeHash, next.Expires = se.Phase, se.ChallengeHash, se.Expires
	next.UDID, next.Attributes, next.Identity = se.UDID, se.Attributes, se.Identity
	next.Version, next.Updated = stored.Version+1, e.Time
	if next, err = storedSession(next); err != nil {
		return enroll.Session{}, err
	}
	s.ota.sessions[se.Org][se.ID] = next
	if issued != nil {
		s.putIdentityLocked(ident)
	}
	s.appendLocked(e)
	return copySession(next), nil
}

func newIdentity(id enroll.Identity, org storage.OrgID) (enroll.Identity, error) {
	if err := id.Validate(); err != nil {
		return id, err
	}
	if id.Org != org {
		return id, fmt.Errorf("%w: identity of org %q recorded for org %q", storage.ErrInvalid, id.Org, org)
	}
	if id.Device != "" {
		return id, fmt.Errorf("%w: a new identity is bound to no device yet", storage.ErrInvalid)
	}
	return storedIdentity(id), nil
}

func (s *Store) putIdentityLocked(id enroll.Identity) {
	if s.ota.identities == nil {
		s.ota.identities = map[storage.OrgID]map[enroll.Fingerprint]enroll.Identity{}
	}
	if s.ota.identities[id.Org] == nil {
		s.ota.identities[id.Org] = map[enroll.Fingerprint]enroll.Identity{}
	}
	s.ota.identities[id.Org][id.Fingerprint] = id
}

// RecordIdentity implements enroll.IdentityStore.
func (s *Store) RecordIdentity(ctx context.Context, id enroll.Identity, e storage.AuditEntry) (enroll.Identity, error) {
	id, err := newIdentity(id, id.Org)
	if err != nil {
		return enroll.Identity{}, err
	}
	e, err = rules.ChangeEntry(id.Org, e)
	if err != nil {
		return enroll.Identity{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orgs[id.Org]; !ok {
		return enroll.Identity{}, fmt.Errorf("record identity: org %q: %w", id.Org, storage.ErrNotFound)
	}
	if _, dup := s.ota.identities[id.Org][id.Fingerprint]; dup {
		return enroll.Identity{}, fmt.Errorf("record identity %s: %w", id.Fingerprint, storage.ErrAlreadyExists)
	}
	s.putIdentityLocked(id)
	s.appendLocked(e)
	return id, nil
}

// Identity implements enroll.IdentityStore.
func (s *Store) Identity(ctx context.Context, org storage.OrgID, f enroll.Fingerprint) (enroll.Identity, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.ota.identities[org][f]
	if !ok {
		return enroll.Identity{}, fmt.Errorf("identity %s: %w", f, storage.ErrNotFound)
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
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.ota.identities[org][f]
	switch {
	case !ok:
		return enroll.Identity{}, fmt.Errorf("bind identity %s: %w", f, storage.ErrNotFound)
	case id.Device == device:
		return id, nil
	case id.Device != "":
		return enroll.Identity{}, fmt.Errorf("bind identity %s: bound to another device: %w", f, storage.ErrConflict)
	}
	id.Device = device
	s.ota.identities[org][f] = id
	s.appendLocked(e)
	return id, nil
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
	ca.Certificate, ca.Key = slices.Clone(ca.Certificate), slices.Clone(ca.Key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orgs[ca.Org]; !ok {
		return scep.StoredCA{}, fmt.Errorf("create SCEP CA: org %q: %w", ca.Org, storage.ErrNotFound)
	}
	if _, dup := s.ota.cas[ca.Org]; dup {
		return scep.StoredCA{}, fmt.Errorf("create SCEP CA of org %q: %w", ca.Org, storage.ErrAlreadyExists)
	}
	if s.ota.cas == nil {
		s.ota.cas = map[storage.OrgID]scep.StoredCA{}
	}
	s.ota.cas[ca.Org] = ca
	s.appendLocked(e)
	return copyCA(ca), nil
}

// SCEPCA implements scep.CAStore.
func (s *Store) SCEPCA(ctx context.Context, org storage.OrgID) (scep.StoredCA, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ca, ok := s.ota.cas[org]
	if !ok {
		return scep.StoredCA{}, fmt.Errorf("SCEP CA of org %q: %w", org, storage.ErrNotFound)
	}
	return copyCA(ca), nil
}

func copyCA(ca scep.StoredCA) scep.StoredCA {
	ca.Certificate, ca.Key = slices.Clone(ca.Certificate), slices.Clone(ca.Key)
	return ca
}
