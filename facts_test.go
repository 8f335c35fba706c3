package omm_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openomm/omm"
	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/enroll/mdm/mdmtest"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// TestPreliminaryDecision: facts a person gives on a web page decide with
// platform and ownership only; the decision says what the device is
// checked against, and the facts say where they came from.
func TestPreliminaryDecision(t *testing.T) {
	e := newEnv(t, "")
	ctx := t.Context()
	p := e.policies[e.org]
	ios := p.Rules[policy.IOS]
	ios.Requirements.MinOSVersion, ios.Requirements.RefuseCompromised = "17.0", true
	p.Rules[policy.IOS] = ios
	if _, err := e.sdk.UpdatePolicy(ctx, "admin:test", p); err != nil {
		t.Fatal(err)
	}
	// Whatever else the form carried, only platform and ownership count.
	f := omm.Facts{Platform: "ios", Ownership: "personal", OSVersion: "9.0", Compromised: true, FromPerson: true}
	dec, err := e.sdk.Decide(ctx, e.org, e.users["alice"], f)
	if err != nil || dec.Outcome != policy.Enroll {
		t.Fatalf("preliminary decision = %s %v: %v", dec.Outcome, dec.Reasons, err)
	}
	reasons := strings.Join(dec.Reasons, "\n")
	for _, want := range []string{`targets the user's group "Staff"`, "OS version is checked when it enrolls", "jailbroken is checked"} {
		if !strings.Contains(reasons, want) {
			t.Errorf("reasons lack %q:\n%s", want, reasons)
		}
	}
	from := map[string]omm.FactSource{}
	for _, fv := range omm.ExplainFacts(f) {
		from[fv.Fact] = fv.From
	}
	if from["Kind of device"] != omm.FromYou || from["Owner"] != omm.FromYou || from["OS version"] != omm.NotYetKnown || from["Jailbroken or rooted"] != omm.NotYetKnown {
		t.Errorf("sources of a web page's facts: %v", from)
	}
	f.FromPerson = false
	for _, fv := range omm.ExplainFacts(f) {
		if fv.Fact == "OS version" && (fv.From != omm.FromDevice || fv.Value != "9.0") {
			t.Errorf("the agent's OS version: %+v", fv)
		}
	}
	// An Android device whose mode depends on what it reports gets no
	// token from a web page (the staff policy enables device admin only).
	_, err = e.sdk.BeginAndroidEnrollment(ctx, e.org, e.users["alice"], "user:alice", omm.Facts{Platform: "android", Ownership: "personal", FromPerson: true})
	if !errors.Is(err, omm.ErrNotPermitted) || !strings.Contains(err.Error(), "agent app") {
		t.Errorf("preliminary legacy-mode enrollment: %v", err)
	}
}

// TestReportedOSVersionDecidesAgain: a device enrolled on a preliminary
// decision reports an OS version older than its policy's minimum; the
// report decides again and the device shows as out of policy.
func TestReportedOSVersionDecidesAgain(t *testing.T) {
	e := newEnv(t, "")
	ctx := t.Context()
	d := e.enrollApple(t, e.org, e.users["alice"])
	d.drain(t, nil)
	e.setMinIOS(t, "18.0")
	dev, err := e.sdk.OrgDevice(ctx, e.org, d.id)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := e.sdk.Compliance(ctx, dev); c == nil || c.OutOfPolicy != "" {
		t.Fatalf("before the device reported its version: %+v", c)
	}
	if err := e.sdk.Act(ctx, dev, omm.ActionRefresh, "admin:test"); err != nil {
		t.Fatal(err)
	}
	d.drain(t, reportOS("17.4"))
	c, err := e.sdk.Compliance(ctx, dev)
	if err != nil || c == nil || c.InPolicy || !strings.Contains(c.OutOfPolicy, "17.4 is older than") {
		t.Errorf("after the device reported iOS 17.4 under a minimum of 18.0: %+v, %v", c, err)
	}
}

// enrollOnChannel enrolls an Apple device for alice that reports iOS 17.4,
// which puts it on the declarative channel.
func (e *env) enrollOnChannel(t *testing.T) (*appleDevice, inventory.Device) {
	t.Helper()
	d := e.enrollApple(t, e.org, e.users["alice"])
	d.drain(t, reportOS("17.4"))
	dev, err := e.sdk.OrgDevice(t.Context(), e.org, d.id)
	if err != nil {
		t.Fatal(err)
	}
	if ch, err := e.sdk.Channel(t.Context(), dev); err != nil || ch == nil || !ch.Declarative {
		t.Fatalf("channel after reporting iOS 17.4: %+v, %v", ch, err)
	}
	return d, dev
}

// TestDeclarativeDeviceReportedOSVersion: a device on the declarative
// channel that reports an OS version older than its policy's minimum shows
// as out of policy, and back in policy once it reports a newer one. The
// channel decides on the report; the SDK's own re-decision after it is
// skipped (checkin.Result.Declarative), so this guards that nothing is
// lost by the skip.
func TestDeclarativeDeviceReportedOSVersion(t *testing.T) {
	e := newEnv(t, "")
	ctx := t.Context()
	d, dev := e.enrollOnChannel(t)
	e.setMinIOS(t, "17.2")
	for _, step := range []struct {
		os string
		in bool
	}{{"17.1", false}, {"17.4", true}} {
		if err := e.sdk.Act(ctx, dev, omm.ActionRefresh, "admin:test"); err != nil {
			t.Fatal(err)
		}
		d.drain(t, reportOS(step.os))
		c, err := e.sdk.Compliance(ctx, dev)
		if err != nil || c == nil || c.InPolicy != step.in || (!step.in && !strings.Contains(c.OutOfPolicy, step.os+" is older than")) {
			t.Errorf("after reporting iOS %s under a minimum of 17.2: %+v, %v", step.os, c, err)
		}
	}
}

// TestAgentLinkLandingPage: the legacy modes' enrollment link opened in a
// browser lands on a page saying what to do, not on a 404.
func TestAgentLinkLandingPage(t *testing.T) {
	e := newEnv(t, "/mdm")
	st, body := e.do(t, "GET", "/mdm"+omm.AgentPath+"?token=abc.def", nil)
	if st != 200 || !strings.Contains(string(body), "OMM agent app") || strings.Contains(string(body), "abc.def") {
		t.Errorf("landing page = %d:\n%s", st, body)
	}
}

// setMinIOS changes the minimum iOS version of the org's policy.
func (e *env) setMinIOS(t *testing.T, v string) {
	t.Helper()
	p := e.policies[e.org]
	ios := p.Rules[policy.IOS]
	ios.Requirements.MinOSVersion = v
	p.Rules[policy.IOS] = ios
	if _, err := e.sdk.UpdatePolicy(t.Context(), "admin:test", p); err != nil {
		t.Fatal(err)
	}
}

// reportOS answers DeviceInformation with OS version v.
func reportOS(v string) func(mdmtest.Command) map[string]any {
	return func(c mdmtest.Command) map[string]any {
		if c.RequestType == "DeviceInformation" {
			return map[string]any{"Status": "Acknowledged", "QueryResponses": map[string]any{"OSVersion": v, "DeviceName": "Alice's iPhone"}}
		}
		return nil
	}
}

// TestReportRepairsAMissedReapplication: a policy change or a directory
// change that never reached a device (its re-application failed for the
// device, or the host changed the directory without SDK.UserChanged) is
// applied by the device's next DeviceInformation answer, on the
// declarative channel as on the command path, though the device reports
// the OS version it reported before.
func TestReportRepairsAMissedReapplication(t *testing.T) {
	e := newEnv(t, "")
	ctx := t.Context()
	onChannel := e.enrollApple(t, e.org, e.users["alice"])
	onChannel.drain(t, reportOS("17.4"))
	onCommands := e.enrollApple(t, e.org, e.users["alice"])
	onCommands.drain(t, reportOS("14.8"))
	dev, err := e.sdk.OrgDevice(ctx, e.org, onChannel.id)
	if err != nil {
		t.Fatal(err)
	}
	if ch, err := e.sdk.Channel(ctx, dev); err != nil || ch == nil || !ch.Declarative {
		t.Fatalf("channel after reporting iOS 17.4: %+v, %v", ch, err)
	}
	// The policy now needs iOS 17.5, written past the SDK: nothing was
	// re-applied.
	p, err := e.sdk.Policy.Policy(ctx, e.org, e.policies[e.org].ID)
	if err != nil {
		t.Fatal(err)
	}
	ios := p.Rules[policy.IOS]
	ios.Requirements.MinOSVersion = "17.5"
	p.Rules[policy.IOS] = ios
	if _, err := e.sdk.Store.UpdatePolicy(ctx, p, storage.AuditEntry{Org: e.org, Time: time.Now(), Actor: "admin:test",
		Action: "policy.update", Target: "policy:" + string(p.ID)}); err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		name string
		d    *appleDevice
		os   string
	}{{"declarative channel", onChannel, "17.4"}, {"command path", onCommands, "14.8"}} {
		dev, err := e.sdk.OrgDevice(ctx, e.org, x.d.id)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.sdk.Act(ctx, dev, omm.ActionRefresh, "admin:test"); err != nil {
			t.Fatal(err)
		}
		x.d.drain(t, reportOS(x.os))
		if c, err := e.sdk.Compliance(ctx, dev); err != nil || c == nil || c.InPolicy {
			t.Errorf("%s: in policy after reporting iOS %s under a minimum of 17.5: %+v, %v", x.name, x.os, c, err)
		}
	}

	// Back in policy on iOS 17.6; then alice leaves the policy's group and
	// nobody tells the SDK.
	if err := e.sdk.Act(ctx, dev, omm.ActionRefresh, "admin:test"); err != nil {
		t.Fatal(err)
	}
	onChannel.drain(t, reportOS("17.6"))
	if c, err := e.sdk.Compliance(ctx, dev); err != nil || c == nil || !c.InPolicy {
		t.Fatalf("declarative channel: after reporting iOS 17.6: %+v, %v", c, err)
	}
	if err := e.dir.RemoveMember(ctx, e.org, e.staff[e.org], e.users["alice"], "test"); err != nil {
		t.Fatal(err)
	}
	if err := e.sdk.Act(ctx, dev, omm.ActionRefresh, "admin:test"); err != nil {
		t.Fatal(err)
	}
	onChannel.drain(t, reportOS("17.6"))
	if c, err := e.sdk.Compliance(ctx, dev); err != nil || c == nil || c.InPolicy {
		t.Errorf("declarative channel: after its user left the policy's group: %+v, %v", c, err)
	}
}

// groupReads counts the directory's group look-ups.
type groupReads struct {
	auth.Directory
	mu sync.Mutex
	n  int
}

func (g *groupReads) Groups(ctx context.Context, org storage.OrgID, userID string) ([]auth.Group, error) {
	g.mu.Lock()
	g.n++
	g.mu.Unlock()
	return g.Directory.Groups(ctx, org, userID)
}

// count returns the look-ups since the last count.
func (g *groupReads) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := g.n
	g.n = 0
	return n
}

// TestReportReadsTheDirectoryOnce: a DeviceInformation answer from a
// device on the declarative channel asks the host's directory for the
// user's groups once, for the decision and the apps together.
func TestReportReadsTheDirectoryOnce(t *testing.T) {
	e := newEnv(t, "")
	ctx := t.Context()
	// Set before any device talks to it: the SDK reads its Directory
	// field at each use.
	reads := &groupReads{Directory: e.sdk.Directory}
	e.sdk.Directory = reads
	d, dev := e.enrollOnChannel(t)
	if err := e.sdk.Act(ctx, dev, omm.ActionRefresh, "admin:test"); err != nil {
		t.Fatal(err)
	}
	reads.count()
	d.drain(t, reportOS("17.4"))
	if n := reads.count(); n != 1 {
		t.Errorf("one report read the user's groups %d times, want 1", n)
	}
}
