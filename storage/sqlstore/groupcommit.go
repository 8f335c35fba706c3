package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/openomm/omm/events"
)

// Group commit (SQLite). SQLite has one writer, and with synchronous=FULL
// every commit writes its pages to the WAL and syncs it: under load that,
// not the statements, is most of a write's cost (a command round trip is
// two or three small write transactions). So writers that queue behind
// the one running are run together, each in a savepoint of one
// transaction that commits, and syncs, once. A writer whose function fails
// is rolled back to its savepoint alone; the others are unaffected. Every
// writer still returns only after the commit that holds its change, so
// nothing is reported durable before it is.

// maxGroup bounds the writers committed together, so that one commit's
// latency stays bounded however long the queue.
const maxGroup = 32

// writeReq is one writer waiting for the group it will commit in.
type writeReq struct {
	ctx context.Context
	fn  func(tx) error
	err error
	// panicked holds what fn panicked with, panicked again in the
	// writer's own goroutine.
	panicked any
	// done receives true when the writer is to lead the next group, false
	// when its group has committed (or failed) and err is its result.
	done chan bool
}

// group queues the SQLite writers; busy while a leader runs groups.
type group struct {
	mu    sync.Mutex
	queue []*writeReq
	busy  bool
}

// writeGrouped runs fn in the next group commit: the first writer to find
// no group running leads one with every writer queued by then; when it is
// done it hands the lead to the first writer that queued meanwhile.
func (s *Store) writeGrouped(ctx context.Context, fn func(tx) error) error {
	r := &writeReq{ctx: ctx, fn: fn, done: make(chan bool, 1)}
	g := &s.group
	g.mu.Lock()
	g.queue = append(g.queue, r)
	lead := !g.busy
	g.busy = true
	g.mu.Unlock()
	if !lead {
		lead = <-r.done
	}
	if lead {
		s.lead()
	}
	if r.panicked != nil {
		panic(r.panicked)
	}
	return r.err
}

// errPanicked is the result of a writer whose function panicked.
var errPanicked = errors.New("sqlstore: write function panicked")

// call runs fn for r, turning a panic into r.panicked.
func (r *writeReq) call(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.panicked, err = p, errPanicked
		}
	}()
	return fn()
}

// lead runs one group (the queued writers, the leader first) and passes
// the lead on.
func (s *Store) lead() {
	g := &s.group
	g.mu.Lock()
	n := min(len(g.queue), maxGroup)
	batch := g.queue[:n:n]
	g.queue = g.queue[n:]
	g.mu.Unlock()

	s.runGroup(batch)
	for _, r := range batch[1:] {
		r.done <- false
	}

	g.mu.Lock()
	if len(g.queue) == 0 {
		g.busy = false
		g.queue = nil
		g.mu.Unlock()
		return
	}
	next := g.queue[0]
	g.mu.Unlock()
	next.done <- true
}

// runGroup runs batch in one transaction and sets each writer's err. A
// writer alone runs as a plain transaction, as without grouping.
func (s *Store) runGroup(batch []*writeReq) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if len(batch) == 1 {
		r := batch[0]
		r.err = r.call(func() error { return s.writeTx(r.ctx, r.fn) })
		return
	}
	// The transaction is everyone's: no one writer's cancellation may end
	// it (SQLite rolls back the whole transaction of an interrupted
	// write); a writer cancelled before its turn is skipped.
	t, err := s.db.BeginTx(context.WithoutCancel(batch[0].ctx), nil)
	if err != nil {
		for _, r := range batch {
			r.err = fmt.Errorf("%s: begin: %w", s.d.name, err)
		}
		return
	}
	var unprepared []string
	var ok []*writeReq
	fail := func(err error) { // the transaction is lost: so is every change in it
		if rerr := t.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			err = errors.Join(err, rerr)
		}
		for _, r := range batch {
			if r.err == nil {
				r.err = err
			}
		}
	}
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		if _, err := t.ExecContext(context.WithoutCancel(r.ctx), "SAVEPOINT omm_write"); err != nil {
			fail(fmt.Errorf("%s: savepoint: %w", s.d.name, err))
			return
		}
		var emitted []events.Event
		w := tx{t, s, &emitted, &pendingAudit{}, &unprepared, true}
		r.err = r.call(func() error { return w.run(r.ctx, r.fn) })
		if r.err != nil {
			if _, err := t.ExecContext(context.WithoutCancel(r.ctx), "ROLLBACK TO omm_write"); err != nil {
				fail(fmt.Errorf("%s: rollback to savepoint: %w", s.d.name, err))
				return
			}
		}
		// Releasing the savepoint also tells that the transaction is still
		// there: an error that ended it leaves no savepoint to release.
		if _, err := t.ExecContext(context.WithoutCancel(r.ctx), "RELEASE omm_write"); err != nil {
			fail(fmt.Errorf("%s: release savepoint: %w", s.d.name, err))
			return
		}
		if r.err == nil {
			ok = append(ok, r)
		}
	}
	if err := t.Commit(); err != nil {
		err = fmt.Errorf("%s: commit: %w", s.d.name, err)
		for _, r := range ok {
			r.err = err
		}
		return
	}
	for _, q := range unprepared {
		s.prepared(context.WithoutCancel(batch[0].ctx), s.db, &s.wstmts, q)
	}
}
