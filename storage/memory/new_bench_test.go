package memory_test

import (
	"testing"

	"github.com/openomm/omm/storage/memory"
)

func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		s := memory.New()
		s.Close()
	}
}
