package declarative_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openomm/omm/enroll/declarative"
	"github.com/openomm/omm/events"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// TestChannel walks an iPhone on iOS 17.4 through the declarative
// channel: turned on after its first inventory (DeclarativeManagement
// with the tokens, the policy profile MDM installed removed, one push),
// tokens, declaration items and declarations on its MDM identity, a
// status report through the privacy filter, and compliance from it.
func TestChannel(t *testing.T) {
	e := newEnv(t)
	p := e.newPhone(e.orgA, "00008110-000A1B2C3D4E0001", "17.4").enroll()
	pushesBefore := len(e.pushes())
	cmds := p.drain()
	types := requestTypes(cmds)
	ddmAt := slices.Index(types, "DeclarativeManagement")
	if ddmAt < 0 || slices.Index(types, "RemoveProfile") != ddmAt+1 {
		t.Fatalf("commands %v: want DeclarativeManagement, then RemoveProfile of the policy profile", types)
	}
	if got := commandOf(cmds, "RemoveProfile")["Identifier"]; got != "com.openomm.enroll.policy" {
		t.Errorf("RemoveProfile of %v", got)
	}
	if n := len(e.pushes()) - pushesBefore; n != 1 {
		t.Errorf("%d pushes when the channel was turned on, want 1", n)
	}
	var inCommand declarative.TokensResponse
	if err := json.Unmarshal(commandOf(cmds, "DeclarativeManagement")["Data"].([]byte), &inCommand); err != nil {
		t.Fatalf("the command's Data: %v", err)
	}
	tok := p.tokens()
	if tok.DeclarationsToken == "" || tok.DeclarationsToken != inCommand.SyncTokens.DeclarationsToken || !tok.Timestamp.Equal(start) {
		t.Errorf("tokens %+v, the command said %+v", tok, inCommand.SyncTokens)
	}
	decls := p.sync()
	if set, err := e.ddm.Set(t.Context(), p.record()); err != nil || set.Token != tok.DeclarationsToken || len(set.Declarations) != len(decls) {
		t.Errorf("Set = %d declarations, token %s, %v; the device fetched %d, token %s", len(set.Declarations), set.Token, err, len(decls), tok.DeclarationsToken)
	}
	for _, id := range []string{"omm.activation", "omm.status-subscriptions", "omm.passcode", "omm.softwareupdate", "omm.settings-profile"} {
		if _, ok := decls[id]; !ok {
			t.Errorf("declarations %v lack %s", keys(decls), id)
		}
	}
	if got := decls["omm.passcode"].Payload["MinimumLength"]; got != 6.0 {
		t.Errorf("passcode minimum length %v", got)
	}
	if got := decls["omm.softwareupdate"].Payload["TargetOSVersion"]; got != "17.5" {
		t.Errorf("OS update target %v", got)
	}

	// Bad input.
	for _, c := range []struct {
		endpoint string
		data     []byte
		want     int
	}{
		{"declaration/configuration/omm.nothing", nil, http.StatusNotFound},
		{"declaration/gadget/omm.passcode", nil, http.StatusBadRequest},
		{"declarations", nil, http.StatusBadRequest},
		{"status", []byte("not json"), http.StatusBadRequest},
		{"status", []byte(`{"StatusItems":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`), http.StatusBadRequest},
	} {
		if st, out, _ := p.ddm(c.endpoint, c.data); st != c.want {
			t.Errorf("%s %q: %d %s, want %d", c.endpoint, c.data, st, out, c.want)
		}
	}
	if st, _, _ := p.checkin(map[string]any{"MessageType": "DeclarativeManagement"}); st != http.StatusBadRequest {
		t.Errorf("DeclarativeManagement without an endpoint: %d", st)
	}

	// A status report: what the contract allows is stored, nothing else.
	if st := p.report(map[string]any{
		"device": map[string]any{
			"identifier":       map[string]any{"udid": p.udid, "serial-number": "SER-" + p.udid},
			"operating-system": map[string]any{"version": "17.4", "build-version": "21E219"},
			"power":            map[string]any{"battery-health": "normal"},
		},
		"passcode":   map[string]any{"is-compliant": true, "is-present": true},
		"management": map[string]any{"declarations": statusOf(decls, nil)},
	}); st != http.StatusOK {
		t.Fatalf("status report: %d", st)
	}
	vals := p.values()
	if vals[inventory.KeyPasscodeCompliant] != "true" || vals[inventory.KeyOSBuild] != "21E219" || vals[inventory.KeySerialNumber] != "SER-"+p.udid {
		t.Errorf("values after the report: %v", vals)
	}
	for _, v := range vals {
		if v == "normal" {
			t.Errorf("battery health stored: %v", vals)
		}
	}
	ch, err := e.ddm.Channel(t.Context(), p.record())
	if err != nil {
		t.Fatal(err)
	}
	// Every declaration applied and valid, passcode compliant; the OS
	// update to 17.5 is due by the end of March: pending.
	if !ch.Declarative || ch.Compliance == nil || ch.Compliance.State != declarative.Pending ||
		len(ch.Compliance.Reasons) != 1 || !strings.Contains(ch.Compliance.Reasons[0], "OS update to 17.5 due by 2026-03-31T18:00:00") {
		t.Fatalf("channel %+v, compliance %+v", ch, ch.Compliance)
	}
	if !strings.Contains(ch.Reason, "declarative: iOS 17.4") {
		t.Errorf("reason %q", ch.Reason)
	}
	if len(e.eventsOf(declarative.EventEnabled)) != 1 || len(e.eventsOf(declarative.EventStatus)) != 1 || len(e.eventsOf(declarative.EventCompliance)) != 1 {
		t.Errorf("events %+v", e.events)
	}
}

func keys(m map[string]declarative.Declaration) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestChannelIdentity checks the identity and tenant rules of the channel:
// they are the check-in's.
func TestChannelIdentity(t *testing.T) {
	e := newEnv(t)
	a := e.newPhone(e.orgA, "00008110-000A1B2C3D4E0002", "17.4").enroll()
	a.drain()
	b := e.newPhone(e.orgB, "00008110-000B1B2C3D4E0002", "17.4").enroll()
	b.drain()
	body := func(p *phone, endpoint string) []byte {
		msg := map[string]any{"MessageType": "DeclarativeManagement", "Endpoint": endpoint, "UDID": p.udid}
		return plistBody(t, msg)
	}
	cases := []struct {
		name   string
		path   string
		body   []byte
		signer *phone
		want   int
	}{
		{"no identity", "/mdm/org_acme/checkin", body(a, "tokens"), nil, http.StatusBadRequest},
		{"another org's identity", "/mdm/org_acme/checkin", body(b, "tokens"), b, http.StatusForbidden},
		{"another device's identity", "/mdm/org_acme/checkin", body(a, "tokens"), e.newPhone(e.orgA, "other", "17.4"), http.StatusForbidden},
		{"another device's UDID", "/mdm/org_acme/checkin", body(b, "tokens"), a, http.StatusForbidden},
		{"the device's identity in another org's path", "/mdm/org_beta/checkin", body(a, "tokens"), a, http.StatusForbidden},
		{"a user channel", "/mdm/org_acme/checkin", plistBody(t, map[string]any{"MessageType": "DeclarativeManagement",
			"Endpoint": "tokens", "UDID": a.udid, "UserID": "u-1"}), a, http.StatusGone},
	}
	for _, c := range cases {
		if st, out, _ := a.put(c.path, c.body, c.signer); st != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, st, out, c.want)
		}
	}
	// Each org's device gets its own declarations, by its own decision.
	e.src.set(e.orgB, func(d *policy.Decision) { d.Requirements.Passcode.MinLength = 12 })
	if _, err := e.ddm.Refresh(t.Context(), b.record(), "admin:test"); err != nil {
		t.Fatal(err)
	}
	da, db := a.sync(), b.sync()
	if da["omm.passcode"].Payload["MinimumLength"] != 6.0 || db["omm.passcode"].Payload["MinimumLength"] != 12.0 {
		t.Errorf("org A's passcode %v, org B's %v", da["omm.passcode"].Payload, db["omm.passcode"].Payload)
	}
	// The settings profile: only its own URL, in its own org.
	u := da["omm.settings-profile"].Payload["ProfileURL"].(string)
	if st, prof := e.get(u); st != http.StatusOK || string(prof) != "signed settings profile of org_acme fp-true-false" {
		t.Errorf("settings profile: %d %q", st, prof)
	}
	for what, bad := range map[string]string{
		"another org":      strings.Replace(u, "/mdm/org_acme/", "/mdm/org_beta/", 1),
		"a wrong secret":   strings.Replace(u, "/settings.mobileconfig", "x/settings.mobileconfig", 1),
		"an older profile": strings.Replace(u, "v=fp-true-false", "v=fp-false-true", 1),
		"no fingerprint":   strings.Split(u, "?")[0],
		"another device":   strings.Replace(u, a.record().ID, b.record().ID, 1),
	} {
		if st, _ := e.get(bad); st != http.StatusNotFound {
			t.Errorf("settings profile from %s: %d, want 404", what, st)
		}
	}
}

// TestFallbackPerOSVersion checks that a device too old for the channel,
// or on an enrollment that does not allow it, keeps the command path, and
// that an OS update brings it to the channel.
func TestFallbackPerOSVersion(t *testing.T) {
	e := newEnv(t)
	old := e.newPhone(e.orgA, "00008110-000A1B2C3D4E0003", "14.8.1").enroll()
	if types := requestTypes(old.drain()); slices.Contains(types, "DeclarativeManagement") {
		t.Errorf("iOS 14.8.1 got %v", types)
	}
	if st, _, _ := old.ddm("tokens", nil); st != http.StatusNotFound {
		t.Errorf("tokens of a device on the command path: %d, want 404", st)
	}
	ch, err := e.ddm.Channel(t.Context(), old.record())
	if err != nil || ch.Declarative || !strings.Contains(ch.Reason, "iOS 14.8.1 predates declarative device management") {
		t.Errorf("channel %+v, %v", ch, err)
	}
	if _, err := e.ddm.Refresh(t.Context(), old.record(), "admin:test"); err != declarative.ErrNotDeclarative {
		t.Errorf("Refresh on the command path: %v", err)
	}

	mac := e.newPhone(e.orgA, "00008110-000A1B2C3D4E0004", "14.4")
	mac.product = "MacBookPro18,3"
	mac.enroll()
	if types := requestTypes(mac.drain()); slices.Contains(types, "DeclarativeManagement") {
		t.Errorf("a profile-enrolled Mac got %v", types)
	}
	ch, _ = e.ddm.Channel(t.Context(), mac.record())
	if ch.Declarative || !strings.Contains(ch.Reason, "not on a device enrollment") {
		t.Errorf("Mac channel %+v", ch)
	}

	// The old phone updates to iOS 17 and reports it.
	old.os = "17.4"
	if err := e.mdm.RefreshInventory(t.Context(), e.orgA, old.record().ID, "admin:test"); err != nil {
		t.Fatal(err)
	}
	if types := requestTypes(old.drain()); !slices.Contains(types, "DeclarativeManagement") {
		t.Errorf("after updating to 17.4: %v", types)
	}
	if tok := old.tokens(); tok.DeclarationsToken == "" {
		t.Error("no tokens after the update")
	}
}

// TestEnrollingAgainTurnsTheChannelOnAgain checks the pitfall of
// declarative servers on an MDM core: a device that enrolls again has
// forgotten its declarations, so it is sent DeclarativeManagement again
// although they did not change.
func TestEnrollingAgainTurnsTheChannelOnAgain(t *testing.T) {
	e := newEnv(t)
	// No settings profile: its URL is the enrollment's own, and the test
	// wants declarations that stay exactly the same.
	e.src.set(e.orgA, func(d *policy.Decision) { d.Requirements.DataSeparation = policy.DataSeparation{} })
	udid := "00008110-000A1B2C3D4E0005"
	first := e.newPhone(e.orgA, udid, "17.4").enroll()
	firstCmds := first.drain()
	firstTokens := first.tokens()
	decls := first.sync()
	first.report(map[string]any{"management": map[string]any{"declarations": statusOf(decls, nil)}})

	// Erased and enrolled again: a new identity, a new enrollment.
	e.advance(time.Hour)
	again := e.newPhone(e.orgA, udid, "17.4").enroll()
	cmds := again.drain()
	ddm := commandOf(cmds, "DeclarativeManagement")
	if ddm == nil {
		t.Fatalf("the re-enrolled device got %v, no DeclarativeManagement", requestTypes(cmds))
	}
	if tok := again.tokens(); tok.DeclarationsToken != firstTokens.DeclarationsToken {
		t.Errorf("declarations changed on re-enrollment: %s → %s (the test wants them equal)", firstTokens.DeclarationsToken, tok.DeclarationsToken)
	}
	if commandOf(firstCmds, "DeclarativeManagement") == nil {
		t.Fatal("the first enrollment got no DeclarativeManagement")
	}
	// Its compliance starts afresh: nothing applied yet.
	ch, _ := e.ddm.Channel(t.Context(), again.record())
	if ch.Compliance == nil || ch.Compliance.State != declarative.Pending || !strings.Contains(strings.Join(ch.Compliance.Reasons, ";"), "not yet applied") {
		t.Errorf("compliance after re-enrolling %+v", ch.Compliance)
	}

	// The same identity authenticating again on the same record (the
	// MDM profile installed again) starts a new enrollment too.
	e.advance(time.Hour)
	again.enroll()
	if cmds := again.drain(); commandOf(cmds, "DeclarativeManagement") == nil {
		t.Errorf("a repeated Authenticate got %v, no DeclarativeManagement", requestTypes(cmds))
	}
	if tok := again.tokens(); tok.DeclarationsToken != firstTokens.DeclarationsToken {
		t.Errorf("declarations changed on the repeated Authenticate")
	}
}

// TestPolicyChangeReachesTheDevice checks that a changed policy is one
// token change, one command and one push; that a change no declaration
// carries sends nothing; and that a device out of policy keeps its
// declarations.
func TestPolicyChangeReachesTheDevice(t *testing.T) {
	e := newEnv(t)
	p := e.newPhone(e.orgA, "00008110-000A1B2C3D4E0006", "17.4").enroll()
	p.drain()
	before := p.tokens()
	d := p.record()

	dec := staff()
	dec.Requirements.Encryption = true
	dec.Requirements.AllowFullWipe = true
	pushes := len(e.pushes())
	if c, err := e.ddm.Apply(t.Context(), d, dec, "admin:test"); err != nil || c != declarative.Unchanged {
		t.Fatalf("Apply of a change no declaration carries: %v, %v", c, err)
	}
	if cmds := p.drain(); len(cmds) != 0 || len(e.pushes()) != pushes || p.tokens() != before {
		t.Errorf("a change no declaration carries sent %v, %d pushes", requestTypes(cmds), len(e.pushes())-pushes)
	}

	dec.Requirements.Passcode.MinLength = 8
	e.advance(time.Minute)
	if c, err := e.ddm.Apply(t.Context(), d, dec, "admin:test"); err != nil || c != declarative.Updated {
		t.Fatalf("Apply of a new passcode length: %v, %v", c, err)
	}
	if n := len(e.pushes()) - pushes; n != 1 {
		t.Errorf("%d pushes, want 1", n)
	}
	cmds := p.drain()
	if types := requestTypes(cmds); !slices.Equal(types, []string{"DeclarativeManagement"}) {
		t.Fatalf("commands %v, want one DeclarativeManagement", types)
	}
	after := p.tokens()
	if after.DeclarationsToken == before.DeclarationsToken || !after.Timestamp.Equal(start.Add(time.Minute)) {
		t.Errorf("tokens %+v after the change, %+v before", after, before)
	}
	if got := p.sync()["omm.passcode"].Payload["MinimumLength"]; got != 8.0 {
		t.Errorf("passcode length after the change %v", got)
	}
	// Applying the same again sends nothing.
	if c, _ := e.ddm.Apply(t.Context(), d, dec, "admin:test"); c != declarative.Unchanged {
		t.Errorf("the same decision again: %v", c)
	}

	denied := policy.Decision{Outcome: policy.Denied, Policy: policy.DefaultID, Reasons: []string{"no policy targets the user"}}
	if c, err := e.ddm.Apply(t.Context(), d, denied, "admin:test"); err != nil || c != declarative.OutOfPolicy {
		t.Fatalf("Apply of a denial: %v, %v", c, err)
	}
	if p.tokens() != after {
		t.Error("a device out of policy lost its declarations")
	}
	ch, _ := e.ddm.Channel(t.Context(), d)
	if ch.Compliance.State != declarative.NotCompliant || !strings.Contains(ch.Compliance.Reasons[0], "out of policy: no policy targets the user") {
		t.Errorf("compliance out of policy %+v", ch.Compliance)
	}
	audit, err := e.store.ListAudit(t.Context(), e.orgA, storage.AuditQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range audit.Entries {
		if strings.HasPrefix(a.Action, "device.declar") || a.Action == declarative.ActionOutOfPolicy {
			actions = append(actions, a.Action)
		}
	}
	slices.Sort(actions)
	if want := []string{declarative.ActionEnable, declarative.ActionRecorded, declarative.ActionUpdate, declarative.ActionOutOfPolicy}; !sameSet(actions, want) {
		t.Errorf("audit actions %v, want %v", actions, want)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// TestComplianceFollowsStatus checks that compliance is recomputed from
// what the device reports: an invalid declaration, a passcode that does
// not meet the policy, an OS update past its deadline.
func TestComplianceFollowsStatus(t *testing.T) {
	e := newEnv(t)
	p := e.newPhone(e.orgA, "00008110-000A1B2C3D4E0007", "17.4").enroll()
	p.drain()
	decls := p.sync()
	compliance := func() *declarative.Compliance {
		t.Helper()
		ch, err := e.ddm.Channel(t.Context(), p.record())
		if err != nil {
			t.Fatal(err)
		}
		return ch.Compliance
	}
	if c := compliance(); c.State != declarative.Pending {
		t.Errorf("before any report: %+v", c)
	}
	p.report(map[string]any{"passcode": map[string]any{"is-compliant": true, "is-present": true},
		"management": map[string]any{"declarations": statusOf(decls, func(id string, s map[string]any) {
			if id == "omm.softwareupdate" {
				s["valid"], s["active"] = "invalid", false
				s["reasons"] = []any{map[string]any{"code": "Error.ConfigurationCannotBeApplied", "description": "no update server"}}
			}
		})}})
	c := compliance()
	if c.State != declarative.NotCompliant || !strings.Contains(strings.Join(c.Reasons, ";"),
		"OS update enforcement omm.softwareupdate is invalid on the device: Error.ConfigurationCannotBeApplied (no update server)") {
		t.Errorf("with an invalid declaration: %+v", c)
	}
	p.report(map[string]any{"passcode": map[string]any{"is-compliant": false},
		"management": map[string]any{"declarations": statusOf(decls, nil)}})
	if c := compliance(); c.State != declarative.NotCompliant || c.Reasons[0] != "the passcode does not meet the policy" {
		t.Errorf("with a non-compliant passcode: %+v", c)
	}
	p.report(map[string]any{"passcode": map[string]any{"is-compliant": true}})
	if c := compliance(); c.State != declarative.Pending {
		t.Errorf("compliant passcode, update due: %+v", c)
	}
	e.advance(45 * 24 * time.Hour) // past the deadline
	if c := compliance(); c.State != declarative.NotCompliant || !strings.Contains(c.Reasons[0], "older than 17.5, which was due by") {
		t.Errorf("past the update's deadline: %+v", c)
	}
	// The device updates: it reports its new version and its
	// declarations are rebuilt for it.
	p.report(map[string]any{"device": map[string]any{"operating-system": map[string]any{"version": "17.5"}}})
	if c := compliance(); c.State != declarative.Compliant || len(c.Reasons) != 0 {
		t.Errorf("after updating: %+v", c)
	}
	st, err := e.store.DeclarativeState(t.Context(), e.orgA, p.record().ID)
	if err != nil || st.Inputs.OSVersion != "17.5" {
		t.Errorf("inputs after the update: %+v, %v", st.Inputs, err)
	}
	// A declaration reported at another revision does not count as applied.
	p.report(map[string]any{"management": map[string]any{"declarations": statusOf(decls, func(id string, s map[string]any) {
		if id == "omm.passcode" {
			s["server-token"] = "an-older-one"
		}
	})}})
	if c := compliance(); c.State != declarative.Pending {
		t.Errorf("with an older revision reported: %+v", c)
	}
}

// TestComplianceEvents: each change of a declarative device's compliance
// is in the org's event stream, written with the status that made it.
func TestComplianceEvents(t *testing.T) {
	e := newEnv(t)
	p := e.newPhone(e.orgA, "00008110-000A1B2C3D4E0008", "17.4").enroll()
	p.drain()
	decls := p.sync()
	count := func() (n int, last events.Event) {
		page, err := e.store.Events(t.Context(), e.orgA, events.Query{Limit: events.MaxPage})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range page.Events {
			if ev.Kind == events.ComplianceChanged && ev.Device == p.record().ID {
				n, last = n+1, ev
			}
		}
		return n, last
	}
	before, _ := count()
	p.report(map[string]any{"passcode": map[string]any{"is-compliant": false, "is-present": true},
		"management": map[string]any{"declarations": statusOf(decls, nil)}})
	n, last := count()
	if n != before+1 || last.Data["in_policy"] != "false" || !strings.Contains(last.Data["reason"], "passcode") {
		t.Fatalf("after a non-compliant passcode: %d compliance events (was %d), last %+v", n, before, last)
	}
	p.report(map[string]any{"passcode": map[string]any{"is-compliant": false, "is-present": true}})
	if n2, _ := count(); n2 != n {
		t.Errorf("an unchanged compliance emitted %d events", n2-n)
	}
	p.report(map[string]any{"passcode": map[string]any{"is-compliant": true}}) // no declarations in the report
	if n3, last := count(); n3 != n+1 || last.Data["reason"] == "" {
		t.Errorf("a passcode-only report that changes compliance: %d events (want %d), last %+v", n3, n+1, last)
	}
}

// TestInventoriedSaysWhenTheDecisionIsCurrent: the check-in service tells
// consumers of a DeviceInformation answer (Result.Declarative) that the
// channel decided on it — when the channel turned on, and when an OS
// update rebuilt the declarations — and not when the device stays on the
// command path, whether for its OS version or for a decision refusing it.
func TestInventoriedSaysWhenTheDecisionIsCurrent(t *testing.T) {
	e := newEnv(t)
	decided := func(p *phone) (bool, bool) {
		e.mu.Lock()
		defer e.mu.Unlock()
		v, ok := e.decided[p.udid]
		return v, ok
	}
	on := e.newPhone(e.orgA, "00008110-000A1B2C3D4E0011", "17.4").enroll()
	if types := requestTypes(on.drain()); !slices.Contains(types, "DeclarativeManagement") {
		t.Fatalf("iOS 17.4 got %v", types)
	}
	if v, ok := decided(on); !ok || !v {
		t.Errorf("the answer that turned the channel on: Declarative %v (reported %v), want true", v, ok)
	}
	if cur, err := e.ddm.Inventoried(t.Context(), on.record()); err != nil || !cur {
		t.Errorf("Inventoried on the channel, same OS version = %v, %v; want true", cur, err)
	}
	on.os = "17.5"
	if err := e.mdm.RefreshInventory(t.Context(), e.orgA, on.record().ID, "admin:test"); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	delete(e.decided, on.udid)
	e.mu.Unlock()
	on.drain()
	if v, ok := decided(on); !ok || !v {
		t.Errorf("the answer with a new OS version: Declarative %v (reported %v), want true", v, ok)
	}

	old := e.newPhone(e.orgA, "00008110-000A1B2C3D4E0012", "14.8.1").enroll()
	old.drain()
	if v, ok := decided(old); !ok || v {
		t.Errorf("iOS 14.8.1 on the command path: Declarative %v (reported %v), want false", v, ok)
	}

	e.src.set(e.orgB, func(d *policy.Decision) {
		*d = policy.Decision{Outcome: policy.Denied, Policy: policy.DefaultID, Reasons: []string{"no policy targets the user"}}
	})
	refused := e.newPhone(e.orgB, "00008110-000A1B2C3D4E0013", "17.4").enroll()
	if types := requestTypes(refused.drain()); slices.Contains(types, "DeclarativeManagement") {
		t.Errorf("a device its decision refuses got %v", types)
	}
	if v, ok := decided(refused); !ok || v {
		t.Errorf("a device its decision refuses: Declarative %v (reported %v), want false", v, ok)
	}
	if cur, err := e.ddm.Inventoried(t.Context(), refused.record()); err != nil || cur {
		t.Errorf("Inventoried of a device its decision refuses = %v, %v; want false", cur, err)
	}
}

// TestOutOfPolicyDecidedAgainOnReports: a device on the channel that its
// policy refuses for the OS version it reported is back in policy once it
// reports a permitted one, through a status report as through
// DeviceInformation — even one equal to the version its declarations
// were built for, which the refusal did not change.
func TestOutOfPolicyDecidedAgainOnReports(t *testing.T) {
	e := newEnv(t)
	p := e.newPhone(e.orgA, "00008110-000A1B2C3D4E0021", "17.4").enroll()
	p.drain()
	e.src.set(e.orgA, func(d *policy.Decision) {
		*d = policy.Decision{Outcome: policy.Denied, Policy: "pol_staff", Reasons: []string{"iOS 17.1 is older than iOS 17.2"}}
	})
	outOfPolicy := func() string {
		t.Helper()
		st, err := e.store.DeclarativeState(t.Context(), e.orgA, p.record().ID)
		if err != nil {
			t.Fatal(err)
		}
		return st.Inputs.OutOfPolicy
	}
	p.report(map[string]any{"device": map[string]any{"operating-system": map[string]any{"version": "17.1"}}})
	if outOfPolicy() == "" {
		t.Fatal("in policy after a report the decision refuses")
	}
	e.src.set(e.orgA, func(d *policy.Decision) { *d = staff() })
	p.report(map[string]any{"device": map[string]any{"operating-system": map[string]any{"version": "17.4"}}})
	if why := outOfPolicy(); why != "" {
		t.Errorf("after a status report of a permitted version: still out of policy (%s)", why)
	}

	e.src.set(e.orgA, func(d *policy.Decision) {
		*d = policy.Decision{Outcome: policy.Denied, Policy: "pol_staff", Reasons: []string{"iOS 17.1 is older than iOS 17.2"}}
	})
	p.os = "17.1"
	e.refresh(t, p)
	if outOfPolicy() == "" {
		t.Fatal("in policy after DeviceInformation the decision refuses")
	}
	e.src.set(e.orgA, func(d *policy.Decision) { *d = staff() })
	p.os = "17.4"
	e.refresh(t, p)
	if why := outOfPolicy(); why != "" {
		t.Errorf("after DeviceInformation of a permitted version: still out of policy (%s)", why)
	}
}

// refresh has p answer an inventory refresh (DeviceInformation included).
func (e *env) refresh(t *testing.T, p *phone) {
	t.Helper()
	if err := e.mdm.RefreshInventory(t.Context(), e.orgA, p.record().ID, "admin:test"); err != nil {
		t.Fatal(err)
	}
	p.drain()
}

// refreshed is refresh, returning p's declarative state after it.
func (e *env) refreshed(t *testing.T, p *phone) declarative.State {
	t.Helper()
	e.refresh(t, p)
	st, err := e.store.DeclarativeState(t.Context(), e.orgA, p.record().ID)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestInventoriedDecidesOnTheSameOSVersion: a device on the channel whose
// decision changed without reaching it (a policy change or a group change
// whose re-application failed for it, or was never made) is decided again
// by its next DeviceInformation answer, though it reports the OS version
// its declarations were built for.
func TestInventoriedDecidesOnTheSameOSVersion(t *testing.T) {
	e := newEnv(t)
	p := e.newPhone(e.orgA, "00008110-000A1B2C3D4E0031", "17.4").enroll()
	if types := requestTypes(p.drain()); !slices.Contains(types, "DeclarativeManagement") {
		t.Fatalf("iOS 17.4 got %v", types)
	}
	e.src.set(e.orgA, func(d *policy.Decision) {
		*d = policy.Decision{Outcome: policy.Denied, Policy: policy.DefaultID, Reasons: []string{"no policy targets the user"}}
	})
	st := e.refreshed(t, p)
	if st.Inputs.OutOfPolicy == "" {
		t.Errorf("in policy after DeviceInformation of the same OS version under a decision that refuses it: %+v", st.Inputs)
	}
}

// oneRead is a source that takes the decision and the apps together
// (declarative.AppsDecider), counting how it is asked.
type oneRead struct {
	*source
	mu                       sync.Mutex
	decideApps, decide, apps int
}

func (o *oneRead) DecideApps(ctx context.Context, d inventory.Device, os string) (policy.Decision, []declarative.App, error) {
	o.mu.Lock()
	o.decideApps++
	o.mu.Unlock()
	dec, _ := o.source.Decide(ctx, d, os)
	if dec.Outcome == policy.Denied {
		return dec, nil, nil
	}
	apps, _ := o.source.Apps(ctx, d)
	return dec, apps, nil
}

func (o *oneRead) Decide(ctx context.Context, d inventory.Device, os string) (policy.Decision, error) {
	o.mu.Lock()
	o.decide++
	o.mu.Unlock()
	return o.source.Decide(ctx, d, os)
}

func (o *oneRead) Apps(ctx context.Context, d inventory.Device) ([]declarative.App, error) {
	o.mu.Lock()
	o.apps++
	o.mu.Unlock()
	return o.source.Apps(ctx, d)
}

// TestAppsDeciderAsksOnce: a source that decides and lists the apps
// together is asked once per report (one directory read), when the
// channel is turned on and on every DeviceInformation answer after, and
// the apps it returns are the declarations'.
func TestAppsDeciderAsksOnce(t *testing.T) {
	var src *oneRead
	e := newEnvWith(t, func(s *source) declarative.Source {
		src = &oneRead{source: s}
		return src
	})
	p := e.newPhone(e.orgA, "00008110-000A1B2C3D4E0032", "17.4").enroll()
	if types := requestTypes(p.drain()); !slices.Contains(types, "DeclarativeManagement") {
		t.Fatalf("iOS 17.4 got %v", types)
	}
	e.src.mu.Lock()
	e.src.apps = []declarative.App{{ID: "app_1", Identifier: "com.acme.app", ManifestURL: "https://apps.example.com/m.plist", Required: true}}
	e.src.mu.Unlock()
	src.mu.Lock()
	before := src.decideApps
	src.mu.Unlock()
	st := e.refreshed(t, p)
	if len(st.Inputs.Apps) != 1 || st.Inputs.Apps[0].ID != "app_1" {
		t.Errorf("declarations' apps %+v, want the one DecideApps listed", st.Inputs.Apps)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if before == 0 || src.decideApps != before+1 || src.decide != 0 || src.apps != 0 {
		t.Errorf("asked DecideApps %d times to turn on and %d for a report, Decide %d, Apps %d: want 1+, 1, 0, 0",
			before, src.decideApps-before, src.decide, src.apps)
	}
}
