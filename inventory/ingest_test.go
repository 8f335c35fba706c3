package inventory_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

const udid = "00008120-001A2D3C0E91801E"

func testdata(parts ...string) string {
	return filepath.Join(append([]string{"testdata"}, parts...)...)
}

// secrets are values of forbidden or unknown keys in the fixtures. None
// may be stored anywhere, nor logged.
var appleSecrets = []string{
	"35 209900 176148 1", "35209900176148", "8949 0200 0012 3456 7890", "f0:99:b6:12:34:56", "f0:99:b6:65:43:21",
	"00:1b:63:84:45:e6", "ExampleTel", "+49 151 23456789", "alices-iphone.example.net", "Alices-iPhone",
	"Europe/Berlin", "52.52", "13.405", "3b5d5c3712955042212316173ccf37be", "KX8L2S0Q1P3V5N7R9T1U3W5Y7A", "2.55.00",
	"184549376", "2147483648", "73400320", "24.3", "24300", "7.0", "861344519",
	"net.example.private.vpn", "Home VPN", "0.81",
	"fruit.example.com", // the shared real-device fixture's HostName
}

func checkNotStored(t *testing.T, f *fixture, secrets []string) {
	t.Helper()
	dump, logs := f.dump(t), f.logs.String()
	for _, s := range secrets {
		if strings.Contains(dump, s) {
			t.Errorf("forbidden value %q is stored", s)
		}
		if strings.Contains(logs, s) {
			t.Errorf("forbidden value %q is logged", s)
		}
	}
}

func TestIngestAppleFixtures(t *testing.T) {
	f := newFixture(t, inventory.WithDirectory(phoneBook{"alice": "+1 555 0100"}))
	d := f.apple(t, udid)
	real := f.apple(t, "66ADE930-5FDF-5EC4-8429-15640684C489")
	ctx := t.Context()

	tests := []struct {
		file    string
		device  string
		command string
		values  int
		apps    int
		dropped inventory.Dropped
	}{
		{shared(t, "fixtures/apple/DeviceInformation.1.plist"), real.ID, "DeviceInformation", 0, -1,
			inventory.Dropped{Forbidden: 1, Unknown: 1, ForbiddenKeys: []string{"HostName"}}},
		{testdata("apple", "DeviceInformation.full.plist"), d.ID, "DeviceInformation", 9, -1, inventory.Dropped{
			Forbidden: 31, Unknown: 2, ForbiddenKeys: []string{"BatteryLevel", "BluetoothMAC", "CarrierSettingsVersion",
				"CellularTechnology", "CurrentCarrierNetwork", "CurrentMCC", "CurrentMNC", "DataRoamingEnabled", "EASDeviceIdentifier",
				"EthernetMAC", "HostName", "ICCID", "IMEI", "IsDeviceLocatorServiceEnabled", "IsRoaming", "Latitude", "LocalHostName",
				"Longitude", "MEID", "ModemFirmwareVersion", "PersonalHotspotEnabled", "PhoneNumber", "SIMCarrierNetwork",
				"ServiceSubscriptions", "SubscriberCarrierNetwork", "SubscriberMCC", "SubscriberMNC", "TimeZone",
				"VoiceRoamingEnabled", "WiFiMAC", "iTunesStoreAccountHash"}}},
		{testdata("apple", "SecurityInfo.plist"), d.ID, "SecurityInfo", 3, -1, inventory.Dropped{Unknown: 2}},
		{testdata("apple", "ProfileList.plist"), d.ID, "ProfileList", 1, -1, inventory.Dropped{Unknown: 1, Details: 10}},
		{testdata("apple", "ManagedApplicationList.plist"), d.ID, "ManagedApplicationList", 0, 2, inventory.Dropped{Details: 6}},
		{testdata("apple", "InstalledApplicationList.plist"), d.ID, "InstalledApplicationList", 0, 4, inventory.Dropped{
			Forbidden: 5, Details: 9, ForbiddenKeys: []string{"BundleSize", "DynamicSize"}}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			res, err := f.svc.IngestApple(ctx, f.org, tt.device, readFile(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if res.Command != tt.command {
				t.Errorf("command %q, want %q", res.Command, tt.command)
			}
			// Directory phone number comes with DeviceInformation only.
			wantValues := tt.values
			if tt.command == "DeviceInformation" {
				wantValues++
			}
			if res.Values != wantValues || res.Apps != tt.apps {
				t.Errorf("stored %d values and %d apps, want %d and %d", res.Values, res.Apps, wantValues, tt.apps)
			}
			if d := cmp.Diff(tt.dropped, res.Dropped); d != "" {
				t.Errorf("dropped (-want +got):\n%s", d)
			}
		})
	}

	vals, err := f.store.DeviceValues(ctx, f.org, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[inventory.Key]string{}
	for _, v := range vals {
		got[v.Key] = v.Value + " (" + string(v.Source) + ")"
		if !v.Collected.Equal(storage.Normalize(now)) {
			t.Errorf("%s collected at %v, want %v", v.Key, v.Collected, now)
		}
	}
	want := map[inventory.Key]string{
		inventory.KeyDeviceName:        "Alice’s iPhone (device)",
		inventory.KeyPhoneNumber:       "+1 555 0100 (directory)",
		inventory.KeySerialNumber:      "F17ZK1P3N72J (device)",
		inventory.KeyModelName:         "iPhone (device)",
		inventory.KeyModelNumber:       "MQ9X3ZD/A (device)",
		inventory.KeyProductName:       "iPhone15,2 (device)",
		inventory.KeyCapacity:          "128 (device)",
		inventory.KeyAvailableCapacity: "41.72 (device)",
		inventory.KeyOSVersion:         "17.4.1 (device)",
		inventory.KeyOSBuild:           "21E236 (device)",
		inventory.KeyEncryption:        "3 (device)",
		inventory.KeyPasscodePresent:   "true (device)",
		inventory.KeyPasscodeCompliant: "true (device)",
		inventory.KeyManagedProfiles:   `["com.acme.mdm","com.acme.wifi"] (device)`,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("stored values (-want +got):\n%s", d)
	}
	apps, err := f.store.DeviceApps(ctx, f.org, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantApps := []inventory.App{
		{Identifier: "com.acme.crm", Name: "Acme CRM", Managed: true, Version: "4.2.1", State: "Managed"},
		{Identifier: "com.acme.expenses", Managed: true, State: "Queued"},
		{Identifier: "com.example.fitness", Name: "Fitness Diary"},
		{Identifier: "com.example.messenger", Name: "Messenger"},
	}
	if d := cmp.Diff(wantApps, apps); d != "" {
		t.Errorf("stored apps (-want +got):\n%s", d)
	}
	checkNotStored(t, f, appleSecrets)
	if !strings.Contains(f.logs.String(), "forbidden_keys") || !strings.Contains(f.logs.String(), "IMEI") {
		t.Errorf("no log line names the dropped forbidden keys:\n%s", f.logs)
	}
}

// TestIngestAppsInEitherOrder: the managed list says which installed apps
// are the organization's. Sent first (as AppleRefresh orders them), one
// refresh gives the full list; sent after the installed list, the managed
// apps' versions arrive with the next installed list, since a version seen
// while the app counted as personal is not kept.
func TestIngestAppsInEitherOrder(t *testing.T) {
	installed := readFile(t, testdata("apple", "InstalledApplicationList.plist"))
	managed := readFile(t, testdata("apple", "ManagedApplicationList.plist"))
	var lists [][]inventory.App
	for _, order := range [][][]byte{{installed, managed, installed}, {managed, installed}} {
		f := newFixture(t)
		d := f.apple(t, udid)
		for _, r := range order {
			if _, err := f.svc.IngestApple(t.Context(), f.org, d.ID, r); err != nil {
				t.Fatal(err)
			}
		}
		apps, err := f.store.DeviceApps(t.Context(), f.org, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		lists = append(lists, apps)
	}
	if d := cmp.Diff(lists[0], lists[1]); d != "" {
		t.Errorf("app list depends on arrival order (-installed first +managed first):\n%s", d)
	}

	// An app no longer managed keeps its name only.
	f := newFixture(t)
	d := f.apple(t, udid)
	for _, r := range [][]byte{managed, installed, []byte(`<plist version="1.0"><dict><key>Status</key><string>Acknowledged</string>
		<key>ManagedApplicationList</key><dict/></dict></plist>`)} {
		if _, err := f.svc.IngestApple(t.Context(), f.org, d.ID, r); err != nil {
			t.Fatal(err)
		}
	}
	apps, err := f.store.DeviceApps(t.Context(), f.org, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range apps {
		if a.Managed || a.Version != "" || a.State != "" {
			t.Errorf("app %+v kept managed details after leaving management", a)
		}
		if a.Identifier == "com.acme.expenses" {
			t.Error("a managed app never installed stayed after leaving management")
		}
	}
}

// TestRemovedManagedAppDisappears: after management removes an app, the
// next refresh (installed list first, then managed list) must not turn it
// into a personal app.
func TestRemovedManagedAppDisappears(t *testing.T) {
	f := newFixture(t)
	d := f.apple(t, udid)
	list := func(key, body string) []byte {
		return []byte(`<plist version="1.0"><dict><key>Status</key><string>Acknowledged</string><key>UDID</key><string>` + udid +
			`</string><key>` + key + `</key>` + body + `</dict></plist>`)
	}
	withApp := list("InstalledApplicationList", `<array><dict><key>Identifier</key><string>com.acme.mail</string>`+
		`<key>Name</key><string>Acme Mail</string></dict></array>`)
	managedApp := list("ManagedApplicationList", `<dict><key>com.acme.mail</key><dict><key>Status</key><string>Managed</string></dict></dict>`)
	without := list("InstalledApplicationList", `<array/>`)
	noneManaged := list("ManagedApplicationList", `<dict/>`)
	for _, r := range [][]byte{managedApp, withApp, without, noneManaged} {
		if _, err := f.svc.IngestApple(t.Context(), f.org, d.ID, r); err != nil {
			t.Fatal(err)
		}
	}
	apps, err := f.store.DeviceApps(t.Context(), f.org, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 0 {
		t.Errorf("apps after management removed the only app: %+v", apps)
	}
}

// TestUserInstalledAppStaysPersonal: an install that met the user's own
// copy is listed by iOS as UserInstalledApp in ManagedApplicationList; it
// is still the user's app, so deprovisioning must never remove it.
func TestUserInstalledAppStaysPersonal(t *testing.T) {
	f := newFixture(t)
	d := f.apple(t, udid)
	list := func(key, body string) []byte {
		return []byte(`<plist version="1.0"><dict><key>Status</key><string>Acknowledged</string><key>UDID</key><string>` + udid +
			`</string><key>` + key + `</key>` + body + `</dict></plist>`)
	}
	installed := list("InstalledApplicationList", `<array>`+
		`<dict><key>Identifier</key><string>com.acme.notes</string><key>Name</key><string>Acme Notes</string></dict>`+
		`<dict><key>Identifier</key><string>com.acme.mail</string><key>Name</key><string>Acme Mail</string></dict></array>`)
	managed := list("ManagedApplicationList", `<dict>`+
		`<key>com.acme.notes</key><dict><key>Status</key><string>UserInstalledApp</string></dict>`+
		`<key>com.acme.mail</key><dict><key>Status</key><string>Managed</string></dict></dict>`)
	for _, order := range [][][]byte{{installed, managed}, {managed, installed}} {
		for _, r := range order {
			if _, err := f.svc.IngestApple(t.Context(), f.org, d.ID, r); err != nil {
				t.Fatal(err)
			}
		}
		apps, err := f.store.DeviceApps(t.Context(), f.org, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, a := range apps {
			got[a.Identifier] = a.Managed
		}
		if managed, ok := got["com.acme.notes"]; !ok || managed {
			t.Errorf("the user's own copy: present %v, managed %v; want present and not managed (%+v)", ok, managed, apps)
		}
		if !got["com.acme.mail"] {
			t.Errorf("the managed app is not recorded as managed: %+v", apps)
		}
	}
}

func TestIngestAndroid(t *testing.T) {
	secrets := []string{"358240051111110", "35824005111111", "3c:28:6d:aa:bb:cc", "+4915123456789", "89490200001234567890",
		"alice@example.com", "APP_LAUNCHED", "g5300g-230927-231102-B-11020345", "a40da80a59d170", "8201240576", "slider-1.3",
		"com.acme.old", "INSTALLED_FROM_PLAY_STORE"}
	report := readFile(t, testdata("android", "status.json"))
	tests := []struct {
		et       inventory.EnrollmentType
		owner    inventory.Ownership
		wantApps []inventory.App
	}{
		{inventory.EnrollAndroidWorkProfile, inventory.OwnershipPersonal,
			[]inventory.App{{Identifier: "com.acme.crm", Name: "Acme CRM", Managed: true, Version: "4.2.1", State: "INSTALLED"}}},
		{inventory.EnrollAndroidDeviceAdmin, inventory.OwnershipPersonal,
			[]inventory.App{{Identifier: "com.acme.crm", Name: "Acme CRM"}}},
	}
	for _, tt := range tests {
		t.Run(string(tt.et), func(t *testing.T) {
			f := newFixture(t, inventory.WithDirectory(phoneBook{"alice": "+1 555 0100"}))
			d := f.android(t, tt.et, tt.owner)
			res, err := f.svc.IngestAndroid(t.Context(), f.org, d.ID, report)
			if err != nil {
				t.Fatal(err)
			}
			vals, err := f.store.DeviceValues(t.Context(), f.org, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			got := map[inventory.Key]string{}
			for _, v := range vals {
				got[v.Key] = v.Value
			}
			want := map[inventory.Key]string{
				inventory.KeySerialNumber: "28131FDH2001VK", inventory.KeyModelName: "Pixel 7", inventory.KeyManufacturer: "Google",
				inventory.KeyOSVersion: "14", inventory.KeyOSBuild: "UQ1A.240205.004", inventory.KeySecurityPatch: "2024-02-05",
				inventory.KeyCapacity: "128", inventory.KeyEncryption: "ENCRYPTED_PER_USER", inventory.KeyPasscodePresent: "true",
				inventory.KeySecurityPosture: "SECURE", inventory.KeyPhoneNumber: "+1 555 0100",
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("stored values (-want +got):\n%s", d)
			}
			apps, err := f.store.DeviceApps(t.Context(), f.org, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.wantApps, apps); d != "" {
				t.Errorf("stored apps (-want +got):\n%s", d)
			}
			if res.Dropped.Forbidden == 0 || !strings.Contains(strings.Join(res.Dropped.ForbiddenKeys, ","), "networkInfo") {
				t.Errorf("networkInfo not counted as forbidden: %+v", res.Dropped)
			}
			checkNotStored(t, f, secrets)
		})
	}
}

func TestIngestRefused(t *testing.T) {
	f := newFixture(t, inventory.WithMaxReportSize(64<<10))
	d := f.apple(t, udid)
	a := f.android(t, inventory.EnrollAndroidWorkProfile, inventory.OwnershipPersonal)
	ctx := t.Context()
	info := readFile(t, testdata("apple", "DeviceInformation.full.plist"))
	big := strings.Replace(string(info), "<key>DeviceName</key>", "<key>Padding</key><string>"+strings.Repeat("x", 64<<10)+"</string><key>DeviceName</key>", 1)
	deep := `<plist version="1.0"><dict><key>Status</key><string>Acknowledged</string><key>QueryResponses</key>` +
		strings.Repeat("<array>", 40) + strings.Repeat("</array>", 40) + `</dict></plist>`
	notNow := strings.Replace(string(info), "<string>Acknowledged</string>", "<string>NotNow</string>", 1)
	other := strings.ReplaceAll(string(info), udid, "11111111-2222-3333-4444-555555555555")
	tests := []struct {
		name    string
		device  string
		data    string
		android bool
		want    error
	}{
		{"over the size limit", d.ID, big, false, inventory.ErrReport},
		{"nested too deeply", d.ID, deep, false, inventory.ErrReport},
		{"not a plist", d.ID, "{}", false, inventory.ErrReport},
		{"NotNow", d.ID, notNow, false, inventory.ErrNoInventory},
		{"another command", d.ID, `<plist version="1.0"><dict><key>Status</key><string>Acknowledged</string><key>CertificateList</key><array/></dict></plist>`, false, inventory.ErrNoInventory},
		{"another device's result", d.ID, other, false, storage.ErrInvalid},
		{"Apple result for an Android device", a.ID, string(info), false, storage.ErrInvalid},
		{"unknown device", "dev_missing", string(info), false, storage.ErrNotFound},
		{"Android report over the size limit", a.ID, `{"hardwareInfo":{"model":"` + strings.Repeat("x", 64<<10) + `"}}`, true, inventory.ErrReport},
		{"Android report nested too deeply", a.ID, strings.Repeat("[", 40) + strings.Repeat("]", 40), true, inventory.ErrReport},
		{"Android report not an object", a.ID, `[1,2]`, true, inventory.ErrReport},
		{"Android report with trailing data", a.ID, `{"hardwareInfo":{}} {"x":1}`, true, inventory.ErrReport},
		{"Android report for an Apple device", d.ID, `{"hardwareInfo":{"model":"Pixel"}}`, true, storage.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.dump(t)
			var err error
			if tt.android {
				_, err = f.svc.IngestAndroid(ctx, f.org, tt.device, []byte(tt.data))
			} else {
				_, err = f.svc.IngestApple(ctx, f.org, tt.device, []byte(tt.data))
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
			if after := f.dump(t); after != before {
				t.Errorf("a refused report changed the store:\n%s", cmp.Diff(before, after))
			}
		})
	}

	// A deprovisioned device stores nothing more.
	if _, err := f.svc.SetState(ctx, f.org, d.ID, inventory.StateDeprovisioned, "admin:bob", "left the company"); err != nil {
		t.Fatal(err)
	}
	before := f.dump(t)
	if _, err := f.svc.IngestApple(ctx, f.org, d.ID, info); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("ingest for a deprovisioned device: %v, want ErrConflict", err)
	}
	if f.dump(t) != before {
		t.Error("ingest for a deprovisioned device changed the store")
	}
}

func TestPhoneNumberOnlyFromDirectory(t *testing.T) {
	info := readFile(t, testdata("apple", "DeviceInformation.full.plist"))
	tests := []struct {
		name  string
		book  inventory.Directory
		want  string
		found bool
	}{
		{"directory number", phoneBook{"alice": "+1 555 0100"}, "+1 555 0100", true},
		{"user without number", phoneBook{"alice": ""}, "", false},
		{"user unknown to the directory", phoneBook{}, "", false},
		{"no directory", nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []inventory.Option
			if tt.book != nil {
				opts = append(opts, inventory.WithDirectory(tt.book))
			}
			f := newFixture(t, opts...)
			d := f.apple(t, udid)
			if _, err := f.svc.IngestApple(t.Context(), f.org, d.ID, info); err != nil {
				t.Fatal(err)
			}
			vals, err := f.store.DeviceValues(t.Context(), f.org, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			var phone *inventory.Value
			for _, v := range vals {
				if v.Key == inventory.KeyPhoneNumber {
					phone = &v
				}
			}
			if (phone != nil) != tt.found || phone != nil && (phone.Value != tt.want || phone.Source != inventory.SourceDirectory) {
				t.Errorf("stored phone number %+v, want %q from the directory", phone, tt.want)
			}
			checkNotStored(t, f, []string{"+49 151 23456789"})
		})
	}
}

func TestDueForRefresh(t *testing.T) {
	f := newFixture(t, inventory.WithRefreshInterval(24*60*60*1e9))
	ctx := t.Context()
	fresh := f.apple(t, udid)
	stale := f.apple(t, "UDID-STALE")
	if _, err := f.svc.IngestApple(ctx, f.org, stale.ID, []byte(strings.ReplaceAll(string(readFile(t, testdata("apple", "SecurityInfo.plist"))), udid, "UDID-STALE"))); err != nil {
		t.Fatal(err)
	}
	*f.clock = now.Add(23 * 60 * 60 * 1e9)
	if _, err := f.svc.IngestApple(ctx, f.org, fresh.ID, readFile(t, testdata("apple", "SecurityInfo.plist"))); err != nil {
		t.Fatal(err)
	}
	never := f.apple(t, "UDID-NEVER")
	*f.clock = now.Add(25 * 60 * 60 * 1e9)
	due, err := f.svc.DueForRefresh(ctx, f.org, 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range due {
		ids = append(ids, d.ID)
	}
	if d := cmp.Diff([]string{never.ID, stale.ID}, ids); d != "" {
		t.Errorf("due devices (-want +got):\n%s", d)
	}
}

// TestIngestAppleDevice: ingesting for a record the caller has read stores
// what IngestApple stores, also when the record has changed since (a stale
// version is read again, not overwritten), and refuses a result naming
// another device.
func TestIngestAppleDevice(t *testing.T) {
	f := newFixture(t)
	d := f.apple(t, udid)
	ctx := t.Context()
	res, err := f.svc.IngestAppleDevice(ctx, d, readFile(t, testdata("apple", "SecurityInfo.plist")))
	if err != nil {
		t.Fatal(err)
	}
	if res.Command != "SecurityInfo" || res.Values != 3 || res.Device.Version == d.Version {
		t.Errorf("SecurityInfo: command %q, %d values, version %d (was %d)", res.Command, res.Values, res.Device.Version, d.Version)
	}
	// d is stale now: the ingest reads the device again and merges.
	res, err = f.svc.IngestAppleDevice(ctx, d, readFile(t, testdata("apple", "ProfileList.plist")))
	if err != nil {
		t.Fatal(err)
	}
	if res.Command != "ProfileList" || res.Values != 1 {
		t.Errorf("ProfileList: command %q, %d values", res.Command, res.Values)
	}
	vals, err := f.store.DeviceValues(ctx, f.org, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[inventory.Key]bool{}
	for _, v := range vals {
		keys[v.Key] = true
	}
	for _, k := range []inventory.Key{inventory.KeyEncryption, inventory.KeyPasscodePresent, inventory.KeyManagedProfiles} {
		if !keys[k] {
			t.Errorf("%s not stored; stored %v", k, keys)
		}
	}
	other := f.apple(t, "66ADE930-5FDF-5EC4-8429-15640684C489")
	if _, err := f.svc.IngestAppleDevice(ctx, other, readFile(t, testdata("apple", "SecurityInfo.plist"))); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("a result naming another device: %v, want ErrInvalid", err)
	}
	checkNotStored(t, f, appleSecrets)
}
