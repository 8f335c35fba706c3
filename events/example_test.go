package events_test

import (
	"context"
	"fmt"
	"time"

	"github.com/openomm/omm/events"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// A change names the event it emits on its audit entry; a consumer reads
// the org's stream after its cursor and keeps the cursor.
func Example() {
	ctx := context.Background()
	store := memory.New()
	org := storage.OrgID("org_example")
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	store.CreateOrg(ctx, storage.Org{ID: org, Name: "example", DisplayName: "Example"},
		storage.AuditEntry{Org: org, Time: now, Actor: "admin:root", Action: "org.create"})
	d, _ := store.CreateDevice(ctx, inventory.Device{ID: "dev_1", Org: org, UserID: "alice", Platform: inventory.PlatformIOS,
		Ownership: inventory.OwnershipPersonal, EnrollmentType: inventory.EnrollAppleDevice, State: inventory.StatePending,
		Identifier: "UDID-1"}, storage.AuditEntry{Org: org, Time: now, Actor: "device:UDID-1", Action: "device.register"})

	// The change and its event commit together.
	store.UpdateDeviceState(ctx, org, d.ID, inventory.StateEnrolled, storage.AuditEntry{Org: org, Time: now,
		Actor: "device:UDID-1", Action: "device.state.enrolled", Target: "device:" + d.ID, Event: events.ForState("enrolled")})

	cursor, _ := store.EventCursor(ctx, org, "my-consumer")
	page, _ := store.Events(ctx, org, events.Query{After: cursor})
	for _, e := range page.Events {
		fmt.Println(e.Seq, e.Kind, e.Device, e.User)
		cursor = e.Seq
	}
	store.SetEventCursor(ctx, org, "my-consumer", cursor)
	// Output:
	// 1 enrollment.completed dev_1 alice
}
