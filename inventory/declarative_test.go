package inventory_test

import (
	"encoding/json"
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/openomm/omm/internal/appleschema"
	"github.com/openomm/omm/inventory"
)

// statusSchema loads Apple's schema of one status item.
func statusSchema(t testing.TB, item string) appleschema.Schema {
	t.Helper()
	s, err := appleschema.Load(shared(t, filepath.Join("apple-device-management", "declarative", "status", item+".yaml")))
	if err != nil {
		t.Fatalf("status item %s: %v", item, err)
	}
	return s
}

// enrollmentName is Apple's name of an enrollment type.
func enrollmentName(t inventory.EnrollmentType) string {
	switch t {
	case inventory.EnrollAppleUser:
		return "user"
	case inventory.EnrollAppleAutomated:
		return "supervised"
	}
	return "device"
}

// TestStatusItemsMatchSchema checks every declarative status item of the
// contract against Apple's schema: the item exists, reports the attribute's
// type, on the platforms and from the OS versions the contract says.
func TestStatusItemsMatchSchema(t *testing.T) {
	ddmFirst := map[inventory.Platform]string{inventory.PlatformIOS: "15.0", inventory.PlatformMacOS: "13.0"}
	for _, a := range inventory.Contract() {
		for _, k := range a.Status {
			s := statusSchema(t, k.Item)
			if s.StatusItemType != k.Item || len(s.Keys) != 1 || s.Keys[0].Key != k.Item {
				t.Errorf("%s: schema %q has keys %v", k.Item, s.StatusItemType, s.Keys)
				continue
			}
			kind := a.Kind
			if k.Kind != 0 {
				kind = k.Kind
			}
			want := map[inventory.Kind]string{inventory.KindText: "<string>", inventory.KindBool: "<boolean>",
				inventory.KindApps: "<array>"}[kind]
			if s.Keys[0].Type != want {
				t.Errorf("%s reports %s, the contract reads %s for %s", k.Item, s.Keys[0].Type, want, a.Key)
			}
			for _, p := range []inventory.Platform{inventory.PlatformIOS, inventory.PlatformMacOS} {
				sup := s.Support[schemaOS(p)]
				on := len(k.Platforms) == 0 || slices.Contains(k.Platforms, p)
				if !on {
					if sup.Introduced != "n/a" {
						t.Errorf("%s: the contract reads it on no %s, the schema has it from %s", k.Item, p, sup.Introduced)
					}
					continue
				}
				first, ok := k.Since[p]
				if !ok {
					first = ddmFirst[p]
				}
				if sup.Introduced != first {
					t.Errorf("%s on %s: the contract reads it from %s, the schema has it from %s", k.Item, p, first, sup.Introduced)
				}
				// The enrollments reporting it, where the organization may
				// see it at all.
				for _, e := range []inventory.EnrollmentType{inventory.EnrollAppleDevice, inventory.EnrollAppleUser, inventory.EnrollAppleAutomated} {
					d := inventory.Device{Platform: p, EnrollmentType: e}
					if !a.VisibleOn(d) || p == inventory.PlatformMacOS && e == inventory.EnrollAppleDevice {
						continue // hidden; or a Mac device enrollment, which has no declarative status
					}
					os := inventory.OS{Platform: p, Version: "26.0"}
					if got, want := k.OnDevice(d, os), s.Supported(schemaOS(p), os.Version, enrollmentName(e)); got != want {
						t.Errorf("%s on a %s %s: the contract says reported %v, the schema %v", k.Item, p, e, got, want)
					}
				}
			}
		}
	}
}

// TestStatusSubscriptions checks that a device is asked only for what the
// organization may see on it: per ownership and enrollment type, and only
// items its OS and enrollment can report (Apple's schema).
func TestStatusSubscriptions(t *testing.T) {
	phone := func(o inventory.Ownership, e inventory.EnrollmentType) inventory.Device {
		return inventory.Device{Platform: inventory.PlatformIOS, Ownership: o, EnrollmentType: e}
	}
	cases := []struct {
		name      string
		d         inventory.Device
		os        inventory.OS
		want, not []string
	}{
		{"company iPhone on 17.4", phone(inventory.OwnershipCompany, inventory.EnrollAppleDevice),
			inventory.OS{Platform: inventory.PlatformIOS, Version: "17.4"},
			[]string{"device.identifier.serial-number", "device.operating-system.version", "passcode.is-compliant",
				"passcode.is-present", "device.model.number", inventory.DeclarativeAppList},
			[]string{"device.identifier.udid", "diskmanagement.filevault.enabled", "device.power.battery-health"}},
		{"personal iPhone, device enrollment", phone(inventory.OwnershipPersonal, inventory.EnrollAppleDevice),
			inventory.OS{Platform: inventory.PlatformIOS, Version: "17.4"},
			[]string{"device.identifier.serial-number", "passcode.is-compliant"},
			[]string{"device.identifier.udid"}},
		{"personal iPhone, User Enrollment", phone(inventory.OwnershipPersonal, inventory.EnrollAppleUser),
			inventory.OS{Platform: inventory.PlatformIOS, Version: "17.4"},
			[]string{"device.operating-system.version", "passcode.is-compliant"},
			[]string{"device.identifier.serial-number", "device.identifier.udid"}},
		{"iPhone on 16.1", phone(inventory.OwnershipCompany, inventory.EnrollAppleDevice),
			inventory.OS{Platform: inventory.PlatformIOS, Version: "16.1"},
			[]string{"device.identifier.serial-number", "passcode.is-present"},
			[]string{"device.model.number", inventory.DeclarativeAppList}},
		{"Mac on 15.1, User Enrollment", inventory.Device{Platform: inventory.PlatformMacOS, Ownership: inventory.OwnershipPersonal,
			EnrollmentType: inventory.EnrollAppleUser}, inventory.OS{Platform: inventory.PlatformMacOS, Version: "15.1"},
			[]string{"device.operating-system.version", "device.model.family"},
			[]string{"diskmanagement.filevault.enabled", "device.identifier.serial-number"}},
		{"supervised Mac on 14.4", inventory.Device{Platform: inventory.PlatformMacOS, Ownership: inventory.OwnershipCompany,
			EnrollmentType: inventory.EnrollAppleAutomated}, inventory.OS{Platform: inventory.PlatformMacOS, Version: "14.4"},
			[]string{"diskmanagement.filevault.enabled", "device.model.number"},
			[]string{"passcode.is-compliant", inventory.DeclarativeAppList}},
	}
	for _, c := range cases {
		got := inventory.StatusSubscriptions(c.d, c.os)
		for _, w := range c.want {
			if !slices.Contains(got, w) {
				t.Errorf("%s: subscriptions %v lack %s", c.name, got, w)
			}
		}
		for _, n := range c.not {
			if slices.Contains(got, n) {
				t.Errorf("%s: subscriptions %v hold %s", c.name, got, n)
			}
		}
		for _, item := range got {
			s := statusSchema(t, item)
			if !s.Supported(schemaOS(c.os.Platform), c.os.Version, enrollmentName(c.d.EnrollmentType)) {
				t.Errorf("%s: subscribed to %s, which Apple's schema does not offer there", c.name, item)
			}
		}
	}
}

// statusItems decodes a JSON object of status items as the declarative
// package hands them over.
func statusItems(t testing.TB, js string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(js))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDeclarativeFilter checks what a status report may leave in the
// inventory: contract values only, the identity hidden from a User
// Enrollment, forbidden items dropped by name and never stored.
func TestDeclarativeFilter(t *testing.T) {
	report := `{
		"device.identifier.serial-number": "F2LXK0QJHG7F",
		"device.identifier.udid": "00008110-0001234567890ABC",
		"device.operating-system.version": "17.5",
		"device.operating-system.build-version": "21F79",
		"device.model.family": "iPhone",
		"device.model.marketing-name": "iPhone 15",
		"passcode.is-compliant": false,
		"passcode.is-present": true,
		"device.power.battery-health": "normal",
		"diskmanagement.filevault.enabled": true,
		"device.model.identifier": 42
	}`
	f := newFixture(t)
	d := f.apple(t, "00008110-0001234567890ABC")
	res, err := f.svc.IngestDeclarative(t.Context(), f.org, d.ID, statusItems(t, report))
	if err != nil {
		t.Fatal(err)
	}
	got := map[inventory.Key]string{}
	vals, _ := f.store.DeviceValues(t.Context(), f.org, d.ID)
	for _, v := range vals {
		got[v.Key] = v.Value
	}
	want := map[inventory.Key]string{inventory.KeySerialNumber: "F2LXK0QJHG7F", inventory.KeyOSVersion: "17.5",
		inventory.KeyOSBuild: "21F79", inventory.KeyModelName: "iPhone", inventory.KeyPasscodeCompliant: "false",
		inventory.KeyPasscodePresent: "true"}
	if !maps.Equal(got, want) {
		t.Errorf("stored %v, want %v", got, want)
	}
	dr := res.Dropped
	// udid and marketing name are not the contract's; battery health is
	// usage; FileVault is a Mac's; a number is no product identifier.
	if dr.Unknown != 3 || dr.Forbidden != 1 || dr.Malformed != 1 || !slices.Equal(dr.ForbiddenKeys, []string{"device.power.battery-health"}) {
		t.Errorf("dropped %+v", dr)
	}
	if dump := f.dump(t); strings.Contains(dump, "0001234567890ABC") && strings.Count(dump, "0001234567890ABC") > 1 ||
		strings.Contains(dump, "normal") || strings.Contains(dump, "iPhone 15") {
		t.Errorf("a dropped value was stored:\n%s", dump)
	}

	// On a User Enrollment the serial number is not the organization's.
	u, err := f.svc.Register(t.Context(), inventory.Device{Org: f.org, UserID: "bob", Platform: inventory.PlatformIOS,
		Ownership: inventory.OwnershipPersonal, EnrollmentType: inventory.EnrollAppleUser, State: inventory.StateEnrolled,
		Identifier: "enrollment-id-1"}, "system")
	if err != nil {
		t.Fatal(err)
	}
	res, err = f.svc.IngestDeclarative(t.Context(), f.org, u.ID, statusItems(t, report))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.Dropped.ForbiddenKeys, "device.identifier.serial-number") {
		t.Errorf("serial number of a User Enrollment not dropped as forbidden: %+v", res.Dropped)
	}
	vals, _ = f.store.DeviceValues(t.Context(), f.org, u.ID)
	for _, v := range vals {
		if v.Key == inventory.KeySerialNumber {
			t.Errorf("serial number stored for a User Enrollment")
		}
	}
	// Nor through the MDM path, nor in the report.
	if _, err := f.svc.IngestApple(t.Context(), f.org, u.ID, appResult("", "QueryResponses",
		`<dict><key>SerialNumber</key><string>F2LXK0QJHG7F</string><key>OSVersion</key><string>17.5</string></dict>`)); err != nil {
		t.Fatal(err)
	}
	r, err := f.svc.Report(t.Context(), f.org, u.ID, inventory.ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range r.CanSee {
		if it.Attribute == inventory.KeySerialNumber {
			t.Errorf("the User Enrollment's report lists the serial number: %+v", it)
		}
	}

	// Nothing the inventory keeps: nothing stored.
	if _, err := f.svc.IngestDeclarative(t.Context(), f.org, d.ID, statusItems(t, `{"device.identifier.udid":"x"}`)); !errors.Is(err, inventory.ErrNoInventory) {
		t.Errorf("a report of nothing kept: %v, want ErrNoInventory", err)
	}
	a := f.android(t, inventory.EnrollAndroidWorkProfile, inventory.OwnershipPersonal)
	if _, err := f.svc.IngestDeclarative(t.Context(), f.org, a.ID, statusItems(t, report)); err == nil {
		t.Error("a declarative report for an Android device was accepted")
	}
}

// TestDeclarativeAppList checks the declarative app list: changed entries
// only, managed apps keep name, version and state, requests their state,
// the user's copy stays personal and removed apps lose their managed
// state; apps not named are left as they are.
func TestDeclarativeAppList(t *testing.T) {
	f := newFixture(t)
	d := f.apple(t, "00008110-0001234567890ABC")
	// The device reported its installed apps through MDM before.
	if _, err := f.svc.IngestApple(t.Context(), f.org, d.ID, appResult(d.Identifier, "InstalledApplicationList", `<array>
		<dict><key>Identifier</key><string>com.example.personal</string><key>Name</key><string>Notes</string><key>Version</key><string>3</string></dict>
		<dict><key>Identifier</key><string>com.acme.mdmapp</string><key>Name</key><string>Acme MDM app</string></dict>
		<dict><key>Identifier</key><string>com.acme.old</string><key>Name</key><string>Acme Old</string></dict>
	</array>`)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.IngestApple(t.Context(), f.org, d.ID, appResult(d.Identifier, "ManagedApplicationList", `<dict>
		<key>com.acme.mdmapp</key><dict><key>Status</key><string>Managed</string></dict>
		<key>com.acme.old</key><dict><key>Status</key><string>Managed</string></dict>
	</dict>`)); err != nil {
		t.Fatal(err)
	}
	items := statusItems(t, `{"app.managed.list": [
		{"identifier": "com.acme.expenses", "name": "Expenses", "short-version": "2.1", "version": "210",
		 "state": "managed", "declaration-identifier": "omm.app.x", "external-version-id": "8675309"},
		{"identifier": "com.acme.chat", "state": "prompting-for-consent", "name": "Chat"},
		{"identifier": "com.example.personal", "state": "prompting-for-management", "name": "Notes"},
		{"identifier": "com.acme.old", "_removed": true},
		{"identifier": "name:Evil", "state": "managed"},
		{"identifier": "com.acme.weird", "state": "sideways"}
	]}`)
	res, err := f.svc.IngestDeclarative(t.Context(), f.org, d.ID, items)
	if err != nil {
		t.Fatal(err)
	}
	apps, _ := f.store.DeviceApps(t.Context(), f.org, d.ID)
	got := map[string]inventory.App{}
	for _, a := range apps {
		got[a.Identifier] = a
	}
	want := map[string]inventory.App{
		"com.acme.expenses":    {Identifier: "com.acme.expenses", Name: "Expenses", Managed: true, Version: "2.1", State: "Managed"},
		"com.acme.chat":        {Identifier: "com.acme.chat", Managed: true, State: "Prompting"},
		"com.example.personal": {Identifier: "com.example.personal", Name: "Notes"},
		"com.acme.old":         {Identifier: "com.acme.old", Name: "Acme Old"},
		"com.acme.mdmapp":      got["com.acme.mdmapp"],
	}
	if !got["com.acme.mdmapp"].Managed {
		t.Errorf("an MDM-managed app the report does not name lost its state: %+v", got["com.acme.mdmapp"])
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s = %+v, want %+v", id, got[id], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("apps %v", apps)
	}
	if res.Dropped.Malformed != 2 || res.Dropped.Details == 0 {
		t.Errorf("dropped %+v: want the name-only and the unknown state malformed, the store IDs as details", res.Dropped)
	}
}

// TestDeclarativeAppStates checks that every app state of Apple's schema
// is known and classified like the managed-app list's statuses.
func TestDeclarativeAppStates(t *testing.T) {
	s := statusSchema(t, inventory.DeclarativeAppList)
	entry, _ := appleschema.Find(s.Keys[0].Subkeys, "status_value")
	state, ok := appleschema.Find(entry.Subkeys, "state")
	if !ok || len(state.Rangelist) == 0 {
		t.Fatalf("no states in the schema: %+v", entry)
	}
	for _, st := range state.Rangelist {
		mdm, known := inventory.DeclarativeAppState(st)
		if !known {
			t.Errorf("state %q unknown", st)
			continue
		}
		class, known := inventory.AppleAppStatus(mdm)
		if !known {
			t.Errorf("state %q maps to %q, which AppleAppStatus does not know", st, mdm)
		}
		if (class == inventory.AppManaged) != (st == "managed") {
			t.Errorf("state %q is %s", st, class)
		}
	}
	if _, known := inventory.DeclarativeAppState("sideways"); known {
		t.Error("an unknown state is known")
	}
}
