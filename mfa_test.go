package omm_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/openomm/omm"
	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/storage"
)

// TestAdminSignOnAndResetMFA: the admin API turns the org's MFA rule on
// (at the version read), and resets a user's lost authenticator, audited
// with the administrator.
func TestAdminSignOnAndResetMFA(t *testing.T) {
	e := newEnv(t, "")
	ctx := t.Context()
	admin := []string{"X-Admin-Org", string(e.org)}
	var rule omm.SignOnView
	st, body := e.do(t, "GET", "/admin/signon", nil, admin...)
	if st != 200 || json.Unmarshal(body, &rule) != nil || rule.MFARequired || rule.PIN.Length != 4 {
		t.Fatalf("sign-on rule = %d %s", st, body)
	}
	if st, body := e.do(t, "PUT", "/admin/signon", map[string]any{"mfa_required": true, "version": 7}, admin...); st != 409 {
		t.Errorf("a stale version = %d %s", st, body)
	}
	if st, body := e.do(t, "PUT", "/admin/signon", map[string]any{"mfa_required": true, "version": rule.Version}, admin...); st != 200 {
		t.Fatalf("require MFA = %d %s", st, body)
	}
	alice, err := e.dir.User(ctx, e.org, e.users["alice"])
	if err != nil {
		t.Fatal(err)
	}
	if why, err := e.sdk.Auth.MFARequired(ctx, alice); err != nil || why != auth.MFAOrgRequires {
		t.Errorf("MFA required: %q, %v", why, err)
	}

	// Alice's authenticator, then its reset.
	if _, err := e.sdk.Store.PutTOTP(ctx, auth.TOTPFactor{Org: e.org, UserID: alice.ID, Secret: "JBSWY3DPEHPK3PXPJBSWY3DP", Created: time.Now()},
		storage.AuditEntry{Org: e.org, Time: time.Now(), Actor: "test", Action: "auth.mfa.totp_enroll"}); err != nil {
		t.Fatal(err)
	}
	if st, body := e.do(t, "POST", "/admin/users/"+alice.ID+"/mfa/reset", nil, admin...); st != 204 {
		t.Fatalf("reset = %d %s", st, body)
	}
	if st, _ := e.do(t, "POST", "/admin/users/"+alice.ID+"/mfa/reset", nil, admin...); st != 404 {
		t.Errorf("a second reset = %d, want 404", st)
	}
	if st, _ := e.do(t, "POST", "/admin/users/"+e.users["olga"]+"/mfa/reset", nil, admin...); st != 404 {
		t.Errorf("another org's user = %d, want 404", st)
	}
	page, err := e.sdk.Audit(ctx, e.org, storage.AuditQuery{Action: "auth.mfa.totp_remove", Newest: true})
	if err != nil || len(page.Entries) != 1 || page.Entries[0].Actor != "admin:test" || page.Entries[0].Target != "user:"+alice.ID {
		t.Errorf("audit of the reset: %+v, %v", page.Entries, err)
	}
}
