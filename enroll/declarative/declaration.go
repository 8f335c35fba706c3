package declarative

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Type names a declaration type.
type Type string

// The declaration types the SDK generates.
const (
	TypeActivation          Type = "com.apple.activation.simple"
	TypeStatusSubscriptions Type = "com.apple.configuration.management.status-subscriptions"
	TypePasscode            Type = "com.apple.configuration.passcode.settings"
	TypeSoftwareUpdate      Type = "com.apple.configuration.softwareupdate.enforcement.specific"
	TypeLegacyProfile       Type = "com.apple.configuration.legacy"
	TypeManagedApp          Type = "com.apple.configuration.app.managed"
)

// Kind returns the type's kind: the part after "com.apple.".
func (t Type) Kind() Kind {
	rest, _ := strings.CutPrefix(string(t), "com.apple.")
	k, _, _ := strings.Cut(rest, ".")
	return Kind(k)
}

// MaxIdentifier bounds identifiers and server tokens (Apple: 64 octets).
const MaxIdentifier = 64

// Declaration is one declaration as the device fetches it.
type Declaration struct {
	Type       Type   `json:"Type"`
	Identifier string `json:"Identifier"`
	// ServerToken identifies this revision: a digest of the type,
	// identifier and payload, so that it changes exactly when they do.
	ServerToken string         `json:"ServerToken"`
	Payload     map[string]any `json:"Payload"`
}

// newDeclaration returns a declaration with its server token.
func newDeclaration(t Type, id string, payload map[string]any) Declaration {
	d := Declaration{Type: t, Identifier: id, Payload: payload}
	d.ServerToken = digest(canonical(d))
	return d
}

// canonical is the declaration's content without its token, as JSON
// encodes it: object keys sorted, so that equal content gives equal bytes.
func canonical(d Declaration) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	// Payloads are built from strings, numbers, booleans, maps and
	// slices of them: encoding cannot fail.
	_ = enc.Encode(struct {
		Type       Type
		Identifier string
		Payload    map[string]any
	}{d.Type, d.Identifier, d.Payload})
	return buf.Bytes()
}

// digest is a token: the first 128 bits of a SHA-256, in hex.
func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// JSON returns the declaration as the device fetches it.
func (d Declaration) JSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("declarative: encode %s: %w", d.Identifier, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Set is a device's declarations and their declarations token.
type Set struct {
	// Declarations are ordered by kind, then identifier.
	Declarations []Declaration
	// Token is the declarations token: a digest of every declaration's
	// kind, identifier and server token, so that it changes exactly when
	// the set does.
	Token string
}

// newSet orders ds and computes the token.
func newSet(ds []Declaration) Set {
	slices.SortFunc(ds, func(a, b Declaration) int {
		if c := cmp.Compare(kindRank(a.Type.Kind()), kindRank(b.Type.Kind())); c != 0 {
			return c
		}
		return cmp.Compare(a.Identifier, b.Identifier)
	})
	var b strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&b, "%s %s %s\n", d.Type.Kind(), d.Identifier, d.ServerToken)
	}
	return Set{Declarations: ds, Token: digest([]byte(b.String()))}
}

func kindRank(k Kind) int { return slices.Index(kinds[:], k) }

// Find returns the declaration of kind with identifier id.
func (s Set) Find(kind Kind, id string) (Declaration, bool) {
	for _, d := range s.Declarations {
		if d.Identifier == id && d.Type.Kind() == kind {
			return d, true
		}
	}
	return Declaration{}, false
}

// Items returns the declaration items of the set.
func (s Set) Items() ItemsResponse {
	r := ItemsResponse{DeclarationsToken: s.Token, Declarations: Manifest{
		Activations: []Item{}, Configurations: []Item{}, Assets: []Item{}, Management: []Item{},
	}}
	for _, d := range s.Declarations {
		it := Item{Identifier: d.Identifier, ServerToken: d.ServerToken}
		switch d.Type.Kind() {
		case KindActivation:
			r.Declarations.Activations = append(r.Declarations.Activations, it)
		case KindConfiguration:
			r.Declarations.Configurations = append(r.Declarations.Configurations, it)
		case KindAsset:
			r.Declarations.Assets = append(r.Declarations.Assets, it)
		case KindManagement:
			r.Declarations.Management = append(r.Declarations.Management, it)
		}
	}
	return r
}

// Of returns the declarations of type t.
func (s Set) Of(t Type) []Declaration {
	var out []Declaration
	for _, d := range s.Declarations {
		if d.Type == t {
			out = append(out, d)
		}
	}
	return out
}
