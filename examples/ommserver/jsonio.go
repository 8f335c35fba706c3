package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/internal/jsonapi"
	"github.com/openomm/omm/storage"
)

// Limits on the JSON the server's own APIs read.
const (
	maxJSONBody  = 64 << 10
	maxJSONDepth = 8
)

// errBadRequest wraps every input problem the caller can fix.
var errBadRequest = errors.New("invalid request")

// decodeJSON reads one JSON object of at most maxJSONBody bytes, nested at
// most maxJSONDepth deep, without unknown fields or trailing data, into v.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	err := jsonapi.Decode(http.MaxBytesReader(w, r.Body, maxJSONBody), v, jsonapi.Limits{MaxBytes: maxJSONBody, MaxDepth: maxJSONDepth})
	if err != nil {
		return fmt.Errorf("%w: %w", errBadRequest, err)
	}
	return nil
}

// unmarshalJSON applies decodeJSON's rules to data.
func unmarshalJSON(data []byte, v any) error {
	if err := jsonapi.Unmarshal(data, v, maxJSONDepth); err != nil {
		return fmt.Errorf("%w: %w", errBadRequest, err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) { jsonapi.Write(w, status, v) }

func writeAPIError(w http.ResponseWriter, status int, code, msg string) {
	jsonapi.Error(w, status, code, msg)
}

// classify maps an error of the SDK's packages onto an HTTP status, a
// stable code and a message safe to show. Unexpected errors are logged and
// answered without detail.
func classify(log *slog.Logger, err error) (int, string, string) {
	switch {
	case errors.Is(err, errBadRequest), errors.Is(err, storage.ErrInvalid):
		return http.StatusBadRequest, "invalid_request", err.Error()
	case errors.Is(err, storage.ErrNotFound):
		return http.StatusNotFound, "not_found", "not found"
	case errors.Is(err, storage.ErrAlreadyExists):
		return http.StatusConflict, "already_exists", err.Error()
	case errors.Is(err, catalog.ErrWrongState), errors.Is(err, catalog.ErrNotManaged):
		return http.StatusConflict, "wrong_state", err.Error()
	case errors.Is(err, catalog.ErrUnsupportedChannel):
		return http.StatusConflict, "unsupported_channel", err.Error()
	case errors.Is(err, storage.ErrConflict):
		return http.StatusConflict, "conflict", err.Error()
	case errors.Is(err, checkin.ErrNotPermitted), errors.Is(err, errNotPermitted),
		errors.Is(err, android.ErrNotPermitted), errors.Is(err, android.ErrDenied), errors.Is(err, android.ErrNoProvider):
		return http.StatusForbidden, "not_permitted", err.Error()
	}
	log.Error("request failed", "err", err)
	return http.StatusInternalServerError, "internal", "internal error"
}

// errNotPermitted: an action this server refuses for the device.
var errNotPermitted = errors.New("action not permitted")

func writeErr(w http.ResponseWriter, log *slog.Logger, err error) {
	status, code, msg := classify(log, err)
	writeAPIError(w, status, code, msg)
}
