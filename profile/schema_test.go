package profile

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/micromdm/plist"

	"github.com/openomm/omm/internal/appleschema"
)

// schemaDir is Apple's profile schema folder; CI lays shared/ beside the
// clone. Without it the schema checks are skipped, saying so.
func schemaDir(t *testing.T) string {
	t.Helper()
	root, err := appleschema.Dir()
	if err != nil {
		t.Skipf("Apple device-management schema not found (%v); schema not checked", err)
	}
	return filepath.Join(root, "mdm", "profiles")
}

func loadSchema(t *testing.T, path string) appleschema.Schema {
	t.Helper()
	s, err := appleschema.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// payloadSchema returns the keys allowed in a payload of type typ: the
// common payload keys overlaid with the type's own (Apple's file for it,
// or ours in testdata/schema for types Apple's set lacks).
func payloadSchema(t *testing.T, typ string) []appleschema.Key {
	t.Helper()
	dir := schemaDir(t)
	path := filepath.Join(dir, typ+".yaml")
	if _, err := os.Stat(path); err != nil {
		path = filepath.Join("testdata", "schema", typ+".yaml")
	}
	own := loadSchema(t, path)
	if own.PayloadType != typ {
		t.Fatalf("%s describes %q, not %q", path, own.PayloadType, typ)
	}
	common := loadSchema(t, filepath.Join(dir, "CommonPayloadKeys.yaml"))
	return appleschema.Overlay(common.Keys, own.Keys)
}

// topLevelSchema returns Apple's top-level profile keys. Its ConsentText
// entry describes the language dictionary as a nested "ConsentTextItem"
// dictionary, while Apple's prose (and devices) expect language → string
// directly; the check follows the prose.
func topLevelSchema(t *testing.T) []appleschema.Key {
	t.Helper()
	keys := loadSchema(t, filepath.Join(schemaDir(t), "TopLevel.yaml")).Keys
	for i := range keys {
		if keys[i].Key == "ConsentText" {
			keys[i].Subkeys = []appleschema.Key{{Key: "ANY", Type: "<string>"}}
		}
	}
	return keys
}

// checkEncodedProfile decodes an encoded profile generically and checks the
// top level and every payload against the schema.
func checkEncodedProfile(t *testing.T, encoded []byte) {
	t.Helper()
	var top map[string]any
	if err := plist.Unmarshal(encoded, &top); err != nil {
		t.Fatal(err)
	}
	problems := appleschema.Check("profile", top, topLevelSchema(t))
	content, _ := top["PayloadContent"].([]any)
	for i, c := range content {
		d, ok := c.(map[string]any)
		if !ok {
			problems = append(problems, fmt.Sprintf("PayloadContent[%d] is %T", i, c))
			continue
		}
		typ, _ := d["PayloadType"].(string)
		problems = append(problems, appleschema.Check(fmt.Sprintf("%s[%d]", typ, i), d, payloadSchema(t, typ))...)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// TestSchemaCheckCatchesMistakes proves the checker is not vacuous.
func TestSchemaCheckCatchesMistakes(t *testing.T) {
	keys := payloadSchema(t, TypeWiFi)
	for name, d := range map[string]map[string]any{
		"unknown key":    {"PayloadType": TypeWiFi, "PayloadVersion": int64(1), "PayloadIdentifier": "a", "PayloadUUID": "b", "SSID": "x"},
		"wrong type":     {"PayloadType": TypeWiFi, "PayloadVersion": "1", "PayloadIdentifier": "a", "PayloadUUID": "b"},
		"missing key":    {"PayloadType": TypeWiFi, "PayloadVersion": int64(1), "PayloadIdentifier": "a"},
		"out of range":   {"PayloadType": TypeWiFi, "PayloadVersion": int64(1), "PayloadIdentifier": "a", "PayloadUUID": "b", "EncryptionType": "WPA4"},
		"nested type":    {"PayloadType": TypeWiFi, "PayloadVersion": int64(1), "PayloadIdentifier": "a", "PayloadUUID": "b", "EAPClientConfiguration": map[string]any{"AcceptEAPTypes": []any{"13"}}},
		"nested missing": {"PayloadType": TypeWiFi, "PayloadVersion": int64(1), "PayloadIdentifier": "a", "PayloadUUID": "b", "EAPClientConfiguration": map[string]any{}},
	} {
		if problems := appleschema.Check("wifi", d, keys); len(problems) == 0 {
			t.Errorf("%s: no problem found", name)
		}
	}
}

func plistUnmarshal(b []byte, v any) error { return plist.Unmarshal(b, v) }
