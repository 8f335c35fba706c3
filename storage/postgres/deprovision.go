package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage/internal/rules"
)

// QueueDeviceAction implements checkin.ActionStore: the state change and
// every command commit in one transaction on the device row locked (FOR UPDATE), so concurrent actions on one
// device run one after the other.
func (s *Store) QueueDeviceAction(ctx context.Context, a checkin.DeviceAction) (inventory.Device, error) {
	a, err := actionEntries(a)
	if err != nil {
		return inventory.Device{}, err
	}
	list := []string{a.Device}
	var d inventory.Device
	err = s.write(ctx, func(tx pgx.Tx) error {
		d, err = invScanDevice(tx.QueryRow(ctx, "SELECT "+invDeviceColumns+" FROM devices WHERE org_id = $1 AND id = $2 FOR UPDATE", a.Org, a.Device))
		if err != nil {
			return notFound(err, "device action on %q", a.Device)
		}
		if err := a.CheckState(d.State); err != nil {
			return err
		}
		if a.To != "" && a.To != d.State {
			d.State, d.Version, d.Updated = a.To, d.Version+1, a.StateEntry.Time
			if _, err := tx.Exec(ctx, "UPDATE devices SET state = $1, version = $2, updated = $3 WHERE org_id = $4 AND id = $5",
				d.State, d.Version, d.Updated, a.Org, a.Device); err != nil {
				return fmt.Errorf("postgres: device action: %w", err)
			}
			if a.To.Terminal() {
				for _, table := range []string{"device_values", "device_apps"} {
					if _, err := tx.Exec(ctx, "DELETE FROM "+table+" WHERE org_id = $1 AND device_id = $2", a.Org, a.Device); err != nil {
						return fmt.Errorf("postgres: erase %s: %w", table, err)
					}
				}
			}
			if _, err := appendAudit(ctx, tx, a.StateEntry); err != nil {
				return err
			}
		}
		for _, c := range a.Commands {
			if err := enqueueTx(ctx, tx, a.Org, list, c.Command, c.Entry); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return inventory.Device{}, err
	}
	return d, nil
}

// actionEntries validates a and returns it with its audit entries as
// stored.
func actionEntries(a checkin.DeviceAction) (checkin.DeviceAction, error) {
	if err := a.Validate(); err != nil {
		return a, err
	}
	var err error
	if a.To != "" {
		if a.StateEntry, err = rules.ChangeEntry(a.Org, a.StateEntry); err != nil {
			return a, err
		}
	}
	cmds := make([]checkin.ActionCommand, len(a.Commands))
	for i, c := range a.Commands {
		if c.Entry, err = rules.ChangeEntry(a.Org, c.Entry); err != nil {
			return a, err
		}
		cmds[i] = c
	}
	a.Commands = cmds
	return a, nil
}
