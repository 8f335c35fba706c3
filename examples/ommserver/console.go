package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/openomm/omm"
	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/enroll/declarative"
	"github.com/openomm/omm/events"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

// The admin console: the admin API's views for people. Signing in with the
// admin token starts a console session (consoleSessions) whose ID, not the
// token, is kept in an HttpOnly cookie; the form tokens are bound to the
// session. The token can be rotated from the console.
// Every change is audited with the console's actor (consoleActor);
// destructive ones (erase, remove work data, deactivate, reset MFA,
// delete a policy) first show what they do and ask for confirmation, and
// a rotation of the admin token asks for the current token again.

func (s *server) consoleRoutes(mux *router) {
	mux.HandleFunc("GET /admin", s.consoleSignInPage)
	mux.HandleFunc("POST /admin/signin", s.consoleSignInPost)
	mux.HandleFunc("POST /admin/signout", s.consoleSignOutPost)
	mux.HandleFunc("GET /admin/token", s.consoleTokenPage)
	mux.HandleFunc("POST /admin/token/rotate", s.consoleTokenRotate)
	mux.HandleFunc("GET /admin/credentials", s.consoleCredentials)
	mux.HandleFunc("GET /admin/devices", s.consoleDevices)
	mux.HandleFunc("GET /admin/devices/{id}", s.consoleDevice)
	mux.HandleFunc("POST /admin/devices/{id}/{action}", s.consoleDeviceAction)
	mux.HandleFunc("GET /admin/users", s.consoleUsers)
	mux.HandleFunc("POST /admin/users/{id}/deactivate", s.consoleDeactivate)
	mux.HandleFunc("POST /admin/users/{id}/mfa/reset", s.consoleResetMFA)
	mux.HandleFunc("GET /admin/groups", s.consoleGroups)
	mux.HandleFunc("POST /admin/groups", s.consoleGroupCreate)
	mux.HandleFunc("POST /admin/groups/{id}/members", s.consoleMemberAdd)
	mux.HandleFunc("POST /admin/groups/{id}/members/{user}/remove", s.consoleMemberRemove)
	mux.HandleFunc("GET /admin/policies", s.consolePolicies)
	mux.HandleFunc("GET /admin/policies/new", s.consolePolicyNew)
	mux.HandleFunc("POST /admin/policies", s.consolePolicyCreate)
	mux.HandleFunc("GET /admin/policies/{id}", s.consolePolicyEdit)
	mux.HandleFunc("POST /admin/policies/{id}", s.consolePolicyUpdate)
	mux.HandleFunc("POST /admin/policies/{id}/delete", s.consolePolicyDelete)
	mux.HandleFunc("POST /admin/signon", s.consoleSignOn)
	mux.HandleFunc("GET /admin/apps", s.consoleAppsPage)
	mux.HandleFunc("POST /admin/apps", s.consoleAppCreate)
	mux.HandleFunc("POST /admin/apps/{id}/assignments", s.consoleAppAssign)
	mux.HandleFunc("POST /admin/apps/{id}/unassign", s.consoleAppUnassign)
	mux.HandleFunc("GET /admin/audit", s.consoleAudit)
}

// consoleAdmin returns the org of the browser's console session and the
// session's binding for form tokens, or redirects to the console's
// sign-in.
func (s *server) consoleAdmin(w http.ResponseWriter, r *http.Request) (storage.OrgID, string, bool) {
	session := cookieValue(r, adminCookie)
	if !s.console.valid(session) {
		http.Redirect(w, r, "/admin", http.StatusSeeOther)
		return "", "", false
	}
	return s.admin.Org, session, true
}

// consolePost authenticates a console form post and reads it; on failure
// it has answered.
func (s *server) consolePost(w http.ResponseWriter, r *http.Request) (storage.OrgID, string, bool) {
	org, token, ok := s.consoleAdmin(w, r)
	if !ok || !s.parseForm(w, r, csrfAdmin, token) {
		return "", "", false
	}
	return org, token, true
}

func (s *server) consoleSignInPage(w http.ResponseWriter, r *http.Request) {
	if s.console.valid(cookieValue(r, adminCookie)) {
		http.Redirect(w, r, "/admin/devices", http.StatusSeeOther)
		return
	}
	pre := preSession(w, r)
	s.render(w, http.StatusOK, "admin_signin", page{Title: "Admin console", CSRF: s.csrfToken(csrfPre, pre)})
}

func (s *server) consoleSignInPost(w http.ResponseWriter, r *http.Request) {
	pre := cookieValue(r, preCookie)
	if !s.parseForm(w, r, csrfPre, pre) {
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	if !s.admin.check(token) {
		s.render(w, http.StatusUnauthorized, "admin_signin", page{Title: "Admin console", CSRF: s.csrfToken(csrfPre, pre),
			Error: "That is not the admin token. It was printed when the server first started (or when it was last rotated)."})
		return
	}
	if old := cookieValue(r, adminCookie); old != "" {
		s.console.end(old) // a new sign-in, a new session
	}
	setCookie(w, adminCookie, s.console.start(), 0)
	http.Redirect(w, r, "/admin/devices", http.StatusSeeOther)
}

func (s *server) consoleSignOutPost(w http.ResponseWriter, r *http.Request) {
	session := cookieValue(r, adminCookie)
	if !s.parseForm(w, r, csrfAdmin, session) {
		return
	}
	s.console.end(session)
	clearCookie(w, adminCookie)
	http.Redirect(w, r, "/admin", http.StatusSeeOther)
}

// consoleTokenPage offers to rotate the admin token.
func (s *server) consoleTokenPage(w http.ResponseWriter, r *http.Request) {
	_, session, ok := s.consoleAdmin(w, r)
	if !ok {
		return
	}
	s.render(w, http.StatusOK, "admin_token", page{Title: "Admin token", Nav: "admin", CSRF: s.csrfToken(csrfAdmin, session)})
}

// credentialsData is the certificates page: the deployment's
// certificates and the devices whose identity renewal is not done.
type credentialsData struct {
	Credentials []omm.Credential
	Renewals    []omm.IdentityRenewal
	Window      string
}

func (s *server) consoleCredentials(w http.ResponseWriter, r *http.Request) {
	org, _, ok := s.consoleAdmin(w, r)
	if !ok {
		return
	}
	renewals, err := s.sdk.IdentityRenewals(r.Context(), org, 0)
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	s.render(w, http.StatusOK, "admin_credentials", page{Title: "Certificates", Nav: "admin",
		Data: credentialsData{Credentials: s.sdk.Credentials(), Renewals: renewals, Window: s.sdk.RenewalWindow().String()}})
}

// consoleTokenRotate replaces the admin token, after the current one is
// typed again: the new token is shown once, the old one stops working for
// the API at once, and every console session ends.
func (s *server) consoleTokenRotate(w http.ResponseWriter, r *http.Request) {
	_, session, ok := s.consoleAdmin(w, r)
	if !ok || !s.parseForm(w, r, csrfAdmin, session) {
		return
	}
	if !s.admin.check(strings.TrimSpace(r.PostFormValue("token"))) {
		s.render(w, http.StatusUnauthorized, "admin_token", page{Title: "Admin token", Nav: "admin", CSRF: s.csrfToken(csrfAdmin, session),
			Error: "That is not the current admin token."})
		return
	}
	token, err := s.admin.rotate(s.now())
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	s.console.endAll()
	clearCookie(w, adminCookie)
	s.log.Warn("admin token rotated from the console; the old token no longer works and every console session ended")
	if _, err := s.store.AppendAudit(r.Context(), storage.AuditEntry{Org: s.admin.Org, Time: s.now(), Actor: consoleAdminActor,
		Action: actionAdminTokenRotate, Target: "org:" + string(s.admin.Org)}); err != nil {
		s.log.Error("audit of the admin token rotation failed", "err", err)
	}
	w.Header().Set("Cache-Control", "no-store")
	s.renderMessage(w, http.StatusOK, "", message{Heading: "New admin token",
		Text: "Keep it now: it is shown only this once, and only its hash is stored. The old token no longer works, " +
			"and every console session has ended. New token: " + token, Link: "/admin", LinkText: "Sign in again"})
}

// actionAdminTokenRotate is the audit action of a rotation of the admin
// token.
const actionAdminTokenRotate = "admin.token.rotate"

// confirmation is a page that says what a destructive action does and
// asks for it again, with a box to tick.
type confirmation struct {
	Heading, Text, Action, Button, Check, Back string
	// Fields are the form's values to post again with the confirmation.
	Fields map[string]string
}

func (s *server) confirm(w http.ResponseWriter, token string, c confirmation) {
	s.render(w, http.StatusOK, "admin_confirm", page{Title: c.Heading, Nav: "admin", CSRF: s.csrfToken(csrfAdmin, token), Data: c})
}

// confirmed reports whether the form carries the confirmation box.
func confirmed(r *http.Request) bool { return r.PostFormValue("confirm") == "on" }

type consoleDevicesData struct {
	Devices []omm.DeviceSummary
	Next    string
	// User is the user the list is narrowed to (?user=), by name.
	User, UserID string
}

func (s *server) consoleDevices(w http.ResponseWriter, r *http.Request) {
	org, token, ok := s.consoleAdmin(w, r)
	if !ok {
		return
	}
	q := inventory.DeviceQuery{After: r.URL.Query().Get("after"), UserID: r.URL.Query().Get("user")}
	if len(q.After) > inventory.MaxDeviceIDLen || len(q.UserID) > auth.MaxIDLen {
		q = inventory.DeviceQuery{}
	}
	pg, err := s.sdk.Devices(r.Context(), org, q)
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	data := consoleDevicesData{Devices: pg.Devices, Next: pg.Next, UserID: q.UserID}
	if q.UserID != "" {
		names, err := s.sdk.Names(r.Context(), org, "user:"+q.UserID)
		if err != nil {
			s.webFailure(w, "admin", err)
			return
		}
		data.User = orDefault(names["user:"+q.UserID], q.UserID)
	}
	s.render(w, http.StatusOK, "admin_devices", page{Title: "Devices", Nav: "admin", CSRF: s.csrfToken(csrfAdmin, token), Data: data})
}

type consoleDeviceData struct {
	omm.DeviceDetail
	Notice string
	// Offered are the actions that apply to the device now, Refused the
	// others with why (omm.SDK.DeviceActions).
	Offered []actionButton
	Refused []omm.ActionChoice
	// Events are the device's newest events, newest first.
	Events []events.Event
}

// ComplianceWords puts a declarative compliance state into words.
func (consoleDeviceData) ComplianceWords(s declarative.ComplianceState) string {
	switch s {
	case declarative.Compliant:
		return "Compliant"
	case declarative.Pending:
		return "Pending"
	case declarative.NotCompliant:
		return "Not compliant"
	}
	return string(s)
}

// Label is an inventory attribute's name in words.
func (consoleDeviceData) Label(k inventory.Key) string {
	if a, ok := inventory.AttributeFor(k); ok {
		return a.Label
	}
	return string(k)
}

// Show is a stored value in words, read by the device's OS (a bit mask
// decoded, a capacity in the unit the OS reports, a list as its entries).
func (d consoleDeviceData) Show(v inventory.Value) inventory.Display {
	return inventory.DisplayValue(v, inventory.OSOf(d.Device, d.Values))
}

// actionButton is one device action the console offers.
type actionButton struct {
	Action omm.Action
	Label  string
	// Danger: destructive; the console asks for confirmation first.
	Danger bool
	// Warning is what the confirmation page says the action does.
	Warning string
}

// consoleEvents is how many of a device's events its page shows.
const consoleEvents = 20

var consoleButtons = []actionButton{
	{omm.ActionRefresh, "Refresh inventory", false, ""},
	{omm.ActionLock, "Lock", false, ""},
	{omm.ActionDeprovision, "Remove work data (deprovision)", true,
		"The organization's apps, profiles and data are removed from the device the next time it connects, and it is no longer managed. The user's personal data stays."},
	{omm.ActionErase, "Erase (factory reset)", true,
		"Everything on the device is erased the next time it connects: the organization's data and the user's own. This cannot be undone."},
}

func buttonFor(a omm.Action) actionButton {
	i := slices.IndexFunc(consoleButtons, func(b actionButton) bool { return b.Action == a })
	return consoleButtons[i] // every omm.Actions() action has one (TestConsoleButtons)
}

// ComplianceText says in words whether the device is in policy.
func (d consoleDeviceData) ComplianceText() string {
	c := d.Compliance
	if c == nil {
		return ""
	}
	name := orDefault(c.PolicyName, string(c.Policy))
	switch {
	case c.OutOfPolicy != "":
		return "Out of policy: " + c.OutOfPolicy
	case c.Refused != "":
		return fmt.Sprintf("Not in policy: the device refused the settings of policy %q (%s)", name, c.Refused)
	case c.Pending:
		return fmt.Sprintf("Pending: the device has not applied the settings of policy %q yet", name)
	}
	return fmt.Sprintf("In policy %q", name)
}

func (s *server) consoleDevice(w http.ResponseWriter, r *http.Request) {
	org, token, ok := s.consoleAdmin(w, r)
	if !ok {
		return
	}
	dd, err := s.sdk.Device(r.Context(), org, r.PathValue("id"))
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	data := consoleDeviceData{DeviceDetail: dd}
	if r.URL.Query().Get("queued") != "" {
		data.Notice = "The action was queued. The device carries it out the next time it connects; until then it shows as pending."
	}
	recent, err := s.sdk.Events(r.Context(), org, events.Query{Device: dd.ID, Newest: true, Limit: consoleEvents})
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	data.Events = recent.Events
	for _, c := range dd.Actions {
		if c.Allowed {
			data.Offered = append(data.Offered, buttonFor(c.Action))
		} else {
			data.Refused = append(data.Refused, c)
		}
	}
	s.render(w, http.StatusOK, "admin_device", page{Title: dd.Label(), Nav: "admin", CSRF: s.csrfToken(csrfAdmin, token), Data: data})
}

func (s *server) consoleDeviceAction(w http.ResponseWriter, r *http.Request) {
	org, token, ok := s.consolePost(w, r)
	if !ok {
		return
	}
	action := omm.Action(r.PathValue("action"))
	if !slices.Contains(omm.Actions(), action) {
		s.renderMessage(w, http.StatusNotFound, "admin", message{Heading: "Unknown action", Text: "There is no such device action.",
			Link: "/admin/devices", LinkText: "Back to devices"})
		return
	}
	id := r.PathValue("id")
	if b := buttonFor(action); b.Danger && !confirmed(r) {
		d, err := s.sdk.OrgDevice(r.Context(), org, id)
		if err != nil {
			s.webFailure(w, "admin", err)
			return
		}
		sum, err := s.sdk.Summary(r.Context(), d)
		if err != nil {
			s.webFailure(w, "admin", err)
			return
		}
		s.confirm(w, token, confirmation{Heading: b.Label + ": " + sum.Label() + "?", Text: b.Warning,
			Action: "/admin/devices/" + url.PathEscape(id) + "/" + string(action), Button: b.Label,
			Check: "I understand what this does to " + sum.Label() + " (" + orDefault(sum.User.Username, d.UserID) + ")",
			Back:  "/admin/devices/" + url.PathEscape(id)})
		return
	}
	if err := s.sdk.DeviceAction(r.Context(), org, id, action, s.consoleActor(r)); err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	http.Redirect(w, r, "/admin/devices/"+url.PathEscape(id)+"?queued=1", http.StatusSeeOther)
}

// consoleUser is a row of the users page.
type consoleUser struct {
	User   auth.User
	Groups []auth.Group
	// Devices counts the user's devices still under management.
	Devices int
	MFA     omm.MFAStatus
}

func (s *server) consoleUsers(w http.ResponseWriter, r *http.Request) {
	org, token, ok := s.consoleAdmin(w, r)
	if !ok {
		return
	}
	users, err := s.dir.ListUsers(r.Context(), org)
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	rows := make([]consoleUser, len(users))
	for i, u := range users {
		rows[i] = consoleUser{User: u}
		devices, err := s.sdk.UserDevices(r.Context(), org, u.ID)
		if err == nil {
			rows[i].Groups, err = s.dir.Groups(r.Context(), org, u.ID)
		}
		if err == nil {
			rows[i].MFA, err = s.sdk.MFA(r.Context(), org, u.ID)
		}
		if err != nil {
			s.webFailure(w, "admin", err)
			return
		}
		for _, d := range devices {
			if !d.State.Terminal() {
				rows[i].Devices++
			}
		}
	}
	s.render(w, http.StatusOK, "admin_users", page{Title: "Users", Nav: "admin", CSRF: s.csrfToken(csrfAdmin, token), Data: rows})
}

// consoleUserTarget is the user a users-page form names, by name.
func (s *server) consoleUserTarget(w http.ResponseWriter, r *http.Request, org storage.OrgID) (auth.User, bool) {
	u, err := s.dir.User(r.Context(), org, r.PathValue("id"))
	if err != nil {
		s.webFailure(w, "admin", err)
		return auth.User{}, false
	}
	return u, true
}

func (s *server) consoleDeactivate(w http.ResponseWriter, r *http.Request) {
	org, token, ok := s.consolePost(w, r)
	if !ok {
		return
	}
	u, ok := s.consoleUserTarget(w, r, org)
	if !ok {
		return
	}
	if !confirmed(r) {
		s.confirm(w, token, confirmation{Heading: "Deactivate " + u.Username + "?",
			Text:   "Their sessions end, every enrollment link, certificate and token they have not used is revoked, and the organization's data is removed from each of their devices (work data only: their personal data stays).",
			Action: "/admin/users/" + url.PathEscape(u.ID) + "/deactivate", Button: "Deactivate " + u.Username,
			Check: "I understand that " + u.DisplayName + " can no longer sign in", Back: "/admin/users"})
		return
	}
	done, err := s.sdk.DeactivateUser(r.Context(), org, u.ID, s.consoleActor(r))
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	text := fmt.Sprintf("%d device(s) are being deprovisioned: each removes the organization's apps and data the next time it connects. "+
		"%d unused enrollment credential(s) were revoked, and the user's sessions have ended.",
		done.Devices, done.EnrollSessions+done.Identities+done.AndroidTokens)
	if done.Manual > 0 {
		text += fmt.Sprintf(" %d fully managed device(s) cannot be reset under their policy: reset them by hand.", done.Manual)
	}
	s.renderMessage(w, http.StatusOK, "admin", message{Heading: "User deactivated", Text: text, Link: "/admin/users", LinkText: "Back to users"})
}

func (s *server) consoleResetMFA(w http.ResponseWriter, r *http.Request) {
	org, token, ok := s.consolePost(w, r)
	if !ok {
		return
	}
	u, ok := s.consoleUserTarget(w, r, org)
	if !ok {
		return
	}
	if !confirmed(r) {
		s.confirm(w, token, confirmation{Heading: "Reset " + u.Username + "'s authenticator app?",
			Text:   "For a user who lost the phone holding it. Their authenticator app stops working for this organization; where MFA is required, their next sign-in offers to set up a new one (or a code to the directory's phone number). Make sure it is really them who asks.",
			Action: "/admin/users/" + url.PathEscape(u.ID) + "/mfa/reset", Button: "Reset the authenticator app",
			Check: "I have checked that " + u.DisplayName + " asked for this", Back: "/admin/users"})
		return
	}
	err := s.sdk.ResetMFA(r.Context(), org, u.ID, s.consoleActor(r))
	if errors.Is(err, storage.ErrNotFound) {
		s.renderMessage(w, http.StatusConflict, "admin", message{Heading: "Nothing to reset", Text: u.Username + " has no authenticator app set up.",
			Link: "/admin/users", LinkText: "Back to users"})
		return
	}
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	s.renderMessage(w, http.StatusOK, "admin", message{Heading: "Authenticator app reset",
		Text: u.Username + "'s authenticator app was removed. Their next sign-in that requires MFA offers to set up a new one.",
		Link: "/admin/users", LinkText: "Back to users"})
}

// consoleAuditData is a page of the audit log, its filters and cursors.
type consoleAuditData struct {
	Entries []omm.AuditView
	// Filters as given; Users and Actions are the choices offered.
	Filter  url.Values
	Users   []auth.User
	Actions []auditFamily
	// Next is the address of the next page (older entries), "" on the
	// last.
	Next string
	// Newest is the address of the first page with the same filters, ""
	// when this is it.
	Newest string
}

// Who is the entry's actor in words.
func (consoleAuditData) Who(e omm.AuditView) string {
	if e.ActorName != "" {
		return e.ActorName
	}
	if w, ok := actorWords[e.Actor]; ok {
		return w
	}
	return e.Actor
}

// What is the entry's target in words.
func (consoleAuditData) What(e omm.AuditView) string {
	if e.TargetName == "" {
		return e.Target
	}
	kind, _, _ := strings.Cut(e.Target, ":")
	return kind + " " + e.TargetName
}

// auditFamily is an action family the filter offers.
type auditFamily struct{ Prefix, Label string }

var auditFamilies = []auditFamily{
	{"device.", "Devices: actions and state"},
	{"device.policy.", "Devices: policy applied"},
	{"android.", "Android channel"},
	{"enroll.", "Enrollment"},
	{"auth.signin.", "Sign-in"},
	{"auth.mfa.", "MFA"},
	{"auth.", "Users, groups and sessions"},
	{"policy.", "Policies"},
	{"catalog.", "App store"},
	{"http.", "Refused requests"},
}

// consoleAuditPage is the console's audit page size.
const consoleAuditPage = 50

func (s *server) consoleAudit(w http.ResponseWriter, r *http.Request) {
	org, token, ok := s.consoleAdmin(w, r)
	if !ok {
		return
	}
	filter := url.Values{}
	for _, k := range []string{"device", "user", "action", "since", "until"} {
		if v := strings.TrimSpace(r.URL.Query().Get(k)); v != "" {
			filter.Set(k, v)
		}
	}
	qv := url.Values{}
	for k, v := range filter {
		qv[k] = v
	}
	qv.Set("order", "newest")
	qv.Set("limit", fmt.Sprint(consoleAuditPage))
	if b := r.URL.Query().Get("before"); b != "" {
		qv.Set("before", b)
	}
	users, err := s.dir.ListUsers(r.Context(), org)
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	data := consoleAuditData{Filter: filter, Users: users, Actions: auditFamilies}
	q, err := omm.ParseAuditQuery(qv)
	if err != nil {
		_, _, msg := omm.HTTPStatus(err)
		s.render(w, http.StatusBadRequest, "admin_audit", page{Title: "Audit log", Nav: "admin", CSRF: s.csrfToken(csrfAdmin, token),
			Error: "Please check the filters: " + strings.TrimPrefix(msg, omm.ErrBadRequest.Error()+": "), Data: data})
		return
	}
	pg, err := s.sdk.Audit(r.Context(), org, q)
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	names, err := s.sdk.AuditNames(r.Context(), org, pg.Entries)
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	for _, e := range pg.Entries {
		data.Entries = append(data.Entries, omm.ViewAudit(e, names))
	}
	if pg.Next != 0 {
		next := url.Values{}
		for k, v := range filter {
			next[k] = v
		}
		next.Set("before", fmt.Sprint(pg.Next))
		data.Next = "/admin/audit?" + next.Encode()
	}
	if q.Before != 0 {
		data.Newest = "/admin/audit?" + filter.Encode()
	}
	s.render(w, http.StatusOK, "admin_audit", page{Title: "Audit log", Nav: "admin", CSRF: s.csrfToken(csrfAdmin, token), Data: data})
}
