package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/android/amapi/amapitest"
	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/enroll/ota"
	"github.com/openomm/omm/enroll/scep"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// server holds the composed services and serves them over HTTP.
type server struct {
	log   *slog.Logger
	now   func() time.Time
	store store

	dir     *auth.LocalDirectory
	auth    *auth.Service
	policy  *policy.Service
	inv     *inventory.Service
	mdm     *checkin.Service
	catalog *catalog.Service
	android *android.Service
	knox    bool              // a Knox license source is configured
	amapi   *amapitest.Server // the local Android Management API fake, when on
	scep    *scep.Service
	ota     *ota.Service
	// reapplier re-applies changed policies (reapply.go); nil when off.
	reapplier *reapplier

	admin   adminKey
	csrfKey []byte
	pages   map[string]*template.Template
	ready   atomic.Bool
}

type serverDeps struct {
	log       *slog.Logger
	now       func() time.Time
	push      pushSetup
	publicURL string
}

func newServer(ctx context.Context, s store, cfg config, d serverDeps) (*server, error) {
	srv := &server{log: d.log, now: d.now, store: s}
	var err error
	if srv.dir, err = auth.NewLocalDirectory(s, auth.WithLogger(d.log), auth.WithClock(d.now)); err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	if srv.auth, err = auth.New(s, srv.dir, auth.WithLogger(d.log), auth.WithClock(d.now)); err != nil {
		return nil, fmt.Errorf("sign-in: %w", err)
	}
	// The policy service logs its changes itself; a policy change never
	// deprovisions anyone: it is re-applied to enrolled devices (reapply.go).
	srv.policy = policy.New(s, policy.WithLogger(d.log), policy.WithClock(d.now), policy.WithEvents(srv.policyChanged))
	srv.inv = inventory.New(s, inventory.WithLogger(d.log), inventory.WithClock(d.now),
		inventory.WithPhoneBook(phoneBook{srv.dir}))

	cas := &knownOrgCAs{orgs: s, cas: scep.NewGeneratedCAs(s, d.now)}
	if srv.scep, err = scep.New(s, scep.WithAuthorities(cas), scep.WithLogger(d.log), scep.WithClock(d.now)); err != nil {
		return nil, fmt.Errorf("SCEP: %w", err)
	}
	otaOpts := []ota.Option{ota.WithLogger(d.log), ota.WithClock(d.now)}
	if cfg.allowSimulators {
		otaOpts = append(otaOpts, ota.InsecureSkipAppleDeviceCheckForSimulators())
	}
	if srv.ota, err = ota.New(s, cas, ota.Config{PublicURL: d.publicURL, Topic: d.push.topic}, otaOpts...); err != nil {
		return nil, fmt.Errorf("OTA: %w", err)
	}

	// The app store is built before check-in, whose result handlers and
	// enrollment event feed it.
	var waker checkin.Waker
	if d.push.client != nil {
		waker = checkin.NewPusher(s, d.push.client, checkin.WithPushLogger(d.log))
	}
	srv.catalog = newCatalog(s, srv.dir, waker, d.log, d.now)
	if err := srv.setupAndroid(cfg, catalogAndroidApps{dir: catalogDirectory{dir: srv.dir, members: s}, store: s}, d.publicURL); err != nil {
		return nil, err
	}

	// The OTA service supplies each enrollment's policy profile, which
	// check-in installs right after the first TokenUpdate.
	mdmOpts := []checkin.Option{checkin.WithLogger(d.log), checkin.WithClock(d.now), checkin.WithProfiles(srv.ota),
		checkin.WithEvents(srv.deviceEvent),
		checkin.WithResultHandler("InstallApplication", catalogResults(srv.catalog)),
		checkin.WithResultHandler("RemoveApplication", catalogResults(srv.catalog))}
	if waker != nil {
		mdmOpts = append(mdmOpts, checkin.WithWaker(waker))
	}
	srv.mdm = checkin.New(s, checkin.Inventory{Service: srv.inv, Store: s}, srv.scep, mdmOpts...)
	srv.reapplier = newReapplier(srv, waker)

	if srv.csrfKey, err = loadOrCreateSecret(filepath.Join(cfg.dataDir, "csrf.key")); err != nil {
		return nil, fmt.Errorf("CSRF key: %w", err)
	}
	if srv.pages, err = parsePages(); err != nil {
		return nil, err
	}
	return srv, nil
}

// phoneBook adapts the auth directory to the inventory's PhoneBook, so that
// the phone number always comes from the directory, never the device.
type phoneBook struct{ dir auth.Directory }

func (p phoneBook) PhoneNumber(ctx context.Context, org storage.OrgID, userID string) (string, error) {
	u, err := p.dir.User(ctx, org, userID)
	if err != nil {
		return "", err
	}
	return u.Phone, nil
}

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
// against the org's CA itself.
func tlsConfig(ca *devCA) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{ca.serving},
		ClientAuth:   tls.RequestClientCert,
	}
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
	return securityHeaders(s.auditDenied(s.router()))
}

// router registers every route of the server.
func (s *server) router() *router {
	mux := &router{ServeMux: http.NewServeMux()}
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)

	// Devices.
	mux.Handle("/mdm/", s.mdm.Handler())
	mux.Handle("/scep/{org}", s.scep.Handler())
	mux.Handle("GET /enroll/{org}/profile", s.ota.ProfileHandler())
	mux.Handle("POST /enroll/{org}/ota", s.ota.PostHandler())
	mux.Handle("GET /enroll/{org}/mobileconfig", s.ota.MobileconfigHandler())

	// Agent app.
	mux.Handle("/api/agent/auth/", http.StripPrefix("/api/agent/auth", bodyLimit(maxJSONBody, auth.NewHandler(s.auth))))
	s.agentRoutes(mux)

	// Admin API.
	s.adminRoutes(mux)

	// App store (agent and admin APIs).
	s.catalogRoutes(mux)

	// Android: the agent protocol and enrollment tokens.
	s.androidRoutes(mux)

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

// bodyLimit caps every request body of h.
func bodyLimit(n int64, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, n)
		h.ServeHTTP(w, r)
	})
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

// groupMembers is the directory store's group lookup.
type groupMembers interface {
	GroupMembers(ctx context.Context, org storage.OrgID, groupID string) ([]string, error)
}

// orgGroup returns the check that a group is one of the org's own: an
// unknown group (another org's included) is storage.ErrNotFound.
func orgGroup(s groupMembers) func(ctx context.Context, org storage.OrgID, group string) error {
	return func(ctx context.Context, org storage.OrgID, group string) error {
		_, err := s.GroupMembers(ctx, org, group)
		return err
	}
}

// checkGroups refuses a list of groups as a whole when one of them is not
// the org's, so that nothing names another org's group.
func checkGroups(ctx context.Context, s groupMembers, org storage.OrgID, groups []string) error {
	for _, g := range groups {
		err := orgGroup(s)(ctx, org, g)
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("%w: %q is not a group of this org", errBadRequest, g)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// knownOrgCAs hands out the CAs of orgs that exist only: a request naming
// an unknown org (any path's {org}) must not cost a CA key generation.
// Orgs known once are remembered, so that the hot path reads nothing more.
type knownOrgCAs struct {
	orgs  storage.OrgStore
	cas   scep.Authorities
	known sync.Map // storage.OrgID → struct{}
}

func (k *knownOrgCAs) CA(ctx context.Context, org storage.OrgID) (*scep.CA, error) {
	if _, ok := k.known.Load(org); !ok {
		if _, err := k.orgs.Org(ctx, org); err != nil {
			return nil, fmt.Errorf("CA of org %q: %w", org, err)
		}
		k.known.Store(org, struct{}{})
	}
	return k.cas.CA(ctx, org)
}
