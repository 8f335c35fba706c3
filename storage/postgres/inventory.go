package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
)

const invDeviceColumns = `id, org_id, user_id, platform, ownership, enrollment_type, state, identifier, enrollment_id,
	serial_number, last_seen, last_inventory, version, created, updated`

func invScanDevice(row pgx.Row) (inventory.Device, error) {
	var d inventory.Device
	var seen, inv *time.Time
	if err := row.Scan(&d.ID, &d.Org, &d.UserID, &d.Platform, &d.Ownership, &d.EnrollmentType, &d.State,
		&d.Identifier, &d.EnrollmentID, &d.SerialNumber, &seen, &inv, &d.Version, &d.Created, &d.Updated); err != nil {
		return inventory.Device{}, err
	}
	if seen != nil {
		d.LastSeen = seen.UTC()
	}
	if inv != nil {
		d.LastInventory = inv.UTC()
	}
	d.Created, d.Updated = d.Created.UTC(), d.Updated.UTC()
	return d, nil
}

// invNullTime maps the zero time ("never") to NULL.
func invNullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// CreateDevice implements inventory.Store.
func (s *Store) CreateDevice(ctx context.Context, d inventory.Device, e storage.AuditEntry) (inventory.Device, error) {
	if err := d.Validate(); err != nil {
		return inventory.Device{}, err
	}
	e, err := rules.ChangeEntry(d.Org, e)
	if err != nil {
		return inventory.Device{}, err
	}
	d.Version = 1
	d.Created, d.Updated, d.LastSeen, d.LastInventory = e.Time, e.Time, e.Time, time.Time{}
	err = s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO devices ("+invDeviceColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
			d.ID, d.Org, d.UserID, d.Platform, d.Ownership, d.EnrollmentType, d.State, d.Identifier, d.EnrollmentID,
			d.SerialNumber, invNullTime(d.LastSeen), invNullTime(d.LastInventory), d.Version, d.Created, d.Updated)
		if violation(err, foreignKeyViolation) != nil {
			return fmt.Errorf("create device: org %q: %w", d.Org, storage.ErrNotFound)
		}
		if pe := violation(err, uniqueViolation); pe != nil {
			if pe.ConstraintName == "devices_active_identifier" {
				return fmt.Errorf("create device: identifier %q: %w", d.Identifier, storage.ErrAlreadyExists)
			}
			return fmt.Errorf("create device: id %q: %w", d.ID, storage.ErrAlreadyExists)
		}
		if err != nil {
			return fmt.Errorf("postgres: create device: %w", err)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return inventory.Device{}, err
	}
	return d, nil
}

// Device implements inventory.Store.
func (s *Store) Device(ctx context.Context, org storage.OrgID, id string) (inventory.Device, error) {
	d, err := invScanDevice(s.pool.QueryRow(ctx, "SELECT "+invDeviceColumns+" FROM devices WHERE org_id = $1 AND id = $2", org, id))
	if err != nil {
		return inventory.Device{}, notFound(err, "device %q", id)
	}
	return d, nil
}

// DeviceByIdentifier implements inventory.Store.
func (s *Store) DeviceByIdentifier(ctx context.Context, org storage.OrgID, identifier string) (inventory.Device, error) {
	d, err := invScanDevice(s.pool.QueryRow(ctx, "SELECT "+invDeviceColumns+` FROM devices
		WHERE org_id = $1 AND identifier = $2 AND state NOT IN ('deprovisioned', 'wiped')`, org, identifier))
	if err != nil {
		return inventory.Device{}, notFound(err, "device with identifier %q", identifier)
	}
	return d, nil
}

func (s *Store) invQueryDevices(ctx context.Context, what, query string, args ...any) ([]inventory.Device, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	devices, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (inventory.Device, error) { return invScanDevice(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	if devices == nil {
		devices = []inventory.Device{}
	}
	return devices, nil
}

// ListDevices implements inventory.Store.
func (s *Store) ListDevices(ctx context.Context, org storage.OrgID, q inventory.DeviceQuery) (inventory.DevicePage, error) {
	q, err := q.Normalize()
	if err != nil {
		return inventory.DevicePage{}, err
	}
	devices, err := s.invQueryDevices(ctx, "list devices", "SELECT "+invDeviceColumns+` FROM devices
		WHERE org_id = $1 AND id > $2 COLLATE "C" AND ($3 = '' OR user_id = $3)
		ORDER BY id COLLATE "C" LIMIT $4`, org, q.After, q.UserID, q.Limit+1)
	if err != nil {
		return inventory.DevicePage{}, err
	}
	var page inventory.DevicePage
	if len(devices) > q.Limit {
		devices = devices[:q.Limit]
		page.Next = devices[q.Limit-1].ID
	}
	page.Devices = devices
	return page, nil
}

// UpdateDeviceState implements inventory.Store.
func (s *Store) UpdateDeviceState(ctx context.Context, org storage.OrgID, id string, to inventory.State, e storage.AuditEntry) (inventory.Device, error) {
	if !to.Valid() {
		return inventory.Device{}, fmt.Errorf("%w: unknown device state %q", storage.ErrInvalid, to)
	}
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return inventory.Device{}, err
	}
	var d inventory.Device
	err = s.write(ctx, func(tx pgx.Tx) error {
		d, err = invScanDevice(tx.QueryRow(ctx, "SELECT "+invDeviceColumns+" FROM devices WHERE org_id = $1 AND id = $2 FOR UPDATE", org, id))
		if err != nil {
			return notFound(err, "update device %q", id)
		}
		if d.State == to {
			return nil
		}
		if err := inventory.CheckTransition(d.State, to); err != nil {
			return fmt.Errorf("update device %q: %w", id, err)
		}
		d.State, d.Version, d.Updated = to, d.Version+1, e.Time
		if _, err := tx.Exec(ctx, "UPDATE devices SET state = $1, version = $2, updated = $3 WHERE org_id = $4 AND id = $5",
			d.State, d.Version, d.Updated, org, id); err != nil {
			return fmt.Errorf("postgres: update device: %w", err)
		}
		if to.Terminal() {
			for _, table := range []string{"device_values", "device_apps"} {
				if _, err := tx.Exec(ctx, "DELETE FROM "+table+" WHERE org_id = $1 AND device_id = $2", org, id); err != nil {
					return fmt.Errorf("postgres: erase %s: %w", table, err)
				}
			}
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return inventory.Device{}, err
	}
	return d, nil
}

// TouchDevice implements inventory.Store.
func (s *Store) TouchDevice(ctx context.Context, org storage.OrgID, id string, seen time.Time) error {
	if seen.IsZero() {
		return fmt.Errorf("%w: touch device %q: zero time", storage.ErrInvalid, id)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE devices SET last_seen = greatest(last_seen, $1) WHERE org_id = $2 AND id = $3`,
		storage.Normalize(seen), org, id)
	if err != nil {
		return fmt.Errorf("postgres: touch device: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("touch device %q: %w", id, storage.ErrNotFound)
	}
	return nil
}

// SaveInventory implements inventory.Store.
func (s *Store) SaveInventory(ctx context.Context, org storage.OrgID, id string, version int64, u inventory.Update) (inventory.Device, error) {
	u, err := u.Normalize()
	if err != nil {
		return inventory.Device{}, err
	}
	var d inventory.Device
	err = s.write(ctx, func(tx pgx.Tx) error {
		d, err = invScanDevice(tx.QueryRow(ctx, "SELECT "+invDeviceColumns+" FROM devices WHERE org_id = $1 AND id = $2 FOR UPDATE", org, id))
		if err != nil {
			return notFound(err, "save inventory of device %q", id)
		}
		if d.Version != version {
			return fmt.Errorf("save inventory of device %q: read version %d, stored %d: %w", id, version, d.Version, storage.ErrConflict)
		}
		if d.State.Terminal() {
			return fmt.Errorf("save inventory of device %q: device is %s: %w", id, d.State, storage.ErrConflict)
		}
		var batch pgx.Batch
		for _, v := range u.Values {
			batch.Queue(`INSERT INTO device_values (org_id, device_id, key, value, source, collected)
				VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (org_id, device_id, key)
				DO UPDATE SET value = excluded.value, source = excluded.source, collected = excluded.collected`,
				org, id, v.Key, v.Value, v.Source, v.Collected)
		}
		for _, k := range u.Remove {
			batch.Queue("DELETE FROM device_values WHERE org_id = $1 AND device_id = $2 AND key = $3", org, id, k)
		}
		if u.ReplaceApps {
			batch.Queue("DELETE FROM device_apps WHERE org_id = $1 AND device_id = $2", org, id)
		}
		d.Version++
		d.LastInventory = u.At
		if u.At.After(d.LastSeen) {
			d.LastSeen = u.At
		}
		batch.Queue("UPDATE devices SET version = $1, last_inventory = $2, last_seen = $3 WHERE org_id = $4 AND id = $5",
			d.Version, d.LastInventory, d.LastSeen, org, id)
		if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
			return fmt.Errorf("postgres: save inventory: %w", err)
		}
		if u.ReplaceApps && len(u.Apps) > 0 {
			_, err := tx.CopyFrom(ctx, pgx.Identifier{"device_apps"},
				[]string{"org_id", "device_id", "identifier", "name", "managed", "version", "state"},
				pgx.CopyFromSlice(len(u.Apps), func(i int) ([]any, error) {
					a := u.Apps[i]
					return []any{string(org), id, a.Identifier, a.Name, a.Managed, a.Version, a.State}, nil
				}))
			if err != nil {
				return fmt.Errorf("postgres: replace apps: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return inventory.Device{}, err
	}
	return d, nil
}

// invDeviceExists reports ErrNotFound for an unknown device.
func (s *Store) invDeviceExists(ctx context.Context, org storage.OrgID, id, what string) error {
	var one int
	err := s.pool.QueryRow(ctx, "SELECT 1 FROM devices WHERE org_id = $1 AND id = $2", org, id).Scan(&one)
	if err != nil {
		return notFound(err, "%s of device %q", what, id)
	}
	return nil
}

// DeviceValues implements inventory.Store.
func (s *Store) DeviceValues(ctx context.Context, org storage.OrgID, id string) ([]inventory.Value, error) {
	if err := s.invDeviceExists(ctx, org, id, "values"); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT key, value, source, collected FROM device_values
		WHERE org_id = $1 AND device_id = $2 ORDER BY key COLLATE "C"`, org, id)
	if err != nil {
		return nil, fmt.Errorf("postgres: device values: %w", err)
	}
	vals, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (inventory.Value, error) {
		var v inventory.Value
		err := row.Scan(&v.Key, &v.Value, &v.Source, &v.Collected)
		v.Collected = v.Collected.UTC()
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: device values: %w", err)
	}
	if vals == nil {
		vals = []inventory.Value{}
	}
	return vals, nil
}

// DeviceApps implements inventory.Store.
func (s *Store) DeviceApps(ctx context.Context, org storage.OrgID, id string) ([]inventory.App, error) {
	if err := s.invDeviceExists(ctx, org, id, "apps"); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT identifier, name, managed, version, state FROM device_apps
		WHERE org_id = $1 AND device_id = $2 ORDER BY identifier COLLATE "C"`, org, id)
	if err != nil {
		return nil, fmt.Errorf("postgres: device apps: %w", err)
	}
	apps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (inventory.App, error) {
		var a inventory.App
		err := row.Scan(&a.Identifier, &a.Name, &a.Managed, &a.Version, &a.State)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: device apps: %w", err)
	}
	if apps == nil {
		apps = []inventory.App{}
	}
	return apps, nil
}

// DevicesDueForRefresh implements inventory.Store.
func (s *Store) DevicesDueForRefresh(ctx context.Context, org storage.OrgID, before time.Time, limit int) ([]inventory.Device, error) {
	if limit <= 0 || limit > inventory.MaxDevicePage {
		return nil, fmt.Errorf("%w: refresh batch of %d, want 1 to %d", storage.ErrInvalid, limit, inventory.MaxDevicePage)
	}
	return s.invQueryDevices(ctx, "devices due for refresh", "SELECT "+invDeviceColumns+` FROM devices
		WHERE org_id = $1 AND state = 'enrolled' AND (last_inventory IS NULL OR last_inventory < $2)
		ORDER BY last_inventory NULLS FIRST, id COLLATE "C" LIMIT $3`, org, storage.Normalize(before), limit)
}
