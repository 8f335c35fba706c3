package inventory_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/micromdm/plist"

	"github.com/openomm/omm/internal/appleschema"
	"github.com/openomm/omm/inventory"
)

// sample is a value of the schema type of k, recognisable in a dump:
// strings and data carry the key's name.
func sample(k appleschema.Key, os, version string) any {
	switch k.Type {
	case "<string>":
		return "S:" + k.Key
	case "<integer>":
		return int64(7)
	case "<real>":
		return 64.5
	case "<boolean>":
		return true
	case "<date>":
		return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	case "<data>":
		return []byte("D:" + k.Key)
	case "<dictionary>":
		return sampleDict(k.Subkeys, os, version)
	}
	return []any{}
}

// sampleDict is a dictionary holding every key of keys the schema says
// os at version reports.
func sampleDict(keys []appleschema.Key, os, version string) map[string]any {
	m := map[string]any{}
	for _, k := range keys {
		if k.Supported(os, version) && !strings.HasPrefix(k.Key, "ANY") {
			m[k.Key] = sample(k, os, version)
		}
	}
	return m
}

// osCase is a device of one OS family and version and what its inventory
// must hold.
type osCase struct {
	platform inventory.Platform
	version  string
	// modelNumber is "" where the OS has no model number to report.
	modelNumber string
	encryption  string
	passcode    bool // passcode rows exist
	macSecurity bool // firewall and System Integrity Protection exist
	profiles    bool // the profile list can be used
	capacity    string
}

var osCases = []osCase{
	{inventory.PlatformIOS, "9.3.5", "MD786X", "3", true, false, true, "233.47 GB"},
	{inventory.PlatformIOS, "10.3.4", "MD786X", "3", true, false, true, "233.47 GB"},
	{inventory.PlatformIOS, "11.4.1", "MD786X", "3", true, false, true, "233.47 GB"},
	{inventory.PlatformIOS, "12.5.7", "MD786X", "3", true, false, true, "233.47 GB"},
	{inventory.PlatformIOS, "16.3.1", "MD786X", "3", true, false, true, "233.47 GB"},
	{inventory.PlatformIOS, "16.4", "MQ9X3ZD/A", "3", true, false, true, "233.47 GB"},
	{inventory.PlatformIOS, "17.4.1", "MQ9X3ZD/A", "3", true, false, true, "233.47 GB"},
	{inventory.PlatformIPadOS, "12.5.7", "MD786X", "3", true, false, true, "233.47 GB"},
	{inventory.PlatformIPadOS, "17.4.1", "MQ9X3ZD/A", "3", true, false, true, "233.47 GB"},
	{inventory.PlatformMacOS, "10.11.6", "", "true", false, false, false, "233.47 GiB"},
	{inventory.PlatformMacOS, "10.12.6", "", "true", false, true, false, "233.47 GiB"},
	{inventory.PlatformMacOS, "10.13.6", "", "true", false, true, false, "233.47 GiB"},
	{inventory.PlatformMacOS, "10.14.6", "", "true", false, true, false, "233.47 GiB"},
	{inventory.PlatformMacOS, "10.15.7", "", "true", false, true, true, "233.47 GiB"},
	{inventory.PlatformMacOS, "11.7.10", "", "true", false, true, true, "233.47 GiB"},
	{inventory.PlatformMacOS, "12.7.6", "", "true", false, true, true, "233.47 GB"},
	{inventory.PlatformMacOS, "13.2.1", "", "true", false, true, true, "233.47 GB"},
	{inventory.PlatformMacOS, "13.3", "MQ9X3ZD/A", "true", false, true, true, "233.47 GB"},
}

// results builds what a device of the case answers to DeviceInformation
// (every key Apple's schema has for its OS version, whatever was asked:
// devices that over-share are the test) and SecurityInfo.
func (c osCase) results(t *testing.T, udid string) [][]byte {
	t.Helper()
	os := schemaOS(c.platform)
	info := sampleDict(schemaDeviceKeys(t), os, c.version)
	info["OSVersion"], info["DeviceCapacity"] = c.version, 233.4712
	if _, ok := info["Model"]; ok {
		info["Model"] = "MD786X"
		if c.platform == inventory.PlatformMacOS {
			info["Model"] = "MacBookPro14,3"
		}
	}
	if _, ok := info["ModelNumber"]; ok {
		info["ModelNumber"] = "MQ9X3ZD/A"
	}
	security := sampleDict(schemaResponse(t, "information.security.yaml", "SecurityInfo").Subkeys, os, c.version)
	if _, ok := security["HardwareEncryptionCaps"]; ok {
		security["HardwareEncryptionCaps"] = int64(3)
	}
	if _, ok := security["SystemIntegrityProtectionEnabled"]; ok {
		security["SystemIntegrityProtectionEnabled"] = false
	}
	// iPhone and iPad say which profiles MDM installed; Macs never do.
	profile := map[string]any{"PayloadIdentifier": "com.acme.wifi", "PayloadUUID": "S:uuid"}
	if c.platform != inventory.PlatformMacOS {
		profile["IsManaged"] = true
	}
	var out [][]byte
	for _, r := range []map[string]any{
		{"QueryResponses": info},
		{"SecurityInfo": security},
		{"ProfileList": []any{profile}},
	} {
		r["Status"], r["UDID"], r["CommandUUID"] = "Acknowledged", udid, "cmd"
		b, err := plist.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestAppleInventoryByOSVersion: devices of every OS family and version
// the SDK serves answer with every key Apple's schema lists for their
// version. The model number is read under its old name before iOS 16.4
// (and a Mac's Model, its identifier, is never taken for one), a Mac's
// FileVault, firewall and System Integrity Protection are read where its
// version has them, passcode rows exist on iPhone and iPad only, and
// nothing else any version reports is stored or logged.
func TestAppleInventoryByOSVersion(t *testing.T) {
	for _, c := range osCases {
		t.Run(string(c.platform)+"_"+c.version, func(t *testing.T) {
			f := newFixture(t)
			udid := "UDID-" + c.version
			d := f.device(t, udid, c.platform)
			var forbiddenKeys []string
			for _, r := range c.results(t, udid) {
				res, err := f.svc.IngestApple(t.Context(), f.org, d.ID, r)
				if err != nil {
					t.Fatal(err)
				}
				forbiddenKeys = append(forbiddenKeys, res.Dropped.ForbiddenKeys...)
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
				inventory.KeyDeviceName: "S:DeviceName", inventory.KeySerialNumber: "S:SerialNumber",
				inventory.KeyModelName: "S:ModelName", inventory.KeyProductName: "S:ProductName",
				inventory.KeyCapacity: "233.4712", inventory.KeyAvailableCapacity: "64.5",
				inventory.KeyOSVersion: c.version, inventory.KeyOSBuild: "S:BuildVersion",
				inventory.KeyEncryption: c.encryption,
			}
			if c.modelNumber != "" {
				want[inventory.KeyModelNumber] = c.modelNumber
			}
			if c.passcode {
				want[inventory.KeyPasscodePresent], want[inventory.KeyPasscodeCompliant] = "true", "true"
			}
			if c.macSecurity {
				want[inventory.KeyFirewall], want[inventory.KeySystemIntegrity] = "true", "false"
			}
			if c.profiles {
				want[inventory.KeyManagedProfiles] = `["com.acme.wifi"]`
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("stored (-want +got):\n%s", d)
			}
			// Every other value the device sent carries its key's name
			// ("S:IMEI", "D:FDE_PersonalRecoveryKeyCMS"): none may be kept
			// or logged.
			kept := slices.Collect(func(yield func(string) bool) {
				for _, v := range want {
					if !yield(v) {
						return
					}
				}
			})
			dump, logs := f.dump(t), f.logs.String()
			for _, line := range strings.Split(dump+logs, "\n") {
				for _, marker := range []string{"S:", "D:"} {
					if i := strings.Index(line, marker); i >= 0 && !slices.ContainsFunc(kept, func(k string) bool { return strings.Contains(line, k) }) {
						t.Errorf("a value outside the contract is stored or logged: %s", line)
					}
				}
			}
			if c.platform == inventory.PlatformMacOS && appleschema.CompareVersions(c.version, "10.13") >= 0 && !slices.Contains(forbiddenKeys, "FDE_PersonalRecoveryKeyCMS") {
				t.Errorf("the FileVault recovery key was not dropped as forbidden: %v", forbiddenKeys)
			}

			// The report lists what this OS reports, in words.
			r := inventory.BuildReport(d, vals, nil, inventory.ReportOptions{}, now)
			shown := map[inventory.Key]string{}
			for _, item := range r.CanSee {
				shown[item.Attribute] = item.Display
			}
			for key, present := range map[inventory.Key]bool{
				inventory.KeyModelNumber: c.modelNumber != "", inventory.KeyPasscodePresent: c.passcode,
				inventory.KeyPasscodeCompliant: c.passcode, inventory.KeyFirewall: c.macSecurity,
				inventory.KeySystemIntegrity: c.macSecurity, inventory.KeyManagedProfiles: c.profiles,
			} {
				if _, ok := shown[key]; ok != present {
					t.Errorf("report row %s shown %v, want %v", key, ok, present)
				}
			}
			wantShown := map[inventory.Key]string{inventory.KeyCapacity: c.capacity, inventory.KeyEncryption: "Block-level and file-level encryption"}
			if c.platform == inventory.PlatformMacOS {
				wantShown[inventory.KeyEncryption] = "FileVault on"
			}
			if c.macSecurity {
				wantShown[inventory.KeyFirewall], wantShown[inventory.KeySystemIntegrity] = "On", "Off"
			}
			if c.passcode {
				wantShown[inventory.KeyPasscodePresent] = "Yes"
			}
			for k, w := range wantShown {
				if shown[k] != w {
					t.Errorf("report shows %s as %q, want %q", k, shown[k], w)
				}
			}
		})
	}
}

// TestModelNumberFallback: Model stands in for ModelNumber only where
// ModelNumber is missing, and only on iPhone and iPad.
func TestModelNumberFallback(t *testing.T) {
	tests := []struct {
		platform inventory.Platform
		keys     string
		want     string
	}{
		{inventory.PlatformIOS, `<key>Model</key><string>MD786X</string>`, "MD786X"},
		{inventory.PlatformIOS, `<key>Model</key><string>MQ9X3</string><key>ModelNumber</key><string>MQ9X3ZD/A</string>`, "MQ9X3ZD/A"},
		{inventory.PlatformIOS, `<key>ModelNumber</key><string>MQ9X3ZD/A</string><key>Model</key><string>MQ9X3</string>`, "MQ9X3ZD/A"},
		{inventory.PlatformIPadOS, `<key>Model</key><string>ME824CH</string>`, "ME824CH"},
		{inventory.PlatformMacOS, `<key>Model</key><string>MacBookPro14,3</string>`, ""},
		{inventory.PlatformMacOS, `<key>Model</key><string>Mac14,2</string><key>ModelNumber</key><string>MLY33LL/A</string>`, "MLY33LL/A"},
	}
	filter := inventory.NewFilter(0)
	for _, tt := range tests {
		data := []byte(`<plist version="1.0"><dict><key>Status</key><string>Acknowledged</string><key>QueryResponses</key><dict>` +
			tt.keys + `</dict></dict></plist>`)
		for _, version := range []string{"", "12.0", "17.0"} {
			o, err := filter.Apple(data, now, inventory.OS{Platform: tt.platform, Version: version})
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			for _, v := range o.Values {
				if v.Key == inventory.KeyModelNumber {
					got = v.Value
				}
			}
			if got != tt.want {
				t.Errorf("%s %s %s: model number %q, want %q", tt.platform, version, tt.keys, got, tt.want)
			}
		}
	}
}

// TestProfileListByOSVersion: a profile list is used only where the
// device can say which profiles MDM installed: IsManaged (iPhone and iPad
// before iOS 13, unsupervised), or ManagedOnly honoured (iOS 13, macOS
// 10.15). A Mac before 10.15 lists everything, its enrollment profile and
// the user's own profiles included, without IsManaged: nothing of it is
// kept, so the enrollment profile is listed on no platform.
func TestProfileListByOSVersion(t *testing.T) {
	entry := func(id string, managed *bool) string {
		s := `<dict><key>PayloadIdentifier</key><string>` + id + `</string><key>PayloadUUID</key><string>U</string>`
		if managed != nil {
			s += fmt.Sprintf(`<key>IsManaged</key><%t/>`, *managed)
		}
		return s + `</dict>`
	}
	yes, no := true, false
	// What a device that honours ManagedOnly sends: only MDM's profiles.
	honoured := entry("com.acme.wifi", nil)
	// What one that ignores it sends: the enrollment profile (installed
	// by the user) and a personal VPN too.
	ignored := entry("com.acme.wifi", nil) + entry("com.openomm.mdm.org", nil) + entry("net.example.private.vpn", nil)
	tests := []struct {
		name    string
		os      inventory.OS
		entries string
		want    string // "" when no value is stored
	}{
		{"iOS 12 unsupervised says IsManaged", inventory.OS{Platform: inventory.PlatformIOS, Version: "12.5.7"},
			entry("com.acme.wifi", &yes) + entry("com.openomm.mdm.org", &no) + entry("net.example.private.vpn", &no), `["com.acme.wifi"]`},
		{"iOS 12 supervised says nothing", inventory.OS{Platform: inventory.PlatformIOS, Version: "12.5.7"}, ignored, ""},
		{"iOS 13 supervised honours ManagedOnly", inventory.OS{Platform: inventory.PlatformIOS, Version: "13.0"}, honoured, `["com.acme.wifi"]`},
		{"iPadOS 17", inventory.OS{Platform: inventory.PlatformIPadOS, Version: "17.4"}, honoured, `["com.acme.wifi"]`},
		{"macOS 10.11", inventory.OS{Platform: inventory.PlatformMacOS, Version: "10.11.6"}, ignored, ""},
		{"macOS 10.14", inventory.OS{Platform: inventory.PlatformMacOS, Version: "10.14.6"}, ignored, ""},
		{"macOS 10.15", inventory.OS{Platform: inventory.PlatformMacOS, Version: "10.15"}, honoured, `["com.acme.wifi"]`},
		{"Mac of unknown version", inventory.OS{Platform: inventory.PlatformMacOS}, honoured, ""},
		{"empty list on macOS 13", inventory.OS{Platform: inventory.PlatformMacOS, Version: "13.0"}, "", `[]`},
	}
	filter := inventory.NewFilter(0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(`<plist version="1.0"><dict><key>Status</key><string>Acknowledged</string><key>ProfileList</key><array>` +
				tt.entries + `</array></dict></plist>`)
			o, err := filter.Apple(data, now, tt.os)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			for _, v := range o.Values {
				got = v.Value
			}
			if got != tt.want {
				t.Errorf("profiles %q, want %q", got, tt.want)
			}
			if strings.Contains(got, "private.vpn") || strings.Contains(got, "openomm.mdm") {
				t.Error("a profile the organization did not install through MDM is listed")
			}
		})
	}
	// Through the service, the stored OS version decides.
	f := newFixture(t)
	d := f.device(t, "UDID-MAC", inventory.PlatformMacOS)
	list := `<plist version="1.0"><dict><key>Status</key><string>Acknowledged</string><key>UDID</key><string>UDID-MAC</string>` +
		`<key>ProfileList</key><array>` + ignored + `</array></dict></plist>`
	info := func(v string) []byte {
		return []byte(`<plist version="1.0"><dict><key>Status</key><string>Acknowledged</string><key>UDID</key><string>UDID-MAC</string>` +
			`<key>QueryResponses</key><dict><key>OSVersion</key><string>` + v + `</string></dict></dict></plist>`)
	}
	for _, r := range [][]byte{info("10.11.6"), []byte(list)} {
		if _, err := f.svc.IngestApple(t.Context(), f.org, d.ID, r); err != nil {
			t.Fatal(err)
		}
	}
	if dump := f.dump(t); strings.Contains(dump, "com.acme.wifi") || strings.Contains(dump, "private.vpn") {
		t.Errorf("macOS 10.11's profile list was stored:\n%s", dump)
	}
	for _, r := range [][]byte{info("10.15.7"), []byte(strings.ReplaceAll(list, "net.example.private.vpn", "com.acme.vpn"))} {
		if _, err := f.svc.IngestApple(t.Context(), f.org, d.ID, r); err != nil {
			t.Fatal(err)
		}
	}
	if dump := f.dump(t); !strings.Contains(dump, "com.acme.wifi") {
		t.Errorf("macOS 10.15's profile list was not stored:\n%s", dump)
	}
}
