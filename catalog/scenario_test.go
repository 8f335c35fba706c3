package catalog_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

// An app assigned for install before the device enrolls is installed at
// enrollment, configured for the user, and shows Installed once the device
// reports it.
func TestScenarioAssignedBeforeEnrollment(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	mail := f.app(t, mailApp())
	f.assign(t, mail.ID, "grp_sales", catalog.AutoInstall)

	d := f.iphone(t, "alice")
	f.nudger.take()
	res, err := f.svc.SyncDevice(ctx, f.org, d.ID, "system")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Installed, []string{mail.ID}) || len(res.Removed) != 0 {
		t.Fatalf("SyncDevice = %+v, want the mail app installed", res)
	}
	if got := f.nudger.take(); !slices.Equal(got, []string{d.ID}) {
		t.Errorf("nudged %v, want the device", got)
	}
	c := f.only(t, d, "InstallApplication")
	want := map[string]any{
		"RequestType": "InstallApplication", "iTunesStoreID": uint64(361309726), "Identifier": "com.acme.mail",
		"ManagementFlags": uint64(5),
		"Configuration": map[string]any{
			"user": "alice", "address": "Alice Liddell <alice@acme.example>", "port": uint64(993), "tls": true,
		},
	}
	if d := cmp.Diff(want, c.Request); d != "" {
		t.Errorf("InstallApplication (-want +got):\n%s", d)
	}
	f.wantState(t, "alice", d, mail.ID, catalog.StateInstalling)

	// A second sync does not install again.
	if res, err := f.svc.SyncDevice(ctx, f.org, d.ID, "system"); err != nil || len(res.Installed) != 0 {
		t.Fatalf("second SyncDevice = %+v, %v; want nothing queued", res, err)
	}

	// The device accepts: still installing until it reports the app, and a
	// managed app list is asked for at once.
	f.answer(t, d, c, enroll.StatusAcknowledged, "")
	f.wantState(t, "alice", d, mail.ID, catalog.StateInstalling)
	f.only(t, d, "ManagedApplicationList")
	f.report(t, d, reportedApp{id: "com.acme.mail", status: "Installing"})
	f.wantState(t, "alice", d, mail.ID, catalog.StateInstalling)
	f.report(t, d, reportedApp{id: "com.acme.mail", name: "Mail", version: "16.2", status: "Managed"})
	it := f.wantState(t, "alice", d, mail.ID, catalog.StateInstalled)
	if it.InstalledVersion != "16.2" {
		t.Errorf("installed version %q, want 16.2", it.InstalledVersion)
	}
	// Replayed answers change nothing.
	f.answer(t, d, c, enroll.StatusError, "late error")
	f.wantState(t, "alice", d, mail.ID, catalog.StateInstalled)
}

// An app assigned after enrollment appears by itself and the members'
// devices are nudged; an install assignment queues the install at once.
func TestScenarioAssignedAfterEnrollment(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.dir.users["bob"] = auth.User{ID: "bob", Username: "bob", Email: "bob@acme.example", DisplayName: "Bob"}
	alice := f.iphone(t, "alice")
	bob := f.iphone(t, "bob")
	mail := f.app(t, mailApp())
	sales := f.app(t, salesApp())
	v, err := f.svc.View(ctx, f.org, "alice", alice.ID)
	if err != nil || len(v.Items) != 0 {
		t.Fatalf("View before any assignment = %+v, %v; want an empty store", v.Items, err)
	}

	f.assign(t, mail.ID, "grp_all", catalog.Available)
	if got := f.nudger.take(); !slices.Equal(got, sortedIDs(alice, bob)) {
		t.Errorf("nudged %v, want both members' devices", got)
	}
	f.wantState(t, "alice", alice, mail.ID, catalog.StateAvailable)
	f.wantState(t, "bob", bob, mail.ID, catalog.StateAvailable)
	if cs := f.commands(t, alice, "InstallApplication"); len(cs) != 0 {
		t.Errorf("an Available assignment queued %v", cs)
	}

	f.assign(t, sales.ID, "grp_sales", catalog.AutoInstall)
	c := f.only(t, alice, "InstallApplication")
	if c.Request["ManifestURL"] != "https://apps.acme.example/sales.plist" {
		t.Errorf("in-house install = %v", c.Request)
	}
	if cs := f.commands(t, bob, "InstallApplication"); len(cs) != 0 {
		t.Errorf("bob is not in sales, yet got %v", cs)
	}
	f.wantState(t, "alice", alice, sales.ID, catalog.StateInstalling)

	// Upgrading the mail assignment to install queues it for both.
	as, err := f.svc.ListAssignments(ctx, f.org, mail.ID)
	if err != nil || len(as) != 1 {
		t.Fatalf("ListAssignments = %v, %v", as, err)
	}
	as[0].Mode = catalog.AutoInstall
	if _, err := f.svc.UpdateAssignment(ctx, as[0], "admin:root"); err != nil {
		t.Fatal(err)
	}
	f.only(t, bob, "InstallApplication")
	if n := len(f.commands(t, alice, "InstallApplication")); n != 2 {
		t.Errorf("alice has %d installs queued, want mail and sales", n)
	}
}

// A copy the user installed before enrollment is flagged with advice to
// remove it, never installed over, and never removed by the catalog.
func TestScenarioUnmanagedCopyFlagged(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	mail := f.app(t, mailApp())
	d := f.iphone(t, "alice")
	f.report(t, d, reportedApp{id: "com.acme.mail", name: "Mail", version: "16.0"}, reportedApp{id: "com.game", name: "Game"})
	f.assign(t, mail.ID, "grp_sales", catalog.AutoInstall)

	if cs := f.commands(t, d, "InstallApplication"); len(cs) != 0 {
		t.Fatalf("installed over the user's copy: %v", cs)
	}
	it := f.wantState(t, "alice", d, mail.ID, catalog.StateUnmanaged)
	if it.Advice != catalog.AdviceRemove || it.TakeOver {
		t.Errorf("unmanaged item = %+v, want advice to remove and no take-over", it)
	}
	if _, err := f.svc.Install(ctx, f.org, "alice", d.ID, mail.ID); !errors.Is(err, catalog.ErrWrongState) || !errors.Is(err, storage.ErrConflict) {
		t.Errorf("Install over an unmanaged copy: %v, want ErrWrongState", err)
	}
	// Once the user removes their copy, the store offers the install.
	f.report(t, d, reportedApp{id: "com.game", name: "Game"})
	f.wantState(t, "alice", d, mail.ID, catalog.StateAvailable)
	if _, err := f.svc.Install(ctx, f.org, "alice", d.ID, mail.ID); err != nil {
		t.Fatal(err)
	}
}

// Take-over where the assignment and the device allow it.
func TestScenarioTakeOver(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	mail := f.app(t, mailApp())
	d := f.iphone(t, "alice")
	byod := f.device(t, "alice", inventory.PlatformIOS, inventory.EnrollAppleUser, inventory.OwnershipPersonal)
	for _, dev := range []inventory.Device{d, byod} {
		f.report(t, dev, reportedApp{id: "com.acme.mail", name: "Mail", version: "16.0"})
	}
	f.assign(t, mail.ID, "grp_sales", catalog.TakeOver)

	c := f.only(t, d, "InstallApplication")
	if c.Request["ChangeManagementState"] != "Managed" || c.Request["Identifier"] != "com.acme.mail" {
		t.Errorf("take-over command = %v", c.Request)
	}
	f.wantState(t, "alice", d, mail.ID, catalog.StateInstalling)
	f.answer(t, d, c, enroll.StatusAcknowledged, "")
	f.report(t, d, reportedApp{id: "com.acme.mail", name: "Mail", version: "16.0", status: "Managed"})
	f.wantState(t, "alice", d, mail.ID, catalog.StateInstalled)

	// A User Enrollment cannot take over: flagged instead, nothing queued.
	if cs := f.commands(t, byod, "InstallApplication"); len(cs) != 0 {
		t.Errorf("User Enrollment got %v", cs)
	}
	it := f.wantState(t, "alice", byod, mail.ID, catalog.StateUnmanaged)
	if it.TakeOver || it.Advice != catalog.AdviceRemove {
		t.Errorf("User Enrollment item = %+v, want no take-over offer", it)
	}
	if _, err := f.svc.Install(ctx, f.org, "alice", byod.ID, mail.ID); !errors.Is(err, catalog.ErrWrongState) {
		t.Errorf("Install on a User Enrollment: %v, want ErrWrongState", err)
	}

	// An Available take-over assignment offers it and the user accepts.
	sales := f.app(t, salesApp())
	d2 := f.iphone(t, "alice")
	f.report(t, d2, reportedApp{id: "com.acme.sales", name: "Sales", version: "1.0"})
	f.assign(t, sales.ID, "grp_all", catalog.Available)
	it = f.wantState(t, "alice", d2, sales.ID, catalog.StateUnmanaged)
	if it.TakeOver {
		t.Errorf("Available assignment offers take-over: %+v", it)
	}
}

// The user may uninstall a managed app at any time; the store then shows
// it Available again.
func TestScenarioUserUninstalls(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	mail := f.app(t, mailApp())
	f.assign(t, mail.ID, "grp_sales", catalog.Available)
	d := f.iphone(t, "alice")
	if _, err := f.svc.Uninstall(ctx, f.org, "alice", d.ID, mail.ID); !errors.Is(err, catalog.ErrWrongState) {
		t.Errorf("Uninstall of an app not installed: %v, want ErrWrongState", err)
	}
	it, err := f.svc.Install(ctx, f.org, "alice", d.ID, mail.ID)
	if err != nil || it.State != catalog.StateInstalling {
		t.Fatalf("Install = %+v, %v", it, err)
	}
	if _, err := f.svc.Install(ctx, f.org, "alice", d.ID, mail.ID); !errors.Is(err, catalog.ErrWrongState) {
		t.Errorf("second Install while installing: %v, want ErrWrongState", err)
	}
	f.answer(t, d, f.only(t, d, "InstallApplication"), enroll.StatusAcknowledged, "")
	f.report(t, d, reportedApp{id: "com.acme.mail", name: "Mail", version: "16.2", status: "Managed"})
	f.wantState(t, "alice", d, mail.ID, catalog.StateInstalled)

	f.nudger.take()
	it, err = f.svc.Uninstall(ctx, f.org, "alice", d.ID, mail.ID)
	if err != nil || it.State != catalog.StateRemoving {
		t.Fatalf("Uninstall = %+v, %v", it, err)
	}
	if got := f.nudger.take(); !slices.Equal(got, []string{d.ID}) {
		t.Errorf("nudged %v, want the device", got)
	}
	rm := f.only(t, d, "RemoveApplication")
	if rm.Request["Identifier"] != "com.acme.mail" {
		t.Errorf("RemoveApplication = %v", rm.Request)
	}
	f.wantState(t, "alice", d, mail.ID, catalog.StateRemoving)
	f.answer(t, d, rm, enroll.StatusAcknowledged, "")
	f.wantState(t, "alice", d, mail.ID, catalog.StateAvailable)
	f.report(t, d)
	f.wantState(t, "alice", d, mail.ID, catalog.StateAvailable)
	// An uninstalled AutoInstall app is not forced back by a sync.
	as, _ := f.svc.ListAssignments(ctx, f.org, mail.ID)
	as[0].Mode = catalog.AutoInstall
	if _, err := f.svc.UpdateAssignment(ctx, as[0], "admin:root"); err != nil {
		t.Fatal(err)
	}
	if n := len(f.commands(t, d, "InstallApplication")); n != 1 {
		t.Errorf("%d installs queued, want only the user's first", n)
	}
	if _, err := f.svc.Install(ctx, f.org, "alice", d.ID, mail.ID); err != nil {
		t.Errorf("reinstall: %v", err)
	}
}

// A failed install shows its reason; the user may try again. A refusal
// shows UserRejected, whether the device says so in its answer or in its
// managed app list.
func TestScenarioInstallFails(t *testing.T) {
	tests := []struct {
		name   string
		answer func(f *fixture, d inventory.Device, c command)
		want   catalog.State
		reason string
	}{
		{"device error", func(f *fixture, d inventory.Device, c command) {
			f.answer(t, d, c, enroll.StatusError, "Could not install: not enough storage\x00")
		}, catalog.StateFailed, "Could not install: not enough storage"},
		{"command format error", func(f *fixture, d inventory.Device, c command) {
			f.answer(t, d, c, enroll.StatusFormatError, "")
		}, catalog.StateFailed, "the device reported CommandFormatError"},
		{"abandoned", func(f *fixture, d inventory.Device, c command) {
			f.answer(t, d, c, enroll.StatusAbandoned, enroll.AbandonedDetail)
		}, catalog.StateFailed, enroll.AbandonedDetail},
		{"user declined in the answer", func(f *fixture, d inventory.Device, c command) {
			f.answer(t, d, c, enroll.StatusError, "The user declined the installation (UserRejected)")
		}, catalog.StateUserRejected, "The user declined the installation (UserRejected)"},
		{"user declined in the app list", func(f *fixture, d inventory.Device, c command) {
			f.answer(t, d, c, enroll.StatusAcknowledged, "")
			f.report(t, d, reportedApp{id: "com.acme.mail", status: "UserRejected"})
		}, catalog.StateUserRejected, "declined on the device"},
		{"failure in the app list", func(f *fixture, d inventory.Device, c command) {
			f.answer(t, d, c, enroll.StatusAcknowledged, "")
			f.report(t, d, reportedApp{id: "com.acme.mail", status: "Failed"})
		}, catalog.StateFailed, "the device reported that the installation failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			mail := f.app(t, mailApp())
			f.assign(t, mail.ID, "grp_sales", catalog.Available)
			d := f.iphone(t, "alice")
			if _, err := f.svc.Install(t.Context(), f.org, "alice", d.ID, mail.ID); err != nil {
				t.Fatal(err)
			}
			c := f.only(t, d, "InstallApplication")
			f.answer(t, d, c, enroll.StatusNotNow, "") // still to run
			f.wantState(t, "alice", d, mail.ID, catalog.StateInstalling)
			tc.answer(f, d, c)
			it := f.wantState(t, "alice", d, mail.ID, tc.want)
			if it.Reason != tc.reason {
				t.Errorf("reason %q, want %q", it.Reason, tc.reason)
			}
			if _, err := f.svc.Install(t.Context(), f.org, "alice", d.ID, mail.ID); err != nil {
				t.Errorf("retry: %v", err)
			}
			f.wantState(t, "alice", d, mail.ID, catalog.StateInstalling)
		})
	}
}

// Removing an assignment removes the managed app from the devices, unless
// another assignment keeps it; the store no longer lists it.
func TestScenarioAssignmentRemoved(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	mail := f.app(t, mailApp())
	f.assign(t, mail.ID, "grp_sales", catalog.AutoInstall)
	f.assign(t, mail.ID, "grp_all", catalog.Available)
	d := f.iphone(t, "alice")
	if _, err := f.svc.SyncDevice(ctx, f.org, d.ID, "system"); err != nil {
		t.Fatal(err)
	}
	f.answer(t, d, f.only(t, d, "InstallApplication"), enroll.StatusAcknowledged, "")
	f.report(t, d, reportedApp{id: "com.acme.mail", name: "Mail", version: "16.2", status: "Managed"}, reportedApp{id: "com.game", name: "Game"})

	if err := f.svc.Unassign(ctx, f.org, mail.ID, "grp_sales", "admin:root"); err != nil {
		t.Fatal(err)
	}
	if cs := f.commands(t, d, "RemoveApplication"); len(cs) != 0 {
		t.Fatalf("removed although grp_all still assigns it: %v", cs)
	}
	f.wantState(t, "alice", d, mail.ID, catalog.StateInstalled)

	f.nudger.take()
	if err := f.svc.Unassign(ctx, f.org, mail.ID, "grp_all", "admin:root"); err != nil {
		t.Fatal(err)
	}
	rm := f.only(t, d, "RemoveApplication")
	if rm.Request["Identifier"] != "com.acme.mail" {
		t.Errorf("RemoveApplication = %v", rm.Request)
	}
	if got := f.nudger.take(); !slices.Contains(got, d.ID) {
		t.Errorf("nudged %v, want the device", got)
	}
	v, err := f.svc.View(ctx, f.org, "alice", d.ID)
	if err != nil || len(v.Items) != 0 {
		t.Errorf("View after unassignment = %+v, %v; want empty", v.Items, err)
	}
	if err := f.svc.Unassign(ctx, f.org, mail.ID, "grp_all", "admin:root"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Unassign again: %v, want ErrNotFound", err)
	}
	// Now unassigned, the app can be deleted.
	if err := f.svc.DeleteApp(ctx, f.org, mail.ID, mail.Version, "admin:root"); err != nil {
		t.Errorf("DeleteApp: %v", err)
	}
}

// A user who leaves a group loses its apps at the next synchronization.
func TestScenarioUserLeavesGroup(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	mail := f.app(t, mailApp())
	sales := f.app(t, salesApp())
	f.assign(t, mail.ID, "grp_sales", catalog.Available)
	f.assign(t, sales.ID, "grp_all", catalog.Available)
	d := f.iphone(t, "alice")
	for _, a := range []catalog.App{mail, sales} {
		if _, err := f.svc.Install(ctx, f.org, "alice", d.ID, a.ID); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range f.commands(t, d, "InstallApplication") {
		f.answer(t, d, c, enroll.StatusAcknowledged, "")
	}
	f.report(t, d, reportedApp{id: "com.acme.mail", name: "Mail", status: "Managed"}, reportedApp{id: "com.acme.sales", name: "Sales", status: "Managed"})

	f.dir.leave("alice", "grp_sales")
	f.nudger.take()
	if err := f.svc.SyncUser(ctx, f.org, "alice", "system"); err != nil {
		t.Fatal(err)
	}
	rm := f.only(t, d, "RemoveApplication")
	if rm.Request["Identifier"] != "com.acme.mail" {
		t.Errorf("removed %v, want only the mail app", rm.Request)
	}
	if got := f.nudger.take(); !slices.Equal(got, []string{d.ID}) {
		t.Errorf("nudged %v", got)
	}
	v, err := f.svc.View(ctx, f.org, "alice", d.ID)
	if err != nil || len(v.Items) != 1 || v.Items[0].App.ID != sales.ID {
		t.Errorf("View = %+v, %v; want only the sales app", v.Items, err)
	}
	// Nothing more to do on a second sync.
	if err := f.svc.SyncUser(ctx, f.org, "alice", "system"); err != nil {
		t.Fatal(err)
	}
	if n := len(f.commands(t, d, "RemoveApplication")); n != 1 {
		t.Errorf("%d removals queued, want 1", n)
	}
}

// Deprovisioning removes exactly the managed apps (and installs under way)
// and nothing the user installed.
func TestScenarioDeprovision(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	mail := f.app(t, mailApp())
	sales := f.app(t, salesApp())
	crm := f.app(t, catalog.App{Kind: catalog.AppStore, Identifier: "com.acme.crm", StoreID: 77, Name: "CRM"})
	f.assign(t, mail.ID, "grp_sales", catalog.Available)
	f.assign(t, sales.ID, "grp_sales", catalog.Available)
	f.assign(t, crm.ID, "grp_sales", catalog.Available)
	d := f.iphone(t, "alice")
	for _, a := range []catalog.App{mail, sales} {
		if _, err := f.svc.Install(ctx, f.org, "alice", d.ID, a.ID); err != nil {
			t.Fatal(err)
		}
	}
	f.answer(t, d, f.commands(t, d, "InstallApplication")[0], enroll.StatusAcknowledged, "")
	// The CRM app is the user's own copy; a managed app the catalog no
	// longer knows is on the device too.
	f.report(t, d,
		reportedApp{id: "com.acme.mail", name: "Mail", version: "16.2", status: "Managed"},
		reportedApp{id: "com.acme.crm", name: "CRM"},
		reportedApp{id: "com.acme.legacy", name: "Legacy", status: "Managed"},
		reportedApp{id: "com.game", name: "Game"},
		reportedApp{id: "com.bank", name: "Bank"},
	)
	removed, err := f.svc.Deprovision(ctx, f.org, d.ID, "admin:root")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"com.acme.legacy", "com.acme.mail", "com.acme.sales"}
	if !slices.Equal(removed, want) {
		t.Errorf("Deprovision removed %v, want %v", removed, want)
	}
	var queued []string
	for _, c := range f.commands(t, d, "RemoveApplication") {
		queued = append(queued, c.Request["Identifier"].(string))
	}
	slices.Sort(queued)
	if !slices.Equal(queued, want) {
		t.Errorf("queued removals %v, want %v", queued, want)
	}
}

// Android Play apps are listed; installing them says the channel is not
// there yet.
func TestAndroidNotYetSupported(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	chat := f.app(t, catalog.App{Kind: catalog.Play, Identifier: "com.acme.chat", Name: "Chat"})
	mail := f.app(t, mailApp())
	f.assign(t, chat.ID, "grp_sales", catalog.AutoInstall)
	f.assign(t, mail.ID, "grp_sales", catalog.AutoInstall)
	a := f.device(t, "alice", inventory.PlatformAndroid, inventory.EnrollAndroidWorkProfile, inventory.OwnershipPersonal)
	v, err := f.svc.View(ctx, f.org, "alice", a.ID)
	if err != nil || len(v.Items) != 1 || v.Items[0].App.ID != chat.ID || v.Items[0].State != catalog.StateAvailable {
		t.Fatalf("Android store = %+v, %v; want only the Play app, Available", v.Items, err)
	}
	if _, err := f.svc.Install(ctx, f.org, "alice", a.ID, chat.ID); !errors.Is(err, catalog.ErrUnsupportedChannel) {
		t.Errorf("Install on Android: %v, want ErrUnsupportedChannel", err)
	}
	if _, err := f.svc.Install(ctx, f.org, "alice", a.ID, mail.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Install of an iOS app on Android: %v, want ErrNotFound", err)
	}
	if res, err := f.svc.SyncDevice(ctx, f.org, a.ID, "system"); err != nil || len(res.Installed) != 0 {
		t.Errorf("SyncDevice on Android = %+v, %v; want nothing", res, err)
	}
	if _, err := f.svc.Deprovision(ctx, f.org, a.ID, "admin:root"); !errors.Is(err, catalog.ErrUnsupportedChannel) {
		t.Errorf("Deprovision on Android: %v, want ErrUnsupportedChannel", err)
	}
}

// Requests for another user's device, an unassigned app, or a device not
// under management are refused.
func TestRequestsRefused(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	mail := f.app(t, mailApp())
	sales := f.app(t, salesApp())
	f.assign(t, mail.ID, "grp_all", catalog.Available)
	alice := f.iphone(t, "alice")
	bob := f.iphone(t, "bob")
	if _, err := f.svc.View(ctx, f.org, "alice", bob.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("View of another user's device: %v, want ErrNotFound", err)
	}
	if _, err := f.svc.Install(ctx, f.org, "alice", bob.ID, mail.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Install on another user's device: %v, want ErrNotFound", err)
	}
	if _, err := f.svc.View(ctx, "org_other", "alice", alice.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("View through another org: %v, want ErrNotFound", err)
	}
	if _, err := f.svc.Install(ctx, f.org, "alice", alice.ID, sales.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Install of an unassigned app: %v, want ErrNotFound", err)
	}
	if _, err := f.inv.SetState(ctx, f.org, alice.ID, inventory.StateDeprovisioning, "admin:root", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Install(ctx, f.org, "alice", alice.ID, mail.ID); !errors.Is(err, catalog.ErrNotManaged) {
		t.Errorf("Install on a device being deprovisioned: %v, want ErrNotManaged", err)
	}
	if err := f.svc.InstallOutcome(ctx, f.org, bob.ID, "unknown-uuid", enroll.StatusAcknowledged, ""); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("InstallOutcome of an unknown command: %v, want ErrNotFound", err)
	}
	if err := f.svc.InstallOutcome(ctx, f.org, bob.ID, "x", "Maybe", ""); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("InstallOutcome with an unknown status: %v, want ErrInvalid", err)
	}
}

// A placeholder the user has no value for fails the install clearly and
// queues nothing.
func TestInstallUnresolvedPlaceholder(t *testing.T) {
	f := newFixture(t)
	mail := f.app(t, mailApp())
	f.assign(t, mail.ID, "grp_all", catalog.Available)
	d := f.iphone(t, "bob") // bob has no email
	_, err := f.svc.Install(t.Context(), f.org, "bob", d.ID, mail.ID)
	if !errors.Is(err, catalog.ErrUnresolved) {
		t.Fatalf("Install: %v, want ErrUnresolved", err)
	}
	if cs := f.commands(t, d, "InstallApplication"); len(cs) != 0 {
		t.Errorf("queued %v", cs)
	}
	f.wantState(t, "bob", d, mail.ID, catalog.StateAvailable)
}

// A higher in-house build is offered as an update to devices with an older
// one.
func TestInHouseUpdate(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	sales := f.app(t, salesApp())
	f.assign(t, sales.ID, "grp_sales", catalog.AutoInstall)
	d := f.iphone(t, "alice")
	if _, err := f.svc.SyncDevice(ctx, f.org, d.ID, "system"); err != nil {
		t.Fatal(err)
	}
	f.answer(t, d, f.only(t, d, "InstallApplication"), enroll.StatusAcknowledged, "")
	f.report(t, d, reportedApp{id: "com.acme.sales", name: "Sales", version: "1.4", status: "Managed"})
	if it := f.wantState(t, "alice", d, sales.ID, catalog.StateInstalled); it.UpdateAvailable {
		t.Fatal("update offered for the current build")
	}
	if _, err := f.svc.Install(ctx, f.org, "alice", d.ID, sales.ID); !errors.Is(err, catalog.ErrWrongState) {
		t.Errorf("Install of the installed build: %v, want ErrWrongState", err)
	}
	sales.BundleVersion = "1.10"
	sales, err := f.svc.UpdateApp(ctx, sales, "admin:root")
	if err != nil {
		t.Fatal(err)
	}
	if it := f.wantState(t, "alice", d, sales.ID, catalog.StateInstalled); !it.UpdateAvailable {
		t.Fatal("no update offered for build 1.10 over 1.4")
	}
	if _, err := f.svc.Install(ctx, f.org, "alice", d.ID, sales.ID); err != nil {
		t.Fatalf("update: %v", err)
	}
	if n := len(f.commands(t, d, "InstallApplication")); n != 2 {
		t.Errorf("%d installs queued, want 2", n)
	}
}

// Bad input is refused with a clear error and nothing is stored.
func TestBadInputStoresNothing(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.app(t, mailApp())
	sales := f.app(t, salesApp())
	tests := []struct {
		name string
		call func() error
		want error
		msg  string
	}{
		{"manifest URL not https", func() error {
			a := salesApp()
			a.Identifier, a.ManifestURL = "com.acme.other", "http://apps.acme.example/o.plist"
			a.Org = f.org
			_, err := f.svc.CreateApp(ctx, a, "admin:root")
			return err
		}, storage.ErrInvalid, "must use https"},
		{"duplicate bundle id", func() error {
			a := salesApp()
			a.Kind, a.StoreID, a.ManifestURL, a.BundleVersion, a.Identifier = catalog.AppStore, 9, "", "", "com.acme.mail"
			a.Org = f.org
			_, err := f.svc.CreateApp(ctx, a, "admin:root")
			return err
		}, storage.ErrAlreadyExists, "com.acme.mail"},
		{"lowered version", func() error {
			a := sales
			a.BundleVersion = "1.3.9"
			_, err := f.svc.UpdateApp(ctx, a, "admin:root")
			return err
		}, storage.ErrInvalid, "lower than the stored 1.4"},
		{"unknown placeholder", func() error {
			a := mailApp()
			a.Identifier = "com.acme.mail2"
			a.Config = []catalog.ConfigEntry{{Key: "user", Type: catalog.TypeString, Value: "${user.phone}"}}
			a.Org = f.org
			_, err := f.svc.CreateApp(ctx, a, "admin:root")
			return err
		}, storage.ErrInvalid, "unknown placeholder ${user.phone}"},
		{"unknown mode", func() error {
			_, err := f.svc.Assign(ctx, catalog.Assignment{Org: f.org, AppID: sales.ID, Group: "grp_all", Mode: "force"}, "admin:root")
			return err
		}, storage.ErrInvalid, "unknown distribution mode"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.snapshot(t)
			err := tc.call()
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
			if d := cmp.Diff(before, f.snapshot(t)); d != "" {
				t.Errorf("store changed (-before +after):\n%s", d)
			}
		})
	}
}

func sortedIDs(ds ...inventory.Device) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.ID)
	}
	slices.Sort(out)
	return out
}
