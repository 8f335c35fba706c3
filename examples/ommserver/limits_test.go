package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openomm/omm/android/agent"
	"github.com/openomm/omm/storage/sqlite"
)

// limitsMaxGrowth is how much the server's peak resident memory may grow
// over all hostile requests together.
const limitsMaxGrowth = 50 << 20

// limitsMaxSent bounds what the server may accept of a 1 GB body before it
// answers and drops the connection: the largest body limit (4 MB, command
// results), the 256 KB the HTTP server drains, and the kernel's socket
// buffers on both ends.
const limitsMaxSent = 64 << 20

// TestHostileInputLimits runs the built server as a child process and
// sends every endpoint that reads outside input the classic hostile bodies:
// a 43-byte self-referencing binary plist, a 3-million-level nested XML
// plist, a deeply nested BER blob, a deeply nested JSON value and a 1 GB
// body (declared and chunked, streamed from a generator). Each must be
// refused with a 4xx, the 1 GB bodies before the server has read them, the
// process must keep answering its health check, and its peak memory must
// grow by less than 50 MB over the whole run. The context deadline only
// guards against a hang; nothing here is timed.
func TestHostileInputLimits(t *testing.T) {
	srv := startChildServer(t)
	c := srv.limitsClient(t)
	targets := srv.limitsTargets(t)
	requireEveryBodyRouteCovered(t, targets)

	// Warm up: the first requests size the server's buffers and pools.
	for range 5 {
		srv.healthy(t, c)
	}
	hwm0, rss0 := srv.memory(t)
	check := func(name, method, path string, hdr http.Header, p limitsPayload) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // a hang guard, not a timing assertion
		res, err := c.send(ctx, method, path, hdr, p)
		cancel()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return
		}
		if res.status < 400 || res.status > 499 {
			t.Errorf("%s: status %d, want 4xx: %.200s", name, res.status, res.body)
		}
		if (p.length == 1<<30 || p.length == -1) && res.sent >= limitsMaxSent {
			t.Errorf("%s: the server read %d MB of the 1 GB body before answering", name, res.sent>>20)
		}
		srv.healthy(t, c)
		if hwm, _ := srv.memory(t); hwm-hwm0 >= limitsMaxGrowth {
			t.Fatalf("%s: peak memory grew by %d MB (from %d to %d MB)", name, (hwm-hwm0)>>20, hwm0>>20, hwm>>20)
		}
	}
	for _, tg := range targets {
		for _, p := range limitsPayloads(tg.contentType) {
			check(tg.method+" "+tg.path+" "+p.name, tg.method, tg.path, tg.header, p)
		}
	}
	// BER outside the body: a check-in's signature header and a SCEP
	// message in the query.
	org := string(demoOrg.ID)
	tokenUpdate := limitsTokenUpdate()
	check("PUT checkin with a 10,000-level BER Mdm-Signature", "PUT", "/mdm/"+org+"/checkin",
		http.Header{"Mdm-Signature": {limitsSignature()}},
		limitsPayload{length: int64(len(tokenUpdate)), body: func() io.Reader { return strings.NewReader(tokenUpdate) }})
	check("GET SCEP PKIOperation with a 10,000-level BER message", "GET",
		"/scep/"+org+"?operation=PKIOperation&message="+url.QueryEscape(limitsSignature()), nil, limitsPayload{})
	hwm1, rss1 := srv.memory(t)
	t.Logf("%d endpoints × %d payloads: peak RSS %d → %d MB, RSS %d → %d MB",
		len(targets), len(limitsPayloads("")), hwm0>>20, hwm1>>20, rss0>>20, rss1>>20)
	if hwm1-hwm0 >= limitsMaxGrowth {
		t.Errorf("peak memory grew by %d MB, want < %d MB", (hwm1-hwm0)>>20, limitsMaxGrowth>>20)
	}
	if rss1-rss0 >= limitsMaxGrowth {
		t.Errorf("resident memory grew by %d MB, want < %d MB", (rss1-rss0)>>20, limitsMaxGrowth>>20)
	}
	if srv.exited.Load() {
		t.Fatal("the server process ended")
	}
}

// limitsTarget is an endpoint that reads a request body, with the
// credentials it needs to reach its parser.
type limitsTarget struct {
	method, path string
	header       http.Header
	contentType  string
}

// limitsTargets signs in as every kind of client (admin token, agent
// session, Android agent credential) and lists the endpoints that read a
// body.
func (srv *childServer) limitsTargets(t *testing.T) []limitsTarget {
	t.Helper()
	ts := &testServer{base: srv.base, client: trustingClient(t, srv.dir, nil)}
	first := parseFirstStart(t, srv.out.String())
	if first.adminToken == "" || first.passwords["alice"] == "" {
		t.Fatalf("start-up output lacked the admin token or alice's password:\n%s", srv.out)
	}
	type session struct{ Token string }
	alice := must[session](t, 200)(ts.do(t, "POST", "/api/agent/auth/signin", "",
		map[string]string{"site": "demo", "username": "alice", "password": first.passwords["alice"]})).Token
	alice = must[session](t, 200)(ts.do(t, "POST", "/api/agent/auth/pin", alice, map[string]string{"pin": "4829", "confirm": "4829"})).Token
	facts := deviceFacts{Platform: "android", OSVersion: "9", APILevel: 28, Manufacturer: "Google", Model: "Pixel 3", Ownership: "company"}
	e := must[androidEnrollment](t, 200)(ts.do(t, "POST", "/api/agent/android/enroll", alice, facts))
	android := must[agent.EnrollResponse](t, 200)(ts.do(t, "POST", androidAgentPath+"/enroll", "",
		agent.EnrollRequest{Token: e.Token, Identifier: "android-limits"}))
	groups := must[struct{ Groups []struct{ ID string } }](t, 200)(ts.do(t, "GET", "/api/admin/groups", first.adminToken, nil))
	pols := must[struct{ Policies []policyBody }](t, 200)(ts.do(t, "GET", "/api/admin/policies", first.adminToken, nil))
	apps := must[struct{ Apps []struct{ ID string } }](t, 200)(ts.do(t, "GET", "/api/admin/apps", first.adminToken, nil))
	if len(groups.Groups) == 0 || len(pols.Policies) == 0 || len(apps.Apps) == 0 {
		t.Fatalf("demo data lacks groups, policies or apps: %+v %+v %+v", groups, pols, apps)
	}
	group, pol, app := groups.Groups[0].ID, string(pols.Policies[0].ID), apps.Apps[0].ID

	bearer := func(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }
	portal := http.Header{"Cookie": {sessionCookie + "=" + alice}}
	console := http.Header{"Cookie": {adminCookie + "=" + consoleSignIn(t, ts, srv.dir, first.adminToken)}}
	org := string(demoOrg.ID)
	const (
		plistType = "application/x-apple-aspen-mdm"
		pkiType   = "application/x-pki-message"
		jsonType  = "application/json"
		formType  = "application/x-www-form-urlencoded"
	)
	return []limitsTarget{
		// Devices.
		{"PUT", "/mdm/" + org + "/checkin", nil, plistType},
		{"PUT", "/mdm/" + org + "/server", nil, plistType},
		{"POST", "/enroll/" + org + "/ota?session=limits", nil, pkiType},
		{"POST", "/scep/" + org + "?operation=PKIOperation", nil, pkiType},
		{"POST", androidAgentPath + "/enroll", nil, jsonType},
		{"POST", androidAgentPath + "/status", bearer(android.Credential), jsonType},
		{"POST", androidAgentPath + "/commands/ack", bearer(android.Credential), jsonType},
		{"POST", fakeAMAPIPath + "/enroll", nil, jsonType},
		{"POST", fakeAMAPIPath + "/report", bearer("not-a-device-secret"), jsonType},
		// Agent app: sign-in, then the signed-in user's APIs.
		{"POST", "/api/agent/auth/signin", nil, jsonType},
		{"POST", "/api/agent/auth/mfa/send", bearer(alice), jsonType},
		{"POST", "/api/agent/auth/mfa/verify", bearer(alice), jsonType},
		{"POST", "/api/agent/auth/mfa/totp/enroll", bearer(alice), jsonType},
		{"POST", "/api/agent/auth/mfa/totp/confirm", bearer(alice), jsonType},
		{"POST", "/api/agent/auth/pin", bearer(alice), jsonType},
		{"POST", "/api/agent/auth/pin/verify", bearer(alice), jsonType},
		{"POST", "/api/agent/eligibility", bearer(alice), jsonType},
		{"POST", "/api/agent/enroll", bearer(alice), jsonType},
		{"POST", "/api/agent/android/enroll", bearer(alice), jsonType},
		{"POST", "/api/agent/android/enroll.png", bearer(alice), jsonType},
		{"POST", "/api/agent/store/devices/" + android.DeviceID + "/apps/" + app + "/install", bearer(alice), jsonType},
		{"POST", "/api/agent/store/devices/" + android.DeviceID + "/apps/" + app + "/uninstall", bearer(alice), jsonType},
		// Admin API.
		{"POST", "/api/admin/users", bearer(first.adminToken), jsonType},
		{"POST", "/api/admin/groups", bearer(first.adminToken), jsonType},
		{"POST", "/api/admin/groups/" + group + "/members", bearer(first.adminToken), jsonType},
		{"POST", "/api/admin/policies", bearer(first.adminToken), jsonType},
		{"PUT", "/api/admin/policies/" + pol, bearer(first.adminToken), jsonType},
		{"POST", "/api/admin/apps", bearer(first.adminToken), jsonType},
		{"PUT", "/api/admin/apps/" + app, bearer(first.adminToken), jsonType},
		{"POST", "/api/admin/apps/" + app + "/assignments", bearer(first.adminToken), jsonType},
		{"PUT", "/api/admin/apps/" + app + "/assignments/" + group, bearer(first.adminToken), jsonType},
		{"PUT", "/api/admin/signon", bearer(first.adminToken), jsonType},
		{"POST", "/api/admin/enrollment-profiles", bearer(first.adminToken), jsonType},
		// Web forms: the portal with alice's session, the console with
		// the admin token, as their cookies.
		{"POST", "/signin", nil, formType},
		{"POST", "/signin/mfa", nil, formType},
		{"POST", "/signin/mfa/send", nil, formType},
		{"POST", "/signin/mfa/enroll", nil, formType},
		{"POST", "/signin/mfa/confirm", nil, formType},
		{"POST", "/portal/security/totp", portal, formType},
		{"POST", "/portal/security/totp/confirm", portal, formType},
		{"POST", "/signin/pin", portal, formType},
		{"POST", "/signout", portal, formType},
		{"POST", "/portal/eligibility", portal, formType},
		{"POST", "/portal/enroll", portal, formType},
		{"POST", "/portal/android/enroll", portal, formType},
		{"POST", "/portal/devices/" + android.DeviceID + "/deprovision", portal, formType},
		{"POST", "/portal/devices/" + android.DeviceID + "/erase", portal, formType},
		{"POST", "/portal/devices/" + android.DeviceID + "/store/" + app + "/install", portal, formType},
		{"POST", "/portal/devices/" + android.DeviceID + "/store/" + app + "/uninstall", portal, formType},
		{"POST", "/admin/signin", nil, formType},
		{"POST", "/admin/signout", console, formType},
		{"POST", "/admin/token/rotate", console, formType},
		{"POST", "/admin/devices/" + android.DeviceID + "/lock", console, formType},
		{"POST", "/admin/apps", console, formType},
		{"POST", "/admin/users/no-such-user/deactivate", console, formType},
		{"POST", "/admin/users/no-such-user/mfa/reset", console, formType},
		{"POST", "/admin/groups", console, formType},
		{"POST", "/admin/groups/" + group + "/members", console, formType},
		{"POST", "/admin/groups/" + group + "/members/no-such-user/remove", console, formType},
		{"POST", "/admin/policies", console, formType},
		{"POST", "/admin/policies/" + pol, console, formType},
		{"POST", "/admin/policies/" + pol + "/delete", console, formType},
		{"POST", "/admin/signon", console, formType},
		{"POST", "/admin/apps/" + app + "/assignments", console, formType},
		{"POST", "/admin/apps/" + app + "/unassign", console, formType},
	}
}

// limitsNoBody lists the patterns with a method that may carry a body but
// whose handlers never read one: a body sent there is ignored unread.
var limitsNoBody = map[string]bool{
	"POST /api/admin/users/{id}/deactivate":           true,
	"POST /api/admin/users/{id}/mfa/reset":            true,
	"DELETE /api/admin/groups/{id}/members/{user}":    true,
	"DELETE /api/admin/policies/{id}":                 true,
	"DELETE /api/admin/enrollment-profiles/{id}":      true,
	"POST /api/admin/devices/{id}/{action}":           true,
	"POST /api/admin/devices/refresh":                 true,
	"POST /api/agent/devices/{id}/deprovision":        true,
	"POST /api/agent/devices/{id}/erase":              true,
	"POST /api/agent/android/devices/{id}/credential": true,
	"/api/admin/": true, // the JSON 404 for unknown admin routes
}

// requireEveryBodyRouteCovered fails when the server has a route that may
// take a body and is neither among targets nor known to read none: a new
// route must be added to one of the two lists.
func requireEveryBodyRouteCovered(t *testing.T, targets []limitsTarget) {
	t.Helper()
	dir := t.TempDir()
	s, err := sqlite.Open(t.Context(), filepath.Join(dir, "omm.db"), sqlite.WithLogger(discardLog()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv, err := newServer(t.Context(), s, config{dataDir: dir}, serverDeps{log: discardLog(), now: time.Now,
		push: pushSetup{topic: defaultTopic}, publicURL: "https://127.0.0.1:8443"})
	if err != nil {
		t.Fatal(err)
	}
	mux := srv.router()
	covered := map[string]bool{}
	for _, tg := range targets {
		r, err := http.NewRequest(tg.method, "https://127.0.0.1"+tg.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, pattern := mux.Handler(r)
		covered[pattern] = true
	}
	for _, p := range mux.patterns {
		if strings.HasPrefix(p, "GET ") || covered[p] || limitsNoBody[p] {
			continue
		}
		t.Errorf("route %q may take a body but has no limits target (or limitsNoBody entry)", p)
	}
}

// limitsPayload is one hostile body, produced on demand so that the test
// never holds it in memory.
type limitsPayload struct {
	name string
	// length is the declared Content-Length; -1 sends the body chunked.
	length int64
	body   func() io.Reader
	header http.Header
}

// limitsPayloads returns the hostile bodies, labelled with contentType.
func limitsPayloads(contentType string) []limitsPayload {
	const xmlHead = `<?xml version="1.0" encoding="UTF-8"?><plist version="1.0">`
	nested := func(name, head, open, close, tail string, depth int64) limitsPayload {
		return limitsPayload{name: name, length: int64(len(head)+len(tail)) + depth*int64(len(open)+len(close)), body: func() io.Reader {
			return io.MultiReader(strings.NewReader(head), repeat(open, depth), repeat(close, depth), strings.NewReader(tail))
		}}
	}
	self := selfReferencingBplist()
	ps := []limitsPayload{
		{name: "43-byte self-referencing binary plist", length: int64(len(self)), body: func() io.Reader { return bytes.NewReader(self) }},
		nested("3-million-level XML plist", xmlHead, "<array>", "</array>", "</plist>", 3_000_000),
		// Within every body limit, so that the nesting limit answers.
		nested("4,000-level XML plist", xmlHead, "<array>", "</array>", "</plist>", 4000),
		// Constructed SEQUENCEs of indefinite length, each closed by an
		// end-of-contents marker.
		nested("million-level BER", "", "\x30\x80", "\x00\x00", "", 1_000_000),
		nested("10,000-level BER", "", "\x30\x80", "\x00\x00", "", 10_000),
		nested("30,000-level JSON", "", "[", "]", "", 30_000),
		{name: "1 GB body", length: 1 << 30, body: func() io.Reader { return repeat("a", 1<<30) }},
		{name: "1 GB chunked body", length: -1, body: func() io.Reader { return repeat("a", 1<<30) }},
	}
	for i := range ps {
		ps[i].header = http.Header{"Content-Type": {contentType}}
	}
	return ps
}

// selfReferencingBplist is a binary plist whose only object is an array
// holding itself: 8 bytes of magic, the array, its one-entry offset table
// and the 32-byte trailer.
func selfReferencingBplist() []byte {
	b := []byte("bplist00")
	b = append(b, 0xA1, 0x00) // array of one element: object 0, i.e. itself
	b = append(b, 0x08)       // offset table: object 0 starts at byte 8
	var trailer [32]byte
	trailer[6] = 1                                // offset size
	trailer[7] = 1                                // object reference size
	binary.BigEndian.PutUint64(trailer[8:], 1)    // number of objects
	binary.BigEndian.PutUint64(trailer[16:], 0)   // top object
	binary.BigEndian.PutUint64(trailer[24:], 8+2) // offset table offset
	return append(b, trailer[:]...)
}

// repeat is a reader of unit repeated count times, generated as read.
func repeat(unit string, count int64) io.Reader {
	block := strings.Repeat(unit, max(1, 32<<10/len(unit)))
	return &repeater{block: block, left: count * int64(len(unit))}
}

type repeater struct {
	block string
	left  int64 // bytes still to produce
	off   int
}

func (r *repeater) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.block[r.off:])
		n += c
		r.off = (r.off + c) % len(r.block)
	}
	r.left -= int64(n)
	return n, nil
}

// limitsClient speaks HTTP/1.1 over its own TLS connections so that it can
// read the answer while the body is still being sent, and count how much
// of the body the server took.
type limitsClient struct {
	base string
	tls  *tls.Config
}

type limitsResult struct {
	status int
	body   []byte
	sent   int64 // body bytes written before the connection ended
}

func (srv *childServer) limitsClient(t *testing.T) *limitsClient {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(srv.dir, "tls", caFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("no CA certificate in the data directory")
	}
	return &limitsClient{base: srv.base, tls: &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}}}
}

// send sends p and returns the answer once it has arrived, stopping the
// body there.
func (c *limitsClient) send(ctx context.Context, method, path string, hdr http.Header, p limitsPayload) (limitsResult, error) {
	u, err := url.Parse(c.base + path)
	if err != nil {
		return limitsResult{}, err
	}
	d := tls.Dialer{Config: c.tls}
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return limitsResult{}, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()

	var body io.Reader = http.NoBody
	if p.body != nil {
		body = p.body()
	}
	req, err := http.NewRequest(method, u.String(), io.NopCloser(body))
	if err != nil {
		return limitsResult{}, err
	}
	req.ContentLength = p.length
	for k, v := range p.header {
		req.Header[k] = v
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	cw := &countingWriter{w: conn}
	written := make(chan struct{})
	go func() {
		defer close(written)
		req.Write(cw) //nolint:errcheck // ends when the server drops the connection
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		conn.Close()
		<-written
		return limitsResult{sent: cw.n.Load()}, fmt.Errorf("no answer after %d body bytes: %w", cw.n.Load(), err)
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	conn.Close()
	<-written
	return limitsResult{status: resp.StatusCode, body: data, sent: cw.n.Load()}, nil
}

type countingWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// childServer is ommserver running as a child process, so that its
// memory can be read from /proc.
type childServer struct {
	base, dir string
	pid       int
	out       *syncBuffer
	exited    atomic.Bool
}

var childReady = regexp.MustCompile(`(?m)^ommserver ready on (https://\S+) `)

// startChildServer builds ommserver and runs it on a free loopback port
// with SQLite in a temporary directory, stopping it when the test ends.
func startChildServer(t *testing.T) *childServer {
	t.Helper()
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "ommserver")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/openomm/omm/examples/ommserver").CombinedOutput(); err != nil {
		t.Fatalf("building ommserver: %v\n%s", err, out)
	}
	srv := &childServer{dir: filepath.Join(tmp, "data"), out: &syncBuffer{}}
	cmd := exec.Command(bin, "-data", srv.dir, "-listen", "127.0.0.1:0", "-postgres", "")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OMM_") { // the flags decide, not the caller's environment
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stdout = srv.out
	cmd.Stderr = srv.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	srv.pid = cmd.Process.Pid
	done := make(chan struct{})
	go func() {
		cmd.Wait() //nolint:errcheck // the exit is what matters
		srv.exited.Store(true)
		close(done)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	// Wait for the last start-up line; the deadline is a hang guard.
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(srv.out.String(), "portal: ") {
		if srv.exited.Load() || time.Now().After(deadline) {
			t.Fatalf("ommserver did not start:\n%s", srv.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	m := childReady.FindStringSubmatch(srv.out.String())
	if m == nil {
		t.Fatalf("no address in the start-up output:\n%s", srv.out)
	}
	srv.base = m[1]
	return srv
}

// healthy fails the test unless the server answers its health check.
func (srv *childServer) healthy(t *testing.T, c *limitsClient) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	res, err := c.send(ctx, "GET", "/healthz", nil, limitsPayload{})
	if err != nil || res.status != http.StatusOK {
		t.Fatalf("health check = %d, %v (server exited: %v)\n%s", res.status, err, srv.exited.Load(), srv.out)
	}
}

// memory returns the process's peak and current resident set sizes.
func (srv *childServer) memory(t *testing.T) (hwm, rss int64) {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", srv.pid))
	if err != nil {
		t.Fatal(err)
	}
	field := func(name string) int64 {
		for line := range strings.Lines(string(data)) {
			if rest, ok := strings.CutPrefix(line, name+":"); ok {
				kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				if err != nil {
					t.Fatalf("%s: %q: %v", name, line, err)
				}
				return kb << 10
			}
		}
		t.Fatalf("no %s in /proc/%d/status", name, srv.pid)
		return 0
	}
	return field("VmHWM"), field("VmRSS")
}

// limitsSignature is an Mdm-Signature header holding a deeply nested BER
// blob, for the check-in endpoint's signature parser.
func limitsSignature() string {
	var b bytes.Buffer
	io.Copy(&b, io.MultiReader(repeat("\x30\x80", 10_000), repeat("\x00\x00", 10_000))) //nolint:errcheck // in memory
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

// limitsTokenUpdate is a well-formed TokenUpdate, so that check-in goes on
// to the signature.
func limitsTokenUpdate() string {
	return `<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict>` +
		`<key>MessageType</key><string>TokenUpdate</string><key>Topic</key><string>com.apple.mgmt.limits</string>` +
		`<key>UDID</key><string>LIMITS-UDID</string><key>PushMagic</key><string>magic</string>` +
		`<key>Token</key><data>dG9rZW4=</data></dict></plist>`
}
