package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
)

// policyData holds the policy.Store tables; its zero value is ready, the
// maps being made on first write.
type policyData struct {
	byOrg     map[storage.OrgID]map[policy.ID]policy.Policy
	revisions map[storage.OrgID]int64
}

// checkPolicy validates the caller-supplied part of a policy write.
func checkPolicy(p policy.Policy, e storage.AuditEntry) (policy.Policy, storage.AuditEntry, error) {
	if err := p.Validate(); err != nil {
		return p, e, err
	}
	e, err := rules.ChangeEntry(p.Org, e)
	return p.Normalize(), e, err
}

// policyAtPriorityLocked returns the org's policy other than id holding
// priority, if any; s.mu must be held.
func (s *Store) policyAtPriorityLocked(org storage.OrgID, priority int, id policy.ID) (policy.Policy, bool) {
	for _, p := range s.policy.byOrg[org] {
		if p.Priority == priority && p.ID != id {
			return p, true
		}
	}
	return policy.Policy{}, false
}

// putPolicyLocked stores p and bumps the org's revision; s.mu must be held
// for writing.
func (s *Store) putPolicyLocked(p policy.Policy) {
	if s.policy.byOrg == nil {
		s.policy.byOrg = make(map[storage.OrgID]map[policy.ID]policy.Policy)
		s.policy.revisions = make(map[storage.OrgID]int64)
	}
	if s.policy.byOrg[p.Org] == nil {
		s.policy.byOrg[p.Org] = make(map[policy.ID]policy.Policy)
	}
	s.policy.byOrg[p.Org][p.ID] = p
	s.policy.revisions[p.Org]++
}

// CreatePolicy implements policy.Store.
func (s *Store) CreatePolicy(ctx context.Context, p policy.Policy, e storage.AuditEntry) (policy.Policy, error) {
	p, e, err := checkPolicy(p, e)
	if err != nil {
		return policy.Policy{}, err
	}
	p.Version = 1
	p.Created, p.Updated = e.Time, e.Time
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orgs[p.Org]; !ok {
		return policy.Policy{}, fmt.Errorf("create policy: org %q: %w", p.Org, storage.ErrNotFound)
	}
	if _, ok := s.policy.byOrg[p.Org][p.ID]; ok {
		return policy.Policy{}, fmt.Errorf("create policy: id %q: %w", p.ID, storage.ErrAlreadyExists)
	}
	if other, ok := s.policyAtPriorityLocked(p.Org, p.Priority, p.ID); ok {
		return policy.Policy{}, fmt.Errorf("create policy %q: priority %d is used by policy %q: %w", p.Name, p.Priority, other.Name, storage.ErrAlreadyExists)
	}
	s.putPolicyLocked(p)
	s.appendLocked(e)
	return p.Normalize(), nil
}

// Policy implements policy.Store.
func (s *Store) Policy(ctx context.Context, org storage.OrgID, id policy.ID) (policy.Policy, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.policy.byOrg[org][id]
	if !ok {
		return policy.Policy{}, fmt.Errorf("policy %q: %w", id, storage.ErrNotFound)
	}
	return p.Normalize(), nil
}

// ListPolicies implements policy.Store.
func (s *Store) ListPolicies(ctx context.Context, org storage.OrgID) ([]policy.Policy, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ps := make([]policy.Policy, 0, len(s.policy.byOrg[org]))
	for _, p := range s.policy.byOrg[org] {
		ps = append(ps, p.Normalize())
	}
	slices.SortFunc(ps, func(a, b policy.Policy) int { return cmp.Compare(a.Priority, b.Priority) })
	return ps, nil
}

// UpdatePolicy implements policy.Store.
func (s *Store) UpdatePolicy(ctx context.Context, p policy.Policy, e storage.AuditEntry) (policy.Policy, error) {
	p, e, err := checkPolicy(p, e)
	if err != nil {
		return policy.Policy{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	stored, ok := s.policy.byOrg[p.Org][p.ID]
	if !ok {
		return policy.Policy{}, fmt.Errorf("update policy %q: %w", p.ID, storage.ErrNotFound)
	}
	if p.Version != stored.Version {
		return policy.Policy{}, fmt.Errorf("update policy %q: read version %d, stored version %d: %w", p.ID, p.Version, stored.Version, storage.ErrConflict)
	}
	if other, ok := s.policyAtPriorityLocked(p.Org, p.Priority, p.ID); ok {
		return policy.Policy{}, fmt.Errorf("update policy %q: priority %d is used by policy %q: %w", p.Name, p.Priority, other.Name, storage.ErrAlreadyExists)
	}
	p.Version = stored.Version + 1
	p.Created, p.Updated = stored.Created, e.Time
	s.putPolicyLocked(p)
	s.appendLocked(e)
	return p.Normalize(), nil
}

// DeletePolicy implements policy.Store.
func (s *Store) DeletePolicy(ctx context.Context, org storage.OrgID, id policy.ID, version int64, e storage.AuditEntry) error {
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	stored, ok := s.policy.byOrg[org][id]
	if !ok {
		return fmt.Errorf("delete policy %q: %w", id, storage.ErrNotFound)
	}
	if version != stored.Version {
		return fmt.Errorf("delete policy %q: read version %d, stored version %d: %w", id, version, stored.Version, storage.ErrConflict)
	}
	delete(s.policy.byOrg[org], id)
	s.policy.revisions[org]++
	s.appendLocked(e)
	return nil
}

// PolicyRevision implements policy.Store.
func (s *Store) PolicyRevision(ctx context.Context, org storage.OrgID) (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.policy.revisions[org], nil
}
