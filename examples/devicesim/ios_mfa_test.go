package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/storage/sqlite"
)

// TestIOSWalkMFA requires MFA in the demo org (written to the store while
// the server is stopped, as an administrator's sign-on rule) and walks
// iPhones through it: alice has no factor, so the first walk enrolls an
// authenticator app through the agent API and completes MFA with it; a
// second sign-in types a wrong code first and succeeds on the retry; a
// third walk, through the command line, uses -totp-secret.
func TestIOSWalkMFA(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	var first *testServer
	t.Run("first start", func(t *testing.T) { // its server stops when it ends
		first = startServerArgs(t, "-allow-simulators", "-data", data)
	})
	if first == nil || t.Failed() {
		t.FailNow()
	}
	requireMFA(t, filepath.Join(data, "omm.db"))
	ts := restartServer(t, data, first)

	out := &syncBuffer{}
	res, err := walkIOS(t.Context(), walkConfig{commonFlags: ts.flags("alice"), serial: "SIMMFA0001", delivery: "ota",
		storeApp: demoStoreApp, adminToken: ts.adminToken}, out)
	if err != nil {
		t.Fatalf("walk: %v\n%s", err, out)
	}
	log := out.String()
	for _, want := range []string{"(next: mfa_required)", "MFA: authenticator app enrolled", "MFA: authenticator code accepted",
		"agent PIN set", "is Unmanaged", "is Installed (Open)", "is deprovisioned"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if res.TOTPSecret == "" {
		t.Fatal("the walk reports no enrolled secret")
	}

	// A mistyped code is refused, and the next one accepted.
	a, err := newAPI(ts.base, ts.caFile)
	if err != nil {
		t.Fatal(err)
	}
	typed := 0
	a.totpCode = func(secret string, at time.Time) (string, error) {
		typed++
		code, err := totpAt(secret, at)
		if typed == 1 { // mistyped: every digit one off
			b := []byte(code)
			for i := range b {
				b[i] = '0' + (b[i]-'0'+1)%10
			}
			code = string(b)
		}
		return code, err
	}
	acct := ts.flags("alice").acct
	acct.TOTPSecret = res.TOTPSecret
	signLog := &syncBuffer{}
	logf := func(format string, args ...any) {
		signLog.Write([]byte(strings.TrimSpace(fmt.Sprintf(format, args...)) + "\n"))
	}
	token, err := a.signInAccount(t.Context(), &acct, logf)
	if err != nil || token == "" {
		t.Fatalf("sign-in after a wrong code: %v\n%s", err, signLog)
	}
	if !strings.Contains(signLog.String(), "code refused (invalid_code), trying again") || typed < 2 {
		t.Errorf("no retry after the wrong code (%d codes typed):\n%s", typed, signLog)
	}

	// Without the secret, a user who has an authenticator cannot sign in.
	acct.TOTPSecret = ""
	if _, err := a.signInAccount(t.Context(), &acct, nop); !errors.Is(err, errMFARequired) || !strings.Contains(err.Error(), "-totp-secret") {
		t.Errorf("sign-in without the secret = %v, want errMFARequired naming -totp-secret", err)
	}

	// The command line with -totp-secret.
	out3 := &syncBuffer{}
	f := ts.flags("alice")
	if err := run(t.Context(), []string{"ios", "-server", f.server, "-ca", f.caFile, "-site", "demo", "-user", "alice",
		"-password", f.acct.Password, "-totp-secret", res.TOTPSecret, "-serial", "SIMMFA0002", "-delivery", "direct",
		"-admin-token", ts.adminToken}, out3); err != nil {
		t.Fatalf("walk with -totp-secret: %v\n%s", err, out3)
	}
	if l := out3.String(); !strings.Contains(l, "MFA: authenticator code accepted") || strings.Contains(l, "authenticator app enrolled") ||
		!strings.Contains(l, "is deprovisioned") {
		t.Errorf("walk with -totp-secret:\n%s", l)
	}
}

// requireMFA sets the demo org's sign-on rule to require MFA, in the
// stopped server's SQLite store.
func requireMFA(t *testing.T, path string) {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, sqlite.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dir, err := auth.NewLocalDirectory(s)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := auth.New(s, dir)
	if err != nil {
		t.Fatal(err)
	}
	rule := auth.DefaultSignOn("org_demo")
	rule.MFARequired = true
	if _, err := svc.SetSignOn(t.Context(), rule, "test"); err != nil {
		t.Fatal(err)
	}
}

// restartServer starts ommserver again on the data directory of first
// (which printed the passwords and admin token, shown only at the first
// start), stopping it when the test ends.
func restartServer(t *testing.T, data string, first *testServer) *testServer {
	t.Helper()
	bin, err := serverBinary()
	if err != nil {
		t.Fatal(err)
	}
	stdout := runServer(t, bin, "-data", data, "-listen", "127.0.0.1:0", "-postgres", "", "-allow-simulators")
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		base := ""
		for sc.Scan() {
			if m := readyLine.FindStringSubmatch(sc.Text()); m != nil {
				base = m[1]
			} else if strings.HasPrefix(sc.Text(), "portal: ") && base != "" {
				ready <- base
				base = ""
			}
		}
		close(ready)
		io.Copy(io.Discard, stdout)
	}()
	select {
	case base, ok := <-ready:
		if !ok {
			t.Fatal("ommserver ended before it was ready")
		}
		return &testServer{base: base, caFile: filepath.Join(data, "tls", "dev-ca.pem"),
			adminToken: first.adminToken, passwords: first.passwords}
	case <-time.After(30 * time.Second):
		t.Fatal("ommserver did not start within 30 s")
	}
	return nil
}
