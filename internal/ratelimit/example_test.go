package ratelimit_test

import (
	"fmt"
	"time"

	"github.com/openomm/omm/internal/ratelimit"
)

// Two refused SCEP requests a minute per source: the third waits for a
// token.
func ExampleBuckets() {
	b := ratelimit.NewBuckets(2, 30*time.Second, 1000)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for range 3 {
		ok, retry := b.Take("198.51.100.7", now)
		fmt.Println(ok, retry)
	}
	// Output:
	// true 0s
	// true 0s
	// false 30s
}

// At most two audit entries per org and minute; the next one let through
// says how many were left out.
func ExampleWindow() {
	w := ratelimit.NewWindow(2, time.Minute, 100)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for i := range 4 {
		ok, suppressed := w.Admit("org_acme", now.Add(time.Duration(i)*time.Second))
		fmt.Println(ok, suppressed)
	}
	ok, suppressed := w.Admit("org_acme", now.Add(time.Minute))
	fmt.Println(ok, suppressed)
	// Output:
	// true 0
	// true 0
	// false 0
	// false 0
	// true 2
}
