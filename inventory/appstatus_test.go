package inventory_test

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/openomm/omm/inventory"
)

// wantAppClass is the class of every Status in Apple's
// ManagedApplicationList schema, decided one by one.
var wantAppClass = map[string]inventory.AppClass{
	"Managed":                 inventory.AppManaged,
	"Updating":                inventory.AppManaged,
	"ValidatingUpdate":        inventory.AppManaged,
	"PromptingForUpdate":      inventory.AppManaged,
	"PromptingForUpdateLogin": inventory.AppManaged,
	"UpdateRejected":          inventory.AppManaged,
	"Queued":                  inventory.AppRequested,
	"NeedsRedemption":         inventory.AppRequested,
	"Redeeming":               inventory.AppRequested,
	"Prompting":               inventory.AppRequested,
	"PromptingForLogin":       inventory.AppRequested,
	"ValidatingPurchase":      inventory.AppRequested,
	"Installing":              inventory.AppRequested,
	"ManagedButUninstalled":   inventory.AppRequested,
	"UserRejected":            inventory.AppRequested,
	"Failed":                  inventory.AppRequested,
	"Unknown":                 inventory.AppRequested,
	"UserInstalledApp":        inventory.AppPersonal,
	"PromptingForManagement":  inventory.AppPersonal,
	"ManagementRejected":      inventory.AppPersonal,
}

// TestAppleAppStatuses takes every Status of Apple's ManagedApplicationList
// schema through ingest, for an app the user already has (their own copy,
// reported installed with a version) and for one not on the device: only
// an app the organization installed and the user accepted is managed and
// keeps a version; an app only requested is kept as the request while it
// is not installed; the user's own app keeps its name only, whatever the
// status and whichever list comes first.
func TestAppleAppStatuses(t *testing.T) {
	statuses := schemaResponse(t, "application.managed.list.yaml", "ManagedApplicationList").Subkeys[0].Subkeys[0]
	if statuses.Key != "Status" || len(statuses.Rangelist) == 0 {
		t.Fatalf("schema: no Status range list in %+v", statuses)
	}
	if d := cmp.Diff(slices.Sorted(maps.Keys(wantAppClass)), slices.Sorted(slices.Values(statuses.Rangelist))); d != "" {
		t.Fatalf("statuses of Apple's schema and of this test differ (-test +schema):\n%s", d)
	}
	installed := appResult(udid, "InstalledApplicationList", `<array><dict><key>Identifier</key><string>com.acme.notes</string>`+
		`<key>Name</key><string>Acme Notes</string><key>ShortVersion</key><string>2.0</string></dict></array>`)
	notInstalled := appResult(udid, "InstalledApplicationList", `<array/>`)
	for _, status := range statuses.Rangelist {
		t.Run(status, func(t *testing.T) {
			class, known := inventory.AppleAppStatus(status)
			if !known || class != wantAppClass[status] {
				t.Fatalf("AppleAppStatus(%q) = %v, %v; want %v", status, class, known, wantAppClass[status])
			}
			managed := appResult(udid, "ManagedApplicationList", `<dict><key>com.acme.notes</key><dict><key>Status</key><string>`+
				status+`</string><key>ManagementFlags</key><integer>1</integer></dict></dict>`)

			// onDevice after a refresh in AppleRefresh's order; late when
			// the managed list came last, so that the version waits for the
			// next installed list.
			var onDevice, late, absent *inventory.App
			switch class {
			case inventory.AppManaged:
				onDevice = &inventory.App{Identifier: "com.acme.notes", Name: "Acme Notes", Managed: true, Version: "2.0", State: status}
				late = &inventory.App{Identifier: "com.acme.notes", Name: "Acme Notes", Managed: true, State: status}
				absent = &inventory.App{Identifier: "com.acme.notes", Managed: true, State: status}
			case inventory.AppRequested:
				onDevice = &inventory.App{Identifier: "com.acme.notes", Name: "Acme Notes"}
				late = onDevice
				absent = &inventory.App{Identifier: "com.acme.notes", Managed: true, State: status}
			case inventory.AppPersonal:
				onDevice = &inventory.App{Identifier: "com.acme.notes", Name: "Acme Notes"}
				late = onDevice
			}
			for _, tt := range []struct {
				name  string
				order [][]byte
				want  *inventory.App
			}{
				{"on the device, managed list first", [][]byte{managed, installed}, onDevice},
				{"on the device, installed list first", [][]byte{installed, managed, installed}, onDevice},
				{"on the device, managed list last", [][]byte{installed, managed}, late},
				{"not on the device", [][]byte{managed, notInstalled}, absent},
				{"not on the device, installed list first", [][]byte{notInstalled, managed}, absent},
			} {
				f := newFixture(t)
				d := f.apple(t, udid)
				for _, r := range tt.order {
					if _, err := f.svc.IngestApple(t.Context(), f.org, d.ID, r); err != nil {
						t.Fatal(err)
					}
				}
				apps, err := f.store.DeviceApps(t.Context(), f.org, d.ID)
				if err != nil {
					t.Fatal(err)
				}
				var want []inventory.App
				if tt.want != nil {
					want = []inventory.App{*tt.want}
				}
				if d := cmp.Diff(want, apps, cmpopts.EquateEmpty()); d != "" {
					t.Errorf("%s: stored apps (-want +got):\n%s", tt.name, d)
				}
			}
		})
	}
	if class, known := inventory.AppleAppStatus("SomethingNew"); known || class == inventory.AppManaged {
		t.Errorf("an unknown status is %v (known %v); it must never make an app managed", class, known)
	}
}

// TestTakeOverNeedsTheUser: the organization offers to manage an app the
// user installed. Until the user accepts, the app stays personal (name
// only) through any number of refreshes; refused, it stays so; accepted,
// it is managed and its version is kept; and when management ends, its
// version goes again.
func TestTakeOverNeedsTheUser(t *testing.T) {
	f := newFixture(t)
	d := f.apple(t, udid)
	installed := appResult(udid, "InstalledApplicationList", `<array><dict><key>Identifier</key><string>com.example.maps</string>`+
		`<key>Name</key><string>Maps</string><key>ShortVersion</key><string>5.0</string></dict></array>`)
	managed := func(status string) []byte {
		return appResult(udid, "ManagedApplicationList", `<dict><key>com.example.maps</key><dict><key>Status</key><string>`+status+
			`</string></dict></dict>`)
	}
	personal := []inventory.App{{Identifier: "com.example.maps", Name: "Maps"}}
	steps := []struct {
		result []byte
		want   []inventory.App
	}{
		{installed, personal},
		{managed("PromptingForManagement"), personal},
		{installed, personal},
		{managed("ManagementRejected"), personal},
		{installed, personal},
		// The version seen while the app was personal is not kept: it
		// comes with the next installed list.
		{managed("Managed"), []inventory.App{{Identifier: "com.example.maps", Name: "Maps", Managed: true, State: "Managed"}}},
		{installed, []inventory.App{{Identifier: "com.example.maps", Name: "Maps", Managed: true, Version: "5.0", State: "Managed"}}},
		{appResult(udid, "ManagedApplicationList", `<dict/>`), personal},
		{installed, personal},
	}
	for i, s := range steps {
		if _, err := f.svc.IngestApple(t.Context(), f.org, d.ID, s.result); err != nil {
			t.Fatal(err)
		}
		apps, err := f.store.DeviceApps(t.Context(), f.org, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(s.want, apps); d != "" {
			t.Errorf("step %d: stored apps (-want +got):\n%s", i, d)
		}
	}
	checkNotStored(t, f, []string{"PromptingForManagement", "ManagementRejected"})
}

// TestManagedAppDeletedByUser: the user deletes a managed app
// (ManagedButUninstalled): it is no longer reported as installed with a
// version, but the organization's request stays.
func TestManagedAppDeletedByUser(t *testing.T) {
	f := newFixture(t)
	d := f.apple(t, udid)
	for _, r := range [][]byte{
		appResult(udid, "ManagedApplicationList", `<dict><key>com.acme.crm</key><dict><key>Status</key><string>Managed</string></dict></dict>`),
		appResult(udid, "InstalledApplicationList", `<array><dict><key>Identifier</key><string>com.acme.crm</string><key>Name</key><string>CRM</string><key>ShortVersion</key><string>4.2</string></dict></array>`),
		appResult(udid, "ManagedApplicationList", `<dict><key>com.acme.crm</key><dict><key>Status</key><string>ManagedButUninstalled</string></dict></dict>`),
	} {
		if _, err := f.svc.IngestApple(t.Context(), f.org, d.ID, r); err != nil {
			t.Fatal(err)
		}
	}
	apps, err := f.store.DeviceApps(t.Context(), f.org, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []inventory.App{{Identifier: "com.acme.crm", Managed: true, State: "ManagedButUninstalled"}}
	if d := cmp.Diff(want, apps); d != "" {
		t.Errorf("stored apps (-want +got):\n%s", d)
	}
}

func ExampleAppleAppStatus() {
	for _, s := range []string{"Managed", "Installing", "PromptingForManagement"} {
		class, _ := inventory.AppleAppStatus(s)
		fmt.Printf("%s: %s\n", s, class)
	}
	// Output:
	// Managed: managed
	// Installing: requested
	// PromptingForManagement: personal
}
