package storagetest_test

import (
	"testing"

	"github.com/openomm/omm/storage/memory"
	"github.com/openomm/omm/storage/storagetest"
)

// A backend's whole conformance test. It is compiled here but runs in each
// backend's own test file.
func ExampleRun() {
	_ = func(t *testing.T) {
		storagetest.Run(t, func(t *testing.T) storagetest.Store {
			return memory.New()
		})
	}
}
