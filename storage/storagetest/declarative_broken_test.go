package storagetest

import (
	"context"
	"testing"

	"github.com/openomm/omm/events"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/declarative"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// Backends that each break one rule of the declarative contract; the suite
// must catch every one.

// leakyDeclarative finds a state in any org.
type leakyDeclarative struct{ *memory.Store }

func (s leakyDeclarative) DeclarativeState(ctx context.Context, org storage.OrgID, device string) (declarative.State, error) {
	orgs, _ := s.ListOrgs(ctx)
	for _, o := range orgs {
		if st, err := s.Store.DeclarativeState(ctx, o.ID, device); err == nil {
			return st, nil
		}
	}
	return s.Store.DeclarativeState(ctx, org, device)
}

// splitDeclarative queues the commands in writes of their own, before the
// state: a state that cannot be written leaves them queued.
type splitDeclarative struct{ *memory.Store }

func (s splitDeclarative) SaveDeclarativeState(ctx context.Context, st declarative.State, cmds []enroll.Command, e storage.AuditEntry) (declarative.State, error) {
	for _, c := range cmds {
		if err := s.Store.EnqueueCommand(ctx, st.Org, []string{st.Device}, c, e); err != nil {
			return declarative.State{}, err
		}
	}
	return s.Store.SaveDeclarativeState(ctx, st, nil, e)
}

// blindStatus ignores the status version: the last report wins.
type blindStatus struct{ *memory.Store }

func (s blindStatus) SaveDeclarativeStatus(ctx context.Context, org storage.OrgID, device string, st declarative.Status, version int64, evs ...events.Event) (declarative.State, error) {
	if cur, err := s.Store.DeclarativeState(ctx, org, device); err == nil {
		version = cur.StatusVersion
	}
	return s.Store.SaveDeclarativeStatus(ctx, org, device, st, version, evs...)
}

// statusOverwritten lets a state write from an older status version win,
// losing the status reported since.
type statusOverwritten struct{ *memory.Store }

func (s statusOverwritten) SaveDeclarativeState(ctx context.Context, st declarative.State, cmds []enroll.Command, e storage.AuditEntry) (declarative.State, error) {
	if cur, err := s.Store.DeclarativeState(ctx, st.Org, st.Device); err == nil && cur.Version == st.Version {
		st.StatusVersion = cur.StatusVersion
	}
	return s.Store.SaveDeclarativeState(ctx, st, cmds, e)
}

func TestSuiteCatchesBrokenDeclarativeBackends(t *testing.T) {
	broken := map[string]func() Store{
		"state read across orgs":          func() Store { return leakyDeclarative{memory.New()} },
		"commands queued without state":   func() Store { return splitDeclarative{memory.New()} },
		"status version ignored":          func() Store { return blindStatus{memory.New()} },
		"status lost under a state write": func() Store { return statusOverwritten{memory.New()} },
	}
	expectCaught(t, broken, "Declarative/")
}
