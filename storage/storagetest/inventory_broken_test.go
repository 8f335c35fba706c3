package storagetest

import (
	"cmp"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// Backends that each break one rule of the inventory contract; the suite
// must catch every one.

// leakyDevice finds a device in any org.
type leakyDevice struct{ *memory.Store }

func (s leakyDevice) Device(ctx context.Context, org storage.OrgID, id string) (inventory.Device, error) {
	orgs, _ := s.ListOrgs(ctx)
	for _, o := range orgs {
		if d, err := s.Store.Device(ctx, o.ID, id); err == nil {
			return d, nil
		}
	}
	return s.Store.Device(ctx, org, id)
}

// noopAudited appends an audit entry even when the state does not change.
type noopAudited struct{ *memory.Store }

func (s noopAudited) UpdateDeviceState(ctx context.Context, org storage.OrgID, id string, to inventory.State, e storage.AuditEntry) (inventory.Device, error) {
	if d, err := s.Store.Device(ctx, org, id); err == nil && d.State == to {
		s.AppendAudit(ctx, e) //nolint:errcheck // the breakage under test
	}
	return s.Store.UpdateDeviceState(ctx, org, id, to, e)
}

// lastSaveWins ignores the version of SaveInventory.
type lastSaveWins struct{ *memory.Store }

func (s lastSaveWins) SaveInventory(ctx context.Context, org storage.OrgID, id string, version int64, u inventory.Update) (inventory.Device, error) {
	if d, err := s.Store.Device(ctx, org, id); err == nil {
		version = d.Version
	}
	return s.Store.SaveInventory(ctx, org, id, version, u)
}

// dueIgnoresState offers devices of any state for refresh.
type dueIgnoresState struct{ *memory.Store }

func (s dueIgnoresState) DevicesDueForRefresh(ctx context.Context, org storage.OrgID, before time.Time, limit int) ([]inventory.Device, error) {
	if _, err := s.Store.DevicesDueForRefresh(ctx, org, before, limit); err != nil {
		return nil, err
	}
	p, err := s.ListDevices(ctx, org, inventory.DeviceQuery{Limit: inventory.MaxDevicePage})
	var due []inventory.Device
	for _, d := range p.Devices {
		if d.LastInventory.Before(before) {
			due = append(due, d)
		}
	}
	slices.SortFunc(due, func(a, b inventory.Device) int {
		if c := a.LastInventory.Compare(b.LastInventory); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return due[:min(limit, len(due))], err
}

func TestSuiteCatchesBrokenInventoryBackends(t *testing.T) {
	broken := map[string]func() Store{
		"device read across orgs":        func() Store { return leakyDevice{memory.New()} },
		"audited same-state no-op":       func() Store { return noopAudited{memory.New()} },
		"inventory save ignores version": func() Store { return lastSaveWins{memory.New()} },
		"refresh of unenrolled devices":  func() Store { return dueIgnoresState{memory.New()} },
	}
	expectCaught(t, broken, "Inventory/")
}
