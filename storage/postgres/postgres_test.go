package postgres_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/openomm/omm/storage/postgres"
	"github.com/openomm/omm/storage/storagetest"
)

// dsnEnv names the database the tests use. Each store gets a schema of its
// own in it, dropped when the test ends.
const dsnEnv = "OMM_TEST_POSTGRES_DSN"

func dsn(t testing.TB) string {
	t.Helper()
	d := os.Getenv(dsnEnv)
	if d == "" && os.Getenv("CI") != "" {
		t.Fatalf("%s is not set in CI: the PostgreSQL backend must not be skipped there", dsnEnv)
	}
	if d == "" {
		t.Skipf("%s is not set; skipping the PostgreSQL backend", dsnEnv)
	}
	return d
}

// open returns a store in a fresh schema.
func open(t testing.TB, opts ...postgres.Option) *postgres.Store {
	t.Helper()
	d := dsn(t)
	schema := "omm_test_" + strings.ToLower(strings.NewReplacer("/", "_", "-", "_").Replace(randName()))
	s, err := postgres.Open(t.Context(), d, append([]postgres.Option{postgres.WithSchema(schema), postgres.WithPoolSize(8), postgres.WithLogger(quiet)}, opts...)...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		s.Close()
		dropSchema(t, d, schema)
	})
	return s
}

func dropSchema(t testing.TB, dsn, schema string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Errorf("drop schema %s: %v", schema, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		t.Errorf("drop schema %s: %v", schema, err)
	}
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Store { return open(t) })
}

func BenchmarkStore(b *testing.B) {
	storagetest.Benchmark(b, func(b *testing.B) storagetest.Store { return open(b) })
}

// quiet discards the stores' logs (migrations applied) in tests.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
