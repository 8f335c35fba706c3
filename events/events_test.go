package events_test

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/events"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

var t0 = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func TestFromAudit(t *testing.T) {
	e := storage.AuditEntry{Org: "org_a", Time: t0, Actor: "admin:root", Action: "device.state.deprovisioning", Target: "device:dev_1",
		Details: map[string]string{"reason": "left", "state": "deprovisioning", "remote": "10.0.0.1"}, Event: events.DeprovisionRequested}
	ev, ok := events.FromAudit(e)
	if !ok || ev.Kind != events.DeprovisionRequested || ev.Device != "dev_1" || ev.User != "" || ev.Actor != "admin:root" || !ev.Time.Equal(t0) {
		t.Fatalf("FromAudit = %+v, %v", ev, ok)
	}
	if !maps.Equal(ev.Data, map[string]string{"reason": "left"}) {
		t.Errorf("data %v: only the kind's documented keys may leave the audit log", ev.Data)
	}
	if !strings.HasPrefix(ev.ID, "evt_") || ev.Validate() != nil {
		t.Errorf("event %+v does not validate", ev)
	}
	e.Event = ""
	if _, ok := events.FromAudit(e); ok {
		t.Error("an entry naming no event made one")
	}
	// The user: the target, else the details, else the acting user.
	for _, tc := range []struct {
		e    storage.AuditEntry
		user string
	}{
		{storage.AuditEntry{Target: "user:u1", Actor: "admin:root"}, "u1"},
		{storage.AuditEntry{Target: "android-token:x", Actor: "admin:root", Details: map[string]string{"user": "u2"}}, "u2"},
		{storage.AuditEntry{Target: "enrollment:s", Actor: "user:u3"}, "u3"},
		{storage.AuditEntry{Target: "device:d", Actor: "user:u4"}, ""}, // the store fills in the device's user
	} {
		tc.e.Org, tc.e.Time, tc.e.Event = "org_a", t0, events.EnrollmentStarted
		if ev, _ := events.FromAudit(tc.e); ev.User != tc.user {
			t.Errorf("%+v: user %q, want %q", tc.e, ev.User, tc.user)
		}
	}
}

func TestForState(t *testing.T) {
	want := map[inventory.State]events.Kind{
		inventory.StateEnrolled: events.EnrollmentCompleted, inventory.StateDeprovisioning: events.DeprovisionRequested,
		inventory.StateDeprovisioned: events.DeprovisionCompleted, inventory.StateWiped: events.WipeCompleted,
		inventory.StatePending: "",
	}
	for st, k := range want {
		if got := events.ForState(string(st)); got != k {
			t.Errorf("ForState(%s) = %q, want %q", st, got, k)
		}
	}
}

func TestForOutcome(t *testing.T) {
	for status, want := range map[enroll.CommandStatus][]events.Kind{
		enroll.StatusAcknowledged: {events.CommandAcknowledged},
		enroll.StatusError:        {events.CommandError},
		enroll.StatusFormatError:  {events.CommandError},
		enroll.StatusNotNow:       {events.CommandNotNow},
		enroll.StatusPending:      nil,
	} {
		var got []events.Kind
		for _, e := range events.ForOutcome("org_a", "dev_1", "u-1", "DeviceInformation", string(status), "boom", t0) {
			got = append(got, e.Kind)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", status, got, want)
		}
	}
	lock := events.ForOutcome("org_a", "dev_1", "u-2", "DeviceLock", string(enroll.StatusAcknowledged), "", t0)
	if len(lock) != 2 || lock[1].Kind != events.LockAcknowledged {
		t.Errorf("an acknowledged lock: %+v", lock)
	}
	long := strings.Repeat("é", events.MaxDetail)
	e := events.ForOutcome("org_a", "dev_1", "u-3", "InstallProfile", "Error", long, t0)[0]
	if len(e.Data["detail"]) > events.MaxDetail || !strings.HasPrefix(long, e.Data["detail"]) || e.Validate() != nil {
		t.Errorf("a long error detail became %d bytes", len(e.Data["detail"]))
	}
}

func TestInventory(t *testing.T) {
	if _, ok := events.Inventory("org_a", "dev_1", nil, false, t0); ok {
		t.Error("an unchanged inventory made an event")
	}
	changed := map[string]string{}
	for i := range 100 {
		changed[strings.Repeat("k", i%5+1)+string(rune('a'+i%26))+string(rune('a'+i/26))] = strings.Repeat("v", 300)
	}
	e, ok := events.Inventory("org_a", "dev_1", changed, true, t0)
	if !ok || e.Validate() != nil || e.Data["apps"] != "changed" || e.Data["more"] == "" {
		t.Errorf("a large change: %d data entries, more=%q, valid: %v", len(e.Data), e.Data["more"], e.Validate())
	}
}

func TestKinds(t *testing.T) {
	seen := map[events.Kind]bool{}
	for _, k := range events.Kinds() {
		if seen[k] || !strings.Contains(string(k), ".") {
			t.Errorf("kind %q repeated or not dotted", k)
		}
		seen[k] = true
	}
}
