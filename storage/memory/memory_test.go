package memory_test

import (
	"testing"

	"github.com/openomm/omm/storage/memory"
	"github.com/openomm/omm/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Store {
		s := memory.New()
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func BenchmarkStore(b *testing.B) {
	storagetest.Benchmark(b, func(*testing.B) storagetest.Store { return memory.New() })
}
