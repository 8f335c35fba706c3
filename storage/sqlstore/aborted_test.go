package sqlstore_test

import (
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/postgres"
)

// TestPostgresRunsAbortedWritesAgain: two writes that lock two orgs in
// opposite orders deadlock; PostgreSQL aborts one of them, and the store
// runs it again in a new transaction: both complete, in three runs.
func TestPostgresRunsAbortedWritesAgain(t *testing.T) {
	ctx := t.Context()
	var log strings.Builder // written by one write at a time: the other waits on its lock
	s, err := postgres.Open(ctx, pgDSN(t), postgres.WithSchema(newSchema(t)), postgres.WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var orgs []storage.OrgID
	for _, name := range []string{"acme", "globex"} {
		o, err := s.CreateOrg(ctx, storage.Org{ID: storage.OrgID("org_" + name), Name: name, DisplayName: name},
			storage.AuditEntry{Org: storage.OrgID("org_" + name), Time: time.Now(), Actor: "test", Action: "org.create"})
		if err != nil {
			t.Fatal(err)
		}
		orgs = append(orgs, o.ID)
	}
	var runs atomic.Int32
	var holding sync.WaitGroup // both first locks are held
	holding.Add(2)
	// done[i] is closed when write i has returned.
	done := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	lock := func(first, second storage.OrgID, other <-chan struct{}) func(exec func(string, ...any) error) error {
		tries := 0
		return func(exec func(string, ...any) error) error {
			tries++
			runs.Add(1)
			if tries > 1 {
				// The aborted write runs again once the other has
				// committed: run at once, it could take its first lock
				// back before the other, woken by the abort, took it,
				// and deadlock anew (a second abort under load).
				select {
				case <-other:
				case <-time.After(time.Minute):
					return errors.New("the other write did not complete")
				}
			}
			const touch = "UPDATE {orgs} SET name = name WHERE id = ?"
			if err := exec(touch, first); err != nil {
				return err
			}
			if tries == 1 {
				holding.Done()
				holding.Wait()
			}
			return exec(touch, second)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Go(func() {
		defer close(done[0])
		errs[0] = s.WriteExec(ctx, lock(orgs[0], orgs[1], done[1]))
	})
	wg.Go(func() {
		defer close(done[1])
		errs[1] = s.WriteExec(ctx, lock(orgs[1], orgs[0], done[0]))
	})
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	if n := runs.Load(); n != 3 {
		t.Errorf("the writes ran %d times, want 3: the deadlock aborts one, which runs again", n)
	}
	if n := strings.Count(log.String(), "aborted by the database"); n != 1 {
		t.Errorf("the log tells of %d aborted transactions, want 1:\n%s", n, log.String())
	}
}
