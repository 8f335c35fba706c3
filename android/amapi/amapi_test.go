package amapi_test

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/openomm/omm/android/amapi"
	"github.com/openomm/omm/android/internal/discovery"
)

func doc(t *testing.T) *discovery.Doc {
	t.Helper()
	data, err := os.ReadFile("testdata/androidmanagement-api.json")
	if err != nil {
		t.Fatal(err)
	}
	d, err := discovery.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestTypesMatchDiscovery sets every field of every type (each enum value
// we declare in turn) and validates the JSON against Google's schema, so a
// misspelt field, a wrong JSON type or an enum value Google does not have
// (or deprecated) fails here.
func TestTypesMatchDiscovery(t *testing.T) {
	d := doc(t)
	full := amapi.Policy{
		PasswordPolicies: []amapi.PasswordRequirements{{
			PasswordScope: amapi.ScopeProfile, PasswordQuality: amapi.QualityComplex, PasswordMinimumLength: 8,
			PasswordMinimumLetters: 1, PasswordMinimumSymbols: 1, PasswordHistoryLength: 3,
			MaximumFailedPasswordsForWipe: 10, PasswordExpirationTimeout: "7776000s",
		}},
		EncryptionPolicy: amapi.EncryptionWithPassword, MaximumTimeToLock: "60000", MinimumAPILevel: 26,
		Applications:  []amapi.ApplicationPolicy{{PackageName: "com.example", InstallType: amapi.ForceInstalled}},
		PlayStoreMode: amapi.PlayStoreAllowList,
		CrossProfilePolicies: &amapi.CrossProfilePolicies{
			CrossProfileDataSharing: amapi.DataSharingWorkToPersonalBlock, CrossProfileCopyPaste: amapi.CopyPasteWorkToPersonalBlock,
		},
		StatusReportingSettings: &amapi.StatusReportingSettings{ApplicationReportsEnabled: true, DeviceSettingsEnabled: true, SoftwareInfoEnabled: true, MemoryInfoEnabled: true},
		WorkAccountSetupConfig:  &amapi.WorkAccountSetupConfig{AuthenticationType: amapi.GoogleAuthenticated, RequiredAccountEmail: "a@example.com"},
	}
	check := func(schema string, v any) {
		t.Helper()
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if errs := d.Validate(schema, data); errs != nil {
			t.Errorf("%s %s: %v", schema, data, errs)
		}
	}
	check("Policy", full)
	// Every field of the full policy is set: nothing was left out by omitempty.
	var m map[string]any
	data, _ := json.Marshal(full)
	_ = json.Unmarshal(data, &m)
	if n := reflect.TypeOf(full).NumField(); len(m) != n {
		t.Errorf("full policy sets %d of %d fields", len(m), n)
	}
	for _, q := range []amapi.PasswordQuality{amapi.QualitySomething, amapi.QualityNumeric, amapi.QualityNumericComplex, amapi.QualityAlphabetic, amapi.QualityAlphanumeric, amapi.QualityComplex} {
		check("PasswordRequirements", amapi.PasswordRequirements{PasswordScope: amapi.ScopeDevice, PasswordQuality: q})
	}
	for _, it := range []amapi.InstallType{amapi.ForceInstalled, amapi.Available, amapi.Blocked} {
		check("ApplicationPolicy", amapi.ApplicationPolicy{PackageName: "a.b", InstallType: it})
	}
	check("Policy", amapi.Policy{EncryptionPolicy: amapi.EncryptionWithoutPassword,
		CrossProfilePolicies: &amapi.CrossProfilePolicies{CrossProfileDataSharing: amapi.DataSharingAllowed, CrossProfileCopyPaste: amapi.CopyPasteAllowed}})
	for _, c := range []amapi.CommandType{amapi.CommandLock, amapi.CommandResetPassword, amapi.CommandWipe} {
		check("Command", amapi.Command{Type: c})
	}
	// The zero policy emits nothing at all, so no *_UNSPECIFIED value.
	if data, _ := json.Marshal(amapi.Policy{}); string(data) != "{}" || strings.Contains(string(data), "UNSPECIFIED") {
		t.Errorf("zero policy = %s", data)
	}
}
