package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/openomm/omm/storage"
)

// State is where a session stands in the sign-in state machine:
//
//	password OK ──(MFA required)──▶ StateMFA ──(code OK)──▶ StatePINSetup
//	password OK ──(no MFA)────────────────────────────────▶ StatePINSetup
//	StatePINSetup ──(PIN set and confirmed)──▶ StateActive
//
// An active session whose app was idle longer than the PIN policy's idle
// timeout answers [ErrPINRequired] until the PIN is verified; one whose PIN
// is older than the policy's maximum age answers [ErrPINExpired] until a new
// PIN is set; ten consecutive wrong PINs revoke it ([ErrPINLocked]).
type State string

// Session states.
const (
	StateMFA      State = "mfa_required"
	StatePINSetup State = "pin_setup"
	StateActive   State = "active"
)

func (s State) valid() bool { return s == StateMFA || s == StatePINSetup || s == StateActive }

// Session is a signed-in agent app. The bearer token itself is never
// stored: only its SHA-256 hash, which is the lookup key.
type Session struct {
	Org storage.OrgID
	// ID names the session in audit entries and admin views; unlike the
	// token it is not a credential.
	ID        string
	TokenHash []byte
	UserID    string
	State     State
	// PINHash is the argon2id hash of the agent PIN, empty until one is set.
	PINHash  string
	PINSet   time.Time
	Created  time.Time
	LastUsed time.Time
	// Expires is the absolute end of the session.
	Expires time.Time
	Revoked bool
	Version int64
	// Token is the bearer token when the call returning the session just
	// issued one — the sign-in, and every privilege step (MFA passed, PIN
	// set or verified), which replaces the session's token so that the one
	// that reached the step stops working. Empty otherwise; never stored.
	Token string
}

// Validate checks every field a caller supplies.
func (s Session) Validate() error {
	if err := s.Org.Validate(); err != nil {
		return err
	}
	if err := validateID("session id", s.ID); err != nil {
		return err
	}
	if err := validateID("user id", s.UserID); err != nil {
		return err
	}
	switch {
	case len(s.TokenHash) != sha256.Size:
		return fmt.Errorf("%w: session token hash is %d bytes, want %d", storage.ErrInvalid, len(s.TokenHash), sha256.Size)
	case !s.State.valid():
		return fmt.Errorf("%w: session state %q is unknown", storage.ErrInvalid, s.State)
	case len(s.PINHash) > MaxHashLen:
		return fmt.Errorf("%w: PIN hash is %d bytes, at most %d allowed", storage.ErrInvalid, len(s.PINHash), MaxHashLen)
	case s.Created.IsZero() || !s.Expires.After(s.Created):
		return fmt.Errorf("%w: session must expire after it is created", storage.ErrInvalid)
	case s.PINHash == "" && !s.PINSet.IsZero(), s.PINHash != "" && s.PINSet.IsZero():
		return fmt.Errorf("%w: session PIN hash and PIN time go together", storage.ErrInvalid)
	}
	return nil
}

// Normalize returns s with its times as stores keep them and its hash
// copied.
func (s Session) Normalize() Session {
	s.TokenHash = slices.Clone(s.TokenHash)
	if !s.PINSet.IsZero() {
		s.PINSet = storage.Normalize(s.PINSet)
	}
	s.Created, s.LastUsed, s.Expires = storage.Normalize(s.Created), storage.Normalize(s.LastUsed), storage.Normalize(s.Expires)
	return s
}

// tokenPrefix marks and versions session tokens, so that a token found in a
// log or a bug report is recognizable.
const tokenPrefix = "omm1"

// newToken returns a fresh bearer token for org and its hash. The token
// carries the org, so that the session can be looked up within it; 256
// random bits make it unguessable, and the hash covers the org part too, so
// that editing it only yields an unknown token.
func newToken(org storage.OrgID) (token string, hash []byte) {
	secret := make([]byte, 32)
	rand.Read(secret)
	token = tokenPrefix + "." + base64.RawURLEncoding.EncodeToString([]byte(org)) + "." +
		base64.RawURLEncoding.EncodeToString(secret)
	return token, hashToken(token)
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// maxTokenLen bounds what parseToken reads: prefix, an org ID of at most 64
// bytes and 32 secret bytes, base64url-encoded.
const maxTokenLen = 4 + 1 + 86 + 1 + 43

// parseToken returns the org a token names, or ErrInvalidSession for
// anything that is not a well-formed token.
func parseToken(token string) (storage.OrgID, error) {
	if len(token) > maxTokenLen {
		return "", ErrInvalidSession
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] != tokenPrefix {
		return "", ErrInvalidSession
	}
	org, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || storage.OrgID(org).Validate() != nil {
		return "", ErrInvalidSession
	}
	secret, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(secret) != 32 {
		return "", ErrInvalidSession
	}
	return storage.OrgID(org), nil
}

// TokenOrg returns the org a session token names, without checking that
// the session exists: for naming who knocked (an audit entry of a refused
// request), never for trusting it. ok is false for anything that is not a
// well-formed token.
func TokenOrg(token string) (org storage.OrgID, ok bool) {
	org, err := parseToken(token)
	return org, err == nil
}

// newID returns a random identifier with the given prefix and 128 bits of
// entropy.
func newID(prefix string) string {
	return prefix + "_" + strings.ToLower(rand.Text())
}
