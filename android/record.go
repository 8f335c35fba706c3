package android

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// Limits on stored fields.
const (
	MaxUserIDLen       = inventory.MaxUserIDLen
	MaxProviderNameLen = 512
	MaxDetailLen       = 1000
)

// Token is an enrollment token as stored. Its secret is never stored: ID is
// the hex SHA-256 of it, so a token is looked up by hashing what the device
// presents.
type Token struct {
	ID     string
	Org    storage.OrgID
	UserID string
	Policy policy.ID
	// Mode, Type and Ownership are the enrollment plan the token was
	// issued for.
	Mode      policy.Mode
	Type      inventory.EnrollmentType
	Ownership inventory.Ownership
	// Requirements are the decision's effective requirements, applied to
	// the device that enrolls with the token.
	Requirements policy.Requirements
	OneTime      bool
	// Uses counts enrollments made with the token.
	Uses    int
	Expires time.Time
	// ProviderPolicy is the Android Management API policy name the device
	// gets (work profile and fully managed only).
	ProviderPolicy string
	Created        time.Time
	// MaxOpen, when positive, limits the tokens its user may hold open:
	// Store.CreateAndroidToken refuses the new one when the user holds
	// MaxOpen already. It is not stored.
	MaxOpen int
}

// Device is the Android side of one enrollment; the registry record with
// the same ID is the inventory's.
type Device struct {
	ID        string
	Org       storage.OrgID
	UserID    string
	Policy    policy.ID
	Mode      policy.Mode
	Type      inventory.EnrollmentType
	Ownership inventory.Ownership
	TokenID   string
	// Requirements are those the device was enrolled under.
	Requirements policy.Requirements
	// CredentialHash is the SHA-256 of the agent credential's secret. On
	// the Android Management API channel it is empty until the agent in the
	// work profile is given a credential for status reports
	// (Service.IssueStatusCredential).
	CredentialHash []byte
	// ProviderName is the Android Management API device name
	// ("enterprises/e/devices/d"); empty on the agent channel.
	ProviderName   string
	ProviderPolicy string
	Created        time.Time
}

// Channel returns the channel the device is managed through.
func (d Device) Channel() Channel {
	if d.Type == inventory.EnrollAndroidWorkProfile || d.Type == inventory.EnrollAndroidFullyManaged {
		return ChannelAMAPI
	}
	return ChannelAgent
}

// HashSecret returns the SHA-256 of a token or credential secret.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// TokenID returns the ID of the token whose secret this is.
func TokenID(secret string) string { return hex.EncodeToString(HashSecret(secret)) }

// Validate checks every field a caller supplies; errors wrap
// storage.ErrInvalid.
func (t Token) Validate() error {
	if len(t.ID) != 64 || !isLowerHex(t.ID) {
		return fmt.Errorf("%w: token id must be 64 lower-case hex digits", storage.ErrInvalid)
	}
	if err := t.Org.Validate(); err != nil {
		return err
	}
	if err := checkEnrollment(t.UserID, t.Policy, t.Mode, t.Type, t.Ownership); err != nil {
		return err
	}
	if t.Uses < 0 {
		return fmt.Errorf("%w: token uses %d", storage.ErrInvalid, t.Uses)
	}
	if t.Expires.IsZero() {
		return fmt.Errorf("%w: token has no expiry", storage.ErrInvalid)
	}
	return checkText("provider policy", t.ProviderPolicy, MaxProviderNameLen)
}

// Normalize returns t as stores keep it.
func (t Token) Normalize() Token {
	t.MaxOpen = 0
	t.Expires = storage.Normalize(t.Expires)
	t.Created = storage.Normalize(t.Created)
	return t
}

// Validate checks every field a caller supplies; errors wrap
// storage.ErrInvalid.
func (d Device) Validate() error {
	if err := checkText("device id", d.ID, inventory.MaxDeviceIDLen); err != nil || d.ID == "" {
		return fmt.Errorf("%w: device id must be 1–%d characters", storage.ErrInvalid, inventory.MaxDeviceIDLen)
	}
	if err := d.Org.Validate(); err != nil {
		return err
	}
	if err := checkEnrollment(d.UserID, d.Policy, d.Mode, d.Type, d.Ownership); err != nil {
		return err
	}
	if d.TokenID != "" && (len(d.TokenID) != 64 || !isLowerHex(d.TokenID)) {
		return fmt.Errorf("%w: token id must be 64 lower-case hex digits", storage.ErrInvalid)
	}
	switch d.Channel() {
	case ChannelAgent:
		if len(d.CredentialHash) != sha256.Size || d.ProviderName != "" {
			return fmt.Errorf("%w: an agent device needs a 32-byte credential hash and no provider name", storage.ErrInvalid)
		}
	case ChannelAMAPI:
		// The credential is optional: it is issued later, for our agent's
		// status reports from inside the work profile.
		if (len(d.CredentialHash) != 0 && len(d.CredentialHash) != sha256.Size) || d.ProviderName == "" {
			return fmt.Errorf("%w: a managed device needs a provider name, and a credential hash of 32 bytes if any", storage.ErrInvalid)
		}
	}
	if err := checkText("provider name", d.ProviderName, MaxProviderNameLen); err != nil {
		return err
	}
	return checkText("provider policy", d.ProviderPolicy, MaxProviderNameLen)
}

// Normalize returns d as stores keep it.
func (d Device) Normalize() Device {
	d.Created = storage.Normalize(d.Created)
	if len(d.CredentialHash) == 0 {
		d.CredentialHash = nil
	} else {
		d.CredentialHash = append([]byte(nil), d.CredentialHash...)
	}
	return d
}

func checkEnrollment(user string, p policy.ID, m policy.Mode, t inventory.EnrollmentType, o inventory.Ownership) error {
	if user == "" || len(user) > MaxUserIDLen || !utf8.ValidString(user) {
		return fmt.Errorf("%w: user id must be 1–%d bytes of UTF-8", storage.ErrInvalid, MaxUserIDLen)
	}
	if err := p.Validate(); err != nil {
		return err
	}
	want := map[inventory.EnrollmentType]policy.Mode{
		inventory.EnrollAndroidWorkProfile:  policy.ModeWorkProfile,
		inventory.EnrollAndroidFullyManaged: policy.ModeWorkProfile,
		inventory.EnrollAndroidKnox:         policy.ModeKnox,
		inventory.EnrollAndroidDeviceAdmin:  policy.ModeDeviceAdmin,
	}
	mode, ok := want[t]
	if !ok || mode != m {
		return fmt.Errorf("%w: enrollment type %q does not go with mode %q", storage.ErrInvalid, t, m)
	}
	if o != inventory.OwnershipCompany && o != inventory.OwnershipPersonal {
		return fmt.Errorf("%w: unknown ownership %q", storage.ErrInvalid, o)
	}
	if t == inventory.EnrollAndroidFullyManaged && o != inventory.OwnershipCompany {
		return fmt.Errorf("%w: a fully managed device is company-owned", storage.ErrInvalid)
	}
	return nil
}

func checkText(what, s string, max int) error {
	if len(s) > max || !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s must be at most %d bytes of UTF-8", storage.ErrInvalid, what, max)
	}
	return nil
}

func validUTF8(s string) bool { return utf8.ValidString(s) }

func isLowerHex(s string) bool {
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
