package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
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

// startServer runs the server on a free port with its data in dir.
func startServer(t *testing.T, dir string) (addr string, out *syncBuffer, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	out = &syncBuffer{}
	go func() {
		done <- run(ctx, []string{"-data", dir, "-listen", "127.0.0.1:0", "-postgres", ""}, out, ready)
	}()
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("server ended before it was ready: %v\n%s", err, out)
	}
	return addr, out, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	}
}

func TestZeroConfigStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	addr, out, stop := startServer(t, dir)
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "ok" {
		t.Errorf("GET /healthz = %d %q", resp.StatusCode, body)
	}
	stop()
	if !strings.Contains(out.String(), `demo org "Demo Org", site name "demo"`) {
		t.Errorf("start-up output does not announce the demo org:\n%s", out)
	}

	// A second start on the same data finds the demo org instead of failing.
	_, _, stop = startServer(t, dir)
	stop()
}

func TestEnsureDemoOrgIsIdempotent(t *testing.T) {
	s := memory.New()
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	for range 2 {
		o, err := ensureDemoOrg(t.Context(), s, now)
		if err != nil || o.Name != "demo" {
			t.Fatalf("ensureDemoOrg = %+v, %v", o, err)
		}
	}
	page, err := s.ListAudit(t.Context(), demoOrg.ID, storage.AuditQuery{})
	if err != nil || len(page.Entries) != 1 || page.Entries[0].Action != "org.create" {
		t.Errorf("audit after two starts = %+v, %v; want one org.create", page.Entries, err)
	}
}
