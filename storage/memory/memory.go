// Package memory runs the SDK's one store implementation (storage/sqlstore)
// on an in-memory SQLite database: for tests and small embeddings that need
// no durability. Everything is lost when the store is closed or the process
// ends. It is the same code, the same SQL and the same rules as the durable
// backends; only the database lives in memory.
package memory

import (
	"context"
	"io"
	"log/slog"

	"github.com/openomm/omm/storage/sqlite"
	"github.com/openomm/omm/storage/sqlstore"
)

// Store is the SDK's store in memory.
type Store = sqlstore.Store

// New returns an empty store. Opening an in-memory database fails only when
// the process is out of memory or the embedded schema is broken; New panics
// then, as regexp.MustCompile does for a bad constant.
func New() *Store {
	s, err := sqlite.OpenMemory(context.Background(), sqlite.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		panic("memory: " + err.Error())
	}
	return s
}
