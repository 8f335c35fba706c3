package android

import (
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

// CommandKind is what a command asks the device to do.
type CommandKind string

const (
	CommandLock CommandKind = "lock"
	// CommandResetPasscode clears the passcode; the policy then makes the
	// user set a new one. The SDK never holds a user's passcode.
	CommandResetPasscode CommandKind = "reset_passcode"
	CommandWipe          CommandKind = "wipe"
)

// WipeKind says what a wipe removes.
type WipeKind string

const (
	// WipeFactoryReset erases the whole device: company-owned devices only.
	WipeFactoryReset WipeKind = "factory_reset"
	// WipeWorkData removes only the organization's data: the work profile
	// (Android Management API devices.delete) or, in the legacy modes, the
	// managed apps and the agent's device admin. Personal data is never
	// touched.
	WipeWorkData WipeKind = "work_data"
)

// Status is where a command is.
type Status string

const (
	// StatusPending: issued, not confirmed. An offline device shows this,
	// honestly, until it reports back.
	StatusPending Status = "pending"
	StatusDone    Status = "done"
	StatusFailed  Status = "failed"
)

// Command is one command to one device.
type Command struct {
	ID       string
	Org      storage.OrgID
	DeviceID string
	Kind     CommandKind
	// Wipe is set for CommandWipe only.
	Wipe   WipeKind
	Status Status
	// Detail is the device's or the provider's message (why it failed).
	Detail  string
	Created time.Time
	Updated time.Time
}

// NewCommandID returns a fresh random command ID (128 bits).
func NewCommandID() string { return "cmd_" + strings.ToLower(rand.Text()) }

// Validate checks the fields a caller supplies at creation; errors wrap
// storage.ErrInvalid.
func (c Command) Validate() error {
	if c.ID == "" || len(c.ID) > 64 {
		return fmt.Errorf("%w: command id must be 1–64 bytes", storage.ErrInvalid)
	}
	if err := c.Org.Validate(); err != nil {
		return err
	}
	if c.DeviceID == "" || len(c.DeviceID) > inventory.MaxDeviceIDLen {
		return fmt.Errorf("%w: command device id must be 1–%d bytes", storage.ErrInvalid, inventory.MaxDeviceIDLen)
	}
	switch c.Kind {
	case CommandLock, CommandResetPasscode:
		if c.Wipe != "" {
			return fmt.Errorf("%w: only a wipe has a wipe kind", storage.ErrInvalid)
		}
	case CommandWipe:
		if c.Wipe != WipeFactoryReset && c.Wipe != WipeWorkData {
			return fmt.Errorf("%w: unknown wipe kind %q", storage.ErrInvalid, c.Wipe)
		}
	default:
		return fmt.Errorf("%w: unknown command kind %q", storage.ErrInvalid, c.Kind)
	}
	if c.Status != StatusPending {
		return fmt.Errorf("%w: a new command is pending", storage.ErrInvalid)
	}
	return checkText("command detail", c.Detail, MaxDetailLen)
}

// CheckFinish validates the outcome of a command.
func CheckFinish(status Status, detail string) error {
	if status != StatusDone && status != StatusFailed {
		return fmt.Errorf("%w: a command finishes done or failed, not %q", storage.ErrInvalid, status)
	}
	return checkText("command detail", detail, MaxDetailLen)
}

// Normalize returns c as stores keep it.
func (c Command) Normalize() Command {
	c.Created = storage.Normalize(c.Created)
	c.Updated = storage.Normalize(c.Updated)
	return c
}
