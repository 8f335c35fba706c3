// Package memory is the in-memory storage backend: every store contract of
// the SDK held in maps behind one lock. It is meant for tests and small
// embeddings that need no durability; everything is lost when the process
// ends. Each call is atomic: its checks run before its first write.
package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
)

// Store implements the store contracts in memory. The zero value is not
// usable; call New.
type Store struct {
	mu          sync.RWMutex
	orgs        map[storage.OrgID]storage.Org
	names       map[string]storage.OrgID
	audit       map[storage.OrgID][]storage.AuditEntry // per org, in ID order
	lastID      int64
	devices     map[storage.OrgID]map[string]*invRecord // inventory.go; created on first write
	policy      policyData                              // see policy.go; zero value ready
	queue       queueData
	enrollments map[deviceKey]enroll.Enrollment // enrollment.go; created on first write
	auth        *authState                      // see auth.go
	catalog     catalogData                     // see catalog.go; zero value ready
	ota         otaData                         // see enroll_ota.go; zero value ready
	android     androidData                     // see android.go; zero value ready
	applied     appliedData                     // see reapply.go; zero value ready
}

// New returns an empty store.
func New() *Store {
	return &Store{
		orgs:  make(map[storage.OrgID]storage.Org),
		names: make(map[string]storage.OrgID),
		audit: make(map[storage.OrgID][]storage.AuditEntry),
		queue: newQueueData(),
		auth:  newAuthState(),
	}
}

// Ping reports whether the store is usable; an in-memory store always is.
func (s *Store) Ping(context.Context) error { return nil }

// Close releases nothing; it exists so that every backend closes alike.
func (s *Store) Close() error { return nil }

// appendLocked appends a validated entry; s.mu must be held for writing.
func (s *Store) appendLocked(e storage.AuditEntry) storage.AuditEntry {
	s.lastID++
	e.ID = s.lastID
	s.audit[e.Org] = append(s.audit[e.Org], e)
	return e.Normalize() // a copy, so the caller cannot reach the stored map
}

// AppendAudit implements storage.AuditLog.
func (s *Store) AppendAudit(ctx context.Context, e storage.AuditEntry) (storage.AuditEntry, error) {
	e, err := rules.Entry(e)
	if err != nil {
		return e, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orgs[e.Org]; !ok {
		return e, fmt.Errorf("append audit entry: org %q: %w", e.Org, storage.ErrNotFound)
	}
	return s.appendLocked(e), nil
}

// ListAudit implements storage.AuditLog.
func (s *Store) ListAudit(ctx context.Context, org storage.OrgID, q storage.AuditQuery) (storage.AuditPage, error) {
	q, err := q.Normalize()
	if err != nil {
		return storage.AuditPage{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	log := s.audit[org]
	start, _ := slices.BinarySearchFunc(log, q.After+1, func(e storage.AuditEntry, id int64) int {
		return cmpInt(e.ID, id)
	})
	var page storage.AuditPage
	for _, e := range log[start:] {
		if len(page.Entries) == q.Limit {
			page.Next = page.Entries[len(page.Entries)-1].ID
			break
		}
		page.Entries = append(page.Entries, e.Normalize())
	}
	return page, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// CreateOrg implements storage.OrgStore.
func (s *Store) CreateOrg(ctx context.Context, o storage.Org, e storage.AuditEntry) (storage.Org, error) {
	o, e, err := rules.NewOrg(o, e)
	if err != nil {
		return storage.Org{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orgs[o.ID]; ok {
		return storage.Org{}, fmt.Errorf("create org: id %q: %w", o.ID, storage.ErrAlreadyExists)
	}
	if _, ok := s.names[o.Name]; ok {
		return storage.Org{}, fmt.Errorf("create org: name %q: %w", o.Name, storage.ErrAlreadyExists)
	}
	s.orgs[o.ID] = o
	s.names[o.Name] = o.ID
	s.appendLocked(e)
	return o, nil
}

// Org implements storage.OrgStore.
func (s *Store) Org(ctx context.Context, id storage.OrgID) (storage.Org, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o, ok := s.orgs[id]
	if !ok {
		return storage.Org{}, fmt.Errorf("org %q: %w", id, storage.ErrNotFound)
	}
	return o, nil
}

// OrgByName implements storage.OrgStore.
func (s *Store) OrgByName(ctx context.Context, name string) (storage.Org, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.names[name]
	if !ok {
		return storage.Org{}, fmt.Errorf("org named %q: %w", name, storage.ErrNotFound)
	}
	return s.orgs[id], nil
}

// ListOrgs implements storage.OrgStore.
func (s *Store) ListOrgs(ctx context.Context) ([]storage.Org, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	orgs := make([]storage.Org, 0, len(s.orgs))
	for _, o := range s.orgs {
		orgs = append(orgs, o)
	}
	slices.SortFunc(orgs, func(a, b storage.Org) int { return strings.Compare(a.Name, b.Name) })
	return orgs, nil
}

// UpdateOrg implements storage.OrgStore.
func (s *Store) UpdateOrg(ctx context.Context, o storage.Org, e storage.AuditEntry) (storage.Org, error) {
	e, err := rules.CheckOrgUpdate(o, e)
	if err != nil {
		return storage.Org{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	stored, ok := s.orgs[o.ID]
	if !ok {
		return storage.Org{}, fmt.Errorf("update org %q: %w", o.ID, storage.ErrNotFound)
	}
	o, e, err = rules.UpdatedOrg(stored, o, e)
	if err != nil {
		return storage.Org{}, err
	}
	if id, ok := s.names[o.Name]; ok && id != o.ID {
		return storage.Org{}, fmt.Errorf("update org %q: name %q: %w", o.ID, o.Name, storage.ErrAlreadyExists)
	}
	delete(s.names, stored.Name)
	s.names[o.Name] = o.ID
	s.orgs[o.ID] = o
	s.appendLocked(e)
	return o, nil
}
