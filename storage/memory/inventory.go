package memory

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
)

// invRecord is a device with its inventory.
type invRecord struct {
	d      inventory.Device
	values map[inventory.Key]inventory.Value
	apps   []inventory.App // sorted by identifier
}

// invDeviceLocked returns the org's device id; s.mu must be held.
func (s *Store) invDeviceLocked(org storage.OrgID, id string) (*invRecord, bool) {
	r, ok := s.devices[org][id]
	return r, ok
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
	d = invNewDevice(d, e.Time)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orgs[d.Org]; !ok {
		return inventory.Device{}, fmt.Errorf("create device: org %q: %w", d.Org, storage.ErrNotFound)
	}
	if _, ok := s.invDeviceLocked(d.Org, d.ID); ok {
		return inventory.Device{}, fmt.Errorf("create device: id %q: %w", d.ID, storage.ErrAlreadyExists)
	}
	if _, ok := s.invActiveLocked(d.Org, d.Identifier); ok {
		return inventory.Device{}, fmt.Errorf("create device: identifier %q: %w", d.Identifier, storage.ErrAlreadyExists)
	}
	if s.devices == nil {
		s.devices = map[storage.OrgID]map[string]*invRecord{}
	}
	if s.devices[d.Org] == nil {
		s.devices[d.Org] = map[string]*invRecord{}
	}
	s.devices[d.Org][d.ID] = &invRecord{d: d, values: map[inventory.Key]inventory.Value{}}
	s.appendLocked(e)
	return d, nil
}

// invNewDevice returns d as stored at creation.
func invNewDevice(d inventory.Device, at time.Time) inventory.Device {
	d.Version = 1
	d.Created, d.Updated, d.LastSeen = at, at, at
	d.LastInventory = time.Time{}
	return d
}

func (s *Store) invActiveLocked(org storage.OrgID, identifier string) (*invRecord, bool) {
	for _, r := range s.devices[org] {
		if r.d.Identifier == identifier && !r.d.State.Terminal() {
			return r, true
		}
	}
	return nil, false
}

// Device implements inventory.Store.
func (s *Store) Device(ctx context.Context, org storage.OrgID, id string) (inventory.Device, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.invDeviceLocked(org, id)
	if !ok {
		return inventory.Device{}, fmt.Errorf("device %q: %w", id, storage.ErrNotFound)
	}
	return r.d, nil
}

// DeviceByIdentifier implements inventory.Store.
func (s *Store) DeviceByIdentifier(ctx context.Context, org storage.OrgID, identifier string) (inventory.Device, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.invActiveLocked(org, identifier)
	if !ok {
		return inventory.Device{}, fmt.Errorf("device with identifier %q: %w", identifier, storage.ErrNotFound)
	}
	return r.d, nil
}

// ListDevices implements inventory.Store.
func (s *Store) ListDevices(ctx context.Context, org storage.OrgID, q inventory.DeviceQuery) (inventory.DevicePage, error) {
	q, err := q.Normalize()
	if err != nil {
		return inventory.DevicePage{}, err
	}
	s.mu.RLock()
	var all []inventory.Device
	for _, r := range s.devices[org] {
		if r.d.ID > q.After && (q.UserID == "" || r.d.UserID == q.UserID) {
			all = append(all, r.d)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(all, func(a, b inventory.Device) int { return cmp.Compare(a.ID, b.ID) })
	page := inventory.DevicePage{Devices: []inventory.Device{}}
	if len(all) > q.Limit {
		all = all[:q.Limit]
		page.Next = all[q.Limit-1].ID
	}
	page.Devices = append(page.Devices, all...)
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
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.invDeviceLocked(org, id)
	if !ok {
		return inventory.Device{}, fmt.Errorf("update device %q: %w", id, storage.ErrNotFound)
	}
	if r.d.State == to {
		return r.d, nil
	}
	if err := inventory.CheckTransition(r.d.State, to); err != nil {
		return inventory.Device{}, fmt.Errorf("update device %q: %w", id, err)
	}
	r.d.State = to
	r.d.Version++
	r.d.Updated = e.Time
	if to.Terminal() {
		r.values = map[inventory.Key]inventory.Value{}
		r.apps = nil
	}
	s.appendLocked(e)
	return r.d, nil
}

// TouchDevice implements inventory.Store.
func (s *Store) TouchDevice(ctx context.Context, org storage.OrgID, id string, seen time.Time) error {
	if seen.IsZero() {
		return fmt.Errorf("%w: touch device %q: zero time", storage.ErrInvalid, id)
	}
	seen = storage.Normalize(seen)
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.invDeviceLocked(org, id)
	if !ok {
		return fmt.Errorf("touch device %q: %w", id, storage.ErrNotFound)
	}
	if seen.After(r.d.LastSeen) {
		r.d.LastSeen = seen
	}
	return nil
}

// SaveInventory implements inventory.Store.
func (s *Store) SaveInventory(ctx context.Context, org storage.OrgID, id string, version int64, u inventory.Update) (inventory.Device, error) {
	u, err := u.Normalize()
	if err != nil {
		return inventory.Device{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.invDeviceLocked(org, id)
	if !ok {
		return inventory.Device{}, fmt.Errorf("save inventory of device %q: %w", id, storage.ErrNotFound)
	}
	if r.d.Version != version {
		return inventory.Device{}, fmt.Errorf("save inventory of device %q: read version %d, stored %d: %w", id, version, r.d.Version, storage.ErrConflict)
	}
	if r.d.State.Terminal() {
		return inventory.Device{}, fmt.Errorf("save inventory of device %q: device is %s: %w", id, r.d.State, storage.ErrConflict)
	}
	for _, v := range u.Values {
		r.values[v.Key] = v
	}
	for _, k := range u.Remove {
		delete(r.values, k)
	}
	if u.ReplaceApps {
		r.apps = slices.Clone(u.Apps)
	}
	r.d.Version++
	r.d.LastInventory = u.At
	if u.At.After(r.d.LastSeen) {
		r.d.LastSeen = u.At
	}
	return r.d, nil
}

// DeviceValues implements inventory.Store.
func (s *Store) DeviceValues(ctx context.Context, org storage.OrgID, id string) ([]inventory.Value, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.invDeviceLocked(org, id)
	if !ok {
		return nil, fmt.Errorf("values of device %q: %w", id, storage.ErrNotFound)
	}
	vals := slices.Collect(maps.Values(r.values))
	slices.SortFunc(vals, func(a, b inventory.Value) int { return cmp.Compare(a.Key, b.Key) })
	if vals == nil {
		vals = []inventory.Value{}
	}
	return vals, nil
}

// DeviceApps implements inventory.Store.
func (s *Store) DeviceApps(ctx context.Context, org storage.OrgID, id string) ([]inventory.App, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.invDeviceLocked(org, id)
	if !ok {
		return nil, fmt.Errorf("apps of device %q: %w", id, storage.ErrNotFound)
	}
	return append([]inventory.App{}, r.apps...), nil
}

// DevicesDueForRefresh implements inventory.Store.
func (s *Store) DevicesDueForRefresh(ctx context.Context, org storage.OrgID, before time.Time, limit int) ([]inventory.Device, error) {
	if limit <= 0 || limit > inventory.MaxDevicePage {
		return nil, fmt.Errorf("%w: refresh batch of %d, want 1 to %d", storage.ErrInvalid, limit, inventory.MaxDevicePage)
	}
	before = storage.Normalize(before)
	s.mu.RLock()
	var due []inventory.Device
	for _, r := range s.devices[org] {
		if r.d.State == inventory.StateEnrolled && r.d.LastInventory.Before(before) {
			due = append(due, r.d)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(due, func(a, b inventory.Device) int {
		if c := a.LastInventory.Compare(b.LastInventory); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if len(due) > limit {
		due = due[:limit]
	}
	if due == nil {
		due = []inventory.Device{}
	}
	return due, nil
}
