package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/postgres"
	"github.com/openomm/omm/storage/sqlstore"
)

func exec(t *testing.T, schema, stmt string) error {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "SET search_path TO "+pgx.Identifier{schema}.Sanitize()+"; "+stmt)
	return err
}

// TestConcurrentOpenMigratesOnce starts several stores on one fresh schema
// at once, as several servers starting together would.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	d := dsn(t)
	schema := "omm_test_concurrent_" + strings.ToLower(randName())
	t.Cleanup(func() { dropSchema(t, d, schema) })
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := postgres.Open(t.Context(), d, postgres.WithSchema(schema), postgres.WithPoolSize(2), postgres.WithLogger(quiet))
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
		}
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	d := dsn(t)
	schema := "omm_test_newer_" + strings.ToLower(randName())
	t.Cleanup(func() { dropSchema(t, d, schema) })
	s, err := postgres.Open(t.Context(), d, postgres.WithSchema(schema), postgres.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := exec(t, schema, "INSERT INTO omm_migrations (version, name, applied_us) VALUES (9999, 'future', 0)"); err != nil {
		t.Fatal(err)
	}
	_, err = postgres.Open(t.Context(), d, postgres.WithSchema(schema), postgres.WithLogger(quiet))
	if !errors.Is(err, sqlstore.ErrSchemaTooNew) {
		t.Fatalf("Open of a newer schema: %v, want ErrSchemaTooNew", err)
	}
}

// TestAuditLogIsAppendOnly checks that the database itself refuses to change
// or remove audit entries, whatever code runs against it.
func TestAuditLogIsAppendOnly(t *testing.T) {
	d := dsn(t)
	schema := "omm_test_append_" + strings.ToLower(randName())
	t.Cleanup(func() { dropSchema(t, d, schema) })
	s, err := postgres.Open(t.Context(), d, postgres.WithSchema(schema), postgres.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	o := storage.Org{ID: "org_a", Name: "acme", DisplayName: "Acme"}
	if _, err := s.CreateOrg(t.Context(), o, storage.AuditEntry{Org: o.ID, Time: time.Now(), Actor: "system", Action: "org.create"}); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{"UPDATE omm_audit_log SET actor = 'forged'", "DELETE FROM omm_audit_log", "TRUNCATE omm_audit_log"} {
		if err := exec(t, schema, stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: error = %v, want the append-only refusal", stmt, err)
		}
	}
}

func TestOpenBadDSN(t *testing.T) {
	if _, err := postgres.Open(t.Context(), "postgres://%zz"); err == nil {
		t.Fatal("Open accepted a malformed DSN")
	}
}
