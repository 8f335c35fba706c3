package mdm

import (
	"errors"
	"fmt"

	"github.com/openomm/omm/internal/plistlimit"
)

// Sentinel errors, wrapped with the reason.
var (
	// ErrMalformed: the body is not a well-formed message of its kind (bad
	// plist, missing required key, unknown status), or breaks a limit.
	ErrMalformed = errors.New("mdm: malformed message")
	// ErrUnknownMessage: a check-in message type this package does not know.
	ErrUnknownMessage = errors.New("mdm: unknown check-in message type")
)

// CheckInLimits bounds check-in bodies. They are small: the largest
// legitimate one is a DeclarativeManagement status report.
var CheckInLimits = plistlimit.Limits{MaxSize: 256 << 10, MaxDepth: 16, MaxValues: 4096}

// MessageType names a check-in message.
type MessageType string

// Check-in message types.
const (
	TypeAuthenticate          MessageType = "Authenticate"
	TypeTokenUpdate           MessageType = "TokenUpdate"
	TypeCheckOut              MessageType = "CheckOut"
	TypeUserAuthenticate      MessageType = "UserAuthenticate"
	TypeSetBootstrapToken     MessageType = "SetBootstrapToken"
	TypeGetBootstrapToken     MessageType = "GetBootstrapToken"
	TypeDeclarativeManagement MessageType = "DeclarativeManagement"
	TypeGetToken              MessageType = "GetToken"
)

// Channel says which enrollment a message belongs to: the device channel
// (UDID, or EnrollmentID for a user enrollment) or a user channel on it
// (UserID on macOS, EnrollmentUserID on a user-enrolled device).
type Channel struct {
	UDID             string
	EnrollmentID     string
	UserID           string
	EnrollmentUserID string
	UserShortName    string
	UserLongName     string
}

// Device is the identifier of the device channel: the UDID, or for a user
// enrollment (which hides the UDID) the EnrollmentID.
func (c Channel) Device() string {
	if c.UDID != "" {
		return c.UDID
	}
	return c.EnrollmentID
}

// User is the user channel's identifier, or "" on the device channel.
func (c Channel) User() string {
	if c.UserID != "" {
		return c.UserID
	}
	return c.EnrollmentUserID
}

// IsUserEnrollment reports whether the device was enrolled by the user
// (Apple's User Enrollment): such a device never reveals its UDID.
func (c Channel) IsUserEnrollment() bool { return c.UDID == "" && c.EnrollmentID != "" }

// Message is a decoded check-in message.
type Message interface {
	Type() MessageType
	// From is the channel the message came on.
	From() Channel
}

// Authenticate is the first message of an enrollment.
type Authenticate struct {
	Channel
	Topic        string
	OSVersion    string
	BuildVersion string
	ProductName  string
	SerialNumber string
	DeviceName   string
	Model        string
	ModelName    string
	// IMEI and MEID are sent by cellular devices and deliberately not
	// decoded: the privacy contract excludes network identifiers.
}

// TokenUpdate gives the push token; it repeats whenever the token changes.
type TokenUpdate struct {
	Channel
	Topic                 string
	Token                 []byte
	PushMagic             string
	UnlockToken           []byte
	AwaitingConfiguration bool
	NotOnConsole          bool
}

// CheckOut says the MDM profile was removed (when the profile asked for it).
type CheckOut struct {
	Channel
	Topic string
}

// UserAuthenticate asks to create a user channel (macOS network users).
type UserAuthenticate struct {
	Channel
	DigestResponse string
}

// SetBootstrapToken escrows (or, empty, clears) the bootstrap token.
type SetBootstrapToken struct {
	Channel
	BootstrapToken        []byte
	AwaitingConfiguration bool
}

// GetBootstrapToken asks for the escrowed bootstrap token.
type GetBootstrapToken struct {
	Channel
	AwaitingConfiguration bool
}

// DeclarativeManagement carries declarative device management traffic.
type DeclarativeManagement struct {
	Channel
	Endpoint string
	Data     []byte
}

// GetToken asks the server for a token for a service.
type GetToken struct {
	Channel
	TokenServiceType string
}

func (m *Authenticate) Type() MessageType          { return TypeAuthenticate }
func (m *TokenUpdate) Type() MessageType           { return TypeTokenUpdate }
func (m *CheckOut) Type() MessageType              { return TypeCheckOut }
func (m *UserAuthenticate) Type() MessageType      { return TypeUserAuthenticate }
func (m *SetBootstrapToken) Type() MessageType     { return TypeSetBootstrapToken }
func (m *GetBootstrapToken) Type() MessageType     { return TypeGetBootstrapToken }
func (m *DeclarativeManagement) Type() MessageType { return TypeDeclarativeManagement }
func (m *GetToken) Type() MessageType              { return TypeGetToken }

// From implements Message.
func (c Channel) From() Channel { return c }

// checkInWire is every key of every check-in message the package decodes,
// so that a body is decoded once, whatever its type. Keys not listed (IMEI,
// MEID …) are skipped by the decoder.
type checkInWire struct {
	MessageType           MessageType
	UDID                  string
	EnrollmentID          string
	UserID                string
	EnrollmentUserID      string
	UserShortName         string
	UserLongName          string
	Topic                 string
	OSVersion             string
	BuildVersion          string
	ProductName           string
	SerialNumber          string
	DeviceName            string
	Model                 string
	ModelName             string
	Token                 []byte
	PushMagic             string
	UnlockToken           []byte
	AwaitingConfiguration bool
	NotOnConsole          bool
	DigestResponse        string
	BootstrapToken        []byte
	Endpoint              string
	Data                  []byte
	TokenServiceType      string
}

// ParseCheckIn decodes a check-in body (XML or binary plist) within
// CheckInLimits and checks that the keys its type requires are present.
func ParseCheckIn(body []byte) (Message, error) {
	var w checkInWire
	if err := plistlimit.Unmarshal(body, &w, CheckInLimits); err != nil {
		return nil, fmt.Errorf("%w: check-in: %w", ErrMalformed, err)
	}
	ch := Channel{
		UDID: w.UDID, EnrollmentID: w.EnrollmentID, UserID: w.UserID, EnrollmentUserID: w.EnrollmentUserID,
		UserShortName: w.UserShortName, UserLongName: w.UserLongName,
	}
	var m Message
	var missing []string
	need := func(key string, ok bool) {
		if !ok {
			missing = append(missing, key)
		}
	}
	switch w.MessageType {
	case TypeAuthenticate:
		need("Topic", w.Topic != "")
		m = &Authenticate{Channel: ch, Topic: w.Topic, OSVersion: w.OSVersion, BuildVersion: w.BuildVersion,
			ProductName: w.ProductName, SerialNumber: w.SerialNumber, DeviceName: w.DeviceName, Model: w.Model, ModelName: w.ModelName}
	case TypeTokenUpdate:
		need("Topic", w.Topic != "")
		need("Token", len(w.Token) > 0)
		need("PushMagic", w.PushMagic != "")
		m = &TokenUpdate{Channel: ch, Topic: w.Topic, Token: w.Token, PushMagic: w.PushMagic, UnlockToken: w.UnlockToken,
			AwaitingConfiguration: w.AwaitingConfiguration, NotOnConsole: w.NotOnConsole}
	case TypeCheckOut:
		m = &CheckOut{Channel: ch, Topic: w.Topic}
	case TypeUserAuthenticate:
		need("UserID", w.UserID != "")
		m = &UserAuthenticate{Channel: ch, DigestResponse: w.DigestResponse}
	case TypeSetBootstrapToken:
		m = &SetBootstrapToken{Channel: ch, BootstrapToken: w.BootstrapToken, AwaitingConfiguration: w.AwaitingConfiguration}
	case TypeGetBootstrapToken:
		m = &GetBootstrapToken{Channel: ch, AwaitingConfiguration: w.AwaitingConfiguration}
	case TypeDeclarativeManagement:
		need("Endpoint", w.Endpoint != "")
		m = &DeclarativeManagement{Channel: ch, Endpoint: w.Endpoint, Data: w.Data}
	case TypeGetToken:
		need("TokenServiceType", w.TokenServiceType != "")
		m = &GetToken{Channel: ch, TokenServiceType: w.TokenServiceType}
	case "":
		return nil, fmt.Errorf("%w: check-in without MessageType", ErrMalformed)
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnknownMessage, truncate(string(w.MessageType)))
	}
	need("UDID or EnrollmentID", ch.Device() != "")
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: %s without %v", ErrMalformed, w.MessageType, missing)
	}
	return m, nil
}

// truncate shortens device-supplied text quoted in an error.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
