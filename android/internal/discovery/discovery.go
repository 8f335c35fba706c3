// Package discovery validates JSON documents against the schemas of a Google
// API discovery document: unknown fields, wrong JSON types, enum values that
// do not exist, *_UNSPECIFIED values, deprecated fields and enum values, and
// output-only fields are each reported. The android packages use it in tests
// to keep what they emit honest against Google's own description of the API.
package discovery

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Doc is a parsed discovery document.
type Doc struct {
	Schemas map[string]Schema `json:"schemas"`
}

// Schema is one schema or property of a discovery document.
type Schema struct {
	ID                   string            `json:"id"`
	Type                 string            `json:"type"`
	Format               string            `json:"format"`
	Ref                  string            `json:"$ref"`
	Description          string            `json:"description"`
	Properties           map[string]Schema `json:"properties"`
	Items                *Schema           `json:"items"`
	AdditionalProperties *Schema           `json:"additionalProperties"`
	Enum                 []string          `json:"enum"`
	EnumDeprecated       []bool            `json:"enumDeprecated"`
	Deprecated           bool              `json:"deprecated"`
	ReadOnly             bool              `json:"readOnly"`
}

// Parse decodes a discovery document.
func Parse(data []byte) (*Doc, error) {
	var d Doc
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	if len(d.Schemas) == 0 {
		return nil, errors.New("discovery: document has no schemas")
	}
	return &d, nil
}

// Validate checks the JSON document data against the named schema and
// returns every problem found, each naming its JSON path; nil means valid.
func (d *Doc) Validate(schema string, data []byte) []error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []error{fmt.Errorf("not JSON: %w", err)}
	}
	s, ok := d.Schemas[schema]
	if !ok {
		return []error{fmt.Errorf("no schema %q", schema)}
	}
	var errs []error
	d.check(&errs, schema, s, v, 0)
	return errs
}

var (
	durationRE = regexp.MustCompile(`^-?[0-9]+(\.[0-9]{1,9})?s$`)
	int64RE    = regexp.MustCompile(`^-?[0-9]+$`)
)

const maxDepth = 64

func (d *Doc) check(errs *[]error, path string, s Schema, v any, depth int) {
	fail := func(format string, args ...any) {
		*errs = append(*errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	if depth > maxDepth {
		fail("nested too deeply")
		return
	}
	if s.Ref != "" {
		ref, ok := d.Schemas[s.Ref]
		if !ok {
			fail("unknown schema %q", s.Ref)
			return
		}
		s = ref
	}
	switch s.Type {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			fail("want an object, got %s", kind(v))
			return
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p, ok := s.Properties[k]
			if !ok && s.AdditionalProperties != nil {
				d.check(errs, path+"."+k, *s.AdditionalProperties, m[k], depth+1)
				continue
			}
			if !ok {
				fail("unknown field %q", k)
				continue
			}
			if p.Deprecated {
				fail("field %q is deprecated", k)
			}
			if outputOnly(p) {
				fail("field %q is output only", k)
			}
			d.check(errs, path+"."+k, p, m[k], depth+1)
		}
	case "array":
		list, ok := v.([]any)
		if !ok {
			fail("want an array, got %s", kind(v))
			return
		}
		if s.Items == nil {
			return
		}
		for i, item := range list {
			d.check(errs, fmt.Sprintf("%s[%d]", path, i), *s.Items, item, depth+1)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			fail("want a string, got %s", kind(v))
			return
		}
		switch s.Format {
		case "int64", "uint64":
			if !int64RE.MatchString(str) {
				fail("%q is not a decimal %s", str, s.Format)
			}
		case "google-duration":
			if !durationRE.MatchString(str) {
				fail("%q is not a duration such as \"3600s\"", str)
			}
		}
		if len(s.Enum) == 0 {
			return
		}
		i := indexOf(s.Enum, str)
		switch {
		case i < 0:
			fail("%q is not one of %v", str, s.Enum)
		case strings.HasSuffix(str, "_UNSPECIFIED"):
			fail("%q is an unspecified value", str)
		case i < len(s.EnumDeprecated) && s.EnumDeprecated[i]:
			fail("%q is a deprecated value", str)
		}
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			fail("want an integer, got %s", kind(v))
			return
		}
		if _, err := n.Int64(); err != nil {
			fail("%s is not an integer", n)
		}
	case "number":
		if _, ok := v.(json.Number); !ok {
			fail("want a number, got %s", kind(v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			fail("want a boolean, got %s", kind(v))
		}
	case "any", "":
	default:
		fail("schema type %q not understood", s.Type)
	}
}

// outputOnly reports whether the server sets the field: Google marks such
// fields "Output only." or, in older text, "This is a read-only field."
func outputOnly(p Schema) bool {
	return p.ReadOnly || strings.HasPrefix(p.Description, "Output only") || strings.Contains(p.Description, "This is a read-only field")
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}
