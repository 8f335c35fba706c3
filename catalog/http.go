package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/openomm/omm/internal/jsonapi"
	"github.com/openomm/omm/storage"
)

// Principal is who a request acts for, as the composition root
// authenticated it. The handlers never take an org or user ID from the
// request body or path.
type Principal struct {
	Org    storage.OrgID
	UserID string
	// Actor names them in the audit log ("user:alice", "admin:bob").
	Actor string
}

// Limits of the HTTP adapters.
const (
	// MaxBodyBytes bounds a request body: an app with a full managed
	// configuration fits with room to spare.
	MaxBodyBytes = 1 << 20
	// MaxJSONDepth bounds the nesting of a request body.
	MaxJSONDepth = 8
)

// HandlerOption configures the HTTP adapters.
type HandlerOption func(*handler)

// WithPrincipal sets how a handler finds the authenticated principal in a
// request's context (the composition root's authentication middleware put
// it there). Without it every request is refused as unauthenticated, and
// so is a request for which it reports false.
func WithPrincipal(fn func(ctx context.Context) (Principal, bool)) HandlerOption {
	return func(h *handler) { h.principal = fn }
}

// WithHandlerLogger sets the logger for internal errors (default the
// service's).
func WithHandlerLogger(l *slog.Logger) HandlerOption { return func(h *handler) { h.log = l } }

type handler struct {
	svc       *Service
	principal func(ctx context.Context) (Principal, bool)
	log       *slog.Logger
}

func newHandler(svc *Service, opts []HandlerOption) *handler {
	h := &handler{svc: svc, log: svc.log}
	for _, o := range opts {
		o(h)
	}
	return h
}

// NewAgentHandler returns the agent app's store API, for the signed-in
// user (paths relative to where it is mounted):
//
//	GET  /devices/{device}/apps                    the user's store on the device
//	POST /devices/{device}/apps/{app}/install      install (or take over, or update)
//	POST /devices/{device}/apps/{app}/uninstall    remove a managed app
//
// Errors are JSON {"error":{"code","message"}} with stable codes:
// invalid_request, too_large, unauthenticated, not_found, already_exists,
// conflict, wrong_state, not_managed, unsupported_channel,
// unresolved_placeholder, internal.
func NewAgentHandler(svc *Service, opts ...HandlerOption) http.Handler {
	h := newHandler(svc, opts)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /devices/{device}/apps", h.with(h.storeView))
	mux.HandleFunc("POST /devices/{device}/apps/{app}/install", h.with(h.install))
	mux.HandleFunc("POST /devices/{device}/apps/{app}/uninstall", h.with(h.uninstall))
	return mux
}

// NewAdminHandler returns the admin API for the catalog of the
// principal's org (the composition root lets only admins reach it):
//
//	GET    /apps                                  list
//	POST   /apps                                  create
//	GET    /apps/{app}                            read
//	PUT    /apps/{app}                            update (body carries the version read)
//	DELETE /apps/{app}?version=N                  delete an unassigned app
//	GET    /apps/{app}/assignments                list
//	POST   /apps/{app}/assignments                assign to a group {"group","mode"}
//	PUT    /apps/{app}/assignments/{group}        change the mode {"mode","version"}
//	DELETE /apps/{app}/assignments/{group}        unassign
//
// Errors as for [NewAgentHandler].
func NewAdminHandler(svc *Service, opts ...HandlerOption) http.Handler {
	h := newHandler(svc, opts)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /apps", h.with(h.listApps))
	mux.HandleFunc("POST /apps", h.with(h.createApp))
	mux.HandleFunc("GET /apps/{app}", h.with(h.getApp))
	mux.HandleFunc("PUT /apps/{app}", h.with(h.updateApp))
	mux.HandleFunc("DELETE /apps/{app}", h.with(h.deleteApp))
	mux.HandleFunc("GET /apps/{app}/assignments", h.with(h.listAssignments))
	mux.HandleFunc("POST /apps/{app}/assignments", h.with(h.assign))
	mux.HandleFunc("PUT /apps/{app}/assignments/{group}", h.with(h.updateAssignment))
	mux.HandleFunc("DELETE /apps/{app}/assignments/{group}", h.with(h.unassign))
	return mux
}

// errUnauthenticated and errTooLarge are the adapters' own failures.
var (
	errUnauthenticated = errors.New("not signed in")
	errTooLarge        = errors.New("request body too large")
	errBadRequest      = errors.New("bad request")
)

func (h *handler) with(fn func(w http.ResponseWriter, r *http.Request, p Principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var p Principal
		ok := false
		if h.principal != nil {
			p, ok = h.principal(r.Context())
		}
		if !ok || p.Org.Validate() != nil || p.UserID == "" {
			h.fail(w, r, errUnauthenticated)
			return
		}
		if p.Actor == "" {
			p.Actor = "user:" + p.UserID
		}
		fn(w, r, p)
	}
}

// Wire forms.

type configJSON struct {
	Key   string    `json:"key"`
	Type  ValueType `json:"type"`
	Value string    `json:"value"`
}

type appJSON struct {
	ID             string       `json:"id,omitempty"`
	Kind           Kind         `json:"kind"`
	Identifier     string       `json:"identifier"`
	StoreID        int64        `json:"store_id,omitempty"`
	ManifestURL    string       `json:"manifest_url,omitempty"`
	BundleVersion  string       `json:"bundle_version,omitempty"`
	Name           string       `json:"name"`
	IconURL        string       `json:"icon_url,omitempty"`
	Description    string       `json:"description,omitempty"`
	Config         []configJSON `json:"config,omitempty"`
	KeepOnUnenroll bool         `json:"keep_on_unenroll,omitempty"`
	AllowBackup    bool         `json:"allow_backup,omitempty"`
	Version        int64        `json:"version,omitempty"`
	Created        *time.Time   `json:"created,omitempty"`
	Updated        *time.Time   `json:"updated,omitempty"`
}

func toAppJSON(a App) appJSON {
	j := appJSON{
		ID: a.ID, Kind: a.Kind, Identifier: a.Identifier, StoreID: a.StoreID, ManifestURL: a.ManifestURL,
		BundleVersion: a.BundleVersion, Name: a.Name, IconURL: a.IconURL, Description: a.Description,
		KeepOnUnenroll: a.KeepOnUnenroll, AllowBackup: a.AllowBackup, Version: a.Version,
	}
	for _, c := range a.Config {
		j.Config = append(j.Config, configJSON(c))
	}
	if !a.Created.IsZero() {
		j.Created, j.Updated = &a.Created, &a.Updated
	}
	return j
}

func (j appJSON) app(org storage.OrgID) App {
	a := App{
		ID: j.ID, Org: org, Kind: j.Kind, Identifier: j.Identifier, StoreID: j.StoreID, ManifestURL: j.ManifestURL,
		BundleVersion: j.BundleVersion, Name: j.Name, IconURL: j.IconURL, Description: j.Description,
		KeepOnUnenroll: j.KeepOnUnenroll, AllowBackup: j.AllowBackup, Version: j.Version,
	}
	for _, c := range j.Config {
		a.Config = append(a.Config, ConfigEntry(c))
	}
	return a
}

type assignmentJSON struct {
	AppID   string    `json:"app_id"`
	Group   string    `json:"group"`
	Mode    Mode      `json:"mode"`
	Version int64     `json:"version"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

func toAssignmentJSON(a Assignment) assignmentJSON {
	return assignmentJSON{AppID: a.AppID, Group: a.Group, Mode: a.Mode, Version: a.Version, Created: a.Created, Updated: a.Updated}
}

type itemJSON struct {
	AppID            string `json:"app_id"`
	Kind             Kind   `json:"kind"`
	Identifier       string `json:"identifier"`
	Name             string `json:"name"`
	IconURL          string `json:"icon_url,omitempty"`
	Description      string `json:"description,omitempty"`
	Mode             Mode   `json:"mode"`
	State            State  `json:"state"`
	Reason           string `json:"reason,omitempty"`
	InstalledVersion string `json:"installed_version,omitempty"`
	UpdateAvailable  bool   `json:"update_available,omitempty"`
	Advice           string `json:"advice,omitempty"`
	TakeOver         bool   `json:"take_over,omitempty"`
}

// toItemJSON shows the user what the store needs, never the app's
// configuration (it may name internal hosts).
func toItemJSON(it Item) itemJSON {
	return itemJSON{
		AppID: it.App.ID, Kind: it.App.Kind, Identifier: it.App.Identifier, Name: it.App.Name, IconURL: it.App.IconURL,
		Description: it.App.Description, Mode: it.Mode, State: it.State, Reason: it.Reason,
		InstalledVersion: it.InstalledVersion, UpdateAvailable: it.UpdateAvailable, Advice: it.Advice, TakeOver: it.TakeOver,
	}
}

// Agent handlers.

func (h *handler) storeView(w http.ResponseWriter, r *http.Request, p Principal) {
	v, err := h.svc.View(r.Context(), p.Org, p.UserID, r.PathValue("device"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	items := make([]itemJSON, len(v.Items))
	for i, it := range v.Items {
		items[i] = toItemJSON(it)
	}
	out := map[string]any{"device": v.Device.ID, "apps": items}
	if v.Closed != "" {
		out["closed"] = v.Closed
	}
	jsonapi.Write(w, http.StatusOK, out)
}

func (h *handler) install(w http.ResponseWriter, r *http.Request, p Principal) {
	if !h.emptyBody(w, r) {
		return
	}
	it, err := h.svc.Install(r.Context(), p.Org, p.UserID, r.PathValue("device"), r.PathValue("app"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	jsonapi.Write(w, http.StatusAccepted, toItemJSON(it))
}

func (h *handler) uninstall(w http.ResponseWriter, r *http.Request, p Principal) {
	if !h.emptyBody(w, r) {
		return
	}
	it, err := h.svc.Uninstall(r.Context(), p.Org, p.UserID, r.PathValue("device"), r.PathValue("app"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	jsonapi.Write(w, http.StatusAccepted, toItemJSON(it))
}

// Admin handlers.

func (h *handler) listApps(w http.ResponseWriter, r *http.Request, p Principal) {
	apps, err := h.svc.ListApps(r.Context(), p.Org)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]appJSON, len(apps))
	for i, a := range apps {
		out[i] = toAppJSON(a)
	}
	jsonapi.Write(w, http.StatusOK, map[string]any{"apps": out})
}

func (h *handler) createApp(w http.ResponseWriter, r *http.Request, p Principal) {
	var j appJSON
	if !h.decode(w, r, &j) {
		return
	}
	if j.ID != "" || j.Version != 0 {
		h.fail(w, r, fmt.Errorf("%w: id and version are assigned by the server", errBadRequest))
		return
	}
	a, err := h.svc.CreateApp(r.Context(), j.app(p.Org), p.Actor)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	jsonapi.Write(w, http.StatusCreated, toAppJSON(a))
}

func (h *handler) getApp(w http.ResponseWriter, r *http.Request, p Principal) {
	a, err := h.svc.App(r.Context(), p.Org, r.PathValue("app"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	jsonapi.Write(w, http.StatusOK, toAppJSON(a))
}

func (h *handler) updateApp(w http.ResponseWriter, r *http.Request, p Principal) {
	var j appJSON
	if !h.decode(w, r, &j) {
		return
	}
	if j.ID != "" && j.ID != r.PathValue("app") {
		h.fail(w, r, fmt.Errorf("%w: body names app %q, path %q", errBadRequest, j.ID, r.PathValue("app")))
		return
	}
	j.ID = r.PathValue("app")
	a, err := h.svc.UpdateApp(r.Context(), j.app(p.Org), p.Actor)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	jsonapi.Write(w, http.StatusOK, toAppJSON(a))
}

func (h *handler) deleteApp(w http.ResponseWriter, r *http.Request, p Principal) {
	v, err := strconv.ParseInt(r.URL.Query().Get("version"), 10, 64)
	if err != nil || v <= 0 {
		h.fail(w, r, fmt.Errorf("%w: give the version read as ?version=N", errBadRequest))
		return
	}
	if err := h.svc.DeleteApp(r.Context(), p.Org, r.PathValue("app"), v, p.Actor); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) listAssignments(w http.ResponseWriter, r *http.Request, p Principal) {
	as, err := h.svc.ListAssignments(r.Context(), p.Org, r.PathValue("app"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]assignmentJSON, len(as))
	for i, a := range as {
		out[i] = toAssignmentJSON(a)
	}
	jsonapi.Write(w, http.StatusOK, map[string]any{"assignments": out})
}

type assignmentBody struct {
	Group   string `json:"group"`
	Mode    Mode   `json:"mode"`
	Version int64  `json:"version"`
}

func (h *handler) assign(w http.ResponseWriter, r *http.Request, p Principal) {
	var b assignmentBody
	if !h.decode(w, r, &b) {
		return
	}
	a, err := h.svc.Assign(r.Context(), Assignment{Org: p.Org, AppID: r.PathValue("app"), Group: b.Group, Mode: b.Mode}, p.Actor)
	if err != nil && !errors.Is(err, ErrIncomplete) {
		h.fail(w, r, err)
		return
	}
	h.logPartial(r, err)
	jsonapi.Write(w, http.StatusCreated, toAssignmentJSON(a))
}

func (h *handler) updateAssignment(w http.ResponseWriter, r *http.Request, p Principal) {
	var b assignmentBody
	if !h.decode(w, r, &b) {
		return
	}
	if b.Group != "" && b.Group != r.PathValue("group") {
		h.fail(w, r, fmt.Errorf("%w: body names group %q, path %q", errBadRequest, b.Group, r.PathValue("group")))
		return
	}
	a, err := h.svc.UpdateAssignment(r.Context(), Assignment{Org: p.Org, AppID: r.PathValue("app"), Group: r.PathValue("group"), Mode: b.Mode, Version: b.Version}, p.Actor)
	if err != nil && !errors.Is(err, ErrIncomplete) {
		h.fail(w, r, err)
		return
	}
	h.logPartial(r, err)
	jsonapi.Write(w, http.StatusOK, toAssignmentJSON(a))
}

func (h *handler) unassign(w http.ResponseWriter, r *http.Request, p Principal) {
	err := h.svc.Unassign(r.Context(), p.Org, r.PathValue("app"), r.PathValue("group"), p.Actor)
	if err != nil && !errors.Is(err, ErrIncomplete) {
		h.fail(w, r, err)
		return
	}
	h.logPartial(r, err)
	w.WriteHeader(http.StatusNoContent)
}

// logPartial logs a failure to reach some devices after an assignment
// change that was stored: the change stands, and the devices catch up at
// their next synchronization.
func (h *handler) logPartial(r *http.Request, err error) {
	if err != nil {
		h.log.WarnContext(r.Context(), "catalog: assignment stored, some devices not synchronized", "path", r.URL.Path, "err", err)
	}
}

// JSON plumbing.

func (h *handler) emptyBody(w http.ResponseWriter, r *http.Request) bool {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		h.fail(w, r, errTooLarge)
		return false
	}
	if len(bytes.TrimSpace(b)) > 0 && string(bytes.TrimSpace(b)) != "{}" {
		h.fail(w, r, fmt.Errorf("%w: this request takes no body", errBadRequest))
		return false
	}
	return true
}

func (h *handler) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			h.fail(w, r, errTooLarge)
		} else {
			h.fail(w, r, fmt.Errorf("%w: reading the body: %v", errBadRequest, err))
		}
		return false
	}
	if err := decodeJSON(b, v); err != nil {
		h.fail(w, r, err)
		return false
	}
	return true
}

// decodeJSON decodes one JSON object into v: nesting at most
// MaxJSONDepth, no unknown fields, nothing after it.
func decodeJSON(data []byte, v any) error {
	if err := jsonapi.Unmarshal(data, v, MaxJSONDepth); err != nil {
		return fmt.Errorf("%w: %w", errBadRequest, err)
	}
	return nil
}

// errorCode maps an error to its stable API code and HTTP status.
func errorCode(err error) (string, int) {
	return jsonapi.Codes{
		{Err: errUnauthenticated, Code: "unauthenticated", Status: http.StatusUnauthorized},
		{Err: errTooLarge, Code: "too_large", Status: http.StatusRequestEntityTooLarge},
		{Err: errBadRequest, Code: "invalid_request", Status: http.StatusBadRequest},
		{Err: ErrUnsupportedChannel, Code: "unsupported_channel", Status: http.StatusUnprocessableEntity},
		{Err: ErrUnresolved, Code: "unresolved_placeholder", Status: http.StatusUnprocessableEntity},
		{Err: ErrWrongState, Code: "wrong_state", Status: http.StatusConflict},
		{Err: ErrNotManaged, Code: "not_managed", Status: http.StatusConflict},
		{Err: storage.ErrInvalid, Code: "invalid_request", Status: http.StatusBadRequest},
		{Err: storage.ErrNotFound, Code: "not_found", Status: http.StatusNotFound},
		{Err: storage.ErrAlreadyExists, Code: "already_exists", Status: http.StatusConflict},
		{Err: storage.ErrConflict, Code: "conflict", Status: http.StatusConflict},
	}.Lookup(err)
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	code, status := errorCode(err)
	msg := err.Error()
	if status == http.StatusInternalServerError {
		h.log.ErrorContext(r.Context(), "catalog: request failed", "path", r.URL.Path, "err", err)
		msg = "internal error"
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	jsonapi.Error(w, status, code, msg)
}
