package amapi_test

import (
	"errors"
	"testing"

	"github.com/openomm/omm/android/amapi"
)

// TestValidate: the embedded discovery document refuses what Google's
// service would.
func TestValidate(t *testing.T) {
	tests := []struct {
		name, schema string
		v            any
		ok           bool
	}{
		{"policy", "Policy", amapi.Policy{PlayStoreMode: amapi.PlayStoreAllowList}, true},
		{"unknown enum", "Policy", amapi.Policy{PlayStoreMode: "ANYTHING"}, false},
		{"unknown field", "Policy", map[string]any{"shareLocationDisabled": true, "noSuchField": 1}, false},
		{"wipe command", "Command", amapi.Command{Type: amapi.CommandWipe}, true},
		{"unspecified command", "Command", amapi.Command{Type: "COMMAND_TYPE_UNSPECIFIED"}, false},
		{"unknown schema", "NoSuchThing", struct{}{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := amapi.Validate(tt.schema, tt.v)
			if tt.ok != (err == nil) {
				t.Fatalf("Validate = %v, want ok %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, amapi.ErrInvalid) {
				t.Errorf("%v does not wrap ErrInvalid", err)
			}
		})
	}
}
