package profile

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Scope says where macOS installs a profile. iOS ignores it.
type Scope string

// Scopes Apple defines for PayloadScope.
const (
	ScopeSystem Scope = "System"
	ScopeUser   Scope = "User"
)

// Profile is a configuration profile (PayloadType "Configuration"). The
// texts are what the device shows on its Install Profile and Remote
// Management screens, so they should say who asks and why.
type Profile struct {
	// Identifier is the reverse-DNS PayloadIdentifier. A device replaces an
	// installed profile with the same identifier. Required.
	Identifier string
	// UUID is the PayloadUUID; derived from Identifier when empty.
	UUID         string
	DisplayName  string
	Organization string
	Description  string
	// ConsentText maps a BCP 47 language ("en", "de") or "default" to an
	// agreement the user must accept before installing.
	ConsentText map[string]string
	// RemovalDisallowed asks the device to refuse manual removal
	// (honoured on supervised devices only).
	RemovalDisallowed bool
	// Scope is PayloadScope (macOS); empty leaves the key out.
	Scope Scope
	// Payloads are installed in order.
	Payloads []Payload
	// EncryptedContent holds EncryptedPayloadContent of a decoded encrypted
	// profile until Decrypt replaces it with Payloads. Encode ignores it.
	EncryptedContent []byte
}

// Meta holds the keys every payload carries. Type and Version are set by
// the encoder from the payload's kind; Identifier and UUID are derived by
// Add or Encode when left empty.
type Meta struct {
	Type         string `plist:"PayloadType"`
	Version      int    `plist:"PayloadVersion"`
	Identifier   string `plist:"PayloadIdentifier"`
	UUID         string `plist:"PayloadUUID"`
	DisplayName  string `plist:"PayloadDisplayName,omitempty"`
	Description  string `plist:"PayloadDescription,omitempty"`
	Organization string `plist:"PayloadOrganization,omitempty"`
}

func (m *Meta) meta() *Meta { return m }

// Payload is one entry of a profile's PayloadContent. The payload types of
// this package implement it; a type elsewhere can too, by embedding Meta
// and adding PayloadType, and is then encoded from its plist struct tags.
type Payload interface {
	// PayloadType returns Apple's type string, e.g. "com.apple.mdm".
	PayloadType() string
	meta() *Meta
}

// validator is implemented by payloads with rules beyond required keys.
type validator interface {
	validate() error
}

// wirer is implemented by payloads whose plist shape differs from their Go
// shape (their settings sit in a nested PayloadContent dictionary).
type wirer interface {
	wire() any
	unwire(decode func(any) error) error
}

// suffixer gives the identifier suffix for a payload kind.
type suffixer interface {
	suffix() string
}

// Add appends payloads and, for each whose Identifier or UUID is empty,
// derives them from the profile's Identifier and the payload's position
// among payloads of its kind (e.g. "com.example.enroll.scep",
// "com.example.enroll.wifi.2"). It fills them in on the payloads given,
// so a later payload can refer to an earlier one's UUID; set the profile's
// Identifier before calling Add. Add returns p for chaining.
func (p *Profile) Add(payloads ...Payload) *Profile {
	for _, pl := range payloads {
		p.Payloads = append(p.Payloads, pl)
		if p.Identifier != "" && !isNil(pl) {
			p.derive(pl.meta(), pl, len(p.Payloads)-1)
		}
	}
	return p
}

// derive fills in m's Identifier and UUID for the payload at index i.
func (p *Profile) derive(m *Meta, pl Payload, i int) {
	if m.Identifier == "" {
		suffix := kindSuffix(pl)
		n := 1
		for _, prev := range p.Payloads[:i] {
			if !isNil(prev) && kindSuffix(prev) == suffix {
				n++
			}
		}
		m.Identifier = p.Identifier + "." + suffix
		if n > 1 {
			m.Identifier += "." + strconv.Itoa(n)
		}
	}
	if m.UUID == "" {
		m.UUID = nameUUID(p.Identifier, m.Identifier)
	}
}

func kindSuffix(pl Payload) string {
	if s, ok := pl.(suffixer); ok {
		return s.suffix()
	}
	t := pl.PayloadType()
	if i := strings.LastIndexByte(t, '.'); i >= 0 {
		t = t[i+1:]
	}
	return strings.ToLower(strings.ReplaceAll(t, " ", "-"))
}

// normalized returns copies of the payloads with Type, Version, Identifier
// and UUID filled in, and the profile's UUID. The caller's values are not
// modified.
func (p *Profile) normalized() (uuid string, out []Payload, err error) {
	if p.Identifier == "" {
		return "", nil, fmt.Errorf("profile: %w", ErrEmptyIdentifier)
	}
	uuid = p.UUID
	if uuid == "" {
		uuid = nameUUID(p.Identifier)
	}
	out = make([]Payload, len(p.Payloads))
	for i, pl := range p.Payloads {
		if isNil(pl) {
			return "", nil, fmt.Errorf("payload %d: %w: nil payload", i, ErrMissingField)
		}
		c := clone(pl)
		m := c.meta()
		m.Type = c.PayloadType()
		m.Version = 1
		p.derive(m, c, i)
		out[i] = c
	}
	// The MDM payload names the identity it authenticates with. With a
	// single SCEP payload there is only one candidate, so fill it in.
	var identities []string
	for _, pl := range out {
		if s, ok := pl.(*SCEP); ok {
			identities = append(identities, s.UUID)
		}
	}
	for _, pl := range out {
		if m, ok := pl.(*MDM); ok && m.IdentityCertificateUUID == "" && len(identities) == 1 {
			m.IdentityCertificateUUID = identities[0]
		}
	}
	return uuid, out, nil
}

// isNil reports a nil interface or a typed nil pointer.
func isNil(pl Payload) bool {
	if pl == nil {
		return true
	}
	v := reflect.ValueOf(pl)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// clone returns a shallow copy of the value pl points to.
func clone(pl Payload) Payload {
	v := reflect.ValueOf(pl)
	if v.Kind() != reflect.Pointer {
		// A non-pointer implementation cannot exist (meta has a pointer
		// receiver), but keep clone total.
		return pl
	}
	c := reflect.New(v.Elem().Type())
	c.Elem().Set(v.Elem())
	return c.Interface().(Payload)
}

// Validate reports the first problem that would make a device refuse the
// profile, or that this package refuses to encode.
func (p *Profile) Validate() error {
	uuid, payloads, err := p.normalized()
	if err != nil {
		return err
	}
	return p.validate(uuid, payloads)
}

func (p *Profile) validate(uuid string, payloads []Payload) error {
	if len(payloads) == 0 {
		return fmt.Errorf("profile %s: %w", p.Identifier, ErrNoPayloads)
	}
	switch p.Scope {
	case "", ScopeSystem, ScopeUser:
	default:
		return fmt.Errorf("profile %s: %w: scope %q", p.Identifier, ErrInvalidValue, p.Scope)
	}
	uuids := map[string]string{strings.ToUpper(uuid): "the profile"}
	ids := map[string]int{}
	for i, pl := range payloads {
		m := pl.meta()
		where := fmt.Sprintf("payload %d (%s)", i, m.Type)
		if prev, dup := ids[m.Identifier]; dup {
			return fmt.Errorf("%s: %w: %s also used by payload %d", where, ErrDuplicateIdentifier, m.Identifier, prev)
		}
		ids[m.Identifier] = i
		if prev, dup := uuids[strings.ToUpper(m.UUID)]; dup {
			return fmt.Errorf("%s: %w: %s also used by %s", where, ErrDuplicateUUID, m.UUID, prev)
		}
		uuids[strings.ToUpper(m.UUID)] = where
		if v, ok := pl.(validator); ok {
			if err := v.validate(); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
	}
	return nil
}
