package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// serverBinary is ommserver built once per test binary (main packages
// cannot be imported), or the prebuilt binary DEVICESIM_OMMSERVER names.
var serverBinary = sync.OnceValues(func() (string, error) {
	if bin := os.Getenv("DEVICESIM_OMMSERVER"); bin != "" {
		return bin, nil
	}
	dir, err := os.MkdirTemp("", "devicesim-test-")
	if err != nil {
		return "", err
	}
	builtDir = dir
	bin := filepath.Join(dir, "ommserver")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/openomm/omm/examples/ommserver").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building ommserver: %w\n%s", err, out)
	}
	return bin, nil
})

// builtDir holds the binary serverBinary built, if it built one.
var builtDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
	os.Exit(code)
}

// testServer is a running ommserver and what its first start printed.
type testServer struct {
	base, caFile, adminToken string
	passwords                map[string]string
}

var (
	readyLine    = regexp.MustCompile(`^ommserver ready on (https://\S+) `)
	passwordLine = regexp.MustCompile(`^\s+DEMO user (\w+)\s+password (\S+)$`)
	tokenLine    = regexp.MustCompile(`^\s+(omm_admin_[A-Za-z0-9_-]+)$`)
)

// startServer runs ommserver on a free loopback port with SQLite in a
// temporary directory, accepting simulated OTA devices, and stops it when
// the test ends.
func startServer(t *testing.T) *testServer {
	return startServerArgs(t, "-allow-simulators")
}

// runServer starts the server binary with args and the caller's
// environment without OMM_ variables (the flags decide), stops it when the
// test ends, and returns its standard output.
func runServer(t *testing.T, bin string, args ...string) io.ReadCloser {
	t.Helper()
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OMM_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return stdout
}

// startServerArgs is startServer with the flags given instead of
// -allow-simulators.
func startServerArgs(t *testing.T, args ...string) *testServer {
	t.Helper()
	bin, err := serverBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	stdout := runServer(t, bin, append([]string{"-data", filepath.Join(dir, "data"), "-listen", "127.0.0.1:0", "-postgres", ""}, args...)...)
	ts := &testServer{caFile: filepath.Join(dir, "data", "tls", "dev-ca.pem"), passwords: map[string]string{}}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			if m := readyLine.FindStringSubmatch(line); m != nil {
				ts.base = m[1]
			} else if m := passwordLine.FindStringSubmatch(line); m != nil {
				ts.passwords[m[1]] = m[2]
			} else if m := tokenLine.FindStringSubmatch(line); m != nil {
				ts.adminToken = m[1]
			} else if strings.HasPrefix(line, "portal: ") && !sent {
				ready <- nil
				sent = true
			}
		}
		if !sent {
			ready <- fmt.Errorf("ommserver ended before it was ready: %v", sc.Err())
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ommserver did not start within 30 s")
	}
	if ts.base == "" || ts.adminToken == "" || ts.passwords["alice"] == "" {
		t.Fatalf("start-up output lacked the address, admin token or alice's password: %+v", ts)
	}
	return ts
}

// admin reads an admin API resource into out.
func (ts *testServer) admin(t *testing.T, path string, out any) []byte {
	t.Helper()
	a, err := newAPI(ts.base, ts.caFile)
	if err != nil {
		t.Fatal(err)
	}
	data, err := do(t.Context(), a.client, a.base, http.MethodGet, path, "", ts.adminToken, nil, maxJSONReply)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return data
}

func (ts *testServer) flags(user string) commonFlags {
	return commonFlags{server: ts.base, caFile: ts.caFile,
		acct: account{Site: "demo", User: user, Password: ts.passwords[user], PIN: "482916"}}
}

// syncBuffer is a bytes buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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
