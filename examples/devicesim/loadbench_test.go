package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openomm/omm/inventory"
)

// TestLoadBenchPhases runs a load with every benchmark measurement on and
// checks the JSON report: keys made before the clock, every enrollment
// command answered in the drain phase, an inventory refresh queued per
// device through the admin API and its queries answered in a phase of their
// own (so the idle phase answers none), the
// plain-handler ceiling driven by the same devices, a raw signature rate,
// and the server's and the simulator's CPU time per phase read from /proc.
func TestLoadBenchPhases(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	out := &syncBuffer{}
	report := filepath.Join(t.TempDir(), "load.json")
	cfg := loadConfig{commonFlags: ts.flags("alice"), devices: 4, concurrency: 2, duration: 2 * time.Second,
		maxRequests: 1_000_000, progress: time.Minute, adminToken: ts.adminToken, refreshRate: 0, inventory: true,
		pregenKeys: true, drain: true, ceiling: true, signFor: 300 * time.Millisecond, jsonOut: report, serverPID: os.Getpid(),
		// The "database" is this process here: -db-pids lists it.
		dbPids: fmt.Sprintf("echo %d", os.Getpid())}
	if _, err := runLoad(t.Context(), cfg, out); err != nil {
		t.Fatalf("load: %v\n%s", err, out)
	}
	r, data := readReport(t, report)
	checks := []struct {
		name string
		ok   bool
	}{
		{"4 devices enrolled without error", r.Enroll.Requests == 4 && r.Enroll.Errors == 0},
		{"keys generated before the clock", r.KeyGenSeconds > 0},
		{"every device answered its enrollment commands in the drain", r.DrainCommands >= 4 && r.Drain.Errors == 0 && r.Drain.Requests == r.DrainCommands+4},
		{"a refresh queued per device", r.Queue.Requests == 4 && r.Queue.Errors == 0},
		{"every device answered the refresh's queries, and only those", r.InventoryCommands == 4*len(inventory.AppleRefresh(inventory.PlatformIOS)) &&
			r.Inventory.Errors == 0 && r.Inventory.Requests == r.InventoryCommands+4},
		{"the idle phase answered no command", r.Commands == 0 && r.CheckIn.Requests > 0 && r.CheckIn.Errors == 0},
		{"the ceiling was driven", r.Ceiling.Requests > 0 && r.Ceiling.Errors == 0 && r.Ceiling.PerSecond > 0},
		{"a raw signature rate of an RSA key", r.SignRate > 0 && strings.HasPrefix(r.SignKey, "RSA-")},
		{"CA operations per second counted", r.CAOpsPerSecond > 0 && r.CAOpsPerEnrollment == caOpsPerEnrollment},
		{"percentiles ordered", r.CheckIn.P50ms > 0 && r.CheckIn.P50ms <= r.CheckIn.P99ms && r.CheckIn.P99ms <= r.CheckIn.MaxMs},
		{"server CPU read for the idle phase", r.CheckIn.ServerCPUPerRequestUs >= 0},
		// 4 enrollments cost the simulator 16 RSA private-key operations
		// (CSR, SCEP request, CertRep decryption, TLS client certificate)
		// and more: several 10 ms clock ticks of its own CPU time.
		{"the simulator's own CPU read for the enrollments", r.Enroll.SimCPUPerRequestUs > 0},
		{"the database's CPU read from the processes -db-pids lists", r.Enroll.DBCPUms > 0},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: report %s", c.name, data)
		}
	}
	if !strings.Contains(out.String(), "ceiling:") || !strings.Contains(out.String(), "raw RSA-2048 signatures") {
		t.Errorf("summary lacks the ceiling or the signature rate:\n%s", out)
	}
}

func TestPhaseMerge(t *testing.T) {
	a := phase{Elapsed: time.Second, Requests: 2, Latencies: []time.Duration{1, 5}, FirstErrs: []string{"x"}, Errors: 1}
	b := phase{Elapsed: 2 * time.Second, Requests: 3, Latencies: []time.Duration{2, 3, 4}}
	m := a.merge(b)
	if m.Elapsed != 3*time.Second || m.Requests != 5 || m.Errors != 1 || len(m.FirstErrs) != 1 {
		t.Errorf("merged %+v", m)
	}
	for i, want := range []time.Duration{1, 2, 3, 4, 5} {
		if m.Latencies[i] != want {
			t.Fatalf("latencies %v not sorted", m.Latencies)
		}
	}
}

// TestFloor measures every operation and computes each path's floor from
// them.
func TestFloor(t *testing.T) {
	out := &syncBuffer{}
	res, err := runFloor(t.Context(), 20*time.Millisecond, filepath.Join(t.TempDir(), "floor.json"), out)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range floorOps {
		if res.PerOpUs[op] <= 0 {
			t.Errorf("%s: %v µs", op, res.PerOpUs[op])
		}
	}
	if e, p, h := res.PathsUs["direct enrollment"], res.PathsUs["enrollment protocol"], res.PathsUs["TLS full handshake"]; e <= p || p <= h || h <= res.PathsUs["TLS resumption"] {
		t.Errorf("floors not ordered: %v\n%s", res.PathsUs, out)
	}
	if err := run(t.Context(), []string{"floor", "-duration", "0s"}, out); !errors.Is(err, errUsage) {
		t.Errorf("floor -duration 0s: %v", err)
	}
}

// TestLoadSplitEnrollment: with -split-enroll every device's profile is
// fetched in one measured phase and the enrollment protocol (SCEP,
// Authenticate, TokenUpdate) runs in the next, and the devices enrolled
// that way answer their commands; a server holding users to fewer open
// enrollments than devices is reported with the flag that lifts it.
func TestLoadSplitEnrollment(t *testing.T) {
	t.Parallel()
	ts := startServerArgs(t, "-allow-simulators", "-max-open-enrollments", "-1")
	report := filepath.Join(t.TempDir(), "load.json")
	cfg := loadConfig{commonFlags: ts.flags("alice"), devices: 3, concurrency: 2, duration: 200 * time.Millisecond,
		maxRequests: 1_000_000, progress: time.Minute, refreshRate: 1, split: true, drain: true, jsonOut: report, serverPID: os.Getpid()}
	out := &syncBuffer{}
	if _, err := runLoad(t.Context(), cfg, out); err != nil {
		t.Fatalf("load: %v\n%s", err, out)
	}
	r, _ := readReport(t, report)
	if r.Profile.Requests != 3 || r.Profile.Errors != 0 || r.Enroll.Requests != 3 || r.Enroll.Errors != 0 || r.DrainCommands < 3 || r.Drain.Errors != 0 {
		t.Errorf("profiles %+v, enrollments %+v, %d commands drained", r.Profile, r.Enroll, r.DrainCommands)
	}

	limited := startServer(t) // 10 open enrollments per user
	cfg = loadConfig{commonFlags: limited.flags("alice"), devices: 11, concurrency: 4, duration: 100 * time.Millisecond,
		maxRequests: 1_000_000, progress: time.Minute, refreshRate: 1, split: true}
	out = &syncBuffer{}
	if _, err := runLoad(t.Context(), cfg, out); err == nil || !strings.Contains(err.Error(), "-max-open-enrollments -1") {
		t.Errorf("split enrollment past the open-enrollment limit: %v", err)
	}
}

// readReport reads a load run's JSON report, and returns it decoded and as
// read.
func readReport(t *testing.T, path string) (loadReport, []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r loadReport
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("report: %v\n%s", err, data)
	}
	return r, data
}
