package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/internal/cputime"
	"github.com/openomm/omm/inventory"

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
//     the acknowledgement — the store's work for one command;
//   - InventoryAnswer: record the answer to a queued inventory query with
//     its inventory update (30 values, two of them changed each time) and
//     hand out the next command, in one transaction — the store's work
//     for each command of an inventory refresh.
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
	b.Run("InventoryAnswer", func(b *testing.B) {
		s := newStore(b)
		o := mustCreateOrg(b, s, "acme")
		d := mustCreateDevice(b, s, newDevice(o.ID, 1), at(1))
		opt := enroll.NextOptions{SkipNotNow: true, Now: at(2)}
		never := func(string) bool { return false }
		// Up to 30 of the contract's text and number values, as a device
		// reports them; the first two change with every answer.
		var attrs []inventory.Attribute
		for _, a := range inventory.Contract() {
			if (a.Kind == inventory.KindText || a.Kind == inventory.KindNumber) && len(attrs) < 30 {
				attrs = append(attrs, a)
			}
		}
		values := func(i int) []inventory.Value {
			vals := make([]inventory.Value, len(attrs))
			for k, a := range attrs {
				n := k
				if k < 2 {
					n = i
				}
				vals[k] = inventory.Value{Key: a.Key, Value: fmt.Sprint(n), Source: a.Source, Collected: at(i)}
			}
			return vals
		}
		// Commands are queued ahead, outside the timer, a batch at a time.
		const batch = 100
		queued, i := 0, 0
		b.ReportAllocs()
		cpu := meterCPU(b)
		defer cpu.report()
		for b.Loop() {
			if i == queued {
				cpu.stop()
				for range batch {
					queued++
					enqueue(b, s, o.ID, fmt.Sprint("c", queued), d.ID)
				}
				cpu.resume()
			}
			i++
			a, err := s.RecordOutcomeInventory(b.Context(), o.ID, d.ID, enroll.Outcome{UUID: fmt.Sprint("c", i), Status: enroll.StatusAcknowledged, Time: at(i)},
				opt, never, enroll.InventoryAnswer{RequestType: command("c").RequestType, Version: d.Version, Update: inventory.Update{At: at(i), Values: values(i)}})
			if err != nil || !a.Inventoried {
				b.Fatalf("RecordOutcomeInventory: %+v, %v", a, err)
			}
			d = a.Device
		}
	})
}

// cpuMeter reports a benchmark's process CPU time per operation
// (cpu-ns/op): a store's work, without the waits wall time includes (a
// synchronous commit's fsync), and without what it did while paused.
type cpuMeter struct {
	b            *testing.B
	start, pause time.Duration
	paused       time.Duration
	ok           bool
}

func meterCPU(b *testing.B) *cpuMeter {
	m := &cpuMeter{b: b}
	m.start, m.ok = cputime.Process()
	return m
}

// stop stops the benchmark's timer and the meter; resume restarts both.
func (m *cpuMeter) stop() {
	m.b.StopTimer()
	m.pause, _ = cputime.Process()
}

func (m *cpuMeter) resume() {
	now, _ := cputime.Process()
	m.paused += now - m.pause
	m.b.StartTimer()
}

// report reports the CPU time per operation since meterCPU.
func (m *cpuMeter) report() {
	end, _ := cputime.Process()
	if m.ok && m.b.N > 0 {
		m.b.ReportMetric(float64(end-m.start-m.paused)/float64(m.b.N), "cpu-ns/op")
	}
}
