package ota_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openomm/omm/enroll"
)

// TestUsedLinkPage: an enrollment link opened again (on the device, or in
// any browser) says in words that it no longer works and what to do,
// instead of a bare "Forbidden"; it still refuses (403) and changes
// nothing.
func TestUsedLinkPage(t *testing.T) {
	f := newFixture(t)
	ticket, err := f.ota.Begin(t.Context(), f.org, "alice", decision(false), enroll.KindOTA)
	if err != nil {
		t.Fatal(err)
	}
	open := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/enroll/"+string(f.org)+"/profile?token="+ticket.Token, nil)
		r.SetPathValue("org", string(f.org))
		f.ota.ProfileHandler().ServeHTTP(rec, r)
		return rec
	}
	if rec := open(); rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/x-apple-aspen-config") {
		t.Fatalf("first opening = %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	before := f.state(t, ticket.Session)
	rec := open()
	body := rec.Body.String()
	if rec.Code != http.StatusForbidden || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") ||
		!strings.Contains(body, "This enrollment link no longer works") || strings.Contains(body, ticket.Token) {
		t.Errorf("the used link = %d %s:\n%s", rec.Code, rec.Header().Get("Content-Type"), body)
	}
	if d := cmp.Diff(before, f.state(t, ticket.Session)); d != "" {
		t.Errorf("opening the used link changed the store:\n%s", d)
	}
}
