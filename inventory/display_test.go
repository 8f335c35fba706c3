package inventory_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/openomm/omm/inventory"
)

func TestDisplayValue(t *testing.T) {
	iOS := inventory.OS{Platform: inventory.PlatformIOS, Version: "12.5.7"}
	mac11 := inventory.OS{Platform: inventory.PlatformMacOS, Version: "11.7.10"}
	mac12 := inventory.OS{Platform: inventory.PlatformMacOS, Version: "12.0"}
	macUnknown := inventory.OS{Platform: inventory.PlatformMacOS}
	droid := inventory.OS{Platform: inventory.PlatformAndroid, Version: "14"}
	tests := []struct {
		key   inventory.Key
		value string
		os    inventory.OS
		want  inventory.Display
	}{
		{inventory.KeyEncryption, "3", iOS, inventory.Display{Text: "Block-level and file-level encryption"}},
		{inventory.KeyEncryption, "1", iOS, inventory.Display{Text: "Block-level encryption"}},
		{inventory.KeyEncryption, "2", iOS, inventory.Display{Text: "File-level encryption"}},
		{inventory.KeyEncryption, "0", iOS, inventory.Display{Text: "No hardware encryption"}},
		{inventory.KeyEncryption, "12", iOS, inventory.Display{Text: "12 (not a value this version knows how to read)"}},
		{inventory.KeyEncryption, "true", mac11, inventory.Display{Text: "FileVault on"}},
		{inventory.KeyEncryption, "false", mac11, inventory.Display{Text: "FileVault off"}},
		{inventory.KeyEncryption, "ACTIVE_PER_USER", droid, inventory.Display{Text: "Encrypted per user"}},
		{inventory.KeyEncryption, "ACTIVE_DEFAULT_KEY", droid, inventory.Display{Text: "Encrypted (with the default key: no passcode protects it)"}},
		{inventory.KeyEncryption, "INACTIVE", droid, inventory.Display{Text: "Not encrypted"}},
		{inventory.KeySecurityPosture, "POTENTIALLY_COMPROMISED", droid, inventory.Display{Text: "Potentially compromised"}},
		{inventory.KeyPasscodePresent, "true", iOS, inventory.Display{Text: "Yes"}},
		{inventory.KeyPasscodePresent, "false", droid, inventory.Display{Text: "No"}},
		{inventory.KeyPasscodeCompliant, "false", iOS, inventory.Display{Text: "No"}},
		{inventory.KeyFirewall, "true", mac12, inventory.Display{Text: "On"}},
		{inventory.KeySystemIntegrity, "false", mac12, inventory.Display{Text: "Off"}},
		{inventory.KeyCapacity, "26.413677215576172", iOS, inventory.Display{Text: "26.41 GB"}},
		{inventory.KeyCapacity, "128", droid, inventory.Display{Text: "128 GB"}},
		{inventory.KeyCapacity, "1e200", iOS, inventory.Display{Text: "1e+200 GB"}},
		{inventory.KeyCapacity, "233.47", mac11, inventory.Display{Text: "233.47 GiB"}},
		{inventory.KeyAvailableCapacity, "233.47", mac12, inventory.Display{Text: "233.47 GB"}},
		{inventory.KeyAvailableCapacity, "233.47", macUnknown, inventory.Display{Text: "233.47 GB or GiB (the unit depends on the macOS version, which is not known)"}},
		{inventory.KeyManagedProfiles, `["com.acme.mdm","com.acme.wifi"]`, iOS,
			inventory.Display{Text: "com.acme.mdm, com.acme.wifi", Items: []string{"com.acme.mdm", "com.acme.wifi"}}},
		{inventory.KeyManagedProfiles, `[]`, mac12, inventory.Display{Text: "None"}},
		{inventory.KeyManagedProfiles, `["", "com.acme.mdm"]`, iOS,
			inventory.Display{Text: "(empty), com.acme.mdm", Items: []string{"", "com.acme.mdm"}}},
		{inventory.KeyOSVersion, "17.4.1", iOS, inventory.Display{Text: "17.4.1"}},
		{inventory.KeyDeviceName, "ENCRYPTED_PER_USER", iOS, inventory.Display{Text: "ENCRYPTED_PER_USER"}}, // text is text
	}
	for _, tt := range tests {
		got := inventory.DisplayValue(inventory.Value{Key: tt.key, Value: tt.value, Source: inventory.SourceDevice, Collected: now}, tt.os)
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("DisplayValue(%s=%q, %v) (-want +got):\n%s", tt.key, tt.value, tt.os, d)
		}
	}
}

// TestReportShowsWords: the report keeps the stored value exact and adds
// the words people read.
func TestReportShowsWords(t *testing.T) {
	f := newFixture(t)
	d := f.apple(t, udid)
	for _, name := range []string{"DeviceInformation.full.plist", "SecurityInfo.plist", "ProfileList.plist"} {
		if _, err := f.svc.IngestApple(t.Context(), f.org, d.ID, readFile(t, testdata("apple", name))); err != nil {
			t.Fatal(err)
		}
	}
	r, err := f.svc.Report(t.Context(), f.org, d.ID, inventory.ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[inventory.Key][2]string{}
	for _, item := range r.CanSee {
		got[item.Attribute] = [2]string{item.Value, item.Display}
		if item.Attribute == inventory.KeyManagedProfiles && len(item.Items) != 2 {
			t.Errorf("profiles not listed one by one: %+v", item)
		}
	}
	want := map[inventory.Key][2]string{
		inventory.KeyEncryption:        {"3", "Block-level and file-level encryption"},
		inventory.KeyPasscodePresent:   {"true", "Yes"},
		inventory.KeyPasscodeCompliant: {"true", "Yes"},
		inventory.KeyCapacity:          {"128", "128 GB"},
		inventory.KeyManagedProfiles:   {`["com.acme.mdm","com.acme.wifi"]`, "com.acme.mdm, com.acme.wifi"},
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: value and words %q, want %q", k, got[k], w)
		}
	}
}

// FuzzDisplayValue: whatever a device stored, its words are readable text
// and never empty for a value.
func FuzzDisplayValue(f *testing.F) {
	for _, s := range []string{"3", "true", "ACTIVE_PER_USER", "128.5", `["a","b"]`, "", "\x00", "_", "NaN", "-1"} {
		f.Add(s, "17.4.1", uint8(0))
	}
	f.Add("1e400", "11.7", uint8(2))
	keys := []inventory.Key{}
	for _, a := range inventory.Contract() {
		if a.Kind != inventory.KindApps {
			keys = append(keys, a.Key)
		}
	}
	platforms := []inventory.Platform{inventory.PlatformIOS, inventory.PlatformIPadOS, inventory.PlatformMacOS, inventory.PlatformAndroid, ""}
	f.Fuzz(func(t *testing.T, value, version string, sel uint8) {
		for _, k := range keys {
			os := inventory.OS{Platform: platforms[int(sel)%len(platforms)], Version: version}
			got := inventory.DisplayValue(inventory.Value{Key: k, Value: value}, os)
			if value != "" && got.Text == "" {
				t.Fatalf("%s=%q on %v: no words", k, value, os)
			}
			if utf8.ValidString(value) && !utf8.ValidString(got.Text) {
				t.Fatalf("%s=%q: words %q are not text", k, value, got.Text)
			}
			if len(got.Text) > 4*len(value)+200 {
				t.Fatalf("%s=%q: words grew to %d bytes", k, value, len(got.Text))
			}
			for _, item := range got.Items {
				// A list is JSON: its escapes, and bytes that are not
				// UTF-8 (read as U+FFFD), need not appear as they are.
				if !strings.Contains(value, item) && !strings.Contains(value, "\\") && utf8.ValidString(value) {
					t.Fatalf("%s=%q: item %q is not in the value", k, value, item)
				}
			}
		}
	})
}
