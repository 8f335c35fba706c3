package inventory

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/openomm/omm/storage"
)

// Platform is a device's operating system family.
type Platform string

const (
	PlatformIOS     Platform = "ios"
	PlatformIPadOS  Platform = "ipados"
	PlatformMacOS   Platform = "macos"
	PlatformAndroid Platform = "android"
)

// Apple reports whether p is one of Apple's platforms.
func (p Platform) Apple() bool {
	return p == PlatformIOS || p == PlatformIPadOS || p == PlatformMacOS
}

// Ownership says who owns the device.
type Ownership string

const (
	OwnershipCompany  Ownership = "company"
	OwnershipPersonal Ownership = "personal"
)

// EnrollmentType says how the device was enrolled; it bounds what the
// organization may do to it.
type EnrollmentType string

const (
	// EnrollAppleDevice: profile-based device enrollment (OTA or a
	// downloaded profile).
	EnrollAppleDevice EnrollmentType = "apple_device"
	// EnrollAppleUser: User Enrollment, a separate managed volume on a
	// personal device.
	EnrollAppleUser EnrollmentType = "apple_user"
	// EnrollAppleAutomated: Automated Device Enrollment (supervised).
	EnrollAppleAutomated EnrollmentType = "apple_automated"
	// EnrollAndroidWorkProfile: a managed profile beside the personal one.
	EnrollAndroidWorkProfile EnrollmentType = "android_work_profile"
	// EnrollAndroidFullyManaged: a company-owned, fully managed device.
	EnrollAndroidFullyManaged EnrollmentType = "android_fully_managed"
	// EnrollAndroidKnox: Samsung Knox (SAFE) via device admin.
	EnrollAndroidKnox EnrollmentType = "android_knox"
	// EnrollAndroidDeviceAdmin: native device admin.
	EnrollAndroidDeviceAdmin EnrollmentType = "android_device_admin"
)

// State is where a device is in its life cycle.
type State string

const (
	// StatePending: enrollment started, the device has not completed it.
	StatePending State = "pending"
	// StateEnrolled: under management.
	StateEnrolled State = "enrolled"
	// StateDeprovisioning: removal of work data (or a wipe) was requested
	// and the device has not confirmed it yet.
	StateDeprovisioning State = "deprovisioning"
	// StateDeprovisioned: work data removed; the device is no longer
	// managed. Terminal.
	StateDeprovisioned State = "deprovisioned"
	// StateWiped: the device was factory reset. Terminal.
	StateWiped State = "wiped"
)

// transitions lists the allowed state changes.
func transitions(from State) []State {
	switch from {
	case StatePending:
		return []State{StateEnrolled, StateDeprovisioned}
	case StateEnrolled:
		return []State{StateDeprovisioning, StateDeprovisioned, StateWiped}
	case StateDeprovisioning:
		return []State{StateDeprovisioned, StateWiped}
	}
	return nil
}

// Terminal reports whether no transition leaves s: the device is no longer
// managed and its inventory has been erased.
func (s State) Terminal() bool { return s == StateDeprovisioned || s == StateWiped }

// Valid reports whether s is one of the defined states.
func (s State) Valid() bool {
	switch s {
	case StatePending, StateEnrolled, StateDeprovisioning, StateDeprovisioned, StateWiped:
		return true
	}
	return false
}

// ErrTransition is returned (together with storage.ErrConflict) when a state
// change is not allowed from the device's stored state.
var ErrTransition = errors.New("device state transition not allowed")

// CheckTransition reports whether a device in state from may move to to.
// Stores call it inside the transaction that changes the state, so the
// rule holds under concurrency. Same-state is not a transition; callers
// treat it as a no-op before calling.
func CheckTransition(from, to State) error {
	if !to.Valid() {
		return fmt.Errorf("%w: unknown device state %q", storage.ErrInvalid, to)
	}
	for _, s := range transitions(from) {
		if s == to {
			return nil
		}
	}
	return fmt.Errorf("%w: %s → %s: %w", ErrTransition, from, to, storage.ErrConflict)
}

// Limits on device fields.
const (
	MaxDeviceIDLen   = 64
	MaxUserIDLen     = storage.MaxIDLen
	MaxIdentifierLen = 128
	MaxSerialLen     = 64
)

// NewDeviceID returns a fresh random device identifier with 128 bits of
// entropy.
func NewDeviceID() string { return "dev_" + strings.ToLower(rand.Text()) }

// Device is one enrollment of one device: a re-enrolled device is a new
// record.
type Device struct {
	// ID is ours ([NewDeviceID]); unique in the org.
	ID     string
	Org    storage.OrgID
	UserID string
	// Platform, Ownership and EnrollmentType are fixed at enrollment.
	Platform       Platform
	Ownership      Ownership
	EnrollmentType EnrollmentType
	State          State
	// Identifier addresses the device on its platform: the Apple UDID (or
	// the EnrollmentID of a User Enrollment), the Android device ID. Among
	// the org's devices that are not deprovisioned or wiped it is unique.
	Identifier string
	// EnrollmentID is the platform's enrollment handle where there is one
	// (Android enrollment token ID); optional.
	EnrollmentID string
	// SerialNumber is kept for operations that need it (automated
	// enrollment records); optional.
	SerialNumber string
	// LastSeen is the latest contact (check-in or report); LastInventory
	// the latest stored inventory. Zero means never.
	LastSeen      time.Time
	LastInventory time.Time
	// Version counts changes (state and inventory): 1 after creation.
	Version int64
	// Created and Updated are the times of the audit entries that recorded
	// the creation and the latest state change.
	Created time.Time
	Updated time.Time
}

// Validate checks the fields a caller supplies at creation.
func (d Device) Validate() error {
	if err := d.Org.Validate(); err != nil {
		return fmt.Errorf("device: %w", err)
	}
	if err := validateID("device id", d.ID, MaxDeviceIDLen); err != nil {
		return err
	}
	if err := validateText("device user id", d.UserID, MaxUserIDLen, true); err != nil {
		return err
	}
	if !d.Platform.valid() {
		return fmt.Errorf("%w: unknown platform %q", storage.ErrInvalid, d.Platform)
	}
	if d.Ownership != OwnershipCompany && d.Ownership != OwnershipPersonal {
		return fmt.Errorf("%w: unknown ownership %q", storage.ErrInvalid, d.Ownership)
	}
	if err := d.EnrollmentType.check(d.Platform, d.Ownership); err != nil {
		return err
	}
	if !d.State.Valid() {
		return fmt.Errorf("%w: unknown device state %q", storage.ErrInvalid, d.State)
	}
	if err := validateText("device identifier", d.Identifier, MaxIdentifierLen, true); err != nil {
		return err
	}
	if err := validateText("device enrollment id", d.EnrollmentID, MaxIdentifierLen, false); err != nil {
		return err
	}
	return validateText("device serial number", d.SerialNumber, MaxSerialLen, false)
}

func (p Platform) valid() bool {
	return p.Apple() || p == PlatformAndroid
}

func (t EnrollmentType) check(p Platform, o Ownership) error {
	var ok bool
	switch t {
	case EnrollAppleDevice:
		ok = p.Apple()
	case EnrollAppleUser:
		// User Enrollment exists for personal devices only.
		ok = p.Apple() && o == OwnershipPersonal
	case EnrollAppleAutomated:
		ok = p.Apple() && o == OwnershipCompany
	case EnrollAndroidFullyManaged:
		ok = p == PlatformAndroid && o == OwnershipCompany
	case EnrollAndroidWorkProfile, EnrollAndroidKnox, EnrollAndroidDeviceAdmin:
		ok = p == PlatformAndroid
	default:
		return fmt.Errorf("%w: unknown enrollment type %q", storage.ErrInvalid, t)
	}
	if !ok {
		return fmt.Errorf("%w: enrollment type %q is not possible for a %s-owned %s device", storage.ErrInvalid, t, o, p)
	}
	return nil
}

// FactoryResetPermitted reports whether the device's ownership and
// enrollment type allow a factory reset at all: never for a personally
// owned device, nor for a User Enrollment or a work profile, where only the
// work data may be removed. The policy may forbid it further.
func (d Device) FactoryResetPermitted() bool {
	if d.Ownership != OwnershipCompany {
		return false
	}
	return d.EnrollmentType != EnrollAppleUser && d.EnrollmentType != EnrollAndroidWorkProfile
}

// Normalize returns d with its times as stores keep them.
func (d Device) Normalize() Device {
	d.LastSeen = normalizeOrZero(d.LastSeen)
	d.LastInventory = normalizeOrZero(d.LastInventory)
	d.Created = normalizeOrZero(d.Created)
	d.Updated = normalizeOrZero(d.Updated)
	return d
}

func normalizeOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return storage.Normalize(t)
}

func validateID(field, s string, max int) error {
	if s == "" {
		return fmt.Errorf("%w: %s is empty", storage.ErrInvalid, field)
	}
	if len(s) > max {
		return fmt.Errorf("%w: %s is %d bytes, at most %d allowed", storage.ErrInvalid, field, len(s), max)
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == ':') {
			return fmt.Errorf("%w: %s %q: only letters, digits, '_', '-', '.' and ':' are allowed", storage.ErrInvalid, field, s)
		}
	}
	return nil
}

// validateText checks a human-readable field: valid UTF-8, no control
// characters, at most max runes, and non-empty when required.
func validateText(field, s string, max int, required bool) error {
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
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return fmt.Errorf("%w: %s contains a control character", storage.ErrInvalid, field)
	}
	return nil
}
