package storagetest

import (
	"context"
	"testing"

	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage/memory"
)

// stateFirst commits the state change, then queues the commands one by
// one: a refused command leaves the device changed without (all of) its
// commands, as a crash between the writes would.
type stateFirst struct{ *memory.Store }

func (s stateFirst) QueueDeviceAction(ctx context.Context, a enroll.DeviceAction) (inventory.Device, error) {
	d, err := s.UpdateDeviceState(ctx, a.Org, a.Device, a.To, a.StateEntry)
	if err != nil {
		return d, err
	}
	for _, c := range a.Commands {
		if err := s.EnqueueCommand(ctx, a.Org, []string{a.Device}, c.Command, c.Entry); err != nil {
			return d, err
		}
	}
	return d, nil
}

// stateOnly commits the state and never queues the commands.
type stateOnly struct{ *memory.Store }

func (s stateOnly) QueueDeviceAction(ctx context.Context, a enroll.DeviceAction) (inventory.Device, error) {
	if err := a.Validate(); err != nil {
		return inventory.Device{}, err
	}
	return s.UpdateDeviceState(ctx, a.Org, a.Device, a.To, a.StateEntry)
}

// unguarded skips the state check, so concurrent deprovisions all queue.
type unguarded struct{ *memory.Store }

func (s unguarded) QueueDeviceAction(ctx context.Context, a enroll.DeviceAction) (inventory.Device, error) {
	a.From = nil
	a.To = ""
	return s.Store.QueueDeviceAction(ctx, a)
}

func TestSuiteCatchesBrokenDeviceAction(t *testing.T) {
	broken := map[string]func() Store{
		"state and commands in separate transactions": func() Store { return stateFirst{memory.New()} },
		"state without the commands":                  func() Store { return stateOnly{memory.New()} },
		"no state check":                              func() Store { return unguarded{memory.New()} },
	}
	expectCaught(t, broken, "DeviceAction/")
}

// tokenFirst stores the token in a transaction of its own before the
// action: a refused action leaves the token stored.
type tokenFirst struct{ *memory.Store }

func (s tokenFirst) QueueDeviceAction(ctx context.Context, a enroll.DeviceAction) (inventory.Device, error) {
	if a.Token != nil {
		if _, _, err := s.UpdateToken(ctx, a.Org, a.Device, *a.Token); err != nil {
			return inventory.Device{}, err
		}
		a.Token = nil
	}
	return s.Store.QueueDeviceAction(ctx, a)
}

// tokenIgnored never stores the token.
type tokenIgnored struct{ *memory.Store }

func (s tokenIgnored) QueueDeviceAction(ctx context.Context, a enroll.DeviceAction) (inventory.Device, error) {
	a.Token = nil
	return s.Store.QueueDeviceAction(ctx, a)
}

func TestSuiteCatchesBrokenActionToken(t *testing.T) {
	broken := map[string]func() Store{
		"the token in a transaction of its own": func() Store { return tokenFirst{memory.New()} },
		"the token ignored":                     func() Store { return tokenIgnored{memory.New()} },
	}
	expectCaught(t, broken, "DeviceAction/WithToken")
}

// policyIgnored never records the policy.
type policyIgnored struct{ *memory.Store }

func (s policyIgnored) QueueDeviceAction(ctx context.Context, a enroll.DeviceAction) (inventory.Device, error) {
	a.Policy = nil
	return s.Store.QueueDeviceAction(ctx, a)
}

// policyFirst records the policy in a transaction of its own before the
// action, overwriting a record the device has: a refused action leaves
// the record stored.
type policyFirst struct{ *memory.Store }

func (s policyFirst) QueueDeviceAction(ctx context.Context, a enroll.DeviceAction) (inventory.Device, error) {
	if p := a.Policy; p != nil {
		if cur, err := s.AppliedPolicy(ctx, a.Org, a.Device); err == nil {
			p.Version = cur.Version
		}
		if _, err := s.ApplyPolicy(ctx, *p, nil, a.PolicyEntry); err != nil {
			return inventory.Device{}, err
		}
		a.Policy = nil
	}
	return s.Store.QueueDeviceAction(ctx, a)
}

func TestSuiteCatchesBrokenActionPolicy(t *testing.T) {
	broken := map[string]func() Store{
		"the policy ignored": func() Store { return policyIgnored{memory.New()} },
		"the policy in a transaction of its own, overwrite": func() Store { return policyFirst{memory.New()} },
	}
	expectCaught(t, broken, "DeviceAction/WithPolicy")
}

// installsIgnored never records the installs.
type installsIgnored struct{ *memory.Store }

func (s installsIgnored) QueueDeviceAction(ctx context.Context, a enroll.DeviceAction) (inventory.Device, error) {
	a.Installs = nil
	return s.Store.QueueDeviceAction(ctx, a)
}

// installsAfter records the installs in transactions of their own after
// the action: an app the catalog does not have leaves the action stored.
type installsAfter struct{ *memory.Store }

func (s installsAfter) QueueDeviceAction(ctx context.Context, a enroll.DeviceAction) (inventory.Device, error) {
	ins := a.Installs
	a.Installs = nil
	d, err := s.Store.QueueDeviceAction(ctx, a)
	if err != nil {
		return d, err
	}
	for _, in := range ins {
		if _, err := s.StartInstall(ctx, catalog.Install{Org: a.Org, Device: a.Device, AppID: in.AppID, Command: in.Command,
			Progress: catalog.Queued, TakeOver: in.TakeOver, BundleVersion: in.BundleVersion, Updated: in.Entry.Time}, "", in.Entry); err != nil {
			return d, err
		}
	}
	return d, nil
}

func TestSuiteCatchesBrokenActionInstalls(t *testing.T) {
	broken := map[string]func() Store{
		"the installs ignored":                          func() Store { return installsIgnored{memory.New()} },
		"the installs in transactions after the action": func() Store { return installsAfter{memory.New()} },
	}
	expectCaught(t, broken, "DeviceAction/WithInstalls")
}
