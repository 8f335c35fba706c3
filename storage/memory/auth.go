package memory

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
)

// okey is a record key within an org.
type okey struct {
	org storage.OrgID
	id  string
}

// member is one group membership.
type member struct {
	org           storage.OrgID
	group, userID string
}

// authState holds auth.Store's records; guarded by Store.mu.
type authState struct {
	users      map[okey]auth.UserRecord
	usernames  map[okey]string // username → user ID
	groups     map[okey]auth.Group
	groupNames map[okey]string // name → group ID
	members    map[member]bool
	signOn     map[storage.OrgID]auth.SignOn
	totp       map[okey]auth.TOTPFactor // by user ID
	codes      map[okey]auth.PhoneCode  // by session ID
	failures   map[okey]auth.Failures   // by key
	sessions   map[okey]auth.Session    // by session ID
	tokens     map[okey]string          // token hash → session ID
}

func newAuthState() *authState {
	return &authState{
		users: map[okey]auth.UserRecord{}, usernames: map[okey]string{},
		groups: map[okey]auth.Group{}, groupNames: map[okey]string{}, members: map[member]bool{},
		signOn: map[storage.OrgID]auth.SignOn{}, totp: map[okey]auth.TOTPFactor{}, codes: map[okey]auth.PhoneCode{},
		failures: map[okey]auth.Failures{}, sessions: map[okey]auth.Session{}, tokens: map[okey]string{},
	}
}

// orgLocked reports ErrNotFound for an unknown org; s.mu must be held.
func (s *Store) orgLocked(what string, org storage.OrgID) error {
	if _, ok := s.orgs[org]; !ok {
		return fmt.Errorf("%s: org %q: %w", what, org, storage.ErrNotFound)
	}
	return nil
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.orgLocked("create user", u.Org); err != nil {
		return auth.UserRecord{}, err
	}
	a := s.auth
	if _, ok := a.users[okey{u.Org, u.ID}]; ok {
		return auth.UserRecord{}, fmt.Errorf("create user: id %q: %w", u.ID, storage.ErrAlreadyExists)
	}
	if _, ok := a.usernames[okey{u.Org, u.Username}]; ok {
		return auth.UserRecord{}, fmt.Errorf("create user: username %q: %w", u.Username, storage.ErrAlreadyExists)
	}
	a.users[okey{u.Org, u.ID}] = u
	a.usernames[okey{u.Org, u.Username}] = u.ID
	s.appendLocked(e)
	return u, nil
}

// User implements auth.UserStore.
func (s *Store) User(ctx context.Context, org storage.OrgID, id string) (auth.UserRecord, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.auth.users[okey{org, id}]
	if !ok {
		return auth.UserRecord{}, fmt.Errorf("user %q: %w", id, storage.ErrNotFound)
	}
	return u, nil
}

// UserByName implements auth.UserStore.
func (s *Store) UserByName(ctx context.Context, org storage.OrgID, username string) (auth.UserRecord, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.auth.usernames[okey{org, username}]
	if !ok {
		return auth.UserRecord{}, fmt.Errorf("user named %q: %w", username, storage.ErrNotFound)
	}
	return s.auth.users[okey{org, id}], nil
}

// ListUsers implements auth.UserStore.
func (s *Store) ListUsers(ctx context.Context, org storage.OrgID) ([]auth.UserRecord, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	users := []auth.UserRecord{}
	for k, u := range s.auth.users {
		if k.org == org {
			users = append(users, u)
		}
	}
	slices.SortFunc(users, func(a, b auth.UserRecord) int { return strings.Compare(a.Username, b.Username) })
	return users, nil
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
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.auth
	stored, ok := a.users[okey{u.Org, u.ID}]
	if !ok {
		return auth.UserRecord{}, fmt.Errorf("update user %q: %w", u.ID, storage.ErrNotFound)
	}
	if u.Version != stored.Version {
		return auth.UserRecord{}, fmt.Errorf("update user %q: read version %d, stored %d: %w", u.ID, u.Version, stored.Version, storage.ErrConflict)
	}
	if id, ok := a.usernames[okey{u.Org, u.Username}]; ok && id != u.ID {
		return auth.UserRecord{}, fmt.Errorf("update user %q: username %q: %w", u.ID, u.Username, storage.ErrAlreadyExists)
	}
	u.Version, u.Created, u.Updated = stored.Version+1, stored.Created, e.Time
	delete(a.usernames, okey{u.Org, stored.Username})
	a.usernames[okey{u.Org, u.Username}] = u.ID
	a.users[okey{u.Org, u.ID}] = u
	if u.Status == auth.StatusDeactivated {
		s.revokeUserLocked(u.Org, u.ID)
	}
	s.appendLocked(e)
	return u, nil
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.orgLocked("create group", g.Org); err != nil {
		return auth.Group{}, err
	}
	a := s.auth
	if _, ok := a.groups[okey{g.Org, g.ID}]; ok {
		return auth.Group{}, fmt.Errorf("create group: id %q: %w", g.ID, storage.ErrAlreadyExists)
	}
	if _, ok := a.groupNames[okey{g.Org, g.Name}]; ok {
		return auth.Group{}, fmt.Errorf("create group: name %q: %w", g.Name, storage.ErrAlreadyExists)
	}
	a.groups[okey{g.Org, g.ID}] = g
	a.groupNames[okey{g.Org, g.Name}] = g.ID
	s.appendLocked(e)
	return g, nil
}

// Group implements auth.UserStore.
func (s *Store) Group(ctx context.Context, org storage.OrgID, id string) (auth.Group, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	g, ok := s.auth.groups[okey{org, id}]
	if !ok {
		return auth.Group{}, fmt.Errorf("group %q: %w", id, storage.ErrNotFound)
	}
	return g, nil
}

// ListGroups implements auth.UserStore.
func (s *Store) ListGroups(ctx context.Context, org storage.OrgID) ([]auth.Group, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	groups := []auth.Group{}
	for k, g := range s.auth.groups {
		if k.org == org {
			groups = append(groups, g)
		}
	}
	sortGroups(groups)
	return groups, nil
}

func sortGroups(gs []auth.Group) {
	slices.SortFunc(gs, func(a, b auth.Group) int { return strings.Compare(a.Name, b.Name) })
}

// AddGroupMember implements auth.UserStore.
func (s *Store) AddGroupMember(ctx context.Context, org storage.OrgID, groupID, userID string, e storage.AuditEntry) error {
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.auth
	if _, ok := a.groups[okey{org, groupID}]; !ok {
		return fmt.Errorf("add member: group %q: %w", groupID, storage.ErrNotFound)
	}
	if _, ok := a.users[okey{org, userID}]; !ok {
		return fmt.Errorf("add member: user %q: %w", userID, storage.ErrNotFound)
	}
	m := member{org, groupID, userID}
	if a.members[m] {
		return fmt.Errorf("add member: user %q in group %q: %w", userID, groupID, storage.ErrAlreadyExists)
	}
	a.members[m] = true
	s.appendLocked(e)
	return nil
}

// RemoveGroupMember implements auth.UserStore.
func (s *Store) RemoveGroupMember(ctx context.Context, org storage.OrgID, groupID, userID string, e storage.AuditEntry) error {
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := member{org, groupID, userID}
	if !s.auth.members[m] {
		return fmt.Errorf("remove member: user %q in group %q: %w", userID, groupID, storage.ErrNotFound)
	}
	delete(s.auth.members, m)
	s.appendLocked(e)
	return nil
}

// UserGroups implements auth.UserStore.
func (s *Store) UserGroups(ctx context.Context, org storage.OrgID, userID string) ([]auth.Group, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	groups := []auth.Group{}
	for m := range s.auth.members {
		if m.org == org && m.userID == userID {
			groups = append(groups, s.auth.groups[okey{org, m.group}])
		}
	}
	sortGroups(groups)
	return groups, nil
}

// GroupMembers implements auth.UserStore.
func (s *Store) GroupMembers(ctx context.Context, org storage.OrgID, groupID string) ([]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.auth.groups[okey{org, groupID}]; !ok {
		return nil, fmt.Errorf("group %q: %w", groupID, storage.ErrNotFound)
	}
	ids := []string{}
	for m := range s.auth.members {
		if m.org == org && m.group == groupID {
			ids = append(ids, m.userID)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// SignOn implements auth.SignOnStore.
func (s *Store) SignOn(ctx context.Context, org storage.OrgID) (auth.SignOn, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	so, ok := s.auth.signOn[org]
	if !ok {
		return auth.SignOn{}, fmt.Errorf("sign-on rule of org %q: %w", org, storage.ErrNotFound)
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.orgLocked("put sign-on rule", so.Org); err != nil {
		return auth.SignOn{}, err
	}
	stored := s.auth.signOn[so.Org] // zero Version when none
	if so.Version != stored.Version {
		return auth.SignOn{}, fmt.Errorf("put sign-on rule: read version %d, stored %d: %w", so.Version, stored.Version, storage.ErrConflict)
	}
	so.Version, so.Updated = stored.Version+1, e.Time
	s.auth.signOn[so.Org] = so
	s.appendLocked(e)
	return so, nil
}

// TOTP implements auth.FactorStore.
func (s *Store) TOTP(ctx context.Context, org storage.OrgID, userID string) (auth.TOTPFactor, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f, ok := s.auth.totp[okey{org, userID}]
	if !ok {
		return auth.TOTPFactor{}, fmt.Errorf("TOTP factor of user %q: %w", userID, storage.ErrNotFound)
	}
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.orgLocked("put TOTP factor", f.Org); err != nil {
		return auth.TOTPFactor{}, err
	}
	if old, ok := s.auth.totp[okey{f.Org, f.UserID}]; ok && old.Confirmed {
		return auth.TOTPFactor{}, fmt.Errorf("put TOTP factor of user %q: a confirmed factor: %w", f.UserID, storage.ErrAlreadyExists)
	}
	s.auth.totp[okey{f.Org, f.UserID}] = f
	s.appendLocked(e)
	return f, nil
}

// UseTOTPStep implements auth.FactorStore.
func (s *Store) UseTOTPStep(ctx context.Context, org storage.OrgID, userID string, step int64, e storage.AuditEntry) error {
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := okey{org, userID}
	f, ok := s.auth.totp[k]
	if !ok {
		return fmt.Errorf("use TOTP step: user %q: %w", userID, storage.ErrNotFound)
	}
	if step <= f.LastStep {
		return fmt.Errorf("use TOTP step %d: last used step is %d: %w", step, f.LastStep, storage.ErrConflict)
	}
	f.LastStep, f.Confirmed = step, true
	s.auth.totp[k] = f
	s.appendLocked(e)
	return nil
}

// DeleteTOTP implements auth.FactorStore.
func (s *Store) DeleteTOTP(ctx context.Context, org storage.OrgID, userID string, e storage.AuditEntry) error {
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := okey{org, userID}
	if _, ok := s.auth.totp[k]; !ok {
		return fmt.Errorf("delete TOTP factor: user %q: %w", userID, storage.ErrNotFound)
	}
	delete(s.auth.totp, k)
	s.appendLocked(e)
	return nil
}

// PhoneCode implements auth.FactorStore.
func (s *Store) PhoneCode(ctx context.Context, org storage.OrgID, sessionID string) (auth.PhoneCode, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.auth.codes[okey{org, sessionID}]
	if !ok {
		return auth.PhoneCode{}, fmt.Errorf("phone code of session %q: %w", sessionID, storage.ErrNotFound)
	}
	return c.Normalize(), nil
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.auth.sessions[okey{c.Org, c.SessionID}]; !ok {
		return auth.PhoneCode{}, fmt.Errorf("put phone code: session %q: %w", c.SessionID, storage.ErrNotFound)
	}
	s.auth.codes[okey{c.Org, c.SessionID}] = c
	s.appendLocked(e)
	return c.Normalize(), nil
}

// ConsumePhoneCode implements auth.FactorStore.
func (s *Store) ConsumePhoneCode(ctx context.Context, org storage.OrgID, sessionID string, hash []byte, now time.Time, e storage.AuditEntry) error {
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := okey{org, sessionID}
	c, ok := s.auth.codes[k]
	if !ok || !bytes.Equal(c.Hash, hash) || !storage.Normalize(now).Before(c.Expires) {
		return fmt.Errorf("consume phone code of session %q: no such unexpired code: %w", sessionID, storage.ErrNotFound)
	}
	delete(s.auth.codes, k)
	s.appendLocked(e)
	return nil
}

// AuthFailures implements auth.Store.
func (s *Store) AuthFailures(ctx context.Context, org storage.OrgID, key string) (auth.Failures, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.auth.failures[okey{org, key}], nil
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.orgLocked("record failure", org); err != nil {
		return auth.Failures{}, err
	}
	k := okey{org, key}
	f := s.auth.failures[k]
	f.Count++
	f.Last = storage.Normalize(at)
	s.auth.failures[k] = f
	s.appendLocked(e)
	return f, nil
}

// ClearAuthFailures implements auth.Store.
func (s *Store) ClearAuthFailures(ctx context.Context, org storage.OrgID, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.auth.failures, okey{org, key})
	return nil
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.orgLocked("create session", se.Org); err != nil {
		return auth.Session{}, err
	}
	hk := okey{se.Org, string(se.TokenHash)}
	if _, ok := s.auth.sessions[okey{se.Org, se.ID}]; ok {
		return auth.Session{}, fmt.Errorf("create session: id %q: %w", se.ID, storage.ErrAlreadyExists)
	}
	if _, ok := s.auth.tokens[hk]; ok {
		return auth.Session{}, fmt.Errorf("create session: token: %w", storage.ErrAlreadyExists)
	}
	s.auth.sessions[okey{se.Org, se.ID}] = se
	s.auth.tokens[hk] = se.ID
	s.appendLocked(e)
	return se.Normalize(), nil
}

// SessionByToken implements auth.SessionStore.
func (s *Store) SessionByToken(ctx context.Context, org storage.OrgID, tokenHash []byte) (auth.Session, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.auth.tokens[okey{org, string(tokenHash)}]
	if !ok {
		return auth.Session{}, fmt.Errorf("session by token: %w", storage.ErrNotFound)
	}
	return s.auth.sessions[okey{org, id}].Normalize(), nil
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
	s.mu.Lock()
	defer s.mu.Unlock()
	k := okey{se.Org, se.ID}
	stored, ok := s.auth.sessions[k]
	if !ok {
		return auth.Session{}, fmt.Errorf("update session %q: %w", se.ID, storage.ErrNotFound)
	}
	if stored.Revoked || se.Version != stored.Version {
		return auth.Session{}, fmt.Errorf("update session %q: revoked or changed (version %d, stored %d): %w", se.ID, se.Version, stored.Version, storage.ErrConflict)
	}
	stored.State, stored.PINHash, stored.PINSet, stored.Expires = se.State, se.PINHash, se.PINSet, se.Expires
	stored.Version++
	s.auth.sessions[k] = stored
	s.appendLocked(e)
	return stored.Normalize(), nil
}

// TouchSession implements auth.SessionStore.
func (s *Store) TouchSession(ctx context.Context, org storage.OrgID, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := okey{org, id}
	se, ok := s.auth.sessions[k]
	if !ok {
		return fmt.Errorf("touch session %q: %w", id, storage.ErrNotFound)
	}
	if at = storage.Normalize(at); at.After(se.LastUsed) {
		se.LastUsed = at
		s.auth.sessions[k] = se
	}
	return nil
}

// RevokeSession implements auth.SessionStore.
func (s *Store) RevokeSession(ctx context.Context, org storage.OrgID, id string, e storage.AuditEntry) error {
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := okey{org, id}
	se, ok := s.auth.sessions[k]
	if !ok || se.Revoked {
		return fmt.Errorf("revoke session %q: %w", id, storage.ErrNotFound)
	}
	se.Revoked = true
	s.auth.sessions[k] = se
	delete(s.auth.codes, k)
	s.appendLocked(e)
	return nil
}

// RevokeUserSessions implements auth.SessionStore.
func (s *Store) RevokeUserSessions(ctx context.Context, org storage.OrgID, userID string, e storage.AuditEntry) (int, error) {
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.orgLocked("revoke sessions", org); err != nil {
		return 0, err
	}
	n := s.revokeUserLocked(org, userID)
	s.appendLocked(e)
	return n, nil
}

// revokeUserLocked revokes the user's live sessions; s.mu must be held.
func (s *Store) revokeUserLocked(org storage.OrgID, userID string) int {
	n := 0
	for k, se := range s.auth.sessions {
		if k.org == org && se.UserID == userID && !se.Revoked {
			se.Revoked = true
			s.auth.sessions[k] = se
			delete(s.auth.codes, k)
			n++
		}
	}
	return n
}
