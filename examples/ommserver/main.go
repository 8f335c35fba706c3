// Command ommserver composes the OMM SDK's packages into a running product.
//
// With no configuration it keeps its data in SQLite under ./omm-data,
// generates a development CA and serves HTTPS on 127.0.0.1:8443, with a demo
// org whose users, groups and mobile policy are created on first start:
//
//	go run ./examples/ommserver
//
// Flags (each also read from the environment variable in brackets):
//
//	-data DIR            data directory [OMM_DATA]
//	-listen ADDR         HTTPS listen address [OMM_LISTEN]
//	-public-url URL      https base URL devices reach [OMM_PUBLIC_URL]
//	-postgres DSN        use PostgreSQL instead of SQLite [OMM_POSTGRES_DSN]
//	-postgres-schema S   PostgreSQL schema for the tables [OMM_POSTGRES_SCHEMA]
//	-apns-cert FILE      MDM push certificate, PEM [OMM_APNS_CERT]
//	-apns-key FILE       its private key, PEM [OMM_APNS_KEY]
//	-apns-token-key FILE provider token key (.p8) [OMM_APNS_TOKEN_KEY]
//	-apns-key-id ID      [OMM_APNS_KEY_ID]
//	-apns-team-id ID     [OMM_APNS_TEAM_ID]
//	-apns-topic TOPIC    push topic [OMM_APNS_TOPIC]
//	-apns-endpoint URL   APNs base URL, e.g. a local fake [OMM_APNS_ENDPOINT]
//	-apns-roots FILE     roots for the endpoint's certificate [OMM_APNS_ROOTS]
//	-knox-license-file F the demo org's Samsung Knox license key; "none" turns Knox off [OMM_KNOX_LICENSE_FILE]
//	-android-amapi M     "local" (a local Android Management API fake) or "off" [OMM_ANDROID_AMAPI]
//	-allow-simulators    accept OTA enrollment from simulated devices [OMM_ALLOW_SIMULATORS=1]
//	-push-claim D        how long a replica's claim on devices to push lasts (see README, Running several replicas)
//	-reapply-batch N     devices one run of a policy re-application goes through (default 10,000)
//	-mfa-sender S        SMS/voice sign-in codes: "log" (development: printed in the log) or "off" [OMM_MFA_SENDER]
//	-secrets-key FILE    key sealing CA keys and TOTP secrets in the database [OMM_SECRETS_KEY]
//	-max-open-enrollments N  open enrollments one user may hold; -1 no limit [OMM_MAX_OPEN_ENROLLMENTS]
//
// A subcommand writes a signed direct enrollment profile for a user, for a
// Mac or a device simulator:
//
//	go run ./examples/ommserver enroll-profile -site demo -user alice > alice.mobileconfig
//
// It serves the agent app's API under /api/agent/ (with the app store under
// /api/agent/store/ and Android enrollment tokens under
// /api/agent/android/), the admin API under /api/admin/ (bearer token
// printed at first start; the app catalog under /api/admin/apps), the MDM,
// SCEP and OTA endpoints Apple devices use, the agent protocol Android
// devices in the legacy modes (Samsung Knox, native device admin) use under
// /android/agent/, and a web portal (with each device's app store) and
// admin console that work without JavaScript. The demo org's store offers
// an App Store app installed at enrollment, an in-house app and a Play app
// to its employees. Work-profile and fully managed Android enrollments go
// to a local fake of Google's Android Management API (its device side under
// /amapi-fake/, for simulated devices), and Knox enrollments get a demo
// license key unless a real one is given; both are announced in the log.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/openomm/omm/devicetls"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	startProfiling()
	var err error
	if len(os.Args) > 1 && os.Args[1] == "enroll-profile" {
		err = runEnrollProfile(ctx, os.Args[2:], os.Stdout, os.Stderr)
	} else {
		// The collector's settings apply once the server is ready: the
		// start-up's garbage (the demo seed's password hashes) is
		// collected at Go's default, so that it does not raise the
		// process's peak.
		ready := make(chan string, 1)
		go func() {
			if _, ok := <-ready; ok {
				tuneGC(os.Getenv)
			}
		}()
		err = run(ctx, os.Args[1:], os.Stdout, ready)
	}
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode reports err (if any) and returns the process's exit status:
// 0 for success and for -h (the usage was asked for, and printed), 1
// otherwise.
func exitCode(err error, errOut io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(errOut, "ommserver:", err)
	return 1
}

// run starts the server and blocks until ctx ends. When ready is not nil it
// receives the listening address once the server accepts connections.
func run(ctx context.Context, args []string, out io.Writer, ready chan<- string) error {
	cfg, err := parseFlags(args, out)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(out, nil))
	now := time.Now

	if err := ensureDataDir(cfg.dataDir, log); err != nil {
		return err
	}
	ca, err := loadOrCreateCA(filepath.Join(cfg.dataDir, "tls"), cfg.hosts(), now())
	if err != nil {
		return err
	}

	s, backend, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()

	// No TCP keep-alive probes: the server's read, write and idle
	// timeouts (below) already close a connection whose peer is gone, and
	// turning probes on cost four setsockopt calls per accepted connection
	// — a phone opens one per wake.
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(ctx, "tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	publicURL := cfg.resolvePublicURL(ln.Addr())

	push, err := setupPush(cfg, log)
	if err != nil {
		return err
	}
	if push.client != nil {
		defer push.client.Close()
		log.Info("push enabled", "auth", push.mode, "topic", push.topic, "endpoint", orDefault(cfg.apnsEndpoint, "Apple production"))
	} else {
		log.Warn("push disabled: no APNs credentials given; devices get queued commands at their next check-in", "topic", push.topic)
	}

	if cfg.allowSimulators {
		log.Warn("INSECURE -allow-simulators: over-the-air enrollment accepts devices without Apple's device attestation, so anything that speaks the protocol can enroll as an iPhone; for simulated devices only, never in production")
	}
	srv, err := newServer(ctx, s, cfg, serverDeps{log: log, now: now, push: push, publicURL: publicURL, serving: ca.servingLeaf()})
	if err != nil {
		return err
	}
	demo, err := ensureDemoOrg(ctx, s, now())
	if err != nil {
		return err
	}
	creds, err := seedDemo(ctx, demo.ID, srv.dir, srv.sdk.Policy)
	if err != nil {
		return err
	}
	employees, err := groupID(ctx, srv.dir, demo.ID, "Employees")
	if err != nil {
		return fmt.Errorf("demo apps: %w", err)
	}
	if err := seedDemoApps(ctx, demo.ID, srv.sdk.Catalog, employees); err != nil {
		return err
	}
	direct, err := directProfileWarnings(ctx, demo.ID, srv.sdk.Policy)
	if err != nil {
		return err
	}
	key, token, err := loadOrCreateAdminKey(cfg.dataDir, demo.ID, now())
	if err != nil {
		return fmt.Errorf("admin token: %w", err)
	}
	srv.admin = newAdminKeys(cfg.dataDir, key)

	announce(out, announcement{ca: ca, caPath: filepath.Join(cfg.dataDir, "tls", caFile), publicURL: publicURL,
		backend: backend, demoName: demo.DisplayName, site: demo.Name, creds: creds, adminToken: token, directPolicies: direct})

	httpSrv := &http.Server{
		Handler:           srv.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		Protocols:         protocols(cfg.http2),
	}
	srv.ready.Store(true)
	if ready != nil {
		ready <- ln.Addr().String()
	}

	if cfg.webhook != "" {
		replica, err := replicaID(cfg.dataDir)
		if err != nil {
			return err
		}
		d, err := newWebhook(s, cfg, replica, log)
		if err != nil {
			return err
		}
		delivering, stopDelivering := context.WithCancel(ctx)
		delivered := make(chan struct{})
		go func() { defer close(delivered); d.Run(delivering) }()
		defer func() { stopDelivering(); <-delivered }()
		log.Info("event stream: delivering to the webhook", "url", cfg.webhook)
	}

	// The reconcile's first round completes whatever a crash left half
	// done (a user's deactivation); it stops before the store closes.
	reconciling, stopReconcile := context.WithCancel(ctx)
	reconciled := make(chan struct{})
	go func() { defer close(reconciled); srv.sdk.Run(reconciling, cfg.reconcile) }()
	defer func() { stopReconcile(); <-reconciled }()
	if cfg.renewalInterval > 0 {
		renewed := make(chan struct{})
		go func() { defer close(renewed); srv.sdk.RunRenewals(reconciling, cfg.renewalInterval) }()
		defer func() { stopReconcile(); <-renewed }()
	}

	if cfg.apnsCert != "" {
		// SIGHUP reloads the push certificate (renewed for the same
		// topic) without a restart.
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go reloadPush(ctx, hup, cfg, srv, log)
	}

	errc := make(chan error, 1)
	if len(cfg.proxies) > 0 {
		log.Info("serving plain HTTP behind a TLS-terminating proxy", "trusted_proxies", cfg.trustedProxies,
			"client_cert_header", cfg.clientCertHeader, "public_url", publicURL)
		go func() { errc <- httpSrv.Serve(ln) }()
	} else {
		// The listener, not ServeTLS, does TLS: it chooses each
		// handshake's key exchange (devicetls).
		tlsLn, err := devicetls.NewListener(ln, tlsConfig(ca, cfg.http2), cfg.kex)
		if err != nil {
			return err
		}
		go func() { errc <- httpSrv.Serve(tlsLn) }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	srv.ready.Store(false)
	log.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := httpSrv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type announcement struct {
	ca                *devCA
	caPath, publicURL string
	backend           string
	demoName, site    string
	creds             []credential
	adminToken        string
	// directPolicies are the demo org's policies that accept the direct
	// enrollment profile on iOS.
	directPolicies []string
}

// announce prints what a person needs to use the server. Secrets appear
// only in the start that created them.
func announce(out io.Writer, a announcement) {
	fmt.Fprintf(out, "ommserver ready on %s (storage: %s; demo org %q, site name %q)\n", a.publicURL, a.backend, a.demoName, a.site)
	fmt.Fprintf(out, "development CA: %s\n  SHA-256 fingerprint %s\n", a.caPath, a.ca.Fingerprint())
	if a.ca.created {
		fmt.Fprintf(out, "  new CA: trust it to avoid certificate warnings, e.g. curl --cacert %s, or import it into your browser or keychain\n", a.caPath)
	}
	if len(a.creds) > 0 {
		fmt.Fprintf(out, "DEMO users created in org %q (site name %q); these random passwords are shown only now:\n", a.demoName, a.site)
		for _, c := range a.creds {
			fmt.Fprintf(out, "  DEMO user %-6s password %s\n", c.username, c.password)
		}
	}
	if a.adminToken != "" {
		fmt.Fprintf(out, "admin API token for org %q (shown only now; stored hashed):\n  %s\n", a.site, a.adminToken)
		fmt.Fprintf(out, "  use: curl --cacert %s -H 'Authorization: Bearer %s' %s/api/admin/devices\n", a.caPath, a.adminToken, a.publicURL)
	}
	for _, p := range a.directPolicies {
		fmt.Fprintf(out, "WARNING: policy %q lets iPhones and iPads enroll with the direct profile (-delivery direct), which no Apple device attestation vouches for: "+
			"fine for simulated devices, NOT for production. Turn off accept_direct_profile in its iOS rule so that they enroll over the air.\n", p)
	}
	fmt.Fprintf(out, "portal: %s/  admin console: %s/admin\n", a.publicURL, a.publicURL)
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
