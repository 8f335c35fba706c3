package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/openomm/omm"
	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// The admin console: the admin API's views for people. Signing in with the
// admin token starts a console session (consoleSessions) whose ID, not the
// token, is kept in an HttpOnly cookie; the form tokens are bound to the
// session. The token can be rotated from the console.

func (s *server) consoleRoutes(mux *router) {
	mux.HandleFunc("GET /admin", s.consoleSignInPage)
	mux.HandleFunc("POST /admin/signin", s.consoleSignInPost)
	mux.HandleFunc("POST /admin/signout", s.consoleSignOutPost)
	mux.HandleFunc("GET /admin/token", s.consoleTokenPage)
	mux.HandleFunc("POST /admin/token/rotate", s.consoleTokenRotate)
	mux.HandleFunc("GET /admin/devices", s.consoleDevices)
	mux.HandleFunc("GET /admin/devices/{id}", s.consoleDevice)
	mux.HandleFunc("POST /admin/devices/{id}/{action}", s.consoleDeviceAction)
	mux.HandleFunc("GET /admin/users", s.consoleUsers)
	mux.HandleFunc("POST /admin/users/{id}/deactivate", s.consoleDeactivate)
	mux.HandleFunc("GET /admin/policies", s.consolePolicies)
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
	if _, err := s.store.AppendAudit(r.Context(), storage.AuditEntry{Org: s.admin.Org, Time: s.now(), Actor: adminActor,
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

type consoleDevice struct {
	Device inventory.Device
	// User is the owner's username; Model and OS are the inventory values
	// the list shows.
	User, Model, OS string
}

type consoleDevicesData struct {
	Devices []consoleDevice
	Next    string
}

func (s *server) consoleDevices(w http.ResponseWriter, r *http.Request) {
	org, token, ok := s.consoleAdmin(w, r)
	if !ok {
		return
	}
	after := r.URL.Query().Get("after")
	if len(after) > inventory.MaxDeviceIDLen {
		after = ""
	}
	page1, err := s.store.ListDevices(r.Context(), org, inventory.DeviceQuery{After: after})
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	data := consoleDevicesData{Next: page1.Next}
	users := map[string]string{} // ID → username, looked up once per page
	for _, d := range page1.Devices {
		name, seen := users[d.UserID]
		if !seen && d.UserID != "" {
			u, err := s.dir.User(r.Context(), org, d.UserID)
			switch {
			case err == nil:
				name = u.Username
			case !errors.Is(err, storage.ErrNotFound): // a removed user shows as their ID
				s.webFailure(w, "admin", err)
				return
			}
			users[d.UserID] = name
		}
		vals, err := s.store.DeviceValues(r.Context(), org, d.ID)
		if err != nil {
			s.webFailure(w, "admin", err)
			return
		}
		m := map[inventory.Key]string{}
		for _, v := range vals {
			m[v.Key] = v.Value
		}
		data.Devices = append(data.Devices, consoleDevice{Device: d, User: orDefault(name, d.UserID), Model: m[inventory.KeyModelName], OS: m[inventory.KeyOSVersion]})
	}
	s.render(w, http.StatusOK, "admin_devices", page{Title: "Devices", Nav: "admin", CSRF: s.csrfToken(csrfAdmin, token), Data: data})
}

type consoleDeviceData struct {
	Device  inventory.Device
	User    string // the owner's username, or ID when unknown
	Values  []inventory.Value
	Apps    []inventory.App
	Actions []omm.DeviceCommand
	Notice  string
	Buttons []actionButton
	// NoErase says why a factory reset is not offered; empty when it is.
	NoErase string
	// Policy is what the device last got from its policy; nil before the
	// first re-application.
	Policy *omm.Compliance
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
	Action, Label string
	Danger        bool
}

var consoleButtons = []actionButton{
	{"refresh", "Refresh inventory", false},
	{"lock", "Lock", false},
	{"deprovision", "Deprovision (remove work data)", true},
	{"erase", "Erase (factory reset)", true},
}

func (s *server) consoleDevice(w http.ResponseWriter, r *http.Request) {
	org, token, ok := s.consoleAdmin(w, r)
	if !ok {
		return
	}
	d, err := s.sdk.OrgDevice(r.Context(), org, r.PathValue("id"))
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	vals, err := s.store.DeviceValues(r.Context(), org, d.ID)
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	apps, err := s.store.DeviceApps(r.Context(), org, d.ID)
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	actions, err := s.sdk.Commands(r.Context(), d)
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	notice := ""
	if r.URL.Query().Get("queued") != "" {
		notice = "The action was queued. The device carries it out the next time it connects; until then it shows as pending."
	}
	data := consoleDeviceData{Device: d, User: d.UserID, Values: vals, Apps: apps, Actions: actions, Notice: notice}
	if u, err := s.dir.User(r.Context(), org, d.UserID); err == nil {
		data.User = u.Username
	}
	if data.Policy, err = s.sdk.Compliance(r.Context(), d); err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	// Offer a factory reset only where it would be carried out (the
	// action checks again).
	wipe, err := s.sdk.FullWipeAllowed(r.Context(), d)
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	switch {
	case !d.FactoryResetPermitted():
		data.NoErase = "A factory reset is not possible: the device is personally owned or enrolled with a work profile or User Enrollment. Deprovisioning removes the work data."
	case !wipe:
		data.NoErase = "A factory reset is not possible: the policy of the device's user does not allow it."
	}
	for _, b := range consoleButtons {
		if b.Action != "erase" || data.NoErase == "" {
			data.Buttons = append(data.Buttons, b)
		}
	}
	s.render(w, http.StatusOK, "admin_device", page{Title: "Device " + d.ID, Nav: "admin", CSRF: s.csrfToken(csrfAdmin, token), Data: data})
}

func (s *server) consoleDeviceAction(w http.ResponseWriter, r *http.Request) {
	org, token, ok := s.consoleAdmin(w, r)
	if !ok || !s.parseForm(w, r, csrfAdmin, token) {
		return
	}
	action := omm.Action(r.PathValue("action"))
	if !slices.Contains(omm.Actions(), action) {
		s.renderMessage(w, http.StatusNotFound, "admin", message{Heading: "Unknown action", Text: "There is no such device action.",
			Link: "/admin/devices", LinkText: "Back to devices"})
		return
	}
	id := r.PathValue("id")
	if err := s.sdk.DeviceAction(r.Context(), org, id, action, adminActor); err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	http.Redirect(w, r, "/admin/devices/"+url.PathEscape(id)+"?queued=1", http.StatusSeeOther)
}

// consoleUser is a row of the users page.
type consoleUser struct {
	User auth.User
	// Devices counts the user's devices still under management.
	Devices int
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
		devices, err := s.sdk.UserDevices(r.Context(), org, u.ID)
		if err != nil {
			s.webFailure(w, "admin", err)
			return
		}
		rows[i] = consoleUser{User: u}
		for _, d := range devices {
			if !d.State.Terminal() {
				rows[i].Devices++
			}
		}
	}
	s.render(w, http.StatusOK, "admin_users", page{Title: "Users", Nav: "admin", CSRF: s.csrfToken(csrfAdmin, token), Data: rows})
}

func (s *server) consoleDeactivate(w http.ResponseWriter, r *http.Request) {
	org, token, ok := s.consoleAdmin(w, r)
	if !ok || !s.parseForm(w, r, csrfAdmin, token) {
		return
	}
	done, err := s.sdk.DeactivateUser(r.Context(), org, r.PathValue("id"), adminActor)
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

func (s *server) consolePolicies(w http.ResponseWriter, r *http.Request) {
	org, token, ok := s.consoleAdmin(w, r)
	if !ok {
		return
	}
	list, err := s.sdk.Policy.List(r.Context(), org)
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	groups, err := s.dir.ListGroups(r.Context(), org)
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	names := map[string]string{}
	for _, g := range groups {
		names[g.ID] = g.Name
	}
	type row struct {
		Policy policy.Policy
		Groups []string
		Rules  []string
	}
	var rows []row
	for _, p := range list {
		rw := row{Policy: p}
		for _, g := range p.Groups {
			rw.Groups = append(rw.Groups, orDefault(names[g], g))
		}
		for _, pl := range policy.Platforms() {
			if rule, ok := p.Rules[pl]; ok {
				rw.Rules = append(rw.Rules, pl.String()+": "+string(rule.Action)+requirementsSummary(rule))
			}
		}
		rows = append(rows, rw)
	}
	s.render(w, http.StatusOK, "admin_policies", page{Title: "Policies", Nav: "admin", CSRF: s.csrfToken(csrfAdmin, token), Data: rows})
}

type consoleAuditData struct {
	Entries []storage.AuditEntry
	Next    int64
}

func (s *server) consoleAudit(w http.ResponseWriter, r *http.Request) {
	org, token, ok := s.consoleAdmin(w, r)
	if !ok {
		return
	}
	after, err := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	if err != nil || after < 0 {
		after = 0
	}
	pg, err := s.store.ListAudit(r.Context(), org, storage.AuditQuery{After: after, Limit: 100})
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	s.render(w, http.StatusOK, "admin_audit", page{Title: "Audit log", Nav: "admin", CSRF: s.csrfToken(csrfAdmin, token),
		Data: consoleAuditData{Entries: pg.Entries, Next: pg.Next}})
}

// requirementsSummary says in a few words what a rule asks of a device.
func requirementsSummary(rule policy.Rule) string {
	if rule.Action == policy.Deny {
		return ""
	}
	req := rule.Requirements
	var parts []string
	if req.Passcode.Required {
		parts = append(parts, fmt.Sprintf("passcode of %d+", req.Passcode.MinLength))
	}
	if req.Encryption {
		parts = append(parts, "encryption")
	}
	if req.MinOSVersion != "" {
		parts = append(parts, "OS "+req.MinOSVersion+"+")
	}
	if req.RefuseCompromised {
		parts = append(parts, "no jailbreak or root")
	}
	if ds := req.DataSeparation; ds.BlockManagedToUnmanaged || ds.BlockUnmanagedToManaged || ds.BlockWorkToPersonal {
		parts = append(parts, "work data kept apart")
	}
	if req.AllowFullWipe {
		parts = append(parts, "factory reset allowed")
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
