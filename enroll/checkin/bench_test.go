package checkin_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/apns/apnstest"
	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/enroll/mdm"
	"github.com/openomm/omm/internal/cputime"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
	"github.com/openomm/omm/storage/postgres"
	"github.com/openomm/omm/storage/sqlite"
)

// backends returns the storage backends to benchmark: memory and SQLite
// always, PostgreSQL when OMM_TEST_POSTGRES_DSN is set.
func backends(b *testing.B) map[string]func(b *testing.B) backend {
	m := map[string]func(b *testing.B) backend{
		"memory": func(*testing.B) backend { return memory.New() },
		"sqlite": func(b *testing.B) backend {
			s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "omm.db"), sqlite.WithLogger(quiet))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		},
	}
	if dsn := os.Getenv("OMM_TEST_POSTGRES_DSN"); dsn != "" {
		m["postgres"] = func(b *testing.B) backend {
			schema := "omm_bench_" + strings.ToLower(fmt.Sprint(time.Now().UnixNano()))
			s, err := postgres.Open(b.Context(), dsn, postgres.WithSchema(schema), postgres.WithLogger(quiet))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() {
				s.Close()
				if conn, err := pgx.Connect(context.Background(), dsn); err == nil {
					conn.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE") //nolint:errcheck // best effort
					conn.Close(context.Background())
				}
			})
			return s
		}
	}
	return m
}

// benchEnv is newEnv on another backend, without the HTTP server: the
// benchmarks measure the service's work per request.
func benchEnv(b *testing.B, be backend) *env {
	e := &env{now: now, orgA: "org_acme", cas: map[storage.OrgID]ca{}}
	e.t = b
	e.store = be
	if _, err := e.store.CreateOrg(b.Context(), storage.Org{ID: e.orgA, Name: "acme", DisplayName: "Acme"},
		storage.AuditEntry{Org: e.orgA, Time: now, Actor: "system", Action: "org.create"}); err != nil {
		b.Fatal(err)
	}
	e.cas[e.orgA] = newCA(b, "acme")
	e.inv = inventory.New(e.store, inventory.WithClock(e.clock), inventory.WithLogger(quiet))
	e.svc = checkin.New(e.store, checkin.Inventory{Service: e.inv, Store: e.store}, cas{e.orgA: e.cas[e.orgA].cert},
		checkin.WithClock(e.clock), checkin.WithLogger(quiet))
	return e
}

// enrolledDevice enrolls a device directly through the service and drains
// its first inventory commands; it returns a function that builds a signed
// request body for the command endpoint.
func enrolledDevice(b *testing.B, e *env, udid string) (*device, inventory.Device) {
	d := e.newDevice(e.orgA, udid, "alice")
	ctx := b.Context()
	for _, msg := range []map[string]any{
		{"MessageType": "Authenticate", "UDID": udid, "Topic": topic, "ProductName": "iPhone15,2"},
		{"MessageType": "TokenUpdate", "UDID": udid, "Topic": topic, "Token": []byte("t-" + udid), "PushMagic": "m"},
	} {
		body := plistBody(b, msg)
		if _, err := e.svc.CheckIn(ctx, e.orgA, checkin.Proof{Signature: signature(b, d, body)}, body); err != nil {
			b.Fatal(err)
		}
	}
	rec, err := e.store.DeviceByIdentifier(ctx, e.orgA, udid)
	if err != nil {
		b.Fatal(err)
	}
	idle := plistBody(b, map[string]any{"UDID": udid, "Status": "Idle"})
	for {
		out, err := e.svc.Connect(ctx, e.orgA, checkin.Proof{Signature: signature(b, d, idle)}, idle)
		if err != nil {
			b.Fatal(err)
		}
		if out == nil {
			break
		}
		var cmd struct{ CommandUUID string }
		mustDecode(b, out, &cmd)
		ack := plistBody(b, map[string]any{"UDID": udid, "Status": "Acknowledged", "CommandUUID": cmd.CommandUUID})
		if _, err := e.svc.Connect(ctx, e.orgA, checkin.Proof{Signature: signature(b, d, ack)}, ack); err != nil {
			b.Fatal(err)
		}
	}
	return d, rec
}

func mustDecode(b *testing.B, data []byte, v any) {
	if err := plistUnmarshal(data, v); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkIdleCheckIn: a device with nothing queued connects (signature
// verified, identity and device looked up, contact recorded, queue read).
func BenchmarkIdleCheckIn(b *testing.B) {
	for name, open := range backends(b) {
		b.Run(name, func(b *testing.B) {
			e := benchEnv(b, open(b))
			d, _ := enrolledDevice(b, e, "UDID-BENCH")
			idle := plistBody(b, map[string]any{"UDID": d.udid, "Status": "Idle"})
			proof := checkin.Proof{Signature: signature(b, d, idle)}
			b.ReportAllocs()
			for b.Loop() {
				if out, err := e.svc.Connect(b.Context(), e.orgA, proof, idle); err != nil || out != nil {
					b.Fatalf("idle connect: %v %q", err, out)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checkins/s")
		})
	}
}

// BenchmarkCommandRoundTrip: a command is queued, fetched on an Idle
// connection and acknowledged.
func BenchmarkCommandRoundTrip(b *testing.B) {
	for name, open := range backends(b) {
		b.Run(name, func(b *testing.B) {
			e := benchEnv(b, open(b))
			d, rec := enrolledDevice(b, e, "UDID-BENCH")
			idle := plistBody(b, map[string]any{"UDID": d.udid, "Status": "Idle"})
			idleProof := checkin.Proof{Signature: signature(b, d, idle)}
			b.ReportAllocs()
			for b.Loop() {
				if err := e.svc.Lock(b.Context(), e.orgA, rec.ID, "admin:bench", "", ""); err != nil {
					b.Fatal(err)
				}
				out, err := e.svc.Connect(b.Context(), e.orgA, idleProof, idle)
				if err != nil || out == nil {
					b.Fatalf("fetch: %v", err)
				}
				uuid := extractUUID(out)
				ack := plistBody(b, map[string]any{"UDID": d.udid, "Status": "Acknowledged", "CommandUUID": uuid})
				if out, err := e.svc.Connect(b.Context(), e.orgA, checkin.Proof{Signature: signature(b, d, ack)}, ack); err != nil || out != nil {
					b.Fatalf("ack: %v", err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "roundtrips/s")
		})
	}
}

// BenchmarkInventoryRoundTrip: an inventory query (SecurityInfo) is
// queued, fetched on an Idle connection and answered with its result,
// which is parsed, filtered through the privacy contract and stored (the
// drain phase of devicesim load, one device). The queueing is not timed.
func BenchmarkInventoryRoundTrip(b *testing.B) {
	for name, open := range backends(b) {
		b.Run(name, func(b *testing.B) {
			e := benchEnv(b, open(b))
			ctx := b.Context()
			d, rec := enrolledDevice(b, e, "UDID-BENCH")
			idle := plistBody(b, map[string]any{"UDID": d.udid, "Status": "Idle"})
			idleProof := checkin.Proof{Signature: signature(b, d, idle)}
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				i++
				cmd := mdm.SecurityInfo()
				body, err := cmd.Encode()
				if err != nil {
					b.Fatal(err)
				}
				uuid := cmd.UUID
				if err := e.store.EnqueueCommand(ctx, e.orgA, []string{rec.ID}, enroll.Command{UUID: uuid, RequestType: cmd.RequestType, Body: body},
					storage.AuditEntry{Org: e.orgA, Time: now, Actor: "admin:bench", Action: "command.enqueue"}); err != nil {
					b.Fatal(err)
				}
				ack := plistBody(b, map[string]any{"UDID": d.udid, "Status": "Acknowledged", "CommandUUID": uuid,
					"SecurityInfo": map[string]any{"HardwareEncryptionCaps": 3, "PasscodePresent": true, "PasscodeCompliant": i%2 == 0,
						"PasscodeCompliantWithProfiles": true, "ManagementStatus": map[string]any{"EnrolledViaDEP": false,
							"IsUserEnrollment": false, "UserApprovedEnrollment": true}}})
				ackProof := checkin.Proof{Signature: signature(b, d, ack)}
				b.StartTimer()
				out, err := e.svc.Connect(ctx, e.orgA, idleProof, idle)
				if err != nil || out == nil || extractUUID(out) != uuid {
					b.Fatalf("fetch: %v %q", err, out)
				}
				if out, err := e.svc.Connect(ctx, e.orgA, ackProof, ack); err != nil || out != nil {
					b.Fatalf("ack: %v %q", err, out)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "roundtrips/s")
		})
	}
}

func extractUUID(cmd []byte) string {
	s := string(cmd)
	i := strings.Index(s, "<key>CommandUUID</key>")
	s = s[i:]
	i = strings.Index(s, "<string>") + len("<string>")
	return s[i : i+strings.Index(s[i:], "<")]
}

// BenchmarkFanOut100k: one command queued for 100,000 enrolled devices and
// each woken through the local fake APNs (memory backend; run with
// -benchtime=1x).
func BenchmarkFanOut100k(b *testing.B) {
	const n = 100_000
	fake := apnstest.NewServer()
	defer fake.Close()
	e := benchEnv(b, memory.New())
	ctx := b.Context()
	devices := make([]string, n)
	for i := range devices {
		devices[i] = fmt.Sprintf("dev-%06d", i)
		if _, err := e.store.StartEnrollment(ctx, enroll.Enrollment{Org: e.orgA, Device: devices[i], Channel: devices[i], Updated: now}); err != nil {
			b.Fatal(err)
		}
		if _, _, err := e.store.UpdateToken(ctx, e.orgA, devices[i], enroll.TokenUpdate{Token: []byte(devices[i]), PushMagic: "m", At: now}); err != nil {
			b.Fatal(err)
		}
	}
	pusher := checkin.NewPusher(e.store, apnsClient(b, fake), checkin.WithPushLogger(quiet), checkin.WithCoalesce(0))
	cmd := mdm.SecurityInfo()
	body, _ := cmd.Encode()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := e.store.EnqueueCommand(ctx, e.orgA, devices, enroll.Command{UUID: fmt.Sprint(cmd.UUID, i), RequestType: cmd.RequestType, Body: body},
			storage.AuditEntry{Org: e.orgA, Time: now, Actor: "admin:bench", Action: "command.enqueue"}); err != nil {
			b.Fatal(err)
		}
		enqueued := time.Since(start)
		st, err := pusher.WakeAll(context.Background(), e.orgA, devices)
		if err != nil || st.Pushed != n {
			b.Fatalf("wake: %+v %v", st, err)
		}
		b.ReportMetric(enqueued.Seconds(), "enqueue-s")
		b.ReportMetric(time.Since(start).Seconds(), "enqueue+push-s")
	}
}

// BenchmarkEnroll: the check-in half of a direct enrollment, Authenticate
// then the first TokenUpdate of a new device, through the service (the
// signed messages verified, the device registered, its identity bound,
// the enrollment started, then completed with the first inventory
// commands queued). The identities are issued and recorded before the
// timer starts. On a shared machine wall time says little: cpu-µs/op is
// the process's CPU time (user + system, every thread) per enrollment.
func BenchmarkEnroll(b *testing.B) {
	for name, open := range backends(b) {
		b.Run(name, func(b *testing.B) {
			e := benchEnv(b, open(b))
			ctx := b.Context()
			type msg struct {
				d         *device
				auth, tok []byte
				authSig   string
				tokSig    string
			}
			msgs := make([]msg, b.N)
			for i := range msgs {
				udid := fmt.Sprintf("UDID-BENCH-%d", i)
				d := e.newDevice(e.orgA, udid, "alice")
				m := msg{d: d,
					auth: plistBody(b, map[string]any{"MessageType": "Authenticate", "UDID": udid, "Topic": topic, "ProductName": "iPhone15,2", "SerialNumber": "SER-" + udid}),
					tok:  plistBody(b, map[string]any{"MessageType": "TokenUpdate", "UDID": udid, "Topic": topic, "Token": []byte("t-" + udid), "PushMagic": "m"}),
				}
				m.authSig, m.tokSig = signature(b, d, m.auth), signature(b, d, m.tok)
				msgs[i] = m
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU(b)
			for _, m := range msgs {
				if _, err := e.svc.CheckIn(ctx, e.orgA, checkin.Proof{Signature: m.authSig}, m.auth); err != nil {
					b.Fatal(err)
				}
				if _, err := e.svc.CheckIn(ctx, e.orgA, checkin.Proof{Signature: m.tokSig}, m.tok); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// processCPU is the test process's CPU time so far.
func processCPU(b *testing.B) time.Duration {
	d, ok := cputime.Process()
	if !ok {
		b.Fatal("no process CPU time here")
	}
	return d
}
