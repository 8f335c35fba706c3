package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/openomm/omm"
	"github.com/openomm/omm/android/amapi/amapitest"
	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/storage/seal"
)

// server is the product around the SDK: the web portal and console, the
// admin token, the demo org, and the local Android Management API fake.
type server struct {
	log   *slog.Logger
	now   func() time.Time
	store store
	sdk   *omm.SDK
	dir   *auth.LocalDirectory
	amapi *amapitest.Server // the local Android Management API fake, when on

	admin   *adminKeys
	console *consoleSessions
	csrfKey []byte
	pages   map[string]*template.Template
	ready   atomic.Bool
}

type serverDeps struct {
	// serving is the TLS certificate served, for the SDK's credential
	// expiry (nil: not shown).
	serving   *x509.Certificate
	log       *slog.Logger
	now       func() time.Time
	push      pushSetup
	publicURL string
	// appleOnly leaves the Android channel off, for the enroll-profile
	// subcommand, which issues Apple profiles only (and so has nothing to
	// say about Knox licenses or the Android Management API).
	appleOnly bool
}

func newServer(ctx context.Context, s store, cfg config, d serverDeps) (*server, error) {
	srv := &server{log: d.log, now: d.now, store: s, console: newConsoleSessions(d.now)}
	var err error
	if srv.dir, err = auth.NewLocalDirectory(s, auth.WithLogger(d.log), auth.WithClock(d.now)); err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	var android omm.AndroidConfig
	if !d.appleOnly {
		var err error
		if android, err = srv.androidConfig(cfg, d.publicURL); err != nil {
			return nil, err
		}
	}
	replica, err := replicaID(cfg.dataDir)
	if err != nil {
		return nil, err
	}
	keyFile := cfg.secretsKey
	if keyFile == "" {
		keyFile = filepath.Join(cfg.dataDir, secretsKeyFile)
	}
	keeper, err := seal.LoadOrCreateKeyFile(keyFile, d.log)
	if err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	oc := omm.Config{Store: s, Directory: srv.dir, PublicURL: d.publicURL, Topic: d.push.topic, Android: android,
		AllowSimulators: cfg.allowSimulators, MaxOpenEnrollments: cfg.maxOpenEnrollments, Secrets: keeper, Logger: d.log, Clock: d.now,
		IdentityValidity: cfg.identityValidity, ReplicaID: replica, PushClaim: cfg.pushClaim,
		ReapplyBatch: cfg.reapplyBatch}
	if d.serving != nil {
		oc.ServingCertificate = func() *x509.Certificate { return d.serving }
	}
	if cfg.mfaSender == mfaSenderLog || cfg.mfaSender == "" {
		oc.MFASender = auth.DevelopmentSender(d.log)
		if !d.appleOnly {
			d.log.Warn("DEVELOPMENT SMS/voice sender: sign-in codes are written to this log, not sent; connect a gateway (auth.Sender) for real phones, or -mfa-sender off")
		}
	}
	if len(cfg.proxies) > 0 {
		oc.Proxy = omm.ProxyConfig{ClientCertHeader: cfg.clientCertHeader, Trusted: cfg.proxies, ForwardedFor: cfg.forwardedFor}
	}
	if d.push.client != nil {
		oc.Push = d.push.client
	} else {
		d.log.Info("app store: push disabled, devices see new installs at their next check-in")
	}
	if srv.sdk, err = omm.New(ctx, oc); err != nil {
		return nil, err
	}
	if srv.csrfKey, err = loadOrCreateSecret(filepath.Join(cfg.dataDir, "csrf.key")); err != nil {
		return nil, fmt.Errorf("CSRF key: %w", err)
	}
	if srv.pages, err = parsePages(); err != nil {
		return nil, err
	}
	return srv, nil
}

// replicaFile names this server among the replicas sharing a database
// (omm.Config.ReplicaID): kept across restarts, so that a restarted
// server resumes its own leases at once. Replicas copy the rest of the
// data directory (the TLS certificate, the CSRF and admin keys) but not
// this file.
const replicaFile = "replica.id"

// replicaID returns this server's replica name, created once.
func replicaID(dataDir string) (string, error) {
	key, err := loadOrCreateSecret(filepath.Join(dataDir, replicaFile))
	if err != nil {
		return "", fmt.Errorf("replica ID: %w", err)
	}
	return "ommserver-" + hex.EncodeToString(key[:8]), nil
}

// secretsKeyFile is where, in the data directory, the key that seals the
// database's secrets is kept (unless -secrets-key names another file).
const secretsKeyFile = "secrets.key"

// loadOrCreateSecret returns the 32-byte key in path, creating it once.
func loadOrCreateSecret(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if err == nil && len(key) == 32 {
		return key, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err == nil {
		return nil, fmt.Errorf("%s: want 32 bytes, have %d", path, len(key))
	}
	key = make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, key, 0o600); err != nil {
		return nil, err
	}
	return key, nil
}

// tlsConfig serves the development certificate and asks for (without
// requiring) a client certificate: devices present their SCEP identity,
// browsers and the agent app present none. Check-in verifies the identity
// against the org's CA itself. TLS is kept cheap for phones, which open a
// new connection on every wake: the serving key is ECDSA P-256, session
// tickets are on (Go's default; the keys rotate in memory, so a restart or
// another replica means one full handshake per device), a resumed
// session keeps its client certificate, and a certificate's chain is
// verified once (enroll/checkin's cache), not per connection: no
// VerifyPeerCertificate or VerifyConnection runs on any handshake. The
// key exchange is chosen by the listener (devicetls). NextProtos is set
// here because the server is given a TLS listener, not ServeTLS.
func tlsConfig(ca *devCA, http2 bool) *tls.Config {
	c := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{ca.serving},
		ClientAuth:   tls.RequestClientCert,
		NextProtos:   []string{"http/1.1"},
	}
	if http2 {
		c.NextProtos = []string{"h2", "http/1.1"}
	}
	return c
}

// protocols are the HTTP versions served over TLS: HTTP/1.1, and HTTP/2
// only when asked for. A phone opens a connection per wake and sends one
// or a few requests on it; HTTP/2's per-connection set-up (settings,
// HPACK tables, a goroutine per stream) cost a tenth of the server's CPU
// per resumed idle check-in and buys nothing for one request at a time.
func protocols(http2 bool) *http.Protocols {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetHTTP2(http2)
	return p
}

// router is the server's ServeMux, remembering every pattern registered so
// that the route matrix test can prove each one has an access rule.
type router struct {
	*http.ServeMux
	patterns []string
}

func (rt *router) Handle(pattern string, h http.Handler) {
	rt.patterns = append(rt.patterns, pattern)
	rt.ServeMux.Handle(pattern, h)
}

func (rt *router) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	rt.Handle(pattern, http.HandlerFunc(h))
}

func (s *server) routes() http.Handler {
	return securityHeaders(omm.AuditDenied(s.router(), s.store, s.admin.Org, s.deniedWho,
		omm.WithDeniedClock(s.now), omm.WithDeniedLogger(s.log), omm.WithDeniedSessions(s.sdk.Auth), omm.WithDeniedSource(s.sdk.ClientSource)))
}

// router registers every route of the server: the SDK's handlers under
// their paths, the product's own beside them.
func (s *server) router() *router {
	mux := &router{ServeMux: http.NewServeMux()}
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)

	// Devices, the agent app and the admin API: the SDK's routes, the
	// admin API behind the admin token.
	for _, rt := range s.sdk.Routes() {
		mux.Handle(rt.Pattern, rt.Handler)
	}
	for _, rt := range s.sdk.AdminRoutes("/api/admin", s.adminAuth) {
		mux.Handle(rt.Pattern, rt.Handler)
	}

	// The local Android Management API fake's device side, when on.
	if s.amapi != nil {
		mux.Handle(fakeAMAPIPath+"/", http.StripPrefix(fakeAMAPIPath, s.amapi.Handler()))
	}

	// Web UI.
	s.webRoutes(mux)
	return mux
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	if err := s.store.Ping(r.Context()); err != nil {
		http.Error(w, "storage unavailable", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// readyz says whether the server takes traffic: started, not shutting down,
// storage reachable.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	if err := s.store.Ping(r.Context()); err != nil {
		http.Error(w, "storage unavailable", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Strict-Transport-Security", "max-age=31536000")
		h.ServeHTTP(w, r)
	})
}
