package android

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/openomm/omm/events"

	"github.com/openomm/omm/android/amapi"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

// Lock locks the device's screen.
func (s *Service) Lock(ctx context.Context, actor string, org storage.OrgID, id string) (Command, error) {
	return s.issue(ctx, actor, org, id, CommandLock, "")
}

// ResetPasscode clears the device's passcode; the policy then makes the user
// set a new one.
func (s *Service) ResetPasscode(ctx context.Context, actor string, org storage.OrgID, id string) (Command, error) {
	return s.issue(ctx, actor, org, id, CommandResetPasscode, "")
}

// Wipe removes the organization's data, deciding by ownership: a factory
// reset only where the device permits one (company-owned, not a work
// profile: inventory.Device.FactoryResetPermitted) and the policy allowed a
// full wipe; otherwise the work data only — on a personal work profile the
// work profile is removed, never the whole device. The device moves to
// deprovisioning now, and to wiped or deprovisioned when the command is
// done. A fully managed device that may not be factory reset yields
// ErrNotPermitted (see WipeKindsFor).
func (s *Service) Wipe(ctx context.Context, actor string, org storage.OrgID, id string) (Command, error) {
	return s.issue(ctx, actor, org, id, CommandWipe, "")
}

// RemoveWorkData asks for the work data only, even where a factory reset
// would be permitted: on a company-owned Knox or device-admin device the
// agent removes the managed apps and accounts and gives up its device
// admin, leaving the rest of the device as it is. A fully managed device
// has no personal side and leaves management only by a factory reset, so
// for it this is ErrNotPermitted.
func (s *Service) RemoveWorkData(ctx context.Context, actor string, org storage.OrgID, id string) (Command, error) {
	return s.issue(ctx, actor, org, id, CommandWipe, WipeWorkData)
}

// FactoryReset asks for a factory reset, which is ErrNotPermitted unless
// the device's ownership and enrollment type permit one and its policy
// allowed a full wipe.
func (s *Service) FactoryReset(ctx context.Context, actor string, org storage.OrgID, id string) (Command, error) {
	return s.issue(ctx, actor, org, id, CommandWipe, WipeFactoryReset)
}

// WipeKindFor says what a wipe of d does when the caller does not choose.
func WipeKindFor(inv inventory.Device, d Device) WipeKind {
	if inv.FactoryResetPermitted() && d.Requirements.AllowFullWipe {
		return WipeFactoryReset
	}
	return WipeWorkData
}

// WipeKindsFor lists the wipes d allows, the default (WipeKindFor) first:
// the work data wherever there is a personal side to keep (never on a fully
// managed device, which the Android Management API can only factory reset),
// a factory reset where ownership, enrollment type and policy permit one.
// Empty means none: a fully managed device whose policy forbids a full
// wipe stays managed until the policy changes.
func WipeKindsFor(inv inventory.Device, d Device) []WipeKind {
	var kinds []WipeKind
	reset := inv.FactoryResetPermitted() && d.Requirements.AllowFullWipe
	if reset {
		kinds = append(kinds, WipeFactoryReset)
	}
	if d.Type != inventory.EnrollAndroidFullyManaged {
		kinds = append(kinds, WipeWorkData)
	}
	return kinds
}

// issue creates a command; for a wipe, want chooses its kind ("" for the
// default).
func (s *Service) issue(ctx context.Context, actor string, org storage.OrgID, id string, kind CommandKind, want WipeKind) (Command, error) {
	d, err := s.store.AndroidDevice(ctx, org, id)
	if err != nil {
		return Command{}, err
	}
	inv, err := s.reg.Device(ctx, org, id)
	if err != nil {
		return Command{}, err
	}
	switch {
	case inv.State == inventory.StateEnrolled:
	case inv.State == inventory.StateDeprovisioning && kind == CommandWipe: // a retry after a failed wipe
	default:
		return Command{}, fmt.Errorf("%w: device %s is %s", ErrNotPermitted, id, inv.State)
	}
	if d.Channel() == ChannelAMAPI && s.provider == nil {
		return Command{}, ErrNoProvider
	}
	c := Command{ID: NewCommandID(), Org: org, DeviceID: id, Kind: kind, Status: StatusPending}
	if kind == CommandWipe {
		kinds := WipeKindsFor(inv, d)
		if want == "" && len(kinds) > 0 {
			want = kinds[0]
		}
		if !slices.Contains(kinds, want) {
			return Command{}, fmt.Errorf("%w: %s", ErrNotPermitted, wipeRefusal(d, want))
		}
		c.Wipe = want
	}
	details := map[string]string{"kind": string(kind)}
	if c.Wipe != "" {
		details["wipe"] = string(c.Wipe)
	}
	entry := s.entry(org, actor, ActionCommandCreate, "device:"+id, details)
	switch {
	case kind == CommandLock:
		entry.Event = events.LockRequested
	case kind == CommandWipe && c.Wipe == WipeFactoryReset:
		entry.Event = events.WipeRequested
	}
	if kind == CommandWipe {
		state := s.entry(org, actor, inventory.ActionDeviceStatePrefix+string(inventory.StateDeprovisioning), "device:"+id,
			map[string]string{"state": string(inventory.StateDeprovisioning), "reason": "wipe requested: " + string(c.Wipe)})
		state.Event = events.ForState(string(inventory.StateDeprovisioning))
		c, err = s.store.StartAndroidWipe(ctx, c, entry, state)
	} else {
		c, err = s.store.CreateAndroidCommand(ctx, c, entry)
	}
	if err != nil {
		return Command{}, err
	}
	if d.Channel() == ChannelAgent {
		return c, nil // the agent fetches it
	}
	return s.send(ctx, d, c)
}

// ResendWipes sends the device's pending wipes to the Android Management
// API again, and returns how many it sent: what completes a wipe that was
// stored but, the process having stopped, never reached the provider.
// Deleting a device twice is harmless (the second finds none and counts as
// done); a factory reset not yet confirmed is asked for again. Agent
// devices fetch their commands themselves: none is sent.
func (s *Service) ResendWipes(ctx context.Context, org storage.OrgID, id string) (int, error) {
	d, err := s.store.AndroidDevice(ctx, org, id)
	if err != nil {
		return 0, err
	}
	if d.Channel() != ChannelAMAPI {
		return 0, nil
	}
	if s.provider == nil {
		return 0, ErrNoProvider
	}
	pending, err := s.store.PendingAndroidCommands(ctx, org, id)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range pending {
		if c.Kind != CommandWipe {
			continue
		}
		if _, err := s.send(ctx, d, c); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// send issues a stored command through the provider and settles it when
// the provider answers at once.
func (s *Service) send(ctx context.Context, d Device, c Command) (Command, error) {
	done, detail := s.sendProvider(ctx, d, c)
	if !done && detail == "" {
		return c, nil // the operation runs: FinishCommand settles it
	}
	status := StatusDone
	if detail != "" {
		status = StatusFailed
	}
	return s.FinishCommand(ctx, "system", d.Org, c.ID, status, detail)
}

// sendProvider issues c through the Android Management API. It reports
// whether the command is done, or the failure's detail.
func (s *Service) sendProvider(ctx context.Context, d Device, c Command) (done bool, detail string) {
	var op amapi.Operation
	var err error
	switch {
	case c.Kind == CommandLock:
		op, err = s.provider.IssueCommand(ctx, d.ProviderName, amapi.Command{Type: amapi.CommandLock})
	case c.Kind == CommandResetPasscode:
		op, err = s.provider.IssueCommand(ctx, d.ProviderName, amapi.Command{Type: amapi.CommandResetPassword})
	case c.Wipe == WipeFactoryReset:
		op, err = s.provider.IssueCommand(ctx, d.ProviderName, amapi.Command{Type: amapi.CommandWipe})
	default:
		// Deleting a work-profile device removes the work profile only; a
		// device the provider no longer knows has nothing of ours left.
		err = s.provider.DeleteDevice(ctx, d.ProviderName)
		if errors.Is(err, amapi.ErrNotFound) {
			err = nil
		}
		op.Done = err == nil
	}
	switch {
	case err != nil:
		s.log.WarnContext(ctx, "android: provider command failed", "org", d.Org, "device", d.ID, "kind", c.Kind, "err", err)
		return false, truncate(err.Error())
	case op.Error != "":
		return false, truncate(op.Error)
	}
	return op.Done, ""
}

// Commands returns the device's pending commands, oldest first. Commands
// to Android Management API devices go through the provider, so the agent
// there has none.
func (s *Service) Commands(ctx context.Context, d Device) ([]Command, error) {
	if d.Channel() != ChannelAgent {
		return []Command{}, nil
	}
	return s.store.PendingAndroidCommands(ctx, d.Org, d.ID)
}

// Acknowledge records the agent's result for one of its own commands.
// A command of another device is ErrNotFound.
func (s *Service) Acknowledge(ctx context.Context, d Device, cmdID string, status Status, detail string) (Command, error) {
	c, err := s.store.AndroidCommand(ctx, d.Org, cmdID)
	if err != nil {
		return Command{}, err
	}
	if c.DeviceID != d.ID || d.Channel() != ChannelAgent {
		return Command{}, fmt.Errorf("command %q: %w", cmdID, storage.ErrNotFound)
	}
	return s.FinishCommand(ctx, "device:"+d.ID, d.Org, cmdID, status, detail)
}

// FinishCommand settles a pending command as done or failed (an agent's
// acknowledgement, or the embedder's handler of a provider operation). A
// replay of the same outcome returns the stored command; a different
// outcome for a settled command yields storage.ErrConflict. A wipe that is
// done moves the device to wiped (factory reset) or deprovisioned.
func (s *Service) FinishCommand(ctx context.Context, actor string, org storage.OrgID, id string, status Status, detail string) (Command, error) {
	if err := CheckFinish(status, detail); err != nil {
		return Command{}, err
	}
	entry := s.entry(org, actor, ActionCommandPrefix+string(status), "command:"+id, nil)
	if stored, err := s.store.AndroidCommand(ctx, org, id); err == nil {
		entry.Details = map[string]string{"device": stored.DeviceID, "kind": string(stored.Kind)}
		if stored.Kind == CommandLock && status == StatusDone {
			entry.Event = events.LockAcknowledged
		}
	}
	c, err := s.store.FinishAndroidCommand(ctx, org, id, status, detail, entry)
	if errors.Is(err, storage.ErrConflict) {
		stored, rerr := s.store.AndroidCommand(ctx, org, id)
		if rerr == nil && stored.Status == status {
			return stored, nil
		}
	}
	if err != nil {
		return Command{}, err
	}
	if c.Kind == CommandWipe && status == StatusDone {
		to, why := inventory.StateDeprovisioned, "work data removed"
		if c.Wipe == WipeFactoryReset {
			to, why = inventory.StateWiped, "factory reset done"
		}
		if _, err := s.inv.SetState(ctx, org, c.DeviceID, to, actor, why); err != nil {
			return c, err
		}
	}
	return c, nil
}

// wipeRefusal explains why a wipe of kind want is not possible for d.
func wipeRefusal(d Device, want WipeKind) string {
	switch {
	case want == WipeFactoryReset && d.Ownership != inventory.OwnershipCompany:
		return "a personally owned device is never factory reset; remove the work data instead"
	case want == WipeFactoryReset && !d.Requirements.AllowFullWipe:
		return "the device's policy does not allow a factory reset"
	case want == WipeFactoryReset:
		return "this enrollment type cannot be factory reset"
	case want == WipeWorkData && d.Type == inventory.EnrollAndroidFullyManaged:
		return "a fully managed device has no personal side: Android ends its management only with a factory reset, which needs a policy that allows a full wipe"
	default:
		return fmt.Sprintf("unknown wipe kind %q", want)
	}
}

func truncate(s string) string {
	if len(s) > MaxDetailLen {
		s = s[:MaxDetailLen]
	}
	for !validUTF8(s) {
		s = s[:len(s)-1]
	}
	return s
}
