package main

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/openomm/omm/policy"
)

// auditLog reads the demo org's whole audit log through the admin API.
func auditLog(t *testing.T, w *world) []auditView {
	t.Helper()
	var all []auditView
	for after := int64(0); ; {
		page := must[struct {
			Entries []auditView
			Next    int64
		}](t, 200)(w.do(t, "GET", fmt.Sprintf("/api/admin/audit?limit=%d&after=%d", 1000, after), w.first.adminToken, nil))
		all = append(all, page.Entries...)
		if page.Next == 0 {
			return all
		}
		after = page.Next
	}
}

// TestAuditWalk walks the server's security-relevant actions over HTTP and
// finds each in the audit log, read through the admin API: sign-in success
// and failure, MFA, PIN set, failure and unlock, sign-out, admin changes,
// command enqueues, wipes, user deactivation (which revokes sessions) and
// denied requests. Trying to change or remove entries through the API is
// refused and leaves the log as it was.
func TestAuditWalk(t *testing.T) {
	w := newWorld(t)
	tok := w.first.adminToken
	start := len(auditLog(t, w))

	// Authentication, through the agent API.
	w.do(t, "POST", "/api/agent/auth/signin", "", map[string]string{"site": "demo", "username": "bob", "password": "wrong password"})
	alice := w.agentSignIn(t, "alice") // signin.success, pin.set
	if st, body := w.do(t, "POST", "/api/agent/auth/pin/verify", alice, map[string]string{"pin": "0000"}); st != 401 {
		t.Fatalf("wrong PIN = %d %s", st, body)
	}
	alice = must[struct{ Token string }](t, 200)(w.do(t, "POST", "/api/agent/auth/pin/verify", alice, map[string]string{"pin": "4829"})).Token
	enr := must[struct{ Secret string }](t, 200)(w.do(t, "POST", "/api/agent/auth/mfa/totp/enroll", alice, map[string]string{}))
	if st, _ := w.do(t, "POST", "/api/agent/auth/mfa/totp/confirm", alice, map[string]string{"code": "000000"}); st != 401 {
		t.Errorf("wrong TOTP code = %d", st)
	}
	must[map[string]any](t, 200)(w.do(t, "POST", "/api/agent/auth/mfa/totp/confirm", alice, map[string]string{"code": totpCode(t, enr.Secret, 0)}))
	// With an authenticator set up, sign-in asks for it.
	type session struct{ Token, State string }
	bye := must[session](t, 200)(w.do(t, "POST", "/api/agent/auth/signin", "",
		map[string]string{"site": "demo", "username": "alice", "password": w.first.passwords["alice"]}))
	if bye.State != "mfa_required" {
		t.Errorf("sign-in with an authenticator set up: %+v", bye)
	}
	// Each step hands out a new token (and ends the one that reached it).
	bye = must[session](t, 200)(w.do(t, "POST", "/api/agent/auth/mfa/verify", bye.Token, map[string]string{"method": "totp", "code": totpCode(t, enr.Secret, 1)}))
	bye = must[session](t, 200)(w.do(t, "POST", "/api/agent/auth/pin", bye.Token, map[string]string{"pin": "4829", "confirm": "4829"}))
	if st, body := w.do(t, "POST", "/api/agent/auth/signout", bye.Token, map[string]string{}); st >= 300 {
		t.Fatalf("sign-out = %d %s", st, body)
	}

	// Admin changes.
	u := must[userView](t, 201)(w.do(t, "POST", "/api/admin/users", tok, map[string]string{"username": "walker", "display_name": "Walker",
		"password": "a-long-enough-password-1"}))
	g := must[groupView](t, 201)(w.do(t, "POST", "/api/admin/groups", tok, map[string]string{"name": "Walkers"}))
	if st, body := w.do(t, "POST", "/api/admin/groups/"+g.ID+"/members", tok, map[string]string{"user_id": u.ID}); st != 204 {
		t.Fatalf("add member = %d %s", st, body)
	}
	p := must[policyBody](t, 201)(w.do(t, "POST", "/api/admin/policies", tok, withIOSAllow(policyBody{Name: "Walk", Priority: 300, Groups: []string{g.ID}})))
	p.Description, p.Created, p.Updated = "edited", nil, nil
	p = must[policyBody](t, 200)(w.do(t, "PUT", "/api/admin/policies/"+string(p.ID), tok, p))
	if st, body := w.do(t, "DELETE", fmt.Sprintf("/api/admin/policies/%s?version=%d", p.ID, p.Version), tok, nil); st != 204 {
		t.Fatalf("delete policy = %d %s", st, body)
	}

	// Commands and wipes.
	must[map[string]string](t, 202)(w.do(t, "POST", "/api/admin/devices/"+w.aliceDev+"/lock", tok, nil))
	must[map[string]string](t, 202)(w.do(t, "POST", "/api/admin/devices/"+w.aliceDev+"/refresh", tok, nil))
	must[map[string]string](t, 202)(w.do(t, "POST", "/api/agent/devices/"+w.aliceDev+"/deprovision", alice, nil))

	// A user who leaves loses every session.
	must[map[string]any](t, 200)(w.do(t, "POST", "/api/admin/users/"+w.users["bob"]+"/deactivate", tok, nil))

	// Denied requests.
	if st, _ := w.do(t, "GET", "/api/admin/devices", "", nil); st != 401 {
		t.Errorf("admin API without a token = %d", st)
	}
	if st, _ := w.do(t, "GET", "/api/admin/orgs/"+string(w.otherOrg), tok, nil); st != 403 {
		t.Errorf("other org by path = %d", st)
	}
	if st, _ := w.do(t, "GET", "/api/agent/devices", "omm_admin_not-the-token", nil); st != 401 {
		t.Errorf("agent API with a bad token = %d", st)
	}

	log := auditLog(t, w)[start:]
	type want struct{ action, actor, target string }
	wants := []want{
		{"auth.signin.failure", "user:bob", ""},
		{"auth.signin.success", "user:" + w.users["alice"], "user:" + w.users["alice"]},
		{"auth.pin.set", "user:" + w.users["alice"], ""},
		{"auth.pin.failure", "user:" + w.users["alice"], ""},
		{"auth.pin.unlock", "user:" + w.users["alice"], ""},
		{"auth.mfa.totp_enroll", "", ""},
		{"auth.mfa.success", "user:" + w.users["alice"], ""},
		{"auth.signout", "user:" + w.users["alice"], ""},
		{"auth.user.create", adminActor, "user:" + u.ID},
		{"auth.group.create", adminActor, "group:" + g.ID},
		{"auth.group.member.add", adminActor, "group:" + g.ID},
		{"policy.create", adminActor, "policy:" + string(p.ID)},
		{"policy.update", adminActor, "policy:" + string(p.ID)},
		{"policy.delete", adminActor, "policy:" + string(p.ID)},
		{"device.lock", adminActor, "device:" + w.aliceDev},
		{"device.inventory.refresh", adminActor, "device:" + w.aliceDev},
		{"device.deprovision", "user:" + w.users["alice"], "device:" + w.aliceDev},
		{"auth.user.deactivate", adminActor, "user:" + w.users["bob"]},
		{"device.deprovision", adminActor, ""}, // bob's devices, on deactivation
		{deniedAction, "anonymous", "route:GET /api/admin/devices"},
		{deniedAction, adminActor, "route:GET /api/admin/orgs/{org}"},
		{deniedAction, "anonymous:bad-admin-token", "route:GET /api/agent/devices"},
	}
	for _, wt := range wants {
		if !slices.ContainsFunc(log, func(e auditView) bool {
			return e.Action == wt.action && (wt.actor == "" || e.Actor == wt.actor) && (wt.target == "" || e.Target == wt.target)
		}) {
			t.Errorf("no audit entry %s by %q on %q", wt.action, wt.actor, wt.target)
		}
	}
	for _, e := range log {
		if e.Action == deniedAction && (e.Details["status"] == "" || e.Details["method"] == "") {
			t.Errorf("denied entry without status or method: %+v", e)
		}
	}
	if t.Failed() {
		for _, e := range log {
			t.Logf("%s %s %s %v", e.Action, e.Actor, e.Target, e.Details)
		}
	}

	// No API edits or removes entries: every attempt is refused, and the
	// log reads the same afterwards.
	before := auditLog(t, w)
	for _, m := range []string{"PUT", "PATCH", "DELETE", "POST"} {
		for _, path := range []string{"/api/admin/audit", fmt.Sprintf("/api/admin/audit/%d", before[0].ID), "/admin/audit"} {
			if st, _ := w.do(t, m, path, tok, map[string]string{}); st < 400 {
				t.Errorf("%s %s = %d", m, path, st)
			}
		}
	}
	if after := auditLog(t, w); !slices.EqualFunc(before, after, func(a, b auditView) bool {
		return a.ID == b.ID && a.Action == b.Action && a.Actor == b.Actor && a.Target == b.Target
	}) {
		t.Errorf("the audit log changed: %d entries before, %d after", len(before), len(after))
	}
}

func withIOSAllow(b policyBody) policyBody {
	b.Rules = map[policy.Platform]policy.Rule{policy.IOS: {Action: policy.Allow}}
	return b
}

// TestAuditSameTransaction makes the database refuse one audit action at
// a time and runs the request that writes it: the request fails and
// nothing at all is stored, because the action and its entry commit
// together or not at all.
func TestAuditSameTransaction(t *testing.T) {
	w := newWorld(t)
	tok := w.first.adminToken
	db, err := sql.Open("sqlite", "file:"+filepath.Join(w.dir, "omm.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	snapshot := &mxWorld{world: w, t: t, raw: db}
	alice := w.agentSignIn(t, "alice")

	tests := []struct {
		action string
		send   func() int
		// earlier lists the changes an earlier step of the request
		// commits, each with its own entry, before the refused one.
		earlier []string
	}{
		{"device.lock", func() int { st, _ := w.do(t, "POST", "/api/admin/devices/"+w.aliceDev+"/lock", tok, nil); return st }, nil},
		{"device.inventory.refresh", func() int {
			st, _ := w.do(t, "POST", "/api/admin/devices/"+w.bobDev+"/refresh", tok, nil)
			return st
		}, nil},
		{"device.deprovision", func() int {
			st, _ := w.do(t, "POST", "/api/agent/devices/"+w.aliceDev+"/deprovision", alice, nil)
			return st
		}, nil}, // the state change commits with the commands and their entries
		{"auth.user.create", func() int {
			st, _ := w.do(t, "POST", "/api/admin/users", tok, map[string]string{"username": "txn", "display_name": "Txn", "password": "a-long-enough-password-1"})
			return st
		}, nil},
		{"policy.create", func() int {
			st, _ := w.do(t, "POST", "/api/admin/policies", tok, withIOSAllow(policyBody{Name: "Txn", Priority: 301, Groups: []string{}}))
			return st
		}, nil},
		{"auth.signin.success", func() int {
			st, _ := w.do(t, "POST", "/api/agent/auth/signin", "", map[string]string{"site": "demo", "username": "carol", "password": w.first.passwords["carol"]})
			return st
		}, []string{"omm_auth_failures"}}, // the attempt, reserved before the password check
	}
	for _, tc := range tests {
		t.Run(tc.action, func(t *testing.T) {
			snapshot.t = t
			if _, err := db.ExecContext(t.Context(), fmt.Sprintf(`CREATE TRIGGER refuse_audit BEFORE INSERT ON omm_audit_log
				WHEN NEW.action = '%s' BEGIN SELECT RAISE(ABORT, 'audit refused by the test'); END`, tc.action)); err != nil {
				t.Fatal(err)
			}
			before := snapshot.state("")
			status := tc.send()
			after := snapshot.state("")
			if _, err := db.ExecContext(t.Context(), `DROP TRIGGER refuse_audit`); err != nil {
				t.Fatal(err)
			}
			if status < 500 {
				t.Errorf("the request succeeded (%d) although its audit entry %s was refused", status, tc.action)
			}
			for _, l := range strings.Split(mxDiff(before, after), "\n") {
				if l != "" && !slices.ContainsFunc(tc.earlier, func(e string) bool { return strings.Contains(l, e) }) {
					t.Errorf("a request whose audit entry was refused changed the store: %s", l)
				}
			}
			// Without the refusal the same request succeeds and is audited.
			if status := tc.send(); status >= 300 {
				t.Errorf("after the refusal the request = %d", status)
			}
			if !slices.ContainsFunc(auditLog(t, w), func(e auditView) bool { return e.Action == tc.action }) {
				t.Errorf("no %s entry after the request succeeded", tc.action)
			}
		})
	}
	if strings.Contains(w.out.String(), "panic") {
		t.Errorf("server output mentions a panic:\n%s", w.out)
	}
}
