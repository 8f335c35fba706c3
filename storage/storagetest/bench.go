package storagetest

import (
	"fmt"
	"testing"

	"github.com/openomm/omm/enroll"

	"github.com/openomm/omm/storage"
)

// Benchmark measures the hot paths shared by every backend, each with a
// store of its own from newStore:
//
//   - AuditAppend: one AppendAudit, the cost of every audited event;
//   - AuditListPage: reading a page of 100 entries from the middle of an
//     org's log of 10,000, while another org holds as many again;
//   - QueueFanOut1000: queueing one command for 1,000 devices;
//   - QueueRoundTrip: queue a command for a device, hand it out, record
//     the acknowledgement — the store's work for one command.
func Benchmark(b *testing.B, newStore func(b *testing.B) Store) {
	b.Run("AuditAppend", func(b *testing.B) {
		s := newStore(b)
		o := mustCreateOrg(b, s, "acme")
		e := entryFor(o.ID, "bench.event", at(0))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.AppendAudit(b.Context(), e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AuditListPage", func(b *testing.B) {
		const n = 10_000
		s := newStore(b)
		o := mustCreateOrg(b, s, "acme")
		other := mustCreateOrg(b, s, "other")
		var mid int64
		for i := range n {
			for _, org := range []storage.OrgID{o.ID, other.ID} {
				got, err := s.AppendAudit(b.Context(), entryFor(org, "bench.event", at(i)))
				if err != nil {
					b.Fatal(err)
				}
				if i == n/2 && org == o.ID {
					mid = got.ID
				}
			}
		}
		q := storage.AuditQuery{After: mid, Limit: 100}
		b.ReportAllocs()
		for b.Loop() {
			p, err := s.ListAudit(b.Context(), o.ID, q)
			if err != nil || len(p.Entries) != 100 {
				b.Fatalf("ListAudit: %d entries, %v", len(p.Entries), err)
			}
		}
	})
	b.Run("QueueFanOut1000", func(b *testing.B) {
		s := newStore(b)
		o := mustCreateOrg(b, s, "acme")
		devices := make([]string, 1000)
		for i := range devices {
			devices[i] = fmt.Sprintf("device-%05d", i)
		}
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			i++
			if err := s.EnqueueCommand(b.Context(), o.ID, devices, command(fmt.Sprint("c", i)), entryFor(o.ID, "command.enqueue", at(0))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("QueueRoundTrip", func(b *testing.B) {
		s := newStore(b)
		o := mustCreateOrg(b, s, "acme")
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			i++
			uuid := fmt.Sprint("c", i)
			if err := s.EnqueueCommand(b.Context(), o.ID, []string{"d1"}, command(uuid), entryFor(o.ID, "command.enqueue", at(0))); err != nil {
				b.Fatal(err)
			}
			if _, err := s.NextCommand(b.Context(), o.ID, "d1", enroll.NextOptions{Now: at(1)}); err != nil {
				b.Fatal(err)
			}
			if _, _, err := s.RecordOutcome(b.Context(), o.ID, "d1", enroll.Outcome{UUID: uuid, Status: enroll.StatusAcknowledged, Time: at(2)}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
