// Package sqlstore is the one implementation of every store contract of the
// SDK, written once over database/sql and run on SQLite (storage/sqlite, and
// in memory: storage/memory) and PostgreSQL (storage/postgres). What truly
// differs between the two databases — placeholders, row locks, list
// parameters, column types in the schema, and how a driver reports a
// constraint violation — is the [Dialect]; every query and every migration
// exists once.
//
// The package is named sqlstore rather than sql so that it does not shadow
// database/sql wherever both are imported.
//
// # Inside a host product's database
//
// [New] takes an existing *sql.DB, so that an embedder can keep the SDK's
// tables in its own database and pool. [WithPrefix] starts every table,
// index and function name with a prefix (default "omm_"), and [WithSchema]
// keeps them in a PostgreSQL schema of their own; migrations are tracked per
// schema and prefix in a table of their own ({prefix}migrations) and never
// touch other tables. Several stores with different prefixes or schemas can
// share one database without seeing each other's rows.
//
// # Queries
//
// Queries are written once with ? placeholders and table names in braces:
// "SELECT … FROM {devices} WHERE org_id = ? {FOR UPDATE}". The store rewrites
// each query once (and caches it): {devices} becomes the prefixed, schema
// qualified table name, {FOR UPDATE} a row lock on PostgreSQL and nothing on
// SQLite (whose single writer already serialises write transactions),
// {INDEXED BY name} the prefixed index on SQLite and nothing on PostgreSQL,
// {values v} a one-column table of the strings passed as one parameter
// (see [Store.strings]); on PostgreSQL ? becomes $1, $2, ….
//
// # Times
//
// Times are stored as Unix microseconds (UTC) in integer columns named *_us
// on both databases, so that every backend returns exactly the same values
// (see storage.Normalize).
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openomm/omm/events"

	"github.com/openomm/omm/storage"
)

// DefaultPrefix starts the name of every table the store creates, so that
// they do not collide with a host product's own tables.
const DefaultPrefix = "omm_"

// Store implements every store contract of the SDK on one SQL database. It
// is safe for concurrent use.
type Store struct {
	db      *sql.DB // writes, and reads where there is no separate read pool
	rdb     *sql.DB // reads outside transactions
	d       *Dialect
	writeMu sync.Mutex // held around SQLite write transactions: one writer
	group   group      // SQLite writers waiting for a group commit
	log     *slog.Logger
	clock   func() time.Time
	prefix  string
	schema  string
	closers []func() error
	queries sync.Map // query as written → query as sent
	// Prepared statements (SQLite only, see prepared): of the reads
	// outside transactions on rdb, and of the write transactions'
	// statements on db. A transaction only uses statements already
	// prepared (preparing one on the pool would wait for the connection
	// the transaction holds); the ones it lacked are prepared once it has
	// committed.
	rstmts, wstmts stmtCache
}

// maxPrepared bounds each statement cache: the store's queries are
// constants, a few hundred at most; past the bound, statements are parsed
// per call as before.
const maxPrepared = 512

// stmtCache holds prepared statements by query as sent: lock-free once
// a statement is there; mu serializes the preparing of new ones.
type stmtCache struct {
	m  sync.Map // query → *sql.Stmt
	mu sync.Mutex
	n  int // statements in m, under mu
}

// prepared returns the statement for query (as sent) prepared on db, from
// c, preparing it on first use; nil when the dialect caches statements
// itself (pgx on PostgreSQL does, per connection), when the cache is full
// or when preparing fails (the caller then runs the query unprepared and
// reports its error). SQLite otherwise parses every statement's text on
// every call: a tenth of an idle check-in's CPU.
func (s *Store) prepared(ctx context.Context, db *sql.DB, c *stmtCache, query string) *sql.Stmt {
	if s.d.postgres {
		return nil
	}
	if st, ok := c.m.Load(query); ok {
		return st.(*sql.Stmt)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m.Load(query); ok {
		return st.(*sql.Stmt)
	}
	if c.n >= maxPrepared {
		return nil
	}
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.m.Store(query, st)
	c.n++
	return st
}

// close closes every statement of the cache.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	c.m.Range(func(k, v any) bool {
		errs = append(errs, v.(*sql.Stmt).Close())
		c.m.Delete(k)
		return true
	})
	c.n = 0
	return errors.Join(errs...)
}

// Option configures [New].
type Option func(*config) error

type config struct {
	log     *slog.Logger
	clock   func() time.Time
	prefix  string
	schema  string
	reader  *sql.DB
	closers []func() error
}

// WithLogger sets the logger for migrations and storage warnings.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error { c.log = l; return nil }
}

// WithClock sets the clock used to stamp applied migrations.
func WithClock(now func() time.Time) Option {
	return func(c *config) error { c.clock = now; return nil }
}

// WithPrefix starts every table, index and function name with prefix
// (default [DefaultPrefix]): lowercase letters, digits and underscores,
// starting with a letter, at most 24 characters. An empty prefix is allowed
// where the store has a schema or database of its own.
func WithPrefix(prefix string) Option {
	return func(c *config) error {
		if prefix != "" && !identifier.MatchString(prefix) || len(prefix) > 24 {
			return fmt.Errorf("%w: table prefix %q: want lowercase letters, digits and '_', starting with a letter, at most 24 characters", storage.ErrInvalid, prefix)
		}
		c.prefix = prefix
		return nil
	}
}

// WithSchema keeps every table in the named PostgreSQL schema, created if
// missing. SQLite has no schemas.
func WithSchema(name string) Option {
	return func(c *config) error {
		if name == "" || len(name) > 63 || strings.ContainsRune(name, 0) {
			return fmt.Errorf("%w: schema name %q: want 1 to 63 characters", storage.ErrInvalid, name)
		}
		c.schema = name
		return nil
	}
}

// WithReadDB sends reads outside transactions to a pool of their own: for
// SQLite, read-only connections that WAL lets run beside the one writer.
func WithReadDB(db *sql.DB) Option {
	return func(c *config) error { c.reader = db; return nil }
}

// CloseWith makes [Store.Close] also call fn: for the pools a backend opened
// itself. A *sql.DB handed to [New] by its owner is never closed by the
// store.
func CloseWith(fn func() error) Option {
	return func(c *config) error { c.closers = append(c.closers, fn); return nil }
}

var identifier = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// New returns a store over db for dialect d, after migrating the schema (its
// tables under the configured prefix and schema) to the latest version. db
// stays the caller's: Close does not close it.
func New(ctx context.Context, db *sql.DB, d *Dialect, opts ...Option) (*Store, error) {
	cfg := config{log: slog.Default(), clock: time.Now, prefix: DefaultPrefix}
	var err error
	for _, o := range opts {
		err = errors.Join(err, o(&cfg))
	}
	switch {
	case d == nil || db == nil:
		err = errors.Join(err, fmt.Errorf("%w: sqlstore: a database and a dialect are required", storage.ErrInvalid))
	case cfg.schema != "" && !d.postgres:
		err = errors.Join(err, fmt.Errorf("%w: %s has no schemas (WithSchema)", storage.ErrInvalid, d.name))
	}
	if err != nil {
		for _, c := range cfg.closers {
			c() //nolint:errcheck // the configuration error is the one to report
		}
		return nil, err
	}
	s := &Store{db: db, rdb: db, d: d, log: cfg.log, clock: cfg.clock, prefix: cfg.prefix, schema: cfg.schema, closers: cfg.closers}
	if cfg.reader != nil {
		s.rdb = cfg.reader
	}
	if err := s.migrate(ctx); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

// Close closes the pools the backend opened for the store (see [CloseWith]).
// Calls after Close fail.
func (s *Store) Close() error {
	errs := []error{s.rstmts.close(), s.wstmts.close()}
	for _, c := range s.closers {
		errs = append(errs, c())
	}
	s.closers = nil
	return errors.Join(errs...)
}

// Ping checks that the database answers, on the write and the read pool.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("%s: ping: %w", s.d.name, err)
	}
	if err := s.rdb.PingContext(ctx); err != nil {
		return fmt.Errorf("%s: ping readers: %w", s.d.name, err)
	}
	return nil
}

// IntegrityCheck checks the database's own consistency: SQLite's integrity
// and foreign key checks; on PostgreSQL, that no foreign key of the store's
// tables points nowhere.
func (s *Store) IntegrityCheck(ctx context.Context) error {
	var problems []string
	queries := []string{"SELECT * FROM pragma_integrity_check", `SELECT "table" || ' row ' || rowid || ' references a missing ' || parent FROM pragma_foreign_key_check`}
	if s.d.postgres {
		// PostgreSQL enforces every constraint as it writes; what can be
		// left broken is an index or a constraint that never finished.
		queries = []string{
			`SELECT 'invalid index ' || c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ` + s.schemaExpr() + ` AND c.relname LIKE ? AND NOT i.indisvalid`,
			`SELECT 'unvalidated constraint ' || conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
			WHERE n.nspname = ` + s.schemaExpr() + ` AND conname LIKE ? AND NOT convalidated`,
		}
	}
	for _, q := range queries {
		var args []any
		if s.d.postgres {
			args = append(args, s.prefix+"%")
		}
		rows, err := s.rdb.QueryContext(ctx, s.q(q), args...)
		if err != nil {
			return fmt.Errorf("%s: integrity check: %w", s.d.name, err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				rows.Close()
				return fmt.Errorf("%s: integrity check: %w", s.d.name, err)
			}
			if line != "ok" {
				problems = append(problems, line)
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fmt.Errorf("%s: integrity check: %w", s.d.name, err)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s: integrity check failed: %s", s.d.name, strings.Join(problems, "; "))
	}
	return nil
}

// tx is a write transaction whose queries are rewritten for the dialect.
type tx struct {
	*sql.Tx
	s *Store
	// events are the events the transaction's changes emit, written just
	// before it commits (see flushEvents).
	events *[]events.Event
	// audit holds the transaction's audit entries until it commits (see
	// appendAudit).
	pending *pendingAudit
	// unprepared are the queries (as sent) it ran without a prepared
	// statement, prepared after it commits.
	unprepared *[]string
	// shared is set when the transaction holds other writers' changes (a
	// group commit): its statements then run to completion whatever the
	// caller's context, since SQLite ends the whole transaction when a
	// write is interrupted.
	shared bool
}

// write runs fn in a write transaction and commits when fn returns nil. On
// SQLite the writers queue in Go, one group at a time, rather than in the
// database's busy handler (see writeGrouped).
func (s *Store) write(ctx context.Context, fn func(tx) error) error {
	if !s.d.postgres {
		return s.writeGrouped(ctx, fn)
	}
	// PostgreSQL may abort a transaction to break a deadlock between
	// writers whose locks it cannot order (rows a statement finds by a
	// condition), or a serialization conflict: fn runs again in a new
	// transaction, as a group commit's member does after its group
	// failed, rather than failing a request that did nothing wrong.
	for try := 1; ; try++ {
		err := s.writeTx(ctx, fn)
		if try == maxWriteTries || !s.d.aborted(err) || ctx.Err() != nil {
			return err
		}
		s.log.WarnContext(ctx, "sqlstore: transaction aborted by the database; running it again", "try", try, "err", err)
	}
}

// maxWriteTries bounds the runs of one write that PostgreSQL aborts.
const maxWriteTries = 3

// writeTx runs fn in a transaction of its own.
func (s *Store) writeTx(ctx context.Context, fn func(tx) error) error {
	t, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", s.d.name, err)
	}
	defer func() {
		if p := recover(); p != nil {
			t.Rollback() //nolint:errcheck // the panic goes on
			panic(p)
		}
	}()
	var emitted []events.Event
	var unprepared []string
	w := tx{t, s, &emitted, &pendingAudit{}, &unprepared, false}
	if err := w.run(ctx, fn); err != nil {
		if rerr := t.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			err = errors.Join(err, rerr)
		}
		return err
	}
	if err := t.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", s.d.name, err)
	}
	for _, q := range unprepared {
		s.prepared(ctx, s.db, &s.wstmts, q)
	}
	return nil
}

// run runs fn and writes the audit entries and events it left.
func (t tx) run(ctx context.Context, fn func(tx) error) error {
	err := fn(t)
	if err == nil {
		// Audit entries first, then events: every writer takes the
		// per-org counters in this order, so none waits on another in
		// a cycle.
		err = t.flushAudit(ctx)
	}
	if err == nil {
		err = t.flushEvents(ctx)
	}
	return err
}

// stmt returns the transaction's statement for query (as sent) when it is
// prepared already; else nil, and the query is prepared after the commit.
func (t tx) stmt(ctx context.Context, query string) *sql.Stmt {
	if t.s.d.postgres {
		return nil
	}
	if st, ok := t.s.wstmts.m.Load(query); ok {
		return t.StmtContext(ctx, st.(*sql.Stmt))
	}
	if t.unprepared != nil && len(*t.unprepared) < maxPrepared {
		*t.unprepared = append(*t.unprepared, query)
	}
	return nil
}

// lockUser serializes, per org and user, the transactions that count a
// user's open records of a kind before adding one, so that concurrent
// additions cannot pass a limit together: an advisory lock until the
// transaction ends on PostgreSQL; SQLite's one writer does it already.
func (t tx) lockUser(ctx context.Context, kind string, org storage.OrgID, user string) error {
	if !t.s.d.postgres {
		return nil
	}
	key := "omm-" + kind + ":" + t.s.schema + "." + t.s.prefix + ":" + string(org) + ":" + user
	if _, err := t.exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", key); err != nil {
		return t.s.fail("lock "+kind+" of a user", err)
	}
	return nil
}

// context is ctx, without its cancellation in a shared transaction.
func (t tx) context(ctx context.Context) context.Context {
	if t.shared {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

func (t tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	q := t.s.q(query)
	ctx = t.context(ctx)
	if st := t.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.ExecContext(ctx, q, args...)
}

func (t tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	q := t.s.q(query)
	ctx = t.context(ctx)
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.QueryRowContext(ctx, q, args...)
}

func (t tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q := t.s.q(query)
	ctx = t.context(ctx)
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.QueryContext(ctx, q, args...)
}

// affected runs an UPDATE or DELETE and returns how many rows it changed.
func (t tx) affected(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := t.exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	q := s.q(query)
	if st := s.prepared(ctx, s.rdb, &s.rstmts, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.rdb.QueryRowContext(ctx, q, args...)
}

func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q := s.q(query)
	if st := s.prepared(ctx, s.rdb, &s.rstmts, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return s.rdb.QueryContext(ctx, q, args...)
}

type rowScanner interface{ Scan(dest ...any) error }

// collect scans every row of a query with scan, closing the rows; an empty
// result is an empty, non-nil slice.
func collect[T any](rows *sql.Rows, err error, scan func(rowScanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// get scans the one row of a query; no row is ErrNotFound, described by
// format and args.
func get[T any](s *Store, scan func(rowScanner) (T, error), row *sql.Row, format string, args ...any) (T, error) {
	v, err := scan(row)
	if err != nil {
		var zero T
		return zero, s.notFound(err, format, args...)
	}
	return v, nil
}

// list is collect for the read methods: it names op in an error.
func list[T any](s *Store, op string, rows *sql.Rows, err error, scan func(rowScanner) (T, error)) ([]T, error) {
	out, err := collect(rows, err, scan)
	if err != nil {
		return nil, s.fail(op, err)
	}
	return out, nil
}

// token matches what the store rewrites in a query: a brace group, or a
// placeholder.
var token = regexp.MustCompile(`\{[^{}]+\}|\?`)

// q returns query as the database must receive it (see the package doc).
func (s *Store) q(query string) string {
	if v, ok := s.queries.Load(query); ok {
		return v.(string)
	}
	n := 0
	out := token.ReplaceAllStringFunc(query, func(t string) string {
		switch {
		case t == "?":
			n++
			if s.d.postgres {
				return "$" + strconv.Itoa(n)
			}
			return "?"
		case strings.HasPrefix(t, "{FOR "):
			if s.d.postgres {
				return t[1 : len(t)-1]
			}
			return ""
		case strings.HasPrefix(t, "{INDEXED BY "):
			// SQLite, without statistics, may plan on another index with
			// the same columns; PostgreSQL plans by its own statistics.
			if s.d.postgres {
				return ""
			}
			return "INDEXED BY " + s.prefix + strings.TrimSpace(t[len("{INDEXED BY "):len(t)-1])
		case strings.HasPrefix(t, "{json "):
			n++
			alias := strings.TrimSpace(t[len("{json ") : len(t)-1])
			if s.d.postgres {
				return "jsonb_array_elements($" + strconv.Itoa(n) + "::jsonb) AS " + alias
			}
			return "json_each(?) AS " + alias
		case strings.HasPrefix(t, "{values "):
			n++
			alias := strings.TrimSpace(t[len("{values ") : len(t)-1])
			if s.d.postgres {
				return "unnest($" + strconv.Itoa(n) + "::text[]) AS " + alias + "(value)"
			}
			return "json_each(?) AS " + alias
		}
		return s.table(t[1 : len(t)-1])
	})
	s.queries.Store(query, out)
	return out
}

// table returns the qualified name of the store's table called name.
func (s *Store) table(name string) string {
	if s.schema == "" {
		return s.prefix + name
	}
	return quoteIdent(s.schema) + "." + s.prefix + name
}

// schemaExpr is the store's PostgreSQL schema as an SQL expression.
func (s *Store) schemaExpr() string {
	if s.schema == "" {
		return "current_schema()"
	}
	return "'" + strings.ReplaceAll(s.schema, "'", "''") + "'"
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// strings returns xs as the one parameter of a {values …} table.
func (s *Store) strings(xs []string) any {
	if s.d.postgres {
		if xs == nil {
			xs = []string{}
		}
		return xs
	}
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range xs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(x))
	}
	b.WriteByte(']')
	return b.String()
}

// jsonRows encodes rows of strings as the one parameter of a {json r}
// table, whose columns a query reads as r.value ->> 0, r.value ->> 1 …: a
// bulk insert in one statement on both databases.
func jsonRows(rows [][]string) string {
	b, err := json.Marshal(rows)
	if err != nil {
		panic(err) // strings always encode
	}
	return string(b)
}

// notFound wraps storage.ErrNotFound with what was looked up when err is
// sql.ErrNoRows, and passes other errors through.
func (s *Store) notFound(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf(format+": %w", append(args, storage.ErrNotFound)...)
	}
	return fmt.Errorf("%s: "+format+": %w", append([]any{s.d.name}, append(args, err)...)...)
}

// inserted maps the error of an INSERT of a record of org: a missing org
// (foreign key) is ErrNotFound, a taken key (described by taken)
// ErrAlreadyExists; op names the operation.
func (s *Store) inserted(err error, op string, org storage.OrgID, taken string) error {
	switch {
	case err == nil:
		return nil
	case s.foreignKey(err):
		return fmt.Errorf("%s: org %q: %w", op, org, storage.ErrNotFound)
	case s.unique(err):
		return fmt.Errorf("%s: %s: %w", op, taken, storage.ErrAlreadyExists)
	}
	return s.fail(op, err)
}

// fail wraps an unexpected database error with the operation.
func (s *Store) fail(op string, err error) error {
	return fmt.Errorf("%s: %s: %w", s.d.name, op, err)
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// nullMicros stores the zero time as NULL, for columns where NULL means
// never.
func nullMicros(t time.Time) sql.NullInt64 {
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: !t.IsZero()}
}

// us scans a time stored as microseconds into t: NULL and 0 are the zero
// time (see optMicros and nullMicros).
type us struct{ t *time.Time }

func (u us) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*u.t = time.Time{}
	case int64:
		*u.t = fromOptMicros(x)
	default:
		return fmt.Errorf("a time column holds %T", v)
	}
	return nil
}

// optMicros stores the zero time as 0, for columns where 0 means never.
func optMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromOptMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return fromMicros(us)
}

// done returns v, or its zero value with err.
func done[T any](v T, err error) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// checked is the start of a change: the record's own check (invalid), then
// the audit entry's, which must be of the record's org.
func checked(invalid error, org storage.OrgID, e storage.AuditEntry) (storage.AuditEntry, error) {
	if invalid != nil {
		return e, invalid
	}
	return changeEntry(org, e)
}

// validEntry validates an audit entry and returns it as stored.
func validEntry(e storage.AuditEntry) (storage.AuditEntry, error) {
	if err := e.Validate(); err != nil {
		return e, err
	}
	e = e.Normalize()
	e.ID = 0
	return e, nil
}

// changeEntry validates the audit entry that records a change to a record
// of org and returns it as stored.
func changeEntry(org storage.OrgID, e storage.AuditEntry) (storage.AuditEntry, error) {
	if e.Org != org {
		return e, fmt.Errorf("%w: audit entry is for org %q, the change for org %q", storage.ErrInvalid, e.Org, org)
	}
	return validEntry(e)
}
