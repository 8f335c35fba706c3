package main

import (
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/storage/sqlite"
)

// totpCode is the code of the time step offset steps from now.
func totpCode(t *testing.T, secret string, offset int64) string {
	t.Helper()
	step := time.Now().Unix()/30 + offset
	code, err := hotp.GenerateCodeCustom(secret, uint64(step), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// TestWebMFA requires MFA in the demo org, enrolls alice's authenticator
// through the agent API and signs her in on the web with a code from it.
func TestWebMFA(t *testing.T) {
	w := newWorld(t)
	w.stop()
	s, err := sqlite.Open(t.Context(), filepath.Join(w.dir, "omm.db"), sqlite.WithLogger(discardLog()))
	if err != nil {
		t.Fatal(err)
	}
	dir, err := auth.NewLocalDirectory(s)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := auth.New(s, dir)
	if err != nil {
		t.Fatal(err)
	}
	rule := auth.DefaultSignOn(demoOrg.ID)
	rule.MFARequired = true
	if _, err := svc.SetSignOn(t.Context(), rule, "test"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	w.testServer = startServer(t, w.dir)

	// Without a factor, the web says to set one up in the agent app.
	b := newBrowser(t, w)
	b.get("/signin")
	signIn := url.Values{"site": {"demo"}, "username": {"alice"}, "password": {w.first.passwords["alice"]}}
	if status, loc, _ := b.post("/signin", signIn); status != http.StatusSeeOther || loc != "/signin/mfa" {
		t.Fatalf("sign-in = %d → %q", status, loc)
	}
	if status, _, body := b.get("/signin/mfa"); status != 200 || !strings.Contains(body, "Set up an authenticator app") {
		t.Fatalf("MFA page without factor = %d:\n%s", status, body)
	}
	if status, loc, _ := b.get("/portal"); status != http.StatusSeeOther || loc != "/signin/mfa" {
		t.Errorf("portal before MFA = %d → %q", status, loc)
	}

	// The agent app enrolls the authenticator.
	type session struct{ Token, State string }
	sess := must[session](t, 200)(w.do(t, "POST", "/api/agent/auth/signin", "",
		map[string]string{"site": "demo", "username": "alice", "password": w.first.passwords["alice"]}))
	enr := must[struct{ Secret string }](t, 200)(w.do(t, "POST", "/api/agent/auth/mfa/totp/enroll", sess.Token, nil))
	if after := must[session](t, 200)(w.do(t, "POST", "/api/agent/auth/mfa/totp/confirm", sess.Token,
		map[string]string{"code": totpCode(t, enr.Secret, -1)})); after.State != string(auth.StatePINSetup) {
		t.Fatalf("after TOTP confirm: %+v", after)
	}

	// Now the web asks for a code and takes the current one.
	b2 := newBrowser(t, w)
	b2.get("/signin")
	if status, loc, body := b2.post("/signin", signIn); status != http.StatusSeeOther || loc != "/signin/mfa" {
		t.Fatalf("second sign-in = %d → %q:\n%s", status, loc, body)
	}
	if status, _, body := b2.get("/signin/mfa"); status != 200 || !strings.Contains(body, `name="code"`) {
		t.Fatalf("MFA page = %d:\n%s", status, body)
	}
	if status, _, body := b2.post("/signin/mfa", url.Values{"code": {"000000x"}}); status != 401 || !strings.Contains(body, "wrong or expired") {
		t.Errorf("wrong code = %d:\n%s", status, body)
	}
	if status, loc, body := b2.post("/signin/mfa", url.Values{"code": {totpCode(t, enr.Secret, 0)}}); status != http.StatusSeeOther || loc != "/signin/pin" {
		t.Fatalf("right code = %d → %q:\n%s", status, loc, body)
	}
}

// TestMFARequiredByPolicy: a policy's MFA requirement holds at the agent
// app's sign-in and the portal's alike, for its users only; bob, who has
// a phone number in the directory, gets his code by text message through
// the development sender, which writes it to the server's log.
func TestMFARequiredByPolicy(t *testing.T) {
	w := newWorld(t)
	tok := w.first.adminToken
	var demo policyBody
	for _, p := range must[struct{ Policies []policyBody }](t, 200)(w.do(t, "GET", "/api/admin/policies", tok, nil)).Policies {
		if p.Name == demoPolicyName {
			demo = p
		}
	}
	demo.RequireMFA, demo.Created, demo.Updated = true, nil, nil
	must[policyBody](t, 200)(w.do(t, "PUT", "/api/admin/policies/"+string(demo.ID), tok, demo))

	type session struct {
		Token, State string
		Methods      []string
	}
	signIn := func(user string) session {
		t.Helper()
		return must[session](t, 200)(w.do(t, "POST", "/api/agent/auth/signin", "",
			map[string]string{"site": "demo", "username": user, "password": w.first.passwords[user]}))
	}
	if s := signIn("bob"); s.State != "mfa_required" || !slices.Contains(s.Methods, "sms") {
		t.Errorf("the agent app's sign-in of bob: %+v", s)
	}
	if s := signIn("carol"); s.State == "mfa_required" { // no policy of hers requires it
		t.Errorf("the agent app's sign-in of carol: %+v", s)
	}

	b := newBrowser(t, w)
	b.get("/signin")
	if status, loc, _ := b.post("/signin", url.Values{"site": {"demo"}, "username": {"bob"}, "password": {w.first.passwords["bob"]}}); status != http.StatusSeeOther || loc != "/signin/mfa" {
		t.Fatalf("bob's web sign-in = %d → %q", status, loc)
	}
	if status, _, body := b.get("/signin/mfa"); status != 200 || !strings.Contains(body, "Text me a code") || !strings.Contains(body, "…42") {
		t.Fatalf("MFA page = %d:\n%s", status, body)
	}
	status, _, body := b.post("/signin/mfa/send", url.Values{"channel": {"sms"}})
	if status != 200 || !strings.Contains(body, "We sent a code by text message to …42") || !strings.Contains(body, `name="method" value="sms"`) {
		t.Fatalf("send = %d:\n%s", status, body)
	}
	m := regexp.MustCompile(`"msg":"DEVELOPMENT SMS/voice sender[^"]*".*?"channel":"sms","code":"(\d{6})"`).FindStringSubmatch(w.out.String())
	if m == nil {
		t.Fatalf("no code in the server's log:\n%s", w.out.String())
	}
	if status, _, body := b.post("/signin/mfa", url.Values{"method": {"sms"}, "code": {"000000"}}); status != 401 || !strings.Contains(body, "wrong or expired") {
		t.Errorf("wrong SMS code = %d:\n%s", status, body)
	}
	if status, loc, body := b.post("/signin/mfa", url.Values{"method": {"sms"}, "code": {m[1]}}); status != http.StatusSeeOther || loc != "/signin/pin" {
		t.Errorf("right SMS code = %d → %q:\n%s", status, loc, body)
	}
	// Nothing to reset for bob, who has no authenticator app.
	if st, _ := w.do(t, "POST", "/api/admin/users/"+w.users["bob"]+"/mfa/reset", tok, nil); st != 404 {
		t.Errorf("reset of a user without an authenticator = %d", st)
	}
}
