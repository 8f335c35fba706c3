package catalog

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/storage"
)

// ValueType is the type of a managed configuration value, as the app reads
// it (a plist type on Apple, a managed-configuration type on Android).
type ValueType string

const (
	TypeString  ValueType = "string"
	TypeInteger ValueType = "integer"
	TypeBoolean ValueType = "boolean"
	TypeReal    ValueType = "real"
)

// Limits on managed configuration.
const (
	MaxConfigEntries  = 100
	MaxConfigKeyLen   = 128
	MaxConfigValueLen = 4096
)

// ConfigEntry is one key of an app's managed configuration. Value holds the
// value as text: a decimal integer, "true"/"false", a decimal real, or a
// string. Strings may hold placeholders resolved per user when the app is
// installed: ${user.id}, ${user.login}, ${user.email}, ${user.name}; "$$"
// is a literal "$".
type ConfigEntry struct {
	Key   string    `json:"key"`
	Type  ValueType `json:"type"`
	Value string    `json:"value"`
}

// Placeholders returns the names usable as ${name} in configuration
// strings, sorted.
func Placeholders() []string { return []string{"user.email", "user.id", "user.login", "user.name"} }

// placeholder returns u's value for the placeholder name, and whether name
// is a placeholder at all.
func placeholder(name string, u auth.User) (string, bool) {
	switch name {
	case "user.id":
		return u.ID, true
	case "user.login":
		return u.Username, true
	case "user.email":
		return u.Email, true
	case "user.name":
		return u.DisplayName, true
	}
	return "", false
}

// ErrUnresolved is returned (wrapped) when a placeholder names an
// attribute the user does not have, so the app would be configured with
// an empty value.
var ErrUnresolved = errors.New("placeholder has no value for this user")

// ValidateConfig checks entries: at most MaxConfigEntries, unique non-empty
// keys, values that parse as their type, and only known placeholders, in
// strings only. Errors wrap storage.ErrInvalid and name the key.
func ValidateConfig(entries []ConfigEntry) error {
	if len(entries) > MaxConfigEntries {
		return fmt.Errorf("%w: %d configuration entries, at most %d allowed", storage.ErrInvalid, len(entries), MaxConfigEntries)
	}
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		if err := validateText("configuration key", e.Key, MaxConfigKeyLen, true, false); err != nil {
			return err
		}
		if seen[e.Key] {
			return fmt.Errorf("%w: configuration key %q given twice", storage.ErrInvalid, e.Key)
		}
		seen[e.Key] = true
		if err := validateText("configuration value of "+e.Key, e.Value, MaxConfigValueLen, false, true); err != nil {
			return err
		}
		if _, err := e.typed(auth.User{}, false); err != nil {
			return err
		}
	}
	return nil
}

// ResolveConfig returns entries as typed values for user u, ready to send:
// string, int64, bool or float64. An empty list yields nil (no
// configuration). A placeholder the user has no value for yields
// ErrUnresolved.
func ResolveConfig(entries []ConfigEntry, u auth.User) (map[string]any, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	out := make(map[string]any, len(entries))
	for _, e := range entries {
		v, err := e.typed(u, true)
		if err != nil {
			return nil, err
		}
		out[e.Key] = v
	}
	return out, nil
}

// typed parses the entry's value; with resolve, placeholders are replaced
// by u's attributes, otherwise only checked.
func (e ConfigEntry) typed(u auth.User, resolve bool) (any, error) {
	bad := func(want string) error {
		return fmt.Errorf("%w: configuration %q: %q is not %s", storage.ErrInvalid, e.Key, e.Value, want)
	}
	switch e.Type {
	case TypeString:
		return expand(e.Key, e.Value, u, resolve)
	case TypeInteger:
		n, err := strconv.ParseInt(e.Value, 10, 64)
		if err != nil {
			return nil, bad("an integer")
		}
		return n, nil
	case TypeBoolean:
		switch e.Value {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, bad(`"true" or "false"`)
	case TypeReal:
		f, err := strconv.ParseFloat(e.Value, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, bad("a finite number")
		}
		return f, nil
	}
	return nil, fmt.Errorf("%w: configuration %q: unknown type %q (want string, integer, boolean or real)", storage.ErrInvalid, e.Key, e.Type)
}

// expand replaces the placeholders of s. Without resolve it only checks
// that every placeholder is known and closed.
func expand(key, s string, u auth.User, resolve bool) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case i+1 < len(s) && s[i+1] == '$':
			b.WriteByte('$')
			i++
			continue
		case i+1 >= len(s) || s[i+1] != '{':
			b.WriteByte('$')
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("%w: configuration %q: placeholder at byte %d is not closed with '}'", storage.ErrInvalid, key, i)
		}
		name := s[i+2 : i+end]
		v, ok := placeholder(name, u)
		if !ok {
			return "", fmt.Errorf("%w: configuration %q: unknown placeholder ${%s} (known: ${%s})", storage.ErrInvalid, key, name, strings.Join(Placeholders(), "}, ${"))
		}
		if resolve {
			if v == "" {
				return "", fmt.Errorf("configuration %q: ${%s}: %w", key, name, ErrUnresolved)
			}
			b.WriteString(v)
		}
		i += end
	}
	return b.String(), nil
}
