package amapitest

import (
	"errors"
	"net/http"
	"strings"

	"github.com/openomm/omm/android/amapi"
	"github.com/openomm/omm/internal/jsonapi"
)

// Limits on the device side's request bodies.
const (
	MaxBodyBytes = 256 << 10
	MaxDepth     = 8
)

// Handler serves the device side over HTTP, as a simulated Android Device
// Policy calls it:
//
//	POST /enroll   Enrollment → Enrolled
//	GET  /device   (Authorization: Bearer secret) → View
//	POST /report   (Authorization: Bearer secret) {"apps": [App]} → 204
//
// Errors have the shape {"error": {"code", "message"}}: 400 for a refused
// request, 404 for an unknown token, device or secret.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /enroll", func(w http.ResponseWriter, r *http.Request) {
		var e Enrollment
		if !decode(w, r, &e) {
			return
		}
		res, err := s.Enroll(r.Context(), e)
		if err != nil {
			fail(w, err)
			return
		}
		jsonapi.Write(w, http.StatusOK, res)
	})
	mux.HandleFunc("GET /device", func(w http.ResponseWriter, r *http.Request) {
		v, err := s.DeviceView(bearer(r))
		if err != nil {
			fail(w, err)
			return
		}
		jsonapi.Write(w, http.StatusOK, v)
	})
	mux.HandleFunc("POST /report", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Apps []App `json:"apps"`
		}
		if !decode(w, r, &body) {
			return
		}
		if err := s.Report(r.Context(), bearer(r), body.Apps); err != nil {
			fail(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

func bearer(r *http.Request) string {
	v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return ""
	}
	return v
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := jsonapi.Decode(http.MaxBytesReader(w, r.Body, MaxBodyBytes), v, jsonapi.Limits{MaxBytes: MaxBodyBytes, MaxDepth: MaxDepth}); err != nil {
		jsonapi.Error(w, http.StatusBadRequest, "bad_request", err.Error())
		return false
	}
	return true
}

func fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, amapi.ErrNotFound):
		jsonapi.Error(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, amapi.ErrInvalid):
		jsonapi.Error(w, http.StatusBadRequest, "invalid_argument", err.Error())
	default:
		jsonapi.Error(w, http.StatusInternalServerError, "internal", "internal error")
	}
}
