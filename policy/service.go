package policy

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/openomm/omm/storage"
)

// EventKind says what happened to a policy.
type EventKind string

const (
	Created EventKind = "created"
	Updated EventKind = "updated"
	Deleted EventKind = "deleted"
)

// Event tells the embedder that a policy changed. Whatever the kind, it
// means "re-apply to the devices under this policy": re-evaluate them and
// push what changed. A policy change never deprovisions a device by itself;
// packages acting on the event decide what to do with devices that are now
// denied.
type Event struct {
	Kind   EventKind
	Org    storage.OrgID
	Policy ID
	// Version is the policy's version after the change (for Deleted, the
	// version that was deleted).
	Version int64
	Time    time.Time
}

// Service manages an org's policies and evaluates them. It is safe for
// concurrent use.
//
// Evaluation runs on a [Set] cached per org. Before each evaluation the
// service reads the store's [Store.PolicyRevision] (one small query) and
// recompiles the Set when it moved, so a change made by another process
// sharing the database is seen by the next evaluation.
type Service struct {
	store  Store
	log    *slog.Logger
	clock  func() time.Time
	events func(context.Context, Event)

	mu    sync.Mutex
	cache map[storage.OrgID]cachedSet
}

type cachedSet struct {
	revision int64
	set      *Set
}

// Option configures [New].
type Option func(*Service)

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithClock sets the clock that stamps audit entries (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.clock = now } }

// WithEvents sets the hook called after every successful create, update and
// delete, once the change is committed. It runs on the caller's goroutine:
// hand long work off.
func WithEvents(hook func(ctx context.Context, e Event)) Option {
	return func(s *Service) { s.events = hook }
}

// New returns a service over store.
func New(store Store, opts ...Option) *Service {
	s := &Service{
		store: store,
		log:   slog.Default(),
		clock: time.Now,
		cache: make(map[storage.OrgID]cachedSet),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// errDefault is returned for any attempt to change the built-in default.
func errDefault(what string) error {
	return fmt.Errorf("%w: %s: the built-in default policy cannot be edited", storage.ErrInvalid, what)
}

func (s *Service) entry(org storage.OrgID, actor, action string, p Policy) storage.AuditEntry {
	return storage.AuditEntry{
		Org: org, Time: s.clock(), Actor: actor, Action: action, Target: "policy:" + string(p.ID),
		Details: map[string]string{"name": p.Name, "priority": strconv.Itoa(p.Priority)},
	}
}

// Create stores a new policy on behalf of actor ("admin:alice"), assigning
// it a fresh ID when p.ID is empty. Errors are the store's: ErrInvalid for
// a bad field, ErrAlreadyExists for a used ID or priority, ErrNotFound for
// an unknown org.
func (s *Service) Create(ctx context.Context, actor string, p Policy) (Policy, error) {
	if p.ID == "" {
		p.ID = NewID()
	}
	if p.ID == DefaultID {
		return Policy{}, errDefault("create")
	}
	if err := p.Validate(); err != nil {
		return Policy{}, err
	}
	got, err := s.store.CreatePolicy(ctx, p, s.entry(p.Org, actor, ActionPolicyCreate, p))
	if err != nil {
		return Policy{}, fmt.Errorf("create policy %q: %w", p.Name, err)
	}
	s.changed(ctx, Created, got)
	return got, nil
}

// Update replaces the policy p.ID on behalf of actor. p.Version must be the
// version read (else ErrConflict). The built-in default cannot be updated.
func (s *Service) Update(ctx context.Context, actor string, p Policy) (Policy, error) {
	if p.ID == DefaultID {
		return Policy{}, errDefault("update")
	}
	if err := p.Validate(); err != nil {
		return Policy{}, err
	}
	got, err := s.store.UpdatePolicy(ctx, p, s.entry(p.Org, actor, ActionPolicyUpdate, p))
	if err != nil {
		return Policy{}, fmt.Errorf("update policy %q: %w", p.ID, err)
	}
	s.changed(ctx, Updated, got)
	return got, nil
}

// Delete removes the org's policy id at version on behalf of actor. Devices
// under it are not deprovisioned: the Deleted event asks for them to be
// re-evaluated.
func (s *Service) Delete(ctx context.Context, actor string, org storage.OrgID, id ID, version int64) error {
	if id == DefaultID {
		return errDefault("delete")
	}
	p, err := s.store.Policy(ctx, org, id)
	if err != nil {
		return fmt.Errorf("delete policy %q: %w", id, err)
	}
	if err := s.store.DeletePolicy(ctx, org, id, version, s.entry(org, actor, ActionPolicyDelete, p)); err != nil {
		return fmt.Errorf("delete policy %q: %w", id, err)
	}
	p.Version = version
	s.changed(ctx, Deleted, p)
	return nil
}

// changed drops the org's cached Set and tells the embedder.
func (s *Service) changed(ctx context.Context, kind EventKind, p Policy) {
	s.mu.Lock()
	delete(s.cache, p.Org)
	s.mu.Unlock()
	s.log.InfoContext(ctx, "policy changed", "org", p.Org, "policy", p.ID, "kind", kind, "version", p.Version)
	if s.events != nil {
		s.events(ctx, Event{Kind: kind, Org: p.Org, Policy: p.ID, Version: p.Version, Time: storage.Normalize(s.clock())})
	}
}

// Policy returns the org's policy id; DefaultID returns the built-in default.
func (s *Service) Policy(ctx context.Context, org storage.OrgID, id ID) (Policy, error) {
	if id == DefaultID {
		if err := org.Validate(); err != nil {
			return Policy{}, err
		}
		return Default(org), nil
	}
	return s.store.Policy(ctx, org, id)
}

// List returns the org's policies by priority, followed by the built-in
// default that applies to everyone they do not target.
func (s *Service) List(ctx context.Context, org storage.OrgID) ([]Policy, error) {
	if err := org.Validate(); err != nil {
		return nil, err
	}
	ps, err := s.store.ListPolicies(ctx, org)
	if err != nil {
		return nil, err
	}
	return append(ps, Default(org)), nil
}

// Set returns the org's compiled policies, from the cache when the store's
// revision has not moved since they were compiled.
func (s *Service) Set(ctx context.Context, org storage.OrgID) (*Set, error) {
	rev, err := s.store.PolicyRevision(ctx, org)
	if err != nil {
		return nil, fmt.Errorf("policy revision of org %q: %w", org, err)
	}
	s.mu.Lock()
	c, ok := s.cache[org]
	s.mu.Unlock()
	if ok && c.revision == rev {
		return c.set, nil
	}
	// The revision was read before the list: if a change lands in between,
	// the newer list is cached under the older revision and simply compiled
	// again next time, never the reverse.
	ps, err := s.store.ListPolicies(ctx, org)
	if err != nil {
		return nil, fmt.Errorf("list policies of org %q: %w", org, err)
	}
	set, err := NewSet(org, ps)
	if err != nil {
		return nil, fmt.Errorf("compile policies of org %q: %w", org, err)
	}
	s.mu.Lock()
	if cur, ok := s.cache[org]; !ok || cur.revision <= rev {
		s.cache[org] = cachedSet{revision: rev, set: set}
	}
	s.mu.Unlock()
	return set, nil
}

// Evaluate decides whether u may or must enroll d in org; see
// [Set.Evaluate] for the rules. The org's mobility-management switch and
// the user's sign-in are the caller's to check first.
func (s *Service) Evaluate(ctx context.Context, org storage.OrgID, u User, d Device) (Decision, error) {
	set, err := s.Set(ctx, org)
	if err != nil {
		return Decision{}, err
	}
	return set.Evaluate(u, d)
}
