package main

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/sqlite"
)

// world is a running server with devices: alice's and bob's iPhones in the
// demo org, and a second org with a device of its own, created through the
// storage API while the server was stopped.
type world struct {
	*testServer
	dir       string
	first     firstStart
	users     map[string]string // username → ID
	aliceDev  string
	bobDev    string
	otherOrg  storage.OrgID
	otherDev  string
	otherUser string
	// proxy, when set, is the TLS-terminating proxy the server runs
	// behind (proxy_test.go).
	proxy *frontProxy
}

func newWorld(t *testing.T) *world {
	t.Helper()
	return newWorldVia(t, filepath.Join(t.TempDir(), "data"), nil)
}

// newWorldVia is newWorld with the data in dataDir, behind p when not nil.
func newWorldVia(t *testing.T, dataDir string, p *frontProxy) *world {
	t.Helper()
	w := &world{dir: dataDir, users: map[string]string{}, otherOrg: "org_other", otherUser: "u_other", proxy: p}
	ts := w.start(t)
	w.first = parseFirstStart(t, ts.out.String())
	users := must[struct{ Users []userView }](t, 200)(ts.do(t, "GET", "/api/admin/users", w.first.adminToken, nil))
	for _, u := range users.Users {
		w.users[u.Username] = u.ID
	}
	ts.stop()

	s, err := sqlite.Open(t.Context(), filepath.Join(w.dir, "omm.db"), sqlite.WithLogger(discardLog()))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := s.CreateOrg(t.Context(), storage.Org{ID: w.otherOrg, Name: "other", DisplayName: "Other Org"}, storage.AuditEntry{
		Org: w.otherOrg, Time: now, Actor: "test", Action: "org.create", Target: "org:other"}); err != nil {
		t.Fatal(err)
	}
	// The other org's user exists in its directory: the start-up reconcile
	// would (rightly) deprovision a device of a user it does not know.
	dir, err := auth.NewLocalDirectory(s, auth.WithLogger(discardLog()))
	if err != nil {
		t.Fatal(err)
	}
	other, err := dir.CreateUser(t.Context(), auth.User{Org: w.otherOrg, Username: "other", DisplayName: "Other"}, "correct horse battery", "test")
	if err != nil {
		t.Fatal(err)
	}
	w.otherUser = other.ID
	inv := inventory.New(s, inventory.WithLogger(discardLog()))
	register := func(org storage.OrgID, user, udid string) string {
		d, err := inv.Register(t.Context(), inventory.Device{Org: org, UserID: user, Platform: inventory.PlatformIOS,
			Ownership: inventory.OwnershipPersonal, EnrollmentType: inventory.EnrollAppleDevice,
			State: inventory.StateEnrolled, Identifier: udid}, "test")
		if err != nil {
			t.Fatal(err)
		}
		return d.ID
	}
	w.aliceDev = register(demoOrg.ID, w.users["alice"], "UDID-ALICE")
	w.bobDev = register(demoOrg.ID, w.users["bob"], "UDID-BOB")
	w.otherDev = register(w.otherOrg, w.otherUser, "UDID-OTHER")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	w.testServer = w.start(t)
	return w
}

// start starts the server on the world's data, behind its proxy if any.
func (w *world) start(t *testing.T) *testServer {
	t.Helper()
	if w.proxy != nil {
		return startServerBehind(t, w.dir, w.proxy)
	}
	return startServer(t, w.dir)
}

// agentSignIn signs a demo user in through the agent API and sets the PIN,
// returning an active session's token.
func (w *world) agentSignIn(t *testing.T, username string) string {
	t.Helper()
	type session struct {
		Token string `json:"token"`
		State string `json:"state"`
		Next  string `json:"next"`
	}
	s := must[session](t, 200)(w.do(t, "POST", "/api/agent/auth/signin", "",
		map[string]string{"site": "demo", "username": username, "password": w.first.passwords[username]}))
	if s.Token == "" || s.Next != "pin_setup_required" {
		t.Fatalf("sign-in = %+v", s)
	}
	s2 := must[session](t, 200)(w.do(t, "POST", "/api/agent/auth/pin", s.Token, map[string]string{"pin": "4829", "confirm": "4829"}))
	if s2.Next != "none" || s2.Token == "" || s2.Token == s.Token {
		t.Fatalf("after PIN: %+v; want ready, with the new token the step hands out", s2)
	}
	return s2.Token
}

// consoleSignIn signs in to the admin console of the server at ts (data in
// dir) with the admin token and returns the console session's cookie.
func consoleSignIn(t *testing.T, ts *testServer, dir, adminToken string) string {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, w: &world{testServer: ts, dir: dir}, c: trustingClient(t, dir, jar)}
	b.get("/admin")
	if status, loc, body := b.post("/admin/signin", url.Values{"token": {adminToken}}); status != http.StatusSeeOther || loc != "/admin/devices" {
		t.Fatalf("console sign-in = %d → %q: %.300s", status, loc, body)
	}
	u, _ := url.Parse(ts.base)
	for _, c := range jar.Cookies(u) {
		if c.Name == adminCookie {
			return c.Value
		}
	}
	t.Fatal("console sign-in set no session cookie")
	return ""
}
