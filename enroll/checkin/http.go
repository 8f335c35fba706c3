package checkin

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/openomm/omm/enroll/mdm"
	"github.com/openomm/omm/storage"
)

// CheckInHandler serves check-in messages (the profile's CheckInURL) and
// ServerHandler command results and next commands (its ServerURL). Like
// every device-facing handler of the SDK they take the org from the
// caller's route pattern, {org}:
//
//	mux.Handle("PUT /mdm/{org}/checkin", svc.CheckInHandler())
//	mux.Handle("PUT /mdm/{org}/server", svc.ServerHandler())
//
// The TLS layer should request (not require) client certificates; devices
// that sign with Mdm-Signature send none. Behind a TLS-terminating proxy,
// see [WithTrustedProxy].
func (s *Service) CheckInHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, int64(mdm.CheckInLimits.MaxSize), s.checkIn)
	})
}

// ServerHandler serves command results and next commands; see
// [Service.CheckInHandler].
func (s *Service) ServerHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, int64(mdm.ResultLimits.MaxSize), func(ctx context.Context, org storage.OrgID, p Proof, body []byte) ([]byte, bool, error) {
			out, err := s.Connect(ctx, org, p, body)
			return out, false, err
		})
	})
}

// Mount registers both endpoints on mux at their usual paths,
// /mdm/{org}/checkin and /mdm/{org}/server.
func (s *Service) Mount(mux *http.ServeMux) {
	mux.Handle("PUT /mdm/{org}/checkin", s.CheckInHandler())
	mux.Handle("PUT /mdm/{org}/server", s.ServerHandler())
}

func (s *Service) serve(w http.ResponseWriter, r *http.Request, limit int64,
	handle func(ctx context.Context, org storage.OrgID, p Proof, body []byte) ([]byte, bool, error)) {
	org := storage.OrgID(r.PathValue("org"))
	if org.Validate() != nil {
		http.Error(w, "unknown org", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	p, err := s.Proof(r)
	var out []byte
	var isJSON bool
	if err == nil {
		out, isJSON, err = handle(r.Context(), org, p, body)
	}
	if err != nil {
		status := statusOf(err)
		if status >= 500 {
			s.log.ErrorContext(r.Context(), "checkin: request failed", "org", org, "path", r.URL.Path, "err", err)
		} else {
			s.log.InfoContext(r.Context(), "checkin: request refused", "org", org, "path", r.URL.Path, "status", status, "err", err)
		}
		http.Error(w, http.StatusText(status), status)
		return
	}
	if len(out) == 0 {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	if isJSON {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Write(out) //nolint:errcheck // the device retries on a broken connection
}

// statusOf maps an error to the status a device understands. 401 makes a
// device remove its enrollment: it is the answer to an identity of an
// enrollment that has ended (ErrEnded), and to nothing else.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrEnded):
		return http.StatusUnauthorized
	case errors.Is(err, ErrNoIdentity), errors.Is(err, mdm.ErrMalformed), errors.Is(err, mdm.ErrUnknownMessage),
		errors.Is(err, storage.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, ErrDeclined):
		return http.StatusGone
	case errors.Is(err, ErrUnsupported), errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}
