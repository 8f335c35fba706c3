package seqid_test

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/openomm/omm/internal/seqid"
)

// TestOrderedUniqueUUIDs: identifiers made one after another sort in that
// order (until the 28-bit counter wraps), differ, and are UUIDs of
// version 8 with RFC 9562's variant.
func TestOrderedUniqueUUIDs(t *testing.T) {
	const n = 5000
	seen := map[[16]byte]bool{}
	var prev [16]byte
	wraps := 0
	for i := range n {
		id := seqid.New()
		if id[6]>>4 != 8 || id[8]>>6 != 2 {
			t.Fatalf("%x: version %d, variant bits %b; want 8 and 10", id, id[6]>>4, id[8]>>6)
		}
		if seen[id] {
			t.Fatalf("%x made twice", id)
		}
		seen[id] = true
		if i > 0 && bytes.Compare(prev[:], id[:]) >= 0 {
			wraps++ // the counter starts at a random value and may wrap once
		}
		prev = id
	}
	if wraps > 1 {
		t.Errorf("%d of %d identifiers sort before the one made just before them", wraps, n)
	}
}

// TestConcurrentUnique: identifiers made at once by many goroutines all
// differ.
func TestConcurrentUnique(t *testing.T) {
	var mu sync.Mutex
	seen := map[[16]byte]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				id := seqid.New()
				mu.Lock()
				if seen[id] {
					t.Errorf("%x made twice", id)
				}
				seen[id] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestRandomTail: the last bytes are random, not derived from the
// counter: two identifiers in a row differ there almost always.
func TestRandomTail(t *testing.T) {
	same := 0
	for range 100 {
		a, b := seqid.New(), seqid.New()
		if bytes.Equal(a[11:], b[11:]) {
			same++
		}
	}
	if same > 1 {
		t.Errorf("%d of 100 pairs share their 40 random tail bits", same)
	}
}

func ExampleNew() {
	a, b := seqid.New(), seqid.New()
	fmt.Println("version", a[6]>>4, "variant", a[8]>>6, "unequal", a != b)
	// Output: version 8 variant 2 unequal true
}
