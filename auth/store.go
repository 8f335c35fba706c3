package auth

import (
	"context"
	"encoding/base32"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/seal"
)

// Limits on stored fields.
const (
	MaxIDLen          = storage.MaxIDLen
	MaxUsernameLen    = 128
	MaxDisplayNameLen = 200
	MaxEmailLen       = 254
	MaxGroupNameLen   = 200
	MaxHashLen        = 512 // an encoded argon2id hash with generous room
)

// Status is whether a user may sign in.
type Status string

// User statuses.
const (
	StatusActive      Status = "active"
	StatusDeactivated Status = "deactivated"
)

// User is a person in an org's directory, as every consumer sees it.
type User struct {
	Org storage.OrgID
	// ID is the directory's stable identifier; Username may change.
	ID string
	// Username is what the person types to sign in, in the directory's
	// canonical form (the built-in directory lowercases it).
	Username    string
	DisplayName string
	Email       string
	// Phone is the directory's phone number in E.164 form ("+4915112345678"),
	// or empty. It is the only phone number the SDK ever uses: SMS and voice
	// codes go to it, and inventory reports it (never queried from a device).
	Phone  string
	Status Status
}

// Group is a set of users in an org. Policies and app assignments target
// groups by ID.
type Group struct {
	Org  storage.OrgID
	ID   string
	Name string
}

// UserRecord is a user as the built-in directory stores it.
type UserRecord struct {
	User
	// PasswordHash is an encoded argon2id hash (see [Params]), or empty when
	// no password is set: such a user cannot sign in.
	PasswordHash string
	// Version counts changes: 1 after creation, +1 per update.
	Version int64
	Created time.Time
	Updated time.Time
}

// Validate checks every field a caller supplies (Version and the times are
// set by the store).
func (u UserRecord) Validate() error {
	if err := u.Org.Validate(); err != nil {
		return err
	}
	if err := validateID("user id", u.ID); err != nil {
		return err
	}
	if err := ValidateUsername(u.Username); err != nil {
		return err
	}
	if err := validateText("user display name", u.DisplayName, MaxDisplayNameLen); err != nil {
		return err
	}
	if err := validateText("user email", u.Email, MaxEmailLen); err != nil {
		return err
	}
	if u.Email != "" && (!strings.Contains(u.Email, "@") || strings.ContainsAny(u.Email, " \t")) {
		return fmt.Errorf("%w: user email %q is not an address", storage.ErrInvalid, u.Email)
	}
	if err := ValidatePhone(u.Phone); err != nil {
		return err
	}
	if u.Status != StatusActive && u.Status != StatusDeactivated {
		return fmt.Errorf("%w: user status %q: want %q or %q", storage.ErrInvalid, u.Status, StatusActive, StatusDeactivated)
	}
	if len(u.PasswordHash) > MaxHashLen {
		return fmt.Errorf("%w: password hash is %d bytes, at most %d allowed", storage.ErrInvalid, len(u.PasswordHash), MaxHashLen)
	}
	return nil
}

// Normalize returns u with its times as stores keep them.
func (u UserRecord) Normalize() UserRecord {
	u.Created, u.Updated = storage.Normalize(u.Created), storage.Normalize(u.Updated)
	return u
}

// ValidateUsername reports whether name is a canonical username: 1–128
// characters of valid UTF-8, lowercase, without spaces or control characters.
func ValidateUsername(name string) error {
	if name == "" {
		return fmt.Errorf("%w: username is empty", storage.ErrInvalid)
	}
	if len(name) > MaxUsernameLen {
		return fmt.Errorf("%w: username is %d bytes, at most %d allowed", storage.ErrInvalid, len(name), MaxUsernameLen)
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: username is not valid UTF-8", storage.ErrInvalid)
	}
	if strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return fmt.Errorf("%w: username contains a space or control character", storage.ErrInvalid)
	}
	if strings.ToLower(name) != name {
		return fmt.Errorf("%w: username %q is not lowercase", storage.ErrInvalid, name)
	}
	return nil
}

// ValidatePhone reports whether p is empty or an E.164 number: '+' and
// 7–15 digits.
func ValidatePhone(p string) error {
	if p == "" {
		return nil
	}
	ok := len(p) >= 8 && len(p) <= 16 && p[0] == '+' && p[1] != '0'
	for i := 1; ok && i < len(p); i++ {
		ok = p[i] >= '0' && p[i] <= '9'
	}
	if !ok {
		return fmt.Errorf("%w: phone %q: want E.164, '+' and 7–15 digits", storage.ErrInvalid, p)
	}
	return nil
}

// Validate checks the group's fields.
func (g Group) Validate() error {
	if err := g.Org.Validate(); err != nil {
		return err
	}
	if err := validateID("group id", g.ID); err != nil {
		return err
	}
	if g.Name == "" {
		return fmt.Errorf("%w: group name is empty", storage.ErrInvalid)
	}
	return validateText("group name", g.Name, MaxGroupNameLen)
}

// SignOn is an org's sign-on rule: whether MFA is required, and the agent
// PIN policy.
type SignOn struct {
	Org         storage.OrgID
	MFARequired bool
	PIN         PINPolicy
	// Version is 0 for the defaults of an org that never stored its rule,
	// and counts stored changes otherwise.
	Version int64
	Updated time.Time
}

// DefaultSignOn is the rule of an org that stored none: no MFA, and
// [DefaultPINPolicy].
func DefaultSignOn(org storage.OrgID) SignOn {
	return SignOn{Org: org, PIN: DefaultPINPolicy()}
}

// Validate checks the rule's fields.
func (s SignOn) Validate() error {
	if err := s.Org.Validate(); err != nil {
		return err
	}
	return s.PIN.Validate()
}

// Normalize returns s with its time as stores keep it.
func (s SignOn) Normalize() SignOn {
	s.Updated = storage.Normalize(s.Updated)
	return s
}

// TOTPFactor is a user's authenticator-app secret. The secret is a
// credential: it never appears in logs or audit details ([TOTPFactor.LogValue]
// leaves it out), and is stored sealed when the service has a keeper
// ([WithSecrets]).
type TOTPFactor struct {
	Org    storage.OrgID
	UserID string
	// Secret is the shared key, base32 without padding, as in the
	// otpauth:// URI.
	Secret string
	// Confirmed is set by the first accepted code; until then the factor
	// does not count for sign-in.
	Confirmed bool
	// LastStep is the 30-second time step of the last accepted code; only
	// a later step is accepted again, so that each code works once.
	LastStep int64
	Created  time.Time
}

// Validate checks the factor's fields.
func (f TOTPFactor) Validate() error {
	if err := f.Org.Validate(); err != nil {
		return err
	}
	if err := validateID("user id", f.UserID); err != nil {
		return err
	}
	if err := validateTOTPSecret(f.Secret); err != nil {
		return err
	}
	if f.Created.IsZero() {
		return fmt.Errorf("%w: TOTP factor creation time is zero", storage.ErrInvalid)
	}
	return nil
}

// maxSealedSecret bounds a sealed TOTP secret (a 128-character secret
// sealed and encoded is about 230).
const maxSealedSecret = 512

// validateTOTPSecret accepts a secret as the otpauth URI carries it
// (unpadded base32, 16–128 characters), or sealed (package seal).
func validateTOTPSecret(secret string) error {
	if seal.IsSealedString(secret) {
		if len(secret) > maxSealedSecret {
			return fmt.Errorf("%w: sealed TOTP secret is %d bytes, at most %d", storage.ErrInvalid, len(secret), maxSealedSecret)
		}
		return nil
	}
	if n := len(secret); n < 16 || n > 128 {
		return fmt.Errorf("%w: TOTP secret is %d characters, want 16–128", storage.ErrInvalid, n)
	}
	if _, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret); err != nil {
		return fmt.Errorf("%w: TOTP secret is not unpadded base32", storage.ErrInvalid)
	}
	return nil
}

// Normalize returns f with its time as stores keep it.
func (f TOTPFactor) Normalize() TOTPFactor {
	f.Created = storage.Normalize(f.Created)
	return f
}

// String leaves the secret out, so that printing a factor cannot leak it.
func (f TOTPFactor) String() string {
	return fmt.Sprintf("TOTPFactor{Org:%s User:%s Confirmed:%t LastStep:%d}", f.Org, f.UserID, f.Confirmed, f.LastStep)
}

// Channel is how a phone code reaches the user.
type Channel string

// Phone code channels.
const (
	ChannelSMS   Channel = "sms"
	ChannelVoice Channel = "voice"
)

func (c Channel) valid() bool { return c == ChannelSMS || c == ChannelVoice }

// PhoneCode is the code last sent to the user of a sign-in session. Only a
// salted hash of the code is kept.
type PhoneCode struct {
	Org       storage.OrgID
	SessionID string
	Channel   Channel
	Salt      []byte // 16 random bytes
	Hash      []byte // HMAC-SHA-256 of the code keyed with Salt
	Sent      time.Time
	Expires   time.Time
	// Sends counts the codes sent for this session, to cap resends.
	Sends int
}

// Validate checks the code's fields.
func (c PhoneCode) Validate() error {
	if err := c.Org.Validate(); err != nil {
		return err
	}
	if err := validateID("session id", c.SessionID); err != nil {
		return err
	}
	switch {
	case !c.Channel.valid():
		return fmt.Errorf("%w: phone code channel %q: want %q or %q", storage.ErrInvalid, c.Channel, ChannelSMS, ChannelVoice)
	case len(c.Salt) != 16:
		return fmt.Errorf("%w: phone code salt is %d bytes, want 16", storage.ErrInvalid, len(c.Salt))
	case len(c.Hash) != 32:
		return fmt.Errorf("%w: phone code hash is %d bytes, want 32", storage.ErrInvalid, len(c.Hash))
	case c.Sent.IsZero() || !c.Expires.After(c.Sent):
		return fmt.Errorf("%w: phone code must expire after it is sent", storage.ErrInvalid)
	case c.Sends < 1:
		return fmt.Errorf("%w: phone code send count %d, want ≥ 1", storage.ErrInvalid, c.Sends)
	}
	return nil
}

// Normalize returns c with its times as stores keep them and its byte
// slices copied.
func (c PhoneCode) Normalize() PhoneCode {
	c.Sent, c.Expires = storage.Normalize(c.Sent), storage.Normalize(c.Expires)
	c.Salt, c.Hash = slices.Clone(c.Salt), slices.Clone(c.Hash)
	return c
}

// Failures counts consecutive failures under one key (an account's sign-in,
// a session's PIN). The zero value means none.
type Failures struct {
	Count int
	Last  time.Time // time of the latest failure
}

// Store is what the auth package stores. storage/memory, storage/sqlite and
// storage/postgres implement it and pass the conformance suite in
// storage/storagetest. Every method is safe for concurrent use; records of
// another org are ErrNotFound; mutating methods write their audit entry
// (whose Org must be the record's) in the same transaction, and on any error
// change nothing.
type Store interface {
	storage.OrgStore
	storage.AuditLog
	UserStore
	SignOnStore
	FactorStore
	SessionStore
	// AuthFailures returns the failures counted under key; a key never
	// counted yields the zero value (not an error).
	AuthFailures(ctx context.Context, org storage.OrgID, key string) (Failures, error)
	// ReserveAuthAttempt reserves one attempt at time at under every rule,
	// before the attempt is checked, atomically even against concurrent
	// callers and other processes sharing the store: when no rule makes it
	// wait (Throttle.Wait of the failures counted so far), each rule's
	// failures become Throttle.Next of them — the attempt counts as a
	// failure until ClearAuthFailures says it succeeded — and it returns
	// them in rules' order with a zero wait; otherwise it changes nothing
	// and returns the longest wait. Of N concurrent reservations under a
	// key that allows k more attempts, exactly k succeed. It writes no
	// audit entry: the attempt's outcome is audited by the caller. An
	// unknown org yields ErrNotFound, a bad key ErrInvalid.
	ReserveAuthAttempt(ctx context.Context, org storage.OrgID, at time.Time, rules []AttemptRule) ([]Failures, time.Duration, error)
	// ReleaseAuthAttempt takes back one attempt reserved under key, for a
	// success that key counts only while it is checked (a client address
	// over many accounts): the count goes down by one, never below zero; a
	// key with none is left alone. It writes no audit entry.
	ReleaseAuthAttempt(ctx context.Context, org storage.OrgID, key string) error
	// ClearAuthFailures forgets key's failures. It writes no audit entry:
	// the success that clears them is recorded by the call that stores it.
	ClearAuthFailures(ctx context.Context, org storage.OrgID, key string) error
	// PurgeFailures forgets at most limit failure counters whose latest
	// failure is before lastBefore (no throttle looks that far back) and
	// returns how many. It writes no audit entry.
	PurgeFailures(ctx context.Context, org storage.OrgID, lastBefore time.Time, limit int) (int, error)
}

// UserStore stores the built-in directory: users, groups and memberships.
type UserStore interface {
	// CreateUser stores a new user (Version 1, Created and Updated set to
	// entry.Time) and returns it. A used ID, or a Username used in the same
	// org, yields ErrAlreadyExists; an unknown org ErrNotFound.
	CreateUser(ctx context.Context, u UserRecord, entry storage.AuditEntry) (UserRecord, error)
	// User returns the user with this ID, or ErrNotFound.
	User(ctx context.Context, org storage.OrgID, id string) (UserRecord, error)
	// UserByName returns the user with this exact username, or ErrNotFound.
	UserByName(ctx context.Context, org storage.OrgID, username string) (UserRecord, error)
	// ListUsers returns the org's users ordered by Username.
	ListUsers(ctx context.Context, org storage.OrgID) ([]UserRecord, error)
	// UpdateUser replaces every field of the user u.ID but the times. u.Version
	// must be the stored version, else ErrConflict; a Username used by another
	// user yields ErrAlreadyExists. When the update leaves the user
	// deactivated, every session of the user is revoked in the same
	// transaction. It returns the user as stored (Version incremented).
	UpdateUser(ctx context.Context, u UserRecord, entry storage.AuditEntry) (UserRecord, error)

	// CreateGroup stores a new group. A used ID, or a Name used in the same
	// org, yields ErrAlreadyExists.
	CreateGroup(ctx context.Context, g Group, entry storage.AuditEntry) (Group, error)
	// Group returns the group with this ID, or ErrNotFound.
	Group(ctx context.Context, org storage.OrgID, id string) (Group, error)
	// ListGroups returns the org's groups ordered by Name.
	ListGroups(ctx context.Context, org storage.OrgID) ([]Group, error)
	// AddGroupMember makes the user a member of the group. An unknown group
	// or user yields ErrNotFound, an existing membership ErrAlreadyExists.
	AddGroupMember(ctx context.Context, org storage.OrgID, groupID, userID string, entry storage.AuditEntry) error
	// RemoveGroupMember ends a membership; one that does not exist yields
	// ErrNotFound.
	RemoveGroupMember(ctx context.Context, org storage.OrgID, groupID, userID string, entry storage.AuditEntry) error
	// UserGroups returns the groups the user is a member of, ordered by
	// Name; an unknown user has none.
	UserGroups(ctx context.Context, org storage.OrgID, userID string) ([]Group, error)
	// GroupMembers returns the IDs of the group's members in ascending
	// order; an unknown group yields ErrNotFound.
	GroupMembers(ctx context.Context, org storage.OrgID, groupID string) ([]string, error)
}

// SignOnStore stores each org's sign-on rule.
type SignOnStore interface {
	// SignOn returns the org's stored rule, or ErrNotFound when it never
	// stored one (callers then use [DefaultSignOn]).
	SignOn(ctx context.Context, org storage.OrgID) (SignOn, error)
	// PutSignOn stores the org's rule. s.Version must be the stored version
	// (0 when none is stored), else ErrConflict; an unknown org yields
	// ErrNotFound. It returns the rule as stored (Version incremented,
	// Updated set to entry.Time).
	PutSignOn(ctx context.Context, s SignOn, entry storage.AuditEntry) (SignOn, error)
}

// FactorStore stores MFA factors and the one-time rules that make each
// code work once, atomically so that two servers cannot both accept it.
type FactorStore interface {
	// TOTP returns the user's TOTP factor, or ErrNotFound.
	TOTP(ctx context.Context, org storage.OrgID, userID string) (TOTPFactor, error)
	// PutTOTP stores a new, unconfirmed factor (Confirmed and LastStep are
	// ignored), replacing an unconfirmed one. When the user has a confirmed
	// factor it yields ErrAlreadyExists; an unknown org ErrNotFound.
	PutTOTP(ctx context.Context, f TOTPFactor, entry storage.AuditEntry) (TOTPFactor, error)
	// UseTOTPStep accepts the code of time step step: only when step is
	// greater than the factor's LastStep does it set LastStep to step, mark
	// the factor confirmed and append entry; otherwise it yields ErrConflict
	// (a replayed or older code). Of concurrent calls with the same step
	// exactly one succeeds. A missing factor yields ErrNotFound.
	UseTOTPStep(ctx context.Context, org storage.OrgID, userID string, step int64, entry storage.AuditEntry) error
	// DeleteTOTP removes the user's factor, or yields ErrNotFound.
	DeleteTOTP(ctx context.Context, org storage.OrgID, userID string, entry storage.AuditEntry) error
	// ResealTOTP replaces the user's stored secret, when it is still old,
	// by sealed (the same secret, sealed: see package seal), with entry, in
	// one transaction; nothing else of the factor changes. A secret that is
	// no longer old yields ErrConflict and changes nothing; a missing
	// factor ErrNotFound.
	ResealTOTP(ctx context.Context, org storage.OrgID, userID, old, sealed string, entry storage.AuditEntry) error

	// PhoneCode returns the code last sent for the session, or ErrNotFound
	// (none sent, or already used).
	PhoneCode(ctx context.Context, org storage.OrgID, sessionID string) (PhoneCode, error)
	// PutPhoneCode stores c as the session's current code, replacing any
	// earlier one. An unknown session yields ErrNotFound.
	PutPhoneCode(ctx context.Context, c PhoneCode, entry storage.AuditEntry) (PhoneCode, error)
	// ConsumePhoneCode removes the session's code if its Hash equals hash
	// and it has not expired at now, and appends entry; otherwise it yields
	// ErrNotFound. Of concurrent calls exactly one succeeds.
	ConsumePhoneCode(ctx context.Context, org storage.OrgID, sessionID string, hash []byte, now time.Time, entry storage.AuditEntry) error
}

// SessionStore stores sign-in sessions, keyed by the hash of their token.
type SessionStore interface {
	// CreateSession stores a new session (Version 1, LastUsed = Created).
	// A used ID or token hash yields ErrAlreadyExists; an unknown user of
	// the built-in directory is not checked (sessions may belong to users
	// of an embedder's directory).
	CreateSession(ctx context.Context, s Session, entry storage.AuditEntry) (Session, error)
	// SessionByToken returns the session whose token hashes to tokenHash,
	// revoked or not, or ErrNotFound.
	SessionByToken(ctx context.Context, org storage.OrgID, tokenHash []byte) (Session, error)
	// UpdateSession stores the session's State, PINHash, PINSet, Expires
	// and TokenHash (a changed hash rotates the token: the old one finds
	// the session no more; one in use by another session yields
	// ErrAlreadyExists). s.Version must be the stored version, else
	// ErrConflict; a revoked session yields ErrConflict too. It returns the
	// session as stored (Version incremented).
	UpdateSession(ctx context.Context, s Session, entry storage.AuditEntry) (Session, error)
	// TouchSession sets LastUsed to at when that is later than the stored
	// value. It writes no audit entry and leaves Version alone, so that
	// activity never makes a state change conflict. An unknown session
	// yields ErrNotFound.
	TouchSession(ctx context.Context, org storage.OrgID, id string, at time.Time) error
	// RevokeSession revokes the session; an unknown or already revoked
	// session yields ErrNotFound.
	RevokeSession(ctx context.Context, org storage.OrgID, id string, entry storage.AuditEntry) error
	// RevokeUserSessions revokes every session of the user that is not yet
	// revoked, appends entry (even when there was none), and returns how
	// many it revoked.
	RevokeUserSessions(ctx context.Context, org storage.OrgID, userID string, entry storage.AuditEntry) (int, error)
	// PurgeSessions deletes at most limit sessions (revoked or not) whose
	// absolute expiry is before expiredBefore, with their phone codes, and
	// returns how many; entry, with the count in its details, is appended
	// in the same transaction when there were any.
	PurgeSessions(ctx context.Context, org storage.OrgID, expiredBefore time.Time, limit int, entry storage.AuditEntry) (int, error)
}

func validateID(field, id string) error {
	if id == "" {
		return fmt.Errorf("%w: %s is empty", storage.ErrInvalid, field)
	}
	if len(id) > MaxIDLen {
		return fmt.Errorf("%w: %s is %d bytes, at most %d allowed", storage.ErrInvalid, field, len(id), MaxIDLen)
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == ':') {
			return fmt.Errorf("%w: %s %q: only letters, digits, '_', '-', '.' and ':' are allowed", storage.ErrInvalid, field, id)
		}
	}
	return nil
}

// validateText checks an optional human-readable field.
func validateText(field, s string, max int) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", storage.ErrInvalid, field)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fmt.Errorf("%w: %s is %d characters, at most %d allowed", storage.ErrInvalid, field, n, max)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return fmt.Errorf("%w: %s contains a control character", storage.ErrInvalid, field)
	}
	return nil
}

// MaxFailureKeyLen bounds failure counter keys.
const MaxFailureKeyLen = 128

// ValidateFailureKey reports whether key is 1–128 bytes of printable ASCII
// without spaces, as failure counter keys must be.
func ValidateFailureKey(key string) error {
	if key == "" || len(key) > MaxFailureKeyLen {
		return fmt.Errorf("%w: failure key must be 1–%d bytes", storage.ErrInvalid, MaxFailureKeyLen)
	}
	for _, c := range []byte(key) {
		if c <= ' ' || c > '~' {
			return fmt.Errorf("%w: failure key %q: printable ASCII without spaces only", storage.ErrInvalid, key)
		}
	}
	return nil
}
