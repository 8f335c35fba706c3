package storagetest

import (
	"context"
	"testing"

	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// Backends that each break one rule of the catalog contract; the suite must
// catch every one.

// leakyApp finds an app in any org.
type leakyApp struct{ *memory.Store }

func (s leakyApp) App(ctx context.Context, org storage.OrgID, id string) (catalog.App, error) {
	orgs, _ := s.ListOrgs(ctx)
	for _, o := range orgs {
		if a, err := s.Store.App(ctx, o.ID, id); err == nil {
			return a, nil
		}
	}
	return s.Store.App(ctx, org, id)
}

// blindStart replaces whatever record is stored, ignoring what the caller
// read: two concurrent requests both queue a command.
type blindStart struct{ *memory.Store }

func (s blindStart) StartInstall(ctx context.Context, in catalog.Install, prev string, e storage.AuditEntry) (catalog.Install, error) {
	if ins, err := s.DeviceInstalls(ctx, in.Org, in.Device); err == nil {
		prev = ""
		for _, r := range ins {
			if r.AppID == in.AppID {
				prev = r.Command
			}
		}
	}
	return s.Store.StartInstall(ctx, in, prev, e)
}

// reopened lets a replayed answer overwrite a final record.
type reopened struct{ *memory.Store }

func (s reopened) FinishInstall(ctx context.Context, org storage.OrgID, device, command string, to catalog.Progress, reason string, e storage.AuditEntry) (catalog.Install, error) {
	got, err := s.Store.FinishInstall(ctx, org, device, command, to, reason, e)
	if err == nil && got.Progress != to {
		got.Progress, got.Reason = to, reason
	}
	return got, err
}

// deletesAssigned deletes an app that is still assigned, dropping its
// assignments: devices would keep an app nobody can remove any more.
type deletesAssigned struct{ *memory.Store }

func (s deletesAssigned) DeleteApp(ctx context.Context, org storage.OrgID, id string, version int64, e storage.AuditEntry) error {
	if as, err := s.ListAssignments(ctx, org, id); err == nil {
		for _, a := range as {
			s.Store.DeleteAssignment(ctx, org, id, a.Group, e) //nolint:errcheck // the breakage under test
		}
	}
	return s.Store.DeleteApp(ctx, org, id, version, e)
}

// everyGroup ignores the groups asked about.
type everyGroup struct{ *memory.Store }

func (s everyGroup) AssignedApps(ctx context.Context, org storage.OrgID, groups []string) ([]catalog.AssignedApp, error) {
	apps, err := s.ListApps(ctx, org)
	if err != nil {
		return nil, err
	}
	var all []string
	for _, a := range apps {
		as, _ := s.ListAssignments(ctx, org, a.ID)
		for _, x := range as {
			all = append(all, x.Group)
		}
	}
	return s.Store.AssignedApps(ctx, org, append(groups, all...))
}

func TestSuiteCatchesBrokenCatalogBackends(t *testing.T) {
	broken := map[string]func() Store{
		"app read across orgs":          func() Store { return leakyApp{memory.New()} },
		"install ignores previous read": func() Store { return blindStart{memory.New()} },
		"replayed answer overwrites":    func() Store { return reopened{memory.New()} },
		"assigned app deleted":          func() Store { return deletesAssigned{memory.New()} },
		"assigned apps of every group":  func() Store { return everyGroup{memory.New()} },
	}
	expectCaught(t, broken, "Catalog/")
}
