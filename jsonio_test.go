package omm

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openomm/omm/internal/jsonapi"
)

// unmarshalJSON is decodeJSON on a request with body data.
func unmarshalJSON(data []byte, v any) error {
	r := httptest.NewRequest("POST", "/", strings.NewReader(string(data)))
	return decodeJSON(httptest.NewRecorder(), r, v)
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name, in string
		wantErr  string
	}{
		{"object", `{"platform":"ios","os_version":"17"}`, ""},
		{"nested at the limit", `{"model":"x"}`, ""},
		{"array", `[1]`, "cannot unmarshal array"},
		{"string", `"x"`, "cannot unmarshal string"},
		{"empty", ``, "invalid request"},
		{"too deep", `{"a":` + strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth) + `}`, "nested deeper"},
		{"trailing data", `{"platform":"ios"} {}`, "after the JSON"},
		{"unknown field", `{"imei":"1"}`, "unknown field"},
		{"wrong type", `{"api_level":"x"}`, "cannot unmarshal"},
		{"malformed", `{"platform":`, "invalid request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f Facts
			err := unmarshalJSON([]byte(tt.in), &f)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want ErrBadRequest mentioning %q", err, tt.wantErr)
			}
		})
	}
}

// FuzzDecodeJSON: whatever arrives, decoding returns ErrBadRequest or a
// value, never panics, and never accepts nesting over the limit.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"platform":"ios","os_version":"17.4"}`,
		`{"platform":"android","os_version":"14","api_level":34,"work_profile":true}`,
		`{"a":[[[[[[[[[]]]]]]]]]}`,
		`[{}]`, `{"platform":"ios"} x`, `{`, `{"os_version":"\ud800"}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v PolicyBody
		err := unmarshalJSON(data, &v)
		if err != nil && !errors.Is(err, ErrBadRequest) {
			t.Fatalf("error %v does not wrap ErrBadRequest", err)
		}
		if err == nil && jsonapi.CheckDepth(data, maxJSONDepth) != nil {
			t.Fatal("accepted input checkDepth refuses")
		}
	})
}
