package policy_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

var now = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

// countingStore counts ListPolicies calls, to observe the service's cache.
type countingStore struct {
	*memory.Store
	mu    sync.Mutex
	lists int
}

func (s *countingStore) ListPolicies(ctx context.Context, o storage.OrgID) ([]policy.Policy, error) {
	s.mu.Lock()
	s.lists++
	s.mu.Unlock()
	return s.Store.ListPolicies(ctx, o)
}

func (s *countingStore) listCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lists
}

type recorder struct {
	mu     sync.Mutex
	events []policy.Event
}

func (r *recorder) hook(_ context.Context, e policy.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) kinds() []policy.EventKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var k []policy.EventKind
	for _, e := range r.events {
		k = append(k, e.Kind)
	}
	return k
}

func newService(t *testing.T) (*policy.Service, *countingStore, *recorder) {
	t.Helper()
	store := &countingStore{Store: memory.New()}
	if _, err := store.CreateOrg(t.Context(), storage.Org{ID: org, Name: "acme", DisplayName: "Acme"},
		storage.AuditEntry{Org: org, Time: now, Actor: "system", Action: "org.create"}); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	svc := policy.New(store, policy.WithClock(func() time.Time { return now }), policy.WithEvents(rec.hook),
		policy.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	return svc, store, rec
}

func auditActions(t *testing.T, s storage.AuditLog) []string {
	t.Helper()
	page, err := s.ListAudit(t.Context(), org, storage.AuditQuery{Limit: storage.MaxAuditPage})
	if err != nil {
		t.Fatal(err)
	}
	var a []string
	for _, e := range page.Entries {
		a = append(a, e.Action+" "+e.Target)
	}
	return a
}

func TestServiceLifecycle(t *testing.T) {
	ctx := t.Context()
	svc, store, rec := newService(t)

	p := clone(staff)
	p.ID = ""
	created, err := svc.Create(ctx, "admin:alice", p)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if created.ID == "" || created.Version != 1 || !created.Created.Equal(now) {
		t.Errorf("Create returned %+v", created)
	}
	dec, err := svc.Evaluate(ctx, org, user("staff"), samsung("9", 28, false))
	if err != nil || dec.Outcome != policy.Enroll || dec.Policy != created.ID {
		t.Fatalf("Evaluate after create = %s by %s, %v", dec.Outcome, dec.Policy, err)
	}

	// Updating re-evaluates: the service's cached set is dropped.
	created.Rules[policy.Android] = policy.Rule{Action: policy.Deny}
	updated, err := svc.Update(ctx, "admin:alice", created)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if updated.Version != 2 {
		t.Errorf("version after update = %d", updated.Version)
	}
	dec, err = svc.Evaluate(ctx, org, user("staff"), samsung("9", 28, false))
	if err != nil || dec.Outcome != policy.Denied {
		t.Fatalf("Evaluate after update = %s, %v; want denied", dec.Outcome, err)
	}

	// A stale update is a conflict and changes nothing.
	if _, err := svc.Update(ctx, "admin:bob", created); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("stale Update = %v, want ErrConflict", err)
	}
	if err := svc.Delete(ctx, "admin:alice", org, created.ID, 1); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("stale Delete = %v, want ErrConflict", err)
	}

	if err := svc.Delete(ctx, "admin:alice", org, created.ID, 2); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	dec, err = svc.Evaluate(ctx, org, user("staff"), iphone("17.5"))
	if err != nil || dec.Policy != policy.DefaultID {
		t.Fatalf("Evaluate after delete = %s, %v; want the default", dec.Policy, err)
	}

	if got, want := rec.kinds(), []policy.EventKind{policy.Created, policy.Updated, policy.Deleted}; !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
	for _, e := range rec.events {
		if e.Org != org || e.Policy != created.ID || !e.Time.Equal(now) {
			t.Errorf("event %+v does not name the org, policy and time", e)
		}
	}
	if v := rec.events[2].Version; v != 2 {
		t.Errorf("Deleted event version = %d, want 2", v)
	}
	target := "policy:" + string(created.ID)
	wantAudit := []string{"org.create ", "policy.create " + target, "policy.update " + target, "policy.delete " + target}
	if got := auditActions(t, store); !slices.Equal(got, wantAudit) {
		t.Errorf("audit = %q, want %q", got, wantAudit)
	}
}

func TestServiceRejectsWithoutStoring(t *testing.T) {
	ctx := t.Context()
	svc, store, rec := newService(t)
	if _, err := svc.Create(ctx, "admin:alice", clone(staff)); err != nil {
		t.Fatal(err)
	}
	clash := clone(interns)
	clash.Priority = staff.Priority
	negative := clone(executives)
	editRule(&negative, policy.IOS, func(r *policy.Requirements) { r.Passcode.MinLength = -1 })
	unknownPlatform := clone(lab)
	unknownPlatform.Rules["windows"] = policy.Rule{Action: policy.Allow}
	noName := clone(partners)
	noName.Name = ""
	tests := []struct {
		name   string
		p      policy.Policy
		target error
	}{
		{"empty name", noName, storage.ErrInvalid},
		{"negative length", negative, storage.ErrInvalid},
		{"unknown platform", unknownPlatform, storage.ErrInvalid},
		{"priority clash", clash, storage.ErrAlreadyExists},
		{"default id", func() policy.Policy { p := clone(lab); p.ID = policy.DefaultID; return p }(), storage.ErrInvalid},
	}
	for _, tt := range tests {
		_, err := svc.Create(ctx, "admin:alice", tt.p)
		if !errors.Is(err, tt.target) {
			t.Errorf("%s: Create = %v, want %v", tt.name, err, tt.target)
		}
	}
	ps, err := store.ListPolicies(ctx, org)
	if err != nil || len(ps) != 1 {
		t.Errorf("after rejected creations the store holds %d policies (%v), want 1", len(ps), err)
	}
	if got := auditActions(t, store); len(got) != 2 {
		t.Errorf("audit after rejected creations = %q, want org and one policy creation", got)
	}
	if got := rec.kinds(); len(got) != 1 {
		t.Errorf("events after rejected creations = %v, want one", got)
	}
}

func TestServiceDefaultCannotBeEdited(t *testing.T) {
	ctx := t.Context()
	svc, _, rec := newService(t)
	def, err := svc.Policy(ctx, org, policy.DefaultID)
	if err != nil || def.ID != policy.DefaultID {
		t.Fatalf("Policy(default) = %+v, %v", def, err)
	}
	def.Rules[policy.IOS] = policy.Rule{Action: policy.Allow}
	if _, err := svc.Update(ctx, "admin:alice", def); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("Update(default) = %v, want ErrInvalid", err)
	}
	if err := svc.Delete(ctx, "admin:alice", org, policy.DefaultID, 0); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("Delete(default) = %v, want ErrInvalid", err)
	}
	if _, err := svc.Create(ctx, "admin:alice", def); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("Create(default) = %v, want ErrInvalid", err)
	}
	list, err := svc.List(ctx, org)
	if err != nil || len(list) != 1 || list[0].ID != policy.DefaultID || list[0].Rules[policy.IOS].Action != policy.Deny {
		t.Errorf("List = %+v, %v; want only the unchanged default", list, err)
	}
	if len(rec.kinds()) != 0 {
		t.Errorf("events = %v, want none", rec.kinds())
	}
}

func TestServiceCache(t *testing.T) {
	ctx := t.Context()
	svc, store, _ := newService(t)
	if _, err := svc.Create(ctx, "admin:alice", clone(executives)); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := svc.Evaluate(ctx, org, user("execs"), iphone("17.5")); err != nil {
			t.Fatal(err)
		}
	}
	if n := store.listCalls(); n != 1 {
		t.Errorf("5 evaluations listed the policies %d times, want 1 (cached)", n)
	}

	// Another process sharing the store changes a policy: the revision
	// moves and this service recompiles.
	other := policy.New(store, policy.WithClock(func() time.Time { return now }), policy.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	p, err := other.Policy(ctx, org, executives.ID)
	if err != nil {
		t.Fatal(err)
	}
	p.Rules[policy.IOS] = policy.Rule{Action: policy.Deny}
	if _, err := other.Update(ctx, "admin:bob", p); err != nil {
		t.Fatal(err)
	}
	dec, err := svc.Evaluate(ctx, org, user("execs"), iphone("17.5"))
	if err != nil || dec.Outcome != policy.Denied {
		t.Errorf("after another service's update: %s, %v; want denied", dec.Outcome, err)
	}
	if n := store.listCalls(); n != 2 {
		t.Errorf("policies listed %d times, want 2 (one recompilation)", n)
	}
}
