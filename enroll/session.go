package enroll

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// SessionKind says how a session delivers the MDM profile.
type SessionKind string

// Session kinds.
const (
	// KindOTA: the iOS over-the-air profile service, phases 1 to 3.
	KindOTA SessionKind = "ota"
	// KindDirect: one signed .mobileconfig with SCEP and MDM payloads, for
	// macOS and simulators.
	KindDirect SessionKind = "direct"
)

// Phase is how far an enrollment session has come. A session only moves
// forward, one step at a time (see CheckPhase); every step but the last
// consumes the session's current challenge and issues the next one.
type Phase string

// Phases, in order. OTA sessions pass through every one; direct sessions
// go from PhaseCreated straight to PhaseProfileSent.
const (
	// PhaseCreated: the session's token awaits the download of the first
	// profile.
	PhaseCreated Phase = "created"
	// PhaseServiceSent: the Profile Service document (OTA phase 1) was
	// served; its challenge awaits the device's signed attributes.
	PhaseServiceSent Phase = "service_sent"
	// PhaseAttributesReceived: phase 2 verified; the SCEP challenge of the
	// OTA identity awaits the device's certificate request.
	PhaseAttributesReceived Phase = "attributes_received"
	// PhaseOTAIdentity: the OTA identity was issued; phase 3 must be signed
	// by it.
	PhaseOTAIdentity Phase = "ota_identity"
	// PhaseProfileSent: the MDM enrollment profile was delivered; its SCEP
	// challenge awaits the request for the MDM identity.
	PhaseProfileSent Phase = "profile_sent"
	// PhaseEnrolled: the MDM identity was issued; MDM check-in takes over.
	PhaseEnrolled Phase = "enrolled"
)

// phaseNext lists the steps a session may take.
var phaseNext = map[Phase][]Phase{
	PhaseCreated:            {PhaseServiceSent, PhaseProfileSent},
	PhaseServiceSent:        {PhaseAttributesReceived},
	PhaseAttributesReceived: {PhaseOTAIdentity},
	PhaseOTAIdentity:        {PhaseProfileSent},
	PhaseProfileSent:        {PhaseEnrolled},
}

// ErrPhase reports a session step that does not follow from where the
// session stands (a replayed or out-of-order request).
var ErrPhase = errors.New("enrollment session is not at that step")

// CheckPhase reports whether a session of kind may move from one phase to
// the next, wrapping ErrPhase and storage.ErrConflict when it may not: a
// store that finds the phase moved under it refuses the write, and a second
// use of a challenge is always such a move.
func CheckPhase(kind SessionKind, from, to Phase) error {
	ok := false
	for _, p := range phaseNext[from] {
		ok = ok || p == to
	}
	if kind == KindDirect && (to == PhaseServiceSent || from == PhaseCreated && to != PhaseProfileSent) {
		ok = false
	}
	if kind == KindOTA && from == PhaseCreated && to != PhaseServiceSent {
		ok = false
	}
	if kind == KindRenewal && (from != PhaseProfileSent || to != PhaseEnrolled) {
		ok = false
	}
	if !ok {
		return fmt.Errorf("%w: %s session cannot go from %q to %q: %w", ErrPhase, kind, from, to, storage.ErrConflict)
	}
	return nil
}

// Limits of a session record.
const (
	// DefaultMaxOpenSessions is how many open enrollment sessions (not
	// enrolled, unexpired) one user may hold at once unless configured
	// otherwise (Session.MaxOpen): enough for a few devices and retries,
	// not for a flood of sessions.
	DefaultMaxOpenSessions = 10
	MaxSessionAttributes   = 16
	MaxAttributeValue      = 256
	MaxUserID              = storage.MaxIDLen
)

// Session is one enrollment of one device by one signed-in user, from the
// policy decision to the issued MDM identity. Only a hash of its current
// challenge is kept; the challenge itself is handed out once.
type Session struct {
	Org  storage.OrgID
	ID   string
	Kind SessionKind
	// UserID and Policy come from the sign-in and the policy decision
	// (Outcome Enroll) that allowed the enrollment.
	UserID       string
	Policy       policy.ID
	Requirements policy.Requirements
	// Platform is the platform of the policy decision; the identity
	// issued at the end carries it (Identity.Platform). Empty for sessions
	// stored before it was kept.
	Platform policy.Platform
	Phase    Phase
	// ChallengeHash is the SHA-256 of the current challenge's secret, nil
	// when no challenge is outstanding.
	ChallengeHash []byte
	// Expires bounds the current step: its challenge, or for
	// PhaseOTAIdentity the phase 3 post.
	Expires time.Time
	// UDID and Attributes are what phase 2 reported, after the privacy
	// filter: Attributes maps inventory keys to values.
	UDID       string
	Attributes map[string]string
	// Identity is the fingerprint of the last certificate issued for the
	// session.
	Identity Fingerprint
	// Renews is, for a KindRenewal session, the identity the session's
	// certificate renews; empty for every other kind.
	Renews Fingerprint
	// IssuedBy names the administrator who issued the session (a
	// pre-staged profile); empty for a user's own. Issued and renewal
	// sessions do not count against the user's cap (MaxOpen).
	IssuedBy string
	Version  int64
	Created  time.Time
	Updated  time.Time
	// MaxOpen, when positive, limits the sessions its user may hold open:
	// CreateEnrollSession refuses the new one when the user holds MaxOpen
	// already. It is not stored.
	MaxOpen int
}

// Validate checks the session's fields.
func (s Session) Validate() error {
	switch {
	case s.Org.Validate() != nil:
		return s.Org.Validate()
	case !validSessionID(s.ID):
		return fmt.Errorf("%w: session ID must be %d lowercase hex digits", storage.ErrInvalid, sessionIDLen*2)
	case s.Kind != KindOTA && s.Kind != KindDirect && s.Kind != KindRenewal:
		return fmt.Errorf("%w: session kind %q", storage.ErrInvalid, s.Kind)
	case (s.Kind == KindRenewal) != (s.Renews != ""):
		return fmt.Errorf("%w: a renewal session, and only one, names the identity it renews", storage.ErrInvalid)
	case s.Renews != "" && s.Renews.Validate() != nil:
		return s.Renews.Validate()
	case len(s.IssuedBy) > storage.MaxActorLen:
		return fmt.Errorf("%w: issuer longer than %d bytes", storage.ErrInvalid, storage.MaxActorLen)
	case s.UserID == "" || len(s.UserID) > MaxUserID:
		return fmt.Errorf("%w: user ID must be 1-%d bytes", storage.ErrInvalid, MaxUserID)
	case s.Policy.Validate() != nil:
		return fmt.Errorf("%w: policy: %w", storage.ErrInvalid, s.Policy.Validate())
	case s.Platform != "" && s.Platform.Validate() != nil:
		return s.Platform.Validate()
	case s.Phase != PhaseEnrolled && phaseNext[s.Phase] == nil:
		return fmt.Errorf("%w: phase %q", storage.ErrInvalid, s.Phase)
	case s.ChallengeHash != nil && len(s.ChallengeHash) != sha256.Size:
		return fmt.Errorf("%w: challenge hash must be %d bytes", storage.ErrInvalid, sha256.Size)
	case s.Expires.IsZero():
		return fmt.Errorf("%w: session without expiry", storage.ErrInvalid)
	case len(s.UDID) > MaxAttributeValue:
		return fmt.Errorf("%w: UDID longer than %d bytes", storage.ErrInvalid, MaxAttributeValue)
	case len(s.Attributes) > MaxSessionAttributes:
		return fmt.Errorf("%w: %d attributes, at most %d", storage.ErrInvalid, len(s.Attributes), MaxSessionAttributes)
	case s.Identity != "" && s.Identity.Validate() != nil:
		return s.Identity.Validate()
	}
	for k, v := range s.Attributes {
		if k == "" || len(k) > 64 || len(v) > MaxAttributeValue {
			return fmt.Errorf("%w: attribute %q too long", storage.ErrInvalid, k)
		}
	}
	return nil
}

// SessionStore keeps enrollment sessions. Every method is safe for
// concurrent use; a session of another org is ErrNotFound.
type SessionStore interface {
	// CreateEnrollSession stores a new session with entry, in one
	// transaction, and returns it as stored (Version 1, Created and
	// Updated from entry). An ID already used yields ErrAlreadyExists;
	// with s.MaxOpen set, a user who already holds that many sessions open
	// at entry.Time (not enrolled, unexpired) yields storage.ErrLimit, also
	// when the sessions are created concurrently.
	CreateEnrollSession(ctx context.Context, s Session, entry storage.AuditEntry) (Session, error)
	// EnrollSession returns the org's session, or ErrNotFound.
	EnrollSession(ctx context.Context, org storage.OrgID, id string) (Session, error)
	// AdvanceEnrollSession moves the session one step (CheckPhase) and
	// replaces its challenge hash, expiry, UDID, attributes and identity
	// with s's, appending entry, in one transaction. s.Version must be the
	// stored version, else ErrConflict and nothing changes: of two requests
	// presenting the same challenge, exactly one succeeds. When issued is
	// not nil, the identity is recorded in the same transaction (as
	// IdentityStore.RecordIdentity would), so that a certificate is never
	// issued without its session step, nor the reverse.
	AdvanceEnrollSession(ctx context.Context, s Session, issued *Identity, entry storage.AuditEntry) (Session, error)
}

// Validate checks the identity's fields.
func (id Identity) Validate() error {
	switch {
	case id.Org.Validate() != nil:
		return id.Org.Validate()
	case id.Fingerprint.Validate() != nil:
		return id.Fingerprint.Validate()
	case id.Serial == "" || len(id.Serial) > 64:
		return fmt.Errorf("%w: serial must be 1-64 hex digits", storage.ErrInvalid)
	case !validSessionID(id.Session):
		return fmt.Errorf("%w: identity without a valid session", storage.ErrInvalid)
	case id.UserID == "" || len(id.UserID) > MaxUserID:
		return fmt.Errorf("%w: user ID must be 1-%d bytes", storage.ErrInvalid, MaxUserID)
	case len(id.Device) > MaxDeviceID:
		return fmt.Errorf("%w: device ID longer than %d bytes", storage.ErrInvalid, MaxDeviceID)
	case id.Issued.IsZero() || !id.NotAfter.After(id.Issued):
		return fmt.Errorf("%w: identity must expire after it is issued", storage.ErrInvalid)
	case id.Renews != "" && id.Renews.Validate() != nil:
		return id.Renews.Validate()
	case id.Purpose != PurposeMDM && id.Purpose != PurposeOTA:
		return fmt.Errorf("%w: identity purpose %q", storage.ErrInvalid, id.Purpose)
	case len(id.AttestedUDID) > MaxAttributeValue:
		return fmt.Errorf("%w: UDID longer than %d bytes", storage.ErrInvalid, MaxAttributeValue)
	case id.Platform != "" && id.Platform.Validate() != nil:
		return id.Platform.Validate()
	}
	for _, c := range []byte(id.Serial) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fmt.Errorf("%w: serial must be lowercase hex", storage.ErrInvalid)
		}
	}
	return nil
}

const (
	sessionIDLen   = 16 // bytes, hex encoded
	secretLen      = 32 // bytes: 256 bits, base64url encoded
	challengeSplit = "."
)

func validSessionID(id string) bool {
	if len(id) != sessionIDLen*2 {
		return false
	}
	for _, c := range []byte(id) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// NewSessionID returns a random session ID.
func NewSessionID() string {
	b := make([]byte, sessionIDLen)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// ErrChallenge reports a challenge or token that is unknown, expired,
// already used, or for another session, user or org. Its message never says
// which, so that a guesser learns nothing.
var ErrChallenge = errors.New("enrollment challenge not valid")

// NewChallenge returns a fresh single-use challenge for the session with
// ID id, and the hash to store. The challenge names its session, so that it
// can be checked without searching, and carries 256 random bits.
func NewChallenge(id string) (challenge string, hash []byte) {
	secret := make([]byte, secretLen)
	_, _ = rand.Read(secret)
	enc := base64.RawURLEncoding.EncodeToString(secret)
	sum := sha256.Sum256([]byte(enc))
	return id + challengeSplit + enc, sum[:]
}

// ChallengeSession returns the session ID a challenge names, or ErrChallenge
// when it is not shaped like one.
func ChallengeSession(challenge string) (string, error) {
	id, secret, ok := strings.Cut(challenge, challengeSplit)
	if !ok || !validSessionID(id) || base64.RawURLEncoding.DecodedLen(len(secret)) != secretLen {
		return "", fmt.Errorf("%w: malformed", ErrChallenge)
	}
	return id, nil
}

// CheckChallenge reports whether challenge is the session's outstanding
// challenge for phase at now, comparing hashes in constant time. Every
// failure wraps ErrChallenge.
func (s Session) CheckChallenge(challenge string, phase Phase, now time.Time) error {
	id, err := ChallengeSession(challenge)
	if err != nil {
		return err
	}
	_, secret, _ := strings.Cut(challenge, challengeSplit)
	sum := sha256.Sum256([]byte(secret))
	// Compare everything before reporting, so that the reason does not
	// show in the timing.
	match := subtle.ConstantTimeCompare(sum[:], s.ChallengeHash) == 1 && len(s.ChallengeHash) == sha256.Size
	switch {
	case id != s.ID || !match:
		return fmt.Errorf("%w: not this session's challenge", ErrChallenge)
	case s.Phase != phase:
		return fmt.Errorf("%w: already used", ErrChallenge)
	case !now.Before(s.Expires):
		return fmt.Errorf("%w: expired", ErrChallenge)
	}
	return nil
}
