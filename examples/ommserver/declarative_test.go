package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/openomm/omm/enroll/declarative"
)

// declarativeOn answers d's queued commands as an iPhone on iOS 17.4 does
// (its DeviceInformation reports the version), so that the server turns
// declarative management on, and returns the declarations d then has, by
// identifier.
func declarativeOn(t *testing.T, d *appleDevice) map[string]declarative.Declaration {
	t.Helper()
	seen := d.drain(t, func(c mdmCommand) map[string]any {
		if c.requestType() == "DeviceInformation" {
			return map[string]any{"QueryResponses": map[string]any{"OSVersion": "17.4", "SerialNumber": "F2LXK0" + d.udid[len(d.udid)-6:]}}
		}
		return nil
	})
	on := false
	for _, c := range seen {
		on = on || c.requestType() == "DeclarativeManagement"
	}
	if !on {
		t.Fatalf("no DeclarativeManagement among %d commands", len(seen))
	}
	return declarations(t, d)
}

// declarations fetches the declarations d has, by identifier.
func declarations(t *testing.T, d *appleDevice) map[string]declarative.Declaration {
	t.Helper()
	ddm := func(endpoint string, out any) {
		t.Helper()
		st, body := d.put(t, d.mdm.CheckInURL, map[string]any{"MessageType": "DeclarativeManagement", "Endpoint": endpoint})
		if st != 200 {
			t.Fatalf("%s = %d %s", endpoint, st, body)
		}
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s: %v", endpoint, err)
		}
	}
	var items declarative.ItemsResponse
	ddm(declarative.EndpointItems, &items)
	decls := map[string]declarative.Declaration{}
	for kind, list := range map[string][]declarative.Item{"activation": items.Declarations.Activations,
		"configuration": items.Declarations.Configurations} {
		for _, it := range list {
			var decl declarative.Declaration
			ddm("declaration/"+kind+"/"+it.Identifier, &decl)
			decls[it.Identifier] = decl
		}
	}
	return decls
}

// TestConsoleShowsDeclarativeCompliance enrolls an iPhone on iOS 17.4,
// which the server manages through declarations, and checks what the
// console shows as the phone reports status: the channel and why, its
// compliance and each declaration's state; and that the settings profile
// the declarations point at is served to its URL only.
func TestConsoleShowsDeclarativeCompliance(t *testing.T) {
	w := newWorld(t)
	session := w.agentSignIn(t, "alice")
	d := enrollApple(t, w, session, "UDID-DDM-CONSOLE-01")
	decls := declarativeOn(t, d)

	b := newBrowser(t, w)
	b.get("/admin")
	if status, _, _ := b.post("/admin/signin", url.Values{"token": {w.first.adminToken}}); status != http.StatusSeeOther {
		t.Fatalf("console sign-in = %d", status)
	}
	page := func() string {
		t.Helper()
		status, _, body := b.get("/admin/devices/" + d.id)
		if status != 200 {
			t.Fatalf("device page = %d", status)
		}
		return body
	}
	body := page()
	for _, want := range []string{`data-management="declarative"`, "Declarative: declarative: iOS 17.4, device enrollment",
		`data-compliance="pending"`, "not yet applied by the device", `data-declaration="omm.passcode"`, "Not applied yet"} {
		if !strings.Contains(body, want) {
			t.Errorf("device page lacks %q:\n%s", want, body)
		}
	}

	// The phone applied everything, but its passcode does not meet the
	// policy.
	status := map[string]any{"activations": []any{}, "configurations": []any{}, "assets": []any{}, "management": []any{}}
	for id, decl := range decls {
		k := string(decl.Type.Kind()) + "s"
		status[k] = append(status[k].([]any), map[string]any{"identifier": id, "server-token": decl.ServerToken, "active": true, "valid": "valid"})
	}
	report, _ := json.Marshal(map[string]any{"Errors": []any{}, "StatusItems": map[string]any{
		"passcode":   map[string]any{"is-compliant": false, "is-present": true},
		"management": map[string]any{"declarations": status},
	}})
	if st, out := d.put(t, d.mdm.CheckInURL, map[string]any{"MessageType": "DeclarativeManagement", "Endpoint": "status", "Data": report}); st != 200 {
		t.Fatalf("status = %d %s", st, out)
	}
	body = page()
	for _, want := range []string{`data-compliance="not_compliant"`, "<strong>Not compliant</strong>", "the passcode does not meet the policy",
		"valid, active"} {
		if !strings.Contains(body, want) {
			t.Errorf("device page after the report lacks %q:\n%s", want, body)
		}
	}

	// The settings profile: served at its URL, and nowhere near it.
	prof, ok := decls["omm.settings-profile"]
	if !ok {
		t.Fatalf("no settings profile among %v", decls)
	}
	u, err := url.Parse(prof.Payload["ProfileURL"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if st, data := w.do(t, "GET", u.RequestURI(), "", nil); st != 200 || !strings.Contains(string(data), "com.openomm.enroll.org_demo.settings") {
		t.Errorf("settings profile = %d (%d bytes)", st, len(data))
	}
	for _, bad := range []string{strings.Replace(u.RequestURI(), "/settings.mobileconfig", "0/settings.mobileconfig", 1),
		strings.Replace(u.RequestURI(), "/"+string(demoOrg.ID)+"/", "/"+string(w.otherOrg)+"/", 1)} {
		if st, _ := w.do(t, "GET", bad, "", nil); st != 404 {
			t.Errorf("GET %s = %d, want 404", bad, st)
		}
	}
}

// TestAssignedAppBecomesADeclaration makes the demo in-house app an
// automatic install for the iPhone's group while the phone is on the
// declarative channel: the assignment reaches it as a new declarative
// managed app, announced by one DeclarativeManagement command.
func TestAssignedAppBecomesADeclaration(t *testing.T) {
	w := newWorld(t)
	session := w.agentSignIn(t, "alice")
	d := enrollApple(t, w, session, "UDID-DDM-APPS-01")
	before := declarativeOn(t, d)

	tok := w.first.adminToken
	apps := must[struct {
		Apps []struct{ ID, Identifier string }
	}](t, 200)(w.do(t, "GET", "/api/admin/apps", tok, nil))
	appID := ""
	for _, a := range apps.Apps {
		if a.Identifier == "com.example.demo.expenses" {
			appID = a.ID
		}
	}
	assigned := must[struct {
		Assignments []struct {
			Group   string `json:"group"`
			Version int64  `json:"version"`
		} `json:"assignments"`
	}](t, 200)(w.do(t, "GET", "/api/admin/apps/"+appID+"/assignments", tok, nil)).Assignments
	if appID == "" || len(assigned) != 1 {
		t.Fatalf("demo in-house app %q with assignments %+v", appID, assigned)
	}
	if _, ok := before["omm.app."+appID]; ok {
		t.Fatal("an app available in the store is a declaration already")
	}
	must[map[string]any](t, 200)(w.do(t, "PUT", "/api/admin/apps/"+appID+"/assignments/"+url.PathEscape(assigned[0].Group), tok,
		map[string]any{"mode": "install", "version": assigned[0].Version}))

	var types []string
	for _, c := range d.drain(t, nil) {
		types = append(types, c.requestType())
	}
	n := 0
	for _, typ := range types {
		if typ == "DeclarativeManagement" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("after the assignment the phone got %v, want one DeclarativeManagement", types)
	}
	after := declarations(t, d)
	app, ok := after["omm.app."+appID]
	if !ok {
		t.Fatalf("no declaration for the app among %d", len(after))
	}
	if app.Type != declarative.TypeManagedApp || app.Payload["ManifestURL"] != "https://apps.example.com/expenses/manifest.plist" ||
		app.Payload["InstallBehavior"].(map[string]any)["Install"] != "Required" {
		t.Errorf("app declaration %+v", app)
	}
	if act, ok := after["omm.activation.apps"]; !ok || act.Payload["Predicate"] != "@status(device.operating-system.version) >= '17.2'" {
		t.Errorf("apps activation %+v", act)
	}
}
