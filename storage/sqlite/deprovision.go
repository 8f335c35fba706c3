package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage/internal/rules"
)

// QueueDeviceAction implements checkin.ActionStore: the state change and
// every command commit in one transaction on the single writer.
func (s *Store) QueueDeviceAction(ctx context.Context, a checkin.DeviceAction) (inventory.Device, error) {
	a, err := actionEntries(a)
	if err != nil {
		return inventory.Device{}, err
	}
	list, err := json.Marshal([]string{a.Device})
	if err != nil {
		return inventory.Device{}, err
	}
	var d inventory.Device
	err = s.write(ctx, func(tx *sql.Tx) error {
		d, err = invScanDevice(tx.QueryRowContext(ctx, "SELECT "+invDeviceColumns+" FROM devices WHERE org_id = ? AND id = ?", a.Org, a.Device))
		if err != nil {
			return notFound(err, "device action on %q", a.Device)
		}
		if err := a.CheckState(d.State); err != nil {
			return err
		}
		if a.To != "" && a.To != d.State {
			d.State, d.Version, d.Updated = a.To, d.Version+1, a.StateEntry.Time
			if _, err := tx.ExecContext(ctx, "UPDATE devices SET state = ?, version = ?, updated_us = ? WHERE org_id = ? AND id = ?",
				d.State, d.Version, micros(d.Updated), a.Org, a.Device); err != nil {
				return fmt.Errorf("sqlite: device action: %w", err)
			}
			if a.To.Terminal() {
				if err := invClear(ctx, tx, a.Org, a.Device); err != nil {
					return err
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
