package main

import (
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/sqlite"
)

type storeItem struct {
	AppID      string        `json:"app_id"`
	Identifier string        `json:"identifier"`
	Kind       catalog.Kind  `json:"kind"`
	Mode       catalog.Mode  `json:"mode"`
	State      catalog.State `json:"state"`
}

type storeView struct {
	Device string      `json:"device"`
	Apps   []storeItem `json:"apps"`
}

// states maps bundle ID to state.
func (v storeView) states() map[string]catalog.State {
	m := map[string]catalog.State{}
	for _, it := range v.Apps {
		m[it.Identifier] = it.State
	}
	return m
}

func (v storeView) app(t *testing.T, identifier string) storeItem {
	t.Helper()
	for _, it := range v.Apps {
		if it.Identifier == identifier {
			return it
		}
	}
	t.Fatalf("store %+v lacks %s", v.Apps, identifier)
	return storeItem{}
}

const (
	demoNotes    = "com.example.demo.notes"    // App Store, AutoInstall
	demoExpenses = "com.example.demo.expenses" // in-house, Available
	demoChat     = "com.example.demo.chat"     // Play, Available
)

// TestAppStoreEndToEnd enrolls alice's iPhone through the server's
// endpoints: the AutoInstall app is queued at enrollment, the store lists
// the iOS apps assigned to Employees (not the Play app), installing the
// in-house app queues an InstallApplication the device receives at its
// next check-in; a failed install shows Failed, an acknowledged one
// Installing until the device's managed app list reports it, then
// Installed.
func TestAppStoreEndToEnd(t *testing.T) {
	w := newWorld(t)
	alice := w.agentSignIn(t, "alice")
	dev := enrollApple(t, w, alice, "00008110-000A1D2E3F40C0DE")

	view := must[storeView](t, 200)(w.do(t, "GET", "/api/agent/store/devices/"+dev.id+"/apps", alice, nil))
	if got, want := view.states(), map[string]catalog.State{demoNotes: catalog.StateInstalling, demoExpenses: catalog.StateAvailable}; !sameStates(got, want) {
		t.Fatalf("store after enrollment = %v, want %v", got, want)
	}
	expenses := view.app(t, demoExpenses)
	item := must[storeItem](t, 202)(w.do(t, "POST", "/api/agent/store/devices/"+dev.id+"/apps/"+expenses.AppID+"/install", alice, nil))
	if item.State != catalog.StateInstalling {
		t.Fatalf("install answered %+v", item)
	}
	// Installing twice is refused: the app is no longer Available.
	if st, body := w.do(t, "POST", "/api/agent/store/devices/"+dev.id+"/apps/"+expenses.AppID+"/install", alice, nil); st != 409 {
		t.Errorf("second install = %d %s, want 409", st, body)
	}

	// The device takes its commands; managed app lists are put off, so
	// the acknowledged installs have no report yet.
	// The first in-house install fails on the device: the store says so.
	installs := map[string]mdmCommand{}
	failInHouse := true
	answer := func(c mdmCommand) map[string]any {
		switch c.requestType() {
		case "InstallApplication":
			if u, _ := c.Command["ManifestURL"].(string); u != "" {
				installs[u] = c
				if failInHouse {
					return map[string]any{"Status": "Error", "ErrorChain": []any{map[string]any{
						"ErrorCode": 12, "ErrorDomain": "MCInstallationErrorDomain", "USEnglishDescription": "The app could not be downloaded."}}}
				}
			} else {
				installs["store"] = c
			}
		case "ManagedApplicationList":
			return map[string]any{"Status": "NotNow"}
		}
		return nil
	}
	dev.drain(t, answer)
	if _, ok := installs["https://apps.example.com/expenses/manifest.plist"]; !ok {
		t.Errorf("the in-house install never reached the device: %v", installs)
	}
	if c, ok := installs["store"]; !ok || c.Command["iTunesStoreID"] == nil {
		t.Errorf("the App Store install never reached the device: %+v", c)
	}
	view = must[storeView](t, 200)(w.do(t, "GET", "/api/agent/store/devices/"+dev.id+"/apps", alice, nil))
	if got, want := view.states(), map[string]catalog.State{demoNotes: catalog.StateInstalling, demoExpenses: catalog.StateFailed}; !sameStates(got, want) {
		t.Fatalf("store after the answers = %v, want %v", got, want)
	}

	// Trying again: the device acknowledges, the app shows Installing
	// until the device reports it.
	must[storeItem](t, 202)(w.do(t, "POST", "/api/agent/store/devices/"+dev.id+"/apps/"+expenses.AppID+"/install", alice, nil))
	failInHouse = false
	clear(installs)
	dev.drain(t, answer)
	if len(installs) != 1 {
		t.Errorf("second attempt delivered %v", installs)
	}
	view = must[storeView](t, 200)(w.do(t, "GET", "/api/agent/store/devices/"+dev.id+"/apps", alice, nil))
	if got, want := view.states(), map[string]catalog.State{demoNotes: catalog.StateInstalling, demoExpenses: catalog.StateInstalling}; !sameStates(got, want) {
		t.Fatalf("store after acknowledgement = %v, want %v", got, want)
	}

	// The device reports both apps managed: Installed.
	seen := dev.drain(t, func(c mdmCommand) map[string]any {
		if c.requestType() == "ManagedApplicationList" {
			return map[string]any{"ManagedApplicationList": map[string]any{
				demoNotes: map[string]any{"Status": "Managed"}, demoExpenses: map[string]any{"Status": "Managed"}}}
		}
		return nil
	})
	if len(seen) == 0 {
		t.Fatal("no managed app list was asked for")
	}
	view = must[storeView](t, 200)(w.do(t, "GET", "/api/agent/store/devices/"+dev.id+"/apps", alice, nil))
	if got, want := view.states(), map[string]catalog.State{demoNotes: catalog.StateInstalled, demoExpenses: catalog.StateInstalled}; !sameStates(got, want) {
		t.Fatalf("store after the report = %v, want %v", got, want)
	}

	// Bob cannot see alice's device's store.
	bob := w.agentSignIn(t, "bob")
	if st, _ := w.do(t, "GET", "/api/agent/store/devices/"+dev.id+"/apps", bob, nil); st != 404 {
		t.Errorf("bob reading alice's store = %d, want 404", st)
	}
	// Without a session: 401.
	if st, _ := w.do(t, "GET", "/api/agent/store/devices/"+dev.id+"/apps", "", nil); st != 401 {
		t.Errorf("anonymous store = %d, want 401", st)
	}
}

func sameStates(a, b map[string]catalog.State) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

type appJSON struct {
	ID         string       `json:"id"`
	Kind       catalog.Kind `json:"kind"`
	Identifier string       `json:"identifier"`
	Name       string       `json:"name"`
}

// TestAdminCatalog creates an app and assigns it with the admin token; it
// appears in alice's store at once. The token's org is the only one it
// sees: another org's app is not listed and reads as 404, and a request
// without the token is refused.
func TestAdminCatalog(t *testing.T) {
	w := newWorld(t)
	otherApp := w.addOtherOrgApp(t)

	apps := must[struct{ Apps []appJSON }](t, 200)(w.do(t, "GET", "/api/admin/apps", w.first.adminToken, nil))
	if len(apps.Apps) != len(demoApps) {
		t.Fatalf("demo catalog = %+v, want %d apps", apps.Apps, len(demoApps))
	}
	for _, a := range apps.Apps {
		if a.ID == otherApp {
			t.Fatalf("the other org's app is listed: %+v", a)
		}
	}
	if st, _ := w.do(t, "GET", "/api/admin/apps/"+otherApp, w.first.adminToken, nil); st != 404 {
		t.Errorf("reading the other org's app = %d, want 404", st)
	}
	if st, _ := w.do(t, "DELETE", "/api/admin/apps/"+otherApp+"?version=1", w.first.adminToken, nil); st != 404 {
		t.Errorf("deleting the other org's app = %d, want 404", st)
	}
	if st, _ := w.do(t, "GET", "/api/admin/apps", "", nil); st != 401 {
		t.Errorf("catalog without the token = %d, want 401", st)
	}

	created := must[appJSON](t, 201)(w.do(t, "POST", "/api/admin/apps", w.first.adminToken, map[string]any{
		"kind": "ios_app_store", "identifier": "com.example.maps", "store_id": 42, "name": "Maps"}))
	groups := must[struct{ Groups []groupView }](t, 200)(w.do(t, "GET", "/api/admin/groups", w.first.adminToken, nil))
	var employees string
	for _, g := range groups.Groups {
		if g.Name == "Employees" {
			employees = g.ID
		}
	}
	must[map[string]any](t, 201)(w.do(t, "POST", "/api/admin/apps/"+created.ID+"/assignments", w.first.adminToken,
		map[string]string{"group": employees, "mode": "available"}))
	// Bad input changes nothing.
	if st, _ := w.do(t, "POST", "/api/admin/apps", w.first.adminToken, map[string]any{
		"kind": "ios_in_house", "identifier": "com.example.bad", "manifest_url": "http://insecure/manifest.plist", "bundle_version": "1", "name": "Bad"}); st != 400 {
		t.Errorf("http manifest accepted: %d", st)
	}
	if n := len(must[struct{ Apps []appJSON }](t, 200)(w.do(t, "GET", "/api/admin/apps", w.first.adminToken, nil)).Apps); n != len(demoApps)+1 {
		t.Errorf("catalog has %d apps, want %d", n, len(demoApps)+1)
	}

	alice := w.agentSignIn(t, "alice")
	view := must[storeView](t, 200)(w.do(t, "GET", "/api/agent/store/devices/"+w.aliceDev+"/apps", alice, nil))
	if it := view.app(t, "com.example.maps"); it.State != catalog.StateAvailable || it.Mode != catalog.Available {
		t.Errorf("new app in alice's store: %+v", it)
	}
	// Alice cannot read a device of the other org (it does not exist for her).
	if st, _ := w.do(t, "GET", "/api/agent/store/devices/"+w.otherDev+"/apps", alice, nil); st != 404 {
		t.Errorf("alice reading the other org's device = %d, want 404", st)
	}
}

// addOtherOrgApp stores an app in the world's other org while the server
// is stopped, and restarts it.
func (w *world) addOtherOrgApp(t *testing.T) string {
	t.Helper()
	w.stop()
	s, err := sqlite.Open(t.Context(), filepath.Join(w.dir, "omm.db"), sqlite.WithLogger(discardLog()))
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.CreateApp(t.Context(), catalog.App{ID: catalog.NewAppID(), Org: w.otherOrg, Kind: catalog.AppStore,
		Identifier: "com.other.secret", StoreID: 7, Name: "Other's app"},
		storage.AuditEntry{Org: w.otherOrg, Time: time.Now(), Actor: "test", Action: "catalog.app.create", Target: "app:other"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	w.testServer = startServer(t, w.dir)
	return a.ID
}

// TestWebStore lists alice's store in the portal and installs an app with
// the form, which needs the session's CSRF token.
func TestWebStore(t *testing.T) {
	w := newWorld(t)
	b := signedInBrowser(t, w, "alice")
	if _, _, body := b.get("/portal"); !strings.Contains(body, "/portal/devices/"+w.aliceDev+"/store") {
		t.Errorf("portal lacks the store link:\n%s", body)
	}
	status, _, body := b.get("/portal/devices/" + w.aliceDev + "/store")
	if status != 200 || !strings.Contains(body, "Demo Notes") || !strings.Contains(body, "Demo Expenses") || strings.Contains(body, "Demo Chat") {
		t.Fatalf("store page = %d:\n%s", status, body)
	}
	m := regexp.MustCompile(`action="(/portal/devices/[^"]+/store/([^"/]+)/install)"`).FindAllStringSubmatch(body, -1)
	// The device was registered behind the server's back, so the start-up
	// reconcile has already queued the apps its user must have; those
	// offered on request keep their form.
	if len(m) == 0 {
		t.Fatalf("no install form:\n%s", body)
	}
	if status, _, _ := b.post(m[0][1], url.Values{"csrf": {"forged"}}); status != 403 {
		t.Errorf("install with a forged token = %d", status)
	}
	status, _, body = b.post(m[0][1], url.Values{})
	if status != 200 || !strings.Contains(body, "will be installed") || !strings.Contains(body, "Installing") {
		t.Fatalf("install = %d:\n%s", status, body)
	}
	if status, _, _ := b.get("/portal/devices/" + w.bobDev + "/store"); status != 404 {
		t.Errorf("bob's store in alice's portal = %d", status)
	}
}

// signedInBrowser signs a demo user in to the portal and sets the PIN.
func signedInBrowser(t *testing.T, w *world, username string) *browser {
	t.Helper()
	b := newBrowser(t, w)
	b.get("/signin")
	if status, _, _ := b.post("/signin", url.Values{"site": {"demo"}, "username": {username}, "password": {w.first.passwords[username]}}); status != http.StatusSeeOther {
		t.Fatalf("sign-in = %d", status)
	}
	b.get("/signin/pin")
	if status, _, _ := b.post("/signin/pin", url.Values{"mode": {"set"}, "pin": {"4829"}, "confirm": {"4829"}}); status != http.StatusSeeOther {
		t.Fatalf("PIN = %d", status)
	}
	return b
}
