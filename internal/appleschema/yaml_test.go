package appleschema

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestYAMLReader(t *testing.T) {
	src := `title: Example
description: ''
payload:
  payloadtype: com.example
  supportedOS:
    iOS:
      introduced: '4.0'
payloadkeys:
- key: A
  type: <string>
  content: first line
    continues here
  rangelist:
  - One
  - 'Two: quoted'
- key: B
  type: <array>
  subkeys: &id001
  - key: BItem
    type: <string>
    content: |-
      line one

      line three
- key: C
  type: <array>
  subkeys: *id001
# a comment
`
	got, err := parseYAML(src)
	if err != nil {
		t.Fatal(err)
	}
	item := map[string]any{"key": "BItem", "type": "<string>", "content": "line one\n\nline three"}
	want := map[string]any{
		"title":       "Example",
		"description": "",
		"payload": map[string]any{"payloadtype": "com.example",
			"supportedOS": map[string]any{"iOS": map[string]any{"introduced": "4.0"}}},
		"payloadkeys": []any{
			map[string]any{"key": "A", "type": "<string>", "content": "first line continues here",
				"rangelist": []any{"One", "Two: quoted"}},
			map[string]any{"key": "B", "type": "<array>", "subkeys": []any{item}},
			map[string]any{"key": "C", "type": "<array>", "subkeys": []any{item}},
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
	for _, bad := range []string{"key: 'open", "- a\nb: c", "- a\n  b: c\n-x"} {
		if _, err := parseYAML(bad); err == nil {
			t.Errorf("parseYAML(%q) succeeded", bad)
		}
	}
}

// TestReadsAllSchemas makes sure the reader copes with every schema file
// (profiles, commands, check-in messages), not only the ones tests use.
func TestReadsAllSchemas(t *testing.T) {
	root, err := Dir()
	if err != nil {
		t.Skip(err)
	}
	var files []string
	for _, sub := range []string{"mdm/profiles", "mdm/commands", "mdm/checkin", "declarative/declarations/*",
		"declarative/status", "declarative/protocol"} {
		f, err := filepath.Glob(filepath.Join(root, sub, "*.yaml"))
		if err != nil || len(f) == 0 {
			t.Fatalf("no schema files in %s: %v", sub, err)
		}
		files = append(files, f...)
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
	}
	t.Logf("read %d schema files", len(files))
}

// TestDeclarativeSupport reads a declaration's and a status item's
// supportedOS: versions and allowed enrollment types.
func TestDeclarativeSupport(t *testing.T) {
	root, err := Dir()
	if err != nil {
		t.Skip(err)
	}
	su, err := Load(filepath.Join(root, "declarative", "declarations", "configurations", "softwareupdate.enforcement.specific.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if su.DeclarationType != "com.apple.configuration.softwareupdate.enforcement.specific" {
		t.Errorf("declaration type %q", su.DeclarationType)
	}
	for _, c := range []struct {
		os, version, enrollment string
		want                    bool
	}{
		{"iOS", "17.0", "device", true},
		{"iOS", "16.7", "device", false},
		{"iOS", "17.4", "user", false},
		{"iOS", "17.4", "", true},
		{"macOS", "14.0", "supervised", true},
		{"macOS", "14.0", "device", false},
		{"tvOS", "17.0", "", false},
		{"Windows", "11", "", false},
	} {
		if got := su.Supported(c.os, c.version, c.enrollment); got != c.want {
			t.Errorf("Supported(%s, %s, %q) = %v, want %v", c.os, c.version, c.enrollment, got, c.want)
		}
	}
	st, err := Load(filepath.Join(root, "declarative", "status", "passcode.is-compliant.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if st.StatusItemType != "passcode.is-compliant" || !st.Supported("iOS", "16.0", "user") || st.Supported("macOS", "15.0", "") {
		t.Errorf("passcode.is-compliant read as %+v", st)
	}
}

func TestCheck(t *testing.T) {
	keys := []Key{
		{Key: "Name", Type: "<string>", Presence: "required"},
		{Key: "Mode", Type: "<string>", Rangelist: []string{"On", "Off"}},
		{Key: "Items", Type: "<array>", Subkeys: []Key{{Key: "Item", Type: "<integer>"}}},
		{Key: "Sub", Type: "<dictionary>", Subkeys: []Key{{Key: "Flag", Type: "<boolean>", Presence: "required"}}},
		{Key: "Alts", Type: "<array>", Subkeys: []Key{
			{Key: "A", Type: "<dictionary>", Subkeys: []Key{{Key: "Item", Type: "<string>", Rangelist: []string{"A"}}}},
			{Key: "B", Type: "<dictionary>", Subkeys: []Key{{Key: "Item", Type: "<string>", Rangelist: []string{"B"}}}},
		}},
	}
	ok := map[string]any{"Name": "x", "Mode": "On", "Items": []any{int64(1)}, "Sub": map[string]any{"Flag": true},
		"Alts": []any{map[string]any{"Item": "B"}, map[string]any{"Item": "A"}}}
	if p := Check("d", ok, keys); len(p) != 0 {
		t.Errorf("valid dictionary: %v", p)
	}
	for name, d := range map[string]map[string]any{
		"unknown key":    {"Name": "x", "Extra": "y"},
		"wrong type":     {"Name": int64(1)},
		"missing key":    {"Mode": "On"},
		"out of range":   {"Name": "x", "Mode": "Maybe"},
		"array element":  {"Name": "x", "Items": []any{"1"}},
		"nested missing": {"Name": "x", "Sub": map[string]any{}},
		"no alternative": {"Name": "x", "Alts": []any{map[string]any{"Item": "C"}}},
	} {
		if p := Check("d", d, keys); len(p) == 0 {
			t.Errorf("%s: no problem found", name)
		}
	}
}

func TestSupported(t *testing.T) {
	k := Key{Key: "K", SupportedOS: map[string]OSSupport{
		"iOS":   {Introduced: "16.4"},
		"macOS": {Introduced: "10.13.4", Removed: "14.0"},
		"tvOS":  {Introduced: "n/a"},
	}}
	tests := []struct {
		os, version string
		want        bool
	}{
		{"iOS", "16.3.1", false}, {"iOS", "16.4", true}, {"iOS", "17", true},
		{"macOS", "10.13", false}, {"macOS", "10.13.4", true}, {"macOS", "13.6.1", true}, {"macOS", "14.0", false},
		{"tvOS", "17.0", false}, {"watchOS", "1.0", true},
	}
	for _, tt := range tests {
		if got := k.Supported(tt.os, tt.version); got != tt.want {
			t.Errorf("Supported(%s %s) = %v, want %v", tt.os, tt.version, got, tt.want)
		}
	}
	if CompareVersions("10.9", "10.10") >= 0 || CompareVersions("17", "17.0.0") != 0 {
		t.Error("CompareVersions compares text, not numbers")
	}
}

// TestResponseKeys reads a command's response keys with their OS support.
func TestResponseKeys(t *testing.T) {
	root, err := Dir()
	if err != nil {
		t.Skip(err)
	}
	s, err := Load(filepath.Join(root, "mdm", "commands", "information.security.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	info, ok := Find(s.ResponseKeys, "SecurityInfo")
	if !ok {
		t.Fatalf("no SecurityInfo in %+v", s.ResponseKeys)
	}
	fde, ok := Find(info.Subkeys, "FDE_Enabled")
	if !ok || fde.Supported("iOS", "17.0") || !fde.Supported("macOS", "10.11") {
		t.Errorf("FDE_Enabled: %+v", fde)
	}
}
