package omm_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/openomm/omm"
	"github.com/openomm/omm/storage"
)

// TestIssueEnrollmentProfiles: an administrator issues a batch of
// one-time enrollment profiles for a user through the admin API; each
// link works once, each is audited, one is revoked and refused from then
// on, and another org's administrator can neither issue for this org's
// user nor revoke this org's profile.
func TestIssueEnrollmentProfiles(t *testing.T) {
	e := newEnv(t, "/mdm")
	admin := func(org storage.OrgID) []string { return []string{"X-Admin-Org", string(org)} }
	st, body := e.do(t, "POST", "/admin/enrollment-profiles", map[string]any{"user_id": e.users["alice"], "platform": "ios",
		"count": 3, "valid_for": "72h"}, admin(e.org)...)
	if st != http.StatusCreated {
		t.Fatalf("issue: %d %s", st, body)
	}
	var got struct{ Profiles []omm.IssuedProfile }
	if err := json.Unmarshal(body, &got); err != nil || len(got.Profiles) != 3 {
		t.Fatalf("issued %s, %v", body, err)
	}
	seen := map[string]bool{}
	for _, p := range got.Profiles {
		if seen[p.URL] || seen[p.Session] || time.Until(p.Expires) < 71*time.Hour || time.Until(p.Expires) > 73*time.Hour {
			t.Errorf("profile %+v", p)
		}
		seen[p.URL], seen[p.Session] = true, true
	}

	// A link works once.
	if st, _ := e.do(t, "GET", got.Profiles[0].URL, nil); st != http.StatusOK {
		t.Errorf("first download: %d", st)
	}
	if st, _ := e.do(t, "GET", got.Profiles[0].URL, nil); st == http.StatusOK {
		t.Error("second download of a one-time profile succeeded")
	}
	// Another org's administrator cannot revoke it; this org's can, once.
	if st, _ := e.do(t, "DELETE", "/admin/enrollment-profiles/"+got.Profiles[1].Session, nil, admin(e.other)...); st != http.StatusNotFound {
		t.Errorf("revoke by another org's administrator: %d; want 404", st)
	}
	if st, b := e.do(t, "DELETE", "/admin/enrollment-profiles/"+got.Profiles[1].Session, nil, admin(e.org)...); st != http.StatusNoContent {
		t.Errorf("revoke: %d %s", st, b)
	}
	if st, _ := e.do(t, "GET", got.Profiles[1].URL, nil); st == http.StatusOK {
		t.Error("a revoked profile downloaded")
	}
	if st, _ := e.do(t, "DELETE", "/admin/enrollment-profiles/"+got.Profiles[1].Session, nil, admin(e.org)...); st != http.StatusConflict {
		t.Errorf("revoked twice: %d; want 409", st)
	}
	if st, _ := e.do(t, "GET", got.Profiles[2].URL, nil); st != http.StatusOK {
		t.Errorf("the third profile: %d", st)
	}

	// Audited: three issued by the administrator, one revoked.
	page, err := e.sdk.Audit(t.Context(), e.org, storage.AuditQuery{Limit: storage.MaxAuditPage})
	if err != nil {
		t.Fatal(err)
	}
	issued, revoked := 0, 0
	for _, a := range page.Entries {
		switch {
		case a.Action == "enroll.session.create" && a.Actor == "admin:test" && a.Details["user"] == e.users["alice"]:
			issued++
		case a.Action == omm.ActionEnrollmentRevoked && a.Target == "enrollment:"+got.Profiles[1].Session:
			revoked++
		}
	}
	if issued != 3 || revoked != 1 {
		t.Errorf("audit: %d issued, %d revoked", issued, revoked)
	}

	// Pre-staging more than a user may open for themselves leaves the
	// user's own enrollments alone.
	if st, b := e.do(t, "POST", "/admin/enrollment-profiles", map[string]any{"user_id": e.users["alice"], "platform": "ios", "count": 12},
		admin(e.org)...); st != http.StatusCreated {
		t.Fatalf("a batch of 12: %d %s", st, b)
	}
	if _, err := e.sdk.BeginAppleEnrollment(t.Context(), e.org, e.users["alice"], omm.Facts{Platform: "ios", OSVersion: "17.4"}, ""); err != nil {
		t.Errorf("alice's own enrollment after 15 issued profiles: %v", err)
	}

	for name, c := range map[string]struct {
		body any
		want int
	}{
		"another org's user": {map[string]any{"user_id": e.users["olga"], "platform": "macos"}, http.StatusNotFound},
		"too many":           {map[string]any{"user_id": e.users["alice"], "count": 1000}, http.StatusBadRequest},
		"bad validity":       {map[string]any{"user_id": e.users["alice"], "valid_for": "forever"}, http.StatusBadRequest},
		"too long":           {map[string]any{"user_id": e.users["alice"], "valid_for": "2000h"}, http.StatusBadRequest},
		"android":            {map[string]any{"user_id": e.users["alice"], "platform": "android"}, http.StatusForbidden},
		"no user":            {map[string]any{"platform": "macos"}, http.StatusBadRequest},
	} {
		if st, b := e.do(t, "POST", "/admin/enrollment-profiles", c.body, admin(e.org)...); st != c.want {
			t.Errorf("%s: %d %s; want %d", name, st, b, c.want)
		}
	}
}
