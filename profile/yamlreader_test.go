package profile

import (
	"os"
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

// TestYAMLReaderReadsAllSchemas makes sure the reader copes with every
// profile schema file, not only the ones the payload tests use.
func TestYAMLReaderReadsAllSchemas(t *testing.T) {
	dir := schemaDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no schema files in %s: %v", dir, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := parseYAML(string(b))
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		if _, err := schemaFromDoc(doc); err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
	}
}
