package storagetest

import (
	"fmt"
	"testing"

	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/storage"
)

func catalogCases() []testCase {
	return []testCase{
		{"Catalog/AppCreateAndRead", testCatAppCreateAndRead},
		{"Catalog/AppCreateRejected", testCatAppCreateRejected},
		{"Catalog/AppUpdate", testCatAppUpdate},
		{"Catalog/AppDelete", testCatAppDelete},
		{"Catalog/Assignments", testCatAssignments},
		{"Catalog/AssignedApps", testCatAssignedApps},
		{"Catalog/Installs", testCatInstalls},
		{"Catalog/TenantIsolation", testCatTenantIsolation},
		{"Catalog/ConcurrentStartInstall", testCatConcurrentStart},
		{"Catalog/ConcurrentCreateSameIdentifier", testCatConcurrentCreate},
		{"Catalog/ConcurrentDeleteAndAssign", testCatConcurrentDeleteAssign},
	}
}

// sampleApps returns one valid app of each kind, using every field, so
// that a backend losing any of them on the way through fails.
func sampleApps(org storage.OrgID) (store, inHouse, play catalog.App) {
	store = catalog.App{
		ID: "app_mail", Org: org, Kind: catalog.AppStore, Identifier: "com.acme.mail", StoreID: 1_234_567_890_123,
		Name: "Acme Mail — 邮件", IconURL: "https://cdn.acme.example/mail.png",
		Description: "Work mail.\n\tSigned in for you.",
		Config: []catalog.ConfigEntry{
			{Key: "login", Type: catalog.TypeString, Value: "${user.login}@acme"},
			{Key: "port", Type: catalog.TypeInteger, Value: "-993"},
			{Key: "tls", Type: catalog.TypeBoolean, Value: "true"},
			{Key: "ratio", Type: catalog.TypeReal, Value: "0.75"},
		},
	}
	inHouse = catalog.App{
		ID: "app_sales", Org: org, Kind: catalog.InHouse, Identifier: "com.acme.sales",
		ManifestURL: "https://apps.acme.example/sales/manifest.plist?v=2", BundleVersion: "2.10.3",
		Name: "Sales", KeepOnUnenroll: true, AllowBackup: true,
	}
	play = catalog.App{ID: "app_chat", Org: org, Kind: catalog.Play, Identifier: "com.acme.mail", Name: "Acme Chat"}
	return store, inHouse, play
}

func catEntry(org storage.OrgID, action, target string, minute int) storage.AuditEntry {
	return storage.AuditEntry{Org: org, Time: at(minute), Actor: "admin:root", Action: action, Target: target,
		Details: map[string]string{"target": target}}
}

func mustCreateApp(t testing.TB, s Store, a catalog.App, minute int) catalog.App {
	t.Helper()
	got, err := s.CreateApp(t.Context(), a, catEntry(a.Org, "catalog.app.create", "app:"+a.ID, minute))
	noErr(t, fmt.Sprintf("CreateApp(%q)", a.ID), err)
	return got
}

func mustAssign(t testing.TB, s Store, org storage.OrgID, app, group string, mode catalog.Mode, minute int) catalog.Assignment {
	t.Helper()
	got, err := s.CreateAssignment(t.Context(), catalog.Assignment{Org: org, AppID: app, Group: group, Mode: mode},
		catEntry(org, "catalog.assignment.create", "app:"+app, minute))
	noErr(t, fmt.Sprintf("CreateAssignment(%q, %q)", app, group), err)
	return got
}

func storedApp(a catalog.App, version int64, created, updated int) catalog.App {
	a = a.Normalize()
	a.Version = version
	a.Created, a.Updated = storage.Normalize(at(created)), storage.Normalize(at(updated))
	return a
}

// catalogSnapshot extends snapshot with every org's apps, their
// assignments and the install records of the given devices.
type catalogSnapshot struct {
	Base        snapshot
	Apps        map[storage.OrgID][]catalog.App
	Assignments map[storage.OrgID]map[string][]catalog.Assignment
	Installs    map[storage.OrgID]map[string][]catalog.Install
}

func takeCatalogSnapshot(t testing.TB, s Store, devices ...string) catalogSnapshot {
	t.Helper()
	ctx := t.Context()
	snap := catalogSnapshot{Base: takeSnapshot(t, s), Apps: map[storage.OrgID][]catalog.App{},
		Assignments: map[storage.OrgID]map[string][]catalog.Assignment{}, Installs: map[storage.OrgID]map[string][]catalog.Install{}}
	for _, o := range snap.Base.Orgs {
		apps, err := s.ListApps(ctx, o.ID)
		noErr(t, "ListApps", err)
		snap.Apps[o.ID] = apps
		snap.Assignments[o.ID] = map[string][]catalog.Assignment{}
		for _, a := range apps {
			as, err := s.ListAssignments(ctx, o.ID, a.ID)
			noErr(t, "ListAssignments", err)
			snap.Assignments[o.ID][a.ID] = as
		}
		snap.Installs[o.ID] = map[string][]catalog.Install{}
		for _, d := range devices {
			ins, err := s.DeviceInstalls(ctx, o.ID, d)
			noErr(t, "DeviceInstalls", err)
			snap.Installs[o.ID][d] = ins
		}
	}
	return snap
}

func catalogUnchanged(t testing.TB, what string, s Store, before catalogSnapshot, devices ...string) {
	t.Helper()
	same(t, what+": store changed", takeCatalogSnapshot(t, s, devices...), before)
}

func testCatAppCreateAndRead(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	store, inHouse, play := sampleApps(o.ID)
	e := catEntry(o.ID, "catalog.app.create", "app:"+store.ID, 1)
	got, err := s.CreateApp(ctx, store, e)
	noErr(t, "CreateApp", err)
	same(t, "CreateApp result", got, storedApp(store, 1, 1, 1))
	mustCreateApp(t, s, inHouse, 2)
	// Same identifier as the App Store app, other platform family: allowed.
	mustCreateApp(t, s, play, 3)

	read, err := s.App(ctx, o.ID, store.ID)
	noErr(t, "App", err)
	same(t, "App", read, storedApp(store, 1, 1, 1))
	list, err := s.ListApps(ctx, o.ID)
	noErr(t, "ListApps", err)
	same(t, "ListApps (by name)", list, []catalog.App{storedApp(play, 1, 3, 3), storedApp(store, 1, 1, 1), storedApp(inHouse, 1, 2, 2)})

	log := allAudit(t, s, o.ID)
	if len(log) != 4 {
		t.Fatalf("audit log has %d entries, want org creation and three app creations", len(log))
	}
	want := e.Normalize()
	want.ID = log[1].ID
	same(t, "app creation audit entry", log[1], want)

	_, err = s.App(ctx, o.ID, "app_unknown")
	wantErr(t, "App(unknown)", err, storage.ErrNotFound)
	empty, err := s.ListApps(ctx, "org_unknown")
	noErr(t, "ListApps(unknown org)", err)
	if len(empty) != 0 {
		t.Errorf("ListApps(unknown org) = %d apps, want none", len(empty))
	}
}

func testCatAppCreateRejected(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	store, inHouse, _ := sampleApps(o.ID)
	mustCreateApp(t, s, store, 1)
	tests := []struct {
		name string
		edit func(*catalog.App, *storage.AuditEntry)
		want error
	}{
		{"manifest URL not https", func(a *catalog.App, _ *storage.AuditEntry) { a.ManifestURL = "http://apps.acme.example/m.plist" }, storage.ErrInvalid},
		{"manifest URL without host", func(a *catalog.App, _ *storage.AuditEntry) { a.ManifestURL = "https:///m.plist" }, storage.ErrInvalid},
		{"in-house without version", func(a *catalog.App, _ *storage.AuditEntry) { a.BundleVersion = "" }, storage.ErrInvalid},
		{"in-house version not numeric", func(a *catalog.App, _ *storage.AuditEntry) { a.BundleVersion = "2.1b" }, storage.ErrInvalid},
		{"in-house with store ID", func(a *catalog.App, _ *storage.AuditEntry) { a.StoreID = 5 }, storage.ErrInvalid},
		{"bad bundle ID", func(a *catalog.App, _ *storage.AuditEntry) { a.Identifier = "com.acme..sales" }, storage.ErrInvalid},
		{"empty name", func(a *catalog.App, _ *storage.AuditEntry) { a.Name = "" }, storage.ErrInvalid},
		{"icon over http", func(a *catalog.App, _ *storage.AuditEntry) { a.IconURL = "http://cdn.acme.example/i.png" }, storage.ErrInvalid},
		{"unknown kind", func(a *catalog.App, _ *storage.AuditEntry) { a.Kind = "windows" }, storage.ErrInvalid},
		{"unknown placeholder", func(a *catalog.App, _ *storage.AuditEntry) {
			a.Config = []catalog.ConfigEntry{{Key: "k", Type: catalog.TypeString, Value: "${user.password}"}}
		}, storage.ErrInvalid},
		{"integer not a number", func(a *catalog.App, _ *storage.AuditEntry) {
			a.Config = []catalog.ConfigEntry{{Key: "k", Type: catalog.TypeInteger, Value: "12a"}}
		}, storage.ErrInvalid},
		{"config key twice", func(a *catalog.App, _ *storage.AuditEntry) {
			a.Config = []catalog.ConfigEntry{{Key: "k", Type: catalog.TypeBoolean, Value: "true"}, {Key: "k", Type: catalog.TypeBoolean, Value: "false"}}
		}, storage.ErrInvalid},
		{"audit entry of another org", func(_ *catalog.App, e *storage.AuditEntry) { e.Org = "org_other" }, storage.ErrInvalid},
		{"audit entry without action", func(_ *catalog.App, e *storage.AuditEntry) { e.Action = "" }, storage.ErrInvalid},
		{"duplicate id", func(a *catalog.App, _ *storage.AuditEntry) { a.ID = store.ID }, storage.ErrAlreadyExists},
		{"duplicate bundle ID", func(a *catalog.App, _ *storage.AuditEntry) { a.Identifier = store.Identifier }, storage.ErrAlreadyExists},
		{"unknown org", func(a *catalog.App, e *storage.AuditEntry) { a.Org, e.Org = "org_unknown", "org_unknown" }, storage.ErrNotFound},
	}
	for _, tc := range tests {
		before := takeCatalogSnapshot(t, s)
		a := inHouse
		e := catEntry(o.ID, "catalog.app.create", "app:"+a.ID, 2)
		tc.edit(&a, &e)
		_, err := s.CreateApp(ctx, a, e)
		wantErr(t, tc.name, err, tc.want)
		catalogUnchanged(t, tc.name, s, before)
	}
	mustCreateApp(t, s, inHouse, 3) // the control: valid as given
}

func testCatAppUpdate(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	_, inHouse, _ := sampleApps(o.ID)
	mustCreateApp(t, s, inHouse, 1)

	next := inHouse
	next.Version = 1
	next.Name, next.BundleVersion, next.KeepOnUnenroll = "Sales 3", "3", false
	next.Config = []catalog.ConfigEntry{{Key: "mail", Type: catalog.TypeString, Value: "${user.email}"}}
	got, err := s.UpdateApp(ctx, next, catEntry(o.ID, "catalog.app.update", "app:"+next.ID, 2))
	noErr(t, "UpdateApp", err)
	want := storedApp(next, 2, 1, 2)
	same(t, "UpdateApp result", got, want)

	tests := []struct {
		name string
		edit func(*catalog.App)
		want error
	}{
		{"stale version", func(a *catalog.App) { a.Version = 1 }, storage.ErrConflict},
		{"lowered bundle version", func(a *catalog.App) { a.BundleVersion = "2.99" }, storage.ErrInvalid},
		{"changed identifier", func(a *catalog.App) { a.Identifier = "com.acme.sales2" }, storage.ErrInvalid},
		{"changed kind", func(a *catalog.App) {
			a.Kind, a.StoreID, a.ManifestURL, a.BundleVersion = catalog.AppStore, 42, "", ""
		}, storage.ErrInvalid},
		{"invalid manifest URL", func(a *catalog.App) { a.ManifestURL = "ftp://x.example/m" }, storage.ErrInvalid},
		{"unknown app", func(a *catalog.App) { a.ID = "app_unknown" }, storage.ErrNotFound},
	}
	for _, tc := range tests {
		before := takeCatalogSnapshot(t, s)
		a := got
		tc.edit(&a)
		_, err := s.UpdateApp(ctx, a, catEntry(o.ID, "catalog.app.update", "app:"+a.ID, 3))
		wantErr(t, tc.name, err, tc.want)
		catalogUnchanged(t, tc.name, s, before)
	}
	// An equal version is allowed: the name can change without a new build.
	again := got
	again.Name = "Sales"
	got, err = s.UpdateApp(ctx, again, catEntry(o.ID, "catalog.app.update", "app:"+again.ID, 4))
	noErr(t, "UpdateApp(same bundle version)", err)
	if got.Version != 3 || got.BundleVersion != "3" {
		t.Errorf("UpdateApp(same bundle version) = version %d bundle %q, want 3 and \"3\"", got.Version, got.BundleVersion)
	}
}

func testCatAppDelete(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	store, _, _ := sampleApps(o.ID)
	mustCreateApp(t, s, store, 1)
	mustAssign(t, s, o.ID, store.ID, "grp_sales", catalog.Available, 2)
	_, err := s.StartInstall(ctx, catalog.Install{Org: o.ID, Device: "dev_1", AppID: store.ID, Command: "cmd-1", Progress: catalog.Queued},
		"", catEntry(o.ID, "catalog.install.request", "device:dev_1", 3))
	noErr(t, "StartInstall", err)

	before := takeCatalogSnapshot(t, s, "dev_1")
	err = s.DeleteApp(ctx, o.ID, store.ID, 1, catEntry(o.ID, "catalog.app.delete", "app:"+store.ID, 4))
	wantErr(t, "DeleteApp(assigned)", err, storage.ErrConflict)
	catalogUnchanged(t, "DeleteApp(assigned)", s, before, "dev_1")

	_, err = s.DeleteAssignment(ctx, o.ID, store.ID, "grp_sales", catEntry(o.ID, "catalog.assignment.delete", "app:"+store.ID, 5))
	noErr(t, "DeleteAssignment", err)
	before = takeCatalogSnapshot(t, s, "dev_1")
	err = s.DeleteApp(ctx, o.ID, store.ID, 2, catEntry(o.ID, "catalog.app.delete", "app:"+store.ID, 6))
	wantErr(t, "DeleteApp(stale version)", err, storage.ErrConflict)
	err = s.DeleteApp(ctx, o.ID, "app_unknown", 1, catEntry(o.ID, "catalog.app.delete", "app:unknown", 6))
	wantErr(t, "DeleteApp(unknown)", err, storage.ErrNotFound)
	catalogUnchanged(t, "DeleteApp rejected", s, before, "dev_1")

	n := len(allAudit(t, s, o.ID))
	noErr(t, "DeleteApp", s.DeleteApp(ctx, o.ID, store.ID, 1, catEntry(o.ID, "catalog.app.delete", "app:"+store.ID, 7)))
	_, err = s.App(ctx, o.ID, store.ID)
	wantErr(t, "App(deleted)", err, storage.ErrNotFound)
	ins, err := s.DeviceInstalls(ctx, o.ID, "dev_1")
	noErr(t, "DeviceInstalls", err)
	if len(ins) != 0 {
		t.Errorf("DeviceInstalls after DeleteApp = %v, want the app's records gone", ins)
	}
	if got := len(allAudit(t, s, o.ID)); got != n+1 {
		t.Errorf("audit entries after DeleteApp = %d, want %d", got, n+1)
	}
	// The identifier is free again.
	mustCreateApp(t, s, store, 8)
}

func testCatAssignments(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	store, _, _ := sampleApps(o.ID)
	mustCreateApp(t, s, store, 1)
	b := mustAssign(t, s, o.ID, store.ID, "grp_b", catalog.TakeOver, 2)
	a := mustAssign(t, s, o.ID, store.ID, "grp_a", catalog.Available, 3)
	wantA := catalog.Assignment{Org: o.ID, AppID: store.ID, Group: "grp_a", Mode: catalog.Available, Version: 1,
		Created: storage.Normalize(at(3)), Updated: storage.Normalize(at(3))}
	same(t, "CreateAssignment result", a, wantA)

	tests := []struct {
		name string
		as   catalog.Assignment
		want error
	}{
		{"duplicate", catalog.Assignment{Org: o.ID, AppID: store.ID, Group: "grp_a", Mode: catalog.AutoInstall}, storage.ErrAlreadyExists},
		{"unknown app", catalog.Assignment{Org: o.ID, AppID: "app_unknown", Group: "grp_c", Mode: catalog.AutoInstall}, storage.ErrNotFound},
		{"unknown mode", catalog.Assignment{Org: o.ID, AppID: store.ID, Group: "grp_c", Mode: "push"}, storage.ErrInvalid},
		{"empty group", catalog.Assignment{Org: o.ID, AppID: store.ID, Mode: catalog.Available}, storage.ErrInvalid},
	}
	for _, tc := range tests {
		before := takeCatalogSnapshot(t, s)
		_, err := s.CreateAssignment(ctx, tc.as, catEntry(o.ID, "catalog.assignment.create", "app:"+tc.as.AppID, 4))
		wantErr(t, tc.name, err, tc.want)
		catalogUnchanged(t, tc.name, s, before)
	}

	up := a
	up.Mode = catalog.AutoInstall
	got, err := s.UpdateAssignment(ctx, up, catEntry(o.ID, "catalog.assignment.update", "app:"+store.ID, 5))
	noErr(t, "UpdateAssignment", err)
	wantA.Mode, wantA.Version, wantA.Updated = catalog.AutoInstall, 2, storage.Normalize(at(5))
	same(t, "UpdateAssignment result", got, wantA)
	before := takeCatalogSnapshot(t, s)
	_, err = s.UpdateAssignment(ctx, up, catEntry(o.ID, "catalog.assignment.update", "app:"+store.ID, 6))
	wantErr(t, "UpdateAssignment(stale)", err, storage.ErrConflict)
	up.Group = "grp_unknown"
	_, err = s.UpdateAssignment(ctx, up, catEntry(o.ID, "catalog.assignment.update", "app:"+store.ID, 6))
	wantErr(t, "UpdateAssignment(unknown)", err, storage.ErrNotFound)
	catalogUnchanged(t, "UpdateAssignment rejected", s, before)

	list, err := s.ListAssignments(ctx, o.ID, store.ID)
	noErr(t, "ListAssignments", err)
	same(t, "ListAssignments (by group)", list, []catalog.Assignment{wantA, b})

	removed, err := s.DeleteAssignment(ctx, o.ID, store.ID, "grp_b", catEntry(o.ID, "catalog.assignment.delete", "app:"+store.ID, 7))
	noErr(t, "DeleteAssignment", err)
	same(t, "DeleteAssignment result", removed, b)
	before = takeCatalogSnapshot(t, s)
	_, err = s.DeleteAssignment(ctx, o.ID, store.ID, "grp_b", catEntry(o.ID, "catalog.assignment.delete", "app:"+store.ID, 8))
	wantErr(t, "DeleteAssignment(again)", err, storage.ErrNotFound)
	catalogUnchanged(t, "DeleteAssignment(again)", s, before)
	none, err := s.ListAssignments(ctx, o.ID, "app_unknown")
	noErr(t, "ListAssignments(unknown app)", err)
	if len(none) != 0 {
		t.Errorf("ListAssignments(unknown app) = %v, want none", none)
	}
}

func testCatAssignedApps(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	store, inHouse, play := sampleApps(o.ID)
	mustCreateApp(t, s, store, 1)
	mustCreateApp(t, s, inHouse, 1)
	mustCreateApp(t, s, play, 1)
	s1 := mustAssign(t, s, o.ID, store.ID, "grp_sales", catalog.Available, 2)
	s2 := mustAssign(t, s, o.ID, store.ID, "grp_all", catalog.AutoInstall, 2)
	h1 := mustAssign(t, s, o.ID, inHouse.ID, "grp_sales", catalog.TakeOver, 2)
	mustAssign(t, s, o.ID, play.ID, "grp_android", catalog.Available, 2)

	got, err := s.AssignedApps(ctx, o.ID, []string{"grp_sales", "grp_all", "grp_sales", "grp_nobody"})
	noErr(t, "AssignedApps", err)
	want := []catalog.AssignedApp{
		{App: storedApp(store, 1, 1, 1), Assignments: []catalog.Assignment{s2, s1}},
		{App: storedApp(inHouse, 1, 1, 1), Assignments: []catalog.Assignment{h1}},
	}
	same(t, "AssignedApps", got, want)
	if m := got[0].Mode(); m != catalog.AutoInstall {
		t.Errorf("strongest mode = %s, want %s", m, catalog.AutoInstall)
	}

	none, err := s.AssignedApps(ctx, o.ID, nil)
	noErr(t, "AssignedApps(no groups)", err)
	if len(none) != 0 {
		t.Errorf("AssignedApps(no groups) = %v, want none", none)
	}
	many := make([]string, catalog.MaxGroupsQuery+1)
	for i := range many {
		many[i] = fmt.Sprintf("grp_%d", i)
	}
	_, err = s.AssignedApps(ctx, o.ID, many)
	wantErr(t, "AssignedApps(too many groups)", err, storage.ErrInvalid)
}

func testCatInstalls(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	store, inHouse, _ := sampleApps(o.ID)
	mustCreateApp(t, s, store, 1)
	mustCreateApp(t, s, inHouse, 1)
	in := catalog.Install{Org: o.ID, Device: "dev_1", AppID: inHouse.ID, Command: "cmd-1", Progress: catalog.Queued,
		TakeOver: true, BundleVersion: inHouse.BundleVersion}
	got, err := s.StartInstall(ctx, in, "", catEntry(o.ID, "catalog.install.request", "device:dev_1", 2))
	noErr(t, "StartInstall", err)
	wantRec := in
	wantRec.Updated = storage.Normalize(at(2))
	same(t, "StartInstall result", got, wantRec)
	other := catalog.Install{Org: o.ID, Device: "dev_1", AppID: store.ID, Command: "cmd-2", Progress: catalog.Queued}
	otherRec, err := s.StartInstall(ctx, other, "", catEntry(o.ID, "catalog.install.request", "device:dev_1", 2))
	noErr(t, "StartInstall(other app)", err)

	rejected := []struct {
		name string
		in   catalog.Install
		prev string
		want error
	}{
		{"stale previous command", catalog.Install{Org: o.ID, Device: "dev_1", AppID: inHouse.ID, Command: "cmd-3", Progress: catalog.Queued}, "", storage.ErrConflict},
		{"wrong previous command", catalog.Install{Org: o.ID, Device: "dev_1", AppID: inHouse.ID, Command: "cmd-3", Progress: catalog.Removing}, "cmd-9", storage.ErrConflict},
		{"command of another record", catalog.Install{Org: o.ID, Device: "dev_1", AppID: inHouse.ID, Command: "cmd-2", Progress: catalog.Removing}, "cmd-1", storage.ErrAlreadyExists},
		{"command it replaces", catalog.Install{Org: o.ID, Device: "dev_1", AppID: inHouse.ID, Command: "cmd-1", Progress: catalog.Removing}, "cmd-1", storage.ErrAlreadyExists},
		{"unknown app", catalog.Install{Org: o.ID, Device: "dev_1", AppID: "app_unknown", Command: "cmd-4", Progress: catalog.Queued}, "", storage.ErrNotFound},
		{"final progress", catalog.Install{Org: o.ID, Device: "dev_1", AppID: inHouse.ID, Command: "cmd-5", Progress: catalog.Accepted}, "cmd-1", storage.ErrInvalid},
		{"removal taking over", catalog.Install{Org: o.ID, Device: "dev_1", AppID: inHouse.ID, Command: "cmd-5", Progress: catalog.Removing, TakeOver: true}, "cmd-1", storage.ErrInvalid},
		{"no command", catalog.Install{Org: o.ID, Device: "dev_1", AppID: inHouse.ID, Progress: catalog.Queued}, "cmd-1", storage.ErrInvalid},
		{"no device", catalog.Install{Org: o.ID, AppID: inHouse.ID, Command: "cmd-5", Progress: catalog.Queued}, "cmd-1", storage.ErrInvalid},
	}
	for _, tc := range rejected {
		before := takeCatalogSnapshot(t, s, "dev_1")
		_, err := s.StartInstall(ctx, tc.in, tc.prev, catEntry(o.ID, "catalog.install.request", "device:dev_1", 3))
		wantErr(t, tc.name, err, tc.want)
		catalogUnchanged(t, tc.name, s, before, "dev_1")
	}

	// The device answers.
	before := takeCatalogSnapshot(t, s, "dev_1")
	_, err = s.FinishInstall(ctx, o.ID, "dev_1", "cmd-1", catalog.Removed, "", catEntry(o.ID, "catalog.install.removed", "device:dev_1", 4))
	wantErr(t, "FinishInstall(install ending removed)", err, storage.ErrInvalid)
	_, err = s.FinishInstall(ctx, o.ID, "dev_1", "cmd-1", catalog.Removing, "", catEntry(o.ID, "catalog.install.removing", "device:dev_1", 4))
	wantErr(t, "FinishInstall(open progress)", err, storage.ErrInvalid)
	_, err = s.FinishInstall(ctx, o.ID, "dev_1", "cmd-unknown", catalog.Accepted, "", catEntry(o.ID, "catalog.install.accepted", "device:dev_1", 4))
	wantErr(t, "FinishInstall(unknown command)", err, storage.ErrNotFound)
	_, err = s.FinishInstall(ctx, o.ID, "dev_2", "cmd-1", catalog.Accepted, "", catEntry(o.ID, "catalog.install.accepted", "device:dev_2", 4))
	wantErr(t, "FinishInstall(other device)", err, storage.ErrNotFound)
	catalogUnchanged(t, "FinishInstall rejected", s, before, "dev_1")

	got, err = s.FinishInstall(ctx, o.ID, "dev_1", "cmd-2", catalog.Failed, "no space left\non the device",
		catEntry(o.ID, "catalog.install.failed", "device:dev_1", 5))
	noErr(t, "FinishInstall", err)
	wantOther := otherRec
	wantOther.Progress, wantOther.Reason, wantOther.Updated = catalog.Failed, "no space left\non the device", storage.Normalize(at(5))
	same(t, "FinishInstall result", got, wantOther)
	n := len(allAudit(t, s, o.ID))
	replay, err := s.FinishInstall(ctx, o.ID, "dev_1", "cmd-2", catalog.Accepted, "", catEntry(o.ID, "catalog.install.accepted", "device:dev_1", 6))
	noErr(t, "FinishInstall(replayed)", err)
	same(t, "FinishInstall(replayed) result", replay, wantOther)
	if got := len(allAudit(t, s, o.ID)); got != n {
		t.Errorf("a replayed answer appended %d audit entries, want none", got-n)
	}

	// A new request replaces the record; the old command no longer finds it.
	rm := catalog.Install{Org: o.ID, Device: "dev_1", AppID: inHouse.ID, Command: "cmd-6", Progress: catalog.Removing}
	rmRec, err := s.StartInstall(ctx, rm, "cmd-1", catEntry(o.ID, "catalog.install.remove", "device:dev_1", 7))
	noErr(t, "StartInstall(removal)", err)
	_, err = s.FinishInstall(ctx, o.ID, "dev_1", "cmd-1", catalog.Accepted, "", catEntry(o.ID, "catalog.install.accepted", "device:dev_1", 8))
	wantErr(t, "FinishInstall(replaced command)", err, storage.ErrNotFound)

	list, err := s.DeviceInstalls(ctx, o.ID, "dev_1")
	noErr(t, "DeviceInstalls", err)
	same(t, "DeviceInstalls (by app)", list, []catalog.Install{wantOther, rmRec})
	empty, err := s.DeviceInstalls(ctx, o.ID, "dev_unknown")
	noErr(t, "DeviceInstalls(unknown device)", err)
	if len(empty) != 0 {
		t.Errorf("DeviceInstalls(unknown device) = %v, want none", empty)
	}
}

func testCatTenantIsolation(t testing.TB, s Store) {
	ctx := t.Context()
	a := mustCreateOrg(t, s, "acme")
	b := mustCreateOrg(t, s, "globex")
	store, _, _ := sampleApps(a.ID)
	mustCreateApp(t, s, store, 1)
	mustAssign(t, s, a.ID, store.ID, "grp_sales", catalog.AutoInstall, 2)
	_, err := s.StartInstall(ctx, catalog.Install{Org: a.ID, Device: "dev_1", AppID: store.ID, Command: "cmd-1", Progress: catalog.Queued},
		"", catEntry(a.ID, "catalog.install.request", "device:dev_1", 3))
	noErr(t, "StartInstall", err)

	before := takeCatalogSnapshot(t, s, "dev_1")
	_, err = s.App(ctx, b.ID, store.ID)
	wantErr(t, "App from another org", err, storage.ErrNotFound)
	apps, err := s.ListApps(ctx, b.ID)
	noErr(t, "ListApps(other org)", err)
	if len(apps) != 0 {
		t.Errorf("ListApps(other org) = %v, want none", apps)
	}
	upd := store
	upd.Org, upd.Version = b.ID, 1
	_, err = s.UpdateApp(ctx, upd, catEntry(b.ID, "catalog.app.update", "app:"+store.ID, 4))
	wantErr(t, "UpdateApp from another org", err, storage.ErrNotFound)
	err = s.DeleteApp(ctx, b.ID, store.ID, 1, catEntry(b.ID, "catalog.app.delete", "app:"+store.ID, 4))
	wantErr(t, "DeleteApp from another org", err, storage.ErrNotFound)
	_, err = s.CreateAssignment(ctx, catalog.Assignment{Org: b.ID, AppID: store.ID, Group: "grp_x", Mode: catalog.Available},
		catEntry(b.ID, "catalog.assignment.create", "app:"+store.ID, 4))
	wantErr(t, "CreateAssignment to another org's app", err, storage.ErrNotFound)
	_, err = s.UpdateAssignment(ctx, catalog.Assignment{Org: b.ID, AppID: store.ID, Group: "grp_sales", Mode: catalog.Available, Version: 1},
		catEntry(b.ID, "catalog.assignment.update", "app:"+store.ID, 4))
	wantErr(t, "UpdateAssignment from another org", err, storage.ErrNotFound)
	_, err = s.DeleteAssignment(ctx, b.ID, store.ID, "grp_sales", catEntry(b.ID, "catalog.assignment.delete", "app:"+store.ID, 4))
	wantErr(t, "DeleteAssignment from another org", err, storage.ErrNotFound)
	as, err := s.ListAssignments(ctx, b.ID, store.ID)
	noErr(t, "ListAssignments(other org)", err)
	assigned, err := s.AssignedApps(ctx, b.ID, []string{"grp_sales"})
	noErr(t, "AssignedApps(other org)", err)
	if len(as)+len(assigned) != 0 {
		t.Errorf("another org sees assignments %v and assigned apps %v, want none", as, assigned)
	}
	_, err = s.StartInstall(ctx, catalog.Install{Org: b.ID, Device: "dev_1", AppID: store.ID, Command: "cmd-2", Progress: catalog.Queued},
		"", catEntry(b.ID, "catalog.install.request", "device:dev_1", 4))
	wantErr(t, "StartInstall of another org's app", err, storage.ErrNotFound)
	_, err = s.FinishInstall(ctx, b.ID, "dev_1", "cmd-1", catalog.Accepted, "", catEntry(b.ID, "catalog.install.accepted", "device:dev_1", 4))
	wantErr(t, "FinishInstall from another org", err, storage.ErrNotFound)
	ins, err := s.DeviceInstalls(ctx, b.ID, "dev_1")
	noErr(t, "DeviceInstalls(other org)", err)
	if len(ins) != 0 {
		t.Errorf("DeviceInstalls(other org) = %v, want none", ins)
	}
	catalogUnchanged(t, "requests from another org", s, before, "dev_1")

	// The other org may use the same IDs and identifiers for its own.
	theirs := store
	theirs.Org = b.ID
	mustCreateApp(t, s, theirs, 5)
}

func testCatConcurrentStart(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	store, _, _ := sampleApps(o.ID)
	mustCreateApp(t, s, store, 1)
	const n = 8
	errs := parallel(n, func(i int) error {
		_, err := s.StartInstall(ctx, catalog.Install{Org: o.ID, Device: "dev_1", AppID: store.ID, Command: fmt.Sprintf("cmd-%d", i), Progress: catalog.Queued},
			"", catEntry(o.ID, "catalog.install.request", "device:dev_1", 2))
		return err
	})
	same(t, "concurrent first requests", countErrs(errs, storage.ErrConflict), map[string]int{"nil": 1, storage.ErrConflict.Error(): n - 1})
	ins, err := s.DeviceInstalls(ctx, o.ID, "dev_1")
	noErr(t, "DeviceInstalls", err)
	if len(ins) != 1 {
		t.Fatalf("DeviceInstalls = %v, want one record", ins)
	}
	// Every competitor read the same record; exactly one may replace it.
	prev := ins[0].Command
	errs = parallel(n, func(i int) error {
		_, err := s.StartInstall(ctx, catalog.Install{Org: o.ID, Device: "dev_1", AppID: store.ID, Command: fmt.Sprintf("rm-%d", i), Progress: catalog.Removing},
			prev, catEntry(o.ID, "catalog.install.remove", "device:dev_1", 3))
		return err
	})
	same(t, "concurrent replacements", countErrs(errs, storage.ErrConflict), map[string]int{"nil": 1, storage.ErrConflict.Error(): n - 1})
	if got := len(allAudit(t, s, o.ID)); got != 4 {
		t.Errorf("audit log has %d entries, want org, app and two requests", got)
	}
}

func testCatConcurrentCreate(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	store, _, _ := sampleApps(o.ID)
	const n = 8
	errs := parallel(n, func(i int) error {
		a := store
		a.ID = fmt.Sprintf("app_%d", i)
		_, err := s.CreateApp(ctx, a, catEntry(o.ID, "catalog.app.create", "app:"+a.ID, 1))
		return err
	})
	same(t, "concurrent creations with one bundle ID", countErrs(errs, storage.ErrAlreadyExists), map[string]int{"nil": 1, storage.ErrAlreadyExists.Error(): n - 1})
	apps, err := s.ListApps(ctx, o.ID)
	noErr(t, "ListApps", err)
	if len(apps) != 1 {
		t.Errorf("ListApps = %d apps, want 1", len(apps))
	}
}

func testCatConcurrentDeleteAssign(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	store, _, _ := sampleApps(o.ID)
	mustCreateApp(t, s, store, 1)
	errs := parallel(2, func(i int) error {
		if i == 0 {
			return s.DeleteApp(ctx, o.ID, store.ID, 1, catEntry(o.ID, "catalog.app.delete", "app:"+store.ID, 2))
		}
		_, err := s.CreateAssignment(ctx, catalog.Assignment{Org: o.ID, AppID: store.ID, Group: "grp_sales", Mode: catalog.Available},
			catEntry(o.ID, "catalog.assignment.create", "app:"+store.ID, 2))
		return err
	})
	// Either the app went first (the assignment finds no app) or the
	// assignment did (the app cannot be deleted): never both, never an
	// assignment of a deleted app.
	deleted, assigned := errs[0] == nil, errs[1] == nil
	if deleted == assigned {
		t.Fatalf("delete: %v, assign: %v; want exactly one to succeed", errs[0], errs[1])
	}
	if deleted {
		wantErr(t, "assign after delete", errs[1], storage.ErrNotFound)
	} else {
		wantErr(t, "delete after assign", errs[0], storage.ErrConflict)
	}
	got, err := s.AssignedApps(ctx, o.ID, []string{"grp_sales"})
	noErr(t, "AssignedApps", err)
	if deleted != (len(got) == 0) {
		t.Errorf("AssignedApps = %v after delete=%v", got, deleted)
	}
}
