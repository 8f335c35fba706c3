package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openomm/omm/profile"
)

// loadConfig is a load run's settings.
type loadConfig struct {
	commonFlags
	devices, concurrency int
	duration             time.Duration
	maxRequests          int
	progress             time.Duration // interval of progress lines
	adminToken           string        // queue inventory refreshes when set
	refreshRate          int           // refreshes per second
	settle               bool          // afterwards, every device answers what is queued (not measured)
	// Benchmark measurements (loadbench.go).
	pregenKeys bool          // device keys made before the enrollment clock starts
	drain      bool          // answer every queued command before the idle phase
	inventory  bool          // queue an inventory refresh per device, then answer them (measured)
	split      bool          // enroll in two measured phases: profiles, then SCEP + check-in
	ceiling    bool          // drive a plain HTTPS handler the same way after the idle phase
	signFor    time.Duration // measure the raw CA-key signature rate for this long (0: not)
	caOps      int           // CA private-key operations per enrollment, for the ratio
	conn       string        // how devices connect: connNew, connResume or connKeepAlive
	jsonOut    string        // write the results as JSON to this file
	serverPID  int           // read the server's CPU time per phase from /proc (same machine)
	dbPids     string        // a shell command listing the database's processes serving the server
	// The server's event webhook, received here (webhook.go).
	webhookListen, webhookSecret string
}

// Bounds that keep a load run a test, not a flood.
const (
	maxDevices     = 10000
	maxConcurrency = 256
	maxDuration    = 10 * time.Minute
)

func parseLoad(args []string, out io.Writer) (loadConfig, error) {
	c := loadConfig{progress: time.Second}
	fs := newFlagSet("load", out)
	c.register(fs)
	fs.IntVar(&c.devices, "devices", 20, "simulated devices to enroll and run")
	fs.IntVar(&c.concurrency, "concurrency", 10, "devices talking to the server at once")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long the check-in phase runs")
	fs.IntVar(&c.maxRequests, "max-requests", 1_000_000, "stop the check-in phase after this many requests")
	fs.StringVar(&c.adminToken, "admin-token", "", "admin API token: queue inventory refreshes during the run, so that devices keep receiving commands")
	fs.IntVar(&c.refreshRate, "refresh-rate", 20, "inventory refreshes queued per second during the check-ins with -admin-token (at most; they are sent one at a time; 0: none)")
	fs.BoolVar(&c.settle, "settle", false, "after the check-ins, every device checks in until its queue is empty (not measured), so that what the server shows afterwards is final")
	fs.BoolVar(&c.pregenKeys, "pregen-keys", false, "generate the devices' keys before the enrollment clock starts")
	fs.BoolVar(&c.drain, "drain", false, "answer every queued command (the enrollment's inventory) in a measured phase before the idle check-ins")
	fs.BoolVar(&c.split, "split-enroll", false, "enroll in two measured phases: every device's enrollment decision and signed profile (profile), then every device's SCEP, Authenticate and TokenUpdate (enroll: the direct enrollment protocol alone); the server must allow that many open enrollments (-max-open-enrollments)")
	fs.BoolVar(&c.inventory, "inventory", false, "with -admin-token and -drain, after the drain: queue an inventory refresh for every device through the admin API, then answer those inventory queries, each in a measured phase")
	fs.BoolVar(&c.ceiling, "ceiling", false, "after the check-ins, drive a plain HTTPS handler returning a fixed plist the same way: the ceiling for check-ins")
	fs.DurationVar(&c.signFor, "sign-rate", 0, "after enrolling, measure the raw signature rate of a key like the org CA's for this long (the ceiling for enrollments)")
	fs.StringVar(&c.jsonOut, "json", "", "write the results as JSON to this file")
	fs.StringVar(&c.conn, "conn", connNew, `how devices connect: "new" (a new TCP+TLS connection per wake, full handshake, as a phone woken by a push), "resume" (new connection per wake, resuming the TLS session) or "keepalive" (each device keeps its connection)`)
	fs.IntVar(&c.caOps, "ca-ops", caOpsPerEnrollment, "CA private-key operations per enrollment the server makes (an older server made 5)")
	fs.StringVar(&c.webhookListen, "webhook-listen", "", "receive the server's event webhook on this loopback address during the run (the server's -webhook points here) and report the events' lag")
	fs.StringVar(&c.webhookSecret, "webhook-secret-file", "", "the webhook's secret (the server's -webhook-secret-file)")
	fs.StringVar(&c.dbPids, "db-pids", "", "shell command printing the process IDs of the database's backends serving the server (on this machine): report their CPU time per phase")
	fs.IntVar(&c.serverPID, "server-pid", 0, "process ID of the server (on this machine): report its CPU time per request of each phase")
	if err := parseFlags(fs, args); err != nil {
		return c, err
	}
	switch {
	case c.signFor < 0 || c.signFor > time.Minute:
		return c, fmt.Errorf("%w: -sign-rate must be 0…1m", errUsage)
	case c.caOps < 1 || c.caOps > 20:
		return c, fmt.Errorf("%w: -ca-ops must be 1…20", errUsage)
	case c.devices < 1 || c.devices > maxDevices:
		return c, fmt.Errorf("%w: -devices must be 1…%d", errUsage, maxDevices)
	case c.concurrency < 1 || c.concurrency > maxConcurrency:
		return c, fmt.Errorf("%w: -concurrency must be 1…%d", errUsage, maxConcurrency)
	case c.duration <= 0 || c.duration > maxDuration:
		return c, fmt.Errorf("%w: -duration must be positive and at most %s", errUsage, maxDuration)
	case c.maxRequests < 1:
		return c, fmt.Errorf("%w: -max-requests must be positive", errUsage)
	case c.refreshRate < 0 || c.refreshRate > 1000:
		return c, fmt.Errorf("%w: -refresh-rate must be 0…1000", errUsage)
	case c.inventory && (c.adminToken == "" || !c.drain):
		// Without the drain, the enrollment's own commands would be
		// answered in the inventory phase and counted as inventory.
		return c, fmt.Errorf("%w: -inventory needs -admin-token and -drain", errUsage)
	case !validConn(c.conn):
		return c, fmt.Errorf("%w: -conn must be new, resume or keepalive", errUsage)
	case (c.webhookListen == "") != (c.webhookSecret == ""):
		return c, fmt.Errorf("%w: -webhook-listen and -webhook-secret-file go together", errUsage)
	}
	return c, nil
}

// loadResult is what a load run measured.
type loadResult struct {
	Devices, Concurrency int
	Enroll               phase
	// Profile is the enrollment decisions and profiles fetched before the
	// enrollment protocol, with -split-enroll (Enroll is then the
	// protocol alone).
	Profile        phase
	CheckIn        phase
	Commands       int   // command round trips in the check-in phase
	SettleCommands int   // commands answered after it, with -settle
	Refresh        phase // admin API refreshes queued during the run
	Refreshed      []string
	// byID are the enrolled devices by their server ID (with
	// -admin-token), for a test to drive them on after the run.
	byID map[string]*device

	KeyGen        time.Duration // generating the device keys, before the enrollment clock
	SignKey       string        // kind of the org CA's key
	SignRate      float64       // raw private-key operations per second of such a key
	Drain         phase         // answering the queued commands
	DrainCommands int
	// Queue is queueing an inventory refresh per device through the admin
	// API (-inventory), Inventory answering those queries; InventoryCommands
	// counts them.
	Queue, Inventory  phase
	InventoryCommands int
	Ceiling           phase // the plain handler, driven like the check-ins
	// ServerCPU is the server's CPU time (user + system) during each
	// phase, when its process ID was given.
	ServerCPU map[string]time.Duration
	// SimCPU is the simulator's own CPU time during each phase: on one
	// machine, what it takes from the server.
	SimCPU map[string]time.Duration
	// DBCPU is the database's CPU time during each phase (-db-pids).
	DBCPU map[string]time.Duration
	// Webhook is what the event receiver saw, with -webhook-listen.
	Webhook *hookStats
	// Conn is how the devices connected (-conn); Handshakes the TLS
	// handshakes of each phase.
	Conn       string
	Handshakes map[string]handshakeCount
}

// phase is one phase's measurements.
type phase struct {
	Elapsed   time.Duration
	Requests  int
	Errors    int
	Latencies []time.Duration // sorted
	FirstErrs []string
}

// Throughput is requests per second.
func (p phase) Throughput() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Requests) / p.Elapsed.Seconds()
}

// Percentile returns the nearest-rank q-th percentile (0 < q ≤ 100).
func (p phase) Percentile(q float64) time.Duration {
	n := len(p.Latencies)
	if n == 0 {
		return 0
	}
	i := int(float64(n)*q/100+0.999999) - 1
	return p.Latencies[min(max(i, 0), n-1)]
}

// recorder collects measurements from concurrent workers.
type recorder struct {
	mu        sync.Mutex
	lat       []time.Duration
	errs      int
	firstErrs []string
	requests  atomic.Int64
	commands  atomic.Int64
}

const keptErrors = 5

func (r *recorder) observe(latency time.Duration, err error) {
	r.requests.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errs++
		if len(r.firstErrs) < keptErrors {
			r.firstErrs = append(r.firstErrs, err.Error())
		}
		return
	}
	r.lat = append(r.lat, latency)
}

func (r *recorder) errors() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.errs
}

func (r *recorder) phase(elapsed time.Duration) phase {
	r.mu.Lock()
	defer r.mu.Unlock()
	lat := slices.Clone(r.lat)
	slices.Sort(lat)
	return phase{Elapsed: elapsed, Requests: int(r.requests.Load()), Errors: r.errs, Latencies: lat, FirstErrs: slices.Clone(r.firstErrs)}
}

// runLoad enrolls the devices, runs the check-in phase and prints the
// summary. It fails when any request failed.
func runLoad(ctx context.Context, c loadConfig, out io.Writer) (loadResult, error) {
	if c.caOps == 0 {
		c.caOps = caOpsPerEnrollment
	}
	if c.conn == "" {
		c.conn = connNew
	}
	res := loadResult{Devices: c.devices, Concurrency: min(c.concurrency, c.devices), Conn: c.conn, Handshakes: map[string]handshakeCount{}}
	a, err := c.target()
	if err != nil {
		return res, err
	}
	a.resume = c.conn == connResume
	// The API client's connections (HTTP/1.1: one per request in flight)
	// end with the run, as the devices' do in the reconnecting modes.
	defer a.client.CloseIdleConnections()
	disconnect := reconnects(c.conn)
	// traced returns ctx counting the handshakes of phase name into res.
	traced := func(ctx context.Context, name string) (context.Context, func()) {
		h := &handshakes{}
		return h.trace(ctx), func() { res.Handshakes[name] = h.count() }
	}
	var hook *hookReceiver
	if c.webhookListen != "" {
		if hook, err = startReceiver(c.webhookListen, c.webhookSecret, a.now); err != nil {
			return res, err
		}
		fmt.Fprintf(out, "receiving the server's event webhook on %s\n", hook.addr)
	}
	token, err := a.signIn(ctx, c.acct, nop)
	if err != nil {
		return res, err
	}
	if c.pregenKeys {
		t0 := a.now()
		if a.keys, err = newKeyPool(ctx, c.devices, 2048); err != nil {
			return res, fmt.Errorf("device keys: %w", err)
		}
		res.KeyGen = a.now().Sub(t0)
		fmt.Fprintf(out, "generated %d device keys in %s (not timed)\n", c.devices, res.KeyGen.Round(time.Millisecond))
	}
	fmt.Fprintf(out, "enrolling %d devices as %s (concurrency %d)…\n", c.devices, c.acct.User, res.Concurrency)
	cpu := cpuMeters{
		server: cpuMeter{pid: c.serverPID, got: map[string]time.Duration{}},
		sim:    cpuMeter{pid: os.Getpid(), got: map[string]time.Duration{}},
		db:     cpuMeter{pidsCmd: c.dbPids, got: map[string]time.Duration{}},
	}
	res.ServerCPU, res.SimCPU, res.DBCPU = cpu.server.got, cpu.sim.got, cpu.db.got
	// measured runs one phase under the CPU meters and the handshake count
	// of name.
	measured := func(name string, run func(ctx context.Context)) {
		cpu.start()
		phaseCtx, done := traced(ctx, name)
		run(phaseCtx)
		cpu.stop(name)
		done()
	}
	var devices []*device
	var enr phase
	if c.split {
		var pend []pendingEnrollment
		measured("profile", func(ctx context.Context) {
			pend, res.Profile = profileMany(ctx, a, token, c.devices, res.Concurrency, disconnect)
		})
		fmt.Fprintf(out, "fetched %d/%d enrollment profiles in %s, %d errors\n", len(pend), c.devices,
			res.Profile.Elapsed.Round(time.Millisecond), res.Profile.Errors)
		measured("enroll", func(ctx context.Context) {
			devices, enr = enrollPending(ctx, a, pend, res.Concurrency, disconnect)
		})
	} else {
		measured("enroll", func(ctx context.Context) {
			devices, enr = enrollMany(ctx, a, token, c.devices, res.Concurrency, disconnect)
		})
	}
	res.Enroll = enr
	fmt.Fprintf(out, "enrolled %d/%d in %s (%.1f devices/s), %d errors\n", len(devices), c.devices,
		enr.Elapsed.Round(time.Millisecond), float64(len(devices))/enr.Elapsed.Seconds(), enr.Errors)
	if len(devices) == 0 {
		return res, fmt.Errorf("no device enrolled: %v", slices.Concat(res.Profile.FirstErrs, enr.FirstErrs))
	}

	if c.signFor > 0 {
		if res.SignRate, res.SignKey, err = signRate(ctx, devices[0].ca, c.signFor); err != nil {
			return res, err
		}
		fmt.Fprintf(out, "raw %s signatures: %.0f/s (enrollment used %.0f CA operations/s, %d per enrollment)\n", res.SignKey, res.SignRate,
			float64(len(devices))/enr.Elapsed.Seconds()*float64(c.caOps), c.caOps)
	}
	if c.drain {
		measured("drain", func(ctx context.Context) {
			res.Drain, res.DrainCommands = drain(ctx, a, devices, res.Concurrency, disconnect)
		})
		fmt.Fprintf(out, "drained %d commands in %s (%.1f command round trips/s), %d errors\n", res.DrainCommands,
			res.Drain.Elapsed.Round(time.Millisecond), float64(res.DrainCommands)/res.Drain.Elapsed.Seconds(), res.Drain.Errors)
	}

	var ids []string
	if c.adminToken != "" {
		if ids, res.byID, err = a.deviceIDs(ctx, c.adminToken, devices); err != nil {
			return res, err
		}
	}
	if c.inventory {
		measured("queue", func(ctx context.Context) { res.Queue = a.refreshEach(ctx, c.adminToken, ids, res.Concurrency) })
		fmt.Fprintf(out, "queued %d inventory refreshes through the admin API in %s, %d errors\n", res.Queue.Requests-res.Queue.Errors,
			res.Queue.Elapsed.Round(time.Millisecond), res.Queue.Errors)
		measured("inventory", func(ctx context.Context) {
			res.Inventory, res.InventoryCommands = drain(ctx, a, devices, res.Concurrency, disconnect)
		})
		fmt.Fprintf(out, "answered %d inventory queries in %s (%.1f command round trips/s), %d errors\n", res.InventoryCommands,
			res.Inventory.Elapsed.Round(time.Millisecond), float64(res.InventoryCommands)/res.Inventory.Elapsed.Seconds(), res.Inventory.Errors)
	}

	// The ceiling runs in two halves around the check-ins, so that a
	// change in the machine's load during the run weighs on both alike.
	var ceil1 phase
	if c.ceiling {
		if ceil1, err = ceiling(ctx, a, devices, res.Concurrency, c.duration/2, c.maxRequests/2, disconnect); err != nil {
			return res, err
		}
	}
	fmt.Fprintf(out, "check-ins for %s (at most %d requests)…\n", c.duration, c.maxRequests)
	rec := &recorder{}
	refreshes := &recorder{}
	start := a.now()
	cpu.start()
	checkCtx, checkDone := traced(ctx, "checkin")
	runCtx, cancel := context.WithTimeout(checkCtx, c.duration)
	defer cancel()
	done := make(chan struct{})
	go progress(runCtx, done, out, rec, c.progress, a.now)
	refreshed := make(chan []string, 1)
	go func() {
		refreshed <- a.refreshLoop(ctx, runCtx, c.adminToken, ids, c.refreshRate, refreshes)
	}()
	var wg sync.WaitGroup
	workers := min(res.Concurrency, len(devices)) // fewer when some failed to enroll
	for w := range workers {
		wg.Go(func() {
			// Each worker owns devices w, w+workers, …: a device is never
			// used by two workers at once, as a real one polls serially.
			for i := w; runCtx.Err() == nil && rec.requests.Load() < int64(c.maxRequests); i += workers {
				if i >= len(devices) {
					i = w
				}
				// Failures are observed per request; poll stops at the first.
				st, _ := devices[i].poll(runCtx, 0, nop, func(l time.Duration, err error) {
					if err != nil && runCtx.Err() != nil {
						return // the run ended mid-request: not the server's error
					}
					rec.observe(l, err)
				})
				rec.commands.Add(int64(len(st.Commands)))
				if disconnect {
					devices[i].client.CloseIdleConnections()
				}
			}
		})
	}
	wg.Wait()
	cancel()
	<-done
	if disconnect {
		// A connection whose last stream was still being torn down when
		// its device closed its idle ones is idle now.
		for _, d := range devices {
			d.client.CloseIdleConnections()
		}
	}
	res.CheckIn = rec.phase(a.now().Sub(start))
	cpu.stop("checkin")
	checkDone()
	res.Commands = int(rec.commands.Load())
	res.Refreshed = <-refreshed
	res.Refresh = refreshes.phase(res.CheckIn.Elapsed)
	if c.settle {
		// The refreshes have all been queued (the loop has ended): each
		// device now answers what it has not reached during the run.
		for _, d := range devices {
			st, err := d.poll(ctx, 0, nop, nil)
			if err != nil {
				return res, fmt.Errorf("settle: %w", err)
			}
			res.SettleCommands += len(st.Commands)
		}
	}
	if c.ceiling {
		ceil2, err := ceiling(ctx, a, devices, res.Concurrency, c.duration-c.duration/2, c.maxRequests-c.maxRequests/2, disconnect)
		if err != nil {
			return res, err
		}
		res.Ceiling = ceil1.merge(ceil2)
	}
	if hook != nil {
		st := hook.finish(ctx, a, c.adminToken)
		res.Webhook = &st
	}
	printSummary(out, res)
	if c.jsonOut != "" {
		if err := writeReport(c.jsonOut, res, c.proof, c.caOps); err != nil {
			return res, err
		}
	}
	if n := res.Profile.Errors + res.Enroll.Errors + res.Drain.Errors + res.Queue.Errors + res.Inventory.Errors + res.CheckIn.Errors + res.Refresh.Errors + res.Ceiling.Errors; n > 0 {
		first := slices.Concat(res.Profile.FirstErrs, res.Enroll.FirstErrs, res.Drain.FirstErrs, res.Queue.FirstErrs, res.Inventory.FirstErrs,
			res.CheckIn.FirstErrs, res.Refresh.FirstErrs, res.Ceiling.FirstErrs)[0]
		return res, fmt.Errorf("%d requests failed, first: %v", n, first)
	}
	return res, nil
}

// enrollMany enrolls n devices with c at a time; with disconnect, each
// device closes its connection once enrolled.
func enrollMany(ctx context.Context, a *api, token string, n, c int, disconnect bool) ([]*device, phase) {
	return enrollEach(ctx, a, n, c, disconnect, func(int) (*device, error) { return enrollOne(ctx, a, token) })
}

// enrollEach enrolls n devices with enroll(i), c at a time, and returns
// those enrolled and the phase; with disconnect, each device closes its
// connection once enrolled.
func enrollEach(ctx context.Context, a *api, n, c int, disconnect bool, enroll func(i int) (*device, error)) ([]*device, phase) {
	rec := &recorder{}
	start := a.now()
	var mu sync.Mutex
	var devices []*device
	each(ctx, n, c, func(i int) {
		t0 := a.now()
		d, err := enroll(i)
		rec.observe(a.now().Sub(t0), err)
		if err == nil {
			if disconnect {
				d.client.CloseIdleConnections()
			}
			mu.Lock()
			devices = append(devices, d)
			mu.Unlock()
		}
	})
	return devices, rec.phase(a.now().Sub(start))
}

// each calls do(i) for every i below n, c calls at a time, until ctx ends.
func each(ctx context.Context, n, c int, do func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(c, n) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n && ctx.Err() == nil; i = int(next.Add(1)) - 1 {
				do(i)
			}
		})
	}
	wg.Wait()
}

// pendingEnrollment is a device's enrollment profile, fetched and
// verified, before the device enrolls with it (-split-enroll).
type pendingEnrollment struct {
	spec      spec
	enrollURL string
	profile   *profile.Profile
}

// profileMany starts n direct enrollments, c at a time, and fetches and
// verifies each one's signed profile: the part of an enrollment before
// the protocol (the user's decision, the profile). The org CA verifying
// the profiles is fetched once.
func profileMany(ctx context.Context, a *api, token string, n, c int, disconnect bool) ([]pendingEnrollment, phase) {
	rec := &recorder{}
	start := a.now()
	var mu sync.Mutex
	var pend []pendingEnrollment
	var ca *x509.Certificate
	each(ctx, n, c, func(int) {
		t0 := a.now()
		p, err := func() (pendingEnrollment, error) {
			p := pendingEnrollment{spec: newSpec("")}
			p.spec.NoDeclarative = true // load measures the command path
			f := facts{Platform: "ios", OSVersion: p.spec.OSVersion, Model: p.spec.Product, Ownership: "personal"}
			dec, err := a.startEnrollment(ctx, token, f, "direct")
			var se *statusError
			if errors.As(err, &se) && se.Status == http.StatusTooManyRequests && strings.Contains(se.Body, `"limit_reached"`) {
				return p, fmt.Errorf("%w (-split-enroll holds every enrollment open at once: start the server with -max-open-enrollments -1)", err)
			}
			if err != nil {
				return p, err
			}
			p.enrollURL = dec.EnrollURL
			mu.Lock()
			orgCA := ca
			mu.Unlock()
			if orgCA == nil {
				if orgCA, err = a.orgCA(ctx, dec.EnrollURL); err != nil {
					return p, err
				}
				mu.Lock()
				ca = orgCA
				mu.Unlock()
			}
			if p.profile, err = a.fetchProfile(ctx, "GET", dec.EnrollURL, nil, orgCA); err != nil {
				return p, fmt.Errorf("enrollment profile: %w", err)
			}
			return p, nil
		}()
		rec.observe(a.now().Sub(t0), err)
		if err == nil {
			mu.Lock()
			pend = append(pend, p)
			mu.Unlock()
		}
		if disconnect {
			a.client.CloseIdleConnections()
		}
	})
	return pend, rec.phase(a.now().Sub(start))
}

// enrollPending enrolls the devices of pend with their profiles, c at a
// time: SCEP (GetCACert, PKIOperation), Authenticate and TokenUpdate, the
// direct enrollment protocol alone; with disconnect, each device closes
// its connection once enrolled.
func enrollPending(ctx context.Context, a *api, pend []pendingEnrollment, c int, disconnect bool) ([]*device, phase) {
	return enrollEach(ctx, a, len(pend), c, disconnect, func(i int) (*device, error) {
		ca, err := a.orgCA(ctx, pend[i].enrollURL)
		if err != nil {
			return nil, err
		}
		return a.enrollMDM(ctx, ca, pend[i].profile, pend[i].spec, nop)
	})
}

// enrollOne starts a direct enrollment for a new simulated iPhone and walks
// it to check-in.
//
// The server holds a user to a few open enrollments at once (429
// limit_reached): with more workers than that, a worker waits for one of
// the others to finish, as an app would, and tries again.
func enrollOne(ctx context.Context, a *api, token string) (*device, error) {
	s := newSpec("")
	s.NoDeclarative = true // load measures the command path
	f := facts{Platform: "ios", OSVersion: s.OSVersion, Model: s.Product, Ownership: "personal"}
	wait := 5 * time.Millisecond
	for {
		dec, err := a.startEnrollment(ctx, token, f, "direct")
		var se *statusError
		if errors.As(err, &se) && se.Status == http.StatusTooManyRequests && strings.Contains(se.Body, `"limit_reached"`) {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(wait):
			}
			wait = min(2*wait, 200*time.Millisecond)
			continue
		}
		if err != nil {
			return nil, err
		}
		return enrollDirect(ctx, a, dec.EnrollURL, s, nop)
	}
}

// deviceIDs finds the server's IDs of the devices through the admin API,
// matching serial numbers.
func (a *api) deviceIDs(ctx context.Context, token string, devices []*device) ([]string, map[string]*device, error) {
	want := map[string]*device{}
	for _, d := range devices {
		want[d.Serial] = d
	}
	var ids []string
	byID := map[string]*device{}
	after := ""
	for range maxDevices { // pages; the server ends with an empty next
		var page struct {
			Devices []struct {
				ID           string `json:"id"`
				SerialNumber string `json:"serial_number"`
			} `json:"devices"`
			Next string `json:"next"`
		}
		if err := a.call(ctx, "GET", "/api/admin/devices?after="+url.QueryEscape(after), token, nil, &page); err != nil {
			return nil, nil, fmt.Errorf("listing devices: %w", err)
		}
		for _, d := range page.Devices {
			if dev, ok := want[d.SerialNumber]; ok {
				ids = append(ids, d.ID)
				byID[d.ID] = dev
			}
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	if len(ids) != len(devices) {
		return nil, nil, fmt.Errorf("the admin API lists %d of the %d enrolled devices", len(ids), len(devices))
	}
	return ids, byID, nil
}

// refreshLoop queues inventory refreshes for ids, round robin, rate per
// second, until ctx ends (the first one at once, under parent); it
// returns the IDs refreshed, in order. Without a
// token or devices it only waits.
func (a *api) refreshLoop(parent, ctx context.Context, token string, ids []string, rate int, rec *recorder) []string {
	var done []string
	if token == "" || len(ids) == 0 || rate == 0 {
		<-ctx.Done()
		return done
	}
	t := time.NewTicker(time.Second / time.Duration(rate))
	defer t.Stop()
	for i := 0; ; i++ {
		callCtx := ctx
		if i == 0 {
			// The first refresh is sent at once and completes however
			// loaded the machine and short the run: a run with an admin
			// token always exercises one.
			callCtx = parent
		} else {
			select {
			case <-ctx.Done():
				return done
			case <-t.C:
			}
		}
		id := ids[i%len(ids)]
		start := a.now()
		err := a.call(callCtx, "POST", "/api/admin/devices/"+url.PathEscape(id)+"/refresh", token, nil, nil)
		if err != nil && callCtx.Err() != nil {
			return done
		}
		rec.observe(a.now().Sub(start), err)
		if err == nil {
			done = append(done, id)
		}
	}
}

// refreshEach queues an inventory refresh for every one of ids through the
// admin API, c requests at a time.
func (a *api) refreshEach(ctx context.Context, token string, ids []string, c int) phase {
	rec := &recorder{}
	start := a.now()
	each(ctx, len(ids), c, func(i int) {
		t0 := a.now()
		err := a.call(ctx, "POST", "/api/admin/devices/"+url.PathEscape(ids[i])+"/refresh", token, nil, nil)
		rec.observe(a.now().Sub(t0), err)
	})
	return rec.phase(a.now().Sub(start))
}

// progress prints a line every interval until ctx ends, then closes done.
func progress(ctx context.Context, done chan<- struct{}, out io.Writer, rec *recorder, every time.Duration, now func() time.Time) {
	defer close(done)
	start := now()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			el := now().Sub(start)
			n := rec.requests.Load()
			fmt.Fprintf(out, "[%5.1fs] %d requests (%.0f/s), %d command round trips, %d errors\n",
				el.Seconds(), n, float64(n)/el.Seconds(), rec.commands.Load(), rec.errors())
		}
	}
}

// printSummary writes the result's summary.
func printSummary(out io.Writer, r loadResult) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }
	conn := ""
	if r.Conn != "" {
		conn = ", connections: " + r.Conn
	}
	fmt.Fprintf(out, "summary: %d devices, concurrency %d%s\n", r.Devices, r.Concurrency, conn)
	e := r.Enroll
	fmt.Fprintf(out, "  enrollment: %d devices in %s (%.1f/s), %d errors; per device p50 %s p90 %s p99 %s\n",
		e.Requests-e.Errors, e.Elapsed.Round(time.Millisecond), float64(e.Requests-e.Errors)/e.Elapsed.Seconds(), e.Errors,
		ms(e.Percentile(50)), ms(e.Percentile(90)), ms(e.Percentile(99)))
	c := r.CheckIn
	fmt.Fprintf(out, "  check-ins:  %d requests in %s = %.1f req/s, %d command round trips, %d errors\n",
		c.Requests, c.Elapsed.Round(time.Millisecond), c.Throughput(), r.Commands, c.Errors)
	fmt.Fprintf(out, "  latency:    p50 %s  p90 %s  p99 %s  max %s\n",
		ms(c.Percentile(50)), ms(c.Percentile(90)), ms(c.Percentile(99)), ms(c.Percentile(100)))
	if rf := r.Refresh; rf.Requests > 0 {
		fmt.Fprintf(out, "  refreshes:  %d queued through the admin API, %d errors, p50 %s p99 %s\n",
			rf.Requests-rf.Errors, rf.Errors, ms(rf.Percentile(50)), ms(rf.Percentile(99)))
	}
	if w := r.Webhook; w != nil {
		fmt.Fprintf(out, "  webhook:    %d events received (%d duplicates, %d refused deliveries), lag p50 %s p99 %s max %s; caught up %s after the load, %d missing\n",
			w.Events, w.Duplicates, w.Refused, ms(w.LagP50), ms(w.LagP99), ms(w.LagMax), w.CatchUp.Round(time.Millisecond), w.Missing)
	}
	for _, ph := range []struct {
		name string
		p    phase
	}{{"profile", r.Profile}, {"enroll", r.Enroll}, {"drain", r.Drain}, {"queue", r.Queue}, {"inventory", r.Inventory}, {"checkin", r.CheckIn}} {
		if cpu, ok := r.ServerCPU[ph.name]; ok && ph.p.Requests > 0 {
			fmt.Fprintf(out, "  server CPU: %-8s %s, %.0fµs per request\n", ph.name, cpu, float64(cpu.Microseconds())/float64(ph.p.Requests))
		}
		if cpu, ok := r.DBCPU[ph.name]; ok && ph.p.Requests > 0 {
			fmt.Fprintf(out, "  db CPU:     %-8s %s, %.0fµs per request\n", ph.name, cpu, float64(cpu.Microseconds())/float64(ph.p.Requests))
		}
		if h, ok := r.Handshakes[ph.name]; ok && ph.p.Requests > 0 {
			fmt.Fprintf(out, "  handshakes: %-8s %s\n", ph.name, h)
		}
		if cpu, ok := r.SimCPU[ph.name]; ok && ph.p.Requests > 0 {
			fmt.Fprintf(out, "  sim CPU:    %-8s %s, %.0fµs per request\n", ph.name, cpu, float64(cpu.Microseconds())/float64(ph.p.Requests))
		}
	}
	if cl := r.Ceiling; cl.Requests > 0 {
		fmt.Fprintf(out, "  ceiling:    %d requests to a plain handler = %.1f req/s (check-ins reach %.0f%%); p50 %s p99 %s\n",
			cl.Requests, cl.Throughput(), 100*c.Throughput()/cl.Throughput(), ms(cl.Percentile(50)), ms(cl.Percentile(99)))
	}
	for _, msg := range slices.Concat(r.Profile.FirstErrs, e.FirstErrs, r.Drain.FirstErrs, r.Queue.FirstErrs, r.Inventory.FirstErrs, c.FirstErrs, r.Refresh.FirstErrs, r.Ceiling.FirstErrs) {
		fmt.Fprintf(out, "  error: %s\n", msg)
	}
}
