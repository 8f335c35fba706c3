package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/enroll/ota"
	"github.com/openomm/omm/enroll/scep"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/postgres"
	"github.com/openomm/omm/storage/sqlite"
)

// store is what the server needs of a storage backend: every package's
// contract, all implemented by one backend value.
type store interface {
	storage.OrgStore
	storage.AuditLog
	auth.Store
	policy.Store
	inventory.Store
	checkin.Store
	scep.Store
	scep.CAStore
	ota.Store
	catalog.Store
	android.Store
	ota.ReapplyStore
	android.ReapplyStore
	Ping(context.Context) error
	Close() error
}

func openStore(ctx context.Context, cfg config, log *slog.Logger) (store, string, error) {
	if cfg.postgres != "" {
		opts := []postgres.Option{postgres.WithLogger(log)}
		name := "postgres"
		if cfg.pgSchema != "" {
			opts = append(opts, postgres.WithSchema(cfg.pgSchema))
			name += " (schema " + cfg.pgSchema + ")"
		}
		s, err := postgres.Open(ctx, cfg.postgres, opts...)
		if err != nil {
			return nil, "", err
		}
		return s, name, nil
	}
	path := filepath.Join(cfg.dataDir, "omm.db")
	s, err := sqlite.Open(ctx, path, sqlite.WithLogger(log))
	if err != nil {
		return nil, "", err
	}
	return s, "sqlite " + path, nil
}

// ensureDataDir creates the data directory, readable by its owner only: it
// holds private keys and the database.
func ensureDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	return nil
}
