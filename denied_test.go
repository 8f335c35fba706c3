package omm

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// TestDeniedLimiter: a flood of denied requests records at most
// maxDeniedPerSource entries per client address and maxDeniedPerWindow per
// org and window; the next window's first entry carries the count of those
// left out, and orgs do not share a budget.
func TestDeniedLimiter(t *testing.T) {
	st := memory.New()
	defer st.Close()
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	for _, o := range []storage.OrgID{"org_a", "org_b"} {
		if _, err := st.CreateOrg(t.Context(), storage.Org{ID: o, Name: string(o[4:]), DisplayName: string(o)},
			storage.AuditEntry{Org: o, Time: now, Actor: "test", Action: "org.create"}); err != nil {
			t.Fatal(err)
		}
	}
	clock := now
	h := AuditDenied(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusForbidden) }),
		st, "org_a", nil, WithDeniedClock(func() time.Time { return clock }))
	knock := func(org, remote string) {
		r := httptest.NewRequest("GET", "/x", nil)
		r.RemoteAddr = remote + ":1234"
		if org != "" {
			r.SetPathValue("org", org)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	entries := func(org storage.OrgID) []storage.AuditEntry {
		p, err := st.ListAudit(t.Context(), org, storage.AuditQuery{Limit: storage.MaxAuditPage})
		if err != nil {
			t.Fatal(err)
		}
		return p.Entries[1:] // after org.create
	}
	for range maxDeniedPerSource + 5 {
		knock("", "192.0.2.1")
	}
	if n := len(entries("org_a")); n != maxDeniedPerSource {
		t.Fatalf("one address: %d entries, want %d", n, maxDeniedPerSource)
	}
	for i := range 200 {
		knock("", fmt.Sprintf("198.51.100.%d", i))
	}
	if n := len(entries("org_a")); n != maxDeniedPerWindow {
		t.Fatalf("many addresses: %d entries, want %d", n, maxDeniedPerWindow)
	}
	clock = now.Add(deniedWindow)
	knock("", "192.0.2.1")
	got := entries("org_a")
	// The first entry of the next window carries both counts: the
	// address's 5 over its bound, and the org's 100 over its budget.
	if last := got[len(got)-1]; last.Details["suppressed"] != "105" {
		t.Errorf("next window's entry from the flooding address: suppressed %q, want 105", last.Details["suppressed"])
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
