package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	t    *testing.T
	w    *world
	c    *http.Client
	csrf string // from the last page fetched
}

func newBrowser(t *testing.T, w *world) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, w: w, c: trustingClient(t, w.dir, jar)}
}

// get fetches a page and remembers its CSRF token.
func (b *browser) get(path string) (int, string, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.w.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.read(resp)
}

// post submits a form; csrf is added unless the form sets it.
func (b *browser) post(path string, form url.Values) (int, string, string) {
	b.t.Helper()
	form = cloneValues(form) // callers reuse forms across browsers
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", b.csrf)
	}
	resp, err := b.c.PostForm(b.w.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.read(resp)
}

func (b *browser) read(resp *http.Response) (int, string, string) {
	b.t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	if m := csrfField.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	if strings.Contains(resp.Header.Get("Content-Type"), "text/html") && strings.Contains(string(body), "<script") {
		b.t.Errorf("page has a script: %s", body)
	}
	return resp.StatusCode, resp.Header.Get("Location"), string(body)
}

func TestWebPortal(t *testing.T) {
	w := newWorld(t)
	b := newBrowser(t, w)

	status, _, body := b.get("/signin")
	if status != 200 || !strings.Contains(body, `<label for="site">`) || !strings.Contains(body, `<label for="password">`) || b.csrf == "" {
		t.Fatalf("sign-in page = %d:\n%s", status, body)
	}
	signIn := url.Values{"site": {"demo"}, "username": {"alice"}, "password": {w.first.passwords["alice"]}}

	// Forged or missing CSRF tokens are refused before the password is
	// even checked.
	for _, bad := range []string{"", "forged", csrfFor(w, "someone else's")} {
		form := url.Values{"csrf": {bad}}
		for k, v := range signIn {
			form[k] = v
		}
		if status, _, body := b.post("/signin", form); status != http.StatusForbidden || !strings.Contains(body, "Form expired") {
			t.Errorf("sign-in with csrf %q = %d", bad, status)
		}
	}
	// A wrong password is a clear message on the form again.
	wrong := url.Values{"site": {"demo"}, "username": {"alice"}, "password": {"not the password"}}
	if status, _, body := b.post("/signin", wrong); status != 401 || !strings.Contains(body, "Wrong username or password") || !strings.Contains(body, `value="alice"`) {
		t.Errorf("wrong password = %d:\n%s", status, body)
	}
	if status, _, body := b.post("/signin", url.Values{"site": {"demo"}}); status != 400 || !strings.Contains(body, "Please enter") {
		t.Errorf("empty form = %d:\n%s", status, body)
	}

	status, loc, _ := b.post("/signin", signIn)
	if status != http.StatusSeeOther || loc != "/signin/pin" {
		t.Fatalf("sign-in = %d → %q", status, loc)
	}
	if status, loc, _ := b.get("/portal"); status != http.StatusSeeOther || loc != "/signin/pin" {
		t.Errorf("portal before the PIN = %d → %q", status, loc)
	}
	if status, _, body := b.get("/signin/pin"); status != 200 || !strings.Contains(body, `name="mode" value="set"`) {
		t.Fatalf("PIN page = %d:\n%s", status, body)
	}
	if status, _, body := b.post("/signin/pin", url.Values{"mode": {"set"}, "pin": {"4829"}, "confirm": {"4830"}}); status != 400 {
		t.Errorf("mismatched PIN = %d:\n%s", status, body)
	}
	if status, loc, _ := b.post("/signin/pin", url.Values{"mode": {"set"}, "pin": {"4829"}, "confirm": {"4829"}}); status != http.StatusSeeOther || loc != "/portal" {
		t.Fatalf("set PIN = %d → %q", status, loc)
	}

	status, _, body = b.get("/portal")
	if status != 200 || !strings.Contains(body, "Alice Example") || !strings.Contains(body, w.aliceDev) {
		t.Fatalf("portal = %d:\n%s", status, body)
	}

	// Eligibility: the form asks what only a person can say; the answer,
	// and the enrollment link.
	if strings.Contains(body, `name="os_version"`) || strings.Contains(body, `name="compromised"`) {
		t.Errorf("the portal asks for what the device reports itself:\n%s", body)
	}
	status, _, body = b.post("/portal/eligibility", url.Values{"platform": {"ios"}, "ownership": {"personal"}})
	if status != 200 || !strings.Contains(body, "asks you to enroll") || !strings.Contains(body, `action="/portal/enroll"`) {
		t.Fatalf("eligibility = %d:\n%s", status, body)
	}
	if status, _, body := b.post("/portal/eligibility", url.Values{"platform": {"windows"}}); status != 400 || !strings.Contains(body, "platform must be") {
		t.Errorf("unknown platform = %d:\n%s", status, body)
	}
	status, _, body = b.post("/portal/enroll", url.Values{"platform": {"ios"}, "ownership": {"personal"}, "agree": {"on"}})
	if status != 200 || !strings.Contains(body, "/enroll/"+string(demoOrg.ID)+"/profile?token=") {
		t.Fatalf("enroll = %d:\n%s", status, body)
	}

	// The report, and deprovisioning from it.
	status, _, body = b.get("/portal/devices/" + w.aliceDev)
	if status != 200 || !strings.Contains(body, "can never see") || !strings.Contains(body, "Serial number") {
		t.Fatalf("report = %d:\n%s", status, body)
	}
	if status, _, _ := b.get("/portal/devices/" + w.bobDev); status != 404 {
		t.Errorf("bob's device in alice's portal = %d", status)
	}
	if status, _, _ := b.post("/portal/devices/"+w.aliceDev+"/deprovision", url.Values{"csrf": {"forged"}}); status != 403 {
		t.Errorf("deprovision with a forged token = %d", status)
	}
	if status, _, body := b.post("/portal/devices/"+w.aliceDev+"/deprovision", url.Values{}); status != 400 || !strings.Contains(body, "Not confirmed") {
		t.Errorf("deprovision without confirmation = %d:\n%s", status, body)
	}
	if status, _, body := b.post("/portal/devices/"+w.aliceDev+"/deprovision", url.Values{"confirm": {"on"}}); status != 200 || !strings.Contains(body, "Removal requested") {
		t.Errorf("deprovision = %d:\n%s", status, body)
	}

	// The session's CSRF token is worthless in another session.
	other := newBrowser(t, w)
	other.get("/signin")
	if status, _, _ := other.post("/signin", url.Values{"site": {"demo"}, "username": {"bob"}, "password": {w.first.passwords["bob"]}}); status != http.StatusSeeOther {
		t.Fatalf("bob's sign-in = %d", status)
	}
	if status, _, _ := other.post("/signout", url.Values{"csrf": {b.csrf}}); status != 403 {
		t.Errorf("sign-out with another session's token = %d", status)
	}

	if status, loc, _ := b.post("/signout", url.Values{}); status != http.StatusSeeOther || loc != "/signin" {
		t.Errorf("sign-out = %d → %q", status, loc)
	}
	if status, loc, _ := b.get("/portal"); status != http.StatusSeeOther || loc != "/signin" {
		t.Errorf("portal after sign-out = %d → %q", status, loc)
	}
}

func cloneValues(v url.Values) url.Values {
	c := url.Values{}
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// csrfFor is a token the server would issue for another binding.
func csrfFor(w *world, binding string) string {
	key, err := loadOrCreateSecret(w.dir + "/csrf.key")
	if err != nil {
		return "x"
	}
	s := &server{csrfKey: key}
	return s.csrfToken(csrfPre, binding)
}

func TestWebConsole(t *testing.T) {
	w := newWorld(t)
	b := newBrowser(t, w)
	if status, loc, _ := b.get("/admin/devices"); status != http.StatusSeeOther || loc != "/admin" {
		t.Errorf("console without sign-in = %d → %q", status, loc)
	}
	status, _, body := b.get("/admin")
	if status != 200 || !strings.Contains(body, `<label for="token">`) {
		t.Fatalf("console sign-in = %d:\n%s", status, body)
	}
	if status, _, _ := b.post("/admin/signin", url.Values{"token": {"omm_admin_wrong"}}); status != 401 {
		t.Errorf("wrong admin token = %d", status)
	}
	if status, _, _ := b.post("/admin/signin", url.Values{"token": {w.first.adminToken}, "csrf": {""}}); status != 403 {
		t.Errorf("console sign-in without CSRF = %d", status)
	}
	if status, loc, _ := b.post("/admin/signin", url.Values{"token": {w.first.adminToken}}); status != http.StatusSeeOther || loc != "/admin/devices" {
		t.Fatalf("console sign-in = %d → %q", status, loc)
	}
	status, _, body = b.get("/admin/devices")
	if status != 200 || !strings.Contains(body, w.aliceDev) || strings.Contains(body, w.otherDev) {
		t.Fatalf("devices = %d:\n%s", status, body)
	}
	if status, _, _ := b.get("/admin/devices/" + w.otherDev); status != 404 {
		t.Errorf("other org's device in the console = %d", status)
	}
	if status, _, _ := b.post("/admin/devices/"+w.aliceDev+"/lock", url.Values{"csrf": {"forged"}}); status != 403 {
		t.Errorf("lock with a forged token = %d", status)
	}
	status, loc, _ := b.post("/admin/devices/"+w.aliceDev+"/lock", url.Values{})
	if status != http.StatusSeeOther {
		t.Fatalf("lock = %d", status)
	}
	status, _, body = b.get(loc)
	if status != 200 || !strings.Contains(body, "DeviceLock") || !strings.Contains(body, "(pending)") {
		t.Errorf("device page after lock = %d:\n%s", status, body)
	}
	for _, path := range []string{"/admin/policies", "/admin/audit", "/admin/users", "/admin/groups"} {
		status, _, body := b.get(path)
		if status != 200 || !strings.Contains(body, "<table") && !strings.Contains(body, "<section") {
			t.Errorf("%s = %d:\n%s", path, status, body)
		}
	}
	if _, _, body := b.get("/admin/policies"); !strings.Contains(body, demoPolicyName) {
		t.Errorf("policies page lacks the demo policy")
	}
}
