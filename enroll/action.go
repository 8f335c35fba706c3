package enroll

import (
	"context"
	"fmt"

	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// MaxActionCommands bounds the commands one device action queues: a
// deprovision queues one per managed app and profile, plus the MDM profile.
const MaxActionCommands = 1000

// ActionCommand is one command of a device action with the audit entry
// that records queueing it.
type ActionCommand struct {
	Command Command
	Entry   storage.AuditEntry
}

// DeviceAction is everything one device action writes: an optional state
// change and the commands it queues for the device.
type DeviceAction struct {
	Org    storage.OrgID
	Device string
	// From lists the states the stored device must be in; empty means any
	// state that is not terminal.
	From []inventory.State
	// To is the state to move the device to; empty, or the stored state,
	// leaves the state (and StateEntry) alone.
	To         inventory.State
	StateEntry storage.AuditEntry
	// Commands are queued in this order.
	Commands []ActionCommand
	// Token, when set, is applied to the device's enrollment as
	// EnrollmentStore.UpdateToken would, after the state check: the
	// TokenUpdate that completes an enrollment, stored with what the
	// completion queues (a device without an enrollment is ErrNotFound).
	Token *TokenUpdate
	// Policy, when set, is the device's policy record (policy.Applied,
	// Version 0: what its enrollment gave it), written with the action
	// when the device has none yet, with PolicyEntry appended after the
	// commands' entries, as ota.ReapplyStore.ApplyPolicy would with no
	// command. A device that has a record keeps it, and PolicyEntry is
	// not written: the completion of an enrollment records the policy
	// the device enrolled under without overwriting a later decision.
	Policy      *policy.Applied
	PolicyEntry storage.AuditEntry
	// Installs are the app store's records of the installs the action
	// starts (see AppInstall), written after the policy record.
	Installs []AppInstall
}

// AppInstall is the app store's record of an install that a device action
// starts: its InstallApplication command is one of the action's Commands.
// It is stored as catalog.InstallQueuer.QueueInstall stores a first
// request for the app on the device (progress queued), with Entry: an app
// not in the catalog is ErrNotFound, a request already recorded for the
// app on the device ErrConflict.
type AppInstall struct {
	AppID   string
	Command string // the UUID of the action's command that carries it
	// TakeOver and BundleVersion are as in catalog.Install.
	TakeOver      bool
	BundleVersion string
	Entry         storage.AuditEntry
}

// Validate checks what every backend checks before writing anything.
func (a DeviceAction) Validate() error {
	switch {
	case a.Org == "":
		return fmt.Errorf("%w: device action: no org", storage.ErrInvalid)
	case a.Device == "" || len(a.Device) > MaxDeviceID:
		return fmt.Errorf("%w: device action: device ID must be 1-%d bytes", storage.ErrInvalid, MaxDeviceID)
	case len(a.Commands) == 0 || len(a.Commands) > MaxActionCommands:
		return fmt.Errorf("%w: device action: %d commands, want 1-%d", storage.ErrInvalid, len(a.Commands), MaxActionCommands)
	case a.To != "" && !a.To.Valid():
		return fmt.Errorf("%w: device action: unknown state %q", storage.ErrInvalid, a.To)
	}
	if a.Token != nil {
		if err := a.Token.Validate(); err != nil {
			return fmt.Errorf("device action: %w", err)
		}
	}
	if p := a.Policy; p != nil {
		if err := p.Validate(); err != nil {
			return fmt.Errorf("device action: %w", err)
		}
		if p.Org != a.Org || p.Device != a.Device || p.Version != 0 {
			return fmt.Errorf("%w: device action: the policy record must be a new one (version 0) of the action's device", storage.ErrInvalid)
		}
	}
	for _, f := range a.From {
		if !f.Valid() {
			return fmt.Errorf("%w: device action: unknown state %q", storage.ErrInvalid, f)
		}
	}
	seen := make(map[string]struct{}, len(a.Commands))
	for i, c := range a.Commands {
		if err := c.Command.Validate(); err != nil {
			return fmt.Errorf("device action: command %d: %w", i, err)
		}
		if _, dup := seen[c.Command.UUID]; dup {
			return fmt.Errorf("%w: device action: command %s twice", storage.ErrInvalid, c.Command.UUID)
		}
		seen[c.Command.UUID] = struct{}{}
	}
	for _, in := range a.Installs {
		if _, ok := seen[in.Command]; !ok {
			return fmt.Errorf("%w: device action: install of app %q: command %q is not one of the action's", storage.ErrInvalid, in.AppID, in.Command)
		}
	}
	return nil
}

// CheckState reports whether a device stored in state from may take the
// action: ErrConflict (with inventory.ErrTransition) when it may not.
// Stores call it inside the transaction, before writing.
func (a DeviceAction) CheckState(from inventory.State) error {
	ok := len(a.From) == 0 && !from.Terminal()
	for _, f := range a.From {
		ok = ok || f == from
	}
	if !ok {
		return fmt.Errorf("device %q is %s: %w: %w", a.Device, from, inventory.ErrTransition, storage.ErrConflict)
	}
	if a.To != "" && a.To != from {
		return inventory.CheckTransition(from, a.To)
	}
	return nil
}

// ActionStore writes device actions (deprovision, erase, lock …) so that
// a crash or a refused command never leaves a device changed without its
// commands, or with only some of them. Every backend of this module
// implements it.
type ActionStore interface {
	// QueueDeviceAction does, in one transaction: look up the org's device
	// (another org's device, or an unknown one, is ErrNotFound); check
	// a.CheckState against its stored state (ErrConflict); move it to a.To
	// with a.StateEntry as UpdateDeviceState would (Version+1, Updated =
	// StateEntry.Time); apply a.Token to the device's enrollment (when
	// set); queue each command for the device, each with its
	// entry, as EnqueueCommand would (a UUID queued before is
	// ErrAlreadyExists); record a.Policy with a.PolicyEntry when the
	// device has no policy record (when set); record a.Installs. All of it happens or none of it: any error leaves
	// the store as it was. Concurrent calls for one device are serialized,
	// so of two that move it from the same state, the second sees the
	// first's state. It returns the device as stored afterwards. Invalid
	// input (a.Validate, bad audit entries) is ErrInvalid, before any
	// lookup.
	QueueDeviceAction(ctx context.Context, a DeviceAction) (inventory.Device, error)
}
