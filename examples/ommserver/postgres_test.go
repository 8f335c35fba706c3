package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestPostgresStartAndRestart runs the server on PostgreSQL when
// OMM_TEST_POSTGRES_DSN is set, in a schema of its own that is dropped
// afterwards: zero-config start, agent eligibility, restart without
// duplicates.
func TestPostgresStartAndRestart(t *testing.T) {
	dsn := os.Getenv("OMM_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("OMM_TEST_POSTGRES_DSN not set")
	}
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	schema := "ommserver_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Errorf("drop schema: %v", err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	dir := filepath.Join(t.TempDir(), "data")
	args := []string{"-postgres", dsn, "-postgres-schema", schema}

	ts := startServerArgs(t, dir, args...)
	first := parseFirstStart(t, ts.out.String())
	if first.adminToken == "" || len(first.passwords) != len(demoUsers) {
		t.Fatalf("first start:\n%s", ts.out)
	}
	w := &world{testServer: ts, dir: dir, first: first}
	alice := w.agentSignIn(t, "alice")
	dec := must[decisionView](t, 200)(ts.do(t, "POST", "/api/agent/eligibility", alice, deviceFacts{Platform: "ios", OSVersion: "17.4"}))
	if dec.Outcome != "enroll" {
		t.Errorf("decision = %+v", dec)
	}
	ts.stop()

	ts = startServerArgs(t, dir, args...)
	if again := parseFirstStart(t, ts.out.String()); again.adminToken != "" || len(again.passwords) != 0 {
		t.Errorf("restart printed secrets:\n%s", ts.out)
	}
	users := must[struct{ Users []userView }](t, 200)(ts.do(t, "GET", "/api/admin/users", first.adminToken, nil))
	if len(users.Users) != len(demoUsers) {
		t.Errorf("users after restart = %d", len(users.Users))
	}
	if status, _ := ts.do(t, "GET", "/readyz", "", nil); status != http.StatusOK {
		t.Errorf("readyz = %d", status)
	}
}
