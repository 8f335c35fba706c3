package auth_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/sqlite"
)

// TestPINUnlockAudited: unlocking a session with the PIN is an
// authentication and leaves its entry, like a wrong PIN does.
func TestPINUnlockAudited(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	tok := e.setPIN(e.signIn("beta", "bob", betaPassword).Token, "4812")
	if _, err := e.svc.VerifyPIN(ctx, tok, "0000"); err == nil {
		t.Fatal("a wrong PIN unlocked the session")
	}
	if _, err := e.svc.VerifyPIN(ctx, tok, "4812"); err != nil {
		t.Fatal(err)
	}
	got := e.auditActions(e.beta.ID)
	for _, want := range []string{"auth.pin.failure", "auth.pin.unlock"} {
		if !slices.Contains(got, want) {
			t.Errorf("audit log lacks %s: %v", want, got)
		}
	}
	if slices.Contains(e.auditActions(e.acme.ID), "auth.pin.unlock") {
		t.Error("beta's unlock is in acme's log")
	}
}

// sqliteEnv is the sign-in service over an SQLite file with one org and
// user, and a second handle on the file for the test's own statements.
type sqliteEnv struct {
	svc   *auth.Service
	store *sqlite.Store
	raw   *sql.DB
	clock *fakeClock
}

func newSQLiteEnv(t *testing.T) *sqliteEnv {
	t.Helper()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "auth.db")
	clock := &fakeClock{t: time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)}
	s, err := sqlite.Open(ctx, path, sqlite.WithLogger(quiet), sqlite.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	if _, err := s.CreateOrg(ctx, storage.Org{ID: "org_beta", Name: "beta", DisplayName: "Beta"},
		storage.AuditEntry{Org: "org_beta", Time: clock.Now(), Actor: "system", Action: "org.create"}); err != nil {
		t.Fatal(err)
	}
	dir, err := auth.NewLocalDirectory(s, auth.WithClock(clock.Now), auth.WithTestParams(testParams), auth.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dir.CreateUser(ctx, auth.User{Org: "org_beta", Username: "bob", DisplayName: "Bob"}, betaPassword, "admin:root"); err != nil {
		t.Fatal(err)
	}
	svc, err := auth.New(s, dir, auth.WithClock(clock.Now), auth.WithTestParams(testParams), auth.WithDomains(testDomains), auth.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	return &sqliteEnv{svc: svc, store: s, raw: raw, clock: clock}
}

// refuse makes the database abort any transaction that appends an audit
// entry with action: the store's own writes in that transaction must go
// with it.
func (e *sqliteEnv) refuse(t *testing.T, action string) {
	t.Helper()
	if _, err := e.raw.ExecContext(t.Context(), fmt.Sprintf(`CREATE TRIGGER refuse_audit BEFORE INSERT ON omm_audit_log
		WHEN NEW.action = '%s' BEGIN SELECT RAISE(ABORT, 'audit refused by the test'); END`, action)); err != nil {
		t.Fatal(err)
	}
}

// dump is every row of every table, as text: the whole stored state.
// dump prints every table's rows but except's.
func dump(t *testing.T, db *sql.DB, except string) string {
	t.Helper()
	ctx := t.Context()
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	var b strings.Builder
	for _, table := range tables {
		if table == except {
			continue
		}
		rows, err := db.QueryContext(ctx, `SELECT * FROM "`+table+`"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, fmt.Sprintf("%s %v", table, vals))
		}
		rows.Close()
		slices.Sort(lines)
		b.WriteString(strings.Join(lines, "\n"))
		b.WriteString("\n")
	}
	return b.String()
}

// TestAuthAuditSameTransaction proves that each authentication step
// writes its audit entry in the transaction of its change: when the
// database refuses the entry, the step fails and nothing at all is
// stored.
func TestAuthAuditSameTransaction(t *testing.T) {
	type step func(ctx context.Context, e *sqliteEnv, res auth.SignInResult) error
	tests := []struct {
		action string
		// pinSet: the session has its PIN before the step.
		pinSet bool
		run    step
	}{
		{"auth.signin.success", false, func(ctx context.Context, e *sqliteEnv, _ auth.SignInResult) error {
			_, err := e.svc.SignIn(ctx, "beta", "bob", betaPassword)
			return err
		}},
		{"auth.signin.failure", false, func(ctx context.Context, e *sqliteEnv, _ auth.SignInResult) error {
			_, err := e.svc.SignIn(ctx, "beta", "bob", "wrong")
			if err == auth.ErrInvalidCredentials { // the plain answer means the failure was recorded
				return nil
			}
			return err
		}},
		{"auth.pin.set", false, func(ctx context.Context, e *sqliteEnv, res auth.SignInResult) error {
			_, err := e.svc.SetPIN(ctx, res.Token, "4812", "4812")
			return err
		}},
		{"auth.pin.unlock", true, func(ctx context.Context, e *sqliteEnv, res auth.SignInResult) error {
			_, err := e.svc.VerifyPIN(ctx, res.Token, "4812")
			return err
		}},
		{"auth.pin.failure", true, func(ctx context.Context, e *sqliteEnv, res auth.SignInResult) error {
			_, err := e.svc.VerifyPIN(ctx, res.Token, "0000")
			if err == auth.ErrInvalidPIN {
				return nil
			}
			return err
		}},
		{"auth.signout", true, func(ctx context.Context, e *sqliteEnv, res auth.SignInResult) error {
			return e.svc.SignOut(ctx, res.Token)
		}},
		{"auth.session.revoke_all", true, func(ctx context.Context, e *sqliteEnv, res auth.SignInResult) error {
			_, err := e.svc.RevokeUserSessions(ctx, "org_beta", res.User.ID, "admin:root")
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.action, func(t *testing.T) {
			ctx := t.Context()
			e := newSQLiteEnv(t)
			res, err := e.svc.SignIn(ctx, "beta", "bob", betaPassword)
			if err != nil {
				t.Fatal(err)
			}
			if tc.pinSet {
				sess, err := e.svc.SetPIN(ctx, res.Token, "4812", "4812")
				if err != nil {
					t.Fatal(err)
				}
				res.Token = sess.Token
			}
			// Without the refusal the step succeeds and writes its entry
			// (proven in a second, identical env).
			ok := newSQLiteEnv(t)
			okRes, err := ok.svc.SignIn(ctx, "beta", "bob", betaPassword)
			if err != nil {
				t.Fatal(err)
			}
			if tc.pinSet {
				sess, err := ok.svc.SetPIN(ctx, okRes.Token, "4812", "4812")
				if err != nil {
					t.Fatal(err)
				}
				okRes.Token = sess.Token
			}
			if err := tc.run(ctx, ok, okRes); err != nil {
				t.Fatalf("step without refusal: %v", err)
			}
			page, err := ok.store.ListAudit(ctx, "org_beta", storage.AuditQuery{Limit: storage.MaxAuditPage})
			if err != nil || !slices.ContainsFunc(page.Entries, func(a storage.AuditEntry) bool { return a.Action == tc.action }) {
				t.Fatalf("step without refusal wrote no %s entry (%v)", tc.action, err)
			}

			// With the refusal: the step fails and the state is as before.
			e.refuse(t, tc.action)
			// An attempt is counted before its check (so that parallel
			// guesses cannot outrun the throttle) and stays counted when
			// its outcome cannot be recorded: only the throttle's counters
			// may differ, and only towards stricter.
			const counters = "omm_auth_failures"
			before := dump(t, e.raw, counters)
			if err := tc.run(ctx, e, res); err == nil {
				t.Fatal("the step succeeded although its audit entry was refused")
			}
			if after := dump(t, e.raw, counters); after != before {
				t.Errorf("a step whose audit entry was refused changed the store:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}
