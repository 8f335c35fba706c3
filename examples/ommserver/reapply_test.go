package main

import (
	"crypto/x509"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openomm/omm/enroll/ota"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/profile"
	"github.com/openomm/omm/storage/sqlite"
)

// TestPolicyChangeReachesEnrolledIPhone edits the demo policy through the
// admin API and follows the change to an iPhone enrolled through the
// server's own endpoints: a change the profile does not carry queues
// nothing; a raised passcode length queues the new signed profile, shown
// pending in the admin device view and delivered at the device's next
// check-in; a user joining a group targeted by a stricter policy gets that
// policy's profile. Another org's device is untouched.
func TestPolicyChangeReachesEnrolledIPhone(t *testing.T) {
	w := newWorld(t)
	tok := w.first.adminToken
	alice := w.agentSignIn(t, "alice")
	dev := enrollApple(t, w, alice, "00008110-000A1D2E3F40BEEF")
	enrolled := dev.drain(t, nil) // the enrollment's policy profile and inventory queries
	if len(enrolled) == 0 || enrolled[0].requestType() != "InstallProfile" {
		t.Fatalf("enrollment delivered %d commands, first %q; want the policy profile first", len(enrolled), enrolled[0].requestType())
	}
	// A new device shows its policy from the start, in policy once it
	// installed the profile.
	type deviceDetail struct {
		Actions []actionView
		Policy  *appliedView
	}
	if d := must[deviceDetail](t, 200)(w.do(t, "GET", "/api/admin/devices/"+dev.id, tok, nil)); d.Policy == nil || !d.Policy.InPolicy || d.Policy.PolicyName != demoPolicyName {
		t.Errorf("a newly enrolled device's policy: %+v", d.Policy)
	}
	status, caDER := w.do(t, "GET", "/scep/"+string(demoOrg.ID)+"?operation=GetCACert", "", nil)
	if status != 200 {
		t.Fatalf("GetCACert = %d", status)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	// passcodeOf is the minimum passcode length of the profile an
	// InstallProfile command carries, checked to be signed by the org.
	passcodeOf := func(c mdmCommand) int {
		t.Helper()
		payload, _ := c.Command["Payload"].([]byte)
		content, _, err := profile.Verify(payload, profile.VerifyOptions{Signer: ca})
		if err != nil {
			t.Fatalf("%s payload: %v", c.requestType(), err)
		}
		p, err := profile.Decode(content)
		if err != nil {
			t.Fatal(err)
		}
		for _, pl := range p.Payloads {
			if pc, ok := pl.(*profile.Passcode); ok {
				return pc.MinLength
			}
		}
		t.Fatalf("profile %s has no passcode payload", p.Identifier)
		return 0
	}

	var demo policyBody
	for _, p := range must[struct{ Policies []policyBody }](t, 200)(w.do(t, "GET", "/api/admin/policies", tok, nil)).Policies {
		if p.Name == demoPolicyName {
			demo = p
		}
	}
	if demo.ID == "" {
		t.Fatal("no demo policy")
	}
	put := func(p policyBody) policyBody {
		t.Helper()
		return must[policyBody](t, 200)(w.do(t, "PUT", "/api/admin/policies/"+string(p.ID), tok, p))
	}

	// A change no profile carries: nothing for the device.
	demo.Description = "Edited: the passcode rules are unchanged."
	demo = put(demo)
	if c, ok := dev.poll(t, nil); ok {
		t.Fatalf("a description change queued %s", c.requestType())
	}

	// The passcode gets longer.
	rule := demo.Rules[policy.IOS]
	rule.Requirements.Passcode.MinLength = 10
	demo.Rules[policy.IOS] = rule
	demo = put(demo)
	detail := must[deviceDetail](t, 200)(w.do(t, "GET", "/api/admin/devices/"+dev.id, tok, nil))
	if len(detail.Actions) == 0 || detail.Actions[0].RequestType != "InstallProfile" || !detail.Actions[0].Pending {
		t.Fatalf("newest action %+v, want a pending InstallProfile", detail.Actions)
	}
	// Sent, not applied: pending, not "in policy".
	if detail.Policy == nil || detail.Policy.InPolicy || !detail.Policy.Pending || detail.Policy.Policy != demo.ID ||
		detail.Policy.Fingerprint != ota.ProfileFingerprint(rule.Requirements) {
		t.Errorf("admin view of the applied policy %+v", detail.Policy)
	}
	console := newBrowser(t, w)
	console.get("/admin")
	if status, _, _ := console.post("/admin/signin", url.Values{"token": {tok}}); status != http.StatusSeeOther {
		t.Fatalf("console sign-in = %d", status)
	}
	if status, _, page := console.get("/admin/devices/" + dev.id); status != 200 || !strings.Contains(page, "Pending: the device has not applied the settings") {
		t.Errorf("console device page = %d, want the policy shown pending:\n%s", status, page)
	} else if !strings.Contains(page, `<tr data-kind="policy.applied">`) || !strings.Contains(page, "Recent events") {
		t.Errorf("console device page lacks the device's recent events (policy.applied):\n%s", page)
	}
	c, ok := dev.poll(t, nil)
	if !ok || c.requestType() != "InstallProfile" || c.CommandUUID != detail.Actions[0].UUID {
		t.Fatalf("next check-in got %q (%v), want the queued InstallProfile", c.requestType(), ok)
	}
	if n := passcodeOf(c); n != 10 {
		t.Errorf("delivered profile asks for %d characters, want 10", n)
	}
	if next, more := dev.poll(t, map[string]any{"Status": "Acknowledged", "CommandUUID": c.CommandUUID}); more {
		t.Errorf("after the profile the device got %s", next.requestType())
	}
	detail = must[deviceDetail](t, 200)(w.do(t, "GET", "/api/admin/devices/"+dev.id, tok, nil))
	if a := detail.Actions[0]; a.UUID != c.CommandUUID || a.Pending || a.Status != "Acknowledged" {
		t.Errorf("acknowledged profile shows %+v", a)
	}
	if detail.Policy == nil || !detail.Policy.InPolicy || detail.Policy.Pending {
		t.Errorf("after the device installed the profile: %+v", detail.Policy)
	}
	if _, _, page := console.get("/admin/devices/" + dev.id); !strings.Contains(page, "In policy &#34;"+demoPolicyName) {
		t.Errorf("console device page after the device applied the profile:\n%s", page)
	}

	// Alice joins a group that a stricter policy, tried first, targets.
	execs := must[groupView](t, 201)(w.do(t, "POST", "/api/admin/groups", tok, map[string]string{"name": "Execs"}))
	strict := demo
	strict.ID, strict.Name, strict.Priority, strict.Groups, strict.Version = "", "Execs", demo.Priority-1, []string{execs.ID}, 0
	strict.Rules = map[policy.Platform]policy.Rule{policy.IOS: {Action: policy.Require, Requirements: policy.Requirements{
		Passcode: policy.Passcode{Required: true, MinLength: 12}}}}
	must[policyBody](t, 201)(w.do(t, "POST", "/api/admin/policies", tok, strict))
	if c, ok := dev.poll(t, nil); ok {
		t.Fatalf("a policy for a group alice is not in queued %s", c.requestType())
	}
	if st, out := w.do(t, "POST", "/api/admin/groups/"+execs.ID+"/members", tok, map[string]string{"user_id": w.users["alice"]}); st != 204 {
		t.Fatalf("add member = %d %s", st, out)
	}
	c, ok = dev.poll(t, nil)
	if !ok || c.requestType() != "InstallProfile" {
		t.Fatalf("after joining Execs the device got %q (%v)", c.requestType(), ok)
	}
	if n := passcodeOf(c); n != 12 {
		t.Errorf("Execs profile asks for %d characters, want 12", n)
	}
	dev.poll(t, map[string]any{"Status": "Acknowledged", "CommandUUID": c.CommandUUID})
	if !strings.Contains(w.out.String(), "policy re-applied to enrolled devices") {
		t.Error("no log line for the re-application")
	}

	// The other org's device got nothing.
	w.stop()
	s, err := sqlite.Open(t.Context(), filepath.Join(w.dir, "omm.db"), sqlite.WithLogger(discardLog()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if cmds, err := s.Commands(t.Context(), w.otherOrg, w.otherDev, 0); err != nil || len(cmds) != 0 {
		t.Errorf("other org's device has commands %v, %v", cmds, err)
	}
	// The start-up reconcile evaluates the other org's device against its
	// own org's policies (it has none); the demo org's never reach it.
	if a, err := s.AppliedPolicy(t.Context(), w.otherOrg, w.otherDev); err == nil && (a.Policy != policy.DefaultID || a.Fingerprint != "") {
		t.Errorf("other org's device got a policy: %+v", a)
	}
}
