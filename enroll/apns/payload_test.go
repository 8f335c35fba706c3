package apns

import (
	"encoding/json"
	"testing"
)

// TestPayload: the hand-built body equals encoding/json's for push magic
// that needs no escaping, and falls back to it for magic that does.
func TestPayload(t *testing.T) {
	for _, magic := range []string{
		"5A1A6F8B-0F43-4C2E-9B0A-3C4E1D2B3A49", "m", "",
		`quo"te`, `back\slash`, "new\nline", "<tag>&", "ünïcode", "\x7f", "bad\xffutf8",
	} {
		want, err := json.Marshal(struct {
			MDM string `json:"mdm"`
		}{magic})
		if err != nil {
			t.Fatal(err)
		}
		if got := payload(magic); string(got) != string(want) {
			t.Errorf("payload(%q) = %s, want %s", magic, got, want)
		}
	}
}
