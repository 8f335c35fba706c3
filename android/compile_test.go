package android

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/openomm/omm/android/amapi"
	"github.com/openomm/omm/android/internal/discovery"
	"github.com/openomm/omm/policy"
)

func loadDiscovery(t *testing.T) *discovery.Doc {
	t.Helper()
	data, err := os.ReadFile("amapi/testdata/androidmanagement-api.json")
	if err != nil {
		t.Fatal(err)
	}
	d, err := discovery.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var (
	passcodes = map[string]policy.Passcode{
		"none":        {},
		"simple pin":  {Required: true, AllowSimple: true, MinLength: 4},
		"complex pin": {Required: true, MinLength: 6, MaxFailedAttempts: 10, AutoLockMinutes: 5},
		"letters":     {Required: true, RequireLetters: true, MinLength: 8, History: 5, MaxAgeDays: 90},
		"symbols":     {Required: true, RequireLetters: true, MinSymbols: 2, MinLength: 10, GracePeriodMinutes: 1},
	}
	separations = map[string]policy.DataSeparation{
		"open":                  {},
		"block work→personal":   {BlockWorkToPersonal: true},
		"block all (Apple too)": {BlockWorkToPersonal: true, BlockManagedToUnmanaged: true, BlockUnmanagedToManaged: true},
	}
	testApps = []App{
		{PackageName: "com.example.mail", Install: InstallForced},
		{PackageName: "com.example.wiki", Install: InstallAvailable},
		{PackageName: "com.example.game", Install: InstallBlocked},
	}
)

// TestCompiledPoliciesValidate compiles every passcode × data separation
// combination, for work profiles (with and without a separate work-profile
// passcode) and fully managed devices, and validates each against the
// Policy schema of Google's discovery document.
func TestCompiledPoliciesValidate(t *testing.T) {
	doc := loadDiscovery(t)
	for pn, pc := range passcodes {
		for sn, sep := range separations {
			for _, wp := range []bool{true, false} {
				req := policy.Requirements{Passcode: pc, Encryption: pc.Required || sn == "open", DataSeparation: sep}
				req.Android.MinAPILevel = 26
				if wp {
					req.Android.WorkProfilePasscode = passcodes["letters"]
				}
				name := pn + "/" + sn + "/fully managed"
				if wp {
					name = pn + "/" + sn + "/work profile"
				}
				t.Run(name, func(t *testing.T) {
					c, err := Compile(req, CompileOptions{WorkProfile: wp, Apps: testApps, ManagedAccount: "Bob@Example.com"})
					if err != nil {
						t.Fatal(err)
					}
					data, err := json.Marshal(c.Policy)
					if err != nil {
						t.Fatal(err)
					}
					if errs := doc.Validate("Policy", data); errs != nil {
						t.Fatalf("%s\n%v", data, errs)
					}
					if strings.Contains(string(data), "UNSPECIFIED") {
						t.Errorf("emits an unspecified value: %s", data)
					}
					checkCompiled(t, req, wp, c)
				})
			}
		}
	}
}

// checkCompiled pins the meaning of a compiled policy down.
func checkCompiled(t *testing.T, req policy.Requirements, wp bool, c Compiled) {
	t.Helper()
	p := c.Policy
	scopes := map[amapi.PasswordScope]amapi.PasswordRequirements{}
	for _, r := range p.PasswordPolicies {
		scopes[r.PasswordScope] = r
	}
	if _, ok := scopes[amapi.ScopeDevice]; ok != req.Passcode.Required {
		t.Errorf("device password policy present = %v, want %v", ok, req.Passcode.Required)
	}
	if _, ok := scopes[amapi.ScopeProfile]; ok != (wp && req.Android.WorkProfilePasscode.Required) {
		t.Errorf("profile password policy present = %v", ok)
	}
	if d, ok := scopes[amapi.ScopeDevice]; ok && d.PasswordMinimumLength != req.Passcode.MinLength {
		t.Errorf("device minimum length %d, want %d", d.PasswordMinimumLength, req.Passcode.MinLength)
	}
	if wp {
		want := amapi.DataSharingAllowed
		if req.DataSeparation.BlockWorkToPersonal {
			want = amapi.DataSharingWorkToPersonalBlock
		}
		if p.CrossProfilePolicies == nil || p.CrossProfilePolicies.CrossProfileDataSharing != want {
			t.Errorf("cross-profile policies %+v, want data sharing %s", p.CrossProfilePolicies, want)
		}
	} else if p.CrossProfilePolicies != nil {
		t.Errorf("a fully managed device has no profiles, got %+v", p.CrossProfilePolicies)
	}
	if len(p.Applications) != len(testApps) || p.PlayStoreMode != amapi.PlayStoreAllowList {
		t.Errorf("applications %+v, play store mode %q", p.Applications, p.PlayStoreMode)
	}
	if req.Passcode.GracePeriodMinutes > 0 && len(c.NotApplied) == 0 {
		t.Error("the grace period has no API field and must be reported as not applied")
	}
}

func TestQualityConstants(t *testing.T) {
	tests := []struct {
		pc   policy.Passcode
		want Quality
		hex  int
		name string
	}{
		{policy.Passcode{Required: true, AllowSimple: true}, QualityNumeric, 0x20000, "NUMERIC"},
		{policy.Passcode{Required: true}, QualityNumericComplex, 0x30000, "NUMERIC_COMPLEX"},
		{policy.Passcode{Required: true, RequireLetters: true}, QualityAlphanumeric, 0x50000, "ALPHANUMERIC"},
		{policy.Passcode{Required: true, MinSymbols: 1}, QualityComplex, 0x60000, "COMPLEX"},
	}
	for _, tc := range tests {
		q := quality(tc.pc)
		if q != tc.want || int(q) != tc.hex || q.Name() != tc.name {
			t.Errorf("quality(%+v) = %#x %s, want %#x %s", tc.pc, int(q), q.Name(), tc.hex, tc.name)
		}
	}
	if QualityAlphabetic != 0x40000 || QualityAlphabetic.Name() != "ALPHABETIC" {
		t.Error("ALPHABETIC constant")
	}
}

func TestCompileAgent(t *testing.T) {
	req := policy.Requirements{
		Passcode:       policy.Passcode{Required: true, RequireLetters: true, MinSymbols: 1, MinLength: 8, MaxAgeDays: 30, GracePeriodMinutes: 5},
		Encryption:     true,
		DataSeparation: policy.DataSeparation{BlockWorkToPersonal: true},
	}
	req.Android.WorkProfilePasscode = policy.Passcode{Required: true, MinLength: 4}
	tests := []struct {
		name        string
		api         int
		calls       []string
		unsupported []string
	}{
		{"API 28: every call works", 28,
			[]string{"setPasswordQuality", "setPasswordMinimumLength", "setPasswordMinimumLetters", "setPasswordMinimumSymbols", "setPasswordExpirationTimeout", "setStorageEncryption"},
			[]string{"passcode grace period", "work-profile passcode", "block work-to-personal sharing"}},
		{"API 10: no API 11 calls", 10,
			[]string{"setPasswordQuality", "setPasswordMinimumLength"},
			[]string{"setPasswordMinimumLetters", "setPasswordMinimumSymbols", "setPasswordExpirationTimeout", "setStorageEncryption"}},
		{"API 30: device admin refused", 30, nil,
			[]string{"setPasswordQuality", "setPasswordMinimumLength", "setStorageEncryption"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ap, err := CompileAgent(policy.ModeDeviceAdmin, req, tc.api, testApps)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]AdminCall{}
			for _, c := range ap.Calls {
				got[c.Method] = c
			}
			if len(tc.calls) == 0 && len(ap.Calls) != 0 {
				t.Errorf("calls %+v, want none", ap.Calls)
			}
			for _, m := range tc.calls {
				if _, ok := got[m]; !ok {
					t.Errorf("missing call %s in %+v", m, ap.Calls)
				}
			}
			if q, ok := got["setPasswordQuality"]; ok && q.Value != 0x60000 {
				t.Errorf("quality %#x, want COMPLEX 0x60000", q.Value)
			}
			un := map[string]bool{}
			for _, u := range ap.Unsupported {
				un[u.Requirement] = true
			}
			for _, m := range tc.unsupported {
				if !un[m] {
					t.Errorf("%s not reported unsupported: %+v", m, ap.Unsupported)
				}
			}
			if len(ap.Apps) != len(testApps) {
				t.Errorf("apps %+v", ap.Apps)
			}
		})
	}
}
