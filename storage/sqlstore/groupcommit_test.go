package sqlstore

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"testing"

	_ "modernc.org/sqlite"
)

// TestGroupCommit: on SQLite, writers that queue behind a running write
// commit together, each in a savepoint: one whose function fails, or
// panics, is rolled back alone and gets its own error (the panic is raised
// again in its goroutine); one whose context ended before its turn does
// not run; the others' changes are committed before they return.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	s, db := newSQLiteFile(t)
	if _, err := db.Exec("CREATE TABLE gc_test (v TEXT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	insert := func(tx tx, v string) error {
		_, err := tx.exec(ctx, "INSERT INTO gc_test (v) VALUES (?)", v)
		return err
	}

	// The first writer holds the writer's seat until the others queued.
	release := make(chan struct{})
	firstIn := make(chan struct{})
	var wg sync.WaitGroup
	results := map[string]error{}
	var mu sync.Mutex
	run := func(name string, ctx context.Context, fn func(tx) error) {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					mu.Lock()
					results[name] = errors.New("panicked: " + p.(string))
					mu.Unlock()
				}
			}()
			err := s.write(ctx, fn)
			mu.Lock()
			results[name] = err
			mu.Unlock()
		})
	}
	run("first", ctx, func(tx tx) error {
		close(firstIn)
		<-release
		return insert(tx, "first")
	})
	<-firstIn
	var sharedOK bool
	errFails := errors.New("fails on purpose")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	ranCancelled := false
	run("ok", ctx, func(tx tx) error {
		sharedOK = tx.shared
		return insert(tx, "ok")
	})
	waitQueued(t, s, 1)
	run("fails", ctx, func(tx tx) error {
		if err := insert(tx, "fails"); err != nil {
			return err
		}
		return errFails
	})
	waitQueued(t, s, 2)
	run("panics", ctx, func(tx tx) error {
		if err := insert(tx, "panics"); err != nil {
			return err
		}
		panic("on purpose")
	})
	waitQueued(t, s, 3)
	run("cancelled", cancelled, func(tx tx) error {
		ranCancelled = true
		return insert(tx, "cancelled")
	})
	waitQueued(t, s, 4)
	run("last", ctx, func(tx tx) error { return insert(tx, "last") })
	waitQueued(t, s, 5)
	close(release)
	wg.Wait()

	want := map[string]string{"first": "<nil>", "ok": "<nil>", "fails": errFails.Error(), "panics": "panicked: on purpose",
		"cancelled": context.Canceled.Error(), "last": "<nil>"}
	for name, w := range want {
		got := "<nil>"
		if results[name] != nil {
			got = results[name].Error()
		}
		if got != w {
			t.Errorf("writer %s: %s, want %s", name, got, w)
		}
	}
	if !sharedOK {
		t.Error("the writers queued behind the first did not commit as a group")
	}
	if ranCancelled {
		t.Error("the writer whose context had ended ran")
	}
	rows, err := db.Query("SELECT v FROM gc_test ORDER BY v")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if w := []string{"first", "last", "ok"}; !slices.Equal(got, w) {
		t.Errorf("committed %q, want %q", got, w)
	}
	if s.group.busy || len(s.group.queue) != 0 {
		t.Errorf("group left busy=%v with %d queued", s.group.busy, len(s.group.queue))
	}
	// And alone, a writer still commits.
	if err := s.write(ctx, func(tx tx) error { return insert(tx, "alone") }); err != nil {
		t.Fatal(err)
	}
}

// waitQueued waits until n writers wait behind the running one (its
// group taken out of the queue).
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	for {
		s.group.mu.Lock()
		q := len(s.group.queue)
		s.group.mu.Unlock()
		if q >= n {
			return
		}
		runtime.Gosched()
	}
}
