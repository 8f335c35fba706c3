// Package appleschema reads Apple's device-management schema (the YAML files
// in shared/apple-device-management) and checks decoded property lists
// against it: every key defined, of the right type, within its range list,
// and every required key present. Tests of the packages that emit profiles,
// commands and check-in answers use it; nothing ships with it.
//
// The YAML subset those files use is read by a small reader of its own:
// gopkg.in/yaml.v3 is not among the project's dependencies.
package appleschema

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Key is one entry of a payloadkeys, responsekeys or subkeys list.
type Key struct {
	Key       string
	Type      string // "<string>", "<integer>", "<dictionary>" …
	Presence  string // "required" or "optional"
	Rangelist []string
	Subkeys   []Key
	// SupportedOS is the key's own supportedOS entry by OS name ("iOS",
	// "macOS" …); an OS it does not name supports the key as far as the
	// schema says (see [Key.Supported]).
	SupportedOS map[string]OSSupport
}

// OSSupport is one OS's entry of a supportedOS mapping. Versions are kept
// as Apple writes them ("16.4", "10.13.4"); "n/a" means never.
type OSSupport struct {
	Introduced string
	Deprecated string
	Removed    string
}

// Schema is one schema file: a profile payload, a command, a check-in
// message, a declaration or a status item.
type Schema struct {
	PayloadType     string // profiles
	RequestType     string // commands, check-in messages, declarative protocol
	DeclarationType string // declarations
	StatusItemType  string // status items
	// Support is the payload's own supportedOS, by OS name.
	Support map[string]PayloadSupport
	Keys    []Key
	// ResponseKeys are a command's response keys; empty for profiles and
	// check-in messages.
	ResponseKeys []Key
}

// PayloadSupport is one OS's entry of a payload's supportedOS mapping:
// versions as Apple writes them ("n/a": never) and, for declarations and
// status items, the enrollment types allowed ("supervised", "device",
// "user", "local"; empty when the schema names none).
type PayloadSupport struct {
	Introduced         string
	Removed            string
	AllowedEnrollments []string
}

// Supported reports whether the payload exists on os at version and, when
// enrollment is not empty and the schema lists allowed enrollments, is
// allowed on that enrollment type.
func (s Schema) Supported(os, version, enrollment string) bool {
	sup, ok := s.Support[os]
	switch {
	case !ok, sup.Introduced == "" || sup.Introduced == "n/a":
		return false
	case CompareVersions(version, sup.Introduced) < 0:
		return false
	case sup.Removed != "" && sup.Removed != "n/a" && CompareVersions(version, sup.Removed) >= 0:
		return false
	case enrollment != "" && len(sup.AllowedEnrollments) > 0 && !slices.Contains(sup.AllowedEnrollments, enrollment):
		return false
	}
	return true
}

// Dir finds shared/apple-device-management by walking up from the working
// directory (CI lays shared/ beside the clone), or reports why not.
func Dir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "shared", "apple-device-management")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("shared/apple-device-management not found above the working directory")
		}
		dir = parent
	}
}

// Load reads one schema file.
func Load(path string) (Schema, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Schema{}, err
	}
	doc, err := parseYAML(string(b))
	if err != nil {
		return Schema{}, fmt.Errorf("%s: %w", path, err)
	}
	s, err := fromDoc(doc)
	if err != nil {
		return Schema{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func fromDoc(doc any) (Schema, error) {
	m, ok := doc.(map[string]any)
	if !ok {
		return Schema{}, errors.New("document is not a mapping")
	}
	var s Schema
	if p, ok := m["payload"].(map[string]any); ok {
		s.PayloadType, _ = p["payloadtype"].(string)
		s.RequestType, _ = p["requesttype"].(string)
		s.DeclarationType, _ = p["declarationtype"].(string)
		s.StatusItemType, _ = p["statusitemtype"].(string)
		if oses, ok := p["supportedOS"].(map[string]any); ok {
			s.Support = map[string]PayloadSupport{}
			for name, v := range oses {
				e, _ := v.(map[string]any)
				var sup PayloadSupport
				sup.Introduced, _ = e["introduced"].(string)
				sup.Removed, _ = e["removed"].(string)
				if list, ok := e["allowed-enrollments"].([]any); ok {
					for _, x := range list {
						if str, ok := x.(string); ok {
							sup.AllowedEnrollments = append(sup.AllowedEnrollments, str)
						}
					}
				}
				s.Support[name] = sup
			}
		}
	}
	keys, err := keyList(m["payloadkeys"])
	if err != nil {
		return Schema{}, err
	}
	s.Keys = keys
	if s.ResponseKeys, err = keyList(m["responsekeys"]); err != nil {
		return Schema{}, fmt.Errorf("responsekeys: %w", err)
	}
	return s, nil
}

func keyList(v any) ([]Key, error) {
	switch v.(type) {
	case nil, yamlRecursion:
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("key list is %T", v)
	}
	var out []Key
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("key entry is %T", e)
		}
		k := Key{}
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
		sub, err := keyList(m["subkeys"])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k.Key, err)
		}
		k.Subkeys = sub
		if os, ok := m["supportedOS"].(map[string]any); ok {
			k.SupportedOS = map[string]OSSupport{}
			for name, v := range os {
				e, _ := v.(map[string]any)
				var sup OSSupport
				sup.Introduced, _ = e["introduced"].(string)
				sup.Deprecated, _ = e["deprecated"].(string)
				sup.Removed, _ = e["removed"].(string)
				k.SupportedOS[name] = sup
			}
		}
		out = append(out, k)
	}
	return out, nil
}

// Overlay returns own followed by the keys of base that own does not
// redefine (a payload's keys over the common payload keys).
func Overlay(base, own []Key) []Key {
	out := slices.Clone(own)
	for _, b := range base {
		if !slices.ContainsFunc(own, func(o Key) bool { return o.Key == b.Key }) {
			out = append(out, b)
		}
	}
	return out
}

// Check reports every key of d that keys does not define, whose value has
// the wrong type or lies outside its range list, and every required key
// that is missing. path prefixes each problem.
func Check(path string, d map[string]any, keys []Key) []string {
	var problems []string
	byName := map[string]Key{}
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

func checkValue(path string, v any, k Key) []string {
	if got := Type(v); k.Type != "<any>" && got != k.Type {
		return []string{fmt.Sprintf("%s: is %s, schema says %s", path, got, k.Type)}
	}
	switch v := v.(type) {
	case map[string]any:
		if len(k.Subkeys) > 0 {
			return Check(path, v, k.Subkeys)
		}
	case []any:
		var problems []string
		for i, e := range v {
			problems = append(problems, checkElement(fmt.Sprintf("%s[%d]", path, i), e, k.Subkeys)...)
		}
		return problems
	default:
		if len(k.Rangelist) > 0 && !slices.Contains(k.Rangelist, fmt.Sprint(v)) {
			return []string{fmt.Sprintf("%s: %v not in %q", path, v, k.Rangelist)}
		}
	}
	return nil
}

// checkElement checks an array element. Most arrays have one element
// schema; some (the Settings command's) list alternatives, and an element
// is right when it matches one of them.
func checkElement(path string, e any, alternatives []Key) []string {
	if len(alternatives) == 0 {
		return nil
	}
	first := checkValue(path, e, alternatives[0])
	if len(first) == 0 {
		return nil
	}
	for _, alt := range alternatives[1:] {
		if len(checkValue(path, e, alt)) == 0 {
			return nil
		}
	}
	if len(alternatives) == 1 {
		return first
	}
	return []string{fmt.Sprintf("%s: matches none of the %d element schemas (first: %v)", path, len(alternatives), first)}
}

// Type names the schema type of a value decoded from a plist into any.
func Type(v any) string {
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

// Supported reports whether the key exists on os ("iOS", "macOS" …) at
// version ("16.4"), by the key's own supportedOS entry: a key whose entry
// does not name os exists wherever its payload does; "n/a" means never;
// a version before the one introducing it, or from the one removing it,
// does not have it. Deprecated keys still exist. A parent's support is
// not consulted: walk from the top and ask each level.
func (k Key) Supported(os, version string) bool {
	sup, ok := k.SupportedOS[os]
	if !ok {
		return true
	}
	switch {
	case sup.Introduced == "n/a":
		return false
	case sup.Introduced != "" && CompareVersions(version, sup.Introduced) < 0:
		return false
	case sup.Removed != "" && sup.Removed != "n/a" && CompareVersions(version, sup.Removed) >= 0:
		return false
	}
	return true
}

// Find returns the key named name in keys.
func Find(keys []Key, name string) (Key, bool) {
	i := slices.IndexFunc(keys, func(k Key) bool { return k.Key == name })
	if i < 0 {
		return Key{}, false
	}
	return keys[i], true
}

// CompareVersions compares dotted version numbers ("10.13.4", "16.4")
// component by component, missing components counting as zero; a
// component that is not a number counts as zero too (the schema's
// versions are all numeric).
func CompareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(as), len(bs)) {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if c := cmp.Compare(x, y); c != 0 {
			return c
		}
	}
	return 0
}
