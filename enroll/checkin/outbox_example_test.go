package checkin_test

import (
	"context"
	"fmt"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// A command queued by a server that died before it pushed leaves its
// device in the push outbox; the next drain, by any replica, takes it.
// (Without a pusher, as here, the outbox is only emptied.)
func ExampleOutbox_Drain() {
	ctx := context.Background()
	mem := memory.New()
	org := storage.OrgID("org_acme")
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	if _, err := mem.CreateOrg(ctx, storage.Org{ID: org, Name: "acme", DisplayName: "Acme"},
		storage.AuditEntry{Org: org, Time: at, Actor: "system", Action: "org.create"}); err != nil {
		panic(err)
	}
	if err := mem.EnqueueCommand(ctx, org, []string{"dev-1", "dev-2"}, enroll.Command{UUID: "cmd-1", RequestType: "DeviceInformation", Body: []byte("<plist/>")},
		storage.AuditEntry{Org: org, Time: at, Actor: "admin:it", Action: "command.enqueue"}); err != nil {
		panic(err)
	}
	o := checkin.NewOutbox(mem, nil, checkin.WithOutboxClock(func() time.Time { return at }), checkin.WithOutboxLogger(quiet))
	n, err := o.Drain(ctx, org)
	fmt.Println(n, err)
	n, err = o.Drain(ctx, org)
	fmt.Println(n, err)
	// Output:
	// 2 <nil>
	// 0 <nil>
}
