package main

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/openomm/omm"
	"github.com/openomm/omm/auth"
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
	mux.HandleFunc("GET /signin/pin", s.pinPage)
	mux.HandleFunc("POST /signin/pin", s.pinPost)
	mux.HandleFunc("POST /signout", s.signOutPost)
	mux.HandleFunc("GET /portal", s.portalPage)
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
	client := auth.Client{Source: remoteHost(r), PreviousToken: cookieValue(r, sessionCookie)}
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

type mfaForm struct{ Enroll bool }

func (s *server) mfaPage(w http.ResponseWriter, r *http.Request) {
	token, st, ok := s.flowSession(w, r)
	if !ok {
		return
	}
	if !errors.Is(st.Need, auth.ErrMFARequired) {
		http.Redirect(w, r, "/portal", http.StatusSeeOther)
		return
	}
	s.renderMFA(w, r, token, http.StatusOK, "")
}

func (s *server) renderMFA(w http.ResponseWriter, r *http.Request, token string, status int, msg string) {
	methods, err := s.sdk.Auth.Methods(r.Context(), token)
	if err != nil {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	form := mfaForm{}
	for _, m := range methods {
		if m == auth.MethodTOTPEnroll {
			form.Enroll = true
		}
	}
	s.render(w, status, "mfa", page{Title: "Verify it's you", CSRF: s.csrfToken(csrfSession, token), Error: msg, Data: form})
}

func (s *server) mfaPost(w http.ResponseWriter, r *http.Request) {
	token := cookieValue(r, sessionCookie)
	if !s.parseForm(w, r, csrfSession, token) {
		return
	}
	sess, err := s.sdk.Auth.VerifyMFA(r.Context(), token, auth.MethodTOTP, strings.TrimSpace(r.PostFormValue("code")))
	if err != nil {
		status, msg := signInError(err)
		if status == 0 {
			http.Redirect(w, r, nextStep(err), http.StatusSeeOther)
			return
		}
		s.renderMFA(w, r, token, status, msg)
		return
	}
	keepToken(w, sess)
	http.Redirect(w, r, "/signin/pin", http.StatusSeeOther)
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
	Devices []inventory.Device
	Facts   omm.Facts
}

func (s *server) portalPage(w http.ResponseWriter, r *http.Request) {
	p, token, ok := s.webPrincipal(w, r)
	if !ok {
		return
	}
	s.renderPortal(w, r, p, token, http.StatusOK, "", omm.Facts{Platform: string(policy.IOS)})
}

func (s *server) renderPortal(w http.ResponseWriter, r *http.Request, p auth.Principal, token string, status int, msg string, f omm.Facts) {
	devices, err := s.sdk.UserDevices(r.Context(), p.User.Org, p.User.ID)
	if err != nil {
		s.webFailure(w, "portal", err)
		return
	}
	s.render(w, status, "portal", page{Title: "Your devices", Nav: "portal", CSRF: s.csrfToken(csrfSession, token), Error: msg,
		Data: portalData{User: p.User, Devices: devices, Facts: f}})
}

// formFacts reads device facts from the eligibility form.
func formFacts(r *http.Request) (omm.Facts, error) {
	f := omm.Facts{
		Platform: r.PostFormValue("platform"), OSVersion: strings.TrimSpace(r.PostFormValue("os_version")),
		Model: strings.TrimSpace(r.PostFormValue("model")), Manufacturer: strings.TrimSpace(r.PostFormValue("manufacturer")),
		Ownership: r.PostFormValue("ownership"), Compromised: r.PostFormValue("compromised") == "on",
		WorkProfile: r.PostFormValue("work_profile") == "on", Knox: r.PostFormValue("knox") == "on",
	}
	if v := strings.TrimSpace(r.PostFormValue("api_level")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return f, errors.New("the Android API level must be a number, such as 34")
		}
		f.APILevel = n
	}
	return f, nil
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

func (s *server) eligibilityPost(w http.ResponseWriter, r *http.Request) {
	p, token, ok := s.webPrincipal(w, r)
	if !ok || !s.parseForm(w, r, csrfSession, token) {
		return
	}
	f, err := formFacts(r)
	if err != nil {
		s.renderPortal(w, r, p, token, http.StatusBadRequest, err.Error(), f)
		return
	}
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
		Data: decisionData{Decision: s.sdk.ViewDecision(r.Context(), p.User.Org, dec), Facts: f,
			CanEnroll:        dec.Outcome == policy.Enroll && (dec.Platform == policy.IOS || dec.Platform == policy.MacOS),
			CanEnrollAndroid: dec.Outcome == policy.Enroll && dec.Platform == policy.Android}})
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
	f, err := formFacts(r)
	if err != nil {
		s.renderPortal(w, r, p, token, http.StatusBadRequest, err.Error(), f)
		return
	}
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
	Device inventory.Device
	Report inventory.Report
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
	s.render(w, http.StatusOK, "report", page{Title: "What your organization can see", Nav: "portal",
		CSRF: s.csrfToken(csrfSession, token), Data: reportData{Device: d, Report: rep, Actions: actions}})
}

func (s *server) portalDeprovisionPost(w http.ResponseWriter, r *http.Request) {
	p, token, ok := s.webPrincipal(w, r)
	if !ok || !s.parseForm(w, r, csrfSession, token) {
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
	switch status {
	case http.StatusNotFound:
		msg = "There is no such device, or it is not yours to see."
	case http.StatusInternalServerError:
		msg = "Something went wrong on our side. Please try again later."
	}
	s.renderMessage(w, status, nav, message{Heading: http.StatusText(status), Text: msg, Link: link, LinkText: "Back"})
}
