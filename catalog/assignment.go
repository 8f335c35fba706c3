package catalog

import (
	"fmt"
	"time"

	"github.com/openomm/omm/storage"
)

// Mode is how an assigned app is distributed to a group's members.
type Mode string

const (
	// Available: the app is listed in the member's store; the member
	// installs it when they choose.
	Available Mode = "available"
	// AutoInstall: the app is installed when a member's device enrolls (or
	// at once on devices already enrolled when the assignment is made).
	// The device may prompt the user, who may decline. A copy the user
	// installed themselves is left alone and flagged as unmanaged.
	AutoInstall Mode = "install"
	// TakeOver: like AutoInstall, and where the device allows it a copy
	// the user installed themselves is taken over as managed instead of
	// being flagged (see [TakeOverSupported]).
	TakeOver Mode = "take_over"
)

// Valid reports whether m is one of the defined modes.
func (m Mode) Valid() bool { return m == Available || m == AutoInstall || m == TakeOver }

// rank orders modes by how much they do, so that an app assigned to
// several of a user's groups gets the strongest of their modes.
func (m Mode) rank() int {
	switch m {
	case AutoInstall:
		return 1
	case TakeOver:
		return 2
	}
	return 0
}

// MaxGroupIDLen bounds a group ID (the directory's identifier).
const MaxGroupIDLen = storage.MaxIDLen

// Assignment makes an app part of the store of a directory group's
// members.
type Assignment struct {
	Org   storage.OrgID
	AppID string
	// Group is the directory's group ID.
	Group string
	Mode  Mode
	// Version counts changes: 1 after creation, +1 per update.
	Version int64
	Created time.Time
	Updated time.Time
}

// Validate checks the fields a caller supplies.
func (a Assignment) Validate() error {
	if err := a.Org.Validate(); err != nil {
		return fmt.Errorf("assignment: %w", err)
	}
	if err := validateID("app id", a.AppID); err != nil {
		return err
	}
	if err := validateText("group id", a.Group, MaxGroupIDLen, true, false); err != nil {
		return err
	}
	if !a.Mode.Valid() {
		return fmt.Errorf("%w: unknown distribution mode %q (want %s, %s or %s)", storage.ErrInvalid, a.Mode, Available, AutoInstall, TakeOver)
	}
	return nil
}

// Normalize returns a with its times as stores keep them.
func (a Assignment) Normalize() Assignment {
	a.Created = normalizeOrZero(a.Created)
	a.Updated = normalizeOrZero(a.Updated)
	return a
}

// AssignedApp is an app with its assignments to the groups asked about.
type AssignedApp struct {
	App         App
	Assignments []Assignment // ordered by group
}

// Mode is the strongest mode among the assignments.
func (a AssignedApp) Mode() Mode {
	m := Available
	for _, as := range a.Assignments {
		if as.Mode.rank() > m.rank() {
			m = as.Mode
		}
	}
	return m
}
