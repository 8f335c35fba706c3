package storagetest

import (
	"context"
	"testing"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// Backends that each break one rule of the inventory answer; the suite
// must catch every one.

// inventoryApart records the answer and hands out the next command, then
// stores the inventory in a transaction of its own: a failed save leaves
// the answer recorded and a delivery counted.
type inventoryApart struct{ *memory.Store }

func (s inventoryApart) RecordOutcomeInventory(ctx context.Context, org storage.OrgID, device string, o enroll.Outcome, opt enroll.NextOptions,
	hold func(string) bool, inv enroll.InventoryAnswer) (enroll.Answer, error) {
	a, err := s.RecordOutcomeNext(ctx, org, device, o, opt, hold)
	if err != nil || !a.Recorded || a.Command.RequestType != inv.RequestType {
		return a, err
	}
	a.Device, err = s.SaveInventory(ctx, org, device, inv.Version, inv.Update)
	a.Inventoried = err == nil
	return a, err
}

// inventoryAnyType stores the update with an answer to any command.
type inventoryAnyType struct{ *memory.Store }

func (s inventoryAnyType) RecordOutcomeInventory(ctx context.Context, org storage.OrgID, device string, o enroll.Outcome, opt enroll.NextOptions,
	hold func(string) bool, inv enroll.InventoryAnswer) (enroll.Answer, error) {
	if q, err := s.Commands(ctx, org, device, 0); err == nil {
		for _, c := range q {
			if c.UUID == o.UUID {
				inv.RequestType = c.RequestType
			}
		}
	}
	return s.Store.RecordOutcomeInventory(ctx, org, device, o, opt, hold, inv)
}

func TestSuiteCatchesBrokenInventoryAnswers(t *testing.T) {
	broken := map[string]func() Store{
		"inventory stored apart from the answer": func() Store { return inventoryApart{memory.New()} },
		"inventory stored with any answer":       func() Store { return inventoryAnyType{memory.New()} },
	}
	expectCaught(t, broken, "Queue/RecordOutcomeInventory")
}
