package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// clientFrom is a client of the test's proxy (or server) connecting from
// the loopback address ip, trusting the development CA in dir.
func clientFrom(t *testing.T, dir, ip string) *http.Client {
	t.Helper()
	c := trustingClient(t, dir, nil)
	tr := c.Transport.(*http.Transport)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	tr.DialContext = d.DialContext
	return c
}

// signInAs sends one sign-in to base with password and, when xff is not
// empty, a client's own X-Forwarded-For; it returns the status.
func signInAs(t *testing.T, c *http.Client, base, user, password, xff string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"site": "demo", "username": user, "password": password})
	req, err := http.NewRequestWithContext(t.Context(), "POST", base+"/api/agent/auth/signin", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body) //nolint:errcheck // only the status counts
	resp.Body.Close()
	return resp.StatusCode
}

// failUntilThrottled sends wrong passwords for user until the sign-in
// throttle answers 429, and fails the test if it never does; xff(i) is
// the i-th attempt's own X-Forwarded-For.
func failUntilThrottled(t *testing.T, c *http.Client, base, user string, xff func(i int) string) {
	t.Helper()
	for i := range 20 {
		switch st := signInAs(t, c, base, user, "wrong password", xff(i)); st {
		case http.StatusTooManyRequests:
			return
		case http.StatusUnauthorized:
		default:
			t.Fatalf("wrong password, attempt %d = %d", i, st)
		}
	}
	t.Fatalf("20 wrong passwords for %s were never throttled", user)
}

// TestForwardedForThrottles: behind a proxy that appends X-Forwarded-For
// (ommserver -trusted-proxies -forwarded-for), the sign-in throttle counts
// each client behind the proxy by its own address, so one client guessing
// does not lock the others out; a header a client writes itself, through
// the proxy or straight to the server, names nobody; and denied requests
// are audited with the client's address. Without -forwarded-for the
// clients behind the proxy share one throttle, which is what the flag
// changes. Clients connect from distinct loopback addresses: 127.0.0.3
// and .4 through the proxy, .5 straight to the server; the proxy connects
// from proxyFrom, the only address the server trusts.
func TestForwardedForThrottles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	p := newFrontProxyWith(t, dir, true)
	start := func(extra ...string) *testServer {
		t.Helper()
		args := append([]string{"-postgres", "", "-trusted-proxies", proxyFrom, "-client-cert-header", proxyHeader, "-public-url", p.url()}, extra...)
		ts := startServerArgs(t, dir, args...)
		ts.backend = "http://" + strings.TrimPrefix(ts.base, "https://")
		u := *mustURL(t, ts.backend)
		p.backend.Store(&u)
		ts.base = p.url()
		return ts
	}
	ts := start("-forwarded-for")
	first := parseFirstStart(t, ts.out.String())
	pw := first.passwords["alice"]
	a, b, direct := clientFrom(t, dir, "127.0.0.3"), clientFrom(t, dir, "127.0.0.4"), clientFrom(t, dir, "127.0.0.5")
	none := func(int) string { return "" }

	// Client A guesses alice's password until throttled, also with
	// headers of its own naming other addresses: still throttled.
	failUntilThrottled(t, a, p.url(), "alice", none)
	for i := range 3 {
		if st := signInAs(t, a, p.url(), "alice", "wrong password", fmt.Sprintf("198.51.100.%d", i+1)); st != http.StatusTooManyRequests {
			t.Errorf("client A with its own X-Forwarded-For through the proxy = %d, want 429", st)
		}
	}
	// Client B, behind the same proxy, is not: a wrong password is
	// refused as such, and the right one signs in.
	if st := signInAs(t, b, p.url(), "alice", "wrong password", ""); st != http.StatusUnauthorized {
		t.Errorf("client B's wrong password = %d, want 401 (its own throttle)", st)
	}
	if st := signInAs(t, b, p.url(), "alice", pw, ""); st != http.StatusOK {
		t.Errorf("client B's right password = %d, want 200", st)
	}

	// A client connecting straight to the server is not a trusted proxy:
	// whatever X-Forwarded-For it sends, each attempt counts as its own.
	failUntilThrottled(t, direct, ts.backend, "bob", func(i int) string { return fmt.Sprintf("203.0.113.%d", i+1) })
	if st := signInAs(t, direct, ts.backend, "bob", first.passwords["bob"], "203.0.113.200"); st != http.StatusTooManyRequests {
		t.Errorf("direct client with a fresh forged X-Forwarded-For = %d, want 429", st)
	}

	// A denied request through the proxy is audited with the client's
	// address, one straight to the server with the peer's, not the header.
	for _, c := range []struct {
		client *http.Client
		base   string
	}{{a, p.url()}, {direct, ts.backend}} {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", c.base+"/api/admin/devices", nil)
		req.Header.Set("X-Forwarded-For", "192.0.2.99")
		resp, err := c.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("admin API without a token = %d, want 401", resp.StatusCode)
		}
	}
	w := &world{testServer: ts, first: first}
	var remotes []string
	for _, e := range auditLog(t, w) {
		if e.Action == "http.denied" {
			remotes = append(remotes, e.Details["remote"])
		}
	}
	for _, want := range []string{"127.0.0.3", "127.0.0.5"} {
		if !slices.Contains(remotes, want) {
			t.Errorf("denied requests audited from %q, want one from %s", remotes, want)
		}
	}
	if slices.Contains(remotes, "192.0.2.99") || slices.Contains(remotes, proxyFrom) {
		t.Errorf("denied requests audited from %q: the forged header or the proxy", remotes)
	}
	ts.stop()

	// Without -forwarded-for every client of the proxy is the proxy: A's
	// guesses throttle B too (with a user A has not touched yet).
	start()
	failUntilThrottled(t, a, p.url(), "carol", none)
	if st := signInAs(t, b, p.url(), "carol", "wrong password", ""); st != http.StatusTooManyRequests {
		t.Errorf("without -forwarded-for, client B after A's guesses = %d, want 429 (one throttle for the proxy)", st)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
