package omm

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

// Limits on the JSON the SDK's own APIs read.
const (
	MaxJSONBody  = 64 << 10
	maxJSONDepth = 8
)

var (
	// ErrBadRequest wraps every input problem the caller can fix.
	ErrBadRequest = errors.New("invalid request")
	// ErrNotPermitted: the action is refused for this device or user
	// (policy, ownership, platform).
	ErrNotPermitted = errors.New("action not permitted")
)

// decodeJSON reads one JSON object of at most MaxJSONBody bytes, nested at
// most maxJSONDepth deep, without unknown fields or trailing data, into v.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	err := jsonapi.Decode(http.MaxBytesReader(w, r.Body, MaxJSONBody), v, jsonapi.Limits{MaxBytes: MaxJSONBody, MaxDepth: maxJSONDepth})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) { jsonapi.Write(w, status, v) }

func writeAPIError(w http.ResponseWriter, status int, code, msg string) {
	jsonapi.Error(w, status, code, msg)
}

// HTTPStatus maps an error of the SDK onto an HTTP status, a stable code
// and a message safe to show; unexpected errors (5xx) carry no detail.
// Hosts that render the SDK's errors themselves (a web UI over the Go
// admin API) use it to answer as the SDK's APIs do.
func HTTPStatus(err error) (status int, code, msg string) {
	switch {
	case errors.Is(err, ErrBadRequest), errors.Is(err, storage.ErrInvalid):
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
	case errors.Is(err, storage.ErrLimit):
		return http.StatusTooManyRequests, "limit_reached",
			"too many enrollments are open for this user: finish or let one expire (it lasts at most a day) before starting another"
	case errors.Is(err, checkin.ErrNotPermitted), errors.Is(err, ErrNotPermitted),
		errors.Is(err, android.ErrNotPermitted), errors.Is(err, android.ErrDenied), errors.Is(err, android.ErrNoProvider):
		return http.StatusForbidden, "not_permitted", err.Error()
	}
	return http.StatusInternalServerError, "internal", "internal error"
}

func writeErr(w http.ResponseWriter, log *slog.Logger, err error) {
	status, code, msg := HTTPStatus(err)
	if status >= 500 {
		log.Error("request failed", "err", err)
	}
	writeAPIError(w, status, code, msg)
}

// bodyLimit caps every request body of h.
func bodyLimit(n int64, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, n)
		h.ServeHTTP(w, r)
	})
}
