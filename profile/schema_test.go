package profile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/micromdm/plist"
)

// Apple's schema sits beside the clone in CI (shared/ next to main/).
const appleSchemaDir = "../../shared/apple-device-management/mdm/profiles"

func schemaDir(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(appleSchemaDir); err != nil {
		t.Skipf("Apple device-management schema not found at %s (%v); schema not checked", appleSchemaDir, err)
	}
	return appleSchemaDir
}

// schemaKey is one entry of a payloadkeys or subkeys list.
type schemaKey struct {
	Key       string
	Type      string
	Presence  string
	Rangelist []string
	Subkeys   []schemaKey
}

type schema struct {
	PayloadType string
	Keys        []schemaKey
}

func schemaFromDoc(doc any) (schema, error) {
	m, ok := doc.(map[string]any)
	if !ok {
		return schema{}, errors.New("document is not a mapping")
	}
	var s schema
	if p, ok := m["payload"].(map[string]any); ok {
		s.PayloadType, _ = p["payloadtype"].(string)
	}
	keys, err := schemaKeys(m["payloadkeys"])
	if err != nil {
		return schema{}, err
	}
	s.Keys = keys
	return s, nil
}

func schemaKeys(v any) ([]schemaKey, error) {
	switch v.(type) {
	case nil, yamlRecursion:
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("key list is %T", v)
	}
	var out []schemaKey
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("key entry is %T", e)
		}
		k := schemaKey{}
		k.Key, _ = m["key"].(string)
		k.Type, _ = m["type"].(string)
		k.Presence, _ = m["presence"].(string)
		if k.Key == "" || k.Type == "" {
			return nil, fmt.Errorf("entry without key or type: %v", m)
		}
		if rl, ok := m["rangelist"].([]any); ok {
			for _, r := range rl {
				s, _ := r.(string)
				k.Rangelist = append(k.Rangelist, s)
			}
		}
		sub, err := schemaKeys(m["subkeys"])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k.Key, err)
		}
		k.Subkeys = sub
		out = append(out, k)
	}
	return out, nil
}

func loadSchemaFile(t *testing.T, path string) schema {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := parseYAML(string(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	s, err := schemaFromDoc(doc)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

// payloadSchema returns the keys allowed in a payload of type typ: the
// common payload keys overlaid with the type's own (Apple's file for it,
// or ours in testdata/schema for types Apple's set lacks).
func payloadSchema(t *testing.T, typ string) []schemaKey {
	t.Helper()
	dir := schemaDir(t)
	path := filepath.Join(dir, typ+".yaml")
	if _, err := os.Stat(path); err != nil {
		path = filepath.Join("testdata", "schema", typ+".yaml")
	}
	own := loadSchemaFile(t, path)
	if own.PayloadType != typ {
		t.Fatalf("%s describes %q, not %q", path, own.PayloadType, typ)
	}
	common := loadSchemaFile(t, filepath.Join(dir, "CommonPayloadKeys.yaml"))
	return overlay(common.Keys, own.Keys)
}

// topLevelSchema returns Apple's top-level profile keys. Its ConsentText
// entry describes the language dictionary as a nested "ConsentTextItem"
// dictionary, while Apple's prose (and devices) expect language → string
// directly; the check follows the prose.
func topLevelSchema(t *testing.T) []schemaKey {
	t.Helper()
	keys := loadSchemaFile(t, filepath.Join(schemaDir(t), "TopLevel.yaml")).Keys
	for i := range keys {
		if keys[i].Key == "ConsentText" {
			keys[i].Subkeys = []schemaKey{{Key: "ANY", Type: "<string>"}}
		}
	}
	return keys
}

func overlay(base, own []schemaKey) []schemaKey {
	out := slices.Clone(own)
	for _, b := range base {
		if !slices.ContainsFunc(own, func(o schemaKey) bool { return o.Key == b.Key }) {
			out = append(out, b)
		}
	}
	return out
}

// checkDict reports every key of d that the schema does not define or
// whose value has the wrong type or is outside the range list, and every
// required key that is missing.
func checkDict(path string, d map[string]any, keys []schemaKey) []string {
	var problems []string
	byName := map[string]schemaKey{}
	for _, k := range keys {
		byName[k.Key] = k
	}
	names := make([]string, 0, len(d))
	for name := range d {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		k, ok := byName[name]
		if !ok {
			k, ok = byName["ANY"]
		}
		if !ok {
			problems = append(problems, fmt.Sprintf("%s.%s: key not in schema", path, name))
			continue
		}
		problems = append(problems, checkValue(path+"."+name, d[name], k)...)
	}
	for _, k := range keys {
		if _, ok := d[k.Key]; !ok && k.Presence == "required" && k.Key != "ANY" {
			problems = append(problems, fmt.Sprintf("%s.%s: required key missing", path, k.Key))
		}
	}
	return problems
}

func checkValue(path string, v any, k schemaKey) []string {
	if got := plistType(v); k.Type != "<any>" && got != k.Type {
		return []string{fmt.Sprintf("%s: is %s, schema says %s", path, got, k.Type)}
	}
	switch v := v.(type) {
	case map[string]any:
		if len(k.Subkeys) > 0 {
			return checkDict(path, v, k.Subkeys)
		}
	case []any:
		if len(k.Subkeys) > 0 {
			var problems []string
			for i, e := range v {
				problems = append(problems, checkValue(fmt.Sprintf("%s[%d]", path, i), e, k.Subkeys[0])...)
			}
			return problems
		}
	default:
		if len(k.Rangelist) > 0 && !slices.Contains(k.Rangelist, fmt.Sprint(v)) {
			return []string{fmt.Sprintf("%s: %v not in %q", path, v, k.Rangelist)}
		}
	}
	return nil
}

func plistType(v any) string {
	switch v.(type) {
	case string:
		return "<string>"
	case int64, uint64:
		return "<integer>"
	case float32, float64:
		return "<real>"
	case bool:
		return "<boolean>"
	case time.Time:
		return "<date>"
	case []byte:
		return "<data>"
	case []any:
		return "<array>"
	case map[string]any:
		return "<dictionary>"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// checkEncodedProfile decodes an encoded profile generically and checks the
// top level and every payload against the schema.
func checkEncodedProfile(t *testing.T, encoded []byte) {
	t.Helper()
	var top map[string]any
	if err := plist.Unmarshal(encoded, &top); err != nil {
		t.Fatal(err)
	}
	problems := checkDict("profile", top, topLevelSchema(t))
	content, _ := top["PayloadContent"].([]any)
	for i, c := range content {
		d, ok := c.(map[string]any)
		if !ok {
			problems = append(problems, fmt.Sprintf("PayloadContent[%d] is %T", i, c))
			continue
		}
		typ, _ := d["PayloadType"].(string)
		problems = append(problems, checkDict(fmt.Sprintf("%s[%d]", typ, i), d, payloadSchema(t, typ))...)
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
		if problems := checkDict("wifi", d, keys); len(problems) == 0 {
			t.Errorf("%s: no problem found", name)
		}
	}
}

func plistUnmarshal(b []byte, v any) error { return plist.Unmarshal(b, v) }
