package inventory_test

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/openomm/omm/enroll/mdm"
	"github.com/openomm/omm/inventory"
)

const fuzzMax = 16 << 10

func addSeeds(f *testing.F, pattern string) {
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds %s: %v", pattern, err)
	}
	for _, file := range files {
		f.Add(readFile(f, file))
	}
}

// checkObservation holds for every accepted report: only contract values,
// each valid; app entries within limits; and nothing over the size limit.
func checkObservation(t *testing.T, data []byte, o inventory.Observation, err error) {
	if err != nil {
		if !errors.Is(err, inventory.ErrReport) && !errors.Is(err, inventory.ErrNoInventory) {
			t.Fatalf("unexpected error class: %v", err)
		}
		return
	}
	if len(data) > fuzzMax {
		t.Fatalf("accepted a report of %d bytes over the %d limit", len(data), fuzzMax)
	}
	for _, v := range o.Values {
		if err := v.Validate(); err != nil {
			t.Fatalf("filter produced an invalid value %+v: %v", v, err)
		}
	}
	for _, a := range append(o.Installed, o.Managed...) {
		if (inventory.App{Identifier: a.Identifier, Name: a.Name}).Validate() != nil {
			t.Fatalf("filter produced a bad app %+v", a)
		}
	}
	for _, a := range o.Managed {
		if !a.Managed || a.Validate() != nil {
			t.Fatalf("filter produced a bad managed app %+v", a)
		}
		if class, _ := inventory.AppleAppStatus(a.State); class == inventory.AppPersonal {
			t.Fatalf("the user's own app %+v listed as the organization's", a)
		}
	}
}

// fuzzOS are the devices a fuzzed Apple result is read for.
var fuzzOS = []inventory.OS{
	{Platform: inventory.PlatformIOS, Version: "12.5.7"},
	{Platform: inventory.PlatformIPadOS, Version: "17.4"},
	{Platform: inventory.PlatformMacOS, Version: "10.11.6"},
	{Platform: inventory.PlatformMacOS, Version: "13.3"},
	{},
}

func FuzzAppleResult(f *testing.F) {
	addSeeds(f, filepath.Join("testdata", "apple", "*.plist"))
	f.Add(readFile(f, shared(f, "fixtures/apple/DeviceInformation.1.plist")))
	f.Add([]byte("bplist00"))
	f.Add(appResult("U", "InstalledApplicationList", `<array><dict><key>Name</key><string>/Users/x/A.app</string></dict></array>`))
	f.Add(appResult("U", "SecurityInfo", `<dict><key>FDE_Enabled</key><true/><key>FirewallSettings</key><dict><key>FirewallEnabled</key><true/></dict></dict>`))
	f.Add(appResult("U", "QueryResponses", `<dict><key>Model</key><string>MD786X</string><key>OSVersion</key><string>12.5</string></dict>`))
	filter := inventory.NewFilter(fuzzMax)
	f.Fuzz(func(t *testing.T, data []byte) {
		decoded, _ := mdm.ParseResult(data)
		for _, os := range fuzzOS {
			o, err := filter.Apple(data, now, os)
			checkObservation(t, data, o, err)
			if decoded != nil {
				// Read from the check-in's decoding: the same limits,
				// the same observation.
				od, derr := filter.AppleDecoded(decoded.Decoded, now, os)
				if (err == nil) != (derr == nil) || errors.Is(err, inventory.ErrReport) != errors.Is(derr, inventory.ErrReport) ||
					errors.Is(err, inventory.ErrNoInventory) != errors.Is(derr, inventory.ErrNoInventory) || !reflect.DeepEqual(o, od) {
					t.Fatalf("%v: from the bytes %+v (%v), from the check-in's decoding %+v (%v)", os, o, err, od, derr)
				}
			}
			if err != nil {
				continue
			}
			for _, a := range o.Installed {
				if a.NameOnly() && (strings.Contains(a.Name, "/") && strings.HasPrefix(a.Name, "/") || os.Platform == inventory.PlatformIOS) {
					t.Fatalf("%v: name-only app %+v", os, a)
				}
			}
		}
	})
}

func FuzzAndroidReport(f *testing.F) {
	addSeeds(f, filepath.Join("testdata", "android", "*.json"))
	f.Add([]byte(`{"applicationReports":[{"packageName":"a","versionName":"1"}]}`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]`))
	filter := inventory.NewFilter(fuzzMax)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, managed := range []bool{false, true} {
			o, err := filter.Android(data, now, managed)
			checkObservation(t, data, o, err)
			if err == nil && !managed {
				for _, a := range o.Installed {
					if a.Managed || a.Version != "" || a.State != "" {
						t.Fatalf("personal app with details: %+v", a)
					}
				}
			}
		}
	})
}
