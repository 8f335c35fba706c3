package main

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/openomm/omm"
	"github.com/openomm/omm/storage/postgres"
	"github.com/openomm/omm/storage/seal"
	"github.com/openomm/omm/storage/sqlite"
)

// store is what the server needs of a storage backend: every contract of
// the SDK, implemented by one backend value.
type store interface {
	omm.Store
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
// holds private keys and the database. An existing one that others may
// enter or read is tightened — the directory and everything in it to
// 0700 and 0600 — with a warning for each.
func ensureDataDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return seal.Tighten(path, 0o700, log)
		case d.Type().IsRegular():
			return seal.Tighten(path, 0o600, log)
		}
		return nil
	})
}
