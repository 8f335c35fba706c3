package main

import (
	"errors"
	"net/http"
	"strings"

	"github.com/openomm/omm"
	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
)

// The end-user portal: sign-in (password, MFA, PIN), eligibility and
// enrollment, "What your organization can see", and my devices.

const (
	csrfPre     = "pre"
	csrfSession = "session"
	csrfAdmin   = "admin"
)

func (s *server) portalRoutes(mux *router) {
	mux.HandleFunc("GET /signin", s.signInPage)
	mux.HandleFunc("POST /signin", s.signInPost)
	mux.HandleFunc("GET /signin/mfa", s.mfaPage)
	mux.HandleFunc("POST /signin/mfa", s.mfaPost)
	mux.HandleFunc("POST /signin/mfa/send", s.mfaSendPost)
	mux.HandleFunc("POST /signin/mfa/enroll", s.mfaEnrollPost)
	mux.HandleFunc("POST /signin/mfa/confirm", s.mfaConfirmPost)
	mux.HandleFunc("GET /signin/pin", s.pinPage)
	mux.HandleFunc("POST /signin/pin", s.pinPost)
	mux.HandleFunc("POST /signout", s.signOutPost)
	mux.HandleFunc("GET /portal", s.portalPage)
	mux.HandleFunc("GET /portal/security", s.securityPage)
	mux.HandleFunc("POST /portal/security/totp", s.securityTOTPPost)
	mux.HandleFunc("POST /portal/security/totp/confirm", s.securityTOTPConfirmPost)
	mux.HandleFunc("POST /portal/eligibility", s.eligibilityPost)
	mux.HandleFunc("POST /portal/enroll", s.enrollPost)
	mux.HandleFunc("POST /portal/android/enroll", s.portalAndroidEnrollPost)
	mux.HandleFunc("GET /portal/devices/{id}", s.reportPage)
	mux.HandleFunc("POST /portal/devices/{id}/deprovision", s.portalDeprovisionPost)
	mux.HandleFunc("POST /portal/devices/{id}/erase", s.portalErasePost)
	mux.HandleFunc("GET /portal/devices/{id}/store", s.storePage)
	mux.HandleFunc("POST /portal/devices/{id}/store/{app}/install", s.storeInstallPost)
	mux.HandleFunc("POST /portal/devices/{id}/store/{app}/uninstall", s.storeUninstallPost)
}

type signInForm struct{ Site, Username string }

func (s *server) signInPage(w http.ResponseWriter, r *http.Request) {
	pre := preSession(w, r)
	s.render(w, http.StatusOK, "signin", page{Title: "Sign in", CSRF: s.csrfToken(csrfPre, pre), Data: signInForm{Site: r.URL.Query().Get("site")}})
}

func (s *server) signInPost(w http.ResponseWriter, r *http.Request) {
	pre := cookieValue(r, preCookie)
	if !s.parseForm(w, r, csrfPre, pre) {
		return
	}
	form := signInForm{Site: strings.TrimSpace(r.PostFormValue("site")), Username: strings.TrimSpace(r.PostFormValue("username"))}
	again := func(status int, msg string) {
		s.render(w, status, "signin", page{Title: "Sign in", CSRF: s.csrfToken(csrfPre, pre), Error: msg, Data: form})
	}
	if form.Site == "" || form.Username == "" || r.PostFormValue("password") == "" {
		again(http.StatusBadRequest, "Please enter your organization's site name, your username and your password.")
		return
	}
	client := auth.Client{Source: s.sdk.ClientSource(r), PreviousToken: cookieValue(r, sessionCookie)}
	res, err := s.sdk.Auth.SignInFrom(r.Context(), client, form.Site, form.Username, r.PostFormValue("password"))
	if err != nil {
		status, msg := signInError(err)
		if status == 0 {
			s.log.Error("web sign-in failed", "err", err)
			status, msg = http.StatusInternalServerError, "Sign-in is not available right now. Please try again later."
		}
		again(status, msg)
		return
	}
	setCookie(w, sessionCookie, res.Token, 0)
	next := "/signin/pin"
	if res.Session.State == auth.StateMFA {
		next = "/signin/mfa"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// flowSession returns the browser's sign-in session and what it needs,
// or redirects to the sign-in page.
func (s *server) flowSession(w http.ResponseWriter, r *http.Request) (string, auth.SessionStatus, bool) {
	token := cookieValue(r, sessionCookie)
	if token == "" {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return "", auth.SessionStatus{}, false
	}
	st, err := s.sdk.Auth.Status(r.Context(), token)
	if err != nil {
		clearCookie(w, sessionCookie)
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return "", st, false
	}
	return token, st, true
}

// mfaForm is what the MFA page offers: a code from the authenticator
// app, a code by text message or call to the directory's number, or (for
// a user with no factor at all) setting up an authenticator app now.
type mfaForm struct {
	TOTP, SMS, Voice, Enroll bool
	// Phone is the end of the number codes go to ("…67").
	Phone string
	// Sent is the channel a code was just sent by; the form then asks
	// for that code.
	Sent auth.Channel
}

func (s *server) mfaPage(w http.ResponseWriter, r *http.Request) {
	token, st, ok := s.flowSession(w, r)
	if !ok {
		return
	}
	if !errors.Is(st.Need, auth.ErrMFARequired) {
		http.Redirect(w, r, "/portal", http.StatusSeeOther)
		return
	}
	s.renderMFA(w, r, token, st, http.StatusOK, "", "")
}

func (s *server) renderMFA(w http.ResponseWriter, r *http.Request, token string, st auth.SessionStatus, status int, msg string, sent auth.Channel) {
	methods, err := s.sdk.Auth.Methods(r.Context(), token)
	if err != nil {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	form := mfaForm{Sent: sent, Phone: phoneEnd(st.User.Phone)}
	for _, m := range methods {
		switch m {
		case auth.MethodTOTP:
			form.TOTP = true
		case auth.MethodSMS:
			form.SMS = true
		case auth.MethodVoice:
			form.Voice = true
		case auth.MethodTOTPEnroll:
			form.Enroll = true
		}
	}
	s.render(w, status, "mfa", page{Title: "Verify it's you", CSRF: s.csrfToken(csrfSession, token), Error: msg, Data: form})
}

// phoneEnd is the end of a phone number, enough to recognize it.
func phoneEnd(p string) string {
	if len(p) < 2 {
		return ""
	}
	return "…" + p[len(p)-2:]
}

// mfaStep reads the form of a sign-in step and the session it belongs to;
// on failure it has answered.
func (s *server) mfaStep(w http.ResponseWriter, r *http.Request) (string, auth.SessionStatus, bool) {
	token := cookieValue(r, sessionCookie)
	if !s.parseForm(w, r, csrfSession, token) {
		return "", auth.SessionStatus{}, false
	}
	return s.flowSession(w, r)
}

func (s *server) mfaPost(w http.ResponseWriter, r *http.Request) {
	token, st, ok := s.mfaStep(w, r)
	if !ok {
		return
	}
	method := auth.Method(r.PostFormValue("method"))
	if method != auth.MethodSMS && method != auth.MethodVoice {
		method = auth.MethodTOTP
	}
	sess, err := s.sdk.Auth.VerifyMFA(r.Context(), token, method, strings.TrimSpace(r.PostFormValue("code")))
	if err != nil {
		status, msg := signInError(err)
		if status == 0 {
			http.Redirect(w, r, nextStep(err), http.StatusSeeOther)
			return
		}
		sent := auth.Channel("")
		if method != auth.MethodTOTP {
			sent = auth.Channel(method)
		}
		s.renderMFA(w, r, token, st, status, msg, sent)
		return
	}
	keepToken(w, sess)
	http.Redirect(w, r, "/signin/pin", http.StatusSeeOther)
}

// mfaSendPost sends a code by text message or call.
func (s *server) mfaSendPost(w http.ResponseWriter, r *http.Request) {
	token, st, ok := s.mfaStep(w, r)
	if !ok {
		return
	}
	ch := auth.Channel(r.PostFormValue("channel"))
	if ch != auth.ChannelVoice {
		ch = auth.ChannelSMS
	}
	if _, err := s.sdk.Auth.SendCode(r.Context(), token, ch); err != nil {
		status, msg := signInError(err)
		switch {
		case errors.Is(err, auth.ErrNoFactor):
			status, msg = http.StatusBadRequest, "Codes cannot be sent to you: your organization's directory has no phone number for you."
		case status == 0 && errors.Is(err, auth.ErrWrongState):
			http.Redirect(w, r, "/signin/pin", http.StatusSeeOther)
			return
		case status == 0:
			s.log.Error("sending a sign-in code failed", "err", err)
			status, msg = http.StatusBadGateway, "The code could not be sent. Please try again in a moment, or use another way."
		}
		s.renderMFA(w, r, token, st, status, msg, "")
		return
	}
	s.renderMFA(w, r, token, st, http.StatusOK, "", ch)
}

// totpSetup is the page that sets up an authenticator app: the secret as
// a QR code and as text, and the form for its first code.
type totpSetup struct {
	URI, Secret string
	// Action is where the form posts the first code.
	Action string
}

// Grouped is the secret in groups of four, for typing.
func (t totpSetup) Grouped() string {
	var b strings.Builder
	for i, c := range t.Secret {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// mfaEnrollPost sets up an authenticator app during sign-in, for a user
// whose organization requires MFA and who has no factor yet.
func (s *server) mfaEnrollPost(w http.ResponseWriter, r *http.Request) {
	token, st, ok := s.mfaStep(w, r)
	if !ok {
		return
	}
	s.startTOTP(w, r, token, "/signin/mfa/confirm", func(status int, msg string) { s.renderMFA(w, r, token, st, status, msg, "") })
}

// startTOTP creates a new authenticator secret and shows it.
func (s *server) startTOTP(w http.ResponseWriter, r *http.Request, token, action string, refuse func(int, string)) {
	enr, err := s.sdk.Auth.EnrollTOTP(r.Context(), token)
	switch {
	case errors.Is(err, auth.ErrFactorExists):
		refuse(http.StatusConflict, "You already have an authenticator app set up. If you lost it, ask your IT administrator to reset it.")
		return
	case errors.Is(err, auth.ErrWrongState):
		refuse(http.StatusConflict, "Verify with a code you can receive first.")
		return
	case err != nil:
		if status, msg := signInError(err); status != 0 {
			refuse(status, msg)
			return
		}
		s.webFailure(w, "portal", err)
		return
	}
	s.renderTOTP(w, token, http.StatusOK, "", totpSetup{URI: enr.URI, Secret: enr.Secret, Action: action})
}

func (s *server) renderTOTP(w http.ResponseWriter, token string, status int, msg string, t totpSetup) {
	s.render(w, status, "totp", page{Title: "Set up an authenticator app", CSRF: s.csrfToken(csrfSession, token), Error: msg, Data: t})
}

// confirmTOTP checks the first code of a new authenticator app; a wrong
// one shows the same secret again (it is the user's own, posted back by
// their page only to be shown again: the server checks against what it
// stored).
func (s *server) confirmTOTP(w http.ResponseWriter, r *http.Request, token, action string) bool {
	sess, err := s.sdk.Auth.ConfirmTOTP(r.Context(), token, strings.TrimSpace(r.PostFormValue("code")))
	if err == nil {
		keepToken(w, sess) // confirming at sign-in passes MFA: a new token
		return true
	}
	status, msg := signInError(err)
	if status == 0 {
		if !errors.Is(err, auth.ErrWrongState) {
			s.log.Error("authenticator confirmation failed", "err", err)
		}
		status, msg = http.StatusConflict, "The set-up expired. Please start again."
	}
	t := totpSetup{URI: r.PostFormValue("uri"), Secret: r.PostFormValue("secret"), Action: action}
	if len(t.URI) > 512 || !strings.HasPrefix(t.URI, "otpauth://") || len(t.Secret) > 128 {
		t = totpSetup{Action: action}
	}
	s.renderTOTP(w, token, status, msg, t)
	return false
}

func (s *server) mfaConfirmPost(w http.ResponseWriter, r *http.Request) {
	token, _, ok := s.mfaStep(w, r)
	if !ok || !s.confirmTOTP(w, r, token, "/signin/mfa/confirm") {
		return
	}
	http.Redirect(w, r, "/signin/pin", http.StatusSeeOther)
}

// securityData is the portal's sign-in security page.
type securityData struct {
	MFA omm.MFAStatus
}

func (s *server) securityPage(w http.ResponseWriter, r *http.Request) {
	p, token, ok := s.webPrincipal(w, r)
	if !ok {
		return
	}
	s.renderSecurity(w, r, p, token, http.StatusOK, "")
}

func (s *server) renderSecurity(w http.ResponseWriter, r *http.Request, p auth.Principal, token string, status int, msg string) {
	st, err := s.sdk.MFA(r.Context(), p.User.Org, p.User.ID)
	if err != nil {
		s.webFailure(w, "portal", err)
		return
	}
	s.render(w, status, "security", page{Title: "Sign-in security", Nav: "portal", CSRF: s.csrfToken(csrfSession, token), Error: msg,
		Data: securityData{MFA: st}})
}

func (s *server) securityTOTPPost(w http.ResponseWriter, r *http.Request) {
	p, token, ok := s.webPrincipal(w, r)
	if !ok || !s.parseForm(w, r, csrfSession, token) {
		return
	}
	s.startTOTP(w, r, token, "/portal/security/totp/confirm", func(status int, msg string) { s.renderSecurity(w, r, p, token, status, msg) })
}

func (s *server) securityTOTPConfirmPost(w http.ResponseWriter, r *http.Request) {
	_, token, ok := s.webPrincipal(w, r)
	if !ok || !s.parseForm(w, r, csrfSession, token) || !s.confirmTOTP(w, r, token, "/portal/security/totp/confirm") {
		return
	}
	s.renderMessage(w, http.StatusOK, "portal", message{Heading: "Authenticator app set up",
		Text: "From now on, signing in asks for a code from your authenticator app.", Link: "/portal/security", LinkText: "Back to sign-in security"})
}

type pinForm struct {
	// Set: choose a new PIN (first sign-in or expired); otherwise verify.
	Set    bool
	Policy auth.PINPolicy
}

func (s *server) pinPage(w http.ResponseWriter, r *http.Request) {
	token, st, ok := s.flowSession(w, r)
	if !ok {
		return
	}
	s.renderPIN(w, r, token, st, http.StatusOK, "")
}

func (s *server) renderPIN(w http.ResponseWriter, r *http.Request, token string, st auth.SessionStatus, status int, msg string) {
	var form pinForm
	switch {
	case errors.Is(st.Need, auth.ErrPINSetupRequired), errors.Is(st.Need, auth.ErrPINExpired):
		form.Set = true
	case errors.Is(st.Need, auth.ErrPINRequired):
	case st.Need == nil:
		http.Redirect(w, r, "/portal", http.StatusSeeOther)
		return
	default:
		http.Redirect(w, r, nextStep(st.Need), http.StatusSeeOther)
		return
	}
	if so, err := s.sdk.Auth.SignOn(r.Context(), st.Session.Org); err == nil {
		form.Policy = so.PIN
	}
	s.render(w, status, "pin", page{Title: "Agent PIN", CSRF: s.csrfToken(csrfSession, token), Error: msg, Data: form})
}

func (s *server) pinPost(w http.ResponseWriter, r *http.Request) {
	token := cookieValue(r, sessionCookie)
	if !s.parseForm(w, r, csrfSession, token) {
		return
	}
	var sess auth.Session
	var err error
	if r.PostFormValue("mode") == "set" {
		sess, err = s.sdk.Auth.SetPIN(r.Context(), token, r.PostFormValue("pin"), r.PostFormValue("confirm"))
	} else {
		sess, err = s.sdk.Auth.VerifyPIN(r.Context(), token, r.PostFormValue("pin"))
	}
	if err != nil {
		status, msg := signInError(err)
		st, serr := s.sdk.Auth.Status(r.Context(), token)
		if status == 0 || serr != nil {
			http.Redirect(w, r, nextStep(err), http.StatusSeeOther)
			return
		}
		s.renderPIN(w, r, token, st, status, msg)
		return
	}
	keepToken(w, sess)
	http.Redirect(w, r, "/portal", http.StatusSeeOther)
}

// keepToken stores the token a privilege step handed out in place of the
// one it ended.
func keepToken(w http.ResponseWriter, sess auth.Session) {
	if sess.Token != "" {
		setCookie(w, sessionCookie, sess.Token, 0)
	}
}

func (s *server) signOutPost(w http.ResponseWriter, r *http.Request) {
	token := cookieValue(r, sessionCookie)
	if !s.parseForm(w, r, csrfSession, token) {
		return
	}
	if err := s.sdk.Auth.SignOut(r.Context(), token); err != nil && !errors.Is(err, auth.ErrInvalidSession) {
		s.log.Error("web sign-out failed", "err", err)
	}
	clearCookie(w, sessionCookie)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

type portalData struct {
	User    auth.User
	Devices []omm.DeviceSummary
	Facts   omm.Facts
}

func (s *server) portalPage(w http.ResponseWriter, r *http.Request) {
	p, token, ok := s.webPrincipal(w, r)
	if !ok {
		return
	}
	s.renderPortal(w, r, p, token, http.StatusOK, "", omm.Facts{Platform: string(policy.IOS), Ownership: "personal"})
}

func (s *server) renderPortal(w http.ResponseWriter, r *http.Request, p auth.Principal, token string, status int, msg string, f omm.Facts) {
	devices, err := s.sdk.Devices(r.Context(), p.User.Org, inventory.DeviceQuery{UserID: p.User.ID, Limit: inventory.MaxDevicePage})
	if err != nil {
		s.webFailure(w, "portal", err)
		return
	}
	s.render(w, status, "portal", page{Title: "Your devices", Nav: "portal", CSRF: s.csrfToken(csrfSession, token), Error: msg,
		Data: portalData{User: p.User, Devices: devices.Devices, Facts: f}})
}

// formFacts reads what the person answers about the device: which kind
// it is and who owns it. Everything the device can report itself (its OS
// version, model, capabilities, whether it is jailbroken or rooted) comes
// from the device when it enrolls, so the form does not ask it.
func formFacts(r *http.Request) omm.Facts {
	return omm.Facts{Platform: r.PostFormValue("platform"), Ownership: r.PostFormValue("ownership"), FromPerson: true}
}

type decisionData struct {
	Decision omm.DecisionView
	Facts    omm.Facts
	// CanEnroll: the decision is Enroll and this portal can start the
	// enrollment of an Apple device; CanEnrollAndroid: of an Android
	// device, with an enrollment code.
	CanEnroll        bool
	CanEnrollAndroid bool
}

// FactFrom says where a fact came from, in words.
func (decisionData) FactFrom(f omm.FactSource) string {
	switch f {
	case omm.FromYou:
		return "you"
	case omm.FromDevice:
		return "the device"
	}
	return "checked when the device enrolls"
}

func (s *server) eligibilityPost(w http.ResponseWriter, r *http.Request) {
	p, token, ok := s.webPrincipal(w, r)
	if !ok || !s.parseForm(w, r, csrfSession, token) {
		return
	}
	f := formFacts(r)
	dec, err := s.sdk.Decide(r.Context(), p.User.Org, p.User.ID, f)
	if err != nil {
		if status, _, msg := omm.HTTPStatus(err); status == http.StatusBadRequest {
			s.renderPortal(w, r, p, token, status, msg, f)
			return
		}
		s.webFailure(w, "portal", err)
		return
	}
	s.render(w, http.StatusOK, "decision", page{Title: "Can this device enroll?", Nav: "portal", CSRF: s.csrfToken(csrfSession, token),
		Data: decisionData{Decision: s.sdk.ViewDecisionFor(r.Context(), p.User.Org, dec, f), Facts: f,
			CanEnroll: dec.Outcome == policy.Enroll && (dec.Platform == policy.IOS || dec.Platform == policy.MacOS),
			CanEnrollAndroid: dec.Outcome == policy.Enroll && dec.Platform == policy.Android &&
				dec.Android != nil && dec.Android.Mode != ""}})
}

type enrollData struct {
	URL     string
	Expires string
	IOS     bool
}

func (s *server) enrollPost(w http.ResponseWriter, r *http.Request) {
	p, token, ok := s.webPrincipal(w, r)
	if !ok || !s.parseForm(w, r, csrfSession, token) {
		return
	}
	f := formFacts(r)
	if r.PostFormValue("agree") != "on" {
		s.renderPortal(w, r, p, token, http.StatusBadRequest, "Please accept the agreement to enroll.", f)
		return
	}
	e, err := s.sdk.BeginAppleEnrollment(r.Context(), p.User.Org, p.User.ID, f, "")
	if err != nil {
		if status, _, msg := omm.HTTPStatus(err); status < 500 {
			s.renderPortal(w, r, p, token, status, msg, f)
			return
		}
		s.webFailure(w, "portal", err)
		return
	}
	s.render(w, http.StatusOK, "enroll", page{Title: "Enroll this device", Nav: "portal",
		Data: enrollData{URL: e.URL, Expires: e.Expires.UTC().Format("15:04 UTC"), IOS: e.Decision.Platform == policy.IOS}})
}

type reportData struct {
	Device omm.DeviceSummary
	Report inventory.Report
	// Offered are the removals that apply to the device now
	// (omm.SDK.DeviceActions): deprovision and erase.
	Offered map[string]bool
	// Actions are the device's latest commands, pending ones marked so:
	// a removal the user asked for shows as pending until the device
	// carries it out.
	Actions []omm.DeviceCommand
}

func (s *server) reportPage(w http.ResponseWriter, r *http.Request) {
	p, token, ok := s.webPrincipal(w, r)
	if !ok {
		return
	}
	d, err := s.sdk.UserDevice(r.Context(), p.User.Org, p.User.ID, r.PathValue("id"))
	if err != nil {
		s.webFailure(w, "portal", err)
		return
	}
	rep, err := s.sdk.Report(r.Context(), d)
	if err != nil {
		s.webFailure(w, "portal", err)
		return
	}
	actions, err := s.sdk.Commands(r.Context(), d)
	if err != nil {
		s.webFailure(w, "portal", err)
		return
	}
	sum, err := s.sdk.Summary(r.Context(), d)
	if err != nil {
		s.webFailure(w, "portal", err)
		return
	}
	offered, err := s.offered(r, d)
	if err != nil {
		s.webFailure(w, "portal", err)
		return
	}
	s.render(w, http.StatusOK, "report", page{Title: "What your organization can see", Nav: "portal",
		CSRF: s.csrfToken(csrfSession, token), Data: reportData{Device: sum, Report: rep, Actions: actions, Offered: offered}})
}

// offered are the device actions that apply to d now.
func (s *server) offered(r *http.Request, d inventory.Device) (map[string]bool, error) {
	choices, err := s.sdk.DeviceActions(r.Context(), d)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, c := range choices {
		out[string(c.Action)] = c.Allowed
	}
	return out, nil
}

func (s *server) portalDeprovisionPost(w http.ResponseWriter, r *http.Request) {
	p, token, ok := s.webPrincipal(w, r)
	if !ok || !s.parseForm(w, r, csrfSession, token) {
		return
	}
	if r.PostFormValue("confirm") != "on" {
		s.renderMessage(w, http.StatusBadRequest, "portal", message{Heading: "Not confirmed",
			Text: "Removing the work data takes your organization's apps and their data off the device. Tick the box to confirm that you want it.",
			Link: "/portal/devices/" + r.PathValue("id"), LinkText: "Back to the device"})
		return
	}
	d, err := s.sdk.UserDevice(r.Context(), p.User.Org, p.User.ID, r.PathValue("id"))
	if err == nil {
		err = s.sdk.Act(r.Context(), d, omm.ActionDeprovision, "user:"+p.User.ID)
	}
	if err != nil {
		s.webFailure(w, "portal", err)
		return
	}
	s.renderMessage(w, http.StatusOK, "portal", message{Heading: "Removal requested",
		Text: "Your organization's apps, profiles and data will be removed from the device the next time it connects. Your personal data stays untouched.",
		Link: "/portal", LinkText: "Back to your devices"})
}

// portalErasePost factory resets the user's own device, where the policy
// and the device's ownership and enrollment type allow it (s.erase checks
// again: the page's button is only a convenience).
func (s *server) portalErasePost(w http.ResponseWriter, r *http.Request) {
	p, token, ok := s.webPrincipal(w, r)
	if !ok || !s.parseForm(w, r, csrfSession, token) {
		return
	}
	if r.PostFormValue("confirm") != "on" {
		s.renderMessage(w, http.StatusBadRequest, "portal", message{Heading: "Not confirmed",
			Text: "A factory reset erases everything on the device. Tick the box to confirm that you want it.",
			Link: "/portal/devices/" + r.PathValue("id"), LinkText: "Back to the device"})
		return
	}
	d, err := s.sdk.UserDevice(r.Context(), p.User.Org, p.User.ID, r.PathValue("id"))
	if err == nil {
		err = s.sdk.Act(r.Context(), d, omm.ActionErase, "user:"+p.User.ID)
	}
	if err != nil {
		s.webFailure(w, "portal", err)
		return
	}
	s.renderMessage(w, http.StatusOK, "portal", message{Heading: "Factory reset requested",
		Text: "The device will erase all its data the next time it connects. Until then the reset shows as pending.",
		Link: "/portal/devices/" + d.ID, LinkText: "Back to the device"})
}

// webFailure answers a failed portal or console action with a page that
// says what happened, never with internals.
func (s *server) webFailure(w http.ResponseWriter, nav string, err error) {
	status, _, msg := omm.HTTPStatus(err)
	link := "/portal"
	if nav == "admin" {
		link = "/admin/devices"
	}
	switch {
	case errors.Is(err, catalog.ErrNotManaged):
		msg = "The device is not under management, so nothing can be installed on it or removed from it."
	case status == http.StatusNotFound:
		msg = "There is no such device, or it is not yours to see."
	case status == http.StatusInternalServerError:
		msg = "Something went wrong on our side. Please try again later."
	}
	s.renderMessage(w, status, nav, message{Heading: http.StatusText(status), Text: msg, Link: link, LinkText: "Back"})
}
