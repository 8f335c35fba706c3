// Command ommserver composes the OMM SDK's packages into a running product.
//
// With no configuration it keeps its data in SQLite under ./omm-data,
// creates a demo org on first start and serves on 127.0.0.1:8080:
//
//	go run ./examples/ommserver
//
// Flags (each also read from the environment variable in brackets):
//
//	-data DIR        data directory for the SQLite database [OMM_DATA]
//	-listen ADDR     listen address [OMM_LISTEN]
//	-postgres DSN    use PostgreSQL instead of SQLite [OMM_POSTGRES_DSN]
//
// This is the foundation's placeholder: it opens the store, makes sure the
// demo org exists and answers health checks. The device, agent and admin
// endpoints are added as the packages that own them land.
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

	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/postgres"
	"github.com/openomm/omm/storage/sqlite"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "ommserver:", err)
		os.Exit(1)
	}
}

// store is what the server needs of a storage backend.
type store interface {
	storage.OrgStore
	storage.AuditLog
	Ping(context.Context) error
	Close() error
}

type config struct {
	dataDir  string
	listen   string
	postgres string
}

func parseFlags(args []string, out io.Writer) (config, error) {
	fs := flag.NewFlagSet("ommserver", flag.ContinueOnError)
	fs.SetOutput(out)
	var c config
	fs.StringVar(&c.dataDir, "data", envOr("OMM_DATA", "omm-data"), "data directory for the SQLite database")
	fs.StringVar(&c.listen, "listen", envOr("OMM_LISTEN", "127.0.0.1:8080"), "listen address")
	fs.StringVar(&c.postgres, "postgres", os.Getenv("OMM_POSTGRES_DSN"), "PostgreSQL DSN (default: SQLite in the data directory)")
	return c, fs.Parse(args)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// run starts the server and blocks until ctx ends. When ready is not nil it
// receives the listening address once the server accepts connections.
func run(ctx context.Context, args []string, out io.Writer, ready chan<- string) error {
	cfg, err := parseFlags(args, out)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(out, nil))

	s, backend, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()

	demo, err := ensureDemoOrg(ctx, s, time.Now())
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           routes(s),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(out, "ommserver ready on http://%s (storage: %s; demo org %q, site name %q)\n",
		ln.Addr(), backend, demo.DisplayName, demo.Name)
	if ready != nil {
		ready <- ln.Addr().String()
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func openStore(ctx context.Context, cfg config, log *slog.Logger) (store, string, error) {
	if cfg.postgres != "" {
		s, err := postgres.Open(ctx, cfg.postgres, postgres.WithLogger(log))
		return s, "postgres", err
	}
	if err := os.MkdirAll(cfg.dataDir, 0o700); err != nil {
		return nil, "", fmt.Errorf("create data directory: %w", err)
	}
	path := filepath.Join(cfg.dataDir, "omm.db")
	s, err := sqlite.Open(ctx, path, sqlite.WithLogger(log))
	return s, "sqlite " + path, err
}

// demoOrg is the org a fresh server creates so that it is usable at once.
var demoOrg = storage.Org{ID: "org_demo", Name: "demo", DisplayName: "Demo Org"}

// ensureDemoOrg creates the demo org unless it exists, and returns it.
func ensureDemoOrg(ctx context.Context, s store, now time.Time) (storage.Org, error) {
	o, err := s.OrgByName(ctx, demoOrg.Name)
	if err == nil {
		return o, nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return o, err
	}
	o, err = s.CreateOrg(ctx, demoOrg, storage.AuditEntry{
		Org: demoOrg.ID, Time: now, Actor: "system:ommserver", Action: "org.create",
		Target: "org:" + demoOrg.Name, Details: map[string]string{"reason": "demo org for a fresh server"},
	})
	if errors.Is(err, storage.ErrAlreadyExists) { // another process won the race
		return s.OrgByName(ctx, demoOrg.Name)
	}
	return o, err
}

func routes(s store) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Ping(r.Context()); err != nil {
			http.Error(w, "storage unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}
