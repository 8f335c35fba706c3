package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	out := &syncBuffer{}
	cfg := loadConfig{commonFlags: ts.flags("bob"), devices: 20, concurrency: 5, duration: 3 * time.Second,
		maxRequests: 1_000_000, progress: time.Second, adminToken: ts.adminToken, refreshRate: 20, settle: true}
	res, err := runLoad(t.Context(), cfg, out)
	if err != nil {
		t.Fatalf("load: %v\n%s", err, out)
	}
	if res.Enroll.Requests != 20 || res.Enroll.Errors != 0 || res.CheckIn.Errors != 0 {
		t.Errorf("enrolled %d with %d errors, check-in errors %d", res.Enroll.Requests, res.Enroll.Errors, res.CheckIn.Errors)
	}
	// Every device had its enrollment commands queued: by the end of the
	// settle step they are answered, however few the loaded machine let
	// the timed run reach.
	if res.Commands+res.SettleCommands < 20 || res.CheckIn.Requests == 0 {
		t.Errorf("%d requests, %d command round trips in the run and %d after it", res.CheckIn.Requests, res.Commands, res.SettleCommands)
	}
	// The first refresh is sent whatever the load.
	if res.Refresh.Requests == 0 || res.Refresh.Errors != 0 || len(res.Refreshed) == 0 {
		t.Fatalf("refreshes: %d requests, %d errors", res.Refresh.Requests, res.Refresh.Errors)
	}
	for _, want := range []string{"enrolled 20/20", "summary: 20 devices, concurrency 5", "p50 ", "p90 ", "p99 ", ", 0 errors",
		"queued through the admin API, 0 errors"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	var list struct{ Devices []any }
	if ts.admin(t, "/api/admin/devices", &list); len(list.Devices) != 20 {
		t.Errorf("the server lists %d devices, want 20", len(list.Devices))
	}
	// The first device refreshed answers DeviceInformation twice: at
	// enrollment and after the refresh. The settle step answered what was
	// queued; should a request of the run have been cut short with its
	// command still out, the device checks in again until the answers
	// are there (a condition, not a time: each check-in either answers a
	// command or finds none, which ends the wait).
	id := res.Refreshed[0]
	dev := res.byID[id]
	if dev == nil {
		t.Fatalf("refreshed device %s is not one of the run's", id)
	}
	answered := func() (int, []string) {
		var detail struct {
			Actions []struct {
				RequestType string `json:"request_type"`
				Status      string `json:"status"`
			} `json:"actions"`
		}
		ts.admin(t, "/api/admin/devices/"+id, &detail)
		n, all := 0, []string{}
		for _, a := range detail.Actions {
			if a.RequestType == "DeviceInformation" && a.Status == "Acknowledged" {
				n++
			}
			all = append(all, a.RequestType+":"+a.Status)
		}
		return n, all
	}
	n, actions := answered()
	for n < 2 {
		st, err := dev.poll(t.Context(), 0, nop, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Commands) == 0 {
			break // nothing more to answer
		}
		n, actions = answered()
	}
	if n < 2 {
		t.Errorf("refreshed device answered DeviceInformation %d times; actions %v", n, actions)
	}
}

// TestLoadRequestBudget checks that the run stops at its request budget
// well before its duration.
func TestLoadRequestBudget(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	out := &syncBuffer{}
	cfg := loadConfig{commonFlags: ts.flags("alice"), devices: 3, concurrency: 3, duration: maxDuration,
		maxRequests: 50, progress: time.Minute, refreshRate: 1}
	res, err := runLoad(t.Context(), cfg, out)
	if err != nil {
		t.Fatalf("load: %v\n%s", err, out)
	}
	// Each worker may finish the poll it is in: at most one command
	// drain (the enrollment queue) per device over the budget.
	if res.CheckIn.Requests < 50 || res.CheckIn.Requests > 50+3*20 {
		t.Errorf("%d requests for a budget of 50", res.CheckIn.Requests)
	}
}

func TestRunRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want error
	}{
		{"no subcommand", nil, errUsage},
		{"unknown subcommand", []string{"android"}, errUsage},
		{"other host", []string{"ios", "-server", "https://example.com", "-password", "x"}, errNotLoopback},
		{"private address", []string{"load", "-server", "https://10.0.0.1:8443", "-password", "x"}, errNotLoopback},
		{"plain http", []string{"ios", "-server", "http://127.0.0.1:8443", "-password", "x"}, errUsage},
		{"no password", []string{"ios", "-server", "https://127.0.0.1:8443"}, errUsage},
		{"unknown flag", []string{"ios", "-imei", "1"}, errUsage},
		{"extra argument", []string{"ios", "-password", "x", "more"}, errUsage},
		{"zero devices", []string{"load", "-devices", "0", "-password", "x"}, errUsage},
		{"too many devices", []string{"load", "-devices", "10001", "-password", "x"}, errUsage},
		{"zero concurrency", []string{"load", "-concurrency", "0", "-password", "x"}, errUsage},
		{"endless", []string{"load", "-duration", "1h", "-password", "x"}, errUsage},
		{"no budget", []string{"load", "-max-requests", "0", "-password", "x"}, errUsage},
		{"unknown proof", []string{"ios", "-proof", "none", "-password", "x"}, errUsage},
		{"refresh rate", []string{"load", "-refresh-rate", "-1", "-password", "x"}, errUsage},
		{"inventory without a token", []string{"load", "-inventory", "-drain", "-password", "x"}, errUsage},
		{"inventory without the drain", []string{"load", "-inventory", "-admin-token", "t", "-password", "x"}, errUsage},
		{"unknown delivery", []string{"ios", "-delivery", "dep", "-password", "x"}, errUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			if err := run(t.Context(), tt.args, &out); !errors.Is(err, tt.want) {
				t.Errorf("run(%q) = %v, want %v", tt.args, err, tt.want)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	ms := func(n ...int) []time.Duration {
		d := make([]time.Duration, len(n))
		for i, v := range n {
			d[i] = time.Duration(v) * time.Millisecond
		}
		return d
	}
	tests := []struct {
		lat  []time.Duration
		q    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 99, 7 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 50, 5 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 100, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := (phase{Latencies: tt.lat}).Percentile(tt.q); got != tt.want {
			t.Errorf("p%v of %v = %v, want %v", tt.q, tt.lat, got, tt.want)
		}
	}
}

// TestLoadConnections: with -conn new or resume the devices hold no
// connection to the server between wakes, as phones do (what the memory
// runs of scripts/bench rely on), and every wake is a new handshake: full
// with new, a resumed TLS session with resume; with keepalive each device
// keeps its own connection and makes no handshake after enrolling.
func TestLoadConnections(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{connKeepAlive, connNew, connResume} {
		ts := startServer(t)
		u, err := url.Parse(ts.base)
		if err != nil {
			t.Fatal(err)
		}
		out := &syncBuffer{}
		const devices = 6
		cfg := loadConfig{commonFlags: ts.flags("alice"), devices: devices, concurrency: 2, duration: maxDuration,
			maxRequests: 40, progress: time.Minute, refreshRate: 1, drain: true, conn: mode}
		res, err := runLoad(t.Context(), cfg, out)
		if err != nil {
			t.Fatalf("load: %v\n%s", err, out)
		}
		if res.Enroll.Requests != devices || res.CheckIn.Errors != 0 {
			t.Fatalf("%s: %+v", mode, res)
		}
		hs := res.Handshakes["checkin"]
		switch mode {
		case connKeepAlive:
			if hs.Full+hs.Resumed != 0 {
				t.Errorf("keepalive: check-ins made %s, want none", hs)
			}
		case connNew:
			if hs.Full == 0 || hs.Resumed != 0 {
				t.Errorf("new: check-ins made %s, want full handshakes only", hs)
			}
		case connResume:
			if hs.Resumed == 0 || hs.Full != 0 {
				t.Errorf("resume: check-ins made %s, want resumed sessions only", hs)
			}
		}
		if !strings.Contains(out.String(), "handshakes: checkin") {
			t.Errorf("%s: the summary does not count the handshakes:\n%s", mode, out)
		}
		disconnect := reconnects(mode)
		open := establishedTo(t, u.Port())
		// Closing is asynchronous: wait for the sockets to go (on a loaded
		// machine 5 s was once not enough; the bound only ends a failure).
		for deadline := time.Now().Add(time.Minute); disconnect && open > 0 && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
			open = establishedTo(t, u.Port())
		}
		// The simulator's own API client (sign-in, enrollment requests)
		// closes its connections at the end of the run too.
		if disconnect && open > 0 {
			t.Errorf("-conn %s: %d connections to the server stay open after the run, want none", mode, open)
		}
		if !disconnect && open < devices {
			t.Errorf("-conn %s: %d connections to the server stay open, want at least %d", mode, open, devices)
		}
	}
}

// establishedTo counts the established TCP connections on this machine
// whose remote port is port (the client ends of connections to it).
func establishedTo(t *testing.T, port string) int {
	t.Helper()
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Skipf("no /proc/net/tcp: %v", err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	suffix := fmt.Sprintf(":%04X", p)
	n := 0
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 3 && strings.HasSuffix(f[2], suffix) && f[3] == "01" {
			n++
		}
	}
	return n
}

// TestLoadBehindProxy: with -forward-cert the simulator plays the
// TLS-terminating proxy of a server serving plain HTTP: the devices enroll,
// answer their commands and check in, and no TLS handshake is made.
func TestLoadBehindProxy(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // the server listens there next
	ts := startServerArgs(t, "-allow-simulators", "-listen", addr, "-public-url", "https://"+addr,
		"-trusted-proxies", "127.0.0.1", "-client-cert-header", "X-Client-Cert")
	flags := ts.flags("alice")
	flags.forwardCert = "X-Client-Cert"
	out := &syncBuffer{}
	const devices = 4
	cfg := loadConfig{commonFlags: flags, devices: devices, concurrency: 2, duration: maxDuration,
		maxRequests: 30, progress: time.Minute, refreshRate: 1, drain: true, ceiling: true, conn: connNew}
	res, err := runLoad(t.Context(), cfg, out)
	if err != nil {
		t.Fatalf("load: %v\n%s", err, out)
	}
	if res.Enroll.Requests != devices || res.DrainCommands == 0 || res.CheckIn.Requests == 0 || res.Ceiling.Requests == 0 {
		t.Fatalf("behind a proxy: %+v\n%s", res, out)
	}
	for name, h := range res.Handshakes {
		if h.Full+h.Resumed != 0 {
			t.Errorf("%s: %s over plain HTTP", name, h)
		}
	}
}
