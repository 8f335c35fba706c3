package main

import (
	"net/http"
	"strings"

	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// The admin console: the admin API's views for people. It signs in with
// the admin token, kept in an HttpOnly cookie.

func (s *server) consoleRoutes(mux *router) {
	mux.HandleFunc("GET /admin", s.consoleSignInPage)
	mux.HandleFunc("POST /admin/signin", s.consoleSignInPost)
	mux.HandleFunc("POST /admin/signout", s.consoleSignOutPost)
	mux.HandleFunc("GET /admin/devices", s.consoleDevices)
	mux.HandleFunc("GET /admin/devices/{id}", s.consoleDevice)
	mux.HandleFunc("POST /admin/devices/{id}/{action}", s.consoleDeviceAction)
	mux.HandleFunc("GET /admin/policies", s.consolePolicies)
	mux.HandleFunc("GET /admin/audit", s.consoleAudit)
}

// consoleAdmin returns the admin token of the browser, or redirects to the
// console's sign-in.
func (s *server) consoleAdmin(w http.ResponseWriter, r *http.Request) (storage.OrgID, string, bool) {
	token := cookieValue(r, adminCookie)
	if token == "" || !s.admin.check(token) {
		http.Redirect(w, r, "/admin", http.StatusSeeOther)
		return "", "", false
	}
	return s.admin.Org, token, true
}

func (s *server) consoleSignInPage(w http.ResponseWriter, r *http.Request) {
	if token := cookieValue(r, adminCookie); token != "" && s.admin.check(token) {
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
			Error: "That is not the admin token. It was printed when the server first started."})
		return
	}
	setCookie(w, adminCookie, token, 0)
	http.Redirect(w, r, "/admin/devices", http.StatusSeeOther)
}

func (s *server) consoleSignOutPost(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r, csrfAdmin, cookieValue(r, adminCookie)) {
		return
	}
	clearCookie(w, adminCookie)
	http.Redirect(w, r, "/admin", http.StatusSeeOther)
}

type consoleDevice struct {
	Device inventory.Device
	// Model and OS are the inventory values the list shows.
	Model, OS string
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
	for _, d := range page1.Devices {
		vals, err := s.store.DeviceValues(r.Context(), org, d.ID)
		if err != nil {
			s.webFailure(w, "admin", err)
			return
		}
		m := valueMap(vals)
		data.Devices = append(data.Devices, consoleDevice{Device: d, Model: m[inventory.KeyModelName], OS: m[inventory.KeyOSVersion]})
	}
	s.render(w, http.StatusOK, "admin_devices", page{Title: "Devices", Nav: "admin", CSRF: s.csrfToken(csrfAdmin, token), Data: data})
}

type consoleDeviceData struct {
	Device  inventory.Device
	Values  []inventory.Value
	Apps    []inventory.App
	Actions []actionView
	Notice  string
	Buttons []actionButton
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
	{"erase", "Erase (factory reset, where allowed)", true},
}

func (s *server) consoleDevice(w http.ResponseWriter, r *http.Request) {
	org, token, ok := s.consoleAdmin(w, r)
	if !ok {
		return
	}
	d, err := s.orgDevice(r.Context(), org, r.PathValue("id"))
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
	actions, err := s.deviceActions(r.Context(), d)
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	notice := ""
	if r.URL.Query().Get("queued") != "" {
		notice = "The action was queued. The device carries it out the next time it connects; until then it shows as pending."
	}
	s.render(w, http.StatusOK, "admin_device", page{Title: "Device " + d.ID, Nav: "admin", CSRF: s.csrfToken(csrfAdmin, token),
		Data: consoleDeviceData{Device: d, Values: vals, Apps: apps, Actions: actions, Notice: notice, Buttons: consoleButtons}})
}

func (s *server) consoleDeviceAction(w http.ResponseWriter, r *http.Request) {
	org, token, ok := s.consoleAdmin(w, r)
	if !ok || !s.parseForm(w, r, csrfAdmin, token) {
		return
	}
	act, known := s.adminActions()[r.PathValue("action")]
	if !known {
		s.renderMessage(w, http.StatusNotFound, "admin", message{Heading: "Unknown action", Text: "There is no such device action.",
			Link: "/admin/devices", LinkText: "Back to devices"})
		return
	}
	d, err := s.orgDevice(r.Context(), org, r.PathValue("id"))
	if err == nil {
		err = act(r.Context(), d, adminActor)
	}
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	http.Redirect(w, r, "/admin/devices/"+d.ID+"?queued=1", http.StatusSeeOther)
}

func (s *server) consolePolicies(w http.ResponseWriter, r *http.Request) {
	org, token, ok := s.consoleAdmin(w, r)
	if !ok {
		return
	}
	list, err := s.policy.List(r.Context(), org)
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
				rw.Rules = append(rw.Rules, pl.String()+": "+string(rule.Action))
			}
		}
		rows = append(rows, rw)
	}
	s.render(w, http.StatusOK, "admin_policies", page{Title: "Policies", Nav: "admin", CSRF: s.csrfToken(csrfAdmin, token), Data: rows})
}

type consoleAuditData struct {
	Entries []auditView
	Next    int64
}

func (s *server) consoleAudit(w http.ResponseWriter, r *http.Request) {
	org, token, ok := s.consoleAdmin(w, r)
	if !ok {
		return
	}
	after, err := queryInt(r, "after")
	if err != nil || after < 0 {
		after = 0
	}
	pg, err := s.store.ListAudit(r.Context(), org, storage.AuditQuery{After: after, Limit: 100})
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	s.render(w, http.StatusOK, "admin_audit", page{Title: "Audit log", Nav: "admin", CSRF: s.csrfToken(csrfAdmin, token),
		Data: consoleAuditData{Entries: viewAudit(pg.Entries), Next: pg.Next}})
}
