package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"
)

// TestPreparedReads: on SQLite, a read outside a transaction is prepared
// once and its statement reused, and so is a write transaction's after
// the first transaction that ran it; the cache is bounded (past the bound a
// query runs unprepared, with the same answer); a query that does not
// prepare reports its error as before; Close closes the statements. On
// PostgreSQL nothing is cached here (pgx caches per connection).
func TestPreparedReads(t *testing.T) {
	ctx := context.Background()
	s, db := newSQLiteFile(t)
	var n int
	for range 3 {
		if err := s.queryRow(ctx, "SELECT count(*) FROM {orgs} WHERE id <> ?", "x").Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	if s.rstmts.n != 1 {
		t.Errorf("%d statements prepared for one query run 3 times, want 1", s.rstmts.n)
	}
	for i := range maxPrepared + 5 {
		var got int
		if err := s.queryRow(ctx, fmt.Sprintf("SELECT %d + ?", i), 1).Scan(&got); err != nil || got != i+1 {
			t.Fatalf("query %d = %d, %v", i, got, err)
		}
	}
	if s.rstmts.n != maxPrepared {
		t.Errorf("%d statements cached, bound %d", s.rstmts.n, maxPrepared)
	}
	if err := s.queryRow(ctx, "SELECT nothing FROM {no_such_table}").Scan(&n); err == nil {
		t.Error("a query on a missing table answered")
	}
	// A write transaction uses only statements prepared already: the
	// first one runs its query unprepared and prepares it after its
	// commit; the next one uses it.
	for i := range 2 {
		err := s.write(ctx, func(t tx) error {
			if st := t.stmt(ctx, s.q("SELECT count(*) FROM {orgs} WHERE id = ?")); (st != nil) != (i == 1) {
				return fmt.Errorf("transaction %d: prepared statement %v", i, st)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := s.wstmts.m.Load(s.q("SELECT count(*) FROM {orgs} WHERE id = ?")); !ok {
		t.Error("the transaction's statement is not prepared")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.rstmts.n+s.wstmts.n != 0 {
		t.Errorf("%d statements left after Close", s.rstmts.n+s.wstmts.n)
	}
	pg := &Store{d: PostgreSQL}
	if st := pg.prepared(ctx, db, &pg.rstmts, "SELECT 1"); st != nil {
		t.Error("a statement cached for PostgreSQL")
	}
}

// newSQLiteFile opens a store on a new SQLite file and returns it with
// its pool, which is closed when the test ends.
func newSQLiteFile(t *testing.T) (*Store, *sql.DB) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := New(context.Background(), db, SQLite, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	return s, db
}
