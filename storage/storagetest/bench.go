package storagetest

import (
	"testing"

	"github.com/openomm/omm/storage"
)

// Benchmark measures the hot paths shared by every backend, each with a
// store of its own from newStore:
//
//   - AuditAppend: one AppendAudit, the cost of every audited event;
//   - AuditListPage: reading a page of 100 entries from the middle of an
//     org's log of 10,000, while another org holds as many again.
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
}
