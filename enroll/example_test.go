package enroll_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/mdm"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// A command queued for a device is handed out at each check-in until the
// device answers it; NotNow keeps it for a later check-in.
func ExampleCommandQueue() {
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	var q enroll.CommandQueue
	s := memory.New()
	q = s
	org := storage.Org{ID: "org_acme", Name: "acme", DisplayName: "Acme"}
	s.CreateOrg(ctx, org, storage.AuditEntry{Org: org.ID, Time: now, Actor: "system", Action: "org.create"})

	info := mdm.SecurityInfo()
	body, _ := info.Encode()
	q.EnqueueCommand(ctx, org.ID, []string{"UDID-1"}, enroll.Command{UUID: info.UUID, RequestType: info.RequestType, Body: body},
		storage.AuditEntry{Org: org.ID, Time: now, Actor: "admin:alice", Action: "command.enqueue", Target: "device:UDID-1"})

	c, _ := q.NextCommand(ctx, org.ID, "UDID-1", enroll.NextOptions{Now: now})
	fmt.Println(c.RequestType, c.Status, c.Deliveries)
	q.RecordOutcome(ctx, org.ID, "UDID-1", enroll.Outcome{UUID: c.UUID, Status: enroll.StatusNotNow, Time: now})

	// Same connection: nothing else to do.
	_, err := q.NextCommand(ctx, org.ID, "UDID-1", enroll.NextOptions{SkipNotNow: true, Now: now})
	fmt.Println(err != nil)

	// Next check-in: delivered again, and acknowledged.
	c, _ = q.NextCommand(ctx, org.ID, "UDID-1", enroll.NextOptions{Now: now})
	done, _, _ := q.RecordOutcome(ctx, org.ID, "UDID-1", enroll.Outcome{UUID: c.UUID, Status: enroll.StatusAcknowledged, Time: now})
	fmt.Println(done.Status, done.Deliveries)
	// Output:
	// SecurityInfo Pending 1
	// true
	// Acknowledged 2
}

// A device that does not take its identity renewal is tried again with
// back-off: an hour, doubling, at most a day; a renewal unfinished in the
// last week before the identity expires is at risk.
func ExampleRenewalBackoff() {
	var delays []string
	for n := 1; n <= 7; n++ {
		delays = append(delays, enroll.RenewalBackoff(n).String())
	}
	fmt.Println(strings.Join(delays, " "))
	notAfter := time.Date(2027, 12, 1, 0, 0, 0, 0, time.UTC)
	r := enroll.Renewal{NotAfter: notAfter}
	fmt.Println(r.AtRisk(notAfter.Add(-10*24*time.Hour), enroll.DefaultRenewalAtRisk), r.AtRisk(notAfter.Add(-5*24*time.Hour), enroll.DefaultRenewalAtRisk),
		r.Lapsed(notAfter))
	// Output:
	// 1h0m0s 2h0m0s 4h0m0s 8h0m0s 16h0m0s 24h0m0s 24h0m0s
	// false true true
}
