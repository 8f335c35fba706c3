package sqlstore

import (
	"context"
	"fmt"

	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/events"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// QueueDeviceAction implements enroll.ActionStore: the state change and
// every command commit in one transaction, on the device row locked, so
// that concurrent actions on one device apply one after the other.
func (s *Store) QueueDeviceAction(ctx context.Context, a enroll.DeviceAction) (inventory.Device, error) {
	a, err := actionEntries(a)
	if err != nil {
		return inventory.Device{}, err
	}
	installs := make([]catalog.Install, len(a.Installs))
	for i, in := range a.Installs {
		installs[i] = catalog.Install{Org: a.Org, Device: a.Device, AppID: in.AppID, Command: in.Command, Progress: catalog.Queued,
			TakeOver: in.TakeOver, BundleVersion: in.BundleVersion, Updated: in.Entry.Time}
		if err := catalog.ValidateStart(installs[i], ""); err != nil {
			return inventory.Device{}, err
		}
	}
	var d inventory.Device
	err = s.write(ctx, func(tx tx) error {
		d, err = tx.lockDevice(ctx, a.Org, a.Device, "device action on %q")
		if err != nil {
			return err
		}
		if err := a.CheckState(d.State); err != nil {
			return err
		}
		if a.To != "" && a.To != d.State {
			d.State, d.Version, d.Updated = a.To, d.Version+1, a.StateEntry.Time
			if _, err := tx.exec(ctx, "UPDATE {devices} SET state = ?, version = ?, updated_us = ? WHERE org_id = ? AND id = ?",
				d.State, d.Version, micros(d.Updated), a.Org, a.Device); err != nil {
				return fmt.Errorf("sqlstore: device action: %w", err)
			}
			if a.To.Terminal() {
				if err := tx.invClear(ctx, a.Org, a.Device); err != nil {
					return err
				}
			}
			if _, err := tx.appendAudit(ctx, a.StateEntry); err != nil {
				return err
			}
		}
		if a.Token != nil {
			if _, err := tx.changeEnrollment(ctx, a.Org, a.Device, func(e *enroll.Enrollment) error { a.Token.Apply(e); return nil }); err != nil {
				return err
			}
		}
		// Each command as EnqueueCommand would queue it; the device's
		// push-outbox row once, as the first command would leave it.
		for _, c := range a.Commands {
			if _, err := tx.appendAudit(ctx, c.Entry); err != nil {
				return err
			}
		}
		if err := tx.insertActionCommands(ctx, a.Org, a.Device, a.Commands); err != nil {
			return err
		}
		if err := tx.queuePushes(ctx, a.Org, []string{a.Device}, a.Commands[0].Entry.Time); err != nil {
			return err
		}
		if a.Policy != nil {
			if err := tx.recordFirstPolicy(ctx, *a.Policy, a.PolicyEntry); err != nil {
				return err
			}
		}
		for i, in := range installs {
			if err := tx.startInstall(ctx, in, "", a.Installs[i].Entry); err != nil {
				return err
			}
		}
		return nil
	})
	return done(d, err)
}

// recordFirstPolicy stores a (validated, version 0) as the device's policy
// record, with its audit entry e, when the device has none; a device that
// has one keeps it, and e is not written.
func (tx tx) recordFirstPolicy(ctx context.Context, a policy.Applied, e storage.AuditEntry) error {
	a = a.Normalize()
	n, err := tx.affected(ctx, `INSERT INTO {policy_applied} (org_id, device, policy, fingerprint, out_of_policy, version, updated_us)
		VALUES (?, ?, ?, ?, ?, 1, ?) ON CONFLICT (org_id, device) DO NOTHING`,
		a.Org, a.Device, a.Policy, a.Fingerprint, a.OutOfPolicy, micros(e.Time))
	if err != nil {
		return tx.s.fail("record applied policy", err)
	}
	if n == 0 {
		return nil
	}
	if a.OutOfPolicy != "" { // as ApplyPolicy: a device's compliance, when it changes, is an event
		tx.emit(events.Compliance(a.Org, a.Device, e.Actor, false, a.OutOfPolicy, e.Time))
	}
	_, err = tx.appendAudit(ctx, e)
	return err
}

// actionEntries validates a and returns it with its audit entries as
// stored.
func actionEntries(a enroll.DeviceAction) (enroll.DeviceAction, error) {
	if err := a.Validate(); err != nil {
		return a, err
	}
	var err error
	if a.To != "" {
		if a.StateEntry, err = changeEntry(a.Org, a.StateEntry); err != nil {
			return a, err
		}
	}
	cmds := make([]enroll.ActionCommand, len(a.Commands))
	for i, c := range a.Commands {
		if c.Entry, err = changeEntry(a.Org, c.Entry); err != nil {
			return a, err
		}
		cmds[i] = c
	}
	a.Commands = cmds
	if a.Policy != nil {
		if a.PolicyEntry, err = changeEntry(a.Org, a.PolicyEntry); err != nil {
			return a, err
		}
	}
	ins := make([]enroll.AppInstall, len(a.Installs))
	for i, in := range a.Installs {
		if in.Entry, err = changeEntry(a.Org, in.Entry); err != nil {
			return a, err
		}
		ins[i] = in
	}
	a.Installs = ins
	return a, nil
}
