package catalog_test

import (
	"testing"

	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/inventory"
)

// TestSetAssignmentChangesMode: assigning an app to a group it is
// assigned to changes the mode (an install follows where the new mode
// installs), instead of failing as "already exists".
func TestSetAssignmentChangesMode(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	mail := f.app(t, mailApp())
	alice := f.iphone(t, "alice")
	a := catalog.Assignment{Org: f.org, AppID: mail.ID, Group: "grp_all", Mode: catalog.Available}
	if _, err := f.svc.SetAssignment(ctx, a, "admin:root"); err != nil {
		t.Fatal(err)
	}
	if cs := f.commands(t, alice, "InstallApplication"); len(cs) != 0 {
		t.Fatalf("an available assignment queued %v", cs)
	}
	a.Mode = catalog.AutoInstall
	got, err := f.svc.SetAssignment(ctx, a, "admin:root")
	if err != nil || got.Mode != catalog.AutoInstall || got.Version != 2 {
		t.Fatalf("changing the mode = %+v, %v", got, err)
	}
	f.only(t, alice, "InstallApplication")
	// The same mode again changes nothing.
	if got, err := f.svc.SetAssignment(ctx, a, "admin:root"); err != nil || got.Version != 2 {
		t.Errorf("the same mode again = %+v, %v", got, err)
	}
	as, err := f.svc.ListAssignments(ctx, f.org, mail.ID)
	if err != nil || len(as) != 1 || as[0].Mode != catalog.AutoInstall {
		t.Errorf("assignments = %+v, %v", as, err)
	}
}

// TestViewClosedOffManagement: the store of a device that is not under
// management says so, and refuses installs.
func TestViewClosedOffManagement(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	mail := f.app(t, mailApp())
	f.assign(t, mail.ID, "grp_all", catalog.Available)
	alice := f.iphone(t, "alice")
	v, err := f.svc.View(ctx, f.org, "alice", alice.ID)
	if err != nil || v.Closed != "" {
		t.Fatalf("enrolled device's store: closed %q, %v", v.Closed, err)
	}
	for _, st := range []inventory.State{inventory.StateDeprovisioning, inventory.StateDeprovisioned} {
		if _, err := f.inv.SetState(ctx, f.org, alice.ID, st, "admin:root", "test"); err != nil {
			t.Fatal(err)
		}
		v, err = f.svc.View(ctx, f.org, "alice", alice.ID)
		if err != nil || v.Closed == "" || len(v.Items) != 1 {
			t.Errorf("%s device's store: closed %q, %d items, %v", st, v.Closed, len(v.Items), err)
		}
	}
}
