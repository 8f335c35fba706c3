package profile

import (
	"crypto"
	"crypto/x509"
	"fmt"

	"github.com/openomm/omm/internal/cms"
	"github.com/openomm/omm/internal/plistlimit"
)

// DecodeOption adjusts the limits Decode applies to outside input.
type DecodeOption func(*decodeConfig)

type decodeConfig struct {
	lim plistlimit.Limits
}

// WithMaxSize bounds the input length in bytes (default 4 MiB).
func WithMaxSize(n int) DecodeOption { return func(c *decodeConfig) { c.lim.MaxSize = n } }

// WithMaxDepth bounds the nesting of plist elements (default 32).
func WithMaxDepth(n int) DecodeOption { return func(c *decodeConfig) { c.lim.MaxDepth = n } }

// WithMaxValues bounds the number of plist values (default 65536).
func WithMaxValues(n int) DecodeOption { return func(c *decodeConfig) { c.lim.MaxValues = n } }

func limits(opts []DecodeOption) plistlimit.Limits {
	var c decodeConfig
	for _, o := range opts {
		o(&c)
	}
	return c.lim
}

type profileDecode struct {
	header
	Content []rawPayload `plist:"PayloadContent"`
}

// rawPayload decodes one payload dictionary into the type its PayloadType
// names, or into Unknown.
type rawPayload struct {
	p Payload
}

func (r *rawPayload) UnmarshalPlist(decode func(any) error) error {
	var m struct {
		Type string `plist:"PayloadType"`
	}
	if err := decode(&m); err != nil {
		return err
	}
	pl := newPayload(m.Type)
	var err error
	if w, ok := pl.(wirer); ok {
		err = w.unwire(decode)
	} else {
		err = decode(pl)
	}
	if err != nil {
		return fmt.Errorf("payload %s: %w", m.Type, err)
	}
	r.p = pl
	return nil
}

func newPayload(typ string) Payload {
	switch typ {
	case TypeSCEP:
		return &SCEP{}
	case TypeMDM:
		return &MDM{}
	case TypeRootCertificate:
		return &RootCertificate{}
	case TypeCertificate:
		return &Certificate{}
	case TypePasscode:
		return &Passcode{}
	case TypeRestrictions:
		return &Restrictions{}
	case TypeExchange:
		return &Exchange{}
	case TypeMail:
		return &Mail{}
	case TypeWiFi:
		return &WiFi{}
	case TypeVPN:
		return &VPN{}
	case TypeWebClip:
		return &WebClip{}
	default:
		return &Unknown{}
	}
}

// Decode parses a configuration profile (XML or binary plist, unsigned)
// into the typed model. Input is checked against size, depth and value
// limits before decoding; failures wrap ErrDecode. Payloads of types this
// package does not model come back as *Unknown. The result is not
// validated: call Validate to apply the encoder's rules. An encrypted
// profile comes back with EncryptedContent set; see Decrypt.
func Decode(data []byte, opts ...DecodeOption) (*Profile, error) {
	var w profileDecode
	if err := plistlimit.Unmarshal(data, &w, limits(opts)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDecode, err)
	}
	if w.Type != TypeConfiguration {
		return nil, fmt.Errorf("%w: PayloadType %q", ErrNotConfiguration, w.Type)
	}
	p := &Profile{
		Identifier:        w.Identifier,
		UUID:              w.UUID,
		DisplayName:       w.DisplayName,
		Organization:      w.Organization,
		Description:       w.Description,
		ConsentText:       w.ConsentText,
		RemovalDisallowed: w.RemovalDisallowed,
		Scope:             Scope(w.Scope),
		EncryptedContent:  w.EncryptedContent,
	}
	for _, r := range w.Content {
		p.Payloads = append(p.Payloads, r.p)
	}
	return p, nil
}

// DecodeService parses a Profile Service document.
func DecodeService(data []byte, opts ...DecodeOption) (*Service, error) {
	var w serviceWire
	if err := plistlimit.Unmarshal(data, &w, limits(opts)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDecode, err)
	}
	if w.Type != TypeService {
		return nil, fmt.Errorf("%w: PayloadType %q, want %q", ErrNotConfiguration, w.Type, TypeService)
	}
	s := w.Content
	s.Meta = w.Meta
	return &s, nil
}

// Decrypt opens EncryptedContent with the device's certificate and key
// (what the device does in OTA phase 3) and replaces it with the decoded
// payloads. The decrypted plist is held to the same limits as Decode.
func (p *Profile) Decrypt(cert *x509.Certificate, key crypto.Decrypter, opts ...DecodeOption) error {
	if len(p.EncryptedContent) == 0 {
		return fmt.Errorf("profile %s: %w", p.Identifier, ErrNotEncrypted)
	}
	plain, err := cms.Decrypt(p.EncryptedContent, cert, key)
	if err != nil {
		return fmt.Errorf("profile %s: decrypt: %w", p.Identifier, err)
	}
	var raw []rawPayload
	if err := plistlimit.Unmarshal(plain, &raw, limits(opts)); err != nil {
		return fmt.Errorf("profile %s: %w: %w", p.Identifier, ErrDecode, err)
	}
	p.Payloads = p.Payloads[:0]
	for _, r := range raw {
		p.Payloads = append(p.Payloads, r.p)
	}
	p.EncryptedContent = nil
	return nil
}
