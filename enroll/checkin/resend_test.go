package checkin_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/events"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

// TestResultSentAgain: a device whose connection broke after it sent a
// result (the server, or the replica that served it, died before the
// answer reached it) sends the same result again on its next connection.
// The server records it once: no second outcome, event or inventory
// write, even when the result sent again differs; the command the lost
// answer carried is handed out again, since the device never saw it.
func TestResultSentAgain(t *testing.T) {
	e := newEnv(t)
	d, rec, info := refreshing(t, e, "UDID-RESEND")
	answer := func(name string) (int, map[string]any) {
		return d.connect("Acknowledged", commandUUID(info), map[string]any{"QueryResponses": map[string]any{"DeviceName": name}})
	}
	st, next := answer("First name")
	if st != http.StatusOK || next == nil {
		t.Fatalf("answer: %d, next %v", st, next)
	}
	before := deviceEvents(t, e, rec.ID)

	// The answer (carrying next) was lost: the device sends its result
	// again, and gets next again.
	st, again := answer("Second name")
	if st != http.StatusOK || commandUUID(again) != commandUUID(next) {
		t.Fatalf("result sent again: %d, next %s, want %s again", st, commandUUID(again), commandUUID(next))
	}
	after := deviceEvents(t, e, rec.ID)
	if len(after) != len(before) {
		t.Errorf("the result sent again added events: %v", kinds(after[len(before):]))
	}
	acks := 0
	for _, ev := range after {
		if ev.Kind == events.CommandAcknowledged && ev.Data["uuid"] == commandUUID(info) {
			acks++
		}
	}
	if acks != 1 {
		t.Errorf("%d acknowledgement events of %s, want 1", acks, commandUUID(info))
	}
	name := storedName(t, e, rec.ID)
	if name != "First name" {
		t.Errorf("device name %q, want the first result's", name)
	}
	actions, err := e.svc.Actions(t.Context(), e.orgA, rec.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range actions {
		switch a.UUID {
		case commandUUID(info):
			if a.Status != enroll.StatusAcknowledged || a.Deliveries != 1 {
				t.Errorf("DeviceInformation: %s after %d deliveries, want Acknowledged after 1", a.Status, a.Deliveries)
			}
		case commandUUID(next):
			if !a.Status.Open() || a.Deliveries != 2 {
				t.Errorf("%s: %s after %d deliveries, want open after 2", a.RequestType, a.Status, a.Deliveries)
			}
		}
	}
}

// deviceEvents returns the device's events, oldest first.
func deviceEvents(t *testing.T, e *env, device string) []events.Event {
	t.Helper()
	log, ok := e.store.(events.Store)
	if !ok {
		t.Fatal("the test store keeps no event log")
	}
	page, err := log.Events(t.Context(), e.orgA, events.Query{Device: device, Limit: events.MaxPage})
	if err != nil {
		t.Fatal(err)
	}
	return page.Events
}

func kinds(evs []events.Event) []events.Kind {
	out := make([]events.Kind, len(evs))
	for i, ev := range evs {
		out[i] = ev.Kind
	}
	return out
}

// TestRefreshAll: one DeviceInformation command to every enrolled Apple
// device of the org, queued as one fan-out (one command, one queued
// event), its devices recorded in the push outbox, nobody woken in the
// call; a device of another org or no longer enrolled gets nothing.
func TestRefreshAll(t *testing.T) {
	e := newEnv(t)
	a := e.newDevice(e.orgA, "UDID-ALL-A", "alice").enroll()
	b := e.newDevice(e.orgA, "UDID-ALL-B", "bob").enroll()
	other := e.newDevice(e.orgB, "UDID-ALL-O", "carol").enroll()
	for _, d := range []*device{a, b, other} {
		drain(t, d)
	}
	e.woken = nil
	// The enrollments' pushes (this test's waker is not the outbox) are
	// done.
	if earlier, err := e.store.ClaimPushes(t.Context(), e.orgA, nil, "earlier", now, now.Add(time.Minute), 100); err != nil {
		t.Fatal(err)
	} else if err := e.store.PushesDone(t.Context(), e.orgA, "earlier", earlier); err != nil {
		t.Fatal(err)
	}
	before := len(deviceEvents(t, e, ""))
	list := []inventory.Device{a.record(), b.record(), other.record()}
	gone := list[1]
	gone.State = inventory.StateWiped // as read before it was wiped: skipped
	queued, err := e.svc.RefreshAll(t.Context(), e.orgA, []inventory.Device{list[0], gone, list[2]}, "admin:bob")
	if err != nil {
		t.Fatal(err)
	}
	if len(queued) != 1 || queued[0] != list[0].ID {
		t.Fatalf("queued for %v, want only %s", queued, list[0].ID)
	}
	if len(e.woken) != 0 {
		t.Errorf("woke %v in the call", e.woken)
	}
	waiting, err := e.store.ClaimPushes(t.Context(), e.orgA, nil, "test", now, now.Add(time.Minute), 10)
	if err != nil || len(waiting) != 1 || waiting[0] != list[0].ID {
		t.Errorf("push outbox holds %v (%v), want %s", waiting, err, list[0].ID)
	}
	evs := deviceEvents(t, e, "")[before:]
	if len(evs) != 1 || evs[0].Kind != events.CommandQueued || evs[0].Data["devices"] != "1" {
		t.Errorf("events %+v, want one command.queued for 1 device", evs)
	}
	if _, cmd := a.connect("Idle", "", nil); requestType(cmd) != "DeviceInformation" {
		t.Errorf("device A got %v, want DeviceInformation", requestType(cmd))
	}
	for _, d := range []*device{b, other} {
		if _, cmd := d.connect("Idle", "", nil); cmd != nil {
			t.Errorf("device %s got %s", d.udid, requestType(cmd))
		}
	}
}

// failingInventoryWrites fails the first write of an inventory answer
// once armed: the answer stored with its inventory, or the inventory saved
// on its own.
type failingInventoryWrites struct {
	checkin.Store
	armed *atomic.Bool
}

var errInjected = errors.New("injected: disk full")

func (s failingInventoryWrites) RecordOutcomeNext(ctx context.Context, org storage.OrgID, device string, o enroll.Outcome, opt enroll.NextOptions,
	hold func(string) bool) (enroll.Answer, error) {
	return s.Store.(enroll.AnswerQueue).RecordOutcomeNext(ctx, org, device, o, opt, hold)
}

func (s failingInventoryWrites) RecordOutcomeInventory(ctx context.Context, org storage.OrgID, device string, o enroll.Outcome, opt enroll.NextOptions,
	hold func(string) bool, inv enroll.InventoryAnswer) (enroll.Answer, error) {
	if s.armed.CompareAndSwap(true, false) {
		return enroll.Answer{}, errInjected
	}
	return s.Store.(enroll.InventoryAnswerQueue).RecordOutcomeInventory(ctx, org, device, o, opt, hold, inv)
}

type failingSaves struct {
	inventory.Store
	armed *atomic.Bool
}

func (s failingSaves) SaveInventory(ctx context.Context, org storage.OrgID, id string, version int64, u inventory.Update) (inventory.Device, error) {
	if s.armed.CompareAndSwap(true, false) {
		return inventory.Device{}, errInjected
	}
	return s.Store.SaveInventory(ctx, org, id, version, u)
}

// TestFailedIngestRecordsNothing: when an inventory answer's inventory
// cannot be stored, nothing of the answer is (its outcome, its event, the
// next command's delivery): the device gets an error and sends the answer
// again, and that one is stored with its inventory. (Recorded apart, the
// answer would be kept and its inventory lost for good: the resent answer
// is a replay.)
func TestFailedIngestRecordsNothing(t *testing.T) {
	var armed atomic.Bool
	e := newEnvWrappedInv(t,
		func(s checkin.Store) checkin.Store { return failingInventoryWrites{s, &armed} },
		func(s inventory.Store) inventory.Store { return failingSaves{s, &armed} })
	d, rec, info := refreshing(t, e, "UDID-FAILED-INGEST")
	before := deviceEvents(t, e, rec.ID)
	armed.Store(true)
	answer := func(name string) (int, map[string]any) {
		return d.connect("Acknowledged", commandUUID(info), map[string]any{"QueryResponses": map[string]any{"DeviceName": name}})
	}
	if st, next := answer("Lost name"); st == http.StatusOK || next != nil {
		t.Fatalf("answer with its inventory write failing: %d, next %v; want an error", st, next)
	}
	if armed.Load() {
		t.Fatal("no inventory write was attempted")
	}
	if after := deviceEvents(t, e, rec.ID); len(after) != len(before) {
		t.Errorf("the failed answer added events: %v", kinds(after[len(before):]))
	}
	// wantActions checks the answered command's status and the deliveries
	// of the commands still open, summed.
	wantActions := func(when string, infoStatus enroll.CommandStatus, openDeliveries int) {
		t.Helper()
		actions, err := e.svc.Actions(t.Context(), e.orgA, rec.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		delivered := 0
		for _, a := range actions {
			switch {
			case a.UUID == commandUUID(info):
				if a.Status != infoStatus {
					t.Errorf("%s: the answered command is %s, want %s", when, a.Status, infoStatus)
				}
			case a.Status.Open():
				delivered += a.Deliveries
			}
		}
		if delivered != openDeliveries {
			t.Errorf("%s: the open commands were delivered %d times, want %d", when, delivered, openDeliveries)
		}
	}
	wantActions("after the failure", enroll.StatusPending, 0)

	st, next := answer("Second name")
	if st != http.StatusOK || next == nil {
		t.Fatalf("answer sent again: %d, next %v; want the refresh's next query", st, next)
	}
	wantActions("after the answer sent again", enroll.StatusAcknowledged, 1)
	name := storedName(t, e, rec.ID)
	if name != "Second name" {
		t.Errorf("device name %q, want the answer sent again's", name)
	}
}

// refreshing enrolls alice's device udid, drains its queue, queues an
// inventory refresh and returns the device with the refresh's first
// command (DeviceInformation), delivered and not yet answered.
func refreshing(t *testing.T, e *env, udid string) (*device, inventory.Device, map[string]any) {
	t.Helper()
	d := e.newDevice(e.orgA, udid, "alice").enroll()
	drain(t, d)
	rec := d.record()
	if err := e.svc.RefreshInventory(t.Context(), e.orgA, rec.ID, "admin:bob"); err != nil {
		t.Fatal(err)
	}
	_, info := d.connect("Idle", "", nil)
	if requestType(info) != "DeviceInformation" {
		t.Fatalf("first command %s, want DeviceInformation", requestType(info))
	}
	return d, rec, info
}
