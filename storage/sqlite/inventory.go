package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
)

const invDeviceColumns = `id, org_id, user_id, platform, ownership, enrollment_type, state, identifier, enrollment_id,
	serial_number, last_seen_us, last_inventory_us, version, created_us, updated_us`

func invScanDevice(row rowScanner) (inventory.Device, error) {
	var d inventory.Device
	var seen, inv sql.NullInt64
	var created, updated int64
	if err := row.Scan(&d.ID, &d.Org, &d.UserID, &d.Platform, &d.Ownership, &d.EnrollmentType, &d.State,
		&d.Identifier, &d.EnrollmentID, &d.SerialNumber, &seen, &inv, &d.Version, &created, &updated); err != nil {
		return inventory.Device{}, err
	}
	d.LastSeen, d.LastInventory = invFromNullMicros(seen), invFromNullMicros(inv)
	d.Created, d.Updated = fromMicros(created), fromMicros(updated)
	return d, nil
}

func invFromNullMicros(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromMicros(n.Int64)
}

func invNullMicros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(t), Valid: true}
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
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO devices ("+invDeviceColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			d.ID, d.Org, d.UserID, d.Platform, d.Ownership, d.EnrollmentType, d.State, d.Identifier, d.EnrollmentID,
			d.SerialNumber, invNullMicros(d.LastSeen), invNullMicros(d.LastInventory), d.Version, micros(d.Created), micros(d.Updated))
		switch constraint(err) {
		case 0:
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("create device: org %q: %w", d.Org, storage.ErrNotFound)
		default:
			return fmt.Errorf("create device: id %q or identifier %q: %w", d.ID, d.Identifier, storage.ErrAlreadyExists)
		}
		if err != nil {
			return fmt.Errorf("sqlite: create device: %w", err)
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
	d, err := invScanDevice(s.r.QueryRowContext(ctx, "SELECT "+invDeviceColumns+" FROM devices WHERE org_id = ? AND id = ?", org, id))
	if err != nil {
		return inventory.Device{}, notFound(err, "device %q", id)
	}
	return d, nil
}

// DeviceByIdentifier implements inventory.Store.
func (s *Store) DeviceByIdentifier(ctx context.Context, org storage.OrgID, identifier string) (inventory.Device, error) {
	d, err := invScanDevice(s.r.QueryRowContext(ctx, "SELECT "+invDeviceColumns+` FROM devices
		WHERE org_id = ? AND identifier = ? AND state NOT IN ('deprovisioned', 'wiped')`, org, identifier))
	if err != nil {
		return inventory.Device{}, notFound(err, "device with identifier %q", identifier)
	}
	return d, nil
}

func (s *Store) invQueryDevices(ctx context.Context, what, query string, args ...any) ([]inventory.Device, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	defer rows.Close()
	devices := []inventory.Device{}
	for rows.Next() {
		d, err := invScanDevice(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", what, err)
		}
		devices = append(devices, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return devices, nil
}

// ListDevices implements inventory.Store.
func (s *Store) ListDevices(ctx context.Context, org storage.OrgID, q inventory.DeviceQuery) (inventory.DevicePage, error) {
	q, err := q.Normalize()
	if err != nil {
		return inventory.DevicePage{}, err
	}
	query := "SELECT " + invDeviceColumns + " FROM devices WHERE org_id = ? AND id > ?"
	args := []any{org, q.After}
	if q.UserID != "" {
		query += " AND user_id = ?"
		args = append(args, q.UserID)
	}
	devices, err := s.invQueryDevices(ctx, "list devices", query+" ORDER BY id LIMIT ?", append(args, q.Limit+1)...)
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
	err = s.write(ctx, func(tx *sql.Tx) error {
		d, err = invScanDevice(tx.QueryRowContext(ctx, "SELECT "+invDeviceColumns+" FROM devices WHERE org_id = ? AND id = ?", org, id))
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
		if _, err := tx.ExecContext(ctx, "UPDATE devices SET state = ?, version = ?, updated_us = ? WHERE org_id = ? AND id = ?",
			d.State, d.Version, micros(d.Updated), org, id); err != nil {
			return fmt.Errorf("sqlite: update device: %w", err)
		}
		if to.Terminal() {
			if err := invClear(ctx, tx, org, id); err != nil {
				return err
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

// invClear erases a device's values and apps inside tx.
func invClear(ctx context.Context, tx *sql.Tx, org storage.OrgID, id string) error {
	for _, table := range []string{"device_values", "device_apps"} {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+table+" WHERE org_id = ? AND device_id = ?", org, id); err != nil {
			return fmt.Errorf("sqlite: erase %s: %w", table, err)
		}
	}
	return nil
}

// TouchDevice implements inventory.Store.
func (s *Store) TouchDevice(ctx context.Context, org storage.OrgID, id string, seen time.Time) error {
	if seen.IsZero() {
		return fmt.Errorf("%w: touch device %q: zero time", storage.ErrInvalid, id)
	}
	us := micros(storage.Normalize(seen))
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE devices SET last_seen_us = max(coalesce(last_seen_us, ?), ?)
			WHERE org_id = ? AND id = ?`, us, us, org, id)
		if err != nil {
			return fmt.Errorf("sqlite: touch device: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return notFound(sql.ErrNoRows, "touch device %q", id)
		}
		return nil
	})
}

// SaveInventory implements inventory.Store.
func (s *Store) SaveInventory(ctx context.Context, org storage.OrgID, id string, version int64, u inventory.Update) (inventory.Device, error) {
	u, err := u.Normalize()
	if err != nil {
		return inventory.Device{}, err
	}
	var d inventory.Device
	err = s.write(ctx, func(tx *sql.Tx) error {
		d, err = invScanDevice(tx.QueryRowContext(ctx, "SELECT "+invDeviceColumns+" FROM devices WHERE org_id = ? AND id = ?", org, id))
		if err != nil {
			return notFound(err, "save inventory of device %q", id)
		}
		if d.Version != version {
			return fmt.Errorf("save inventory of device %q: read version %d, stored %d: %w", id, version, d.Version, storage.ErrConflict)
		}
		if d.State.Terminal() {
			return fmt.Errorf("save inventory of device %q: device is %s: %w", id, d.State, storage.ErrConflict)
		}
		for _, v := range u.Values {
			if _, err := tx.ExecContext(ctx, `INSERT INTO device_values (org_id, device_id, key, value, source, collected_us)
				VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (org_id, device_id, key)
				DO UPDATE SET value = excluded.value, source = excluded.source, collected_us = excluded.collected_us`,
				org, id, v.Key, v.Value, v.Source, micros(v.Collected)); err != nil {
				return fmt.Errorf("sqlite: store value: %w", err)
			}
		}
		for _, k := range u.Remove {
			if _, err := tx.ExecContext(ctx, "DELETE FROM device_values WHERE org_id = ? AND device_id = ? AND key = ?", org, id, k); err != nil {
				return fmt.Errorf("sqlite: remove value: %w", err)
			}
		}
		if u.ReplaceApps {
			if err := invReplaceApps(ctx, tx, org, id, u.Apps); err != nil {
				return err
			}
		}
		d.Version++
		d.LastInventory = u.At
		if u.At.After(d.LastSeen) {
			d.LastSeen = u.At
		}
		_, err := tx.ExecContext(ctx, "UPDATE devices SET version = ?, last_inventory_us = ?, last_seen_us = ? WHERE org_id = ? AND id = ?",
			d.Version, micros(d.LastInventory), micros(d.LastSeen), org, id)
		if err != nil {
			return fmt.Errorf("sqlite: save inventory: %w", err)
		}
		return nil
	})
	if err != nil {
		return inventory.Device{}, err
	}
	return d, nil
}

func invReplaceApps(ctx context.Context, tx *sql.Tx, org storage.OrgID, id string, apps []inventory.App) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM device_apps WHERE org_id = ? AND device_id = ?", org, id); err != nil {
		return fmt.Errorf("sqlite: replace apps: %w", err)
	}
	if len(apps) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO device_apps (org_id, device_id, identifier, name, managed, version, state)
		VALUES (?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("sqlite: replace apps: %w", err)
	}
	defer stmt.Close()
	for _, a := range apps {
		if _, err := stmt.ExecContext(ctx, org, id, a.Identifier, a.Name, a.Managed, a.Version, a.State); err != nil {
			return fmt.Errorf("sqlite: replace apps: %w", err)
		}
	}
	return nil
}

// invDeviceExists reports ErrNotFound for an unknown device.
func (s *Store) invDeviceExists(ctx context.Context, org storage.OrgID, id, what string) error {
	var one int
	err := s.r.QueryRowContext(ctx, "SELECT 1 FROM devices WHERE org_id = ? AND id = ?", org, id).Scan(&one)
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
	rows, err := s.r.QueryContext(ctx, `SELECT key, value, source, collected_us FROM device_values
		WHERE org_id = ? AND device_id = ? ORDER BY key`, org, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: device values: %w", err)
	}
	defer rows.Close()
	vals := []inventory.Value{}
	for rows.Next() {
		var v inventory.Value
		var us int64
		if err := rows.Scan(&v.Key, &v.Value, &v.Source, &us); err != nil {
			return nil, fmt.Errorf("sqlite: device values: %w", err)
		}
		v.Collected = fromMicros(us)
		vals = append(vals, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: device values: %w", err)
	}
	return vals, nil
}

// DeviceApps implements inventory.Store.
func (s *Store) DeviceApps(ctx context.Context, org storage.OrgID, id string) ([]inventory.App, error) {
	if err := s.invDeviceExists(ctx, org, id, "apps"); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT identifier, name, managed, version, state FROM device_apps
		WHERE org_id = ? AND device_id = ? ORDER BY identifier`, org, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: device apps: %w", err)
	}
	defer rows.Close()
	apps := []inventory.App{}
	for rows.Next() {
		var a inventory.App
		if err := rows.Scan(&a.Identifier, &a.Name, &a.Managed, &a.Version, &a.State); err != nil {
			return nil, fmt.Errorf("sqlite: device apps: %w", err)
		}
		apps = append(apps, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: device apps: %w", err)
	}
	return apps, nil
}

// DevicesDueForRefresh implements inventory.Store.
func (s *Store) DevicesDueForRefresh(ctx context.Context, org storage.OrgID, before time.Time, limit int) ([]inventory.Device, error) {
	if limit <= 0 || limit > inventory.MaxDevicePage {
		return nil, fmt.Errorf("%w: refresh batch of %d, want 1 to %d", storage.ErrInvalid, limit, inventory.MaxDevicePage)
	}
	// SQLite sorts NULL (never inventoried) first in ascending order.
	return s.invQueryDevices(ctx, "devices due for refresh", "SELECT "+invDeviceColumns+` FROM devices
		WHERE org_id = ? AND state = 'enrolled' AND (last_inventory_us IS NULL OR last_inventory_us < ?)
		ORDER BY last_inventory_us, id LIMIT ?`, org, micros(storage.Normalize(before)), limit)
}
