package omm_test

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/openomm/omm"
	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/enroll/mdm/mdmtest"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/profile"
	"github.com/openomm/omm/storage"
)

// TestHandlerUnderPrefix: mounted under a path prefix, the handler hands
// out URLs with the prefix (the enrollment URL, the SCEP and MDM URLs in
// the profile, the Android enrollment link), serves every route under
// it, and answers 404 outside it.
func TestHandlerUnderPrefix(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "/device-mgmt")
	base := e.ts.URL + "/device-mgmt/"
	var routes []string
	e.sdk.Handler(omm.WithRoutes(&routes))
	for _, r := range routes {
		if r == "/" {
			continue // the catch-all that answers 404 (below)
		}
		if _, path, _ := strings.Cut(r, " "); !strings.HasPrefix(path, "/device-mgmt/") && !strings.HasPrefix(r, "/device-mgmt/") {
			t.Errorf("route %q is not under the prefix", r)
		}
	}
	d := e.enrollApple(t, e.org, e.users["alice"])
	if !strings.HasPrefix(d.checkIn, base+"mdm/") || !strings.HasPrefix(d.server, base+"mdm/") {
		t.Errorf("MDM URLs %s %s, want them under %s", d.checkIn, d.server, base)
	}
	for _, pl := range d.enrollmentProfile.Payloads {
		if s, ok := pl.(*profile.SCEP); ok && !strings.HasPrefix(s.URL, base+"scep/") {
			t.Errorf("SCEP URL %s, want it under %s", s.URL, base)
		}
	}
	en, err := e.sdk.BeginAppleEnrollment(t.Context(), e.org, e.users["alice"], omm.Facts{Platform: "ios", OSVersion: "17.4"}, "")
	if err != nil || !strings.HasPrefix(en.URL, base+"enroll/"+string(e.org)+"/profile?") {
		t.Errorf("OTA enrollment URL %q, %v; want it under %s", en.URL, err, base)
	}
	e.enrollAndroid(t, e.org, e.users["alice"]) // checks the link's prefix

	for _, tt := range []struct {
		path string
		want int
	}{
		{"/device-mgmt/scep/" + string(e.org) + "?operation=GetCACaps", 200},
		{"/scep/" + string(e.org) + "?operation=GetCACaps", 404},
		{"/enroll/" + string(e.org) + "/mobileconfig?token=x", 404},
		{"/device-mgmt/no-such-endpoint", 404},
	} {
		if st, _ := e.do(t, "GET", tt.path, nil); st != tt.want {
			t.Errorf("GET %s = %d, want %d", tt.path, st, tt.want)
		}
	}
	// The catch-all says where the endpoints are.
	h := e.sdk.Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/mdm/"+string(e.org)+"/checkin", nil))
	if rec.Code != 404 || !strings.Contains(rec.Body.String(), "/device-mgmt/") {
		t.Errorf("outside the prefix: %d %q", rec.Code, rec.Body.String())
	}
}

// TestCAGuard: the handler makes no CA for an org that does not exist,
// and a device identity from one org's CA is refused (403, never 401) at
// another org's check-in.
func TestCAGuard(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "/device-mgmt")
	if st, out := e.do(t, "GET", "/device-mgmt/scep/org_nobody?operation=GetCACert", nil); st == 200 {
		t.Errorf("GetCACert for an org that does not exist = %d (%d bytes)", st, len(out))
	}
	if _, err := e.sdk.SCEP.CACertificate(t.Context(), "org_nobody"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("CA of an org that does not exist: %v", err)
	}
	d := e.enrollApple(t, e.org, e.users["alice"])
	d.drain(t, nil)
	other := strings.Replace(d.server, "/mdm/"+string(e.org)+"/", "/mdm/"+string(e.other)+"/", 1)
	if st, out := d.send(t, other, map[string]any{"Status": "Idle"}); st != 403 {
		t.Errorf("an identity of %s at %s = %d %s, want 403", e.org, other, st, out)
	}
	otherCA, err := e.sdk.SCEP.CACertificate(t.Context(), e.other)
	if err != nil || otherCA.Equal(d.ca) {
		t.Fatalf("the orgs share a CA or the other has none: %v", err)
	}
}

// TestAgentAuth: with WithAgentAuth the host's principal is honoured and
// the SDK's own sign-in is not served; without it, the SDK's sign-in is
// and the agent API wants its sessions.
func TestAgentAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "/mdm-sdk")
	alice := as(e.org, e.users["alice"])
	for _, tt := range []struct {
		method, path string
		headers      []string
		want         int
	}{
		{"POST", "/mdm-sdk/api/agent/auth/signin", nil, 404},
		{"GET", "/mdm-sdk/api/agent/devices", nil, 401},
		{"GET", "/mdm-sdk/api/agent/devices", alice, 200},
		{"GET", "/mdm-sdk/api/agent/devices", []string{"X-Org", "not an org", "X-User", "u"}, 401},
	} {
		if st, out := e.do(t, tt.method, tt.path, nil, tt.headers...); st != tt.want {
			t.Errorf("%s %s = %d %s, want %d", tt.method, tt.path, st, out, tt.want)
		}
	}
	// The principal acts in its own org and on its own devices only.
	d := e.enrollApple(t, e.org, e.users["alice"])
	var mine struct{ Devices []omm.DeviceView }
	if st, out := e.do(t, "GET", "/mdm-sdk/api/agent/devices", nil, alice...); st != 200 || json.Unmarshal(out, &mine) != nil ||
		len(mine.Devices) != 1 || mine.Devices[0].ID != d.id {
		t.Errorf("alice's devices = %d %s", st, out)
	}
	if st, _ := e.do(t, "GET", "/mdm-sdk/api/agent/devices/"+d.id+"/report", nil, as(e.org, e.users["carol"])...); st != 404 {
		t.Errorf("carol reads alice's report: %d", st)
	}
	if st, _ := e.do(t, "GET", "/mdm-sdk/api/agent/devices/"+d.id+"/report", nil, as(e.other, e.users["olga"])...); st != 404 {
		t.Errorf("another org's user reads alice's report: %d", st)
	}

	own := newEnv(t, "", omm.WithRoutes(new([]string))) // any option but WithAgentAuth: the SDK's own sign-in
	if st, _ := own.do(t, "POST", "/api/agent/auth/signin", map[string]string{"site": "acme", "username": "alice", "password": "wrong"}); st == 404 {
		t.Error("without WithAgentAuth the SDK's sign-in is not served")
	}
	if st, _ := own.do(t, "GET", "/api/agent/devices", nil, as(own.org, own.users["alice"])...); st != 401 {
		t.Errorf("the SDK's own agent API took the test headers: %d", st)
	}
}

// TestAdminHandler: the admin API refuses a request without the host's
// admin credential, and scopes the admin to their org.
func TestAdminHandler(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	mine := e.enrollApple(t, e.org, e.users["alice"])
	theirs := e.enrollApple(t, e.other, e.users["olga"])
	admin := []string{"X-Admin-Org", string(e.org)}
	for _, tt := range []struct {
		method, path string
		headers      []string
		want         int
	}{
		{"GET", "/admin/devices", nil, 401},
		{"GET", "/admin/devices/" + mine.id, nil, 401},
		{"POST", "/admin/devices/" + mine.id + "/lock", nil, 401},
		{"GET", "/admin/orgs/" + string(e.org), admin, 200},
		{"GET", "/admin/orgs/" + string(e.other), admin, 403},
		{"GET", "/admin/devices/" + mine.id, admin, 200},
		{"GET", "/admin/devices/" + theirs.id, admin, 404},
		{"POST", "/admin/devices/" + theirs.id + "/lock", admin, 404},
		{"GET", "/admin/policies/" + string(e.policies[e.other].ID), admin, 404},
	} {
		if st, out := e.do(t, tt.method, tt.path, nil, tt.headers...); st != tt.want {
			t.Errorf("%s %s = %d %s, want %d", tt.method, tt.path, st, out, tt.want)
		}
	}
	var list struct{ Devices []omm.DeviceSummaryView }
	if st, out := e.do(t, "GET", "/admin/devices", nil, admin...); st != 200 || json.Unmarshal(out, &list) != nil ||
		len(list.Devices) != 1 || list.Devices[0].ID != mine.id {
		t.Errorf("the admin's device list = %d %s, want only their org's device", st, out)
	}
	// A policy naming another org's group is refused.
	body := omm.ViewPolicy(policy.Policy{Name: "Theirs", Priority: 5, Groups: []string{e.staff[e.other]},
		Rules: map[policy.Platform]policy.Rule{policy.IOS: {Action: policy.Allow}}})
	if st, out := e.do(t, "POST", "/admin/policies", body, admin...); st != 400 {
		t.Errorf("a policy for another org's group = %d %s, want 400", st, out)
	}
}

// TestReapplyAfterPolicyChange: a changed policy reaches the enrolled
// devices of its org — an iPhone gets the new signed profile at its next
// check-in, an Android phone's device-admin policy carries the new
// requirement — and a change the profile does not carry queues nothing.
// Another org's devices are untouched.
func TestReapplyAfterPolicyChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "/device-mgmt")
	ctx := t.Context()
	iphone := e.enrollApple(t, e.org, e.users["alice"])
	cmds := iphone.drain(t, nil)
	if len(cmds) == 0 || cmds[0].RequestType != "InstallProfile" || iphone.policyProfile(t, cmds[0]).MinLength != staffPasscode.MinLength {
		t.Fatalf("enrollment delivered %v, want the staff policy's profile first", requestTypes(cmds))
	}
	phone := e.enrollAndroid(t, e.org, e.users["alice"])
	if calls := e.policyCalls(t, phone); !slices.Contains(calls, "setPasswordMinimumLength(6)") {
		t.Fatalf("Android policy %v", calls)
	}
	otherPhone := e.enrollAndroid(t, e.other, e.users["olga"])
	otherIPhone := e.enrollApple(t, e.other, e.users["olga"])
	otherIPhone.drain(t, nil)

	p := e.policies[e.org]
	p.Description = "edited: nothing the devices get"
	p, err := e.sdk.UpdatePolicy(ctx, "admin:test", p)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := iphone.poll(t, nil); ok {
		t.Fatalf("a description change queued %s", c.RequestType)
	}

	for _, platform := range []policy.Platform{policy.IOS, policy.Android} {
		r := p.Rules[platform]
		r.Requirements.Passcode.MinLength = 9
		p.Rules[platform] = r
	}
	if _, err := e.sdk.UpdatePolicy(ctx, "admin:test", p); err != nil {
		t.Fatal(err)
	}
	c, ok := iphone.poll(t, nil)
	if !ok || c.RequestType != "InstallProfile" {
		t.Fatalf("after the change the iPhone got %q (%v), want InstallProfile", c.RequestType, ok)
	}
	if pc := iphone.policyProfile(t, c); pc == nil || pc.MinLength != 9 {
		t.Errorf("re-applied profile passcode %+v, want min length 9", pc)
	}
	if _, more := iphone.poll(t, map[string]any{"Status": "Acknowledged", "CommandUUID": c.UUID}); more {
		t.Error("more than one command for one change")
	}
	comp, err := e.sdk.Compliance(ctx, mustDevice(t, e, e.org, iphone.id))
	if err != nil || comp == nil || !comp.InPolicy || comp.Policy != p.ID {
		t.Errorf("compliance %+v, %v", comp, err)
	}
	if calls := e.policyCalls(t, phone); !slices.Contains(calls, "setPasswordMinimumLength(9)") {
		t.Errorf("Android policy after the change %v, want min length 9", calls)
	}
	if !strings.Contains(e.log.String(), "policy re-applied to enrolled devices") {
		t.Error("no log line for the re-application")
	}

	// The other org's devices kept what they had.
	if c, ok := otherIPhone.poll(t, nil); ok {
		t.Errorf("another org's iPhone got %s", c.RequestType)
	}
	if calls := e.policyCalls(t, otherPhone); !slices.Contains(calls, "setPasswordMinimumLength(6)") {
		t.Errorf("another org's phone's policy %v", calls)
	}
}

// TestReapplyAfterMembershipChange: a user leaving the targeted group
// leaves the device enrolled but out of policy; joining again brings it
// back in. UserChanged is the host's entry point.
func TestReapplyAfterMembershipChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := t.Context()
	alice := e.users["alice"]
	d := e.enrollApple(t, e.org, alice)
	d.drain(t, nil)
	if err := e.dir.RemoveMember(ctx, e.org, e.staff[e.org], alice, "admin:test"); err != nil {
		t.Fatal(err)
	}
	if err := e.sdk.UserChanged(ctx, e.org, alice, "admin:test"); err != nil {
		t.Fatal(err)
	}
	dev := mustDevice(t, e, e.org, d.id)
	comp, err := e.sdk.Compliance(ctx, dev)
	if err != nil || comp == nil || comp.InPolicy || comp.OutOfPolicy == "" || dev.State != inventory.StateEnrolled {
		t.Fatalf("after leaving staff: %+v, %v, state %s; want out of policy, still enrolled", comp, err, dev.State)
	}
	if err := e.dir.AddMember(ctx, e.org, e.staff[e.org], alice, "admin:test"); err != nil {
		t.Fatal(err)
	}
	if err := e.sdk.UserChanged(ctx, e.org, alice, "admin:test"); err != nil {
		t.Fatal(err)
	}
	if comp, err = e.sdk.Compliance(ctx, dev); err != nil || comp == nil || !comp.InPolicy {
		t.Errorf("back in staff: %+v, %v", comp, err)
	}
}

// TestInstallResultsReachTheCatalog: the device's answers to
// InstallApplication go to the app store — an Error marks the install
// Failed, an Acknowledged one is confirmed by the managed app list that
// follows and shows Installed.
func TestInstallResultsReachTheCatalog(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := t.Context()
	app := e.createApp(t, e.org, "com.acme.expenses", catalog.Available)
	alice := e.users["alice"]
	d := e.enrollApple(t, e.org, alice)
	d.drain(t, nil)
	state := func() catalog.State {
		t.Helper()
		v, err := e.sdk.Catalog.View(ctx, e.org, alice, d.id)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range v.Items {
			if it.App.ID == app.ID {
				return it.State
			}
		}
		t.Fatalf("store %+v lacks the app", v.Items)
		return ""
	}

	if _, err := e.sdk.Catalog.Install(ctx, e.org, alice, d.id, app.ID); err != nil {
		t.Fatal(err)
	}
	c, ok := d.poll(t, nil)
	if !ok || c.RequestType != "InstallApplication" {
		t.Fatalf("got %q, want InstallApplication", c.RequestType)
	}
	d.poll(t, map[string]any{"Status": "Error", "CommandUUID": c.UUID, "ErrorChain": []any{map[string]any{
		"ErrorCode": 12, "ErrorDomain": "MCInstallationErrorDomain", "LocalizedDescription": "The app could not be downloaded."}}})
	if got := state(); got != catalog.StateFailed {
		t.Fatalf("after an Error answer the store shows %s, want Failed", got)
	}

	if _, err := e.sdk.Catalog.Install(ctx, e.org, alice, d.id, app.ID); err != nil {
		t.Fatal(err)
	}
	seen := d.drain(t, func(c mdmtest.Command) map[string]any {
		if c.RequestType == "ManagedApplicationList" {
			return map[string]any{"Status": "Acknowledged", "ManagedApplicationList": map[string]any{
				app.Identifier: map[string]any{"Status": "Managed", "ManagementFlags": 1, "HasConfiguration": false, "IsValidated": true}}}
		}
		return nil
	})
	if !slices.Contains(requestTypes(seen), "InstallApplication") || !slices.Contains(requestTypes(seen), "ManagedApplicationList") {
		t.Fatalf("after the second install the device got %v", requestTypes(seen))
	}
	if got := state(); got != catalog.StateInstalled {
		t.Errorf("after Acknowledged and the managed app list the store shows %s, want Installed", got)
	}
}

// TestAutoInstallAtEnrollment: an app assigned for automatic install is
// queued on a device as it completes enrollment, and the store shows it
// installing.
func TestAutoInstallAtEnrollment(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	app := e.createApp(t, e.org, "com.acme.handbook", catalog.AutoInstall)
	d := e.enrollApple(t, e.org, e.users["alice"])
	var installs []string
	d.drain(t, func(c mdmtest.Command) map[string]any {
		if c.RequestType == "InstallApplication" {
			id, _ := c.Body["Identifier"].(string)
			installs = append(installs, id)
		}
		return nil
	})
	if !slices.Equal(installs, []string{app.Identifier}) {
		t.Errorf("installs at enrollment %v, want %s", installs, app.Identifier)
	}
	if !strings.Contains(e.log.String(), "app store: installs at enrollment queued") {
		t.Error("no log line for the installs at enrollment")
	}
	// carol is in no group the app is assigned to: nothing for her device.
	carolsPolicy := e.policies[e.org]
	carolsPolicy.Groups = append(carolsPolicy.Groups, mustGroup(t, e, "Everyone", e.users["carol"]))
	if _, err := e.sdk.UpdatePolicy(t.Context(), "admin:test", carolsPolicy); err != nil {
		t.Fatal(err)
	}
	c := e.enrollApple(t, e.org, e.users["carol"])
	for _, cmd := range c.drain(t, nil) {
		if cmd.RequestType == "InstallApplication" {
			t.Errorf("carol's device got %v", cmd.Body)
		}
	}
}

func requestTypes(cmds []mdmtest.Command) []string {
	out := make([]string, len(cmds))
	for i, c := range cmds {
		out[i] = c.RequestType
	}
	return out
}

func mustDevice(t *testing.T, e *env, org storage.OrgID, id string) inventory.Device {
	t.Helper()
	d, err := e.sdk.OrgDevice(t.Context(), org, id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// createApp puts an in-house app in org's catalog and assigns it to staff.
func (e *env) createApp(t *testing.T, org storage.OrgID, identifier string, mode catalog.Mode) catalog.App {
	t.Helper()
	a, err := e.sdk.Catalog.CreateApp(t.Context(), catalog.App{Org: org, Kind: catalog.InHouse, Identifier: identifier,
		ManifestURL: "https://apps.example.com/" + identifier + "/manifest.plist", BundleVersion: "1.0", Name: identifier}, "admin:test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.sdk.Catalog.Assign(t.Context(), catalog.Assignment{Org: org, AppID: a.ID, Group: e.staff[org], Mode: mode}, "admin:test"); err != nil {
		t.Fatal(err)
	}
	return a
}

// mustGroup creates a group in the first org with one member.
func mustGroup(t *testing.T, e *env, name, member string) string {
	t.Helper()
	g, err := e.dir.CreateGroup(t.Context(), e.org, name, "admin:test")
	if err == nil {
		err = e.dir.AddMember(t.Context(), e.org, g.ID, member, "admin:test")
	}
	if err != nil {
		t.Fatal(err)
	}
	return g.ID
}
