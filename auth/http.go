package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/openomm/omm/internal/jsonapi"
	"github.com/openomm/omm/storage"
)

// JSON input limits of the HTTP API.
const (
	MaxBodyBytes = 16 << 10
	maxJSONDepth = 4
)

// NewHandler returns the agent app's sign-in API over svc. Mount it under a
// prefix of your choice with http.StripPrefix; its routes are:
//
//	POST /signin            {"site","username","password"[,"previous_token"]} → session (with "token")
//	GET  /session           → session
//	POST /mfa/send          {"channel":"sms"|"voice"} → {"expires"}
//	POST /mfa/verify        {"method":"totp"|"sms"|"voice","code"} → session
//	POST /mfa/totp/enroll   → {"secret","uri"}
//	POST /mfa/totp/confirm  {"code"} → session
//	POST /pin               {"pin","confirm"} → session
//	POST /pin/verify        {"pin"} → session
//	POST /signout           → 204
//
// Every route but /signin takes "Authorization: Bearer <token>". Each
// privilege step (MFA passed, PIN set or verified) replaces the session's
// token: its answer carries the new "token", and the one sent stops
// working. "previous_token" on /signin is a token this app was handed
// before, of any state: it shows the app signed in to the account before,
// so that others' wrong passwords do not throttle it (see
// [Service.SignInFrom]); the client's address is the request's
// ([WithClientSource] changes that). A session is answered as
// {"state","next","expires","methods"}: next is "none" when
// the session is ready, else the code of what it needs ("mfa_required",
// "pin_setup_required", "pin_required", "pin_expired"). Errors are
// {"error":{"code","message"}} with a stable code (see the sentinel errors)
// and, for "throttled", a Retry-After header. Bodies are JSON objects of at
// most MaxBodyBytes, nested at most 4 deep, without unknown fields.
func NewHandler(svc *Service, opts ...HandlerOption) http.Handler {
	h := &handler{svc: svc, source: remoteHost}
	for _, o := range opts {
		o(h)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /signin", h.signIn)
	mux.HandleFunc("GET /session", h.session)
	mux.HandleFunc("POST /mfa/send", h.sendCode)
	mux.HandleFunc("POST /mfa/verify", h.verifyMFA)
	mux.HandleFunc("POST /mfa/totp/enroll", h.enrollTOTP)
	mux.HandleFunc("POST /mfa/totp/confirm", h.confirmTOTP)
	mux.HandleFunc("POST /pin", h.setPIN)
	mux.HandleFunc("POST /pin/verify", h.verifyPIN)
	mux.HandleFunc("POST /signout", h.signOut)
	return mux
}

type handler struct {
	svc    *Service
	source func(*http.Request) string
}

// HandlerOption configures [NewHandler].
type HandlerOption func(*handler)

// WithClientSource sets how the sign-in throttle names a request's client
// ([Client.Source]); by default, the host of the connection's address. A
// host behind a proxy that it trusts passes the address the proxy saw.
func WithClientSource(fn func(*http.Request) string) HandlerOption {
	return func(h *handler) { h.source = fn }
}

// remoteHost is the host part of the connection's address.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type sessionView struct {
	Token   string   `json:"token,omitempty"`
	State   State    `json:"state"`
	Next    string   `json:"next"`
	Expires string   `json:"expires"`
	Methods []Method `json:"methods,omitempty"`
	UserID  string   `json:"user_id"`
}

func (h *handler) view(ctx context.Context, sess Session, token string) (sessionView, error) {
	v := sessionView{State: sess.State, Next: "none", Expires: sess.Expires.UTC().Format(time.RFC3339), UserID: sess.UserID}
	st, err := h.svc.Status(ctx, token)
	if err != nil {
		return v, err
	}
	if st.Need != nil {
		v.Next, _ = errorCode(st.Need)
	}
	if sess.State == StateMFA {
		if v.Methods, err = h.svc.methods(ctx, st.User); err != nil {
			return v, err
		}
	}
	return v, nil
}

func (h *handler) signIn(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Site          string `json:"site"`
		Username      string `json:"username"`
		Password      string `json:"password"`
		PreviousToken string `json:"previous_token"`
	}
	if !h.decode(w, r, &in) {
		return
	}
	c := Client{Source: h.source(r), PreviousToken: in.PreviousToken}
	res, err := h.svc.SignInFrom(r.Context(), c, in.Site, in.Username, in.Password)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respondSession(w, r, res.Session, res.Token, true)
}

func (h *handler) respondSession(w http.ResponseWriter, r *http.Request, sess Session, token string, showToken bool) {
	v, err := h.view(r.Context(), sess, token)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if showToken {
		v.Token = token
	}
	jsonapi.Write(w, http.StatusOK, v)
}

// respondStep answers a step with the session, and with its new token
// when the step rotated it.
func (h *handler) respondStep(w http.ResponseWriter, r *http.Request, sess Session, token string) {
	if sess.Token != "" {
		h.respondSession(w, r, sess, sess.Token, true)
		return
	}
	h.respondSession(w, r, sess, token, false)
}

func (h *handler) session(w http.ResponseWriter, r *http.Request) {
	token, ok := h.bearer(w, r)
	if !ok {
		return
	}
	st, err := h.svc.Status(r.Context(), token)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respondSession(w, r, st.Session, token, false)
}

func (h *handler) sendCode(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Channel Channel `json:"channel"`
	}
	token, ok := h.bearer(w, r)
	if !ok || !h.decode(w, r, &in) {
		return
	}
	expires, err := h.svc.SendCode(r.Context(), token, in.Channel)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	jsonapi.Write(w, http.StatusOK, map[string]string{"expires": expires.UTC().Format(time.RFC3339)})
}

func (h *handler) verifyMFA(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Method Method `json:"method"`
		Code   string `json:"code"`
	}
	token, ok := h.bearer(w, r)
	if !ok || !h.decode(w, r, &in) {
		return
	}
	sess, err := h.svc.VerifyMFA(r.Context(), token, in.Method, in.Code)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respondStep(w, r, sess, token)
}

func (h *handler) enrollTOTP(w http.ResponseWriter, r *http.Request) {
	var in struct{}
	token, ok := h.bearer(w, r)
	if !ok || !h.decodeOptional(w, r, &in) {
		return
	}
	e, err := h.svc.EnrollTOTP(r.Context(), token)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	jsonapi.Write(w, http.StatusOK, map[string]string{"secret": e.Secret, "uri": e.URI})
}

func (h *handler) confirmTOTP(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Code string `json:"code"`
	}
	token, ok := h.bearer(w, r)
	if !ok || !h.decode(w, r, &in) {
		return
	}
	sess, err := h.svc.ConfirmTOTP(r.Context(), token, in.Code)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respondStep(w, r, sess, token)
}

func (h *handler) setPIN(w http.ResponseWriter, r *http.Request) {
	var in struct {
		PIN     string `json:"pin"`
		Confirm string `json:"confirm"`
	}
	token, ok := h.bearer(w, r)
	if !ok || !h.decode(w, r, &in) {
		return
	}
	sess, err := h.svc.SetPIN(r.Context(), token, in.PIN, in.Confirm)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respondStep(w, r, sess, token)
}

func (h *handler) verifyPIN(w http.ResponseWriter, r *http.Request) {
	var in struct {
		PIN string `json:"pin"`
	}
	token, ok := h.bearer(w, r)
	if !ok || !h.decode(w, r, &in) {
		return
	}
	sess, err := h.svc.VerifyPIN(r.Context(), token, in.PIN)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respondStep(w, r, sess, token)
}

func (h *handler) signOut(w http.ResponseWriter, r *http.Request) {
	token, ok := h.bearer(w, r)
	if !ok {
		return
	}
	if err := h.svc.SignOut(r.Context(), token); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// bearer returns the request's bearer token, or answers invalid_session.
func (h *handler) bearer(w http.ResponseWriter, r *http.Request) (string, bool) {
	token, ok := bearerToken(r)
	if !ok {
		h.fail(w, r, ErrInvalidSession)
	}
	return token, ok
}

func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

func (h *handler) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := decodeJSON(http.MaxBytesReader(w, r.Body, MaxBodyBytes), v, false); err != nil {
		h.fail(w, r, err)
		return false
	}
	return true
}

// decodeOptional is decode for routes whose body may be empty.
func (h *handler) decodeOptional(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := decodeJSON(http.MaxBytesReader(w, r.Body, MaxBodyBytes), v, true); err != nil {
		h.fail(w, r, err)
		return false
	}
	return true
}

// decodeJSON reads one JSON object from body into v: at most MaxBodyBytes,
// nested at most maxJSONDepth deep, no unknown fields, nothing after it.
// Every failure wraps ErrBadRequest.
func decodeJSON(body io.Reader, v any, emptyOK bool) error {
	err := jsonapi.Decode(body, v, jsonapi.Limits{MaxBytes: MaxBodyBytes, MaxDepth: maxJSONDepth, AllowEmpty: emptyOK})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	return nil
}

// errorCode maps an error to its stable API code and HTTP status.
func errorCode(err error) (string, int) {
	return jsonapi.Codes{
		{Err: ErrBadRequest, Code: "invalid_request", Status: http.StatusBadRequest},
		{Err: ErrUnknownSite, Code: "unknown_site", Status: http.StatusNotFound},
		{Err: ErrInvalidCredentials, Code: "invalid_credentials", Status: http.StatusUnauthorized},
		{Err: ErrThrottled, Code: "throttled", Status: http.StatusTooManyRequests},
		{Err: ErrInvalidSession, Code: "invalid_session", Status: http.StatusUnauthorized},
		{Err: ErrMFARequired, Code: "mfa_required", Status: http.StatusForbidden},
		{Err: ErrInvalidCode, Code: "invalid_code", Status: http.StatusUnauthorized},
		{Err: ErrNoFactor, Code: "factor_unavailable", Status: http.StatusConflict},
		{Err: ErrFactorExists, Code: "factor_exists", Status: http.StatusConflict},
		{Err: ErrPINSetupRequired, Code: "pin_setup_required", Status: http.StatusForbidden},
		{Err: ErrPINRequired, Code: "pin_required", Status: http.StatusForbidden},
		{Err: ErrPINExpired, Code: "pin_expired", Status: http.StatusForbidden},
		{Err: ErrInvalidPIN, Code: "invalid_pin", Status: http.StatusUnauthorized},
		{Err: ErrPINLocked, Code: "pin_locked", Status: http.StatusUnauthorized},
		{Err: ErrPINRejected, Code: "pin_rejected", Status: http.StatusUnprocessableEntity},
		{Err: ErrWrongState, Code: "wrong_state", Status: http.StatusConflict},
		{Err: storage.ErrInvalid, Code: "invalid_request", Status: http.StatusBadRequest},
	}.Lookup(err)
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	code, status := errorCode(err)
	msg := err.Error()
	if status == http.StatusInternalServerError {
		h.svc.cfg.log.ErrorContext(r.Context(), "auth: request failed", "path", r.URL.Path, "err", err)
		msg = "internal error"
	}
	var te *ThrottledError
	if errors.As(err, &te) {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(te.RetryAfter.Seconds()))))
	}
	if status == http.StatusUnauthorized && code == "invalid_session" {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	jsonapi.Error(w, status, code, msg)
}

type principalKey struct{}

// Require wraps next so that it runs only for a fully signed-in user: the
// request's bearer token must name an active, unlocked session (see
// [Service.Authenticate]); otherwise it answers with the JSON error. next
// finds the principal with [PrincipalFrom].
func (s *Service) Require(next http.Handler) http.Handler {
	h := &handler{svc: s}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := h.bearer(w, r)
		if !ok {
			return
		}
		p, err := s.Authenticate(r.Context(), token)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// PrincipalFrom returns the principal [Service.Require] put in ctx.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
