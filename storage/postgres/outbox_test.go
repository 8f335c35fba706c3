package postgres_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/postgres"
)

// TestOutboxLocksInOneOrder: replicas claiming, renewing and finishing
// pushes while fan-outs queue commands for the same devices never
// deadlock: every statement that locks outbox rows locks them in device
// order (PostgreSQL aborts one side of a deadlock; an aborted fan-out is
// an administrator's failed request). Before the order was imposed, 5 s
// of this load saw several deadlocks. The store runs an aborted write
// again, so the deadlocks are counted in its log.
func TestOutboxLocksInOneOrder(t *testing.T) {
	var aborts abortCounter
	s := open(t, postgres.WithLogger(slog.New(&aborts)))
	org := storage.OrgID("org_stress")
	if _, err := s.CreateOrg(t.Context(), storage.Org{ID: org, Name: "stress", DisplayName: "s"}, storage.AuditEntry{Org: org, Time: time.Now(), Actor: "t", Action: "org.create"}); err != nil {
		t.Fatal(err)
	}
	var devs []string
	for i := range 300 {
		devs = append(devs, fmt.Sprintf("d%03d", i))
	}
	stop := time.Now().Add(5 * time.Second)
	var mu sync.Mutex
	errs := map[string]int{}
	note := func(what string, err error) {
		if err != nil {
			mu.Lock()
			k := what
			if strings.Contains(err.Error(), "deadlock") {
				k += " deadlock"
			}
			errs[k]++
			mu.Unlock()
		}
	}
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			for i := 0; time.Now().Before(stop); i++ {
				now := time.Now()
				c := fmt.Sprintf("c%d-%d", w, i)
				got, err := s.ClaimPushes(t.Context(), org, nil, c, now, now.Add(time.Minute), 100)
				note("claim", err)
				if len(got) == 0 {
					continue
				}
				rand.Shuffle(len(got), func(a, b int) { got[a], got[b] = got[b], got[a] })
				_, err = s.RenewPushes(t.Context(), org, c, got, now, now.Add(2*time.Minute))
				note("renew", err)
				note("done", s.PushesDone(t.Context(), org, c, got))
			}
		})
	}
	for w := range 2 {
		wg.Go(func() {
			for i := 0; time.Now().Before(stop); i++ {
				note("enqueue", s.EnqueueCommand(t.Context(), org, devs, enroll.Command{UUID: fmt.Sprintf("u%d-%d", w, i), RequestType: "SecurityInfo", Body: []byte("<plist/>")},
					storage.AuditEntry{Org: org, Time: time.Now(), Actor: "t", Action: "command.enqueue"}))
			}
		})
	}
	wg.Wait()
	if n := aborts.n.Load(); n > 0 {
		errs["aborted and run again"] = int(n)
	}
	if len(errs) > 0 {
		t.Errorf("errors under concurrent claims and fan-outs: %v", errs)
	}
}

// abortCounter is a log handler that counts the store's lines about
// transactions the database aborted and the store ran again.
type abortCounter struct{ n atomic.Int64 }

func (c *abortCounter) Enabled(context.Context, slog.Level) bool { return true }

func (c *abortCounter) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "aborted by the database") {
		c.n.Add(1)
	}
	return nil
}

func (c *abortCounter) WithAttrs([]slog.Attr) slog.Handler { return c }

func (c *abortCounter) WithGroup(string) slog.Handler { return c }
