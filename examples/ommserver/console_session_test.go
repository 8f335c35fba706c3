package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestConsoleSessionsAndTokenRotation (issue 22, finding 10): the console's
// cookie was the permanent admin token: sign-out did not invalidate it, the
// form token (CSRF) never changed, and the token could not be rotated.
// Signing in now starts a console session whose ID is the cookie; its form
// tokens are its own; sign-out ends it for good; and the admin token can be
// rotated, which ends every console session.
func TestConsoleSessionsAndTokenRotation(t *testing.T) {
	w := newWorld(t)
	tok := w.first.adminToken
	signIn := func() (*browser, string) {
		t.Helper()
		b := newBrowser(t, w)
		b.get("/admin")
		if status, loc, body := b.post("/admin/signin", url.Values{"token": {tok}}); status != http.StatusSeeOther || loc != "/admin/devices" {
			t.Fatalf("console sign-in = %d → %q: %.300s", status, loc, body)
		}
		u, _ := url.Parse(w.base)
		for _, c := range b.c.Jar.Cookies(u) {
			if c.Name == adminCookie {
				return b, c.Value
			}
		}
		t.Fatal("no console cookie")
		return nil, ""
	}
	first, cookie := signIn()
	if cookie == tok || strings.Contains(cookie, strings.TrimPrefix(tok, adminTokenPrefix)) {
		t.Fatal("the console cookie holds the admin token")
	}
	first.get("/admin/devices")
	csrf1 := first.csrf
	second, _ := signIn()
	second.get("/admin/devices")
	if csrf1 == "" || csrf1 == second.csrf {
		t.Errorf("two sign-ins got the same form token %q", csrf1)
	}

	// Signing out ends the session: its cookie, replayed, gets nothing.
	if status, loc, _ := first.post("/admin/signout", url.Values{}); status != http.StatusSeeOther || loc != "/admin" {
		t.Fatalf("sign-out = %d → %q", status, loc)
	}
	replay := newBrowser(t, w)
	u, _ := url.Parse(w.base)
	replay.c.Jar.SetCookies(u, []*http.Cookie{{Name: adminCookie, Value: cookie, Path: "/", Secure: true}})
	if status, loc, _ := replay.get("/admin/devices"); status != http.StatusSeeOther || loc != "/admin" {
		t.Errorf("the signed-out cookie replayed: %d → %q, want a redirect to sign in", status, loc)
	}

	// Rotation: the current token is asked for again; the new one is shown
	// once; the old one stops working; every console session ends.
	third, _ := signIn()
	if status, _, body := third.get("/admin/token"); status != 200 || !strings.Contains(body, `action="/admin/token/rotate"`) {
		t.Fatalf("token page = %d:\n%.500s", status, body)
	}
	if status, _, _ := third.post("/admin/token/rotate", url.Values{"token": {"omm_admin_wrong"}}); status != http.StatusUnauthorized {
		t.Errorf("rotation with a wrong current token = %d, want 401", status)
	}
	status, _, body := third.post("/admin/token/rotate", url.Values{"token": {tok}})
	newTok := regexp.MustCompile(adminTokenPrefix + `[A-Za-z0-9_-]{43}`).FindString(body)
	if status != 200 || newTok == "" || newTok == tok {
		t.Fatalf("rotation = %d, new token %q:\n%.500s", status, newTok, body)
	}
	if st, _ := w.do(t, "GET", "/api/admin/devices", tok, nil); st != http.StatusUnauthorized {
		t.Errorf("the old admin token after rotation: %d, want 401", st)
	}
	if st, _ := w.do(t, "GET", "/api/admin/devices", newTok, nil); st != http.StatusOK {
		t.Errorf("the new admin token: %d, want 200", st)
	}
	if status, loc, _ := second.get("/admin/devices"); status != http.StatusSeeOther || loc != "/admin" {
		t.Errorf("another console session after rotation: %d → %q, want it ended", status, loc)
	}
	// The new token survives a restart (its hash replaced the old one's).
	w.stop()
	w.testServer = startServer(t, w.dir)
	if st, _ := w.do(t, "GET", "/api/admin/devices", newTok, nil); st != http.StatusOK {
		t.Errorf("the new admin token after a restart: %d, want 200", st)
	}
	if st, _ := w.do(t, "GET", "/api/admin/devices", tok, nil); st != http.StatusUnauthorized {
		t.Errorf("the old admin token after a restart: %d, want 401", st)
	}
}
