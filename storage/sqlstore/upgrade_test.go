package sqlstore_test

import (
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/openomm/omm/storage/postgres"
	"github.com/openomm/omm/storage/sqlite"
	"github.com/openomm/omm/storage/sqlstore"
)

// The fixtures in testdata/legacy are databases of the layout before table
// prefixes (the migrations of 2026-11, kept there verbatim), filled by the
// example server and its simulated devices (an iPhone enrolled over the air
// and deprovisioned, one enrolled directly, five Android phones in every
// mode, five load-test iPhones), dumped as INSERT statements. reads.json is
// what that release's own store returned for every record (readAll, with
// the keys in keys.json), captured before the upgrade code existed.

// upgradeNow is the clock readAll sees (for DevicesDueForRefresh).
var upgradeNow = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)

func gunzip(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// loadLegacy creates the legacy layout in db (through exec, which knows
// the schema) and fills it with the fixture's rows.
func loadLegacy(t *testing.T, dialect string, exec func(string) error) {
	t.Helper()
	dir := filepath.Join("testdata", "legacy", dialect)
	files, err := filepath.Glob(filepath.Join(dir, "0*.sql"))
	if err != nil || len(files) != 11 {
		t.Fatalf("legacy migrations: %v (%d files)", err, len(files))
	}
	slices.Sort(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := exec(string(b)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	if err := exec(string(gunzip(t, filepath.Join(dir, "data.sql.gz")))); err != nil {
		t.Fatalf("legacy rows: %v", err)
	}
}

// checkReads compares what the upgraded store returns with what the legacy
// release returned for the same database.
func checkReads(t *testing.T, dialect string, s *sqlstore.Store) {
	t.Helper()
	dir := filepath.Join("testdata", "legacy", dialect)
	var keys legacyKeys
	b, err := os.ReadFile(filepath.Join(dir, "keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &keys); err != nil {
		t.Fatal(err)
	}
	reads, err := readAll(t.Context(), s, keys, upgradeNow)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(reads, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want := gunzip(t, filepath.Join(dir, "reads.json.gz"))
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	withoutNewFields(w)
	withoutNewFields(g)
	if diff := cmp.Diff(w, g); diff != "" {
		t.Fatalf("after the upgrade the store reads differently (-legacy release +upgraded):\n%s", diff)
	}
	if strings.Count(string(want), "\n") < 5000 {
		t.Fatalf("the fixture's reads are suspiciously small")
	}
}

// newFields are the record fields added since the fixture was made, with
// the values an upgraded record may have in them: they are checked, then
// left out of the comparison.
var newFields = map[string][]any{
	"Revoked":      {"0001-01-01T00:00:00Z"}, // enroll.Identity, migration 11
	"Purpose":      {"mdm", "ota"},           // enroll.Identity, migration 16: classified from the session
	"AttestedUDID": {""},                     // enroll.Identity, migration 16
	"Platform":     {""},                     // enroll.Identity and enroll.Session, migration 16
	"MaxOpen":      {0.0},                    // enroll.Session and android.Token: a limit to create with, never stored
	"Token":        {""},                     // auth.Session: handed out by the call that issues it, never stored
	"RequireMFA":   {false},                  // policy.Policy, in the stored body (absent: false)
	"Event":        {""},                     // storage.AuditEntry: the event a change emits, not an audit column
	// enroll.Session.Renews, migration 18 (enroll.Identity had its own
	// Renews already: both sides drop it where it is empty).
	"Renews":   {""},
	"IssuedBy": {""}, // enroll.Session, migration 18
}

// withoutNewFields removes newFields from every object in v, failing the
// comparison (by leaving the key) where one holds another value.
func withoutNewFields(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, want := range newFields {
			if got, ok := x[k]; ok && slices.Contains(want, got) {
				delete(x, k)
			}
		}
		for _, e := range x {
			withoutNewFields(e)
		}
	case []any:
		for _, e := range x {
			withoutNewFields(e)
		}
	}
}

func TestUpgradeLegacySQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "omm.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_foreign_keys=1")
	if err != nil {
		t.Fatal(err)
	}
	loadLegacy(t, "sqlite", func(q string) error { _, err := db.Exec(q); return err })
	db.Close()

	s, err := sqlite.Open(t.Context(), path, sqlite.WithLogger(quiet))
	if err != nil {
		t.Fatalf("open the legacy database: %v", err)
	}
	checkReads(t, "sqlite", s)
	s.Close()

	upgraded := sqliteLayout(t, path)
	for _, name := range upgraded.tables {
		if !strings.HasPrefix(name, sqlstore.DefaultPrefix) {
			t.Errorf("table %s is left after the upgrade", name)
		}
	}
	fresh := filepath.Join(t.TempDir(), "fresh.db")
	s, err = sqlite.Open(t.Context(), fresh, sqlite.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if diff := cmp.Diff(sqliteLayout(t, fresh), upgraded, cmp.AllowUnexported(layout{})); diff != "" {
		t.Errorf("the upgraded schema differs from a new one (-new +upgraded):\n%s", diff)
	}

	// Opening again is a no-op: the upgrade happened once.
	s, err = sqlite.Open(t.Context(), path, sqlite.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkReads(t, "sqlite", s)
}

func TestUpgradeLegacyPostgres(t *testing.T) {
	schema := newSchema(t)
	db := pgDB(t)
	db.SetMaxOpenConns(1) // the search path below is per connection
	if _, err := db.Exec("SET search_path TO " + schema); err != nil {
		t.Fatal(err)
	}
	loadLegacy(t, "postgres", func(q string) error { _, err := db.Exec(q); return err })
	if _, err := db.Exec("SET search_path TO DEFAULT"); err != nil {
		t.Fatal(err)
	}

	s, err := postgres.Open(t.Context(), pgDSN(t), postgres.WithSchema(schema), postgres.WithLogger(quiet))
	if err != nil {
		t.Fatalf("open the legacy database: %v", err)
	}
	defer s.Close()
	checkReads(t, "postgres", s)

	upgraded := pgLayout(t, db, schema)
	for _, name := range upgraded.tables {
		if !strings.HasPrefix(name, sqlstore.DefaultPrefix) {
			t.Errorf("table %s is left after the upgrade", name)
		}
	}
	freshSchema := newSchema(t)
	fresh, err := postgres.Open(t.Context(), pgDSN(t), postgres.WithSchema(freshSchema), postgres.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	fresh.Close()
	if diff := cmp.Diff(pgLayout(t, db, freshSchema), upgraded, cmp.AllowUnexported(layout{})); diff != "" {
		t.Errorf("the upgraded schema differs from a new one (-new +upgraded):\n%s", diff)
	}
}

// layout is what a schema consists of, for comparing an upgraded database
// with a new one.
type layout struct {
	tables  []string
	columns []string // table.column type nullability
	indexes []string // name: definition
}

func sqliteLayout(t *testing.T, path string) layout {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var l layout
	l.tables = column(t, db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
	for _, tb := range l.tables {
		if tb == sqlstore.DefaultPrefix+"migrations" {
			continue
		}
		l.columns = append(l.columns, column(t, db, `SELECT ? || '.' || name || ' ' || type || ' ' || "notnull" || ' ' || coalesce(dflt_value, '')
			FROM pragma_table_info(?) ORDER BY cid`, tb, tb)...)
	}
	l.indexes = column(t, db, "SELECT name || ': ' || coalesce(sql, '') FROM sqlite_master WHERE type IN ('index', 'trigger') ORDER BY name")
	return l
}

func pgLayout(t *testing.T, db *sql.DB, schema string) layout {
	t.Helper()
	var l layout
	l.tables = column(t, db, "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1", schema)
	l.columns = column(t, db, `SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' ||
		coalesce(column_default, '') || ' ' || coalesce(collation_name, '') || ' ' || is_identity
		FROM information_schema.columns WHERE table_schema = $1 AND table_name <> 'omm_migrations' ORDER BY table_name, ordinal_position`, schema)
	l.indexes = column(t, db, `SELECT indexname || ': ' || replace(indexdef, $1, 'S') FROM pg_indexes WHERE schemaname = $1
		UNION ALL SELECT tgname || ': ' || replace(pg_get_triggerdef(t.oid), $1, 'S') FROM pg_trigger t
		JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND NOT t.tgisinternal
		UNION ALL SELECT conname || ': ' || replace(pg_get_constraintdef(c.oid), $1, 'S') FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
		WHERE n.nspname = $1 ORDER BY 1`, schema)
	return l
}

func column(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
