package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The measurements a benchmark run adds to a load run: device keys made
// before the clock starts, the raw signature rate of a key like the org
// CA's (the ceiling for enrollments), a drain phase (command round trips),
// and a plain HTTPS handler driven like the server (the ceiling for
// check-ins).

// caOpsPerEnrollment counts the private-key operations of the org CA in
// one direct enrollment as the simulator walks it: the signed
// .mobileconfig, the SCEP request's decryption, the certificate and the
// signed CertRep. The policy profile queued at the first TokenUpdate is
// the same for every device under the same rules and is signed once (see
// enroll/ota), not per enrollment.
const caOpsPerEnrollment = 4

// keyPool holds device keys generated before a timed enrollment run.
type keyPool struct {
	mu   sync.Mutex
	bits int
	keys []*rsa.PrivateKey
}

// newKeyPool generates n RSA keys of bits, one worker per CPU.
func newKeyPool(ctx context.Context, n, bits int) (*keyPool, error) {
	p := &keyPool{bits: bits, keys: make([]*rsa.PrivateKey, n)}
	var next atomic.Int64
	errc := make(chan error, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n && ctx.Err() == nil; i = int(next.Add(1)) - 1 {
				k, err := rsa.GenerateKey(rand.Reader, bits)
				if err != nil {
					errc <- err
					return
				}
				p.keys[i] = k
			}
		})
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return nil, err
	}
	return p, ctx.Err()
}

// take returns a pre-generated key of bits, or nil when none is left.
func (p *keyPool) take(bits int) *rsa.PrivateKey {
	p.mu.Lock()
	defer p.mu.Unlock()
	if bits != p.bits || len(p.keys) == 0 {
		return nil
	}
	k := p.keys[len(p.keys)-1]
	p.keys = p.keys[:len(p.keys)-1]
	return k
}

// newKey returns a device key: a pre-generated one when the pool has one.
func (a *api) newKey(bits int) (*rsa.PrivateKey, error) {
	if a.keys != nil {
		if k := a.keys.take(bits); k != nil {
			return k, nil
		}
	}
	return rsa.GenerateKey(rand.Reader, bits)
}

// signRate measures the private-key operations per second of a fresh key
// of the same kind and size as ca's (PKCS #1 v1.5 or ECDSA over SHA-256),
// one signer per CPU, for d: what the CA key can do on this machine.
func signRate(ctx context.Context, ca *x509.Certificate, d time.Duration) (rate float64, kind string, err error) {
	var key crypto.Signer
	switch pub := ca.PublicKey.(type) {
	case *rsa.PublicKey:
		kind = fmt.Sprintf("RSA-%d", pub.N.BitLen())
		key, err = rsa.GenerateKey(rand.Reader, pub.N.BitLen())
	case *ecdsa.PublicKey:
		kind = "ECDSA " + pub.Curve.Params().Name
		key, err = ecdsa.GenerateKey(pub.Curve, rand.Reader)
	default:
		return 0, "", fmt.Errorf("CA key %T: unsupported", ca.PublicKey)
	}
	if err != nil {
		return 0, "", err
	}
	digest := sha256.Sum256([]byte("devicesim raw signature rate"))
	var n atomic.Int64
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for ctx.Err() == nil {
				if _, err := key.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds(), kind, nil
}

// drain polls every device until its queue is empty, c devices at a time:
// each request after the first of a poll acknowledges a command and fetches
// the next; with disconnect, a device closes its connection after its poll.
// It returns the phase and the commands answered.
func drain(ctx context.Context, a *api, devices []*device, c int, disconnect bool) (phase, int) {
	rec := &recorder{}
	start := a.now()
	each(ctx, len(devices), c, func(i int) {
		st, _ := devices[i].poll(ctx, 0, nop, rec.observe)
		rec.commands.Add(int64(len(st.Commands)))
		if disconnect {
			devices[i].client.CloseIdleConnections()
		}
	})
	return rec.phase(a.now().Sub(start)), int(rec.commands.Load())
}

// merge joins two runs of one kind of phase.
func (p phase) merge(q phase) phase {
	lat := slices.Concat(p.Latencies, q.Latencies)
	slices.Sort(lat)
	return phase{
		Elapsed: p.Elapsed + q.Elapsed, Requests: p.Requests + q.Requests, Errors: p.Errors + q.Errors,
		Latencies: lat, FirstErrs: slices.Concat(p.FirstErrs, q.FirstErrs),
	}
}

// idleCeilingPlist is what the plain handler answers: a fixed, small plist.
var idleCeilingPlist = []byte(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict/></plist>
`)

// ceiling serves a plain net/http handler returning a fixed plist over
// HTTPS on loopback, with the server's TLS settings (ECDSA P-256
// certificate, client certificate requested, HTTP/2), and drives it with
// the same devices, concurrency and requests as the idle check-in phase:
// no handler of the server can answer faster on this machine.
func ceiling(ctx context.Context, a *api, devices []*device, c int, d time.Duration, maxRequests int, disconnect bool) (phase, error) {
	cert, roots, err := selfSigned()
	if err != nil {
		return phase{}, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return phase{}, err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 1<<20)); err != nil {
				http.Error(w, "body", http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/xml")
			w.Write(idleCeilingPlist) //nolint:errcheck // the client sees a short answer
		}),
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert},
		ErrorLog:          nil,
	}
	errc := make(chan error, 1)
	go func() {
		if a.forward != "" { // plain HTTP, as the server behind its proxy
			errc <- srv.Serve(ln)
			return
		}
		errc <- srv.ServeTLS(ln, "", "")
	}()
	defer func() {
		srv.Close()
		<-errc
	}()
	base := "https://" + ln.Addr().String()
	clones := make([]*device, len(devices))
	for i, dev := range devices {
		cl := *dev
		cl.base, cl.serverURL = base, base+"/mdm/connect"
		ca := *a
		ca.roots = roots
		if dev.signed {
			cl.client = ca.deviceClient(nil)
		} else {
			cl.client = ca.deviceClient(&tls.Certificate{Certificate: [][]byte{dev.identity.Raw}, PrivateKey: dev.key, Leaf: dev.identity})
		}
		clones[i] = &cl
	}
	rec := &recorder{}
	runCtx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := a.now()
	var wg sync.WaitGroup
	workers := min(c, len(clones))
	for w := range workers {
		wg.Go(func() {
			for i := w; runCtx.Err() == nil && rec.requests.Load() < int64(maxRequests); i += workers {
				if i >= len(clones) {
					i = w
				}
				t0 := a.now()
				_, err := clones[i].put(runCtx, clones[i].serverURL, map[string]any{"Status": "Idle"})
				if err != nil && runCtx.Err() != nil {
					return
				}
				rec.observe(a.now().Sub(t0), err)
				if disconnect {
					clones[i].client.CloseIdleConnections()
				}
			}
		})
	}
	wg.Wait()
	for _, cl := range clones {
		cl.client.CloseIdleConnections()
	}
	return rec.phase(a.now().Sub(start)), nil
}

// selfSigned makes an ECDSA P-256 serving certificate for 127.0.0.1 and
// the pool that trusts it.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: "devicesim ceiling"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots, nil
}

// cpuMeter reads local processes' CPU time (user + system) from
// /proc/PID/stat around phases: one process (pid), or the processes a
// command lists (pidsCmd, such as a database's backends for one client);
// with neither it records nothing.
type cpuMeter struct {
	pid     int
	pidsCmd string
	at      map[int]time.Duration
	got     map[string]time.Duration
	fail    bool
}

// pids returns the processes measured.
func (m *cpuMeter) pids() []int {
	if m.pid > 0 {
		return []int{m.pid}
	}
	if m.pidsCmd == "" || m.fail {
		return nil
	}
	out, err := exec.Command("sh", "-c", m.pidsCmd).Output()
	if err != nil {
		m.fail = true
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if p, err := strconv.Atoi(f); err == nil && p > 0 {
			pids = append(pids, p)
		}
	}
	return pids
}

// readAll returns the CPU time of each process measured.
func (m *cpuMeter) readAll() (map[int]time.Duration, bool) {
	pids := m.pids()
	if len(pids) == 0 {
		return nil, false
	}
	out := map[int]time.Duration{}
	for _, pid := range pids {
		t, err := procCPU(pid)
		if err != nil {
			if pid == m.pid {
				m.fail = true
				return nil, false
			}
			continue // a backend that ended
		}
		out[pid] = t
	}
	return out, true
}

// procCPU reads a process's CPU time from /proc.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the parenthesized command name: state is field 3,
	// utime and stime are fields 14 and 15, in clock ticks (100 Hz).
	rest := string(data)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: not a number", pid)
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

func (m *cpuMeter) start() { m.at, _ = m.readAll() }

// cpuMeters measures the server, the simulator and the database over the
// same phases.
type cpuMeters struct{ server, sim, db cpuMeter }

func (m *cpuMeters) start() { m.server.start(); m.sim.start(); m.db.start() }

func (m *cpuMeters) stop(name string) { m.server.stop(name); m.sim.stop(name); m.db.stop(name) }

// stop records the CPU time since start: of each process measured at
// the end, less what it had at the start (a process started during the
// phase counts whole; one that ended during it is lost).
func (m *cpuMeter) stop(name string) {
	now, ok := m.readAll()
	if !ok {
		return
	}
	var sum time.Duration
	for pid, t := range now {
		sum += t - m.at[pid]
	}
	m.got[name] = sum
}

// phaseReport is a phase in the JSON report.
type phaseReport struct {
	Requests  int     `json:"requests"`
	Errors    int     `json:"errors"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
	P50ms     float64 `json:"p50_ms"`
	P90ms     float64 `json:"p90_ms"`
	P99ms     float64 `json:"p99_ms"`
	MaxMs     float64 `json:"max_ms"`
	// ServerCPUms is the server's CPU time during the phase (0 when not
	// measured); ServerCPUPerRequestUs divides it by the requests.
	ServerCPUms           float64 `json:"server_cpu_ms,omitempty"`
	ServerCPUPerRequestUs float64 `json:"server_cpu_per_request_us,omitempty"`
	// SimCPUPerRequestUs is the simulator's own CPU time per request.
	SimCPUPerRequestUs float64 `json:"sim_cpu_per_request_us,omitempty"`
	// DBCPUms is the database's CPU time during the phase (-db-pids).
	DBCPUms float64 `json:"db_cpu_ms,omitempty"`
}

func reportOf(p phase) phaseReport {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return phaseReport{
		Requests: p.Requests, Errors: p.Errors, Seconds: p.Elapsed.Seconds(), PerSecond: p.Throughput(),
		P50ms: ms(p.Percentile(50)), P90ms: ms(p.Percentile(90)), P99ms: ms(p.Percentile(99)), MaxMs: ms(p.Percentile(100)),
	}
}

// loadReport is the JSON form of a load run, for scripts/bench.
type loadReport struct {
	Devices     int    `json:"devices"`
	Concurrency int    `json:"concurrency"`
	Proof       string `json:"proof"`
	CPUs        int    `json:"cpus"`

	KeyGenSeconds float64 `json:"keygen_seconds"`
	// Profile is the enrollment decisions and profiles fetched before the
	// protocol (-split-enroll); Enroll is then SCEP, Authenticate and
	// TokenUpdate alone, otherwise the whole enrollment.
	Profile phaseReport `json:"profile"`
	Enroll  phaseReport `json:"enroll"`
	// CAOpsPerSecond is the org CA's private-key operations per second
	// the server achieved while enrolling (enrollments/s ×
	// caOpsPerEnrollment); SignRate is the raw rate of such a key.
	CAOpsPerSecond     float64 `json:"ca_ops_per_second"`
	CAOpsPerEnrollment int     `json:"ca_ops_per_enrollment"`
	SignKey            string  `json:"sign_key"`
	SignRate           float64 `json:"sign_rate"`

	Drain         phaseReport `json:"drain"`
	DrainCommands int         `json:"drain_commands"`
	// Queue is queueing an inventory refresh per device through the
	// admin API, Inventory answering those queries (-inventory).
	Queue             phaseReport `json:"queue"`
	Inventory         phaseReport `json:"inventory"`
	InventoryCommands int         `json:"inventory_commands"`
	CheckIn           phaseReport `json:"checkin"`
	Commands          int         `json:"checkin_commands"`
	Ceiling           phaseReport `json:"ceiling"`
	// Webhook is what the event receiver saw (-webhook-listen).
	Webhook *hookStats `json:"webhook,omitempty"`
	// Conn is how the devices connected (-conn); Handshakes the TLS
	// handshakes per phase.
	Conn       string                    `json:"conn"`
	Handshakes map[string]handshakeCount `json:"handshakes"`
}

func withCPU(p phaseReport, cpu, sim time.Duration) phaseReport {
	p.ServerCPUms = float64(cpu) / float64(time.Millisecond)
	if p.Requests > 0 {
		p.ServerCPUPerRequestUs = float64(cpu) / float64(time.Microsecond) / float64(p.Requests)
		p.SimCPUPerRequestUs = float64(sim) / float64(time.Microsecond) / float64(p.Requests)
	}
	return p
}

func writeReport(path string, r loadResult, proof string, caOps int) error {
	rep := loadReport{
		Devices: r.Devices, Concurrency: r.Concurrency, Proof: proof, CPUs: runtime.NumCPU(),
		KeyGenSeconds: r.KeyGen.Seconds(), Profile: reportOf(r.Profile), Enroll: reportOf(r.Enroll),
		CAOpsPerEnrollment: caOps, SignKey: r.SignKey, SignRate: r.SignRate,
		Drain: reportOf(r.Drain), DrainCommands: r.DrainCommands,
		Queue: reportOf(r.Queue), Inventory: reportOf(r.Inventory), InventoryCommands: r.InventoryCommands,
		CheckIn: reportOf(r.CheckIn), Commands: r.Commands, Ceiling: reportOf(r.Ceiling),
	}
	rep.Profile = withCPU(rep.Profile, r.ServerCPU["profile"], r.SimCPU["profile"])
	rep.Enroll = withCPU(rep.Enroll, r.ServerCPU["enroll"], r.SimCPU["enroll"])
	rep.Drain = withCPU(rep.Drain, r.ServerCPU["drain"], r.SimCPU["drain"])
	rep.Queue = withCPU(rep.Queue, r.ServerCPU["queue"], r.SimCPU["queue"])
	rep.Inventory = withCPU(rep.Inventory, r.ServerCPU["inventory"], r.SimCPU["inventory"])
	rep.CheckIn = withCPU(rep.CheckIn, r.ServerCPU["checkin"], r.SimCPU["checkin"])
	ms := func(name string) float64 { return float64(r.DBCPU[name]) / float64(time.Millisecond) }
	rep.Enroll.DBCPUms, rep.Drain.DBCPUms, rep.CheckIn.DBCPUms = ms("enroll"), ms("drain"), ms("checkin")
	rep.Queue.DBCPUms, rep.Inventory.DBCPUms, rep.Profile.DBCPUms = ms("queue"), ms("inventory"), ms("profile")
	rep.Webhook = r.Webhook
	rep.Conn, rep.Handshakes = r.Conn, r.Handshakes
	if r.Enroll.Elapsed > 0 {
		rep.CAOpsPerSecond = float64(r.Enroll.Requests-r.Enroll.Errors) / r.Enroll.Elapsed.Seconds() * float64(caOps)
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}
