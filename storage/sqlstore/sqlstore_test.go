package sqlstore_test

import (
	"crypto/rand"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/postgres"
	"github.com/openomm/omm/storage/sqlite"
	"github.com/openomm/omm/storage/sqlstore"
	"github.com/openomm/omm/storage/storagetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const dsnEnv = "OMM_TEST_POSTGRES_DSN"

func pgDSN(t testing.TB) string {
	t.Helper()
	d := os.Getenv(dsnEnv)
	if d == "" && os.Getenv("CI") != "" {
		t.Fatalf("%s is not set in CI: the PostgreSQL backend must not be skipped there", dsnEnv)
	}
	if d == "" {
		t.Skipf("%s is not set; skipping PostgreSQL", dsnEnv)
	}
	return d
}

// pgDB is an embedder's own pool on the test database.
func pgDB(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", pgDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newSchema names a schema for one test and drops it when the test ends.
func newSchema(t testing.TB) string {
	t.Helper()
	schema := "omm_test_" + strings.ToLower(rand.Text()[:12])
	db := pgDB(t)
	t.Cleanup(func() {
		if _, err := db.Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	return schema
}

// TestConformanceInHostDatabase runs the whole suite on stores that share
// one PostgreSQL database and pool with each other and with a host
// product's tables, each store under a prefix of its own.
func TestConformanceInHostDatabase(t *testing.T) {
	db := pgDB(t)
	db.SetMaxOpenConns(16) // the host's pool, shared by every case
	schema := newSchema(t)
	hostTables(t, db, schema+".")
	// The cases run in parallel after this function returns; the check
	// runs once they all have.
	t.Cleanup(func() { checkHostTables(t, db, schema+".") })
	storagetest.Run(t, func(t *testing.T) storagetest.Store {
		prefix := "p" + strings.ToLower(rand.Text()[:8]) + "_"
		s, err := postgres.OpenDB(t.Context(), db, postgres.WithSchema(schema), postgres.WithPrefix(prefix), postgres.WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		// One schema with every case's tables would outgrow the lock table
		// when dropped at once: each case drops its own.
		t.Cleanup(func() {
			tables := column(t, db, "SELECT string_agg($1 || '.' || table_name, ', ') FROM information_schema.tables WHERE table_schema = $1 AND table_name LIKE $2",
				schema, prefix+"%")
			if _, err := db.Exec("DROP TABLE " + tables[0] + " CASCADE"); err != nil {
				t.Errorf("drop %s tables: %v", prefix, err)
			}
		})
		return s
	})
}

// hostTables creates tables a host product might have, with the names the
// SDK used before prefixes, and a migration table of another tool.
func hostTables(t *testing.T, db *sql.DB, qual string) {
	t.Helper()
	for _, q := range []string{
		"CREATE TABLE " + qual + "devices (id TEXT PRIMARY KEY, owner TEXT NOT NULL)",
		"INSERT INTO " + qual + "devices VALUES ('host-1', 'someone')",
		"CREATE TABLE " + qual + "schema_migrations (version BIGINT PRIMARY KEY, dirty BOOLEAN NOT NULL)",
		"INSERT INTO " + qual + "schema_migrations VALUES (20240101, false)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func checkHostTables(t *testing.T, db *sql.DB, qual string) {
	t.Helper()
	var owner string
	var version int64
	if err := db.QueryRow("SELECT owner FROM " + qual + "devices WHERE id = 'host-1'").Scan(&owner); err != nil || owner != "someone" {
		t.Errorf("the host's devices table changed: %q, %v", owner, err)
	}
	if err := db.QueryRow("SELECT max(version) FROM " + qual + "schema_migrations").Scan(&version); err != nil || version != 20240101 {
		t.Errorf("the host's schema_migrations changed: %d, %v", version, err)
	}
}

// TestPrefixesIsolateSQLite keeps two stores in one SQLite file beside the
// host's own tables: neither sees the other's rows, and the host's tables
// stay as they were.
func TestPrefixesIsolateSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "host.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_foreign_keys=1&_busy_timeout=10000&_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hostTables(t, db, "")
	a, err := sqlite.OpenDB(t.Context(), db, sqlite.WithPrefix("a_"), sqlite.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	b, err := sqlite.OpenDB(t.Context(), db, sqlite.WithPrefix("b_"), sqlite.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	checkIsolation(t, a, b)
	checkHostTables(t, db, "")
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(); err != nil {
		t.Errorf("Close closed the host's pool: %v", err)
	}
}

// TestPrefixesAndSchemasIsolatePostgres keeps three stores in one
// database: two prefixes in one schema, and the default prefix in another.
func TestPrefixesAndSchemasIsolatePostgres(t *testing.T) {
	db := pgDB(t)
	one, two := newSchema(t), newSchema(t)
	hostTables(t, db, one+".")
	open := func(opts ...postgres.Option) *sqlstore.Store {
		s, err := postgres.OpenDB(t.Context(), db, append(opts, postgres.WithLogger(quiet))...)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a := open(postgres.WithSchema(one))
	b := open(postgres.WithSchema(one), postgres.WithPrefix("b_"))
	c := open(postgres.WithSchema(two))
	checkIsolation(t, a, b, c)
	checkHostTables(t, db, one+".")
	a.Close()
	if err := db.Ping(); err != nil {
		t.Errorf("Close closed the host's pool: %v", err)
	}
}

// checkIsolation writes the same org and device to every store and checks
// that each sees only its own writes.
func checkIsolation(t *testing.T, stores ...*sqlstore.Store) {
	t.Helper()
	ctx := t.Context()
	now := time.Now()
	o := storage.Org{ID: "org_same", Name: "same", DisplayName: "Same"}
	for i, s := range stores {
		o.DisplayName = "Store " + string(rune('A'+i))
		if _, err := s.CreateOrg(ctx, o, storage.AuditEntry{Org: o.ID, Time: now, Actor: "system", Action: "org.create"}); err != nil {
			t.Fatalf("store %d: %v", i, err)
		}
		for range i + 1 {
			d := inventory.Device{ID: inventory.NewDeviceID(), Org: o.ID, UserID: "u", Platform: inventory.PlatformIOS,
				Ownership: inventory.OwnershipCompany, EnrollmentType: inventory.EnrollAppleDevice, State: inventory.StateEnrolled,
				Identifier: rand.Text()}
			if _, err := s.CreateDevice(ctx, d, storage.AuditEntry{Org: o.ID, Time: now, Actor: "system", Action: "device.create"}); err != nil {
				t.Fatalf("store %d: %v", i, err)
			}
		}
	}
	for i, s := range stores {
		got, err := s.Org(ctx, o.ID)
		if err != nil || got.DisplayName != "Store "+string(rune('A'+i)) {
			t.Errorf("store %d reads org %+v, %v", i, got, err)
		}
		page, err := s.ListDevices(ctx, o.ID, inventory.DeviceQuery{})
		if err != nil || len(page.Devices) != i+1 {
			t.Errorf("store %d lists %d devices (%v), want %d", i, len(page.Devices), err, i+1)
		}
		audit, err := s.ListAudit(ctx, o.ID, storage.AuditQuery{})
		if err != nil || len(audit.Entries) != i+2 {
			t.Errorf("store %d lists %d audit entries (%v), want %d", i, len(audit.Entries), err, i+2)
		}
	}
}

func TestOptionsRefuseBadInput(t *testing.T) {
	db, err := sql.Open("sqlite", "file::memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, opt := range []sqlstore.Option{
		sqlstore.WithPrefix("Omm"), sqlstore.WithPrefix("1x"), sqlstore.WithPrefix("a-b"), sqlstore.WithPrefix(strings.Repeat("x", 25)),
		sqlstore.WithSchema("s"), // SQLite has no schemas
		sqlstore.WithSchema(""),
	} {
		if _, err := sqlstore.New(t.Context(), db, sqlstore.SQLite, opt); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("New with a bad option: %v, want ErrInvalid", err)
		}
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM sqlite_master").Scan(&n); err != nil || n != 0 {
		t.Errorf("a refused New left %d objects (%v)", n, err)
	}
}

// TestHostSchemaMigrationsIsNotLegacy opens a store beside a host's own
// schema_migrations table (of another tool, with a name column too): it is
// neither taken for the SDK's old layout nor changed.
func TestHostSchemaMigrationsIsNotLegacy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "host.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_foreign_keys=1")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL);
		INSERT INTO schema_migrations VALUES (1, 'create_accounts'), (2, 'add_index')`); err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.OpenDB(t.Context(), db, sqlite.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n != 2 {
		t.Errorf("the host's schema_migrations has %d rows (%v), want 2", n, err)
	}
}
