package profile

import (
	"crypto/x509"
	"fmt"
	"reflect"

	"github.com/micromdm/plist"

	"github.com/openomm/omm/internal/cms"
)

// TypeConfiguration is the PayloadType of a configuration profile.
const TypeConfiguration = "Configuration"

// header is the top-level dictionary of a configuration profile without
// its content, shared by encoding and decoding.
type header struct {
	Type              string            `plist:"PayloadType"`
	Version           int               `plist:"PayloadVersion"`
	Identifier        string            `plist:"PayloadIdentifier"`
	UUID              string            `plist:"PayloadUUID"`
	DisplayName       string            `plist:"PayloadDisplayName,omitempty"`
	Description       string            `plist:"PayloadDescription,omitempty"`
	Organization      string            `plist:"PayloadOrganization,omitempty"`
	ConsentText       map[string]string `plist:"ConsentText,omitempty"`
	RemovalDisallowed bool              `plist:"PayloadRemovalDisallowed,omitempty"`
	Scope             string            `plist:"PayloadScope,omitempty"`
	IsEncrypted       bool              `plist:"IsEncrypted,omitempty"`
	EncryptedContent  []byte            `plist:"EncryptedPayloadContent,omitempty"`
}

type profileWire struct {
	header
	Content []any `plist:"PayloadContent,omitempty"`
}

// Encode validates the profile and returns it as an XML property list.
// Encoding the same profile twice gives the same bytes.
func (p *Profile) Encode() ([]byte, error) {
	h, content, err := p.prepare()
	if err != nil {
		return nil, err
	}
	return marshal(profileWire{header: h, Content: content})
}

// EncodeEncrypted is Encode for OTA phase 3: the PayloadContent array is
// encoded on its own, enveloped with AES-256-CBC to the recipients (the
// device's identity certificate, which must hold an RSA key) and carried
// as EncryptedPayloadContent. The profile texts stay readable so the
// device can show them before it decrypts.
func (p *Profile) EncodeEncrypted(recipients ...*x509.Certificate) ([]byte, error) {
	if len(recipients) == 0 {
		return nil, fmt.Errorf("profile %s: encrypt: %w", p.Identifier, ErrNoCertificate)
	}
	h, content, err := p.prepare()
	if err != nil {
		return nil, err
	}
	inner, err := marshal(content)
	if err != nil {
		return nil, err
	}
	env, err := cms.EncryptAES(inner, recipients)
	if err != nil {
		return nil, fmt.Errorf("profile %s: encrypt: %w", p.Identifier, err)
	}
	h.IsEncrypted = true
	h.EncryptedContent = env
	return marshal(profileWire{header: h})
}

// prepare normalizes and validates, and returns the header and the wire
// form of each payload.
func (p *Profile) prepare() (header, []any, error) {
	uuid, payloads, err := p.normalized()
	if err != nil {
		return header{}, nil, err
	}
	if err := p.validate(uuid, payloads); err != nil {
		return header{}, nil, err
	}
	h := header{
		Type:              TypeConfiguration,
		Version:           1,
		Identifier:        p.Identifier,
		UUID:              uuid,
		DisplayName:       p.DisplayName,
		Description:       p.Description,
		Organization:      p.Organization,
		ConsentText:       p.ConsentText,
		RemovalDisallowed: p.RemovalDisallowed,
		Scope:             string(p.Scope),
	}
	content := make([]any, len(payloads))
	for i, pl := range payloads {
		content[i] = wireValue(pl)
	}
	return h, content, nil
}

// wireValue returns what the plist encoder should see for pl: its custom
// shape, or the struct itself (not a pointer, which the encoder rejects
// inside an interface slice).
func wireValue(pl Payload) any {
	if w, ok := pl.(wirer); ok {
		return w.wire()
	}
	return reflect.ValueOf(pl).Elem().Interface()
}

func marshal(v any) ([]byte, error) {
	b, err := plist.MarshalIndent(v, "\t")
	if err != nil {
		return nil, fmt.Errorf("profile: encode: %w", err)
	}
	return b, nil
}
