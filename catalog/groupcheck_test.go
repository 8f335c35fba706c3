package catalog_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/storage"
)

// TestAssignGroupCheck: with a group check, an assignment naming a group
// the org does not have (another org's, say) is refused and nothing is
// stored, not even an audit entry; a known group is assigned as before.
func TestAssignGroupCheck(t *testing.T) {
	f := newFixture(t)
	known := map[string]bool{"grp_sales": true, "grp_all": true}
	check := func(_ context.Context, org storage.OrgID, group string) error {
		if org != f.org || !known[group] {
			return fmt.Errorf("group %q: %w", group, storage.ErrNotFound)
		}
		return nil
	}
	clock := func() time.Time { return f.now }
	f.svc = catalog.New(f.store, f.store, f.dir, catalog.WithClock(clock), catalog.WithLogger(quiet()),
		catalog.WithNudger(f.nudger), catalog.WithGroupCheck(check))
	crm := f.app(t, catalog.App{Kind: catalog.AppStore, Identifier: "com.acme.crm", StoreID: 77, Name: "CRM"})

	before, err := f.store.ListAudit(t.Context(), f.org, storage.AuditQuery{Limit: storage.MaxAuditPage})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Assign(t.Context(), catalog.Assignment{Org: f.org, AppID: crm.ID, Group: "grp_of_another_org", Mode: catalog.Available}, "admin:root")
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("assigning an unknown group: %v, want ErrNotFound", err)
	}
	if as, err := f.svc.ListAssignments(t.Context(), f.org, crm.ID); err != nil || len(as) != 0 {
		t.Errorf("assignments after the refusal: %+v, %v", as, err)
	}
	after, err := f.store.ListAudit(t.Context(), f.org, storage.AuditQuery{Limit: storage.MaxAuditPage})
	if err != nil || len(after.Entries) != len(before.Entries) {
		t.Errorf("audit log grew from %d to %d entries on a refused assignment (%v)", len(before.Entries), len(after.Entries), err)
	}
	if _, err := f.svc.Assign(t.Context(), catalog.Assignment{Org: f.org, AppID: crm.ID, Group: "grp_sales", Mode: catalog.Available}, "admin:root"); err != nil {
		t.Fatalf("assigning a known group: %v", err)
	}
}
