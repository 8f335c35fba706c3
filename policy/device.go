package policy

import (
	"fmt"

	"github.com/openomm/omm/storage"
)

// Limits on the facts an evaluation takes; they come from the device and
// the directory, so they are outside input.
const (
	MaxUserGroups     = 10_000
	maxDeviceFieldLen = 128
)

// User is who asks to enroll, as the directory describes them. Group IDs
// are the directory's, matched exactly against [Policy.Groups].
type User struct {
	ID     string
	Groups []string
	// GroupNames optionally maps group IDs to the names reasons show
	// ("targets the user's group \"Employees\""); a group without one is
	// shown by its ID.
	GroupNames map[string]string
}

// Ownership is who owns a device.
type Ownership string

const (
	// Unknown ownership is treated as personal: the cautious reading.
	OwnershipUnknown  Ownership = ""
	OwnershipCompany  Ownership = "company"
	OwnershipPersonal Ownership = "personal"
)

// Device holds the facts about a device that evaluation needs, as the agent
// or the enrollment channel reports them.
type Device struct {
	Platform Platform
	// OSVersion is the OS release, dotted ("17.4.1"; Android "12").
	OSVersion string
	// APILevel is the Android API level (SDK_INT); required for Android,
	// zero elsewhere.
	APILevel     int
	Model        string
	Manufacturer string
	Ownership    Ownership
	// Compromised: jailbroken (Apple) or rooted (Android).
	Compromised bool
	// WorkProfile: the device supports an Android work profile.
	WorkProfile bool
	// Knox: a Samsung device with Knox (SAFE) support.
	Knox bool
	// Preliminary: the device has not reported its facts yet (its user
	// asks on a web page, which can tell platform and ownership only).
	// OSVersion, APILevel, Model, Manufacturer, Compromised, WorkProfile
	// and Knox are then unknown and must be zero: nothing unknown is held
	// against the device, and the decision's reasons say which of the
	// policy's requirements the device is checked against when it reports
	// them at enrollment. An Android plan then chooses the work profile
	// when the policy enables it (most devices support one) and otherwise
	// no mode: the legacy modes depend on what the device reports.
	Preliminary bool
}

// validate checks the facts and returns the parsed OS version.
func (d Device) validate() (Version, error) {
	if err := d.Platform.Validate(); err != nil {
		return Version{}, fmt.Errorf("device: %w", err)
	}
	if d.Preliminary {
		known := d
		known.Platform, known.Ownership, known.Preliminary = "", "", false
		if known != (Device{}) {
			return Version{}, fmt.Errorf("%w: device: a preliminary decision knows platform and ownership only", storage.ErrInvalid)
		}
		switch d.Ownership {
		case OwnershipUnknown, OwnershipCompany, OwnershipPersonal:
			return Version{}, nil
		}
		return Version{}, fmt.Errorf("%w: device: unknown ownership %q (want company, personal or empty)", storage.ErrInvalid, string(d.Ownership))
	}
	v, err := ParseVersion(d.OSVersion)
	if err != nil {
		return Version{}, fmt.Errorf("device: %w", err)
	}
	switch {
	case d.Platform == Android && (d.APILevel < 1 || d.APILevel > maxAPILevel):
		return Version{}, fmt.Errorf("%w: device: Android API level %d is outside 1–%d", storage.ErrInvalid, d.APILevel, maxAPILevel)
	case d.Platform != Android && d.APILevel != 0:
		return Version{}, fmt.Errorf("%w: device: an API level is an Android fact, not %s", storage.ErrInvalid, d.Platform)
	case d.Platform != Android && (d.WorkProfile || d.Knox):
		return Version{}, fmt.Errorf("%w: device: work profile and Knox support are Android facts, not %s", storage.ErrInvalid, d.Platform)
	}
	switch d.Ownership {
	case OwnershipUnknown, OwnershipCompany, OwnershipPersonal:
	default:
		return Version{}, fmt.Errorf("%w: device: unknown ownership %q (want company, personal or empty)", storage.ErrInvalid, string(d.Ownership))
	}
	if err := checkText("device model", d.Model, maxDeviceFieldLen, false, false); err != nil {
		return Version{}, err
	}
	if err := checkText("device manufacturer", d.Manufacturer, maxDeviceFieldLen, false, false); err != nil {
		return Version{}, err
	}
	return v, nil
}

func (u User) validate() error {
	if len(u.Groups) > MaxUserGroups {
		return fmt.Errorf("%w: user is in %d groups, at most %d are considered", storage.ErrInvalid, len(u.Groups), MaxUserGroups)
	}
	return nil
}
