package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openomm/omm"
	"github.com/openomm/omm/storage/sqlite"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testServer is a running server and a client that trusts its CA.
type testServer struct {
	base string
	// backend is the server's own URL behind a proxy (startServerBehind),
	// else empty.
	backend string
	out     *syncBuffer
	client  *http.Client
	stop    func()
}

// startServer runs the server on a free port with its data in dir.
func startServer(t *testing.T, dir string) *testServer {
	t.Helper()
	return startServerArgs(t, dir, "-postgres", "")
}

// startServerArgs is startServer with further flags.
func startServerArgs(t *testing.T, dir string, args ...string) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	out := &syncBuffer{}
	go func() {
		done <- run(ctx, append([]string{"-data", dir, "-listen", "127.0.0.1:0"}, args...), out, ready)
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("server ended before it was ready: %v\n%s", err, out)
	}
	// The start-up reconcile runs beside the server; tests that compare
	// the store before and after a request start once it is done.
	for !strings.Contains(out.String(), omm.ReconciledMessage) {
		select {
		case err := <-done:
			cancel()
			t.Fatalf("server ended during its first reconcile: %v\n%s", err, out)
		case <-time.After(5 * time.Millisecond):
		}
	}
	stopped := false
	ts := &testServer{base: "https://" + addr, out: out, client: trustingClient(t, dir, nil)}
	ts.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	}
	t.Cleanup(ts.stop)
	return ts
}

// trustingClient trusts the development CA in dir and keeps cookies in jar
// (none when nil); it does not follow redirects, so that tests see them.
func trustingClient(t *testing.T, dir string, jar http.CookieJar) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(dir, "tls", caFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("no CA certificate in the data directory")
	}
	return &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		Jar:       jar,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// do sends a request with an optional bearer token and JSON body and
// returns the status and body.
func (ts *testServer) do(t *testing.T, method, path, bearer string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		default:
			data, err := json.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			rd = bytes.NewReader(data)
		}
	}
	req, err := http.NewRequestWithContext(t.Context(), method, ts.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

// must decodes a JSON answer that must have status want.
func must[T any](t *testing.T, want int) func(int, []byte) T {
	return func(status int, body []byte) T {
		t.Helper()
		if status != want {
			t.Fatalf("status %d, want %d: %s", status, want, body)
		}
		var v T
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("decoding %s: %v", body, err)
		}
		return v
	}
}

var (
	tokenLine    = regexp.MustCompile(`(?m)^\s+(omm_admin_[A-Za-z0-9_-]+)$`)
	passwordLine = regexp.MustCompile(`(?m)^\s+DEMO user (\w+)\s+password (\S+)$`)
	fingerprint  = regexp.MustCompile(`SHA-256 fingerprint ([0-9A-F:]{95})`)
)

// firstStart is what a server's first start printed.
type firstStart struct {
	adminToken  string
	passwords   map[string]string
	fingerprint string
}

func parseFirstStart(t *testing.T, out string) firstStart {
	t.Helper()
	var fs firstStart
	if m := tokenLine.FindStringSubmatch(out); m != nil {
		fs.adminToken = m[1]
	}
	fs.passwords = map[string]string{}
	for _, m := range passwordLine.FindAllStringSubmatch(out, -1) {
		fs.passwords[m[1]] = m[2]
	}
	if m := fingerprint.FindStringSubmatch(out); m != nil {
		fs.fingerprint = m[1]
	}
	return fs
}

func TestZeroConfigStartAndRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ts := startServer(t, dir)
	for _, path := range []string{"/healthz", "/readyz", "/", "/static/style.css", "/signin", "/admin"} {
		status, body := ts.do(t, "GET", path, "", nil)
		if status != http.StatusOK {
			t.Errorf("GET %s = %d %q", path, status, body)
		}
	}
	ts.stop()
	out := ts.out.String()
	if !strings.Contains(out, `demo org "Demo Org", site name "demo"`) {
		t.Errorf("start-up output does not announce the demo org:\n%s", out)
	}
	first := parseFirstStart(t, out)
	if first.adminToken == "" || first.fingerprint == "" || len(first.passwords) != len(demoUsers) {
		t.Fatalf("first start printed token %q, fingerprint %q, passwords %v:\n%s", first.adminToken, first.fingerprint, first.passwords, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, adminTokenFile))
	if err != nil || bytes.Contains(data, []byte(first.adminToken)) {
		t.Errorf("admin token file must hold only the hash: %s, %v", data, err)
	}

	// A second start reuses the CA, prints no secrets and creates nothing
	// twice.
	ts = startServer(t, dir)
	defer ts.stop()
	second := parseFirstStart(t, ts.out.String())
	if second.fingerprint != first.fingerprint {
		t.Errorf("CA fingerprint changed on restart: %s → %s", first.fingerprint, second.fingerprint)
	}
	if second.adminToken != "" || len(second.passwords) != 0 {
		t.Errorf("restart printed secrets again:\n%s", ts.out)
	}
	orgs := must[struct{ Orgs []orgView }](t, 200)(ts.do(t, "GET", "/api/admin/orgs", first.adminToken, nil))
	if len(orgs.Orgs) != 1 || orgs.Orgs[0].Name != "demo" {
		t.Errorf("orgs = %+v", orgs)
	}
	users := must[struct{ Users []userView }](t, 200)(ts.do(t, "GET", "/api/admin/users", first.adminToken, nil))
	if len(users.Users) != len(demoUsers) {
		t.Errorf("users after restart = %+v, want %d", users.Users, len(demoUsers))
	}
	pols := must[struct{ Policies []policyBody }](t, 200)(ts.do(t, "GET", "/api/admin/policies", first.adminToken, nil))
	if len(pols.Policies) != 2 { // the demo policy and the built-in default
		t.Errorf("policies after restart = %+v", pols.Policies)
	}
}

func TestSeedDemoIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	s, err := sqlite.Open(t.Context(), filepath.Join(dir, "omm.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv, err := newServer(t.Context(), s, config{dataDir: dir}, serverDeps{log: discardLog(), now: time.Now,
		push: pushSetup{topic: defaultTopic}, publicURL: "https://127.0.0.1:8443"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		o, err := ensureDemoOrg(t.Context(), s, time.Now())
		if err != nil || o.Name != "demo" {
			t.Fatalf("ensureDemoOrg = %+v, %v", o, err)
		}
		creds, err := seedDemo(t.Context(), o.ID, srv.dir, srv.sdk.Policy)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[int]int{0: len(demoUsers), 1: 0}[i]; len(creds) != want {
			t.Errorf("start %d created %d users, want %d", i, len(creds), want)
		}
		employees, err := groupID(t.Context(), srv.dir, o.ID, "Employees")
		if err != nil {
			t.Fatal(err)
		}
		if err := seedDemoApps(t.Context(), o.ID, srv.sdk.Catalog, employees); err != nil {
			t.Fatal(err)
		}
	}
	apps, err := srv.sdk.Catalog.ListApps(t.Context(), demoOrg.ID)
	if err != nil || len(apps) != len(demoApps) {
		t.Errorf("apps = %+v, %v", apps, err)
	}
	for _, a := range apps {
		if as, err := srv.sdk.Catalog.ListAssignments(t.Context(), demoOrg.ID, a.ID); err != nil || len(as) != 1 {
			t.Errorf("assignments of %s = %+v, %v", a.Identifier, as, err)
		}
	}
	orgs, err := s.ListOrgs(t.Context())
	if err != nil || len(orgs) != 1 {
		t.Errorf("orgs = %+v, %v", orgs, err)
	}
	groups, err := srv.dir.ListGroups(t.Context(), demoOrg.ID)
	if err != nil || len(groups) != len(demoGroups) {
		t.Errorf("groups = %+v, %v", groups, err)
	}
}

// TestTuneGC: ommserver's collector settings apply unless the environment
// sets GOGC or GOMEMLIMIT, which it then leaves alone.
func TestTuneGC(t *testing.T) {
	prevPercent, prevLimit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(prevPercent); debug.SetMemoryLimit(prevLimit) })

	tuneGC(func(string) string { return "" })
	if got := debug.SetGCPercent(100); got != defaultGCPercent {
		t.Errorf("GC percent %d, want %d", got, defaultGCPercent)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != defaultMemoryLimit {
		t.Errorf("memory limit %d, want %d", got, defaultMemoryLimit)
	}

	env := map[string]string{"GOGC": "100", "GOMEMLIMIT": "off"}
	tuneGC(func(k string) string { return env[k] })
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC set: GC percent %d, want 100 (left alone)", got)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != math.MaxInt64 {
		t.Errorf("GOMEMLIMIT set: memory limit %d, want none (left alone)", got)
	}
}
