package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/openomm/omm"
	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/storage"
)

//go:embed web
var webFS embed.FS

// Cookies of the web UI. The __Host- prefix pins them to this host, path /
// and HTTPS.
const (
	sessionCookie = "__Host-omm_session" // the auth session token
	adminCookie   = "__Host-omm_admin"   // the console session (never the admin token)
	preCookie     = "__Host-omm_pre"     // random binding for forms before sign-in
)

// maxFormBody bounds every form post.
const maxFormBody = 16 << 10

// page is what every template gets.
type page struct {
	Title string
	CSRF  string
	Error string
	// Nav selects the navigation: "portal", "admin" or "".
	Nav  string
	Data any
}

func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"qrsvg":        qrSVG,
		"bytes":        func(s string) []byte { return []byte(s) },
		"platformName": omm.PlatformName,
		"when": func(t any) string {
			switch v := t.(type) {
			case time.Time:
				if v.IsZero() {
					return "never"
				}
				return v.UTC().Format("2006-01-02 15:04 UTC")
			case *time.Time:
				if v == nil || v.IsZero() {
					return "never"
				}
				return v.UTC().Format("2006-01-02 15:04 UTC")
			}
			return ""
		},
	}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(webFS, "web/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web templates: %w", err)
	}
	names, err := fs.Glob(webFS, "web/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "web/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(webFS, n)
		if err != nil {
			return nil, fmt.Errorf("web template %s: %w", n, err)
		}
		pages[name] = t
	}
	return pages, nil
}

func (s *server) render(w http.ResponseWriter, status int, name string, p page) {
	t, ok := s.pages[name]
	if !ok {
		s.log.Error("missing web template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf strings.Builder
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		s.log.Error("web template failed", "name", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(buf.String()))
}

// message renders a page with a heading, a text and a link onwards.
type message struct {
	Heading, Text, Link, LinkText string
}

func (s *server) renderMessage(w http.ResponseWriter, status int, nav string, m message) {
	s.render(w, status, "message", page{Title: m.Heading, Nav: nav, Data: m})
}

// csrfToken derives the form token for a binding (session token, admin
// token or pre-session ID): per session, unguessable without the server's
// key, and needing no server-side state.
func (s *server) csrfToken(purpose, binding string) string {
	if binding == "" {
		return ""
	}
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(binding))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *server) csrfOK(r *http.Request, purpose, binding string) bool {
	want := s.csrfToken(purpose, binding)
	got := r.PostFormValue("csrf")
	return want != "" && hmac.Equal([]byte(got), []byte(want))
}

// parseForm reads a form post of at most maxFormBody bytes and checks its
// CSRF token; on failure it has answered the request.
func (s *server) parseForm(w http.ResponseWriter, r *http.Request, purpose, binding string) bool {
	return s.parseFormMax(w, r, purpose, binding, maxFormBody)
}

// parseFormMax is parseForm for a form of at most limit bytes.
func (s *server) parseFormMax(w http.ResponseWriter, r *http.Request, purpose, binding string, limit int64) bool {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := r.ParseForm(); err != nil {
		s.renderMessage(w, http.StatusBadRequest, "", message{Heading: "Request not understood",
			Text: "The form could not be read (too large or malformed). Please try again.", Link: "/", LinkText: "Start page"})
		return false
	}
	if !s.csrfOK(r, purpose, binding) {
		s.renderMessage(w, http.StatusForbidden, "", message{Heading: "Form expired",
			Text: "This form is no longer valid (it was opened in another session, or the session ended). Please reload the page and try again.",
			Link: "/", LinkText: "Start page"})
		return false
	}
	return true
}

func cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil || len(c.Value) > 256 {
		return ""
	}
	return c.Value
}

func setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: int(maxAge.Seconds()),
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
}

func clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
}

// preSession returns the visitor's pre-session binding, setting a new one
// when there is none.
func preSession(w http.ResponseWriter, r *http.Request) string {
	if v := cookieValue(r, preCookie); v != "" {
		return v
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand.Read does not fail
	}
	v := base64.RawURLEncoding.EncodeToString(b)
	setCookie(w, preCookie, v, 12*time.Hour)
	return v
}

func (s *server) webRoutes(mux *router) {
	static, _ := fs.Sub(webFS, "web/static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s.render(w, http.StatusOK, "home", page{Title: "Open Mobile Management"})
	})
	s.portalRoutes(mux)
	s.consoleRoutes(mux)
}

// signInError turns a sign-in flow error into words for the person.
func signInError(err error) (int, string) {
	var th *auth.ThrottledError
	switch {
	case errors.As(err, &th):
		return http.StatusTooManyRequests, "Too many failed attempts. Please wait a moment and try again."
	case errors.Is(err, auth.ErrUnknownSite):
		return http.StatusUnauthorized, "No organization uses that site name."
	case errors.Is(err, auth.ErrInvalidCredentials):
		return http.StatusUnauthorized, "Wrong username or password."
	case errors.Is(err, auth.ErrInvalidCode):
		return http.StatusUnauthorized, "That code is wrong or expired."
	case errors.Is(err, auth.ErrInvalidPIN):
		return http.StatusUnauthorized, "Wrong PIN."
	case errors.Is(err, auth.ErrPINRejected):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, auth.ErrBadRequest), errors.Is(err, storage.ErrInvalid):
		return http.StatusBadRequest, "Please check what you entered."
	}
	return 0, ""
}

// nextStep is where a session that err says is not ready goes next.
func nextStep(err error) string {
	switch {
	case errors.Is(err, auth.ErrMFARequired):
		return "/signin/mfa"
	case errors.Is(err, auth.ErrPINSetupRequired), errors.Is(err, auth.ErrPINRequired), errors.Is(err, auth.ErrPINExpired):
		return "/signin/pin"
	}
	return "/signin"
}

// webPrincipal authenticates the browser's session; when it is not ready
// it redirects to the step it needs and returns false.
func (s *server) webPrincipal(w http.ResponseWriter, r *http.Request) (auth.Principal, string, bool) {
	token := cookieValue(r, sessionCookie)
	if token == "" {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return auth.Principal{}, "", false
	}
	p, err := s.sdk.Auth.Authenticate(r.Context(), token)
	if err != nil {
		next := nextStep(err)
		if next == "/signin" {
			// Revoked, expired, locked, or a failure of ours: start over.
			if !errors.Is(err, auth.ErrInvalidSession) && !errors.Is(err, auth.ErrPINLocked) {
				s.log.Error("web session check failed", "err", err)
			}
			clearCookie(w, sessionCookie)
		}
		http.Redirect(w, r, next, http.StatusSeeOther)
		return auth.Principal{}, "", false
	}
	return p, token, true
}
