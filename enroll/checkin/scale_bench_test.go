package checkin_test

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/apns/apnstest"
	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/enroll/mdm"
	"github.com/openomm/omm/internal/cms"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/postgres"

	"github.com/jackc/pgx/v5"
)

// Benchmarks for issue 12: how an idle check-in's cost grows with the
// number of enrolled devices, the queue's dequeue and acknowledgement on
// each backend, the Mdm-Signature check, and one command fanned out to
// 10,000 (and, with OMM_BENCH_100K=1, 100,000) devices. scripts/bench runs
// them.

// scaleSizes are the enrolled-device counts of the scaling benchmarks;
// 100,000 takes minutes to seed on the SQL backends, so it is opt-in.
func scaleSizes() []int {
	if os.Getenv("OMM_BENCH_100K") == "1" {
		return []int{1_000, 10_000, 100_000}
	}
	return []int{1_000, 10_000}
}

// deviceSizes are scaleSizes for benchmarks that seed device records: the
// memory store finds a device by identifier with a scan (fine for tests,
// quadratic when seeding 100,000), so it stops at 10,000.
func deviceSizes(backend string) []int {
	if backend == "memory" {
		return []int{1_000, 10_000}
	}
	return scaleSizes()
}

// seedDevices brings the org to n enrolled devices (beyond those it has):
// each a device record, a bound identity and an enrollment with a push
// token, written through the store contracts, eight writers at a time.
// It returns the new devices' IDs.
func seedDevices(b *testing.B, e *env, from, n int) []string {
	return seed(b, e, from, n, seedOne)
}

// seedEnrollments is seedDevices for the fan-out, which reads only the
// enrollments: an enrollment with a push token per device, no device
// record or identity.
func seedEnrollments(b *testing.B, e *env, from, n int) []string {
	return seed(b, e, from, n, func(ctx context.Context, e *env, i int, id *string) error {
		dev := fmt.Sprintf("dev-%07d", i)
		if _, err := e.store.StartEnrollment(ctx, enroll.Enrollment{Org: e.orgA, Device: dev, Channel: dev, Updated: now}); err != nil {
			return err
		}
		if _, _, err := e.store.UpdateToken(ctx, e.orgA, dev, enroll.TokenUpdate{Token: []byte(dev), PushMagic: "m", At: now}); err != nil {
			return err
		}
		*id = dev
		return nil
	})
}

func seed(b *testing.B, e *env, from, n int, one func(context.Context, *env, int, *string) error) []string {
	b.Helper()
	ids := make([]string, n-from)
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	ctx := b.Context()
	for range 8 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(ids) && failed.Load() == nil; i = int(next.Add(1)) - 1 {
				if err := one(ctx, e, from+i, &ids[i]); err != nil {
					failed.Store(&err)
				}
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatalf("seed: %v", *err)
	}
	return ids
}

func seedOne(ctx context.Context, e *env, i int, id *string) error {
	udid := fmt.Sprintf("SEED-%07d", i)
	entry := storage.AuditEntry{Org: e.orgA, Time: now, Actor: "system:bench-seed", Action: "device.register"}
	d, err := e.store.CreateDevice(ctx, inventory.Device{
		ID: inventory.NewDeviceID(), Org: e.orgA, UserID: "alice", Platform: inventory.PlatformIOS,
		Ownership: inventory.OwnershipPersonal, EnrollmentType: inventory.EnrollAppleDevice,
		State: inventory.StateEnrolled, Identifier: udid, SerialNumber: udid,
	}, entry)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(udid))
	fp := enroll.Fingerprint(hex.EncodeToString(sum[:]))
	if _, err := e.store.RecordIdentity(ctx, enroll.Identity{
		Org: e.orgA, Fingerprint: fp, Serial: fmt.Sprintf("%x", i+1), Session: enroll.NewSessionID(), UserID: "alice", Purpose: enroll.PurposeMDM,
		Issued: now, NotAfter: now.AddDate(1, 0, 0),
	}, storage.AuditEntry{Org: e.orgA, Time: now, Actor: "system:bench-seed", Action: "identity.issue"}); err != nil {
		return err
	}
	if _, err := e.store.BindIdentity(ctx, e.orgA, fp, d.ID,
		storage.AuditEntry{Org: e.orgA, Time: now, Actor: "system:bench-seed", Action: "device.identity.bind"}); err != nil {
		return err
	}
	if _, err := e.store.StartEnrollment(ctx, enroll.Enrollment{Org: e.orgA, Device: d.ID, Channel: udid, Updated: now}); err != nil {
		return err
	}
	if _, _, err := e.store.UpdateToken(ctx, e.orgA, d.ID, enroll.TokenUpdate{Token: []byte(udid), PushMagic: "m", At: now}); err != nil {
		return err
	}
	*id = d.ID
	return nil
}

// BenchmarkIdleCheckInScale: the idle check-in of one device (TLS client
// certificate, as ommserver's devices) among 1,000, 10,000 (and 100,000)
// enrolled devices. The cost per check-in must not grow with the count.
func BenchmarkIdleCheckInScale(b *testing.B) {
	for name, open := range backends(b) {
		b.Run(name, func(b *testing.B) {
			e := benchEnv(b, open(b))
			d, _ := enrolledDevice(b, e, "UDID-BENCH")
			idle := plistBody(b, map[string]any{"UDID": d.udid, "Status": "Idle"})
			proof := checkin.Proof{TLS: d.cert}
			have := 1
			for _, n := range deviceSizes(name) {
				seedDevices(b, e, have, n)
				have = n
				b.Run(fmt.Sprintf("devices=%d", n), func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						if out, err := e.svc.Connect(b.Context(), e.orgA, proof, idle); err != nil || out != nil {
							b.Fatalf("idle connect: %v %q", err, out)
						}
					}
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checkins/s")
					runtime.GC()
					var ms runtime.MemStats
					runtime.ReadMemStats(&ms)
					b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MB")
				})
			}
		})
	}
}

// BenchmarkQueue: the store's side of a command: dequeue (NextCommand,
// counting the delivery) and acknowledgement (RecordOutcome), on a device
// with one command queued; and the dequeue of an idle device, which finds
// nothing.
func BenchmarkQueue(b *testing.B) {
	for name, open := range backends(b) {
		b.Run(name, func(b *testing.B) {
			e := benchEnv(b, open(b))
			ctx := b.Context()
			ids := seedDevices(b, e, 0, 2)
			cmd := mdm.SecurityInfo()
			body, err := cmd.Encode()
			if err != nil {
				b.Fatal(err)
			}
			opt := enroll.NextOptions{Now: now, QueuedAfter: now.Add(-time.Hour)}
			i := 0 // command UUIDs stay unique across the runs of the sub-benchmark
			b.Run("dequeue+ack", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					b.StopTimer()
					i++
					uuid := fmt.Sprintf("%s-%d", cmd.UUID, i)
					if err := e.store.EnqueueCommand(ctx, e.orgA, ids[:1], enroll.Command{UUID: uuid, RequestType: cmd.RequestType, Body: body},
						storage.AuditEntry{Org: e.orgA, Time: now, Actor: "admin:bench", Action: "command.enqueue"}); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					q, err := e.store.NextCommand(ctx, e.orgA, ids[0], opt)
					if err != nil || q.UUID != uuid {
						b.Fatalf("dequeue: %v %q", err, q.UUID)
					}
					if _, ok, err := e.store.RecordOutcome(ctx, e.orgA, ids[0], enroll.Outcome{UUID: uuid, Status: enroll.StatusAcknowledged, Time: now}); err != nil || !ok {
						b.Fatalf("ack: %v", err)
					}
				}
			})
			b.Run("dequeue-empty", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := e.store.NextCommand(ctx, e.orgA, ids[1], opt); err == nil {
						b.Fatal("a command for the idle device")
					}
				}
			})
		})
	}
}

// BenchmarkVerifyMdmSignature: checking an Mdm-Signature header (base64,
// CMS parse, detached signature over a check-in body, chain to the org CA),
// beside the TLS path's chain check of the same certificate.
func BenchmarkVerifyMdmSignature(b *testing.B) {
	e := benchEnv(b, backends(b)["memory"](b))
	d := e.newDevice(e.orgA, "UDID-SIG", "alice")
	body := plistBody(b, map[string]any{"UDID": d.udid, "Status": "Idle"})
	header := signature(b, d, body)
	roots := x509.NewCertPool()
	roots.AddCert(e.cas[e.orgA].cert)
	b.Run("signature", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			der, err := base64.StdEncoding.DecodeString(header)
			if err != nil {
				b.Fatal(err)
			}
			sd, err := cms.Parse(der, cms.Limits{MaxSize: 32 << 10, MaxDepth: 32})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := sd.VerifyDetached(body, cms.VerifyOptions{Roots: roots,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: now}); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The service's own check, as a check-in runs it: a device's every
	// message signed by the same certificate.
	b.Run("service-signature", func(b *testing.B) {
		b.ReportAllocs()
		p := checkin.Proof{Signature: header}
		for b.Loop() {
			if _, err := e.svc.VerifyProof(b.Context(), e.orgA, p, body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("service-tls", func(b *testing.B) {
		b.ReportAllocs()
		p := checkin.Proof{TLS: d.cert}
		for b.Loop() {
			if _, err := e.svc.VerifyProof(b.Context(), e.orgA, p, body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tls-chain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.cert.Verify(x509.VerifyOptions{Roots: roots,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: now}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkFanOut: one command queued for every enrolled device and each
// woken through the local fake APNs (HTTP/2 over TLS on loopback), on each
// backend, at 10,000 devices (and 100,000 with OMM_BENCH_100K=1). Run with
// -benchtime=1x: enqueue-s and enqueue+push-s are the figures.
func BenchmarkFanOut(b *testing.B) {
	for name, open := range backends(b) {
		b.Run(name, func(b *testing.B) {
			fake := apnstest.NewServer()
			defer fake.Close()
			e := benchEnv(b, open(b))
			ctx := b.Context()
			var devices []string
			for _, n := range scaleSizes()[1:] {
				devices = append(devices, seedEnrollments(b, e, len(devices), n)...)
				b.Run(fmt.Sprintf("devices=%d", n), func(b *testing.B) {
					pusher := checkin.NewPusher(e.store, apnsClient(b, fake), checkin.WithPushLogger(quiet), checkin.WithCoalesce(0))
					cmd := mdm.SecurityInfo()
					body, err := cmd.Encode()
					if err != nil {
						b.Fatal(err)
					}
					for i := 0; b.Loop(); i++ {
						start := time.Now()
						if err := e.store.EnqueueCommand(ctx, e.orgA, devices, enroll.Command{UUID: fmt.Sprintf("%s-%d-%d", cmd.UUID, n, i), RequestType: cmd.RequestType, Body: body},
							storage.AuditEntry{Org: e.orgA, Time: now, Actor: "admin:bench", Action: "command.enqueue"}); err != nil {
							b.Fatal(err)
						}
						enqueued := time.Since(start)
						st, err := pusher.WakeAll(context.Background(), e.orgA, devices)
						if err != nil || st.Pushed != len(devices) {
							b.Fatalf("wake: %+v %v", st, err)
						}
						b.ReportMetric(enqueued.Seconds(), "enqueue-s")
						b.ReportMetric(time.Since(start).Seconds(), "enqueue+push-s")
					}
				})
			}
		})
	}
}

// BenchmarkFanOutReplicas: one command to 10,000 (with OMM_BENCH_100K=1,
// 100,000) devices on PostgreSQL, pushed through the outbox by one
// replica (its Wake) or shared by two: replica A's Wake beside replica B's
// Drain, each with its own connection pool and its own fake APNs. The
// figure is the time from the enqueue to the last push; B's share says how
// the work was split.
func BenchmarkFanOutReplicas(b *testing.B) {
	dsn := os.Getenv("OMM_TEST_POSTGRES_DSN")
	if dsn == "" {
		b.Skip("OMM_TEST_POSTGRES_DSN not set")
	}
	schema := "omm_bench_" + strings.ToLower(fmt.Sprint(time.Now().UnixNano()))
	open := func() backend {
		s, err := postgres.Open(b.Context(), dsn, postgres.WithSchema(schema), postgres.WithLogger(quiet))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}
	e := benchEnv(b, open())
	b.Cleanup(func() {
		if conn, err := pgx.Connect(context.Background(), dsn); err == nil {
			conn.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE") //nolint:errcheck // best effort
			conn.Close(context.Background())
		}
	})
	storeB := open()
	n := scaleSizes()[len(scaleSizes())-1]
	devices := seedEnrollments(b, e, 0, n)
	fakeA, fakeB := apnstest.NewServer(), apnstest.NewServer()
	defer fakeA.Close()
	defer fakeB.Close()
	outbox := func(s backend, fake *apnstest.Server) *checkin.Outbox {
		return checkin.NewOutbox(s, checkin.NewPusher(s, apnsClient(b, fake), checkin.WithPushLogger(quiet), checkin.WithCoalesce(0)),
			checkin.WithOutboxLogger(quiet))
	}
	a, bb := outbox(e.store, fakeA), outbox(storeB, fakeB)
	for _, replicas := range []int{1, 2} {
		b.Run(fmt.Sprintf("devices=%d/replicas=%d", n, replicas), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				beforeA, beforeB := len(fakeA.Pushes()), len(fakeB.Pushes())
				start := time.Now()
				if err := e.store.EnqueueCommand(b.Context(), e.orgA, devices, enroll.Command{UUID: fmt.Sprintf("fan-%d-%d", replicas, i),
					RequestType: "SecurityInfo", Body: []byte("<plist/>")},
					storage.AuditEntry{Org: e.orgA, Time: now, Actor: "admin:bench", Action: "command.enqueue"}); err != nil {
					b.Fatal(err)
				}
				enqueued := time.Since(start)
				var wg sync.WaitGroup
				wg.Go(func() {
					if err := a.Wake(b.Context(), e.orgA, devices); err != nil {
						b.Error(err)
					}
				})
				if replicas == 2 {
					wg.Go(func() {
						if _, err := bb.Drain(b.Context(), e.orgA); err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
				pushedA, pushedB := len(fakeA.Pushes())-beforeA, len(fakeB.Pushes())-beforeB
				if pushedA+pushedB < n {
					b.Fatalf("pushed %d + %d of %d devices", pushedA, pushedB, n)
				}
				b.ReportMetric(enqueued.Seconds(), "enqueue-s")
				b.ReportMetric(time.Since(start).Seconds(), "enqueue+push-s")
				b.ReportMetric(float64(pushedB)/float64(pushedA+pushedB), "share-B")
				b.ReportMetric(float64(pushedA+pushedB-n), "extra-pushes")
			}
		})
	}
}
