package omm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/events"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// Admin is who an admin API request acts for: an administrator of one org.
type Admin struct {
	Org storage.OrgID
	// Actor names the administrator in the audit log ("admin:alice").
	Actor string
	// User names the administrator where the app store records a person
	// (an install it queues).
	User string
}

// AdminAuth authenticates an admin API request with the host's own
// administrator sign-in: who it acts for, or an error (answered 401).
type AdminAuth func(r *http.Request) (Admin, error)

type adminKey struct{}

func adminFrom(r *http.Request) Admin {
	a, _ := r.Context().Value(adminKey{}).(Admin)
	return a
}

// AdminRoutes returns the admin JSON API under prefix ("/api/admin"),
// every request authenticated by authenticate and scoped to its
// administrator's org:
//
//	GET    {prefix}/orgs                    the admin's org
//	GET    {prefix}/orgs/{org}              it again; any other org is 403
//	GET    {prefix}/users                   POST to create (built-in directory only)
//	POST   {prefix}/users/{id}/deactivate   also deprovisions the user's devices (built-in directory only)
//	GET    {prefix}/groups                  POST to create (built-in directory only)
//	POST   {prefix}/groups/{id}/members     {"user_id"} (built-in directory only)
//	DELETE {prefix}/groups/{id}/members/{user}  (built-in directory only)
//	GET    {prefix}/signon                  the org's sign-on rule (MFA, agent PIN); PUT {"mfa_required", "version"} (SDK sign-in only)
//	POST   {prefix}/users/{id}/mfa/reset    removes the user's authenticator app (SDK sign-in only)
//	GET    {prefix}/policies                POST to create
//	GET    {prefix}/policies/{id}           PUT to replace, DELETE ?version=N
//	GET    {prefix}/devices                 ?after=&limit=&user=
//	GET    {prefix}/devices/{id}            with inventory, apps, commands and compliance
//	POST   {prefix}/devices/{id}/{action}   lock, deprovision, erase, refresh
//	POST   {prefix}/devices/refresh         an inventory query to every enrolled Apple device (one fan-out)
//	GET    {prefix}/audit                   ?order=newest&after=&before=&limit=&device=&user=&action=&since=&until= (ParseAuditQuery)
//	GET    {prefix}/events                  the event stream: ?after=&limit=&device=&newest=true
//	GET    {prefix}/renewals                unfinished identity renewals, soonest expiry first: ?limit=
//	GET    {prefix}/credentials             expiry of the APNs and serving certificates, warned 30 days ahead
//	POST   {prefix}/enrollment-profiles     {"user_id","platform","count","valid_for"}: one-time direct profiles (pre-staging)
//	DELETE {prefix}/enrollment-profiles/{id} revokes one that no device has used
//	…      {prefix}/apps…                   the app catalog (catalog.NewAdminHandler)
//
// With a host's own directory, users and groups are managed there, and a
// change is reported through [SDK.UserChanged].
func (s *SDK) AdminRoutes(prefix string, authenticate AdminAuth) []Route {
	prefix = strings.TrimSuffix(prefix, "/")
	var rs routes
	add := func(pattern string, h http.Handler) { rs.add(prefix, pattern, h) }
	guard := func(h http.HandlerFunc) http.Handler {
		return bodyLimit(MaxJSONBody, s.admin(authenticate, h))
	}
	add("GET /orgs", guard(s.adminOrgs))
	add("GET /orgs/{org}", guard(s.adminOrgByID))
	if local, ok := s.Directory.(*auth.LocalDirectory); ok {
		d := localDirectoryAPI{s, local}
		add("GET /users", guard(d.users))
		add("POST /users", guard(d.createUser))
		add("POST /users/{id}/deactivate", guard(d.deactivateUser))
		add("GET /groups", guard(d.groups))
		add("POST /groups", guard(d.createGroup))
		add("POST /groups/{id}/members", guard(d.addMember))
		add("DELETE /groups/{id}/members/{user}", guard(d.removeMember))
	}
	if s.Auth != nil {
		add("GET /signon", guard(s.adminSignOn))
		add("PUT /signon", guard(s.adminSetSignOn))
		add("POST /users/{id}/mfa/reset", guard(s.adminResetMFA))
	}
	add("GET /policies", guard(s.adminPolicies))
	add("POST /policies", guard(s.adminCreatePolicy))
	add("GET /policies/{id}", guard(s.adminPolicy))
	add("PUT /policies/{id}", guard(s.adminUpdatePolicy))
	add("DELETE /policies/{id}", guard(s.adminDeletePolicy))
	add("GET /devices", guard(s.adminDevices))
	add("GET /devices/{id}", guard(s.adminDevice))
	add("POST /devices/{id}/{action}", guard(s.adminDeviceAction))
	add("POST /devices/refresh", guard(s.adminRefreshAll))
	add("GET /audit", guard(s.adminAudit))
	add("GET /events", guard(s.adminEvents))
	add("GET /renewals", guard(s.adminRenewals))
	add("GET /credentials", guard(s.adminCredentials))
	add("POST /enrollment-profiles", guard(s.adminIssueProfiles))
	add("DELETE /enrollment-profiles/{id}", guard(s.adminRevokeProfile))
	apps := http.StripPrefix(prefix, catalog.NewAdminHandler(s.Catalog, catalog.WithHandlerLogger(s.log), catalog.WithPrincipal(adminCatalogPrincipal)))
	add("/apps", s.admin(authenticate, apps.ServeHTTP))
	add("/apps/", s.admin(authenticate, apps.ServeHTTP))
	add("/", guard(func(w http.ResponseWriter, r *http.Request) {
		writeAPIError(w, http.StatusNotFound, "not_found", "no such admin endpoint")
	}))
	return rs
}

// AdminHandler serves [SDK.AdminRoutes] under prefix; mount it there.
func (s *SDK) AdminHandler(prefix string, authenticate AdminAuth, opts ...HandlerOption) http.Handler {
	var c handlerConfig
	for _, o := range opts {
		o(&c)
	}
	return s.serve(s.AdminRoutes(prefix, authenticate), c)
}

// admin authenticates an admin API request and passes the admin on.
func (s *SDK) admin(authenticate AdminAuth, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := authenticate(r)
		if err != nil || a.Org.Validate() != nil || a.Actor == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="omm-admin"`)
			writeAPIError(w, http.StatusUnauthorized, "unauthorized", "an administrator's credential is required")
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), adminKey{}, a)))
	})
}

func adminCatalogPrincipal(ctx context.Context) (catalog.Principal, bool) {
	a, ok := ctx.Value(adminKey{}).(Admin)
	if !ok {
		return catalog.Principal{}, false
	}
	user := a.User
	if user == "" {
		user = a.Actor
	}
	return catalog.Principal{Org: a.Org, UserID: user, Actor: a.Actor}, true
}

// OrgView is an org as the APIs show it.
type OrgView struct {
	ID          storage.OrgID `json:"id"`
	Name        string        `json:"name"`
	DisplayName string        `json:"display_name"`
	Created     time.Time     `json:"created"`
}

func (s *SDK) adminOrgs(w http.ResponseWriter, r *http.Request) {
	o, err := s.Store.Org(r.Context(), adminFrom(r).Org)
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"orgs": []OrgView{{o.ID, o.Name, o.DisplayName, o.Created}}})
}

func (s *SDK) adminOrgByID(w http.ResponseWriter, r *http.Request) {
	org := adminFrom(r).Org
	if storage.OrgID(r.PathValue("org")) != org {
		writeAPIError(w, http.StatusForbidden, "forbidden", "the credential is not valid for this org")
		return
	}
	o, err := s.Store.Org(r.Context(), org)
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, OrgView{o.ID, o.Name, o.DisplayName, o.Created})
}

// UserView is a directory user as the APIs show it.
type UserView struct {
	ID          string      `json:"id"`
	Username    string      `json:"username"`
	DisplayName string      `json:"display_name"`
	Email       string      `json:"email,omitempty"`
	Phone       string      `json:"phone,omitempty"`
	Status      auth.Status `json:"status"`
}

// ViewUser is u as the APIs show it.
func ViewUser(u auth.User) UserView {
	return UserView{u.ID, u.Username, u.DisplayName, u.Email, u.Phone, u.Status}
}

// localDirectoryAPI is the admin API of the built-in directory.
type localDirectoryAPI struct {
	s   *SDK
	dir *auth.LocalDirectory
}

func (d localDirectoryAPI) users(w http.ResponseWriter, r *http.Request) {
	users, err := d.dir.ListUsers(r.Context(), adminFrom(r).Org)
	if err != nil {
		writeErr(w, d.s.log, err)
		return
	}
	views := make([]UserView, len(users))
	for i, u := range users {
		views[i] = ViewUser(u)
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": views})
}

func (d localDirectoryAPI) createUser(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Username    string `json:"username"`
		DisplayName string `json:"display_name"`
		Email       string `json:"email"`
		Phone       string `json:"phone"`
		Password    string `json:"password"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		writeErr(w, d.s.log, err)
		return
	}
	a := adminFrom(r)
	u, err := d.dir.CreateUser(r.Context(), auth.User{Org: a.Org, Username: in.Username,
		DisplayName: in.DisplayName, Email: in.Email, Phone: in.Phone}, in.Password, a.Actor)
	if err != nil {
		writeErr(w, d.s.log, err)
		return
	}
	writeJSON(w, http.StatusCreated, ViewUser(u))
}

// deactivateUser deactivates the user in the built-in directory and
// reports it to the lifecycle: a person who left keeps their personal
// data, the organization takes its own back.
func (d localDirectoryAPI) deactivateUser(w http.ResponseWriter, r *http.Request) {
	a := adminFrom(r)
	done, err := d.s.DeactivateUser(r.Context(), a.Org, r.PathValue("id"), a.Actor)
	if err != nil {
		writeErr(w, d.s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": auth.StatusDeactivated, "devices_deprovisioning": done.Devices,
		"devices_manual": done.Manual, "credentials_revoked": done.EnrollSessions + done.Identities + done.AndroidTokens,
		"sessions_ended": done.Sessions})
}

// GroupView is a directory group as the APIs show it.
type GroupView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func (d localDirectoryAPI) groups(w http.ResponseWriter, r *http.Request) {
	groups, err := d.dir.ListGroups(r.Context(), adminFrom(r).Org)
	if err != nil {
		writeErr(w, d.s.log, err)
		return
	}
	views := make([]GroupView, len(groups))
	for i, g := range groups {
		views[i] = GroupView{g.ID, g.Name}
	}
	writeJSON(w, http.StatusOK, map[string]any{"groups": views})
}

func (d localDirectoryAPI) createGroup(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		writeErr(w, d.s.log, err)
		return
	}
	a := adminFrom(r)
	g, err := d.dir.CreateGroup(r.Context(), a.Org, in.Name, a.Actor)
	if err != nil {
		writeErr(w, d.s.log, err)
		return
	}
	writeJSON(w, http.StatusCreated, GroupView{g.ID, g.Name})
}

func (d localDirectoryAPI) addMember(w http.ResponseWriter, r *http.Request) {
	var in struct {
		UserID string `json:"user_id"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		writeErr(w, d.s.log, err)
		return
	}
	a := adminFrom(r)
	if err := d.s.SetMember(r.Context(), a.Org, r.PathValue("id"), in.UserID, true, a.Actor); err != nil {
		writeErr(w, d.s.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (d localDirectoryAPI) removeMember(w http.ResponseWriter, r *http.Request) {
	a := adminFrom(r)
	if err := d.s.SetMember(r.Context(), a.Org, r.PathValue("id"), r.PathValue("user"), false, a.Actor); err != nil {
		writeErr(w, d.s.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// SignOnView is the org's sign-on rule as the APIs show it.
type SignOnView struct {
	MFARequired bool    `json:"mfa_required"`
	PIN         PINView `json:"pin"`
	Version     int64   `json:"version"`
}

// PINView is the agent PIN policy as the APIs show it.
type PINView struct {
	Length             int  `json:"length"`
	Alphanumeric       bool `json:"alphanumeric"`
	AllowSimple        bool `json:"allow_simple"`
	IdleTimeoutSeconds int  `json:"idle_timeout_seconds"`
	MaxAgeSeconds      int  `json:"max_age_seconds"`
}

func viewSignOn(r auth.SignOn) SignOnView {
	return SignOnView{MFARequired: r.MFARequired, Version: r.Version, PIN: PINView{Length: r.PIN.Length, Alphanumeric: r.PIN.Alphanumeric,
		AllowSimple: r.PIN.AllowSimple, IdleTimeoutSeconds: int(r.PIN.IdleTimeout.Seconds()), MaxAgeSeconds: int(r.PIN.MaxAge.Seconds())}}
}

func (s *SDK) adminSignOn(w http.ResponseWriter, r *http.Request) {
	rule, err := s.Auth.SignOn(r.Context(), adminFrom(r).Org)
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, viewSignOn(rule))
}

// adminSetSignOn changes whether the org requires MFA of everyone; the
// PIN policy is kept.
func (s *SDK) adminSetSignOn(w http.ResponseWriter, r *http.Request) {
	var in struct {
		MFARequired bool  `json:"mfa_required"`
		Version     int64 `json:"version"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		writeErr(w, s.log, err)
		return
	}
	a := adminFrom(r)
	rule, err := s.Auth.SignOn(r.Context(), a.Org)
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	rule.MFARequired, rule.Version = in.MFARequired, in.Version
	if rule, err = s.Auth.SetSignOn(r.Context(), rule, a.Actor); err != nil {
		writeErr(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, viewSignOn(rule))
}

func (s *SDK) adminResetMFA(w http.ResponseWriter, r *http.Request) {
	a := adminFrom(r)
	if err := s.ResetMFA(r.Context(), a.Org, r.PathValue("id"), a.Actor); err != nil {
		writeErr(w, s.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// PolicyBody is a policy on the wire. The org is never part of it: it is
// the administrator's.
type PolicyBody struct {
	ID          policy.ID                       `json:"id,omitempty"`
	Name        string                          `json:"name"`
	Description string                          `json:"description,omitempty"`
	Priority    int                             `json:"priority"`
	Groups      []string                        `json:"groups"`
	Agreement   string                          `json:"agreement,omitempty"`
	RequireMFA  bool                            `json:"require_mfa,omitempty"`
	Rules       map[policy.Platform]policy.Rule `json:"rules"`
	Version     int64                           `json:"version,omitempty"`
	Created     *time.Time                      `json:"created,omitempty"`
	Updated     *time.Time                      `json:"updated,omitempty"`
}

// ViewPolicy is p as the APIs show it.
func ViewPolicy(p policy.Policy) PolicyBody {
	return PolicyBody{ID: p.ID, Name: p.Name, Description: p.Description, Priority: p.Priority, Groups: p.Groups,
		Agreement: p.Agreement, RequireMFA: p.RequireMFA, Rules: p.Rules, Version: p.Version, Created: timePtr(p.Created), Updated: timePtr(p.Updated)}
}

// Policy is the body as a policy of org.
func (b PolicyBody) Policy(org storage.OrgID) policy.Policy {
	return policy.Policy{ID: b.ID, Org: org, Name: b.Name, Description: b.Description, Priority: b.Priority,
		Groups: b.Groups, Agreement: b.Agreement, RequireMFA: b.RequireMFA, Rules: b.Rules, Version: b.Version}
}

func (s *SDK) adminPolicies(w http.ResponseWriter, r *http.Request) {
	list, err := s.Policy.List(r.Context(), adminFrom(r).Org)
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	views := make([]PolicyBody, len(list))
	for i, p := range list {
		views[i] = ViewPolicy(p)
	}
	writeJSON(w, http.StatusOK, map[string]any{"policies": views})
}

func (s *SDK) adminPolicy(w http.ResponseWriter, r *http.Request) {
	p, err := s.Policy.Policy(r.Context(), adminFrom(r).Org, policy.ID(r.PathValue("id")))
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, ViewPolicy(p))
}

func (s *SDK) adminCreatePolicy(w http.ResponseWriter, r *http.Request) {
	var in PolicyBody
	if err := decodeJSON(w, r, &in); err != nil {
		writeErr(w, s.log, err)
		return
	}
	a := adminFrom(r)
	p, err := s.CreatePolicy(r.Context(), a.Actor, in.Policy(a.Org))
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusCreated, ViewPolicy(p))
}

func (s *SDK) adminUpdatePolicy(w http.ResponseWriter, r *http.Request) {
	var in PolicyBody
	if err := decodeJSON(w, r, &in); err != nil {
		writeErr(w, s.log, err)
		return
	}
	id := policy.ID(r.PathValue("id"))
	if in.ID != "" && in.ID != id {
		writeAPIError(w, http.StatusBadRequest, "invalid_request", "the body's id does not match the path")
		return
	}
	in.ID = id
	a := adminFrom(r)
	p, err := s.UpdatePolicy(r.Context(), a.Actor, in.Policy(a.Org))
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, ViewPolicy(p))
}

func (s *SDK) adminDeletePolicy(w http.ResponseWriter, r *http.Request) {
	version, err := queryInt(r, "version")
	if err != nil || version <= 0 {
		writeAPIError(w, http.StatusBadRequest, "invalid_request", "?version= must be the policy's current version")
		return
	}
	a := adminFrom(r)
	if err := s.DeletePolicy(r.Context(), a.Actor, a.Org, policy.ID(r.PathValue("id")), version); err != nil {
		writeErr(w, s.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// DeviceSummaryView is a listed device as the APIs show it.
type DeviceSummaryView struct {
	DeviceView
	Name     string                   `json:"name,omitempty"`
	Model    string                   `json:"model,omitempty"`
	Username string                   `json:"username,omitempty"`
	UserName string                   `json:"user_display_name,omitempty"`
	Values   map[inventory.Key]string `json:"values,omitempty"`
}

func viewSummary(d DeviceSummary, vals []inventory.Value) DeviceSummaryView {
	v := DeviceSummaryView{DeviceView: ViewDevice(d.Device), Name: d.Name, Model: d.Model, Username: d.User.Username,
		UserName: d.User.DisplayName}
	if vals != nil {
		v.Values = make(map[inventory.Key]string, len(vals))
		for _, x := range vals {
			v.Values[x.Key] = x.Value
		}
	}
	return v
}

func (s *SDK) adminDevices(w http.ResponseWriter, r *http.Request) {
	after := r.URL.Query().Get("after")
	limit, err := queryInt(r, "limit")
	if err != nil || limit < 0 || limit > inventory.MaxDevicePage || len(after) > inventory.MaxDeviceIDLen {
		writeAPIError(w, http.StatusBadRequest, "invalid_request",
			fmt.Sprintf("?limit= must be 0–%d and ?after= a device ID", inventory.MaxDevicePage))
		return
	}
	org := adminFrom(r).Org
	page, err := s.Devices(r.Context(), org, inventory.DeviceQuery{UserID: r.URL.Query().Get("user"), After: after, Limit: int(limit)})
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	views := make([]DeviceSummaryView, len(page.Devices))
	for i, d := range page.Devices {
		vals, err := s.Store.DeviceValues(r.Context(), org, d.ID)
		if err != nil {
			writeErr(w, s.log, err)
			return
		}
		views[i] = viewSummary(d, vals)
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": views, "next": page.Next})
}

func (s *SDK) adminDevice(w http.ResponseWriter, r *http.Request) {
	d, err := s.Device(r.Context(), adminFrom(r).Org, r.PathValue("id"))
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	choices := make([]ActionChoiceView, len(d.Actions))
	for i, c := range d.Actions {
		choices[i] = ActionChoiceView{c.Action, c.Allowed, c.Why}
	}
	body := map[string]any{"device": viewSummary(d.DeviceSummary, d.Values), "apps": d.Apps,
		"actions": d.Commands, "policy": d.Compliance, "action_choices": choices}
	if d.Channel != nil {
		body["management"] = d.Channel
	}
	writeJSON(w, http.StatusOK, body)
}

// ActionChoiceView is an [ActionChoice] as the APIs show it.
type ActionChoiceView struct {
	Action  Action `json:"action"`
	Allowed bool   `json:"allowed"`
	Why     string `json:"why,omitempty"`
}

func (s *SDK) adminDeviceAction(w http.ResponseWriter, r *http.Request) {
	action := Action(r.PathValue("action"))
	known := false
	for _, a := range Actions() {
		known = known || a == action
	}
	if !known {
		writeAPIError(w, http.StatusNotFound, "not_found", "unknown action: want lock, deprovision, erase or refresh")
		return
	}
	a := adminFrom(r)
	if err := s.DeviceAction(r.Context(), a.Org, r.PathValue("id"), action, a.Actor); err != nil {
		writeErr(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "queued"})
}

func (s *SDK) adminRefreshAll(w http.ResponseWriter, r *http.Request) {
	a := adminFrom(r)
	n, err := s.RefreshAll(r.Context(), a.Org, a.Actor)
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"status": "queued", "devices": n})
}

// AuditView is an audit entry as the APIs show it, with the names of its
// actor and target where they name a user, device, policy, app or group.
type AuditView struct {
	ID         int64             `json:"id"`
	Time       time.Time         `json:"time"`
	Actor      string            `json:"actor"`
	ActorName  string            `json:"actor_name,omitempty"`
	Action     string            `json:"action"`
	Target     string            `json:"target,omitempty"`
	TargetName string            `json:"target_name,omitempty"`
	Details    map[string]string `json:"details,omitempty"`
}

// ViewAudit is e as the APIs show it, with names from [SDK.AuditNames].
func ViewAudit(e storage.AuditEntry, names map[string]string) AuditView {
	return AuditView{ID: e.ID, Time: e.Time, Actor: e.Actor, ActorName: names[e.Actor], Action: e.Action,
		Target: e.Target, TargetName: names[e.Target], Details: e.Details}
}

func (s *SDK) adminAudit(w http.ResponseWriter, r *http.Request) {
	q, err := ParseAuditQuery(r.URL.Query())
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	org := adminFrom(r).Org
	page, err := s.Audit(r.Context(), org, q)
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	names, err := s.AuditNames(r.Context(), org, page.Entries)
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	views := make([]AuditView, len(page.Entries))
	for i, e := range page.Entries {
		views[i] = ViewAudit(e, names)
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": views, "next": page.Next})
}

// adminEvents serves a page of the org's event stream: the same events,
// in the same JSON, as the webhook delivers.
func (s *SDK) adminEvents(w http.ResponseWriter, r *http.Request) {
	after, err1 := queryInt(r, "after")
	limit, err2 := queryInt(r, "limit")
	q := events.Query{After: after, Limit: int(limit), Device: r.URL.Query().Get("device"), Newest: r.URL.Query().Get("newest") == "true"}
	if err := errors.Join(err1, err2); err != nil || after < 0 || limit < 0 || limit > events.MaxPage || len(q.Device) > storage.MaxIDLen {
		writeAPIError(w, http.StatusBadRequest, "invalid_request",
			fmt.Sprintf("?after= must be an event seq, ?limit= 0–%d, ?device= a device ID", events.MaxPage))
		return
	}
	page, err := s.Events(r.Context(), adminFrom(r).Org, q)
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": page.Events, "next": page.Next})
}

// queryInt reads an optional integer query parameter (0 when absent).
func queryInt(r *http.Request, name string) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: ?%s= must be a number", ErrBadRequest, name)
	}
	return n, nil
}
