package checkin_test

import (
	"net/http"
	"testing"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/events"
	"github.com/openomm/omm/inventory"
)

// TestResultSentAgain: a device whose connection broke after it sent a
// result (the server, or the replica that served it, died before the
// answer reached it) sends the same result again on its next connection.
// The server records it once: no second outcome, event or inventory
// write, even when the result sent again differs; the command the lost
// answer carried is handed out again, since the device never saw it.
func TestResultSentAgain(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(e.orgA, "UDID-RESEND", "alice").enroll()
	drain(t, d)
	rec := d.record()
	if err := e.svc.RefreshInventory(t.Context(), e.orgA, rec.ID, "admin:bob"); err != nil {
		t.Fatal(err)
	}
	_, info := d.connect("Idle", "", nil)
	if requestType(info) != "DeviceInformation" {
		t.Fatalf("first command %s, want DeviceInformation", requestType(info))
	}
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
	values, err := e.store.DeviceValues(t.Context(), e.orgA, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	name := ""
	for _, v := range values {
		if v.Key == inventory.KeyDeviceName {
			name = v.Value
		}
	}
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
