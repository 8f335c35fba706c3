package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// adminActor is who the audit log names for changes made with the admin
// token.
const adminActor = "admin:api-token"

type adminOrgKey struct{}

// adminOrg returns the org the request's admin token is bound to; every
// admin handler acts in it and in no other.
func adminOrg(ctx context.Context) storage.OrgID {
	org, _ := ctx.Value(adminOrgKey{}).(storage.OrgID)
	return org
}

// requireAdmin lets a request through only with the admin token
// (Authorization: Bearer), and binds it to the token's org.
func (s *server) requireAdmin(h http.HandlerFunc) http.Handler {
	return bodyLimit(maxJSONBody, s.adminAuth(h))
}

// adminAuth is requireAdmin without the body limit, for handlers that set
// their own (the catalog's).
func (s *server) adminAuth(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !s.admin.check(strings.TrimSpace(token)) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="omm-admin"`)
			writeAPIError(w, http.StatusUnauthorized, "unauthorized", "an admin token is required: Authorization: Bearer <token>")
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), adminOrgKey{}, s.admin.Org)))
	})
}

// adminRoutes serves the admin API, scoped to the admin token's org:
//
//	GET    /api/admin/orgs                    the token's org
//	GET    /api/admin/orgs/{org}              it again; any other org is 403
//	GET    /api/admin/users                   POST to create
//	POST   /api/admin/users/{id}/deactivate   also deprovisions the user's devices
//	GET    /api/admin/groups                  POST to create
//	POST   /api/admin/groups/{id}/members     {"user_id"}
//	GET    /api/admin/policies                POST to create
//	GET    /api/admin/policies/{id}           PUT to replace, DELETE ?version=N
//	GET    /api/admin/devices                 ?after=&limit=&user=
//	GET    /api/admin/devices/{id}            with inventory, apps and actions
//	POST   /api/admin/devices/{id}/{action}   lock, deprovision, erase, refresh
//	GET    /api/admin/audit                   ?after=&limit=
//	…      /api/admin/apps…                   the app catalog (see catalogRoutes)
func (s *server) adminRoutes(mux *router) {
	mux.Handle("GET /api/admin/orgs", s.requireAdmin(s.adminOrgs))
	mux.Handle("GET /api/admin/orgs/{org}", s.requireAdmin(s.adminOrgByID))
	mux.Handle("GET /api/admin/users", s.requireAdmin(s.adminUsers))
	mux.Handle("POST /api/admin/users", s.requireAdmin(s.adminCreateUser))
	mux.Handle("POST /api/admin/users/{id}/deactivate", s.requireAdmin(s.adminDeactivateUser))
	mux.Handle("GET /api/admin/groups", s.requireAdmin(s.adminGroups))
	mux.Handle("POST /api/admin/groups", s.requireAdmin(s.adminCreateGroup))
	mux.Handle("POST /api/admin/groups/{id}/members", s.requireAdmin(s.adminAddMember))
	mux.Handle("GET /api/admin/policies", s.requireAdmin(s.adminPolicies))
	mux.Handle("POST /api/admin/policies", s.requireAdmin(s.adminCreatePolicy))
	mux.Handle("GET /api/admin/policies/{id}", s.requireAdmin(s.adminPolicy))
	mux.Handle("PUT /api/admin/policies/{id}", s.requireAdmin(s.adminUpdatePolicy))
	mux.Handle("DELETE /api/admin/policies/{id}", s.requireAdmin(s.adminDeletePolicy))
	mux.Handle("GET /api/admin/devices", s.requireAdmin(s.adminDevices))
	mux.Handle("GET /api/admin/devices/{id}", s.requireAdmin(s.adminDevice))
	mux.Handle("POST /api/admin/devices/{id}/{action}", s.requireAdmin(s.adminDeviceAction))
	mux.Handle("GET /api/admin/audit", s.requireAdmin(s.adminAudit))
	mux.Handle("/api/admin/", s.requireAdmin(func(w http.ResponseWriter, r *http.Request) {
		writeAPIError(w, http.StatusNotFound, "not_found", "no such admin endpoint")
	}))
}

type orgView struct {
	ID          storage.OrgID `json:"id"`
	Name        string        `json:"name"`
	DisplayName string        `json:"display_name"`
	Created     time.Time     `json:"created"`
}

func (s *server) adminOrgs(w http.ResponseWriter, r *http.Request) {
	o, err := s.store.Org(r.Context(), adminOrg(r.Context()))
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"orgs": []orgView{{o.ID, o.Name, o.DisplayName, o.Created}}})
}

func (s *server) adminOrgByID(w http.ResponseWriter, r *http.Request) {
	org := adminOrg(r.Context())
	if storage.OrgID(r.PathValue("org")) != org {
		writeAPIError(w, http.StatusForbidden, "forbidden", "the admin token is not valid for this org")
		return
	}
	o, err := s.store.Org(r.Context(), org)
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, orgView{o.ID, o.Name, o.DisplayName, o.Created})
}

type userView struct {
	ID          string      `json:"id"`
	Username    string      `json:"username"`
	DisplayName string      `json:"display_name"`
	Email       string      `json:"email,omitempty"`
	Phone       string      `json:"phone,omitempty"`
	Status      auth.Status `json:"status"`
}

func viewUser(u auth.User) userView {
	return userView{u.ID, u.Username, u.DisplayName, u.Email, u.Phone, u.Status}
}

func (s *server) adminUsers(w http.ResponseWriter, r *http.Request) {
	users, err := s.dir.ListUsers(r.Context(), adminOrg(r.Context()))
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	views := make([]userView, len(users))
	for i, u := range users {
		views[i] = viewUser(u)
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": views})
}

func (s *server) adminCreateUser(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Username    string `json:"username"`
		DisplayName string `json:"display_name"`
		Email       string `json:"email"`
		Phone       string `json:"phone"`
		Password    string `json:"password"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		writeErr(w, s.log, err)
		return
	}
	u, err := s.dir.CreateUser(r.Context(), auth.User{Org: adminOrg(r.Context()), Username: in.Username,
		DisplayName: in.DisplayName, Email: in.Email, Phone: in.Phone}, in.Password, adminActor)
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusCreated, viewUser(u))
}

// adminDeactivateUser deactivates the user (which revokes their sessions)
// and deprovisions their devices: a person who left keeps their personal
// data, the organization takes its own back.
func (s *server) adminDeactivateUser(w http.ResponseWriter, r *http.Request) {
	org, id := adminOrg(r.Context()), r.PathValue("id")
	if _, err := s.dir.User(r.Context(), org, id); err != nil {
		writeErr(w, s.log, err)
		return
	}
	if err := s.dir.Deactivate(r.Context(), org, id, adminActor); err != nil {
		writeErr(w, s.log, err)
		return
	}
	n, err := s.mdm.DeprovisionUser(r.Context(), org, id, adminActor, "user deactivated")
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": auth.StatusDeactivated, "devices_deprovisioning": n})
}

type groupView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func (s *server) adminGroups(w http.ResponseWriter, r *http.Request) {
	groups, err := s.dir.ListGroups(r.Context(), adminOrg(r.Context()))
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	views := make([]groupView, len(groups))
	for i, g := range groups {
		views[i] = groupView{g.ID, g.Name}
	}
	writeJSON(w, http.StatusOK, map[string]any{"groups": views})
}

func (s *server) adminCreateGroup(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		writeErr(w, s.log, err)
		return
	}
	g, err := s.dir.CreateGroup(r.Context(), adminOrg(r.Context()), in.Name, adminActor)
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusCreated, groupView{g.ID, g.Name})
}

func (s *server) adminAddMember(w http.ResponseWriter, r *http.Request) {
	var in struct {
		UserID string `json:"user_id"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		writeErr(w, s.log, err)
		return
	}
	if err := s.dir.AddMember(r.Context(), adminOrg(r.Context()), r.PathValue("id"), in.UserID, adminActor); err != nil {
		writeErr(w, s.log, err)
		return
	}
	s.reapplyUser(r.Context(), adminOrg(r.Context()), in.UserID, adminActor)
	w.WriteHeader(http.StatusNoContent)
}

// policyBody is a policy on the wire. The org is never part of it: it is
// the admin token's.
type policyBody struct {
	ID          policy.ID                       `json:"id,omitempty"`
	Name        string                          `json:"name"`
	Description string                          `json:"description,omitempty"`
	Priority    int                             `json:"priority"`
	Groups      []string                        `json:"groups"`
	Agreement   string                          `json:"agreement,omitempty"`
	Rules       map[policy.Platform]policy.Rule `json:"rules"`
	Version     int64                           `json:"version,omitempty"`
	Created     *time.Time                      `json:"created,omitempty"`
	Updated     *time.Time                      `json:"updated,omitempty"`
}

func viewPolicy(p policy.Policy) policyBody {
	return policyBody{ID: p.ID, Name: p.Name, Description: p.Description, Priority: p.Priority, Groups: p.Groups,
		Agreement: p.Agreement, Rules: p.Rules, Version: p.Version, Created: timePtr(p.Created), Updated: timePtr(p.Updated)}
}

func (b policyBody) policy(org storage.OrgID) policy.Policy {
	return policy.Policy{ID: b.ID, Org: org, Name: b.Name, Description: b.Description, Priority: b.Priority,
		Groups: b.Groups, Agreement: b.Agreement, Rules: b.Rules, Version: b.Version}
}

func (s *server) adminPolicies(w http.ResponseWriter, r *http.Request) {
	list, err := s.policy.List(r.Context(), adminOrg(r.Context()))
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	views := make([]policyBody, len(list))
	for i, p := range list {
		views[i] = viewPolicy(p)
	}
	writeJSON(w, http.StatusOK, map[string]any{"policies": views})
}

func (s *server) adminPolicy(w http.ResponseWriter, r *http.Request) {
	p, err := s.policy.Policy(r.Context(), adminOrg(r.Context()), policy.ID(r.PathValue("id")))
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, viewPolicy(p))
}

func (s *server) adminCreatePolicy(w http.ResponseWriter, r *http.Request) {
	var in policyBody
	if err := decodeJSON(w, r, &in); err != nil {
		writeErr(w, s.log, err)
		return
	}
	if err := checkGroups(r.Context(), s.store, adminOrg(r.Context()), in.Groups); err != nil {
		writeErr(w, s.log, err)
		return
	}
	p, err := s.policy.Create(r.Context(), adminActor, in.policy(adminOrg(r.Context())))
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusCreated, viewPolicy(p))
}

func (s *server) adminUpdatePolicy(w http.ResponseWriter, r *http.Request) {
	var in policyBody
	if err := decodeJSON(w, r, &in); err != nil {
		writeErr(w, s.log, err)
		return
	}
	if err := checkGroups(r.Context(), s.store, adminOrg(r.Context()), in.Groups); err != nil {
		writeErr(w, s.log, err)
		return
	}
	id := policy.ID(r.PathValue("id"))
	if in.ID != "" && in.ID != id {
		writeAPIError(w, http.StatusBadRequest, "invalid_request", "the body's id does not match the path")
		return
	}
	in.ID = id
	if id == policy.DefaultID {
		writeAPIError(w, http.StatusForbidden, "not_permitted", "the built-in default policy cannot be changed")
		return
	}
	p, err := s.policy.Update(r.Context(), adminActor, in.policy(adminOrg(r.Context())))
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, viewPolicy(p))
}

func (s *server) adminDeletePolicy(w http.ResponseWriter, r *http.Request) {
	version, err := queryInt(r, "version")
	if err != nil || version <= 0 {
		writeAPIError(w, http.StatusBadRequest, "invalid_request", "?version= must be the policy's current version")
		return
	}
	id := policy.ID(r.PathValue("id"))
	if id == policy.DefaultID {
		writeAPIError(w, http.StatusForbidden, "not_permitted", "the built-in default policy cannot be deleted")
		return
	}
	if err := s.policy.Delete(r.Context(), adminActor, adminOrg(r.Context()), id, version); err != nil {
		writeErr(w, s.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) adminDevices(w http.ResponseWriter, r *http.Request) {
	after := r.URL.Query().Get("after")
	limit, err := queryInt(r, "limit")
	if err != nil || limit < 0 || limit > inventory.MaxDevicePage || len(after) > inventory.MaxDeviceIDLen {
		writeAPIError(w, http.StatusBadRequest, "invalid_request",
			fmt.Sprintf("?limit= must be 0–%d and ?after= a device ID", inventory.MaxDevicePage))
		return
	}
	org := adminOrg(r.Context())
	page, err := s.store.ListDevices(r.Context(), org, inventory.DeviceQuery{UserID: r.URL.Query().Get("user"), After: after, Limit: int(limit)})
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	views := make([]deviceView, len(page.Devices))
	for i, d := range page.Devices {
		views[i] = viewDevice(d)
		vals, err := s.store.DeviceValues(r.Context(), org, d.ID)
		if err != nil {
			writeErr(w, s.log, err)
			return
		}
		views[i].Values = valueMap(vals)
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": views, "next": page.Next})
}

func valueMap(vals []inventory.Value) map[inventory.Key]string {
	m := make(map[inventory.Key]string, len(vals))
	for _, v := range vals {
		m[v.Key] = v.Value
	}
	return m
}

type actionView struct {
	UUID        string               `json:"uuid"`
	RequestType string               `json:"request_type"`
	Status      enroll.CommandStatus `json:"status"`
	Pending     bool                 `json:"pending"`
	Detail      string               `json:"detail,omitempty"`
	Queued      time.Time            `json:"queued"`
	Updated     time.Time            `json:"updated"`
}

func viewActions(cmds []enroll.QueuedCommand) []actionView {
	views := make([]actionView, len(cmds))
	for i, c := range cmds {
		views[i] = actionView{UUID: c.UUID, RequestType: c.RequestType, Status: c.Status,
			Pending: c.Status == enroll.StatusPending || c.Status == enroll.StatusNotNow,
			Detail:  c.Detail, Queued: c.Queued, Updated: c.Updated}
	}
	return views
}

// maxActionsShown bounds the actions listed per device.
const maxActionsShown = 50

func (s *server) adminDevice(w http.ResponseWriter, r *http.Request) {
	org := adminOrg(r.Context())
	d, err := s.orgDevice(r.Context(), org, r.PathValue("id"))
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	vals, err := s.store.DeviceValues(r.Context(), org, d.ID)
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	apps, err := s.store.DeviceApps(r.Context(), org, d.ID)
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	actions, err := s.deviceActions(r.Context(), d)
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	applied, err := s.devicePolicy(r.Context(), d)
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	v := viewDevice(d)
	v.Values = valueMap(vals)
	writeJSON(w, http.StatusOK, map[string]any{"device": v, "apps": apps, "actions": actions, "policy": applied})
}

// orgDevice returns the org's device; another org's is ErrNotFound.
func (s *server) orgDevice(ctx context.Context, org storage.OrgID, id string) (inventory.Device, error) {
	if len(id) > inventory.MaxDeviceIDLen {
		return inventory.Device{}, fmt.Errorf("device: %w", storage.ErrNotFound)
	}
	return s.store.Device(ctx, org, id)
}

// deviceAction is one action on a device, on behalf of actor.
type deviceAction func(ctx context.Context, d inventory.Device, actor string) error

func (s *server) lock(ctx context.Context, d inventory.Device, actor string) error {
	if !d.Platform.Apple() {
		return s.androidLock(ctx, d, actor)
	}
	return s.mdm.Lock(ctx, d.Org, d.ID, actor, "This device was locked by your organization.", "")
}

func (s *server) refresh(ctx context.Context, d inventory.Device, actor string) error {
	if !d.Platform.Apple() {
		return fmt.Errorf("%w: Android devices report their inventory through the agent app", errNotPermitted)
	}
	return s.mdm.RefreshInventory(ctx, d.Org, d.ID, actor)
}

func (s *server) adminActions() map[string]deviceAction {
	return map[string]deviceAction{"lock": s.lock, "deprovision": s.deprovision, "erase": s.erase, "refresh": s.refresh}
}

func (s *server) adminDeviceAction(w http.ResponseWriter, r *http.Request) {
	act, ok := s.adminActions()[r.PathValue("action")]
	if !ok {
		writeAPIError(w, http.StatusNotFound, "not_found", "unknown action: want lock, deprovision, erase or refresh")
		return
	}
	d, err := s.orgDevice(r.Context(), adminOrg(r.Context()), r.PathValue("id"))
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	if err := act(r.Context(), d, adminActor); err != nil {
		writeErr(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "queued"})
}

type auditView struct {
	ID      int64             `json:"id"`
	Time    time.Time         `json:"time"`
	Actor   string            `json:"actor"`
	Action  string            `json:"action"`
	Target  string            `json:"target,omitempty"`
	Details map[string]string `json:"details,omitempty"`
}

func (s *server) adminAudit(w http.ResponseWriter, r *http.Request) {
	after, err1 := queryInt(r, "after")
	limit, err2 := queryInt(r, "limit")
	if err := errors.Join(err1, err2); err != nil || after < 0 || limit < 0 || limit > storage.MaxAuditPage {
		writeAPIError(w, http.StatusBadRequest, "invalid_request",
			fmt.Sprintf("?after= must be an entry ID and ?limit= 0–%d", storage.MaxAuditPage))
		return
	}
	page, err := s.store.ListAudit(r.Context(), adminOrg(r.Context()), storage.AuditQuery{After: after, Limit: int(limit)})
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": viewAudit(page.Entries), "next": page.Next})
}

func viewAudit(entries []storage.AuditEntry) []auditView {
	views := make([]auditView, len(entries))
	for i, e := range entries {
		views[i] = auditView{e.ID, e.Time, e.Actor, e.Action, e.Target, e.Details}
	}
	return views
}

// queryInt reads an optional integer query parameter (0 when absent).
func queryInt(r *http.Request, name string) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: ?%s= must be a number", errBadRequest, name)
	}
	return n, nil
}
