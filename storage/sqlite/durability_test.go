package sqlite_test

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/sqlite"
	"github.com/openomm/omm/storage/sqlstore"
)

const (
	crashChildEnv = "OMM_SQLITE_CRASH_CHILD_DB"
	crashOrgID    = storage.OrgID("org_crash")
)

// TestCrashChild is the child half of TestKillAfterCommitLosesNothing: it
// appends audit entries as fast as it can and reports each acknowledged ID
// on stdout, until it is killed. Without the environment variable it does
// nothing.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("child process of TestKillAfterCommitLosesNothing")
	}
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	now := time.Now()
	_, err = s.CreateOrg(ctx, storage.Org{ID: crashOrgID, Name: "crash", DisplayName: "Crash"},
		storage.AuditEntry{Org: crashOrgID, Time: now, Actor: "system", Action: "org.create"})
	if err != nil && !errors.Is(err, storage.ErrAlreadyExists) {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		e, err := s.AppendAudit(ctx, storage.AuditEntry{
			Org: crashOrgID, Time: now, Actor: "system", Action: "crash.test",
			Details: map[string]string{"seq": strconv.Itoa(i)},
		})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		// Unbuffered: the parent sees the ID only once the call returned.
		fmt.Printf("acked %d\n", e.ID)
	}
}

// TestKillAfterCommitLosesNothing kills a writing process with SIGKILL at a
// random point, several times over the same file, and checks that every
// write the child saw acknowledged is there after reopening, and that the
// database passes SQLite's integrity check.
func TestKillAfterCommitLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	acked := map[int64]bool{}
	for round := range 5 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v=false")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAfter := 1 + rand.IntN(200)
		lines := bufio.NewScanner(out)
		n := 0
		for n < killAfter && lines.Scan() {
			line := lines.Text()
			if rest, ok := strings.CutPrefix(line, "acked "); ok {
				id, err := strconv.ParseInt(rest, 10, 64)
				if err != nil {
					t.Fatalf("child said %q", line)
				}
				acked[id] = true
				n++
			} else if strings.HasPrefix(line, "error") {
				t.Fatalf("round %d: child failed: %s", round, line)
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait() //nolint:errcheck // killed on purpose
		if n < killAfter {
			t.Fatalf("round %d: child stopped after %d acknowledgements: %v", round, n, lines.Err())
		}
	}

	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer s.Close()
	if err := s.IntegrityCheck(t.Context()); err != nil {
		t.Fatal(err)
	}
	stored := map[int64]bool{}
	q := storage.AuditQuery{Limit: storage.MaxAuditPage}
	for {
		p, err := s.ListAudit(t.Context(), crashOrgID, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Entries {
			stored[e.ID] = true
		}
		if p.Next == 0 {
			break
		}
		q.After = p.Next
	}
	for id := range acked {
		if !stored[id] {
			t.Errorf("acknowledged audit entry %d is missing after SIGKILL", id)
		}
	}
	t.Logf("%d acknowledged writes over 5 kills, all present (%d stored)", len(acked), len(stored))
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "omm.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	o := storage.Org{ID: "org_a", Name: "acme", DisplayName: "Acme"}
	if _, err := s.CreateOrg(t.Context(), o, storage.AuditEntry{Org: o.ID, Time: time.Now(), Actor: "system", Action: "org.create"}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = sqlite.Open(t.Context(), path) // migrations already applied: a no-op
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if _, err := s.OrgByName(t.Context(), "acme"); err != nil {
		t.Fatalf("org lost on reopen: %v", err)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "omm.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db := rawDB(t, path)
	if _, err := db.Exec("INSERT INTO omm_migrations (version, name, applied_us) VALUES (9999, 'future', 0)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = sqlite.Open(t.Context(), path)
	if !errors.Is(err, sqlstore.ErrSchemaTooNew) {
		t.Fatalf("Open of a newer schema: %v, want ErrSchemaTooNew", err)
	}
}

// TestAuditLogIsAppendOnly checks that the database itself refuses to change
// or remove audit entries, whatever code runs against it.
func TestAuditLogIsAppendOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "omm.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	o := storage.Org{ID: "org_a", Name: "acme", DisplayName: "Acme"}
	if _, err := s.CreateOrg(t.Context(), o, storage.AuditEntry{Org: o.ID, Time: time.Now(), Actor: "system", Action: "org.create"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db := rawDB(t, path)
	defer db.Close()
	for _, stmt := range []string{"UPDATE omm_audit_log SET actor = 'forged'", "DELETE FROM omm_audit_log"} {
		if _, err := db.Exec(stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: error = %v, want the append-only refusal", stmt, err)
		}
	}
}

func TestOpenRejectsBadPath(t *testing.T) {
	for _, p := range []string{"", ":memory:", "db?mode=memory"} {
		if _, err := sqlite.Open(t.Context(), p); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("Open(%q): %v, want ErrInvalid", p, err)
		}
	}
}

func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	return db
}
