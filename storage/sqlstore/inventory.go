package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/openomm/omm/events"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

const invDeviceColumns = `id, org_id, user_id, platform, ownership, enrollment_type, state, identifier, enrollment_id,
	serial_number, last_seen_us, last_inventory_us, version, created_us, updated_us`

// invDeviceDest is where a row of invDeviceColumns goes.
func invDeviceDest(d *inventory.Device) []any {
	return []any{&d.ID, &d.Org, &d.UserID, &d.Platform, &d.Ownership, &d.EnrollmentType, &d.State,
		&d.Identifier, &d.EnrollmentID, &d.SerialNumber, us{&d.LastSeen}, us{&d.LastInventory}, &d.Version, us{&d.Created}, us{&d.Updated}}
}

func invScanDevice(row rowScanner) (inventory.Device, error) {
	var d inventory.Device
	if err := row.Scan(invDeviceDest(&d)...); err != nil {
		return inventory.Device{}, err
	}
	return d, nil
}

// lockDevice reads the org's device id in the transaction, locked until it
// ends; format (with the ID) describes what ErrNotFound was for.
func (tx tx) lockDevice(ctx context.Context, org storage.OrgID, id, format string) (inventory.Device, error) {
	return get(tx.s, invScanDevice, tx.queryRow(ctx, "SELECT "+invDeviceColumns+" FROM {devices} WHERE org_id = ? AND id = ? {FOR UPDATE}", org, id), format, id)
}

// CreateDevice implements inventory.Store.
func (s *Store) CreateDevice(ctx context.Context, d inventory.Device, e storage.AuditEntry) (inventory.Device, error) {
	e, err := checked(d.Validate(), d.Org, e)
	if err != nil {
		return inventory.Device{}, err
	}
	err = s.write(ctx, func(tx tx) error {
		d, err = tx.insertDevice(ctx, d, e)
		return err
	})
	return done(d, err)
}

// insertDevice stores a new device with its entry inside tx, as
// CreateDevice does, and returns it as stored.
func (tx tx) insertDevice(ctx context.Context, d inventory.Device, e storage.AuditEntry) (inventory.Device, error) {
	d.Version = 1
	d.Created, d.Updated, d.LastSeen, d.LastInventory = e.Time, e.Time, e.Time, time.Time{}
	_, err := tx.exec(ctx, "INSERT INTO {devices} ("+invDeviceColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		d.ID, d.Org, d.UserID, d.Platform, d.Ownership, d.EnrollmentType, d.State, d.Identifier, d.EnrollmentID,
		d.SerialNumber, nullMicros(d.LastSeen), nullMicros(d.LastInventory), d.Version, micros(d.Created), micros(d.Updated))
	if err := tx.s.inserted(err, "create device", d.Org, fmt.Sprintf("id %q or identifier %q", d.ID, d.Identifier)); err != nil {
		return d, err
	}
	return d, tx.audit(ctx, e)
}

// Device implements inventory.Store.
func (s *Store) Device(ctx context.Context, org storage.OrgID, id string) (inventory.Device, error) {
	d, err := invScanDevice(s.queryRow(ctx, "SELECT "+invDeviceColumns+" FROM {devices} WHERE org_id = ? AND id = ?", org, id))
	if err != nil {
		return inventory.Device{}, s.notFound(err, "device %q", id)
	}
	return d, nil
}

// DeviceByIdentifier implements inventory.Store.
func (s *Store) DeviceByIdentifier(ctx context.Context, org storage.OrgID, identifier string) (inventory.Device, error) {
	d, err := invScanDevice(s.queryRow(ctx, "SELECT "+invDeviceColumns+` FROM {devices}
		WHERE org_id = ? AND identifier = ? AND state NOT IN ('deprovisioned', 'wiped')`, org, identifier))
	if err != nil {
		return inventory.Device{}, s.notFound(err, "device with identifier %q", identifier)
	}
	return d, nil
}

func (s *Store) invQueryDevices(ctx context.Context, what, query string, args ...any) ([]inventory.Device, error) {
	rows, err := s.query(ctx, query, args...)
	return list(s, what, rows, err, invScanDevice)
}

// ListDevices implements inventory.Store.
func (s *Store) ListDevices(ctx context.Context, org storage.OrgID, q inventory.DeviceQuery) (inventory.DevicePage, error) {
	q, err := q.Normalize()
	if err != nil {
		return inventory.DevicePage{}, err
	}
	query := "SELECT " + invDeviceColumns + " FROM {devices} WHERE org_id = ? AND id > ?"
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
	e, err := changeEntry(org, e)
	if err != nil {
		return inventory.Device{}, err
	}
	var d inventory.Device
	err = s.write(ctx, func(tx tx) error {
		d, err = tx.lockDevice(ctx, org, id, "update device %q")
		if err != nil {
			return err
		}
		if d.State == to {
			return nil
		}
		if err := inventory.CheckTransition(d.State, to); err != nil {
			return fmt.Errorf("update device %q: %w", id, err)
		}
		d.State, d.Version, d.Updated = to, d.Version+1, e.Time
		if _, err := tx.exec(ctx, "UPDATE {devices} SET state = ?, version = ?, updated_us = ? WHERE org_id = ? AND id = ?",
			d.State, d.Version, micros(d.Updated), org, id); err != nil {
			return fmt.Errorf("sqlstore: update device: %w", err)
		}
		if to.Terminal() {
			if err := tx.invClear(ctx, org, id); err != nil {
				return err
			}
		}
		return tx.audit(ctx, e)
	})
	return done(d, err)
}

// invClear erases a device's values and apps inside tx.
func (tx tx) invClear(ctx context.Context, org storage.OrgID, id string) error {
	for _, table := range []string{"device_values", "device_apps"} {
		if _, err := tx.exec(ctx, "DELETE FROM {"+table+"} WHERE org_id = ? AND device_id = ?", org, id); err != nil {
			return fmt.Errorf("sqlstore: erase %s: %w", table, err)
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
	return s.write(ctx, func(tx tx) error {
		n, err := tx.affected(ctx, `UPDATE {devices} SET last_seen_us = CASE WHEN last_seen_us > ? THEN last_seen_us ELSE ? END
			WHERE org_id = ? AND id = ?`, us, us, org, id)
		if err != nil {
			return s.fail("touch device", err)
		}
		if n == 0 {
			return s.notFound(sql.ErrNoRows, "touch device %q", id)
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
	err = s.write(ctx, func(tx tx) error {
		if d, err = tx.lockDevice(ctx, org, id, "save inventory of device %q"); err != nil {
			return err
		}
		d, err = tx.saveInventory(ctx, d, version, u)
		return err
	})
	return done(d, err)
}

// saveInventory is SaveInventory's work in tx for device d, as locked in
// tx, with u normalized; it returns the device after the update.
func (tx tx) saveInventory(ctx context.Context, d inventory.Device, version int64, u inventory.Update) (inventory.Device, error) {
	org, id := d.Org, d.ID
	if d.Version != version {
		return d, fmt.Errorf("save inventory of device %q: read version %d, stored %d: %w", id, version, d.Version, storage.ErrConflict)
	}
	if d.State.Terminal() {
		return d, fmt.Errorf("save inventory of device %q: device is %s: %w", id, d.State, storage.ErrConflict)
	}
	appsChanged, err := tx.inventoryEvent(ctx, org, id, u)
	if err != nil {
		return d, err
	}
	if len(u.Values) > 0 {
		rows := make([][]string, len(u.Values))
		for i, v := range u.Values {
			rows[i] = []string{string(v.Key), v.Value, string(v.Source), strconv.FormatInt(micros(v.Collected), 10)}
		}
		// WHERE true: SQLite's upsert after a SELECT needs one.
		if _, err := tx.exec(ctx, `INSERT INTO {device_values} (org_id, device_id, key, value, source, collected_us)
			SELECT ?, ?, r.value ->> 0, r.value ->> 1, r.value ->> 2, CAST(r.value ->> 3 AS BIGINT) FROM {json r} WHERE true
			ON CONFLICT (org_id, device_id, key)
			DO UPDATE SET value = excluded.value, source = excluded.source, collected_us = excluded.collected_us`,
			org, id, jsonRows(rows)); err != nil {
			return d, tx.s.fail("store values", err)
		}
	}
	if len(u.Remove) > 0 {
		keys := make([]string, len(u.Remove))
		for i, k := range u.Remove {
			keys[i] = string(k)
		}
		if _, err := tx.exec(ctx, "DELETE FROM {device_values} WHERE org_id = ? AND device_id = ? AND key IN (SELECT k.value FROM {values k})",
			org, id, tx.s.strings(keys)); err != nil {
			return d, tx.s.fail("remove values", err)
		}
	}
	if appsChanged { // an app list as stored is not written again
		if err := tx.replaceApps(ctx, org, id, u.Apps); err != nil {
			return d, err
		}
	}
	d.Version++
	d.LastInventory = u.At
	if u.At.After(d.LastSeen) {
		d.LastSeen = u.At
	}
	if _, err := tx.exec(ctx, "UPDATE {devices} SET version = ?, last_inventory_us = ?, last_seen_us = ? WHERE org_id = ? AND id = ?",
		d.Version, micros(d.LastInventory), micros(d.LastSeen), org, id); err != nil {
		return d, fmt.Errorf("sqlstore: save inventory: %w", err)
	}
	return d, nil
}

// inventoryEvent emits the event of what u changes in the device's stored
// inventory, comparing it with what is stored, and reports whether u
// replaces the app list with a different one.
func (tx tx) inventoryEvent(ctx context.Context, org storage.OrgID, id string, u inventory.Update) (appsChanged bool, err error) {
	stored := map[string]string{}
	if len(u.Values) > 0 || len(u.Remove) > 0 { // an app list alone changes no value
		rows, err := tx.query(ctx, "SELECT key, value FROM {device_values} WHERE org_id = ? AND device_id = ?", org, id)
		if err == nil {
			for rows.Next() {
				var k, v string
				if err = rows.Scan(&k, &v); err != nil {
					break
				}
				stored[k] = v
			}
			err = errors.Join(err, rows.Err(), rows.Close())
		}
		if err != nil {
			return false, tx.s.fail("read stored values", err)
		}
	}
	changed := map[string]string{}
	for _, v := range u.Values {
		if old, ok := stored[string(v.Key)]; !ok || old != v.Value {
			changed[string(v.Key)] = v.Value
		}
	}
	for _, k := range u.Remove {
		if _, ok := stored[string(k)]; ok {
			changed[string(k)] = ""
		}
	}
	if u.ReplaceApps {
		old, err := tx.deviceApps(ctx, org, id)
		if err != nil {
			return false, err
		}
		appsChanged = !slices.Equal(old, u.Apps)
	}
	if ev, ok := events.Inventory(org, id, changed, appsChanged, u.At); ok {
		tx.emit(ev)
	}
	return appsChanged, nil
}

// deviceApps reads a device's apps inside tx, ordered by identifier.
func (tx tx) deviceApps(ctx context.Context, org storage.OrgID, id string) ([]inventory.App, error) {
	rows, err := tx.query(ctx, `SELECT identifier, name, managed, version, state FROM {device_apps}
		WHERE org_id = ? AND device_id = ? ORDER BY identifier`, org, id)
	return list(tx.s, "device apps", rows, err, func(r rowScanner) (a inventory.App, err error) {
		return a, r.Scan(&a.Identifier, &a.Name, &a.Managed, &a.Version, &a.State)
	})
}

// replaceApps stores a device's app list, all rows in one statement.
func (tx tx) replaceApps(ctx context.Context, org storage.OrgID, id string, apps []inventory.App) error {
	if _, err := tx.exec(ctx, "DELETE FROM {device_apps} WHERE org_id = ? AND device_id = ?", org, id); err != nil {
		return tx.s.fail("replace apps", err)
	}
	if len(apps) == 0 {
		return nil
	}
	rows := make([][]string, len(apps))
	for i, a := range apps {
		managed := "0"
		if a.Managed {
			managed = "1"
		}
		rows[i] = []string{a.Identifier, a.Name, managed, a.Version, string(a.State)}
	}
	if _, err := tx.exec(ctx, `INSERT INTO {device_apps} (org_id, device_id, identifier, name, managed, version, state)
		SELECT ?, ?, r.value ->> 0, r.value ->> 1, (r.value ->> 2) = '1', r.value ->> 3, r.value ->> 4 FROM {json r}`,
		org, id, jsonRows(rows)); err != nil {
		return tx.s.fail("replace apps", err)
	}
	return nil
}

// invDeviceExists reports ErrNotFound for an unknown device.
func (s *Store) invDeviceExists(ctx context.Context, org storage.OrgID, id, what string) error {
	var one int
	err := s.queryRow(ctx, "SELECT 1 FROM {devices} WHERE org_id = ? AND id = ?", org, id).Scan(&one)
	if err != nil {
		return s.notFound(err, "%s of device %q", what, id)
	}
	return nil
}

// DeviceValues implements inventory.Store.
func (s *Store) DeviceValues(ctx context.Context, org storage.OrgID, id string) ([]inventory.Value, error) {
	rows, err := s.query(ctx, `SELECT key, value, source, collected_us FROM {device_values}
		WHERE org_id = ? AND device_id = ? ORDER BY key`, org, id)
	vals, err := list(s, "device values", rows, err, func(r rowScanner) (v inventory.Value, err error) {
		err = r.Scan(&v.Key, &v.Value, &v.Source, us{&v.Collected})
		return v, err
	})
	return orUnknown(ctx, s, vals, err, org, id, "values")
}

// DeviceApps implements inventory.Store.
func (s *Store) DeviceApps(ctx context.Context, org storage.OrgID, id string) ([]inventory.App, error) {
	rows, err := s.query(ctx, `SELECT identifier, name, managed, version, state FROM {device_apps}
		WHERE org_id = ? AND device_id = ? ORDER BY identifier`, org, id)
	apps, err := list(s, "device apps", rows, err, func(r rowScanner) (a inventory.App, err error) {
		return a, r.Scan(&a.Identifier, &a.Name, &a.Managed, &a.Version, &a.State)
	})
	return orUnknown(ctx, s, apps, err, org, id, "apps")
}

// orUnknown returns a device's rows as read, and when there were none
// whether the device exists (ErrNotFound when not): a device with rows
// costs one read, not two.
func orUnknown[T any](ctx context.Context, s *Store, rows []T, err error, org storage.OrgID, id, what string) ([]T, error) {
	if err != nil || len(rows) > 0 {
		return rows, err
	}
	if err := s.invDeviceExists(ctx, org, id, what); err != nil {
		return nil, err
	}
	return rows, nil
}

// DevicesDueForRefresh implements inventory.Store.
func (s *Store) DevicesDueForRefresh(ctx context.Context, org storage.OrgID, before time.Time, limit int) ([]inventory.Device, error) {
	if limit <= 0 || limit > inventory.MaxDevicePage {
		return nil, fmt.Errorf("%w: refresh batch of %d, want 1 to %d", storage.ErrInvalid, limit, inventory.MaxDevicePage)
	}
	// Never inventoried (NULL) comes first.
	return s.invQueryDevices(ctx, "devices due for refresh", "SELECT "+invDeviceColumns+` FROM {devices}
		WHERE org_id = ? AND state = 'enrolled' AND (last_inventory_us IS NULL OR last_inventory_us < ?)
		ORDER BY last_inventory_us NULLS FIRST, id LIMIT ?`, org, micros(storage.Normalize(before)), limit)
}
