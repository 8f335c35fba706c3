package inventory_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openomm/omm/inventory"
)

// TestMacAppsWithoutIdentifier: macOS lists apps without a bundle
// identifier (installers, web apps). They are kept by name, as personal
// apps, without any folder of a name that is a path; on iPhone and iPad,
// where Apple always sends an identifier, such an entry is malformed.
func TestMacAppsWithoutIdentifier(t *testing.T) {
	list := appResult("UDID-MAC", "InstalledApplicationList", `<array>`+
		`<dict><key>Name</key><string>Install macOS Ventura</string><key>Version</key><string>18.1.02</string><key>BundleSize</key><integer>12345678</integer></dict>`+
		`<dict><key>Name</key><string>/Users/jdoe/Applications/Chrome Apps.localized/Gmail.app</string></dict>`+
		`<dict><key>Name</key><string>~/Downloads/Zoom Installer.app/</string></dict>`+
		`<dict><key>Identifier</key><string>com.apple.Safari</string><key>Name</key><string>Safari</string><key>ShortVersion</key><string>17.4</string></dict>`+
		`<dict><key>Name</key><string>Install macOS Ventura</string></dict>`+
		`<dict><key>Identifier</key><string>name:Sneaky</string><key>Name</key><string>Sneaky</string></dict>`+
		`<dict><key>Version</key><string>1.0</string></dict>`+
		`<dict><key>Name</key><string>/</string></dict>`+
		`</array>`)
	f := newFixture(t)
	mac := f.device(t, "UDID-MAC", inventory.PlatformMacOS)
	res, err := f.svc.IngestApple(t.Context(), f.org, mac.ID, list)
	if err != nil {
		t.Fatal(err)
	}
	if res.Dropped.Malformed != 3 {
		t.Errorf("malformed entries %d, want 3 (a claimed name-only identifier, no name, a name that is only a path): %+v", res.Dropped.Malformed, res.Dropped)
	}
	apps, err := f.store.DeviceApps(t.Context(), f.org, mac.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []inventory.App{
		{Identifier: "com.apple.Safari", Name: "Safari"},
		{Identifier: inventory.NameOnlyPrefix + "Gmail", Name: "Gmail"},
		{Identifier: inventory.NameOnlyPrefix + "Install macOS Ventura", Name: "Install macOS Ventura"},
		{Identifier: inventory.NameOnlyPrefix + "Zoom Installer", Name: "Zoom Installer"},
	}
	if d := cmp.Diff(want, apps); d != "" {
		t.Errorf("stored apps (-want +got):\n%s", d)
	}
	for _, a := range apps {
		if a.NameOnly() != strings.HasPrefix(a.Identifier, inventory.NameOnlyPrefix) {
			t.Errorf("NameOnly(%+v) = %v", a, a.NameOnly())
		}
	}
	checkNotStored(t, f, []string{"jdoe", "Chrome Apps.localized", "Downloads", "18.1.02", "12345678"})

	// A managed list cannot make a name-only app the organization's.
	if _, err := f.svc.IngestApple(t.Context(), f.org, mac.ID, appResult("UDID-MAC", "ManagedApplicationList",
		`<dict><key>name:Gmail</key><dict><key>Status</key><string>Managed</string></dict></dict>`)); err != nil {
		t.Fatal(err)
	}
	apps, _ = f.store.DeviceApps(t.Context(), f.org, mac.ID)
	for _, a := range apps {
		if a.Managed {
			t.Errorf("app %+v became managed", a)
		}
	}
	if err := (inventory.App{Identifier: inventory.NameOnlyPrefix + "Gmail", Name: "Gmail", Managed: true}).Validate(); err == nil {
		t.Error("the store would accept a managed app without a bundle identifier")
	}

	// The report names them, without an identifier.
	r, err := f.svc.Report(t.Context(), f.org, mac.ID, inventory.ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantPersonal := []inventory.ReportApp{{Identifier: "com.apple.Safari", Name: "Safari"}, {Name: "Gmail"}, {Name: "Install macOS Ventura"}, {Name: "Zoom Installer"}}
	if d := cmp.Diff(wantPersonal, r.Apps.Personal); d != "" {
		t.Errorf("report's personal apps (-want +got):\n%s", d)
	}

	// An iPhone always reports an identifier.
	phone := f.apple(t, udid)
	res, err = f.svc.IngestApple(t.Context(), f.org, phone.ID, appResult(udid, "InstalledApplicationList",
		`<array><dict><key>Name</key><string>Nameless</string></dict></array>`))
	if err != nil {
		t.Fatal(err)
	}
	if res.Apps != 0 || res.Dropped.Malformed != 1 {
		t.Errorf("iPhone entry without identifier: %d apps stored, dropped %+v", res.Apps, res.Dropped)
	}
}
