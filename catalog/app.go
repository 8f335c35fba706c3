package catalog

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

// Kind says what an app is and so how it reaches a device.
type Kind string

const (
	// AppStore is an iOS/iPadOS app from Apple's App Store, installed by
	// its App Store ID.
	AppStore Kind = "ios_app_store"
	// InHouse is an iOS/iPadOS app the organization distributes itself,
	// installed from an https manifest URL.
	InHouse Kind = "ios_in_house"
	// Play is an Android app from managed Google Play, by package name.
	Play Kind = "android_play"
)

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool { return k == AppStore || k == InHouse || k == Play }

// Family is the platform family an app's identifier lives in: "apple" for
// bundle IDs, "android" for package names. An org's identifiers are unique
// per family, so an iOS and an Android app may share "com.acme.mail".
func (k Kind) Family() string {
	if k == Play {
		return "android"
	}
	return "apple"
}

// RunsOn reports whether an app of kind k belongs in the store of a device
// of platform p. iOS apps are offered on iPhones and iPads, not on Macs:
// installing them there needs macOS-only options this catalog does not
// model.
func (k Kind) RunsOn(p inventory.Platform) bool {
	switch k {
	case AppStore, InHouse:
		return p == inventory.PlatformIOS || p == inventory.PlatformIPadOS
	case Play:
		return p == inventory.PlatformAndroid
	}
	return false
}

// Limits on app fields.
const (
	MaxAppIDLen       = 64
	MaxIdentifierLen  = 155 // Apple's bundle ID limit; Android's is lower in practice
	MaxNameLen        = 200
	MaxDescriptionLen = 4000
	MaxURLLen         = 2048
	MaxBundleVersion  = 32
)

// NewAppID returns a fresh random app identifier with 128 bits of entropy.
func NewAppID() string { return "app_" + strings.ToLower(rand.Text()) }

// App is one app of an org's catalog.
type App struct {
	ID   string
	Org  storage.OrgID
	Kind Kind
	// Identifier is the bundle ID (Apple) or package name (Android): how
	// the app shows up in a device's app list. Unique per org and
	// [Kind.Family]; fixed once stored.
	Identifier string
	// StoreID is the App Store (iTunes) ID of an AppStore app; zero for
	// the other kinds.
	StoreID int64
	// ManifestURL and BundleVersion describe an InHouse app: where its
	// manifest is (https only) and which build it holds (CFBundleVersion:
	// one to three dot-separated integers). Empty for the other kinds.
	ManifestURL   string
	BundleVersion string
	// Name, IconURL and Description are what the store shows.
	Name        string
	IconURL     string
	Description string
	// Config is the managed app configuration sent with every install,
	// its placeholders resolved for the installing user.
	Config []ConfigEntry
	// KeepOnUnenroll and AllowBackup relax the defaults: without them a
	// managed app is removed when the device leaves management and its
	// data stays out of backups.
	KeepOnUnenroll bool
	AllowBackup    bool
	// Version counts changes: 1 after creation, +1 per update. An update
	// or delete must carry the version it read.
	Version int64
	Created time.Time
	Updated time.Time
}

// Validate checks every field a caller supplies. Errors wrap
// storage.ErrInvalid and name the field.
func (a App) Validate() error {
	if err := a.Org.Validate(); err != nil {
		return fmt.Errorf("app: %w", err)
	}
	if err := validateID("app id", a.ID); err != nil {
		return err
	}
	if !a.Kind.Valid() {
		return fmt.Errorf("%w: unknown app kind %q (want %s, %s or %s)", storage.ErrInvalid, a.Kind, AppStore, InHouse, Play)
	}
	if err := ValidateIdentifier(a.Kind, a.Identifier); err != nil {
		return err
	}
	switch {
	case a.Kind == AppStore && a.StoreID <= 0:
		return fmt.Errorf("%w: App Store app %q needs its App Store ID", storage.ErrInvalid, a.Identifier)
	case a.Kind != AppStore && a.StoreID != 0:
		return fmt.Errorf("%w: only App Store apps have an App Store ID", storage.ErrInvalid)
	}
	if a.Kind == InHouse {
		if err := validateHTTPS("manifest URL", a.ManifestURL, true); err != nil {
			return err
		}
		if _, err := ParseBundleVersion(a.BundleVersion); err != nil {
			return err
		}
	} else if a.ManifestURL != "" || a.BundleVersion != "" {
		return fmt.Errorf("%w: only in-house apps have a manifest URL and bundle version", storage.ErrInvalid)
	}
	if err := validateText("app name", a.Name, MaxNameLen, true, false); err != nil {
		return err
	}
	if err := validateHTTPS("icon URL", a.IconURL, false); err != nil {
		return err
	}
	if err := validateText("app description", a.Description, MaxDescriptionLen, false, true); err != nil {
		return err
	}
	return ValidateConfig(a.Config)
}

// Normalize returns a as stores keep it: times normalized, a nil Config
// made empty and the slice copied.
func (a App) Normalize() App {
	a.Created = normalizeOrZero(a.Created)
	a.Updated = normalizeOrZero(a.Updated)
	a.Config = append([]ConfigEntry{}, a.Config...)
	return a
}

// MarshalConfig encodes Config as the JSON SQL backends store.
func (a App) MarshalConfig() ([]byte, error) {
	if a.Config == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(a.Config)
}

// UnmarshalConfig decodes what MarshalConfig produced into a.Config.
func (a *App) UnmarshalConfig(data []byte) error {
	var c []ConfigEntry
	if err := json.Unmarshal(data, &c); err != nil {
		return fmt.Errorf("app %q: stored configuration: %w", a.ID, err)
	}
	a.Config = append([]ConfigEntry{}, c...)
	return nil
}

// CheckUpdate reports whether next may replace stored: same org, ID, kind
// and identifier (a different app needs a new record), and for an in-house
// app a bundle version not lower than the stored one, since devices refuse
// to downgrade. Equal is allowed so that name, icon or configuration can
// change without a new build. Stores call it inside the transaction that
// writes, against the stored record. Errors wrap storage.ErrInvalid.
func CheckUpdate(stored, next App) error {
	if stored.Kind != next.Kind {
		return fmt.Errorf("%w: app %q: kind cannot change from %s to %s", storage.ErrInvalid, stored.ID, stored.Kind, next.Kind)
	}
	if stored.Identifier != next.Identifier {
		return fmt.Errorf("%w: app %q: identifier cannot change from %q to %q; add a new app instead", storage.ErrInvalid, stored.ID, stored.Identifier, next.Identifier)
	}
	if stored.Kind == InHouse {
		c, err := CompareBundleVersions(next.BundleVersion, stored.BundleVersion)
		if err != nil {
			return err
		}
		if c < 0 {
			return fmt.Errorf("%w: app %q: bundle version %s is lower than the stored %s", storage.ErrInvalid, stored.ID, next.BundleVersion, stored.BundleVersion)
		}
	}
	return nil
}

// ValidateIdentifier checks a bundle ID (Apple kinds: letters, digits, '-'
// and '.', no empty segment) or a package name (Play: at least two
// segments, each a letter followed by letters, digits or '_').
func ValidateIdentifier(k Kind, id string) error {
	if id == "" {
		return fmt.Errorf("%w: app identifier is empty", storage.ErrInvalid)
	}
	if len(id) > MaxIdentifierLen {
		return fmt.Errorf("%w: app identifier is %d bytes, at most %d allowed", storage.ErrInvalid, len(id), MaxIdentifierLen)
	}
	segs := strings.Split(id, ".")
	if k == Play && len(segs) < 2 {
		return fmt.Errorf("%w: package name %q needs at least two dot-separated parts", storage.ErrInvalid, id)
	}
	for _, seg := range segs {
		if seg == "" {
			return fmt.Errorf("%w: app identifier %q has an empty part", storage.ErrInvalid, id)
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
			digit := c >= '0' && c <= '9'
			var ok bool
			if k == Play {
				ok = letter || i > 0 && (digit || c == '_')
			} else {
				ok = letter || digit || c == '-'
			}
			if !ok {
				return fmt.Errorf("%w: app identifier %q: character %q not allowed", storage.ErrInvalid, id, string(c))
			}
		}
	}
	return nil
}

// ParseBundleVersion parses a CFBundleVersion: one to three dot-separated
// non-negative integers of at most nine digits each.
func ParseBundleVersion(v string) ([]int, error) {
	if v == "" {
		return nil, fmt.Errorf("%w: in-house app needs its bundle version", storage.ErrInvalid)
	}
	if len(v) > MaxBundleVersion {
		return nil, fmt.Errorf("%w: bundle version is %d bytes, at most %d allowed", storage.ErrInvalid, len(v), MaxBundleVersion)
	}
	parts := strings.Split(v, ".")
	if len(parts) > 3 {
		return nil, fmt.Errorf("%w: bundle version %q has more than three parts", storage.ErrInvalid, v)
	}
	nums := make([]int, len(parts))
	for i, p := range parts {
		if p == "" || len(p) > 9 || strings.TrimLeft(p, "0123456789") != "" {
			return nil, fmt.Errorf("%w: bundle version %q: parts must be integers", storage.ErrInvalid, v)
		}
		nums[i], _ = strconv.Atoi(p)
	}
	return nums, nil
}

// CompareBundleVersions compares two bundle versions numerically, missing
// parts counting as zero ("2" = "2.0"); it returns -1, 0 or +1.
func CompareBundleVersions(a, b string) (int, error) {
	x, err := ParseBundleVersion(a)
	if err != nil {
		return 0, err
	}
	y, err := ParseBundleVersion(b)
	if err != nil {
		return 0, err
	}
	for i := range max(len(x), len(y)) {
		var p, q int
		if i < len(x) {
			p = x[i]
		}
		if i < len(y) {
			q = y[i]
		}
		switch {
		case p < q:
			return -1, nil
		case p > q:
			return 1, nil
		}
	}
	return 0, nil
}

func validateHTTPS(field, s string, required bool) error {
	if s == "" {
		if required {
			return fmt.Errorf("%w: %s is empty", storage.ErrInvalid, field)
		}
		return nil
	}
	if len(s) > MaxURLLen {
		return fmt.Errorf("%w: %s is %d bytes, at most %d allowed", storage.ErrInvalid, field, len(s), MaxURLLen)
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("%w: %s is not a URL", storage.ErrInvalid, field)
	case u.Scheme != "https":
		return fmt.Errorf("%w: %s %q must use https", storage.ErrInvalid, field, s)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("%w: %s %q has no host", storage.ErrInvalid, field, s)
	case u.User != nil:
		return fmt.Errorf("%w: %s must not carry credentials", storage.ErrInvalid, field)
	case strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		return fmt.Errorf("%w: %s contains spaces or control characters", storage.ErrInvalid, field)
	}
	return nil
}

func validateID(field, s string) error {
	if s == "" {
		return fmt.Errorf("%w: %s is empty", storage.ErrInvalid, field)
	}
	if len(s) > MaxAppIDLen {
		return fmt.Errorf("%w: %s is %d bytes, at most %d allowed", storage.ErrInvalid, field, len(s), MaxAppIDLen)
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == ':') {
			return fmt.Errorf("%w: %s %q: only letters, digits, '_', '-', '.' and ':' are allowed", storage.ErrInvalid, field, s)
		}
	}
	return nil
}

// validateText checks a human-readable field: valid UTF-8, at most max
// runes, no control characters except newlines and tabs where multiline.
func validateText(field, s string, max int, required, multiline bool) error {
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
	bad := func(r rune) bool {
		return unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t'))
	}
	if strings.IndexFunc(s, bad) >= 0 {
		return fmt.Errorf("%w: %s contains a control character", storage.ErrInvalid, field)
	}
	return nil
}

func normalizeOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return storage.Normalize(t)
}
