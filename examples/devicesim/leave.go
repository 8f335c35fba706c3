package main

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"

	"github.com/openomm/omm/enroll/ota/otatest"
)

// The leave walk: a user who leaves the organization. It enrolls an
// iPhone, a Samsung Knox phone and a work-profile phone for the user,
// obtains one enrollment credential of each kind and does not use it,
// deactivates the user in the example server's admin console, and then
// shows that every credential is refused and every device gives back the
// organization's data (work data only).

// leaveConfig is a leave walk's settings.
type leaveConfig struct {
	commonFlags
	// adminToken signs in to the admin console, where the user is
	// deactivated, and reads the server's records.
	adminToken string
}

func parseLeave(args []string, out io.Writer) (leaveConfig, error) {
	var c leaveConfig
	fs := newFlagSet("leave", out)
	c.register(fs)
	fs.StringVar(&c.adminToken, "admin-token", "", "admin token: signs in to the admin console, where the user is deactivated (required)")
	if err := parseFlags(fs, args); err != nil {
		return c, err
	}
	if c.adminToken == "" {
		return c, fmt.Errorf("%w: -admin-token is required: the user is deactivated in the admin console", errUsage)
	}
	if c.agentToken != "" {
		return c, fmt.Errorf("%w: -agent-token: the leave walk signs the user in (its session must end)", errUsage)
	}
	return c, c.checkTOTP()
}

// leaveResult is what the leave walk saw, for callers that check it.
type leaveResult struct {
	// Refused maps each unused credential to the server's answer after
	// the deactivation.
	Refused map[string]string
	// Final maps each device to the state the server ends it in.
	Final map[string]string
	// Console is what the console said when the user was deactivated.
	Console string
}

// unused credential kinds, in the order the walk obtains them.
const (
	credLink     = "iOS enrollment link"
	credIdentity = "SCEP identity of a direct enrollment"
	credPhase3   = "OTA identity awaiting phase 3"
	credAgent    = "Android enrollment code (Knox, agent)"
	credAMAPI    = "Android enrollment token (work profile, Android Management API)"
	credSession  = "agent session"
)

func walkLeave(ctx context.Context, c leaveConfig, out io.Writer) (leaveResult, error) {
	logf := stepLog(out)
	res := leaveResult{Refused: map[string]string{}, Final: map[string]string{}}
	a, err := c.target()
	if err != nil {
		return res, err
	}
	acct := c.acct
	session, err := a.signInAccount(ctx, &acct, logf)
	if err != nil {
		return res, err
	}

	// Enrolled: an iPhone, a Knox phone and a work-profile phone.
	s := newSpec("")
	iosFacts := facts{Platform: "ios", OSVersion: s.OSVersion, Model: s.Product, Ownership: "personal"}
	dec, err := a.startEnrollment(ctx, session, iosFacts, "direct")
	if err != nil {
		return res, err
	}
	iphone, err := enrollDirect(ctx, a, dec.EnrollURL, s, nop)
	if err != nil {
		return res, err
	}
	if _, err := iphone.poll(ctx, 0, nop, nil); err != nil {
		return res, err
	}
	mine, err := a.myDevice(ctx, session, s.Serial)
	if err != nil {
		return res, err
	}
	logf("iPhone %s enrolled as %s", s.Serial, mine.ID)
	w := &androidWalk{api: a, session: session, admin: c.adminToken, logf: logf}
	phones := map[androidMode]*androidDevice{}
	for _, m := range []androidMode{modeKnox, modeWorkProfile} {
		p := newPhone(m)
		e, err := w.code(ctx, p)
		if err != nil {
			return res, err
		}
		var ar androidResult
		if e.Channel == "agent" {
			phones[m], err = w.enrollAgent(ctx, p, e, &ar)
		} else {
			phones[m], err = w.enrollManaged(ctx, p, e, &ar)
		}
		if err != nil {
			return res, err
		}
	}

	// Unused: one credential of each kind.
	link, err := a.startEnrollment(ctx, session, iosFacts, "ota")
	if err != nil {
		return res, err
	}
	logf("unused %s obtained: %s", credLink, redactToken(link.EnrollURL))
	direct, err := a.startEnrollment(ctx, session, iosFacts, "direct")
	if err != nil {
		return res, err
	}
	ca, err := a.orgCA(ctx, direct.EnrollURL)
	if err != nil {
		return res, err
	}
	prof, err := a.fetchProfile(ctx, "GET", direct.EnrollURL, nil, ca)
	if err != nil {
		return res, fmt.Errorf("direct profile: %w", err)
	}
	idle, err := a.mdmIdentity(ctx, ca, prof, newSpec(""), nop)
	if err != nil {
		return res, err
	}
	logf("unused %s obtained: serial %s, never presented", credIdentity, idle.identity.SerialNumber.Text(16))
	ota, err := a.startEnrollment(ctx, session, iosFacts, "ota")
	if err != nil {
		return res, err
	}
	chain, err := otatest.NewChain()
	if err != nil {
		return res, err
	}
	p3, err := otaToPhase3(ctx, a, chain, ota.EnrollURL, newSpec(""), nop)
	var se *statusError
	switch {
	case errors.As(err, &se) && se.Status == http.StatusForbidden:
		p3 = phase3{} // a server that refuses simulated OTA devices
		logf("no %s: the server refuses simulated OTA devices (start it with -allow-simulators to try this credential too)", credPhase3)
	case err != nil:
		return res, err
	default:
		logf("unused %s obtained: phase 3 signed, not sent", credPhase3)
	}
	knoxCode, err := w.code(ctx, newPhone(modeKnox))
	if err != nil {
		return res, err
	}
	logf("unused %s obtained", credAgent)
	wpPhone := newPhone(modeWorkProfile)
	wpCode, err := w.code(ctx, wpPhone)
	if err != nil {
		return res, err
	}
	logf("unused %s obtained", credAMAPI)

	// The user leaves.
	if res.Console, err = consoleDeactivate(ctx, a, c.adminToken, c.acct.User); err != nil {
		return res, err
	}
	logf("admin console: %s deactivated: %s", c.acct.User, res.Console)

	// Every credential is refused.
	refused := func(kind string, err error) error {
		var se *statusError
		if !errors.As(err, &se) || se.Status/100 != 4 {
			return fmt.Errorf("%s after the deactivation: %v, want a refusal", kind, err)
		}
		res.Refused[kind] = fmt.Sprintf("%d %s", se.Status, http.StatusText(se.Status))
		logf("%s refused: %s", kind, res.Refused[kind])
		return nil
	}
	_, err = do(ctx, a.client, a.base, "GET", link.EnrollURL, "", "", nil, maxOtherReply)
	if err := refused(credLink, err); err != nil {
		return res, err
	}
	if err := refused(credIdentity, idle.checkIn(ctx, nop)); err != nil {
		return res, err
	}
	if p3.url != "" {
		_, err = do(ctx, a.client, a.base, "POST", p3.url, "application/pkcs7-signature", "", p3.body, maxOtherReply)
		if err := refused(credPhase3, err); err != nil {
			return res, err
		}
	}
	err = a.call(ctx, "POST", "/android/agent/enroll", "", map[string]string{"token": knoxCode.Token, "identifier": "leaver-knox"}, nil)
	if err := refused(credAgent, err); err != nil {
		return res, err
	}
	// Google enrolls the phone with its own token; the server refuses it
	// on the notification and deletes the work profile there.
	wp, err := w.enrollAtGoogle(ctx, wpPhone, wpCode.Token)
	if err != nil {
		return res, err
	}
	if v, err := w.managedView(ctx, wp); err != nil || v.Policy != nil {
		return res, fmt.Errorf("%s after the deactivation: the phone holds the org's policy (%v)", credAMAPI, err)
	} else {
		res.Refused[credAMAPI] = "work profile removed: " + v.Wiped
		logf("%s refused: Google enrolled the phone, the server refused it and removed the work profile (%s)", credAMAPI, v.Wiped)
	}
	err = a.call(ctx, "GET", "/api/agent/devices", session, nil, nil)
	if err := refused(credSession, err); err != nil {
		return res, err
	}

	// Every device gives the organization's data back.
	if _, err := iphone.poll(ctx, 0, logf, nil); err != nil {
		return res, err
	}
	if !iphone.unenrolled || len(iphone.refusedRemovals) > 0 {
		return res, fmt.Errorf("iPhone: MDM profile removed %v, the user's own apps asked for %v", iphone.unenrolled, iphone.refusedRemovals)
	}
	if err := w.agentCommands(ctx, phones[modeKnox], "wipe", "work_data"); err != nil {
		return res, err
	}
	if v, err := w.managedView(ctx, phones[modeWorkProfile]); err != nil || v.Wiped != "WORK_PROFILE_REMOVED" {
		return res, fmt.Errorf("work-profile phone after the deactivation: %+v, %v", v, err)
	}
	for name, id := range map[string]string{"iPhone": mine.ID, "Knox phone": phones[modeKnox].id, "work-profile phone": phones[modeWorkProfile].id} {
		v, err := a.adminDevice(ctx, c.adminToken, id)
		if err != nil {
			return res, err
		}
		res.Final[name] = v.Device.State
		if v.Device.State != "deprovisioned" {
			return res, fmt.Errorf("%s ends %s, want deprovisioned", name, v.Device.State)
		}
	}
	logf("all %d unused credentials refused; the iPhone, the Knox phone and the work-profile phone are deprovisioned, their personal data untouched", len(res.Refused))
	return res, nil
}

// code asks the agent API for a phone's one-time enrollment code.
func (w *androidWalk) code(ctx context.Context, p phone) (enrollment, error) {
	var e enrollment
	if err := w.api.call(ctx, "POST", "/api/agent/android/enroll", w.session, p.Facts, &e); err != nil {
		return e, fmt.Errorf("%s enrollment code: %w", p.Mode, err)
	}
	return e, nil
}

// enrollAtGoogle has Android Device Policy enroll the phone with the
// token at the local Android Management API, as a phone that opened the
// enrollment link does.
func (w *androidWalk) enrollAtGoogle(ctx context.Context, p phone, token string) (*androidDevice, error) {
	var en struct {
		Secret string `json:"secret"`
	}
	body := map[string]any{"token": token, "provisioning": "link", "android_version": p.Facts.OSVersion, "api_level": p.Facts.APILevel,
		"hardware": map[string]string{"manufacturer": p.Facts.Manufacturer, "model": p.Facts.Model, "serial_number": p.Serial}}
	if err := w.api.call(ctx, "POST", fakeAMAPI+"/enroll", "", body, &en); err != nil {
		return nil, fmt.Errorf("Android Device Policy enrollment: %w", err)
	}
	return &androidDevice{p: p, amapi: en.Secret}, nil
}

var (
	csrfField      = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	paragraph      = regexp.MustCompile(`(?s)<main>.*?<p>(.*?)</p>`)
	deactivateForm = regexp.MustCompile(`action="(/admin/users/[^"]+/deactivate)"`)
)

// consoleDeactivate signs in to the example server's admin console with
// the admin token, presses the user's Deactivate button and confirms, returning
// what the console says.
func consoleDeactivate(ctx context.Context, a *api, adminToken, username string) (string, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return "", err
	}
	browser := &http.Client{Transport: a.client.Transport, Jar: jar}
	page := func(method, path string, form url.Values) (string, error) {
		var body []byte
		ct := ""
		if form != nil {
			body, ct = []byte(form.Encode()), "application/x-www-form-urlencoded"
		}
		b, err := do(ctx, browser, a.base, method, path, ct, "", body, maxOtherReply)
		return string(b), err
	}
	csrf := func(p string) string {
		if m := csrfField.FindStringSubmatch(p); m != nil {
			return html.UnescapeString(m[1])
		}
		return ""
	}
	signin, err := page("GET", "/admin", nil)
	if err != nil {
		return "", fmt.Errorf("admin console: %w", err)
	}
	if _, err := page("POST", "/admin/signin", url.Values{"csrf": {csrf(signin)}, "token": {adminToken}}); err != nil {
		return "", fmt.Errorf("admin console sign-in: %w", err)
	}
	users, err := page("GET", "/admin/users", nil)
	if err != nil {
		return "", fmt.Errorf("admin console users: %w", err)
	}
	action := ""
	for _, row := range strings.Split(users, "<tr ") {
		if strings.HasPrefix(row, `data-user="`+html.EscapeString(username)+`"`) {
			if m := deactivateForm.FindStringSubmatch(row); m != nil {
				action = html.UnescapeString(m[1])
			}
		}
	}
	if action == "" {
		return "", fmt.Errorf("admin console: no Deactivate button for %s", username)
	}
	// The console asks for confirmation first.
	confirm, err := page("POST", action, url.Values{"csrf": {csrf(users)}})
	if err != nil {
		return "", fmt.Errorf("admin console deactivation: %w", err)
	}
	if !strings.Contains(confirm, `name="confirm"`) {
		return "", fmt.Errorf("admin console: Deactivate asked no confirmation:\n%s", confirm)
	}
	done, err := page("POST", action, url.Values{"csrf": {csrf(confirm)}, "confirm": {"on"}})
	if err != nil {
		return "", fmt.Errorf("admin console deactivation: %w", err)
	}
	m := paragraph.FindStringSubmatch(done)
	if m == nil || !strings.Contains(done, "User deactivated") {
		return "", fmt.Errorf("admin console: no confirmation after Deactivate:\n%s", done)
	}
	return html.UnescapeString(m[1]), nil
}
