package policy

import (
	"crypto/rand"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/openomm/omm/storage"
)

// Limits on a policy's fields. They bound what a store keeps and what one
// evaluation costs; the per-platform limits of the devices themselves are
// applied later, at evaluation, as clamps with warnings.
const (
	MaxIDLen          = 64
	MaxNameLen        = 100
	MaxDescriptionLen = 1000
	MaxAgreementLen   = 20_000 // characters
	MaxGroups         = 1000   // target groups per policy
	MaxGroupIDLen     = storage.MaxIDLen
	MaxPriority       = 1_000_000
)

// ID identifies a policy within its org.
type ID string

// DefaultID is the ID of the built-in default policy; no stored policy may
// use it.
const DefaultID ID = "default"

// NewID returns a fresh random policy ID with 128 bits of entropy.
func NewID() ID { return ID("pol_" + strings.ToLower(rand.Text())) }

// Validate reports whether id is 1–64 ASCII letters, digits, '_', '-', '.'
// or ':'.
func (id ID) Validate() error {
	if id == "" {
		return fmt.Errorf("%w: policy id is empty", storage.ErrInvalid)
	}
	if len(id) > MaxIDLen {
		return fmt.Errorf("%w: policy id is %d bytes, at most %d allowed", storage.ErrInvalid, len(id), MaxIDLen)
	}
	for _, c := range []byte(id) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == ':'
		if !ok {
			return fmt.Errorf("%w: policy id %q: only letters, digits, '_', '-', '.' and ':' are allowed", storage.ErrInvalid, string(id))
		}
	}
	return nil
}

// Platform is a device platform a rule applies to.
type Platform string

// The platforms a policy has rules for. iOS covers iPadOS.
const (
	IOS     Platform = "ios"
	Android Platform = "android"
	MacOS   Platform = "macos"
)

// platforms lists every platform, in the order reasons and lists use.
var platforms = [...]Platform{IOS, Android, MacOS}

// Platforms returns every known platform.
func Platforms() []Platform { return slices.Clone(platforms[:]) }

// Validate reports whether p is a known platform.
func (p Platform) Validate() error {
	if !slices.Contains(platforms[:], p) {
		return fmt.Errorf("%w: unknown platform %q (want ios, android or macos)", storage.ErrInvalid, string(p))
	}
	return nil
}

// apple reports whether p is an Apple platform (profile-based management).
func (p Platform) apple() bool { return p == IOS || p == MacOS }

// String returns the platform's human name.
func (p Platform) String() string {
	switch p {
	case IOS:
		return "iOS"
	case Android:
		return "Android"
	case MacOS:
		return "macOS"
	}
	return string(p)
}

// Action is what a platform rule says about enrollment.
type Action string

const (
	// Require: the user must enroll the device; the decision is [Enroll].
	Require Action = "require"
	// Allow: the user may enroll but need not; the decision is
	// [NotRequired], carrying the requirements that apply if they do.
	Allow Action = "allow"
	// Deny: enrollment is refused; the decision is [Denied].
	Deny Action = "deny"
)

func (a Action) validate() error {
	switch a {
	case Require, Allow, Deny:
		return nil
	}
	return fmt.Errorf("%w: unknown action %q (want require, allow or deny)", storage.ErrInvalid, string(a))
}

// Policy is a mobile policy: who it targets, in which order it is tried,
// and what each platform's rule says.
type Policy struct {
	ID  ID
	Org storage.OrgID
	// Name and Description are shown to administrators.
	Name        string
	Description string
	// Priority orders an org's policies: the lowest number is tried first.
	// Priorities are unique within an org (1–MaxPriority).
	Priority int
	// Groups are the directory group IDs the policy targets, as the
	// directory spells them. A user in any of them matches.
	Groups []string
	// Agreement is optional text the user must accept before enrolling.
	Agreement string
	// RequireMFA makes the users it targets pass multi-factor
	// authentication at every sign-in (of the agent app and the web
	// portal), whatever the org's own sign-on rule says. It applies to
	// the users the policy decides for (see [Set.Match]).
	RequireMFA bool
	// Rules holds one rule per platform. A platform without a rule is
	// denied by this policy (it does not fall through to the next one).
	Rules map[Platform]Rule
	// Version counts changes: 1 after creation, +1 per update; an update
	// or delete must carry the version it read.
	Version int64
	// Created and Updated are the times of the audit entries that recorded
	// the creation and the latest change.
	Created time.Time
	Updated time.Time
}

// Rule is what a policy says about one platform.
type Rule struct {
	Action Action `json:"action"`
	// Requirements apply when Action is Require or Allow; a Deny rule
	// carries none.
	Requirements Requirements `json:"requirements"`
}

// Requirements are what an enrolled device must satisfy. Zero values mean
// "no requirement" (for DataSeparation: "no restriction").
type Requirements struct {
	Passcode Passcode `json:"passcode"`
	// Encryption requires storage encryption. On iOS it is Data
	// Protection, which needs a passcode (see [Set.Evaluate]).
	Encryption bool `json:"encryption,omitempty"`
	// MinOSVersion is the oldest OS release accepted, dotted ("17.4",
	// Android "12"); empty accepts any.
	MinOSVersion string `json:"min_os_version,omitempty"`
	// RefuseCompromised refuses jailbroken (Apple) or rooted (Android)
	// devices.
	RefuseCompromised bool           `json:"refuse_compromised,omitempty"`
	DataSeparation    DataSeparation `json:"data_separation"`
	// AllowFullWipe permits wiping all device data (factory reset). Even
	// then it is only granted for company-owned devices.
	AllowFullWipe bool `json:"allow_full_wipe,omitempty"`
	// OSUpdate enforces an OS release by a deadline (Apple rules only).
	OSUpdate OSUpdate `json:"os_update,omitzero"`
	// AcceptDirectProfile (iOS rules only) lets iPhones and iPads enroll
	// with the direct enrollment profile, which carries no attestation
	// that a genuine Apple device asked for it: for device simulators and
	// testing. Off, they enroll over the air, where phase 2 is signed by
	// Apple's device CA. Macs always enroll with the direct profile.
	AcceptDirectProfile bool `json:"accept_direct_profile,omitempty"`
	// Android holds settings only an Android rule may set.
	Android AndroidRequirements `json:"android"`
}

// Passcode is a device (or work-profile) passcode requirement. When
// Required is false every other field must be zero.
type Passcode struct {
	Required bool `json:"required,omitempty"`
	// AllowSimple permits repeating or sequential passcodes ("1111", "1234").
	AllowSimple bool `json:"allow_simple,omitempty"`
	MinLength   int  `json:"min_length,omitempty"`
	// RequireLetters requires at least one letter (alphanumeric passcode).
	RequireLetters bool `json:"require_letters,omitempty"`
	// MinSymbols is the number of characters other than letters and
	// digits required.
	MinSymbols int `json:"min_symbols,omitempty"`
	// MaxAgeDays forces a change after this many days; 0 never.
	MaxAgeDays int `json:"max_age_days,omitempty"`
	// History is how many previous passcodes may not be reused.
	History int `json:"history,omitempty"`
	// MaxFailedAttempts wipes the device (or the work profile) after this
	// many wrong passcodes; 0 never. Otherwise 2 or more.
	MaxFailedAttempts int `json:"max_failed_attempts,omitempty"`
	// AutoLockMinutes locks the device after this much idle time; 0 leaves
	// it to the user.
	AutoLockMinutes int `json:"auto_lock_minutes,omitempty"`
	// GracePeriodMinutes is how long after locking the device unlocks
	// without the passcode.
	GracePeriodMinutes int `json:"grace_period_minutes,omitempty"`
}

// DataSeparation restricts data flow between work and personal apps.
type DataSeparation struct {
	// BlockManagedToUnmanaged stops documents from managed apps opening in
	// unmanaged ones (Apple "open in").
	BlockManagedToUnmanaged bool `json:"block_managed_to_unmanaged,omitempty"`
	// BlockUnmanagedToManaged stops documents from unmanaged apps opening
	// in managed ones (Apple).
	BlockUnmanagedToManaged bool `json:"block_unmanaged_to_managed,omitempty"`
	// BlockWorkToPersonal stops sharing from the work profile to the
	// personal side (Android cross-profile policy).
	BlockWorkToPersonal bool `json:"block_work_to_personal,omitempty"`
}

// OSUpdate enforces an OS release: the device must install TargetVersion
// by Deadline, after which it installs it by itself. Apple devices enforce
// it through declarative device management (iPhone and iPad from iOS 17 on
// device and supervised enrollments, supervised Macs from macOS 14); on
// others it is reported, not enforced. The zero value enforces nothing.
type OSUpdate struct {
	// TargetVersion is the release to install, dotted ("17.5.1").
	TargetVersion string `json:"target_version,omitempty"`
	// TargetBuild optionally names the build ("21F90"), for releases
	// that share a version number; the version wins if they disagree.
	TargetBuild string `json:"target_build,omitempty"`
	// Deadline is the device's local date and time by which the update is
	// installed, without a time zone: "2026-03-31T18:00:00"
	// ([DeadlineLayout]).
	Deadline string `json:"deadline,omitempty"`
	// DetailsURL is an optional https page where the organization
	// explains the update.
	DetailsURL string `json:"details_url,omitempty"`
}

// DeadlineLayout is the layout of [OSUpdate.Deadline]: Apple's local date
// and time, RFC 3339 without an offset.
const DeadlineLayout = "2006-01-02T15:04:05"

// Limits of an OS update rule.
const (
	maxBuildLen      = 16
	maxDetailsURLLen = 2048
)

// Set reports whether u enforces anything.
func (u OSUpdate) Set() bool { return u != OSUpdate{} }

// DeadlineTime returns the deadline read in loc (the device's time zone,
// which the server does not know: UTC is a fair reading for reports).
func (u OSUpdate) DeadlineTime(loc *time.Location) (time.Time, error) {
	t, err := time.ParseInLocation(DeadlineLayout, u.Deadline, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: OS update deadline %q: want %s", storage.ErrInvalid, u.Deadline, DeadlineLayout)
	}
	return t, nil
}

func (u OSUpdate) validate() error {
	if !u.Set() {
		return nil
	}
	if u.TargetVersion == "" {
		return fmt.Errorf("%w: an OS update needs a target version", storage.ErrInvalid)
	}
	if _, err := ParseVersion(u.TargetVersion); err != nil {
		return fmt.Errorf("OS update target: %w", err)
	}
	if _, err := u.DeadlineTime(time.UTC); err != nil {
		return err
	}
	if len(u.TargetBuild) > maxBuildLen || strings.Trim(u.TargetBuild, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != "" {
		return fmt.Errorf("%w: OS update build %q: want at most %d letters and digits", storage.ErrInvalid, u.TargetBuild, maxBuildLen)
	}
	if u.DetailsURL != "" {
		v, err := url.Parse(u.DetailsURL)
		if err != nil || v.Scheme != "https" || v.Host == "" || len(u.DetailsURL) > maxDetailsURLLen {
			return fmt.Errorf("%w: OS update details URL: want an absolute https URL of at most %d bytes", storage.ErrInvalid, maxDetailsURLLen)
		}
	}
	return nil
}

// AndroidRequirements are the settings only Android rules carry.
type AndroidRequirements struct {
	// MinAPILevel is the oldest API level accepted; 0 accepts any.
	MinAPILevel int `json:"min_api_level,omitempty"`
	// Modes enables the enrollment modes, tried in the fixed order work
	// profile → Samsung Knox → native device admin.
	Modes Modes `json:"modes"`
	// WorkProfilePasscode is a separate passcode for the work profile,
	// applied only when the device enrolls with a work profile.
	WorkProfilePasscode Passcode `json:"work_profile_passcode"`
}

// Modes says which Android enrollment modes a rule enables.
type Modes struct {
	WorkProfile bool `json:"work_profile,omitempty"`
	Knox        bool `json:"knox,omitempty"`
	DeviceAdmin bool `json:"device_admin,omitempty"`
}

// Mode is an Android enrollment mode.
type Mode string

const (
	ModeWorkProfile Mode = "work_profile"
	ModeKnox        Mode = "knox"
	ModeDeviceAdmin Mode = "device_admin"
)

// String returns the mode's human name.
func (m Mode) String() string {
	switch m {
	case ModeWorkProfile:
		return "work profile"
	case ModeKnox:
		return "Samsung Knox"
	case ModeDeviceAdmin:
		return "native device admin"
	}
	return string(m)
}

func (m Modes) enabled(mode Mode) bool {
	switch mode {
	case ModeWorkProfile:
		return m.WorkProfile
	case ModeKnox:
		return m.Knox
	case ModeDeviceAdmin:
		return m.DeviceAdmin
	}
	return false
}

// Default returns org's built-in default policy: it targets everyone no
// other policy targets and denies enrollment on every platform. It is not
// stored and cannot be edited; its Priority is after every stored policy.
func Default(org storage.OrgID) Policy {
	rules := make(map[Platform]Rule, len(platforms))
	for _, p := range platforms {
		rules[p] = Rule{Action: Deny}
	}
	return Policy{
		ID:          DefaultID,
		Org:         org,
		Name:        "Default",
		Description: "Built in: denies enrollment to every user no other policy targets.",
		Priority:    MaxPriority + 1,
		Groups:      []string{},
		Rules:       rules,
	}
}

// Validate checks every field a caller supplies (not Version or the times).
// Errors wrap storage.ErrInvalid and name the field.
func (p Policy) Validate() error {
	if err := p.ID.Validate(); err != nil {
		return err
	}
	if p.ID == DefaultID {
		return fmt.Errorf("%w: policy id %q is reserved for the built-in default policy", storage.ErrInvalid, DefaultID)
	}
	if err := p.Org.Validate(); err != nil {
		return fmt.Errorf("policy %q: %w", p.ID, err)
	}
	if err := checkText("policy name", p.Name, MaxNameLen, true, false); err != nil {
		return err
	}
	if strings.TrimSpace(p.Name) != p.Name {
		return fmt.Errorf("%w: policy name %q has leading or trailing spaces", storage.ErrInvalid, p.Name)
	}
	if err := checkText("policy description", p.Description, MaxDescriptionLen, false, true); err != nil {
		return err
	}
	if p.Priority < 1 || p.Priority > MaxPriority {
		return fmt.Errorf("%w: policy %q: priority %d is outside 1–%d", storage.ErrInvalid, p.Name, p.Priority, MaxPriority)
	}
	if err := validateGroups(p.Groups); err != nil {
		return fmt.Errorf("policy %q: %w", p.Name, err)
	}
	if err := checkText("user agreement", p.Agreement, MaxAgreementLen, false, true); err != nil {
		return err
	}
	for _, platform := range slices.Sorted(maps.Keys(p.Rules)) {
		if err := platform.Validate(); err != nil {
			return fmt.Errorf("policy %q: %w", p.Name, err)
		}
		if err := p.Rules[platform].validate(platform); err != nil {
			return fmt.Errorf("policy %q, %s rule: %w", p.Name, platform, err)
		}
	}
	return nil
}

func validateGroups(groups []string) error {
	if len(groups) > MaxGroups {
		return fmt.Errorf("%w: %d target groups, at most %d allowed", storage.ErrInvalid, len(groups), MaxGroups)
	}
	seen := make(map[string]bool, len(groups))
	for _, g := range groups {
		if g == "" {
			return fmt.Errorf("%w: empty target group id", storage.ErrInvalid)
		}
		if len(g) > MaxGroupIDLen {
			return fmt.Errorf("%w: target group id is %d bytes, at most %d allowed", storage.ErrInvalid, len(g), MaxGroupIDLen)
		}
		if !utf8.ValidString(g) || strings.IndexFunc(g, unicode.IsControl) >= 0 {
			return fmt.Errorf("%w: target group id %q is not valid UTF-8 text", storage.ErrInvalid, g)
		}
		if seen[g] {
			return fmt.Errorf("%w: target group %q listed twice", storage.ErrInvalid, g)
		}
		seen[g] = true
	}
	return nil
}

func (r Rule) validate(platform Platform) error {
	if err := r.Action.validate(); err != nil {
		return err
	}
	if r.Action == Deny {
		if r.Requirements != (Requirements{}) {
			return fmt.Errorf("%w: a deny rule carries no requirements", storage.ErrInvalid)
		}
		return nil
	}
	return r.Requirements.validate(platform)
}

func (q Requirements) validate(platform Platform) error {
	if err := q.Passcode.validate("passcode"); err != nil {
		return err
	}
	if q.MinOSVersion != "" {
		if _, err := ParseVersion(q.MinOSVersion); err != nil {
			return fmt.Errorf("minimum OS version: %w", err)
		}
	}
	if err := q.OSUpdate.validate(); err != nil {
		return err
	}
	ds := q.DataSeparation
	if q.AcceptDirectProfile && platform != IOS {
		return fmt.Errorf("%w: accepting the direct enrollment profile is an iOS setting (Macs always enroll with it)", storage.ErrInvalid)
	}
	if platform.apple() {
		if q.Android != (AndroidRequirements{}) {
			return fmt.Errorf("%w: Android settings (API level, modes, work-profile passcode) belong in the android rule", storage.ErrInvalid)
		}
		if ds.BlockWorkToPersonal {
			return fmt.Errorf("%w: work-profile sharing is an Android setting; use the managed/unmanaged open-in settings", storage.ErrInvalid)
		}
		return nil
	}
	// Android.
	if q.OSUpdate.Set() {
		return fmt.Errorf("%w: an enforced OS update is an Apple setting", storage.ErrInvalid)
	}
	if ds.BlockManagedToUnmanaged || ds.BlockUnmanagedToManaged {
		return fmt.Errorf("%w: managed/unmanaged open-in is an Apple setting; use work-to-personal sharing", storage.ErrInvalid)
	}
	a := q.Android
	if a.MinAPILevel < 0 || a.MinAPILevel > maxAPILevel {
		return fmt.Errorf("%w: minimum API level %d is outside 0–%d", storage.ErrInvalid, a.MinAPILevel, maxAPILevel)
	}
	if a.Modes == (Modes{}) {
		return fmt.Errorf("%w: enable at least one enrollment mode (work profile, Samsung Knox, device admin)", storage.ErrInvalid)
	}
	if a.WorkProfilePasscode.Required && !a.Modes.WorkProfile {
		return fmt.Errorf("%w: a work-profile passcode needs the work profile mode enabled", storage.ErrInvalid)
	}
	return a.WorkProfilePasscode.validate("work-profile passcode")
}

// Generic bounds; the stricter per-platform limits are applied as clamps.
const (
	maxPasscodeLength = 64
	maxAgeDays        = 3650
	maxHistory        = 100
	maxFailedAttempts = 100
	maxMinutes        = 1440
	maxAPILevel       = 1000
)

func (c Passcode) validate(what string) error {
	if !c.Required {
		if c != (Passcode{}) {
			return fmt.Errorf("%w: %s settings are set but the %s is not required", storage.ErrInvalid, what, what)
		}
		return nil
	}
	for _, f := range []struct {
		name   string
		v, max int
	}{
		{"minimum length", c.MinLength, maxPasscodeLength},
		{"minimum symbols", c.MinSymbols, maxPasscodeLength},
		{"maximum age in days", c.MaxAgeDays, maxAgeDays},
		{"history", c.History, maxHistory},
		{"failed attempts before wipe", c.MaxFailedAttempts, maxFailedAttempts},
		{"auto-lock minutes", c.AutoLockMinutes, maxMinutes},
		{"grace period minutes", c.GracePeriodMinutes, maxMinutes},
	} {
		if f.v < 0 {
			return fmt.Errorf("%w: %s %s is negative (%d)", storage.ErrInvalid, what, f.name, f.v)
		}
		if f.v > f.max {
			return fmt.Errorf("%w: %s %s is %d, at most %d allowed", storage.ErrInvalid, what, f.name, f.v, f.max)
		}
	}
	if c.MaxFailedAttempts == 1 {
		return fmt.Errorf("%w: %s failed attempts before wipe is 1: use 0 (never) or at least 2", storage.ErrInvalid, what)
	}
	return nil
}

// checkText checks a human-readable field: valid UTF-8, at most max runes,
// no control characters except (when multiline) newlines and tabs.
func checkText(field, s string, max int, required, multiline bool) error {
	if s == "" {
		if required {
			return fmt.Errorf("%w: %s is empty", storage.ErrInvalid, field)
		}
		return nil
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", storage.ErrInvalid, field)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fmt.Errorf("%w: %s is %d characters, at most %d allowed", storage.ErrInvalid, field, n, max)
	}
	bad := strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t'))
	})
	if bad >= 0 {
		return fmt.Errorf("%w: %s contains a control character", storage.ErrInvalid, field)
	}
	return nil
}

// Normalize returns p as every store keeps and returns it: times normalized,
// nil Groups and Rules made empty, and both copied so that the caller's
// slice and map are never aliased.
func (p Policy) Normalize() Policy {
	p.Created, p.Updated = storage.Normalize(p.Created), storage.Normalize(p.Updated)
	p.Groups = append(make([]string, 0, len(p.Groups)), p.Groups...)
	rules := make(map[Platform]Rule, len(p.Rules))
	maps.Copy(rules, p.Rules)
	p.Rules = rules
	return p
}
