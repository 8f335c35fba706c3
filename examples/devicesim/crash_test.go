package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite" // PRAGMA integrity_check on the server's database

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/events"
)

// The crash tests' size: CI runs the defaults (2 rounds of 50 devices),
// scripts/crashtest the full 20 rounds of 200.
var (
	crashRounds  = flag.Int("crash.rounds", 2, "crash test: rounds (server killed once per round)")
	crashDevices = flag.Int("crash.devices", 50, "crash test: concurrent simulated devices per round")
	crashSeed    = flag.Uint64("crash.seed", 0, "crash test: seed of the kill points (0: random, logged)")
)

// TestCrashSQLite kills the server (SIGKILL) at a random point while
// -crash.devices simulated iPhones enroll, check in, answer commands and
// install an app from the store, then restarts it on the same SQLite
// database, round after round. After each crash: the database passes
// PRAGMA integrity_check; every enrollment the server acknowledged is
// there, enrolled; every command result it acknowledged is recorded; once
// each device has drained its queue no command is left undelivered, every
// command answered was received and executed once by its device and
// recorded once (one result event), every other one ended with a reason
// (exactlyOnce), and every install the catalog recorded has its command
// queued. The devices behave as phones do: a result whose sending failed
// opens the next connection, and a command delivered again is answered
// without running it again.
func TestCrashSQLite(t *testing.T) {
	h := newCrashHarness(t, "-postgres", "")
	h.db = func(t *testing.T) *sql.DB {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(h.dir, "omm.db")+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	for round := range *crashRounds {
		h.round(t, round, func() {
			h.srv.kill(t)
			h.integrityCheck(t)
			h.start(t)
		})
		if t.Failed() {
			return
		}
	}
}

// crashHarness is a server's data directory and port, kept across
// restarts, and what the first start printed.
type crashHarness struct {
	bin, dir, addr string
	args           []string // storage flags
	srv            *crashServer
	adminToken     string
	rng            *mrand.Rand
	keys           []*rsa.PrivateKey
	db             func(t *testing.T) *sql.DB // the server's database, for the checks
	group, app     string                     // Employees group, the in-house demo app
	// settle, when set, runs after the devices drained their queues and
	// before the checks: for work the servers still do in the background.
	settle func(t *testing.T, round int, acked []*crashDevice)

	// The server is killed once it has acknowledged target operations
	// (enrollments, command results, check-ins, installs) in the round:
	// kill points spread over the whole workload however fast it runs.
	acks   atomic.Int64
	target int64
	hit    chan struct{}
}

// ack counts an operation the server acknowledged.
func (h *crashHarness) ack() {
	if h.acks.Add(1) == h.target {
		close(h.hit)
	}
}

// newCrashHarness starts the server for the first time with the storage
// flags given; the caller sets db.
func newCrashHarness(t *testing.T, storage ...string) *crashHarness {
	t.Helper()
	h := newHarness(t, filepath.Join(t.TempDir(), "data"), freeAddr(t), storage)
	h.setUp(t, h.start(t))
	return h
}

// newHarness is a harness for servers with data in dir reached at addr:
// the binary, the kill points' generator and the device keys.
func newHarness(t *testing.T, dir, addr string, storage []string) *crashHarness {
	t.Helper()
	bin, err := serverBinary()
	if err != nil {
		t.Fatal(err)
	}
	seed := *crashSeed
	if seed == 0 {
		seed = mrand.Uint64()
	}
	t.Logf("kill points from -crash.seed=%d", seed)
	h := &crashHarness{bin: bin, dir: dir, addr: addr, rng: mrand.New(mrand.NewPCG(seed, seed)), args: storage}
	// Device keys are the simulator's cost, not the server's: a few,
	// reused by every device.
	for range 8 {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		h.keys = append(h.keys, k)
	}
	return h
}

// setUp reads the admin token from the first start's output and finds the
// demo data the rounds use.
func (h *crashHarness) setUp(t *testing.T, out string) {
	t.Helper()
	if m := crashToken.FindStringSubmatch(out); m != nil {
		h.adminToken = m[1]
	}
	if h.adminToken == "" {
		t.Fatalf("no admin token in the first start's output:\n%s", out)
	}
	a := h.api(t)
	var groups struct{ Groups []struct{ ID, Name string } }
	var apps struct {
		Apps []struct {
			ID         string `json:"id"`
			Identifier string `json:"identifier"`
		}
	}
	if err := a.call(t.Context(), "GET", "/api/admin/groups", h.adminToken, nil, &groups); err != nil {
		t.Fatal(err)
	}
	if err := a.call(t.Context(), "GET", "/api/admin/apps", h.adminToken, nil, &apps); err != nil {
		t.Fatal(err)
	}
	for _, g := range groups.Groups {
		if g.Name == "Employees" {
			h.group = g.ID
		}
	}
	for _, app := range apps.Apps {
		if app.Identifier == "com.example.demo.expenses" {
			h.app = app.ID
		}
	}
	if h.group == "" || h.app == "" {
		t.Fatalf("demo data lacks the Employees group or the in-house app: %+v %+v", groups, apps)
	}
}

// start runs the server on the harness's address and data, returning its
// start-up output.
func (h *crashHarness) start(t *testing.T) string {
	t.Helper()
	// Each kill abandons the enrollments in flight, which stay open until
	// they expire: no per-user limit, or later rounds would wait on them.
	h.srv = startCrashServer(t, h.bin, append([]string{"-data", h.dir, "-listen", h.addr, "-allow-simulators", "-max-open-enrollments", "-1"}, h.args...))
	return h.srv.out.String()
}

func (h *crashHarness) api(t *testing.T) *api {
	t.Helper()
	a, err := newAPI("https://"+h.addr, filepath.Join(h.dir, "tls", "dev-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// crashDevice is a simulated device and what the server acknowledged to it.
type crashDevice struct {
	*device
	id string // the server's device ID, once looked up

	mu        sync.Mutex
	delivered map[string]int    // command UUID → times the device received it
	executed  map[string]int    // command UUID → times the device executed it
	results   map[string]string // command UUID → result status the server took
	installed bool              // the server accepted the store install
	lastPoll  time.Time         // when the server last answered that nothing is queued
	ack       func()
}

// round runs the devices of one round against the server and calls crash
// at a random point; then it drains every acknowledged device and checks
// what survived. It returns the devices whose enrollment was acknowledged.
func (h *crashHarness) round(t *testing.T, round int, crash func()) []*crashDevice {
	a := h.api(t)
	pool := &keyPool{bits: 2048}
	for i := range *crashDevices {
		pool.keys = append(pool.keys, h.keys[i%len(h.keys)])
	}
	a.keys = pool

	// A user of its own per round keeps each user's device list short.
	user := fmt.Sprintf("crash%d", round)
	password := rand.Text()
	var u struct{ ID string }
	if err := a.call(t.Context(), "POST", "/api/admin/users", h.adminToken,
		map[string]string{"username": user, "display_name": "Crash " + user, "password": password}, &u); err != nil {
		t.Fatalf("creating %s: %v", user, err)
	}
	if err := a.call(t.Context(), "POST", "/api/admin/groups/"+h.group+"/members", h.adminToken,
		map[string]string{"user_id": u.ID}, nil); err != nil {
		t.Fatal(err)
	}
	token, err := a.signIn(t.Context(), account{Site: "demo", User: user, Password: password, PIN: "482916"}, nop)
	if err != nil {
		t.Fatal(err)
	}

	// Each device enrolls, answers about 8 commands, installs an app and
	// answers its commands, then checks in now and then: about 12
	// acknowledged operations per device before it idles.
	start := time.Now()
	h.acks.Store(0)
	h.target = 1 + h.rng.Int64N(int64(*crashDevices)*12)
	h.hit = make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	var mu sync.Mutex
	var acked []*crashDevice
	var wg sync.WaitGroup
	for range *crashDevices {
		wg.Go(func() {
			d, err := enrollOne(ctx, a, token)
			if err != nil {
				return // not acknowledged: nothing to check
			}
			h.ack()
			cd := &crashDevice{device: d, delivered: map[string]int{}, executed: map[string]int{}, results: map[string]string{}, ack: h.ack}
			mu.Lock()
			acked = append(acked, cd)
			mu.Unlock()
			h.deviceLife(ctx, a, token, cd)
		})
	}
	select {
	case <-h.hit:
	case <-t.Context().Done():
	}
	crash()
	cancel()
	wg.Wait()
	killed := time.Since(start)

	// The devices drain their queues against the restarted server.
	for _, cd := range acked {
		cd.ack = nil
	}
	a = h.api(t)
	drainCtx, stop := context.WithTimeout(t.Context(), 5*time.Minute) // a hang guard
	defer stop()
	var dwg sync.WaitGroup
	sem := make(chan struct{}, 20)
	for _, cd := range acked {
		dwg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			cd.client.CloseIdleConnections()
			// A device retries a failed check-in, as a real one does: the
			// first requests may meet connections the crash broke.
			var err error
			for try := 0; try < 5; try++ {
				if err = crashPoll(drainCtx, cd); err == nil {
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
			t.Errorf("round %d: device %s after the crash: %v", round, cd.Serial, err)
		})
	}
	dwg.Wait()
	if h.settle != nil {
		h.settle(t, round, acked)
	}
	drained := time.Since(start)
	h.check(t, a, round, acked)
	t.Logf("round %d: killed after %d acknowledged operations (%v); %d devices enrolled, drained (%v) and checked (%v)",
		round, h.target, killed.Round(time.Millisecond), len(acked), drained.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	return acked
}

// deviceLife is an enrolled device's routine until the server dies:
// answer the enrollment's commands, install an app from the store, answer
// that, then check in now and then.
func (h *crashHarness) deviceLife(ctx context.Context, a *api, token string, cd *crashDevice) {
	if crashPoll(ctx, cd) != nil {
		return
	}
	var list struct {
		Devices []struct {
			ID           string `json:"id"`
			SerialNumber string `json:"serial_number"`
		}
	}
	if a.call(ctx, "GET", "/api/agent/devices", token, nil, &list) != nil {
		return
	}
	for _, d := range list.Devices {
		if d.SerialNumber == cd.Serial {
			cd.id = d.ID
		}
	}
	if cd.id == "" {
		return
	}
	if a.call(ctx, "POST", "/api/agent/store/devices/"+cd.id+"/apps/"+h.app+"/install", token, nil, nil) != nil {
		return
	}
	cd.mu.Lock()
	cd.installed = true
	cd.mu.Unlock()
	cd.ack()
	for crashPoll(ctx, cd) == nil {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(500+mrand.IntN(1000)) * time.Millisecond):
		}
	}
}

// crashPoll checks in and answers commands until the server has none
// left, as a phone does: a result whose sending failed opens the next
// connection (device.send), and a command delivered again after it was
// executed is answered without running it again (device.execute). It
// counts the deliveries the device received, the commands it executed and
// the results the server took.
func crashPoll(ctx context.Context, cd *crashDevice) error {
	msg := cd.opening()
	for {
		reply, err := cd.send(ctx, msg)
		if err != nil {
			return err
		}
		if cd.ack != nil {
			cd.ack()
		}
		cd.mu.Lock()
		if uuid, ok := msg["CommandUUID"].(string); ok {
			cd.results[uuid], _ = msg["Status"].(string)
		}
		cd.mu.Unlock()
		if len(strings.TrimSpace(string(reply))) == 0 {
			cd.mu.Lock()
			cd.lastPoll = time.Now()
			cd.mu.Unlock()
			return nil
		}
		cmd, err := decodeCommand(reply)
		if err != nil {
			return err
		}
		var ran bool
		msg, _, ran = cd.execute(cmd)
		cd.mu.Lock()
		cd.delivered[cmd.UUID]++
		if ran {
			cd.executed[cmd.UUID]++
		}
		cd.mu.Unlock()
	}
}

// check compares what the server holds with what it acknowledged.
func (h *crashHarness) check(t *testing.T, a *api, round int, acked []*crashDevice) {
	t.Helper()
	ctx := t.Context()
	// Every acknowledged enrollment is there and enrolled.
	type listed struct {
		ID           string `json:"id"`
		SerialNumber string `json:"serial_number"`
		State        string `json:"state"`
	}
	bySerial := map[string]listed{}
	after := ""
	for {
		var page struct {
			Devices []listed
			Next    string
		}
		if err := a.call(ctx, "GET", "/api/admin/devices?after="+url.QueryEscape(after), h.adminToken, nil, &page); err != nil {
			t.Fatal(err)
		}
		for _, d := range page.Devices {
			bySerial[d.SerialNumber] = d
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	for _, cd := range acked {
		d, ok := bySerial[cd.Serial]
		if !ok {
			t.Errorf("round %d: acknowledged enrollment of %s is missing", round, cd.Serial)
			continue
		}
		if d.State != "enrolled" {
			t.Errorf("round %d: device %s is %q, want enrolled", round, cd.Serial, d.State)
		}
		var detail struct {
			Actions []struct {
				UUID        string `json:"uuid"`
				RequestType string `json:"request_type"`
				Status      string `json:"status"`
				Pending     bool   `json:"pending"`
			} `json:"actions"`
		}
		if err := a.call(ctx, "GET", "/api/admin/devices/"+d.ID, h.adminToken, nil, &detail); err != nil {
			t.Fatal(err)
		}
		status := map[string]string{}
		installs := 0
		for _, act := range detail.Actions {
			status[act.UUID] = act.Status
			if act.Pending {
				t.Errorf("round %d: device %s: command %s (%s) is still %s after the device drained its queue: lost",
					round, cd.Serial, act.UUID, act.RequestType, act.Status)
			}
			if act.RequestType == "InstallApplication" {
				installs++
			}
		}
		cd.mu.Lock()
		for uuid, want := range cd.results {
			if got := status[uuid]; got != want {
				t.Errorf("round %d: device %s: acknowledged result %s of %s is stored as %q", round, cd.Serial, want, uuid, got)
			}
		}
		// The enrollment's auto-install and the store install.
		if cd.installed && installs < 2 {
			t.Errorf("round %d: device %s: the store install was acknowledged, but the device has %d InstallApplication commands",
				round, cd.Serial, installs)
		}
		cd.mu.Unlock()
	}
	h.exactlyOnce(t, round, acked)
	h.orphanInstalls(t, round)
	h.seqsWithoutGaps(t, round)
}

// exactlyOnce checks each command queued for the round's devices against
// what the devices did: a command answered in the store was executed once
// by its device, which received it once, and has one result event and no
// expiry; a command not answered was ended with a reason (expired or
// abandoned), one expiry event, and no result event. A command the
// server handed out while the replica died before the device read it is
// handed out again: the device still receives and executes it once.
func (h *crashHarness) exactlyOnce(t *testing.T, round int, acked []*crashDevice) {
	t.Helper()
	db := h.db(t)
	defer db.Close()
	ctx := t.Context()
	bySerial := map[string]*crashDevice{}
	for _, cd := range acked {
		bySerial[cd.Serial] = cd
	}
	type stored struct{ serial, requestType, status, detail string }
	commands := map[string]stored{} // by UUID (one device each: the round's commands are per device)
	perDevice := map[string]map[string]bool{}
	rows, err := db.QueryContext(ctx, `SELECT d.serial_number, q.uuid, c.request_type, q.status, q.detail FROM omm_enroll_queue q
		JOIN omm_enroll_commands c ON c.org_id = q.org_id AND c.uuid = q.uuid
		JOIN omm_devices d ON d.org_id = q.org_id AND d.id = q.device`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c stored
		var uuid string
		if err := rows.Scan(&c.serial, &uuid, &c.requestType, &c.status, &c.detail); err != nil {
			t.Fatal(err)
		}
		if bySerial[c.serial] == nil {
			continue
		}
		commands[c.serial+" "+uuid] = c
		if perDevice[c.serial] == nil {
			perDevice[c.serial] = map[string]bool{}
		}
		perDevice[c.serial][uuid] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	// The events of commands' results and expiries, per device and UUID.
	resultEvents, expiryEvents := map[string]int{}, map[string]int{}
	rows, err = db.QueryContext(ctx, `SELECT d.serial_number, e.kind, e.data FROM omm_events e
		JOIN omm_devices d ON d.org_id = e.org_id AND d.id = e.device_id
		WHERE e.kind IN ('`+string(events.CommandAcknowledged)+`', '`+string(events.CommandError)+`', '`+
		string(events.CommandNotNow)+`', '`+string(events.CommandExpired)+`')`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var serial, kind, data string
		if err := rows.Scan(&serial, &kind, &data); err != nil {
			t.Fatal(err)
		}
		if bySerial[serial] == nil {
			continue
		}
		var d struct {
			UUID string `json:"uuid"`
		}
		if err := json.Unmarshal([]byte(data), &d); err != nil {
			t.Fatalf("event data %q: %v", data, err)
		}
		if events.Kind(kind) == events.CommandExpired {
			expiryEvents[serial+" "+d.UUID]++
		} else {
			resultEvents[serial+" "+d.UUID]++
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()

	answered, ended := 0, 0
	for key, c := range commands {
		cd := bySerial[c.serial]
		uuid := strings.TrimPrefix(key, c.serial+" ")
		cd.mu.Lock()
		executed, delivered := cd.executed[uuid], cd.delivered[uuid]
		cd.mu.Unlock()
		switch enroll.CommandStatus(c.status) {
		case enroll.StatusAcknowledged, enroll.StatusError, enroll.StatusFormatError:
			answered++
			if executed != 1 || delivered != 1 {
				t.Errorf("round %d: device %s: command %s (%s) is %s, executed %d times, received %d times: want once",
					round, c.serial, uuid, c.requestType, c.status, executed, delivered)
			}
			if n := resultEvents[key]; n != 1 || expiryEvents[key] != 0 {
				t.Errorf("round %d: device %s: command %s (%s) is %s with %d result events and %d expiry events: want 1 and 0",
					round, c.serial, uuid, c.requestType, c.status, n, expiryEvents[key])
			}
		case enroll.StatusAbandoned:
			ended++
			if c.detail == "" || expiryEvents[key] != 1 || resultEvents[key] != 0 {
				t.Errorf("round %d: device %s: command %s (%s) ended with reason %q, %d expiry events, %d result events: want a reason, 1 and 0",
					round, c.serial, uuid, c.requestType, c.detail, expiryEvents[key], resultEvents[key])
			}
			if executed > 1 {
				t.Errorf("round %d: device %s: ended command %s (%s) executed %d times", round, c.serial, uuid, c.requestType, executed)
			}
		default:
			// Still pending after the device drained its queue: check
			// reports it as lost.
		}
	}
	for _, cd := range acked {
		cd.mu.Lock()
		for uuid, n := range cd.executed {
			if !perDevice[cd.Serial][uuid] {
				t.Errorf("round %d: device %s executed command %s (%d times), which the server has not queued for it", round, cd.Serial, uuid, n)
			}
		}
		cd.mu.Unlock()
	}
	t.Logf("round %d: %d commands answered, %d ended unanswered with a reason", round, answered, ended)
}

// seqsWithoutGaps fails for an org whose audit entries or events are not
// numbered 1 by 1: a number handed out twice, or one skipped by a writer
// that died (or was rolled back) after taking it.
func (h *crashHarness) seqsWithoutGaps(t *testing.T, round int) {
	t.Helper()
	db := h.db(t)
	defer db.Close()
	for _, table := range []string{"omm_audit_log", "omm_events"} {
		rows, err := db.QueryContext(t.Context(), `SELECT org_id, count(*), count(DISTINCT seq), min(seq), max(seq) FROM `+table+`
			GROUP BY org_id HAVING count(*) <> count(DISTINCT seq) OR max(seq) - min(seq) + 1 <> count(*)`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var org string
			var n, distinct, lo, hi int64
			if err := rows.Scan(&org, &n, &distinct, &lo, &hi); err != nil {
				t.Fatal(err)
			}
			t.Errorf("round %d: %s of org %s: %d rows, %d numbers, %d to %d: duplicates or gaps", round, table, org, n, distinct, lo, hi)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// orphanInstalls fails for a catalog install record waiting for a command
// that is not in the queue: the device would never get it, and the store
// would show the app installing forever.
func (h *crashHarness) orphanInstalls(t *testing.T, round int) {
	t.Helper()
	db := h.db(t)
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), `SELECT i.device_id, i.app_id, i.command FROM omm_catalog_installs i
		WHERE i.progress IN ('queued', 'removing') AND NOT EXISTS (
			SELECT 1 FROM omm_enroll_queue q WHERE q.org_id = i.org_id AND q.device = i.device_id AND q.uuid = i.command)`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var dev, app, cmd string
		if err := rows.Scan(&dev, &app, &cmd); err != nil {
			t.Fatal(err)
		}
		t.Errorf("round %d: device %s: install record of app %s waits for command %s, which was never queued: lost", round, dev, app, cmd)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// integrityCheck runs SQLite's PRAGMA integrity_check on the database the
// killed server left.
func (h *crashHarness) integrityCheck(t *testing.T) {
	t.Helper()
	db := h.db(t)
	defer db.Close()
	var res []string
	rows, err := db.QueryContext(t.Context(), "PRAGMA integrity_check")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		res = append(res, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0] != "ok" {
		t.Fatalf("integrity_check after the crash: %q", res)
	}
}

// crashServer is ommserver as a child process.
type crashServer struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

var (
	crashReady = regexp.MustCompile(`(?m)^portal: `)
	crashToken = regexp.MustCompile(`(?m)^\s+(omm_admin_[A-Za-z0-9_-]+)$`)
)

// startCrashServer runs the server and waits until it serves.
func startCrashServer(t *testing.T, bin string, args []string) *crashServer {
	t.Helper()
	s := &crashServer{cmd: exec.Command(bin, args...), out: &syncBuffer{}, done: make(chan struct{})}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OMM_") {
			s.cmd.Env = append(s.cmd.Env, kv)
		}
	}
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.cmd.Wait() //nolint:errcheck // a killed server is the point
		close(s.done)
	}()
	t.Cleanup(func() {
		s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	deadline := time.After(time.Minute) // a hang guard
	for !crashReady.MatchString(s.out.String()) {
		select {
		case <-s.done:
			t.Fatalf("ommserver ended before it was ready:\n%s", s.out)
		case <-deadline:
			t.Fatalf("ommserver did not start:\n%s", s.out)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return s
}

// kill ends the server with SIGKILL: no shutdown, no flush.
func (s *crashServer) kill(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatal(err)
	}
	<-s.done
}

// freeAddr returns a loopback address nothing listens on, kept across the
// server's restarts so that the enrolled devices' URLs stay valid.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
