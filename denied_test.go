package omm

import (
	"strings"
	"testing"
	"time"
)

// TestDeniedLimiter: a flood of denied requests records at most
// maxDeniedPerWindow entries per org and window; the next window's first
// entry carries the count of those left out, and orgs do not share a
// budget.
func TestDeniedLimiter(t *testing.T) {
	var l deniedLimiter
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	for i := range maxDeniedPerWindow {
		if ok, n := l.admit("org_a", now); !ok || n != 0 {
			t.Fatalf("entry %d: admit = %v, %d", i, ok, n)
		}
	}
	for range 5 {
		if ok, _ := l.admit("org_a", now.Add(time.Second)); ok {
			t.Fatal("an entry over the window's budget was admitted")
		}
	}
	if ok, n := l.admit("org_b", now.Add(time.Second)); !ok || n != 0 {
		t.Errorf("another org: admit = %v, %d", ok, n)
	}
	if ok, n := l.admit("org_a", now.Add(deniedWindow)); !ok || n != 5 {
		t.Errorf("next window: admit = %v, suppressed %d, want true, 5", ok, n)
	}
	if ok, n := l.admit("org_a", now.Add(deniedWindow)); !ok || n != 0 {
		t.Errorf("the suppressed count was reported twice: %v, %d", ok, n)
	}
}

func TestTruncate(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"GET", "GET"},
		{"a\x00b\nc", "a?b?"},
		{"\xff\xfeok", "?ok"},
		{strings.Repeat("é", 10), strings.Repeat("é", 4)},
	} {
		if got := truncate(tt.in, 4); got != tt.want {
			t.Errorf("truncate(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
