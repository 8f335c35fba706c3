package sqlite_test

import (
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/openomm/omm/storage/sqlite"
	"github.com/openomm/omm/storage/storagetest"
)

func open(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "omm.db"), sqlite.WithLogger(quiet))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Store { return open(t) })
}

func BenchmarkStore(b *testing.B) {
	storagetest.Benchmark(b, func(b *testing.B) storagetest.Store { return open(b) })
}

// quiet discards the stores' logs (migrations applied) in tests.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
