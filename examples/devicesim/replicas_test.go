package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/apns/apnstest"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/postgres"
)

// The multi-replica test's size: CI runs the defaults (one round, two
// replicas, -crash.devices devices), scripts/replicatest 20 rounds of
// three replicas.
var (
	replicaRounds = flag.Int("replicas.rounds", 1, "replica test: rounds (one replica killed and restarted per round)")
	replicaCount  = flag.Int("replicas.n", 2, "replica test: ommserver replicas on one PostgreSQL database")
	replicaFanOut = flag.Int("replicas.fanout", 2000, "replica test: devices of the fan-out after the rounds (0: none)")
)

// TestReplicasPostgres runs -replicas.n ommserver processes on one
// PostgreSQL database (when OMM_TEST_POSTGRES_DSN is set), each with its
// own data directory, behind a loopback TCP load balancer that sends each
// connection to a random replica (TLS passes through). Simulated iPhones
// enroll, check in, answer commands and install an app; mid-run the demo
// policy changes (its profile goes to every enrolled device) and one
// replica is killed (SIGKILL) and restarted. Then, besides the crash
// test's checks (every acknowledged enrollment enrolled, every
// acknowledged result recorded, no command left undelivered, each command
// received, executed and recorded exactly once or ended with a reason):
// every enrollment exists once; every device got a push and the push
// outbox is empty (the pushes a killed replica owed were sent by the
// others); one CA per org; the event stream's seqs have no duplicate and
// no gap; no queued command lacks its body. After the rounds, a fan-out of
// one command to -replicas.fanout devices through one replica, killed as
// the call returns (fanOut).
func TestReplicasPostgres(t *testing.T) {
	dsn := os.Getenv("OMM_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("OMM_TEST_POSTGRES_DSN not set")
	}
	if *replicaCount < 2 {
		t.Fatalf("-replicas.n=%d: want at least 2", *replicaCount)
	}
	schema := pgTestSchema(t, dsn, "replicas_")
	fake := apnstest.NewServer()
	t.Cleanup(fake.Close)
	lb := startBalancer(t)
	tmp := t.TempDir()
	args := append([]string{"-public-url", "https://" + lb.addr(), "-allow-simulators", "-postgres", dsn, "-postgres-schema", schema,
		"-push-claim", pushClaim.String()}, fakeAPNsFlags(t, fake, tmp)...)

	h := newHarness(t, filepath.Join(tmp, "replica0"), lb.addr(), args)
	h.db = pgDB(dsn, schema)
	replicas := make([]*serverReplica, *replicaCount)
	for i := range replicas {
		replicas[i] = &serverReplica{dir: filepath.Join(tmp, fmt.Sprintf("replica%d", i)), addr: freeAddr(t)}
		if i > 0 {
			// Every replica serves the same TLS certificate and checks the
			// same CSRF and admin keys; each keeps its own replica name.
			copyDataDir(t, replicas[0].dir, replicas[i].dir)
		}
		out := replicas[i].start(t, h.bin, args)
		lb.add(replicas[i].addr)
		if i == 0 {
			h.setUp(t, out)
		}
	}
	policyID := demoPolicyID(t, h)
	var restarted *serverReplica
	h.settle = func(t *testing.T, round int, acked []*crashDevice) {
		// The restarted replica's first reconcile round re-applies the
		// policy to the devices the killed one had not reached yet, and
		// queues their commands, possibly after they drained: those
		// devices are pushed (the outbox empties) and check in again, as
		// pushed devices do.
		deadline := time.After(5 * time.Minute) // a hang guard
		for !strings.Contains(restarted.srv.out.String(), `"msg":"reconcile round done"`) {
			select {
			case <-deadline:
				t.Fatalf("round %d: the restarted replica did not reconcile", round)
			case <-time.After(50 * time.Millisecond):
			}
		}
		// Requests whose client went away may still be running on a
		// surviving replica: an app install, or the policy change's
		// re-application (which goes on after its caller gave up waiting,
		// over every enrolled device), queueing commands after a device's
		// last poll. Each such device is pushed (the outbox empties) and
		// checks in again, as a pushed phone does, until none has anything
		// pending twice in a row; a command truly lost stays pending and
		// fails the checks.
		// A re-application walks every enrolled device of the org
		// (hundreds after a few rounds), so that two quiet checks can fall
		// between two of this round's devices: quiet also needs no
		// re-application written for reapplyQuiet.
		settled := time.Now().Add(5 * time.Minute) // a hang guard
		for quiet := 0; quiet < 2 && time.Now().Before(settled); {
			h.waitOutboxEmpty(t, round)
			waiting := h.pendingDevices(t, acked)
			if len(waiting) == 0 {
				if h.reapplying(t) {
					quiet = 0
				} else {
					quiet++
				}
				time.Sleep(time.Second)
				continue
			}
			quiet = 0
			for _, cd := range waiting {
				var err error
				for range 5 {
					if err = crashPoll(t.Context(), cd); err == nil {
						break
					}
					time.Sleep(200 * time.Millisecond)
				}
				if err != nil {
					t.Errorf("round %d: device %s, pushed after the drain: %v", round, cd.Serial, err)
				}
			}
		}
	}

	for round := range *replicaRounds {
		killed := h.rng.IntN(len(replicas))
		minLength := 6 + round%3
		acked := h.round(t, round, func() {
			// The policy changes while a replica dies: the change's answer
			// may be lost with it, and is tried again as an admin would.
			// The answer comes once the change is re-applied to every
			// enrolled device (hundreds after a few rounds, slow on a
			// loaded machine): the admin waits for it, so that a
			// re-application never runs on after its caller gave up,
			// queueing commands after the devices drained.
			admin := h.api(t)
			admin.client.Timeout = 5 * time.Minute // a hang guard
			var wg sync.WaitGroup
			wg.Go(func() {
				var err error
				for try := 0; try < 5; try++ {
					if err = setMinLength(t.Context(), admin, h.adminToken, policyID, minLength); err == nil {
						return
					}
					time.Sleep(200 * time.Millisecond)
				}
				t.Errorf("round %d: policy change: %v", round, err)
			})
			replicas[killed].srv.kill(t)
			replicas[killed].start(t, h.bin, args)
			restarted = replicas[killed]
			wg.Wait()
			t.Logf("round %d: killed and restarted replica %d of %d", round, killed, len(replicas))
		})
		h.replicaChecks(t, round, acked, fake)
		if t.Failed() {
			return
		}
	}
	if *replicaFanOut > 0 {
		h.fanOut(t, dsn, schema, *replicaFanOut, replicas, args, fake)
		if !t.Failed() {
			h.reapplyTakeover(t, policyID, replicas)
		}
	}
}

// reapplyTakeover changes the demo policy through one replica and kills
// it (SIGKILL) as soon as the change is committed, while it re-applies
// the change to the org's enrolled devices (the fan-out's thousands
// among them), and does not restart it. The survivors must take the
// recorded re-application over once the dead replica's claim runs out
// (ReapplyGrace, ReapplyClaim), long before their next reconcile (-reconcile,
// 15 minutes): every enrolled device under the policy gets the new
// settings and no request is left.
func (h *crashHarness) reapplyTakeover(t *testing.T, policyID string, replicas []*serverReplica) {
	t.Helper()
	ctx := t.Context()
	db := h.db(t)
	defer db.Close()
	count := func(q string, args ...any) int {
		var n int
		if err := db.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	// The restarted replica's first reconcile re-applies to the seeded
	// devices: let it end, so that what follows is the change's alone.
	firstRounds := func() bool {
		for _, r := range replicas {
			if !strings.Contains(r.srv.out.String(), `"msg":"reconcile round done"`) {
				return false
			}
		}
		return true
	}
	for guard := time.Now().Add(5 * time.Minute); !firstRounds() || h.reapplying(t) || count("SELECT count(*) FROM omm_reapply_queue") > 0; {
		if time.Now().After(guard) {
			t.Fatal("re-applications before the change did not end")
		}
		time.Sleep(200 * time.Millisecond)
	}
	var org string
	var revision int
	if err := db.QueryRowContext(ctx, "SELECT org_id, revision FROM omm_policy_revisions r WHERE EXISTS (SELECT 1 FROM omm_policies p WHERE p.org_id = r.org_id AND p.id = $1)",
		policyID).Scan(&org, &revision); err != nil {
		t.Fatal(err)
	}
	// The devices in policy: every one must get the new settings, as a
	// profile or as declarations, each audited by the re-application.
	const inPolicy = `FROM omm_devices d WHERE d.org_id = $1 AND d.state = 'enrolled' AND NOT EXISTS (
		SELECT 1 FROM omm_policy_applied a WHERE a.org_id = d.org_id AND a.device = d.id AND a.out_of_policy <> '')`
	const reapplied = ` AND EXISTS (SELECT 1 FROM omm_audit_log l WHERE l.org_id = d.org_id AND l.target = 'device:' || d.id
		AND l.actor = 'system:policy-reapply' AND l.action IN ('device.policy.reapply', 'device.declarations.update') AND l.time_us >= $2)`
	// Every one: a run's batch is 10,000 devices (omm's
	// Config.ReapplyBatch) and the drain goes on with the rest.
	devices := count("SELECT count(*) "+inPolicy, org)

	j := h.rng.IntN(len(replicas))
	direct, err := newAPI("https://"+replicas[j].addr, filepath.Join(replicas[0].dir, "tls", "dev-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	changed := make(chan struct{})
	go func() {
		defer close(changed)
		setMinLength(ctx, direct, h.adminToken, policyID, 12) // its answer dies with the replica
	}()
	start := time.Now()
	for count("SELECT revision FROM omm_policy_revisions WHERE org_id = $1", org) == revision {
		if time.Since(start) > 2*time.Minute {
			t.Fatal("the policy change was not committed")
		}
		time.Sleep(2 * time.Millisecond)
	}
	committed := time.Now()
	replicas[j].srv.kill(t)
	<-changed
	t.Logf("re-application takeover: policy changed through replica %d at %s (revision %d), killed at %s",
		j, start.UTC().Format(time.RFC3339Nano), revision+1, committed.UTC().Format(time.RFC3339Nano))
	reached := count("SELECT count(*) "+inPolicy+reapplied, org, start.UnixMicro())
	if reached >= devices {
		t.Errorf("the killed replica had re-applied the change to all %d devices: the takeover is not tried", devices)
	}
	// A hang guard: the re-application itself takes up to ~40 ms per
	// device on a loaded machine.
	for guard := time.Now().Add(3*time.Minute + time.Duration(devices)*50*time.Millisecond); ; {
		waiting := count("SELECT count(*) FROM omm_reapply_queue")
		left := devices - count("SELECT count(*) "+inPolicy+reapplied, org, start.UnixMicro())
		if waiting == 0 && left == 0 {
			break
		}
		if time.Now().After(guard) {
			t.Errorf("re-application takeover: %d requests waiting and %d of %d devices without the change %v after the kill",
				waiting, left, devices, time.Since(committed).Round(time.Millisecond))
			rows, err := db.QueryContext(ctx, "SELECT org_id, user_id, seq, requested_us, claim, claim_until_us FROM omm_reapply_queue")
			if err == nil {
				for rows.Next() {
					var o, u, c string
					var seq, req, until int64
					rows.Scan(&o, &u, &seq, &req, &c, &until)
					t.Logf("request: org %s user %q seq %d requested %d claim %q until %d", o, u, seq, req, c, until)
				}
				rows.Close()
			}
			for i, r := range replicas {
				for _, line := range strings.Split(r.srv.out.String(), "\n") {
					if strings.Contains(line, "re-appl") && !strings.Contains(line, "ota: policy re-applied") || strings.Contains(line, "policy changed") ||
						strings.Contains(line, "level\":\"ERROR") || strings.Contains(line, "level\":\"WARN") {
						t.Logf("replica %d: %s", i, line)
					}
				}
			}
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("re-application takeover: replica %d killed as the change committed (%v after the call), having re-applied it to %d of %d devices; "+
		"the survivors re-applied it to the rest, all done %v after the kill",
		j, committed.Sub(start).Round(time.Millisecond), reached, devices, time.Since(committed).Round(100*time.Millisecond))
}

// pushClaim is the replicas' -push-claim: how long before the devices a
// killed replica had claimed in the push outbox are pushed by another. A
// living replica renews its claim every third of it while it pushes (at
// 10 s without renewal, a CI run with a fuzzer beside it once saw a live
// replica's claim run out mid-batch), so this only has to outlast one
// renewal's write on a loaded machine.
const pushClaim = 15 * time.Second

// fanOut seeds n enrolled iPhones with push tokens straight into the
// database (enrolling them through the server would take too long), queues
// one command to every enrolled device through the admin API of one
// replica (POST /api/admin/devices/refresh), kills that replica with
// SIGKILL 0 to 2 s after the call returns (at once, or while it pushes its
// first batches) and restarts it. Then every seeded
// device must have been pushed and the outbox must be empty. A device is
// pushed at most once per command queued for it (a later command, such as
// the restarted replica's policy re-application, wakes it again) plus once
// when its claim was taken over: the killed replica had pushed it and died
// before marking it done. A replica holds at most two claims of a batch
// (1,000 devices) at once — its Wake's, pushing the fan-out it answered,
// and its outbox drain's, sharing the same rows — so at most 2,000
// devices get that extra push (a bound that bites in the long form of
// scripts/replicatest, with 10,000 devices).
func (h *crashHarness) fanOut(t *testing.T, dsn, schema string, n int, replicas []*serverReplica, args []string, fake *apnstest.Server) {
	t.Helper()
	ctx := t.Context()
	db := h.db(t)
	var org storage.OrgID
	var user string
	err := db.QueryRowContext(ctx, "SELECT org_id, user_id FROM omm_devices ORDER BY id LIMIT 1").Scan(&org, &user)
	db.Close()
	if err != nil {
		t.Fatalf("the demo org: %v", err)
	}
	st, err := postgres.Open(ctx, dsn, postgres.WithSchema(schema), postgres.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Now()
	tokens := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	for range 8 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n && failed.Load() == nil; i = int(next.Add(1)) - 1 {
				tok, err := seedPushable(ctx, st, org, user, i)
				if err != nil {
					failed.Store(&err)
				}
				tokens[i] = tok
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatalf("seeding the fan-out's devices: %v", *err)
	}
	seeded := time.Since(start)

	k := h.rng.IntN(len(replicas))
	direct, err := newAPI("https://"+replicas[k].addr, filepath.Join(replicas[0].dir, "tls", "dev-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	before := len(fake.Pushes())
	start = time.Now()
	var queued struct{ Devices int }
	if err := direct.call(ctx, "POST", "/api/admin/devices/refresh", h.adminToken, nil, &queued); err != nil {
		t.Fatalf("fan-out through replica %d: %v", k, err)
	}
	called := time.Since(start)
	// Killed at once or while it pushes its first batches (it starts as it
	// answers): then another replica takes its claim over.
	time.Sleep(time.Duration(h.rng.Int64N(int64(2 * time.Second))))
	replicas[k].srv.kill(t)
	killed := time.Since(start)
	replicas[k].start(t, h.bin, args)
	if queued.Devices < n {
		t.Errorf("the fan-out queued %d devices, want at least the %d seeded", queued.Devices, n)
	}
	h.waitOutboxEmpty(t, -1)
	drained := time.Since(start)
	count := map[string]int{}
	for _, p := range fake.Pushes()[before:] {
		count[p.Token]++
	}
	// Pushes are counted before the commands: a command queued in
	// between (the restarted replica's first reconcile re-applies the
	// policy to the seeded devices, which have none applied, and wakes
	// them) can only add to the commands.
	commands := map[string]int{}
	db = h.db(t)
	rows, err := db.QueryContext(ctx, `SELECT d.serial_number, count(*) FROM omm_enroll_queue q
		JOIN omm_devices d ON d.org_id = q.org_id AND d.id = q.device WHERE d.serial_number LIKE 'FANOUT%' GROUP BY d.serial_number`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var serial string
		var c int
		if err := rows.Scan(&serial, &c); err != nil {
			t.Fatal(err)
		}
		commands[serial] = c
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	db.Close()
	missed, again, takenOver := 0, 0, 0
	for i, tok := range tokens {
		c, queuedFor := count[tok], commands[fmt.Sprintf("FANOUT%07d", i)]
		switch {
		case c == 0:
			missed++
		case c > queuedFor+1:
			t.Errorf("fan-out: device %d pushed %d times for %d commands", i, c, queuedFor)
		case c == queuedFor+1:
			takenOver++ // once more than its commands: its claim was taken over
		case c > 1:
			again++ // a later command woke it again
		}
	}
	if missed > 0 {
		t.Errorf("fan-out: %d of %d devices never pushed", missed, n)
	}
	if takenOver > 2*1000 {
		t.Errorf("fan-out: %d devices pushed once more than their commands, more than the two claim batches (Wake and drain, 1,000 each) the killed replica may have held", takenOver)
	}
	t.Logf("fan-out: %d devices seeded (%v); one command queued to %d devices through replica %d (%v), which was killed %v after the call; "+
		"outbox empty %v after the call; %d devices pushed once more than their commands (a claim taken over), %d again for a later command, %d never",
		n, seeded.Round(time.Millisecond), queued.Devices, k, called.Round(time.Millisecond), (killed - called).Round(time.Millisecond),
		drained.Round(time.Millisecond), takenOver, again, missed)
}

// seedPushable stores device i of the fan-out as an enrolled iPhone of
// org with a push token, returning the token as APNs sees it (hex).
func seedPushable(ctx context.Context, st *postgres.Store, org storage.OrgID, user string, i int) (string, error) {
	serial := fmt.Sprintf("FANOUT%07d", i)
	at := time.Now()
	d, err := st.CreateDevice(ctx, inventory.Device{
		ID: inventory.NewDeviceID(), Org: org, UserID: user, Platform: inventory.PlatformIOS,
		Ownership: inventory.OwnershipPersonal, EnrollmentType: inventory.EnrollAppleDevice,
		State: inventory.StateEnrolled, Identifier: "00008110-" + serial, SerialNumber: serial,
	}, storage.AuditEntry{Org: org, Time: at, Actor: "system:fanout-seed", Action: "device.register"})
	if err != nil {
		return "", err
	}
	if _, err := st.StartEnrollment(ctx, enroll.Enrollment{Org: org, Device: d.ID, Channel: d.Identifier, Updated: at}); err != nil {
		return "", err
	}
	token := []byte("fan-out token " + serial)
	if _, _, err := st.UpdateToken(ctx, org, d.ID, enroll.TokenUpdate{Token: token, PushMagic: "magic-" + serial, At: at}); err != nil {
		return "", err
	}
	return hex.EncodeToString(token), nil
}

// serverReplica is one ommserver process of the deployment.
type serverReplica struct {
	dir, addr string
	srv       *crashServer
}

func (r *serverReplica) start(t *testing.T, bin string, args []string) string {
	t.Helper()
	r.srv = startCrashServer(t, bin, append([]string{"-data", r.dir, "-listen", r.addr}, args...))
	return r.srv.out.String()
}

// replicaChecks checks, after a round's devices drained their queues, what
// several replicas could get wrong together.
func (h *crashHarness) replicaChecks(t *testing.T, round int, acked []*crashDevice, fake *apnstest.Server) {
	t.Helper()
	db := h.db(t)
	defer db.Close()
	ctx := t.Context()
	query := func(q string, args ...any) [][]string {
		rows, err := db.QueryContext(ctx, q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		var out [][]string
		for rows.Next() {
			vals := make([]string, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out = append(out, vals)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	h.waitOutboxEmpty(t, round)
	pushed := map[string]int{}
	for _, p := range fake.Pushes() {
		pushed[p.Token]++
	}
	serials := make([]string, 0, len(acked))
	for _, cd := range acked {
		serials = append(serials, cd.Serial)
		if len(cd.pushToken) == 0 {
			t.Errorf("round %d: device %s: no push token registered", round, cd.Serial)
		} else if pushed[hex.EncodeToString(cd.pushToken)] == 0 {
			t.Errorf("round %d: device %s was never pushed", round, cd.Serial)
		}
	}
	for _, r := range query(`SELECT serial_number, count(*) FROM omm_devices GROUP BY org_id, serial_number HAVING count(*) > 1`) {
		t.Errorf("round %d: device %s enrolled %s times", round, r[0], r[1])
	}
	if n := query(`SELECT count(*) FROM omm_devices WHERE serial_number = ANY($1)`, serials)[0][0]; n != fmt.Sprint(len(acked)) {
		t.Errorf("round %d: %s devices for %d acknowledged enrollments", round, n, len(acked))
	}
	for _, r := range query(`SELECT o.id, count(c.org_id) FROM omm_orgs o LEFT JOIN omm_enroll_scep_cas c ON c.org_id = o.id GROUP BY o.id HAVING count(c.org_id) <> 1`) {
		t.Errorf("round %d: org %s has %s CAs, want 1", round, r[0], r[1])
	}
	for _, r := range query(`SELECT org_id, count(*), count(DISTINCT id), min(seq), max(seq) FROM omm_events GROUP BY org_id
		HAVING count(*) <> count(DISTINCT id) OR max(seq) - min(seq) + 1 <> count(*)`) {
		t.Errorf("round %d: org %s: %s events, %s IDs, seqs %s to %s: duplicates or gaps", round, r[0], r[1], r[2], r[3], r[4])
	}
	for _, r := range query(`SELECT q.device, q.uuid FROM omm_enroll_queue q WHERE NOT EXISTS (
		SELECT 1 FROM omm_enroll_commands c WHERE c.org_id = q.org_id AND c.uuid = q.uuid)`) {
		t.Errorf("round %d: device %s: queued command %s has no body", round, r[0], r[1])
	}
	h.orphanInstalls(t, round)
	h.seqsWithoutGaps(t, round)
	// What a command of this round's devices left pending is, for the
	// diagnosis of a failure (earlier rounds' devices no longer poll: the
	// later policy changes leave their commands pending).
	last := map[string]time.Time{}
	for _, cd := range acked {
		cd.mu.Lock()
		last[cd.Serial] = cd.lastPoll
		cd.mu.Unlock()
	}
	for _, r := range query(`SELECT d.serial_number, q.uuid, c.request_type, q.status, q.deliveries, c.queued_us, q.updated_us,
		coalesce((SELECT string_agg(a.actor || ' ' || a.action || ' at ' || a.time_us, '; ') FROM omm_audit_log a
			WHERE a.org_id = q.org_id AND a.details::text LIKE '%' || q.uuid || '%'), '')
		FROM omm_enroll_queue q JOIN omm_enroll_commands c ON c.org_id = q.org_id AND c.uuid = q.uuid
		JOIN omm_devices d ON d.org_id = q.org_id AND d.id = q.device
		WHERE q.status IN ('Pending', 'NotNow') AND d.serial_number = ANY($1)`, serials) {
		t.Logf("round %d: pending: device %s (last empty poll at %d us) command %s %s %s, %s deliveries, queued at %s us, updated %s; audit: %s",
			round, r[0], last[r[0]].UnixMicro(), r[1], r[2], r[3], r[4], r[5], r[6], r[7])
	}
	t.Logf("round %d: %d devices, %d pushes in all, outbox empty, one CA per org, event seqs unique", round, len(acked), len(fake.Pushes()))
}

// waitOutboxEmpty waits until the push outbox is empty: the pushes a
// killed replica owed are sent by the others once its claims run out
// (-push-claim).
func (h *crashHarness) waitOutboxEmpty(t *testing.T, round int) {
	t.Helper()
	db := h.db(t)
	defer db.Close()
	deadline := time.Now().Add(2 * time.Minute) // a hang guard
	for {
		var left int
		if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM omm_push_outbox").Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("round %d: %d devices still wait in the push outbox", round, left)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// reapplyQuiet is how long without a re-application's audit entry the
// replica test takes for the re-applications being over.
const reapplyQuiet = 10 * time.Second

// reapplying reports whether a policy re-application wrote its last audit
// entry less than reapplyQuiet ago (the servers run on this machine's
// clock).
func (h *crashHarness) reapplying(t *testing.T) bool {
	t.Helper()
	db := h.db(t)
	defer db.Close()
	var last sql.NullInt64
	if err := db.QueryRowContext(t.Context(), "SELECT max(time_us) FROM omm_audit_log WHERE actor = $1", "system:policy-reapply").Scan(&last); err != nil {
		t.Fatal(err)
	}
	return last.Valid && time.Since(time.UnixMicro(last.Int64)) < reapplyQuiet
}

// pendingDevices returns the devices of acked with a command pending.
func (h *crashHarness) pendingDevices(t *testing.T, acked []*crashDevice) []*crashDevice {
	t.Helper()
	db := h.db(t)
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), `SELECT DISTINCT d.serial_number FROM omm_enroll_queue q
		JOIN omm_devices d ON d.org_id = q.org_id AND d.id = q.device WHERE q.status IN ('Pending', 'NotNow')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	pending := map[string]bool{}
	for rows.Next() {
		var serial string
		if err := rows.Scan(&serial); err != nil {
			t.Fatal(err)
		}
		pending[serial] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var out []*crashDevice
	for _, cd := range acked {
		if pending[cd.Serial] {
			out = append(out, cd)
		}
	}
	return out
}

// demoPolicyID is the ID of the demo org's policy.
func demoPolicyID(t *testing.T, h *crashHarness) string {
	t.Helper()
	var list struct {
		Policies []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"policies"`
	}
	if err := h.api(t).call(t.Context(), "GET", "/api/admin/policies", h.adminToken, nil, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Policies) == 0 {
		t.Fatal("the demo org has no policy")
	}
	return list.Policies[0].ID
}

// setMinLength sets the iOS passcode length of policy id.
func setMinLength(ctx context.Context, a *api, adminToken, id string, minLength int) error {
	p, _, pc, err := a.passcodeRule(ctx, adminToken, id)
	if err != nil {
		return err
	}
	if pc["min_length"] == float64(minLength) {
		return nil // changed by an earlier try whose answer was lost
	}
	pc["min_length"] = minLength
	return a.putPolicy(ctx, adminToken, id, p)
}

// fakeAPNsFlags writes a provider token key and the fake's certificate,
// and returns the flags that make ommserver push to the fake.
func fakeAPNsFlags(t *testing.T, fake *apnstest.Server, dir string) []string {
	t.Helper()
	u, err := url.Parse(fake.URL())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", u.Host, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // reads the fake's certificate to trust it
	if err != nil {
		t.Fatal(err)
	}
	cert := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	roots := filepath.Join(dir, "apns-roots.pem")
	if err := os.WriteFile(roots, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	p8 := filepath.Join(dir, "AuthKey.p8")
	if err := os.WriteFile(p8, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"-apns-token-key", p8, "-apns-key-id", "KEYID12345", "-apns-team-id", "TEAMID1234",
		"-apns-topic", "com.apple.mgmt.External.replicas", "-apns-endpoint", fake.URL(), "-apns-roots", roots}
}

// copyDataDir copies a replica's data directory (certificates and keys)
// for another, without its replica name.
func copyDataDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o700)
		}
		if d.Name() == "replica.id" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// balancer is a loopback TCP load balancer: each connection goes to a
// random backend that accepts it, bytes passed through as they are.
type balancer struct {
	ln       net.Listener
	mu       sync.Mutex
	backends []string
}

func startBalancer(t *testing.T) *balancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go b.serve()
	return b
}

func (b *balancer) addr() string { return b.ln.Addr().String() }

func (b *balancer) add(backend string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backends = append(b.backends, backend)
}

func (b *balancer) serve() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		go b.pipe(c)
	}
}

func (b *balancer) pipe(c net.Conn) {
	defer c.Close()
	b.mu.Lock()
	backends := append([]string(nil), b.backends...)
	b.mu.Unlock()
	for _, i := range mrand.Perm(len(backends)) {
		up, err := net.DialTimeout("tcp", backends[i], 5*time.Second)
		if err != nil {
			continue // a dead replica: the next one
		}
		done := make(chan struct{})
		go func() {
			io.Copy(up, c) //nolint:errcheck // ends when either side closes
			up.Close()
			close(done)
		}()
		io.Copy(c, up) //nolint:errcheck // ends when either side closes
		up.Close()
		c.Close()
		<-done
		return
	}
}

// TestReplicaThroughput (with OMM_BENCH_REPLICAS=1 and PostgreSQL) is the
// benchmark of BENCHMARKS.md: devicesim load runs against one replica and
// against two on the same database behind the balancer, alternated (1, 2,
// 2, 1, … for OMM_BENCH_REPLICAS_PAIRS pairs, default 2): idle check-ins
// per second, and commands per second in the drain phase (each command
// delivered and its result taken). A fresh user per run keeps device lists
// short.
func TestReplicaThroughput(t *testing.T) {
	dsn := os.Getenv("OMM_TEST_POSTGRES_DSN")
	if dsn == "" || os.Getenv("OMM_BENCH_REPLICAS") != "1" {
		t.Skip("OMM_BENCH_REPLICAS=1 and OMM_TEST_POSTGRES_DSN run the replica benchmark")
	}
	pairs := 2
	if n, err := strconv.Atoi(os.Getenv("OMM_BENCH_REPLICAS_PAIRS")); err == nil && n > 0 {
		pairs = n
	}
	devices, duration := 200, 10*time.Second
	schema := pgTestSchema(t, dsn, "replbench_")
	lb := startBalancer(t)
	tmp := t.TempDir()
	args := []string{"-public-url", "https://" + lb.addr(), "-allow-simulators", "-postgres", dsn, "-postgres-schema", schema}
	h := newHarness(t, filepath.Join(tmp, "replica0"), lb.addr(), args)
	replicas := []*serverReplica{{dir: filepath.Join(tmp, "replica0"), addr: freeAddr(t)}, {dir: filepath.Join(tmp, "replica1"), addr: freeAddr(t)}}
	out := replicas[0].start(t, h.bin, args)
	lb.add(replicas[0].addr)
	h.setUp(t, out)
	copyDataDir(t, replicas[0].dir, replicas[1].dir)
	replicas[1].start(t, h.bin, args)

	type result struct {
		replicas          int
		checkIns, cmds    float64
		p50, p99          time.Duration
		errors, drainCmds int
	}
	var results []result
	for run := range 2 * pairs {
		n := 1 + (run+run/2)%2 // 1, 2, 2, 1, 1, 2, …
		lb.set(replicas[0].addr)
		if n == 2 {
			lb.add(replicas[1].addr)
		}
		a := h.api(t)
		user := fmt.Sprintf("bench%d", run)
		password := rand.Text()
		var u struct{ ID string }
		if err := a.call(t.Context(), "POST", "/api/admin/users", h.adminToken,
			map[string]string{"username": user, "display_name": user, "password": password}, &u); err != nil {
			t.Fatal(err)
		}
		if err := a.call(t.Context(), "POST", "/api/admin/groups/"+h.group+"/members", h.adminToken, map[string]string{"user_id": u.ID}, nil); err != nil {
			t.Fatal(err)
		}
		out := &syncBuffer{}
		cfg := loadConfig{commonFlags: commonFlags{server: "https://" + lb.addr(), caFile: filepath.Join(replicas[0].dir, "tls", "dev-ca.pem"),
			acct: account{Site: "demo", User: user, Password: password, PIN: "482916"}},
			devices: devices, concurrency: 20, duration: duration, maxRequests: 1_000_000, progress: time.Hour, refreshRate: 1,
			pregenKeys: true, drain: true}
		r, err := runLoad(t.Context(), cfg, out)
		if err != nil {
			t.Fatalf("run %d (%d replicas): %v\n%s", run, n, err, out)
		}
		res := result{replicas: n, checkIns: r.CheckIn.Throughput(), p50: r.CheckIn.Percentile(0.5), p99: r.CheckIn.Percentile(0.99),
			errors: r.CheckIn.Errors + r.Drain.Errors, drainCmds: r.DrainCommands}
		if r.Drain.Elapsed > 0 {
			res.cmds = float64(r.DrainCommands) / r.Drain.Elapsed.Seconds()
		}
		results = append(results, res)
		t.Logf("run %d: %d replica(s): %.0f idle check-ins/s (p50 %v, p99 %v), %.0f commands/s (%d commands), %d errors",
			run, n, res.checkIns, res.p50.Round(time.Millisecond), res.p99.Round(time.Millisecond), res.cmds, res.drainCmds, res.errors)
	}
	for _, n := range []int{1, 2} {
		var ci, cmd []float64
		for _, r := range results {
			if r.replicas == n {
				ci, cmd = append(ci, r.checkIns), append(cmd, r.cmds)
			}
		}
		t.Logf("%d replica(s): idle check-ins/s %v, commands/s %v", n, roundAll(ci), roundAll(cmd))
	}
}

func roundAll(xs []float64) []int {
	out := make([]int, len(xs))
	for i, x := range xs {
		out[i] = int(x + 0.5)
	}
	return out
}

// set makes backend the balancer's only backend.
func (b *balancer) set(backend string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backends = []string{backend}
}
