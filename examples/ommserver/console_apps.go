package main

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/openomm/omm"
	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/storage"
)

// The console's app store page: the org's apps with their assignments to
// directory groups, a form to add an app and one to assign an app to a
// group. The same catalog service backs /api/admin/apps.

// appKinds are the kinds the add-app form offers, in words.
var appKinds = []struct {
	Kind  catalog.Kind
	Label string
}{
	{catalog.AppStore, "App Store app (iPhone, iPad)"},
	{catalog.InHouse, "In-house app (iPhone, iPad)"},
	{catalog.Play, "Managed Google Play app (Android)"},
}

// appModes are the distribution modes the assign form offers, in words.
var appModes = []struct {
	Mode  catalog.Mode
	Label string
}{
	{catalog.Available, "Available in the store"},
	{catalog.AutoInstall, "Install at once"},
	{catalog.TakeOver, "Install, take over own copies"},
}

// appForm is the add-app form as submitted, to show again on an error.
type appForm struct {
	Kind, Identifier, Name, StoreID, ManifestURL, BundleVersion, Description string
}

type consoleAssignment struct {
	Group, GroupName string
	Mode             catalog.Mode
}

type consoleApp struct {
	App         catalog.App
	Assignments []consoleAssignment
}

type consoleAppsData struct {
	Apps   []consoleApp
	Groups []auth.Group
	Kinds  any
	Modes  any
	Form   appForm
	Notice string
}

// KindLabel is the kind of app in words.
func (consoleAppsData) KindLabel(k catalog.Kind) string {
	for _, x := range appKinds {
		if x.Kind == k {
			return x.Label
		}
	}
	return string(k)
}

// ModeLabel is the distribution mode in words.
func (consoleAppsData) ModeLabel(m catalog.Mode) string {
	for _, x := range appModes {
		if x.Mode == m {
			return x.Label
		}
	}
	return string(m)
}

// maxConsoleApps bounds the apps one page lists; an org's catalog is small.
const maxConsoleApps = 500

func (s *server) consoleAppsPage(w http.ResponseWriter, r *http.Request) {
	notice := ""
	switch r.URL.Query().Get("done") {
	case "created":
		notice = "The app was added. Assign it to a group to put it in the members' stores."
	case "assigned":
		notice = "The app was assigned. It appears in the members' stores at once; installs reach devices the next time they connect."
	case "changed":
		notice = "The assignment's mode was changed. Installs it now asks for reach the members' devices the next time they connect."
	case "unassigned":
		notice = "The assignment was removed. Managed copies that no other assignment keeps are removed from the members' devices the next time they connect."
	}
	s.renderApps(w, r, http.StatusOK, "", notice, appForm{Kind: string(catalog.AppStore)})
}

func (s *server) renderApps(w http.ResponseWriter, r *http.Request, status int, errMsg, notice string, form appForm) {
	org, token, ok := s.consoleAdmin(w, r)
	if !ok {
		return
	}
	apps, err := s.sdk.Catalog.ListApps(r.Context(), org)
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
	data := consoleAppsData{Groups: groups, Kinds: appKinds, Modes: appModes, Form: form, Notice: notice}
	for i, a := range apps {
		if i == maxConsoleApps {
			break
		}
		as, err := s.sdk.Catalog.ListAssignments(r.Context(), org, a.ID)
		if err != nil {
			s.webFailure(w, "admin", err)
			return
		}
		ca := consoleApp{App: a}
		for _, x := range as {
			ca.Assignments = append(ca.Assignments, consoleAssignment{Group: x.Group, GroupName: orDefault(names[x.Group], x.Group), Mode: x.Mode})
		}
		data.Apps = append(data.Apps, ca)
	}
	s.render(w, status, "admin_apps", page{Title: "Apps and assignments", Nav: "admin", CSRF: s.csrfToken(csrfAdmin, token),
		Error: errMsg, Data: data})
}

func (s *server) consoleAppCreate(w http.ResponseWriter, r *http.Request) {
	org, token, ok := s.consoleAdmin(w, r)
	if !ok || !s.parseForm(w, r, csrfAdmin, token) {
		return
	}
	f := appForm{
		Kind: r.PostFormValue("kind"), Identifier: strings.TrimSpace(r.PostFormValue("identifier")),
		Name: strings.TrimSpace(r.PostFormValue("name")), StoreID: strings.TrimSpace(r.PostFormValue("store_id")),
		ManifestURL: strings.TrimSpace(r.PostFormValue("manifest_url")), BundleVersion: strings.TrimSpace(r.PostFormValue("bundle_version")),
		Description: strings.TrimSpace(r.PostFormValue("description")),
	}
	a := catalog.App{Org: org, Kind: catalog.Kind(f.Kind), Identifier: f.Identifier, Name: f.Name, Description: f.Description}
	// Each kind takes only its own fields; the others' are ignored, so a
	// field filled in before switching the kind does not refuse the form.
	switch a.Kind {
	case catalog.AppStore:
		if f.StoreID != "" {
			n, err := strconv.ParseInt(f.StoreID, 10, 64)
			if err != nil || n <= 0 {
				s.renderApps(w, r, http.StatusBadRequest, "The App Store ID must be a positive number, such as 1234567890.", "", f)
				return
			}
			a.StoreID = n
		}
	case catalog.InHouse:
		a.ManifestURL, a.BundleVersion = f.ManifestURL, f.BundleVersion
	}
	if _, err := s.sdk.Catalog.CreateApp(r.Context(), a, s.consoleActor(r)); err != nil {
		s.consoleAppFailure(w, r, err, f)
		return
	}
	http.Redirect(w, r, "/admin/apps?done=created", http.StatusSeeOther)
}

func (s *server) consoleAppAssign(w http.ResponseWriter, r *http.Request) {
	org, token, ok := s.consoleAdmin(w, r)
	if !ok || !s.parseForm(w, r, csrfAdmin, token) {
		return
	}
	a := catalog.Assignment{Org: org, AppID: r.PathValue("id"), Group: r.PostFormValue("group"), Mode: catalog.Mode(r.PostFormValue("mode"))}
	// The catalog takes any group ID (directories are pluggable); this
	// console offers the built-in directory's groups only.
	groups, err := s.dir.ListGroups(r.Context(), org)
	if err != nil {
		s.webFailure(w, "admin", err)
		return
	}
	if !slices.ContainsFunc(groups, func(g auth.Group) bool { return g.ID == a.Group }) {
		s.renderApps(w, r, http.StatusBadRequest, "Please choose one of the groups.", "", appForm{Kind: string(catalog.AppStore)})
		return
	}
	// Assigning again changes the mode of the group's assignment.
	got, err := s.sdk.Catalog.SetAssignment(r.Context(), a, s.consoleActor(r))
	if err != nil && !errors.Is(err, catalog.ErrIncomplete) { // incomplete: stored; devices catch up
		s.consoleAppFailure(w, r, err, appForm{Kind: string(catalog.AppStore)})
		return
	}
	done := "assigned"
	if got.Version > 1 {
		done = "changed"
	}
	http.Redirect(w, r, "/admin/apps?done="+done, http.StatusSeeOther)
}

func (s *server) consoleAppUnassign(w http.ResponseWriter, r *http.Request) {
	org, token, ok := s.consoleAdmin(w, r)
	if !ok || !s.parseForm(w, r, csrfAdmin, token) {
		return
	}
	err := s.sdk.Catalog.Unassign(r.Context(), org, r.PathValue("id"), r.PostFormValue("group"), s.consoleActor(r))
	if err != nil && !errors.Is(err, catalog.ErrIncomplete) {
		s.consoleAppFailure(w, r, err, appForm{Kind: string(catalog.AppStore)})
		return
	}
	http.Redirect(w, r, "/admin/apps?done=unassigned", http.StatusSeeOther)
}

// consoleAppFailure shows the apps page again with what went wrong: the
// catalog's own words for bad input and conflicts, never internals.
func (s *server) consoleAppFailure(w http.ResponseWriter, r *http.Request, err error, f appForm) {
	status, _, msg := omm.HTTPStatus(err)
	switch status {
	case http.StatusNotFound:
		msg = "There is no such app or group."
	case http.StatusInternalServerError:
		msg = "Something went wrong on our side. Please try again later."
	default:
		msg = "Not saved: " + strings.TrimPrefix(msg, storage.ErrInvalid.Error()+": ")
	}
	s.renderApps(w, r, status, msg, "", f)
}
