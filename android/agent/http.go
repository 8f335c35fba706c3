package agent

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/internal/jsonapi"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

// Limits on request bodies.
const (
	MaxBodyBytes   = 64 << 10 // enroll and acknowledge
	MaxReportBytes = inventory.DefaultMaxReportSize
	MaxDepth       = 32
)

// Error codes, stable for the agent to act on.
const (
	CodeBadRequest   = "bad_request"
	CodeTooLarge     = "too_large"
	CodeTokenInvalid = "token_invalid"
	CodeUnauthorized = "unauthorized"
	CodeNotFound     = "not_found"
	CodeConflict     = "conflict"
	CodeNotAllowed   = "method_not_allowed"
	CodeInternal     = "internal"
)

// Handler serves the agent protocol over an android.Service.
type Handler struct {
	svc *android.Service
	log *slog.Logger
	mux *http.ServeMux
}

// Option configures New.
type Option func(*Handler)

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// New returns the agent protocol handler.
func New(svc *android.Service, opts ...Option) *Handler {
	h := &Handler{svc: svc, log: slog.Default(), mux: http.NewServeMux()}
	for _, o := range opts {
		o(h)
	}
	h.mux.HandleFunc("/enroll", h.enroll)
	h.mux.HandleFunc("/policy", h.authed(http.MethodGet, h.policy))
	h.mux.HandleFunc("/status", h.authed(http.MethodPost, h.status))
	h.mux.HandleFunc("/commands", h.authed(http.MethodGet, h.commands))
	h.mux.HandleFunc("/commands/ack", h.authed(http.MethodPost, h.ack))
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// EnrollRequest is the body of POST /enroll.
type EnrollRequest struct {
	Token        string `json:"token"`
	Identifier   string `json:"identifier"`
	SerialNumber string `json:"serial_number,omitempty"`
}

// EnrollResponse answers POST /enroll.
type EnrollResponse struct {
	DeviceID    string `json:"device_id"`
	Credential  string `json:"credential"`
	Mode        string `json:"mode"`
	KnoxLicense string `json:"knox_license,omitempty"`
}

// AckRequest is the body of POST /commands/ack.
type AckRequest struct {
	ID     string         `json:"id"`
	Status android.Status `json:"status"`
	Detail string         `json:"detail,omitempty"`
}

// CommandView is one pending command as the agent sees it.
type CommandView struct {
	ID   string              `json:"id"`
	Kind android.CommandKind `json:"kind"`
	Wipe android.WipeKind    `json:"wipe,omitempty"`
}

// StatusResponse answers POST /status: what was kept and what dropped.
type StatusResponse struct {
	Values  int               `json:"values"`
	Apps    int               `json:"apps"`
	Dropped inventory.Dropped `json:"dropped"`
}

func (h *Handler) enroll(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		h.fail(w, r, http.StatusMethodNotAllowed, CodeNotAllowed, "use POST")
		return
	}
	var req EnrollRequest
	if !h.decode(w, r, MaxBodyBytes, &req) {
		return
	}
	if req.Token == "" || req.Identifier == "" {
		h.fail(w, r, http.StatusBadRequest, CodeBadRequest, "token and identifier are required")
		return
	}
	out, err := h.svc.Enroll(r.Context(), android.EnrollRequest{Token: req.Token, Identifier: req.Identifier, SerialNumber: req.SerialNumber})
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	h.reply(w, http.StatusOK, EnrollResponse{DeviceID: out.Device.ID, Credential: out.Credential, Mode: string(out.Device.Mode), KnoxLicense: out.KnoxLicense})
}

func (h *Handler) policy(w http.ResponseWriter, r *http.Request, d android.Device) {
	level, err := strconv.Atoi(r.URL.Query().Get("api_level"))
	if err != nil || level < 1 || level > 1000 {
		h.fail(w, r, http.StatusBadRequest, CodeBadRequest, "api_level must be the device's API level")
		return
	}
	p, err := h.svc.AgentPolicy(r.Context(), d, level)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	h.reply(w, http.StatusOK, p)
}

func (h *Handler) status(w http.ResponseWriter, r *http.Request, d android.Device) {
	body, ok := h.read(w, r, MaxReportBytes)
	if !ok {
		return
	}
	res, err := h.svc.Report(r.Context(), d, body)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	if res.Dropped.Forbidden > 0 {
		h.log.WarnContext(r.Context(), "android agent reported forbidden keys; dropped", "org", d.Org, "device", d.ID, "keys", res.Dropped.ForbiddenKeys)
	}
	h.reply(w, http.StatusOK, StatusResponse{Values: res.Values, Apps: res.Apps, Dropped: res.Dropped})
}

func (h *Handler) commands(w http.ResponseWriter, r *http.Request, d android.Device) {
	list, err := h.svc.Commands(r.Context(), d)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	views := make([]CommandView, 0, len(list))
	for _, c := range list {
		views = append(views, CommandView{ID: c.ID, Kind: c.Kind, Wipe: c.Wipe})
	}
	h.reply(w, http.StatusOK, map[string]any{"commands": views})
}

func (h *Handler) ack(w http.ResponseWriter, r *http.Request, d android.Device) {
	var req AckRequest
	if !h.decode(w, r, MaxBodyBytes, &req) {
		return
	}
	if req.ID == "" || len(req.ID) > 64 {
		h.fail(w, r, http.StatusBadRequest, CodeBadRequest, "id is required")
		return
	}
	c, err := h.svc.Acknowledge(r.Context(), d, req.ID, req.Status, req.Detail)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	h.reply(w, http.StatusOK, map[string]string{"id": c.ID, "status": string(c.Status)})
}

// authed wraps a handler with the method check and the credential.
func (h *Handler) authed(method string, next func(http.ResponseWriter, *http.Request, android.Device)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method {
			h.fail(w, r, http.StatusMethodNotAllowed, CodeNotAllowed, "use "+method)
			return
		}
		cred, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || cred == "" {
			h.fail(w, r, http.StatusUnauthorized, CodeUnauthorized, "device credential required")
			return
		}
		d, err := h.svc.Authenticate(r.Context(), cred)
		if err != nil {
			h.serviceError(w, r, err)
			return
		}
		next(w, r, d)
	}
}

// read reads a body of at most limit bytes that is a JSON value nested no
// deeper than MaxDepth.
func (h *Handler) read(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		h.fail(w, r, http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("body over %d bytes", limit))
		return nil, false
	}
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, CodeBadRequest, "could not read the body")
		return nil, false
	}
	if err := jsonapi.CheckDepth(body, MaxDepth); err != nil {
		h.fail(w, r, http.StatusBadRequest, CodeBadRequest, err.Error())
		return nil, false
	}
	return body, true
}

// decode reads a body into v strictly: no unknown fields, no trailing data.
func (h *Handler) decode(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	body, ok := h.read(w, r, limit)
	if !ok {
		return false
	}
	if err := jsonapi.Unmarshal(body, v, MaxDepth); err != nil {
		h.fail(w, r, http.StatusBadRequest, CodeBadRequest, err.Error())
		return false
	}
	return true
}

func (h *Handler) serviceError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, android.ErrToken):
		h.fail(w, r, http.StatusForbidden, CodeTokenInvalid, "enrollment token not valid")
	case errors.Is(err, android.ErrCredential):
		h.fail(w, r, http.StatusUnauthorized, CodeUnauthorized, "device credential not valid")
	case errors.Is(err, storage.ErrNotFound):
		h.fail(w, r, http.StatusNotFound, CodeNotFound, "not found")
	case errors.Is(err, storage.ErrConflict), errors.Is(err, storage.ErrAlreadyExists), errors.Is(err, android.ErrNotPermitted):
		h.fail(w, r, http.StatusConflict, CodeConflict, err.Error())
	case errors.Is(err, storage.ErrInvalid), errors.Is(err, inventory.ErrReport):
		h.fail(w, r, http.StatusBadRequest, CodeBadRequest, err.Error())
	default:
		h.log.ErrorContext(r.Context(), "android agent request failed", "path", r.URL.Path, "err", err)
		h.fail(w, r, http.StatusInternalServerError, CodeInternal, "internal error")
	}
}

func (h *Handler) fail(w http.ResponseWriter, _ *http.Request, status int, code, msg string) {
	jsonapi.Error(w, status, code, msg)
}

func (h *Handler) reply(w http.ResponseWriter, status int, v any) { jsonapi.Write(w, status, v) }
