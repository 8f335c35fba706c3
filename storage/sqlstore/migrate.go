package sqlstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/template"
)

// The migrations are text/template files, one set for both dialects:
// {{.Table "devices"}} is a table's qualified, prefixed name, {{.Name "x"}}
// an index's or function's prefixed name, {{.Text}}, {{.Int}}, {{.Bool}},
// {{.Bytes}}, {{.JSON}} and {{.Serial}} the dialect's column types,
// {{.Strict}} SQLite's STRICT table option, and {{if .Postgres}} what only
// one database has (triggers).
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// ErrSchemaTooNew is returned when a database was migrated by a newer
// release than the running one: opening it could corrupt data the newer
// release relies on.
var ErrSchemaTooNew = errors.New("database schema is newer than this release supports")

// migration is one schema step: a file named NNNN_name.sql, versions
// running 1, 2, 3 … without gaps, so that every database of a version has
// exactly the same schema.
type migration struct {
	version int
	name    string
	sql     string
}

// parsed holds the embedded migrations, parsed once per process (they are
// constant; parsing them is most of the cost of opening an empty store).
var parsed = sync.OnceValues(func() ([]*template.Template, error) {
	files, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	ts := make([]*template.Template, len(files))
	for i, f := range files {
		base := path.Base(f)
		num, _, _ := strings.Cut(base, "_")
		if v, err := strconv.Atoi(num); err != nil || v != i+1 {
			return nil, fmt.Errorf("migration %s: want NNNN_name.sql, numbered 1, 2, 3 … without gaps", base)
		}
		text, err := fs.ReadFile(migrationFiles, f)
		if err != nil {
			return nil, err
		}
		if ts[i], err = template.New(strings.TrimSuffix(base, ".sql")).Option("missingkey=error").Parse(string(text)); err != nil {
			return nil, fmt.Errorf("migration %s: %w", base, err)
		}
	}
	return ts, nil
})

// migrationData is what the migration templates see.
type migrationData struct {
	s                                            *Store
	Postgres                                     bool
	Text, Int, Bool, Bytes, JSON, Serial, Strict string
}

func (d migrationData) Table(name string) string { return d.s.table(name) }
func (d migrationData) Name(name string) string  { return d.s.prefix + name }

// migrations returns the number of migrations and a function rendering the
// one at index i for the store's dialect, prefix and schema.
func (s *Store) migrations() (int, func(i int) (migration, error), error) {
	ts, err := parsed()
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", s.d.name, err)
	}
	t := s.d.types
	data := migrationData{s: s, Postgres: s.d.postgres, Text: t["Text"], Int: t["Int"], Bool: t["Bool"], Bytes: t["Bytes"],
		JSON: t["JSON"], Serial: t["Serial"], Strict: t["Strict"]}
	return len(ts), func(i int) (migration, error) {
		var b strings.Builder
		if err := ts[i].Execute(&b, data); err != nil {
			return migration{}, fmt.Errorf("%s: migration %s: %w", s.d.name, ts[i].Name(), err)
		}
		_, name, _ := strings.Cut(ts[i].Name(), "_")
		return migration{version: i + 1, name: name, sql: b.String()}, nil
	}, nil
}

// migrate brings the schema to the latest version in one transaction. On
// PostgreSQL an advisory lock per schema and prefix makes several servers
// starting at once migrate exactly once.
func (s *Store) migrate(ctx context.Context) error {
	known, render, err := s.migrations()
	if err != nil {
		return err
	}
	if s.d.postgres && s.schema != "" {
		if err := s.createSchema(ctx); err != nil {
			return err
		}
	}
	return s.write(ctx, func(t tx) error {
		if s.d.postgres {
			if _, err := t.exec(ctx, "SELECT pg_advisory_xact_lock(hashtext(?))", "omm-migrate:"+s.schema+"."+s.prefix); err != nil {
				return s.fail("lock for migration", err)
			}
		}
		exists, err := s.tableExists(ctx, t, s.prefix+"migrations")
		if err != nil {
			return err
		}
		var current int
		if !exists {
			if _, err := t.exec(ctx, `CREATE TABLE {migrations} (
				version    `+s.d.types["Int"]+` PRIMARY KEY,
				name       `+s.d.types["Text"]+` NOT NULL,
				applied_us `+s.d.types["Int"]+` NOT NULL
			)`+s.d.types["Strict"]); err != nil {
				return s.fail("create migrations table", err)
			}
			if current, err = s.upgradeLegacy(ctx, t, render); err != nil {
				return err
			}
		} else if err := t.queryRow(ctx, "SELECT coalesce(max(version), 0) FROM {migrations}").Scan(&current); err != nil {
			return s.fail("read schema version", err)
		}
		if current > known {
			return fmt.Errorf("%s: %w: database at version %d, this release knows %d", s.d.name, ErrSchemaTooNew, current, known)
		}
		for i := current; i < known; i++ {
			if _, err := s.apply(ctx, t, render, i); err != nil {
				return err
			}
		}
		return nil
	})
}

// apply renders migration i and runs it.
func (s *Store) apply(ctx context.Context, t tx, render func(int) (migration, error), i int) (migration, error) {
	m, err := render(i)
	if err != nil {
		return m, err
	}
	// Not through t.exec: the rendered SQL has no placeholders, and
	// PostgreSQL function bodies may hold question marks.
	if _, err := t.ExecContext(ctx, m.sql); err != nil {
		return m, fmt.Errorf("%s: migration %d (%s): %w", s.d.name, m.version, m.name, err)
	}
	if _, err := t.exec(ctx, "INSERT INTO {migrations} (version, name, applied_us) VALUES (?, ?, ?)",
		m.version, m.name, micros(s.clock())); err != nil {
		return m, s.fail(fmt.Sprintf("record migration %d", m.version), err)
	}
	s.log.InfoContext(ctx, s.d.name+": applied schema migration", "version", m.version, "name", m.name, "prefix", s.prefix, "schema", s.schema)
	return m, nil
}

func (s *Store) createSchema(ctx context.Context) error {
	// CREATE SCHEMA IF NOT EXISTS is not safe against itself: two servers
	// starting at once can both find the schema missing. The lock makes the
	// second wait and then find it.
	return s.write(ctx, func(t tx) error {
		if _, err := t.exec(ctx, "SELECT pg_advisory_xact_lock(hashtext(?))", "omm-schema:"+s.schema); err != nil {
			return s.fail("lock for schema", err)
		}
		if _, err := t.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+quoteIdent(s.schema)); err != nil {
			return s.fail(fmt.Sprintf("create schema %q", s.schema), err)
		}
		return nil
	})
}

func (s *Store) tableExists(ctx context.Context, t tx, name string) (bool, error) {
	q := "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
	if s.d.postgres {
		q = "SELECT count(*) FROM information_schema.tables WHERE table_schema = " + s.schemaExpr() + " AND table_name = ?"
	}
	var n int
	if err := t.queryRow(ctx, q, name).Scan(&n); err != nil {
		return false, s.fail("look up table "+name, err)
	}
	return n > 0, nil
}

// legacyNames are the migrations of the layout before prefixes (2026-11):
// tables without a prefix, times as TIMESTAMPTZ on PostgreSQL, versions in
// a table called schema_migrations. A database in that layout is recognised
// by these names, so that a host product's own schema_migrations table is
// never mistaken for it.
var legacyNames = []string{"core", "auth", "policy", "inventory", "enroll_queue", "enroll_ota", "enroll_checkin", "catalog", "android", "policy_applied"}

var createTable = regexp.MustCompile(`CREATE TABLE (\S+) \(`)

// upgradeLegacy moves a database of the legacy layout, found beside the
// store's (unprefixed tables in the same schema), into the store's tables:
// it creates them by the migrations the legacy database had, copies every
// row (converting PostgreSQL times to microseconds), and drops the legacy
// tables, all in the migration's transaction. It returns the version
// reached, 0 when there is no legacy database.
func (s *Store) upgradeLegacy(ctx context.Context, t tx, render func(int) (migration, error)) (int, error) {
	if found, err := s.tableExists(ctx, t, "schema_migrations"); err != nil || !found {
		return 0, err
	}
	cols, err := s.columns(ctx, t, "schema_migrations")
	if err != nil {
		return 0, err
	}
	if !slices.ContainsFunc(cols, func(c column) bool { return c.name == "version" }) ||
		!slices.ContainsFunc(cols, func(c column) bool { return c.name == "name" }) {
		return 0, nil // not ours
	}
	rows, err := t.QueryContext(ctx, "SELECT version, name FROM "+s.legacyTable("schema_migrations")+" ORDER BY version")
	versions, err := collect(rows, err, func(r rowScanner) (string, error) {
		var v int
		var name string
		err := r.Scan(&v, &name)
		return fmt.Sprintf("%d_%s", v, name), err
	})
	if err != nil {
		return 0, s.fail("read legacy schema version", err)
	}
	if len(versions) == 0 || len(versions) > len(legacyNames) {
		return 0, nil
	}
	for i, v := range versions {
		if v != fmt.Sprintf("%d_%s", i+1, legacyNames[i]) {
			return 0, nil
		}
	}
	if s.prefix == "" {
		return 0, fmt.Errorf("%s: a database of the unprefixed layout is here: open it with a table prefix (the default %q) to upgrade it in place", s.d.name, DefaultPrefix)
	}
	var tables []string
	for i := range versions {
		m, err := s.apply(ctx, t, render, i)
		if err != nil {
			return 0, err
		}
		for _, match := range createTable.FindAllStringSubmatch(m.sql, -1) {
			tables = append(tables, strings.TrimPrefix(match[1], s.table("")))
		}
	}
	for _, name := range tables {
		if err := s.copyLegacy(ctx, t, name); err != nil {
			return 0, err
		}
	}
	for _, name := range slices.Backward(append([]string{"schema_migrations"}, tables...)) {
		if _, err := t.ExecContext(ctx, "DROP TABLE "+s.legacyTable(name)); err != nil {
			return 0, s.fail("drop legacy table "+name, err)
		}
	}
	if s.d.postgres {
		if _, err := t.ExecContext(ctx, "DROP FUNCTION IF EXISTS "+s.legacyTable("audit_log_append_only")+"()"); err != nil {
			return 0, s.fail("drop legacy function", err)
		}
	}
	s.log.InfoContext(ctx, s.d.name+": upgraded the unprefixed layout in place", "version", len(versions), "tables", len(tables), "prefix", s.prefix)
	return len(versions), nil
}

func (s *Store) legacyTable(name string) string {
	if s.schema == "" {
		return name
	}
	return quoteIdent(s.schema) + "." + name
}

type column struct {
	name, typ string
	nullable  bool
}

func (s *Store) columns(ctx context.Context, t tx, table string) ([]column, error) {
	q := `SELECT name, lower(type), "notnull" = 0 FROM pragma_table_info(?) ORDER BY cid`
	if s.d.postgres {
		q = `SELECT column_name, data_type, is_nullable = 'YES' FROM information_schema.columns
			WHERE table_schema = ` + s.schemaExpr() + ` AND table_name = ? ORDER BY ordinal_position`
	}
	rows, err := t.query(ctx, q, table)
	cols, err := collect(rows, err, func(r rowScanner) (c column, err error) {
		return c, r.Scan(&c.name, &c.typ, &c.nullable)
	})
	if err != nil {
		return nil, s.fail("columns of "+table, err)
	}
	return cols, nil
}

// copyLegacy copies every row of the legacy table name into the store's
// table of that name. Columns have the same names, except that a time
// column c_us was a TIMESTAMPTZ called c on PostgreSQL.
func (s *Store) copyLegacy(ctx context.Context, t tx, name string) error {
	legacy, err := s.columns(ctx, t, name)
	if err != nil {
		return err
	}
	current, err := s.columns(ctx, t, s.prefix+name)
	if err != nil {
		return err
	}
	have := map[string]column{}
	for _, c := range legacy {
		have[c.name] = c
	}
	var into, from []string
	for _, c := range current {
		if _, ok := have[c.name]; ok {
			into, from = append(into, c.name), append(from, c.name)
			continue
		}
		old, ok := have[strings.TrimSuffix(c.name, "_us")]
		if !ok || !strings.HasPrefix(old.typ, "timestamp") {
			return fmt.Errorf("%s: upgrade %s: no legacy column for %s", s.d.name, name, c.name)
		}
		expr := "(extract(epoch from " + old.name + ") * 1000000)::bigint"
		if !c.nullable {
			expr = "coalesce(" + expr + ", 0)"
		}
		into, from = append(into, c.name), append(from, expr)
	}
	if _, err := t.ExecContext(ctx, "INSERT INTO "+s.table(name)+" ("+strings.Join(into, ", ")+") SELECT "+
		strings.Join(from, ", ")+" FROM "+s.legacyTable(name)); err != nil {
		return s.fail("copy legacy table "+name, err)
	}
	if s.d.postgres && slices.Contains(into, "id") && have["id"].typ == "bigint" {
		// Identity columns continue after the copied IDs.
		if _, err := t.ExecContext(ctx, "SELECT setval(pg_get_serial_sequence($1, 'id'), coalesce(max(id), 0) + 1, false) FROM "+s.table(name),
			s.table(name)); err != nil {
			return s.fail("continue the IDs of "+name, err)
		}
	}
	return nil
}
