package ota

import (
	"context"
	"errors"
	"html/template"
	"io"
	"net/http"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
)

const mobileconfigType = "application/x-apple-aspen-config"

// ProfileHandler serves phase 1 (GET …/enroll/{org}/profile?token=…).
func (s *Service) ProfileHandler() http.Handler {
	return s.tokenHandler(s.ServiceProfile)
}

// MobileconfigHandler serves the direct enrollment profile
// (GET …/enroll/{org}/mobileconfig?token=…).
func (s *Service) MobileconfigHandler() http.Handler {
	return s.tokenHandler(s.DirectProfile)
}

func (s *Service) tokenHandler(serve func(ctx context.Context, org storage.OrgID, token string) ([]byte, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		org := storage.OrgID(r.PathValue("org"))
		token := r.URL.Query().Get("token")
		if len(token) > 256 {
			http.Error(w, "token too long", http.StatusBadRequest)
			return
		}
		out, err := serve(r.Context(), org, token)
		if err != nil {
			s.failLink(w, r, err)
			return
		}
		w.Header().Set("Content-Type", mobileconfigType)
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(out)
	})
}

// PostHandler serves phases 2 and 3 (POST …/enroll/{org}/ota?session=…),
// reading at most MaxBodySize bytes.
func (s *Service) PostHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodySize))
		if err != nil {
			http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
			return
		}
		out, err := s.Post(r.Context(), storage.OrgID(r.PathValue("org")), r.URL.Query().Get("session"), body)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		w.Header().Set("Content-Type", mobileconfigType)
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(out)
	})
}

// linkRefusedPage is what a person sees who opens an enrollment link that
// no longer works (used, expired, revoked, or not a link at all): the
// link is opened in a browser (Safari on the device, or elsewhere), so it
// says in words what happened and what to do, never why in detail.
var linkRefusedPage = template.Must(template.New("link").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>This enrollment link no longer works</title></head>
<body>
<main>
<h1>This enrollment link no longer works</h1>
<p>An enrollment link works once, for a short time, and only while its user may enroll. This one was already used, has expired, or was withdrawn{{if .Unavailable}} (or the server cannot check it right now){{end}}.</p>
<p>If the device did not finish enrolling, go back to your organization's portal or the OMM agent app and start the enrollment again: you get a new link.</p>
</main>
</body>
</html>
`))

// failLink answers a refused enrollment link with linkRefusedPage and
// the status fail would give; the reason goes to the log.
func (s *Service) failLink(w http.ResponseWriter, r *http.Request, err error) {
	status := s.status(err)
	s.log.InfoContext(r.Context(), "ota: enrollment link refused", "path", r.URL.Path, "status", status, "err", err)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Referrer-Policy", "no-referrer") // the token is in the URL
	w.WriteHeader(status)
	_ = linkRefusedPage.Execute(w, struct{ Unavailable bool }{status >= 500})
}

// fail maps errors to statuses: the device shows a failed installation;
// the reason goes to the log, not to the device.
func (s *Service) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := s.status(err)
	s.log.InfoContext(r.Context(), "ota: request refused", "path", r.URL.Path, "status", status, "err", err)
	http.Error(w, http.StatusText(status), status)
}

// status is the HTTP status of a refusal.
func (s *Service) status(err error) int {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, enroll.ErrChallenge), errors.Is(err, ErrSession), errors.Is(err, enroll.ErrPhase):
		status = http.StatusForbidden
	case errors.Is(err, ErrSignature), errors.Is(err, auth.ErrUserInactive):
		status = http.StatusForbidden
	case errors.Is(err, ErrBody), errors.Is(err, storage.ErrInvalid):
		status = http.StatusBadRequest
	case errors.Is(err, storage.ErrNotFound):
		status = http.StatusNotFound
	}
	return status
}
