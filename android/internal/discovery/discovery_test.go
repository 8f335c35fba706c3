package discovery

import (
	"os"
	"strings"
	"testing"
)

func load(t *testing.T) *Doc {
	t.Helper()
	data, err := os.ReadFile("../../amapi/testdata/androidmanagement-api.json")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestPlantedErrors shows the validator catching each kind of error it
// exists for, each planted in an otherwise valid Policy.
func TestPlantedErrors(t *testing.T) {
	d := load(t)
	valid := `{"passwordPolicies":[{"passwordScope":"SCOPE_PROFILE","passwordQuality":"NUMERIC","passwordMinimumLength":6}],
		"encryptionPolicy":"ENABLED_WITH_PASSWORD","maximumTimeToLock":"300000",
		"applications":[{"packageName":"com.example.mail","installType":"FORCE_INSTALLED"}]}`
	if errs := d.Validate("Policy", []byte(valid)); errs != nil {
		t.Fatalf("valid policy refused: %v", errs)
	}
	tests := []struct {
		name, doc, want string
	}{
		{"unknown field", `{"passwordPolicy":[]}`, `unknown field "passwordPolicy"`},
		{"unknown nested field", `{"applications":[{"packageName":"a.b","installMode":"AVAILABLE"}]}`, `unknown field "installMode"`},
		{"wrong type: string for integer", `{"passwordPolicies":[{"passwordMinimumLength":"6"}]}`, "want an integer"},
		{"wrong type: number for int64 string", `{"maximumTimeToLock":300000}`, "want a string"},
		{"wrong type: object for array", `{"applications":{"packageName":"a.b"}}`, "want an array"},
		{"bad int64 text", `{"maximumTimeToLock":"5m"}`, "not a decimal int64"},
		{"bad duration", `{"passwordPolicies":[{"passwordExpirationTimeout":"90d"}]}`, "not a duration"},
		{"bad enum value", `{"encryptionPolicy":"ENABLED"}`, `"ENABLED" is not one of`},
		{"unspecified enum value", `{"playStoreMode":"PLAY_STORE_MODE_UNSPECIFIED"}`, "unspecified value"},
		{"deprecated field", `{"passwordRequirements":{"passwordMinimumLength":6}}`, `field "passwordRequirements" is deprecated`},
		{"deprecated enum value", `{"applications":[{"packageName":"a.b","installType":"KIOSK"}]}`, `"KIOSK" is a deprecated value`},
		{"output-only field", `{"version":"3"}`, `field "version" is output only`},
		{"fraction for integer", `{"minimumApiLevel":28.5}`, "not an integer"},
		{"not JSON", `{"x":`, "not JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errs := d.Validate("Policy", []byte(tc.doc))
			for _, err := range errs {
				if strings.Contains(err.Error(), tc.want) {
					return
				}
			}
			t.Errorf("Validate(%s) = %v, want an error containing %q", tc.doc, errs, tc.want)
		})
	}
}

func TestOutputOnlyMarker(t *testing.T) {
	d := load(t)
	// Command.esimStatus is described "Output only." in the document.
	errs := d.Validate("Command", []byte(`{"type":"LOCK","esimStatus":{}}`))
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), `field "esimStatus" is output only`) {
		t.Errorf("Validate(Command.esimStatus) = %v, want one output-only error", errs)
	}
}
