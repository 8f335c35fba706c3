// Package postgres runs the SDK's one store implementation
// (storage/sqlstore) on PostgreSQL through pgx's database/sql driver: the
// backend for deployments with more than one server process.
//
// The schema is migrated to the latest version on [Open], inside one
// transaction under an advisory lock, so that several servers starting at
// once migrate exactly once. [WithSchema] keeps all tables in a schema of
// their own and [WithPrefix] starts their names with a prefix; [OpenDB]
// runs in a pool the embedder already has.
package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/openomm/omm/storage/sqlstore"
)

// Store is the SDK's store on PostgreSQL. It is safe for concurrent use,
// also by several processes on one database.
type Store = sqlstore.Store

// Option configures [Open] and [OpenDB].
type Option func(*config)

type config struct {
	store    []sqlstore.Option
	maxConns int
}

// WithLogger sets the logger for migrations and storage warnings.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.store = append(c.store, sqlstore.WithLogger(l)) }
}

// WithClock sets the clock used to stamp applied migrations.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.store = append(c.store, sqlstore.WithClock(now)) }
}

// WithSchema keeps every table in the named schema, created if missing.
func WithSchema(name string) Option {
	return func(c *config) { c.store = append(c.store, sqlstore.WithSchema(name)) }
}

// WithPrefix starts every table, index and function name with prefix
// (default sqlstore.DefaultPrefix).
func WithPrefix(prefix string) Option {
	return func(c *config) { c.store = append(c.store, sqlstore.WithPrefix(prefix)) }
}

// WithPoolSize sets how many connections [Open]'s pool holds (default 16).
// Idle connections stay open: a pool that closes them between bursts spends
// its time (and the server's) opening new sessions.
func WithPoolSize(maxConns int) Option {
	return func(c *config) { c.maxConns = max(maxConns, 1) }
}

func configure(opts []Option) config {
	cfg := config{maxConns: 16}
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// Open connects to the database named by dsn (a URL or key=value string)
// and migrates the schema.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	cfg := configure(opts)
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse DSN: %w", err)
	}
	db := stdlib.OpenDB(*cc)
	db.SetMaxOpenConns(cfg.maxConns)
	db.SetMaxIdleConns(cfg.maxConns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	s, err := sqlstore.New(ctx, db, sqlstore.PostgreSQL, append(cfg.store, sqlstore.CloseWith(db.Close))...)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return s, nil
}

// OpenDB runs the store in a pool the caller opened with pgx's stdlib
// driver (a host product's own database) and keeps owning: Close leaves db
// open. Use [WithSchema] or [WithPrefix] to keep the tables apart from the
// host's.
func OpenDB(ctx context.Context, db *sql.DB, opts ...Option) (*Store, error) {
	s, err := sqlstore.New(ctx, db, sqlstore.PostgreSQL, configure(opts).store...)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return s, nil
}
