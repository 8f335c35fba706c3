package checkin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/openomm/omm/events"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/mdm"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

// ErrNotPermitted: the action is refused for this device; the message says
// why (policy, ownership, enrollment type, device state).
var ErrNotPermitted = errors.New("checkin: action not permitted")

// queue queues commands for one device, in order, audited as action by
// actor, and wakes the device: see [Service.act].
func (s *Service) queue(ctx context.Context, d inventory.Device, actor, action string, cmds ...mdm.Command) error {
	_, err := s.act(ctx, d, "", actor, action, "", cmds...)
	return err
}

// act stores a device action in one transaction: the move to state to
// (none when empty), audited with reason, and every command, each audited
// as action by actor; then it wakes the device. Nothing is stored unless
// all of it is. A state change requires the device to be still in the
// state it was read in (d.State), so that of two concurrent actions that
// read it in the same state and change it, one is refused (ErrConflict)
// instead of both queueing their commands; otherwise the device must not
// have become terminal meanwhile.
func (s *Service) act(ctx context.Context, d inventory.Device, to inventory.State, actor, action, reason string, cmds ...mdm.Command) (inventory.Device, error) {
	queued := make([]queuedCommand, len(cmds))
	for i, c := range cmds {
		queued[i] = queuedCommand{action: action, cmd: c}
	}
	return s.actAll(ctx, d, to, actor, actor, reason, queued, nil)
}

// queuedCommand is a command of a device action and the audit action that
// records queueing it.
type queuedCommand struct {
	action string
	cmd    mdm.Command
}

// actAll is act with an audit action per command, the state change
// audited as stateActor (the device itself when it completes enrollment)
// and, when token is set, the device's TokenUpdate in the same
// transaction.
func (s *Service) actAll(ctx context.Context, d inventory.Device, to inventory.State, stateActor, actor, reason string, cmds []queuedCommand, token *enroll.TokenUpdate) (inventory.Device, error) {
	return s.actAllWith(ctx, d, to, stateActor, actor, reason, cmds, token, nil)
}

// actAllWith is actAll with extend (unless nil) adding to the action
// before it is stored.
func (s *Service) actAllWith(ctx context.Context, d inventory.Device, to inventory.State, stateActor, actor, reason string, cmds []queuedCommand, token *enroll.TokenUpdate, extend func(*enroll.DeviceAction)) (inventory.Device, error) {
	a := enroll.DeviceAction{Org: d.Org, Device: d.ID, To: to, Token: token}
	now := s.clock()
	if to != "" && to != d.State {
		a.From = []inventory.State{d.State}
		a.StateEntry = storage.AuditEntry{Org: d.Org, Time: now, Actor: stateActor, Action: inventory.ActionDeviceStatePrefix + string(to), Target: "device:" + d.ID,
			Details: map[string]string{"state": string(to)}, Event: events.ForState(string(to))}
		if reason != "" {
			a.StateEntry.Details["reason"] = reason
		}
	}
	for _, q := range cmds {
		body, err := q.cmd.Encode()
		if err != nil {
			return d, err
		}
		a.Commands = append(a.Commands, enroll.ActionCommand{
			Command: enroll.Command{UUID: q.cmd.UUID, RequestType: q.cmd.RequestType, Body: body},
			Entry: storage.AuditEntry{Org: d.Org, Time: now, Actor: actor, Action: q.action, Target: "device:" + d.ID,
				Details: map[string]string{"command": q.cmd.RequestType, "request_type": q.cmd.RequestType, "uuid": q.cmd.UUID},
				Event:   commandEvent(q.cmd.RequestType)},
		})
	}
	if extend != nil {
		extend(&a)
	}
	d, err := s.store.QueueDeviceAction(ctx, a)
	if err != nil {
		return d, err
	}
	s.wake(ctx, d.Org, d.ID) // an action has commands: it recorded its push
	return d, nil
}

// commandEvent is the event of queueing a command of requestType: a lock
// and an erase are what a consumer watches for; the rest are commands.
func commandEvent(requestType string) events.Kind {
	switch requestType {
	case "DeviceLock":
		return events.LockRequested
	case "EraseDevice":
		return events.WipeRequested
	}
	return events.CommandQueued
}

// appleDevice returns the device if it is an Apple device this service can
// still send commands to.
func (s *Service) appleDevice(ctx context.Context, org storage.OrgID, id string) (inventory.Device, error) {
	d, err := s.devices.Device(ctx, org, id)
	if err != nil {
		return d, err
	}
	if !d.Platform.Apple() {
		return d, fmt.Errorf("%w: device %s is not an Apple device", ErrNotPermitted, id)
	}
	if d.State.Terminal() {
		return d, fmt.Errorf("%w: device %s is %s", ErrNotPermitted, id, d.State)
	}
	return d, nil
}

// RefreshInventory queues the inventory commands the privacy contract
// derives (inventory.AppleRefresh), nothing more.
func (s *Service) RefreshInventory(ctx context.Context, org storage.OrgID, id, actor string) error {
	d, err := s.appleDevice(ctx, org, id)
	if err != nil {
		return err
	}
	cmds, err := inventoryCommands(d.Platform)
	if err != nil {
		return err
	}
	return s.queue(ctx, d, actor, ActionInventoryRefresh, cmds...)
}

// RefreshAll queues an inventory query (DeviceInformation) to every one of
// devices that is an enrolled Apple device of org, as one fan-out per
// platform (one command, audit entry and event for up to
// enroll.MaxFanOut devices), and returns the IDs it queued for. It wakes
// nobody: the queue records the devices in the push outbox in the same
// transaction, so the caller's Wake or any replica's drain pushes them,
// even when this process dies right after.
func (s *Service) RefreshAll(ctx context.Context, org storage.OrgID, devices []inventory.Device, actor string) ([]string, error) {
	byPlatform := map[inventory.Platform][]string{}
	var platforms []inventory.Platform
	for _, d := range devices {
		if d.Org != org || !d.Platform.Apple() || d.State != inventory.StateEnrolled {
			continue
		}
		if byPlatform[d.Platform] == nil {
			platforms = append(platforms, d.Platform)
		}
		byPlatform[d.Platform] = append(byPlatform[d.Platform], d.ID)
	}
	var queued []string
	for _, p := range platforms {
		ids := byPlatform[p]
		for start := 0; start < len(ids); start += enroll.MaxFanOut {
			chunk := ids[start:min(start+enroll.MaxFanOut, len(ids))]
			cmds, err := inventoryCommands(p)
			if err != nil {
				return queued, err
			}
			var cmd mdm.Command
			for _, c := range cmds {
				if c.RequestType == string(inventory.AppleDeviceInformation) {
					cmd = c
				}
			}
			if cmd.UUID == "" {
				return queued, fmt.Errorf("checkin: no DeviceInformation query for %s", p)
			}
			body, err := cmd.Encode()
			if err != nil {
				return queued, err
			}
			entry := storage.AuditEntry{Org: org, Time: s.clock(), Actor: actor, Action: ActionInventoryRefresh,
				Details: map[string]string{"command": cmd.RequestType, "request_type": cmd.RequestType, "uuid": cmd.UUID,
					"devices": strconv.Itoa(len(chunk)), "platform": string(p)},
				Event: events.CommandQueued}
			if err := s.store.EnqueueCommand(ctx, org, chunk, enroll.Command{UUID: cmd.UUID, RequestType: cmd.RequestType, Body: body}, entry); err != nil {
				return queued, err
			}
			queued = append(queued, chunk...)
		}
	}
	return queued, nil
}

// inventoryCommands builds the commands of an inventory refresh of a
// device of platform p.
func inventoryCommands(p inventory.Platform) ([]mdm.Command, error) {
	var cmds []mdm.Command
	for _, q := range inventory.AppleRefresh(p) {
		switch q.RequestType {
		case inventory.AppleDeviceInformation:
			cmds = append(cmds, mdm.DeviceInformation(q.Queries))
		case inventory.AppleSecurityInfo:
			cmds = append(cmds, mdm.SecurityInfo())
		case inventory.AppleManagedApplicationList:
			cmds = append(cmds, mdm.ManagedApplicationList())
		case inventory.AppleInstalledApplicationList:
			cmds = append(cmds, mdm.InstalledApplicationList(false))
		case inventory.AppleProfileList:
			cmds = append(cmds, mdm.ProfileList(q.ManagedOnly))
		default:
			return nil, fmt.Errorf("checkin: inventory asks for %s, which this service cannot send", q.RequestType)
		}
	}
	return cmds, nil
}

// Deprovision removes only the work data from the device: each managed app,
// each profile the org installed, and finally the MDM profile itself, which
// unenrolls the device. The device is deprovisioning until it checks out
// (an offline device stays so, honestly); personal data is never touched.
func (s *Service) Deprovision(ctx context.Context, org storage.OrgID, id, actor, reason string) error {
	d, err := s.appleDevice(ctx, org, id)
	if err != nil {
		return err
	}
	apps, err := s.devices.DeviceApps(ctx, org, id)
	if err != nil {
		return err
	}
	var cmds []mdm.Command
	for _, a := range apps {
		if a.Managed {
			cmds = append(cmds, mdm.RemoveApplication(a.Identifier))
		}
	}
	mdmProfile := enroll.MDMProfileIdentifier(org)
	for _, p := range s.managedProfiles(ctx, d) {
		if p != mdmProfile {
			cmds = append(cmds, mdm.RemoveProfile(p))
		}
	}
	cmds = append(cmds, mdm.RemoveProfile(mdmProfile))
	// The state change and every command are one transaction: a crash or a
	// refused command never leaves the device deprovisioning without its
	// commands. A device already deprovisioning gets the commands again
	// (an explicit retry, e.g. after they expired unanswered).
	d, err = s.act(ctx, d, inventory.StateDeprovisioning, actor, ActionDeprovision, reason, cmds...)
	if err != nil {
		return err
	}
	s.emit(ctx, Deprovisioning, d)
	return nil
}

// managedProfiles lists the identifiers of the profiles the device reported
// as installed by this server.
func (s *Service) managedProfiles(ctx context.Context, d inventory.Device) []string {
	values, err := s.devices.DeviceValues(ctx, d.Org, d.ID)
	if err != nil {
		s.log.WarnContext(ctx, "checkin: read managed profiles", "device", d.ID, "err", err)
		return nil
	}
	for _, v := range values {
		if v.Key == inventory.KeyManagedProfiles {
			var ids []string
			if json.Unmarshal([]byte(v.Value), &ids) == nil {
				return ids
			}
		}
	}
	return nil
}

// Erase queues a full erase (factory reset). It is refused unless the
// policy allows full wipe and the device's ownership and enrollment type
// permit it (never on a personal or user-enrolled device).
func (s *Service) Erase(ctx context.Context, org storage.OrgID, id, actor string, policyAllows bool) error {
	d, err := s.appleDevice(ctx, org, id)
	if err != nil {
		return err
	}
	switch {
	case !policyAllows:
		return fmt.Errorf("%w: the device's policy does not allow wiping all device data", ErrNotPermitted)
	case !d.FactoryResetPermitted():
		return fmt.Errorf("%w: a %s device enrolled as %s may only lose its work data", ErrNotPermitted, d.Ownership, d.EnrollmentType)
	}
	return s.queue(ctx, d, actor, ActionErase, mdm.EraseDevice())
}

// Lock locks the device's screen, showing message and phone number.
func (s *Service) Lock(ctx context.Context, org storage.OrgID, id, actor, message, phone string) error {
	d, err := s.appleDevice(ctx, org, id)
	if err != nil {
		return err
	}
	return s.queue(ctx, d, actor, ActionLock, mdm.DeviceLock(message, phone))
}

// ClearPasscode removes the device passcode with the escrowed unlock token.
func (s *Service) ClearPasscode(ctx context.Context, org storage.OrgID, id, actor string) error {
	d, err := s.appleDevice(ctx, org, id)
	if err != nil {
		return err
	}
	e, err := s.store.Enrollment(ctx, org, id)
	if err != nil {
		return err
	}
	cmd, err := mdm.ClearPasscode(e.UnlockToken)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotPermitted, err)
	}
	return s.queue(ctx, d, actor, ActionPasscodeClear, cmd)
}

// Actions lists the device's latest commands with their state, newest
// first: an offline device shows its actions as pending.
func (s *Service) Actions(ctx context.Context, org storage.OrgID, id string, limit int) ([]enroll.QueuedCommand, error) {
	if _, err := s.devices.Device(ctx, org, id); err != nil {
		return nil, err
	}
	return s.store.Commands(ctx, org, id, limit)
}

// afterAction applies what an acknowledged device action means for the
// device's state.
func (s *Service) afterAction(ctx context.Context, d inventory.Device, q enroll.QueuedCommand) error {
	if q.Status != enroll.StatusAcknowledged || q.RequestType != "EraseDevice" {
		return nil
	}
	d, err := s.devices.SetState(ctx, d.Org, d.ID, inventory.StateWiped, "device:"+d.Identifier, "the device acknowledged the erase")
	if err != nil {
		return err
	}
	s.emit(ctx, Wiped, d)
	return nil
}
