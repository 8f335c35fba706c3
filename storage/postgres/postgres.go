// Package postgres is the PostgreSQL storage backend, built on pgx/v5 with a
// connection pool. It implements every store contract of the SDK and is the
// backend for deployments with more than one server process.
//
// The schema is migrated to the latest version on [Open], inside one
// transaction under an advisory lock, so that several servers starting at
// once migrate exactly once. [WithSchema] keeps all tables in a schema of
// their own, for embedders sharing a database and for tests.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store implements the store contracts on PostgreSQL. It is safe for
// concurrent use.
type Store struct {
	pool  *pgxpool.Pool
	log   *slog.Logger
	clock func() time.Time
}

// Option configures [Open].
type Option func(*config)

type config struct {
	log      *slog.Logger
	clock    func() time.Time
	schema   string
	maxConns int32
	minConns int32
}

// WithLogger sets the logger for migrations and storage warnings.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// WithClock sets the clock used to stamp applied migrations.
func WithClock(now func() time.Time) Option { return func(c *config) { c.clock = now } }

// WithSchema keeps every table in the named schema, created if missing.
func WithSchema(name string) Option { return func(c *config) { c.schema = name } }

// WithPoolSize sets the pool's maximum and minimum (kept open) connection
// counts. The default keeps 4 open and allows 16: a pool that closes idle
// connections between bursts spends its time opening new sessions.
func WithPoolSize(maxConns, minConns int32) Option {
	return func(c *config) { c.maxConns, c.minConns = max(maxConns, 1), max(min(minConns, maxConns), 0) }
}

// Open connects to the database named by dsn (a URL or key=value string)
// and migrates its schema.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	cfg := config{log: slog.Default(), clock: time.Now, maxConns: 16, minConns: 4}
	for _, o := range opts {
		o(&cfg)
	}
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse DSN: %w", err)
	}
	pc.MaxConns, pc.MinConns = cfg.maxConns, cfg.minConns
	if cfg.schema != "" {
		if err := createSchema(ctx, pc.ConnConfig.Copy(), cfg.schema); err != nil {
			return nil, err
		}
		pc.ConnConfig.RuntimeParams["search_path"] = cfg.schema
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	s := &Store{pool: pool, log: cfg.log, clock: cfg.clock}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

func createSchema(ctx context.Context, cc *pgx.ConnConfig, schema string) error {
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Close(ctx)
	// CREATE SCHEMA IF NOT EXISTS is not safe against itself: two servers
	// starting at once can both find the schema missing. The lock makes
	// the second wait and then find it.
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('omm-schema:' || $1))", schema); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize())
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: create schema %q: %w", schema, err)
	}
	return nil
}

// Close closes every connection of the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrate.Load(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return s.write(ctx, func(tx pgx.Tx) error {
		// One migrator per schema at a time; the others wait here and then
		// find nothing pending.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('omm-migrate:' || coalesce(current_schema(), '')))"); err != nil {
			return fmt.Errorf("postgres: lock for migration: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY,
			name    TEXT NOT NULL,
			applied TIMESTAMPTZ NOT NULL
		)`); err != nil {
			return fmt.Errorf("postgres: create schema_migrations: %w", err)
		}
		var current int
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
			return fmt.Errorf("postgres: read schema version: %w", err)
		}
		pending, err := migrate.Pending(ms, current)
		if err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		for _, m := range pending {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("postgres: migration %d (%s): %w", m.Version, m.Name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied) VALUES ($1, $2, $3)",
				m.Version, m.Name, s.clock()); err != nil {
				return fmt.Errorf("postgres: record migration %d: %w", m.Version, err)
			}
			s.log.InfoContext(ctx, "postgres: applied schema migration", "version", m.Version, "name", m.Name)
		}
		return nil
	})
}

// write runs fn in a transaction and commits when fn returns nil.
func (s *Store) write(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, ignoreClosed(tx.Rollback(ctx)))
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

func ignoreClosed(err error) error {
	if errors.Is(err, pgx.ErrTxClosed) {
		return nil
	}
	return err
}

// violation returns the constraint violation behind err ("23505" unique,
// "23503" foreign key), or nil.
func violation(err error, code string) *pgconn.PgError {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == code {
		return pe
	}
	return nil
}

// insertError maps the error of an INSERT of an org's record: a missing org
// (foreign key) is ErrNotFound and a taken key ErrAlreadyExists, described
// by taken; op names the operation in every message.
func insertError(err error, op string, org storage.OrgID, taken string) error {
	switch {
	case err == nil:
		return nil
	case violation(err, foreignKeyViolation) != nil:
		return fmt.Errorf("%s: org %q: %w", op, org, storage.ErrNotFound)
	case violation(err, uniqueViolation) != nil:
		return fmt.Errorf("%s: %s: %w", op, taken, storage.ErrAlreadyExists)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

// notFound wraps storage.ErrNotFound with what was looked up, and passes
// other errors through.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf(format+": %w", append(args, storage.ErrNotFound)...)
	}
	return fmt.Errorf("postgres: "+format+": %w", append(args, err)...)
}
