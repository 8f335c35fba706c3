package scep

import (
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/openomm/omm/storage"
)

// Handler returns the SCEP HTTP endpoint. Mount it on a pattern with an
// {org} wildcard, e.g. "/scep/{org}"; the org is the storage.OrgID. It
// answers GetCACaps, GetCACert and PKIOperation (POST body, or GET with the
// base64 message parameter), with request bodies limited to MaxMessageSize.
func (s *Service) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		org := storage.OrgID(r.PathValue("org"))
		if org.Validate() != nil {
			http.Error(w, "unknown organization", http.StatusNotFound)
			return
		}
		switch op := r.URL.Query().Get("operation"); op {
		case "GetCACaps":
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, Capabilities)
		case "GetCACert":
			cert, err := s.CACertificate(r.Context(), org)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			w.Header().Set("Content-Type", "application/x-x509-ca-cert")
			_, _ = w.Write(cert.Raw)
		case "PKIOperation":
			msg, err := readMessage(w, r)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			reply, err := s.PKIOperation(r.Context(), org, msg)
			if reply == nil {
				s.fail(w, r, err)
				return
			}
			w.Header().Set("Content-Type", "application/x-pki-message")
			_, _ = w.Write(reply)
		default:
			http.Error(w, "unknown SCEP operation", http.StatusBadRequest)
		}
	})
}

func readMessage(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	switch r.Method {
	case http.MethodPost:
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxMessageSize))
		if err != nil {
			return nil, errors.New("message too large or unreadable")
		}
		return body, nil
	case http.MethodGet:
		m := r.URL.Query().Get("message")
		if base64.StdEncoding.DecodedLen(len(m)) > MaxMessageSize {
			return nil, errors.New("message too large")
		}
		// Some clients do not escape '+' in the query.
		b, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(m, " ", "+"))
		if err != nil {
			return nil, errors.New("message is not base64")
		}
		return b, nil
	}
	return nil, errors.New("PKIOperation needs GET or POST")
}

func (s *Service) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrMessage), errors.Is(err, ErrUnsupported), errors.Is(err, storage.ErrInvalid):
		status = http.StatusBadRequest
	case errors.Is(err, storage.ErrNotFound):
		status = http.StatusNotFound
	}
	if status == http.StatusInternalServerError {
		s.log.ErrorContext(r.Context(), "scep request failed", "err", err)
		http.Error(w, "internal error", status)
		return
	}
	http.Error(w, err.Error(), status)
}
