// Package sqlite runs the SDK's one store implementation (storage/sqlstore)
// on SQLite through modernc.org/sqlite (no cgo): the embedded default, one
// database file.
//
// Durability: the database runs in WAL mode with synchronous=FULL, so a call
// that returned has reached the disk and survives a crash of the process or
// the machine. Writes go through a single connection (SQLite allows one
// writer at a time; queuing them in Go avoids busy-retry storms), reads
// through a small pool of read-only connections that WAL lets run beside the
// writer. Writers that queue behind a running one commit together (group
// commit: each in a savepoint of one transaction, rolled back alone if it
// fails), so that one sync of the log serves them all; each call still
// returns only once its change is on disk. Temporary storage (the
// savepoints' journals) stays in memory. The schema is migrated to the latest version on [Open].
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/seal"
	"github.com/openomm/omm/storage/sqlstore"
)

// Store is the SDK's store on SQLite. It is safe for concurrent use by the
// goroutines of one process; do not open the same file from two processes
// at once for writing.
type Store = sqlstore.Store

// Option configures [Open] and [OpenDB].
type Option func(*config)

type config struct {
	store       []sqlstore.Option
	prefix      string
	busyTimeout time.Duration
	readers     int
	log         *slog.Logger
}

// WithLogger sets the logger for migrations and storage warnings.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.store, c.log = append(c.store, sqlstore.WithLogger(l)), l }
}

// WithClock sets the clock used to stamp applied migrations.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.store = append(c.store, sqlstore.WithClock(now)) }
}

// WithPrefix starts every table name with prefix (default
// sqlstore.DefaultPrefix), so that the tables live beside a host product's
// own in one file.
func WithPrefix(prefix string) Option {
	return func(c *config) { c.store, c.prefix = append(c.store, sqlstore.WithPrefix(prefix)), prefix }
}

// WithBusyTimeout sets how long a connection waits for a lock held by
// another (default 10s).
func WithBusyTimeout(d time.Duration) Option { return func(c *config) { c.busyTimeout = d } }

// WithReaders sets the number of read-only connections (default 4).
func WithReaders(n int) Option { return func(c *config) { c.readers = max(n, 1) } }

func configure(opts []Option) config {
	cfg := config{busyTimeout: 10 * time.Second, readers: 4, log: slog.Default()}
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// Open opens (creating if needed) the database file at path and migrates its
// schema. The file's directory must exist.
//
// The database holds password hashes, tokens and (unless sealed) keys: the
// file and its -wal and -shm companions are readable by their owner only
// (0600). A new file is created so, and SQLite creates the companions
// with the database's permissions; existing files that others may read
// are tightened, with a warning.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	cfg := configure(opts)
	if path == "" || strings.ContainsAny(path, "?#") || path == ":memory:" {
		return nil, fmt.Errorf("sqlite: open %q: %w: want a file path without '?' or '#'", path, storage.ErrInvalid)
	}
	if err := ownerOnly(path, cfg.log); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	params := writerParams(cfg)
	w, err := pool("file:"+path+"?"+params.Encode(), 1)
	if err != nil {
		return nil, err
	}
	params.Set("_query_only", "1")
	params.Set("_txlock", "deferred")
	r, err := pool("file:"+path+"?"+params.Encode(), cfg.readers)
	if err != nil {
		w.Close()
		return nil, err
	}
	// The store migrates on the writer before any read, so that readers
	// never see an old schema.
	s, err := sqlstore.New(ctx, w, sqlstore.SQLite, append(cfg.store,
		sqlstore.WithReadDB(r), sqlstore.CloseWith(r.Close), sqlstore.CloseWith(w.Close))...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := s.Ping(ctx); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := ownerOnly(path, cfg.log); err != nil { // the companions WAL mode made
		return nil, errors.Join(fmt.Errorf("sqlite: open %s: %w", path, err), s.Close())
	}
	return s, nil
}

// writerParams is the DSN parameters of the writer's connection; the
// readers' add query_only and a deferred transaction lock.
func writerParams(cfg config) url.Values {
	params := url.Values{}
	params.Set("_busy_timeout", fmt.Sprint(cfg.busyTimeout.Milliseconds()))
	params.Set("_foreign_keys", "1")
	params.Set("_journal_mode", "WAL")
	params.Set("_synchronous", "FULL")
	// Savepoint journals (the group commit's per-writer rollback) in
	// memory: they only ever undo part of an open transaction, never
	// serve crash recovery (the WAL does), and on disk every page a
	// writer changes cost a write system call to a temporary file.
	params.Set("_pragma", "temp_store(memory)")
	params.Set("_txlock", "immediate")
	return params
}

// ownerOnly creates the database file at path readable by its owner only
// when it does not exist, and tightens it and its -wal and -shm files to
// 0600 when they are looser.
func ownerOnly(path string, log *slog.Logger) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := seal.Tighten(p, 0o600, log); err != nil {
			return err
		}
	}
	return nil
}

// OpenMemory returns a store in a new in-memory database, gone when the
// store is closed. One connection serves reads and writes.
//
// Migrating an empty database costs milliseconds, and tests open thousands:
// the first store of each table prefix keeps an image of its freshly
// migrated database, which later ones start from.
func OpenMemory(ctx context.Context, opts ...Option) (*Store, error) {
	cfg := configure(opts)
	db, err := pool("file::memory:?_foreign_keys=1&_txlock=immediate", 1)
	if err != nil {
		return nil, err
	}
	image, cached := memoryImages.Load(cfg.prefix)
	if cached {
		if err := rawConn(ctx, db, func(c serializer) error { return c.Deserialize(image.([]byte)) }); err != nil {
			db.Close()
			return nil, fmt.Errorf("sqlite: open memory: %w", err)
		}
	}
	s, err := sqlstore.New(ctx, db, sqlstore.SQLite, append(cfg.store, sqlstore.CloseWith(db.Close))...)
	if err != nil || cached {
		return s, err
	}
	err = rawConn(ctx, db, func(c serializer) error {
		image, err := c.Serialize()
		memoryImages.Store(cfg.prefix, image)
		return err
	})
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open memory: %w", err)
	}
	return s, nil
}

// memoryImages holds, by table prefix, a freshly migrated in-memory
// database: a cache of what the embedded migrations produce, the same for
// every caller.
var memoryImages sync.Map

// serializer is what modernc.org/sqlite's connections offer to copy an
// in-memory database.
type serializer interface {
	Serialize() ([]byte, error)
	Deserialize([]byte) error
}

func rawConn(ctx context.Context, db *sql.DB, fn func(serializer) error) error {
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Raw(func(dc any) error {
		s, ok := dc.(serializer)
		if !ok {
			return fmt.Errorf("driver connection %T cannot serialize", dc)
		}
		return fn(s)
	})
}

// OpenDB runs the store in a database the caller opened with the
// modernc.org/sqlite driver (for example, a host product's own file) and
// keeps owning: Close leaves db open. The connections should have foreign
// keys on (_foreign_keys=1), a busy timeout and, for durability, WAL with
// synchronous=FULL; the store serialises its own writes.
func OpenDB(ctx context.Context, db *sql.DB, opts ...Option) (*Store, error) {
	return sqlstore.New(ctx, db, sqlstore.SQLite, configure(opts).store...)
}

func pool(dsn string, conns int) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	return db, nil
}
