// Package sqlite is the embedded default storage backend, built on
// modernc.org/sqlite (no cgo). It implements every store contract of the SDK
// in one database file.
//
// Durability: the database runs in WAL mode with synchronous=FULL, so a call
// that returned has reached the disk and survives a crash of the process or
// the machine. Writes go through a single connection (SQLite allows one
// writer at a time; queuing them in Go avoids busy-retry storms), reads
// through a small pool of read-only connections that WAL lets run beside the
// writer. The schema is migrated to the latest version on [Open].
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store implements the store contracts on SQLite. It is safe for concurrent
// use by multiple goroutines of one process; do not open the same file from
// two processes at once for writing.
type Store struct {
	w     *sql.DB // the single writer
	r     *sql.DB // read-only pool
	log   *slog.Logger
	clock func() time.Time
}

// Option configures [Open].
type Option func(*config)

type config struct {
	log         *slog.Logger
	clock       func() time.Time
	busyTimeout time.Duration
	readers     int
}

// WithLogger sets the logger for migrations and storage warnings.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// WithClock sets the clock used to stamp applied migrations.
func WithClock(now func() time.Time) Option { return func(c *config) { c.clock = now } }

// WithBusyTimeout sets how long a connection waits for a lock held by
// another (default 10s).
func WithBusyTimeout(d time.Duration) Option { return func(c *config) { c.busyTimeout = d } }

// WithReaders sets the number of read-only connections (default 4).
func WithReaders(n int) Option { return func(c *config) { c.readers = max(n, 1) } }

// Open opens (creating if needed) the database file at path and migrates its
// schema. The file's directory must exist.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	cfg := config{log: slog.Default(), clock: time.Now, busyTimeout: 10 * time.Second, readers: 4}
	for _, o := range opts {
		o(&cfg)
	}
	if path == "" || strings.ContainsAny(path, "?#") || path == ":memory:" {
		return nil, fmt.Errorf("sqlite: open %q: %w: want a file path without '?' or '#'", path, storage.ErrInvalid)
	}
	params := url.Values{}
	params.Set("_busy_timeout", fmt.Sprint(cfg.busyTimeout.Milliseconds()))
	params.Set("_foreign_keys", "1")
	params.Set("_journal_mode", "WAL")
	params.Set("_synchronous", "FULL")
	params.Set("_txlock", "immediate")

	w, err := sql.Open("sqlite", "file:"+path+"?"+params.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)

	s := &Store{w: w, log: cfg.log, clock: cfg.clock}
	// Migrate before the readers open, so that they never see an old schema.
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}

	params.Set("_query_only", "1")
	params.Set("_txlock", "deferred")
	r, err := sql.Open("sqlite", "file:"+path+"?"+params.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(cfg.readers)
	r.SetMaxIdleConns(cfg.readers)
	r.SetConnMaxLifetime(0)
	s.r = r
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database. Calls after Close fail.
func (s *Store) Close() error {
	var errR error
	if s.r != nil {
		errR = s.r.Close()
	}
	return errors.Join(s.w.Close(), errR)
}

// Ping checks that both the writer and the readers answer.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping writer: %w", err)
	}
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping readers: %w", err)
	}
	return nil
}

// IntegrityCheck runs SQLite's full integrity check and returns an error
// describing the first problems it reports.
func (s *Store) IntegrityCheck(ctx context.Context) error {
	rows, err := s.r.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("sqlite: integrity check: %w", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("sqlite: integrity check: %w", err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: integrity check: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("sqlite: integrity check failed: %s", strings.Join(problems, "; "))
	}
	return nil
}

func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrate.Load(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_us INTEGER NOT NULL
		) STRICT`); err != nil {
			return fmt.Errorf("sqlite: create schema_migrations: %w", err)
		}
		var current int
		if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
			return fmt.Errorf("sqlite: read schema version: %w", err)
		}
		pending, err := migrate.Pending(ms, current)
		if err != nil {
			return fmt.Errorf("sqlite: %w", err)
		}
		for _, m := range pending {
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("sqlite: migration %d (%s): %w", m.Version, m.Name, err)
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_us) VALUES (?, ?, ?)",
				m.Version, m.Name, s.clock().UnixMicro()); err != nil {
				return fmt.Errorf("sqlite: record migration %d: %w", m.Version, err)
			}
			s.log.InfoContext(ctx, "sqlite: applied schema migration", "version", m.Version, "name", m.Name)
		}
		return nil
	})
}

// write runs fn in a write transaction (BEGIN IMMEDIATE on the single
// writer) and commits when fn returns nil.
func (s *Store) write(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, ignoreDone(tx.Rollback()))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}

// constraint reports which SQLite constraint err violated, or 0.
func constraint(err error) int {
	var se *msqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT {
		return se.Code()
	}
	return 0
}

// notFound wraps storage.ErrNotFound with what was looked up, and passes other
// errors through.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf(format+": %w", append(args, storage.ErrNotFound)...)
	}
	return fmt.Errorf("sqlite: "+format+": %w", append(args, err)...)
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }
