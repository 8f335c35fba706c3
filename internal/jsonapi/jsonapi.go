// Package jsonapi holds what every JSON HTTP API of the SDK does alike:
// reading a request body within a size and nesting limit into exactly one
// value with no unknown fields, and writing JSON responses and errors in
// the shape {"error": {"code": …, "message": …}}, with each API's errors
// mapped to stable codes and statuses through one table (Codes).
package jsonapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// ErrBadBody: the body is too large, too deeply nested, not the expected
// JSON, or followed by more data. The message says which.
var ErrBadBody = errors.New("bad request body")

// Limits bound a request body.
type Limits struct {
	MaxBytes int // 0 means 64 KiB
	MaxDepth int // 0 means 8
	// AllowEmpty accepts an empty body, leaving v untouched.
	AllowEmpty bool
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 64 << 10
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = 8
	}
	return l
}

// Decode reads one JSON value from body into v within lim. Every failure
// wraps ErrBadBody.
func Decode(body io.Reader, v any, lim Limits) error {
	lim = lim.withDefaults()
	data, err := io.ReadAll(io.LimitReader(body, int64(lim.MaxBytes)+1))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) { // the caller's http.MaxBytesReader
		return fmt.Errorf("%w: larger than %d bytes", ErrBadBody, tooLarge.Limit)
	}
	if err != nil {
		return fmt.Errorf("%w: reading it failed: %v", ErrBadBody, err)
	}
	if len(data) > lim.MaxBytes {
		return fmt.Errorf("%w: larger than %d bytes", ErrBadBody, lim.MaxBytes)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		if lim.AllowEmpty {
			return nil
		}
		return fmt.Errorf("%w: empty", ErrBadBody)
	}
	return Unmarshal(data, v, lim.MaxDepth)
}

// Unmarshal decodes data into v after CheckDepth: no unknown fields,
// nothing after the value. Every failure wraps ErrBadBody.
func Unmarshal(data []byte, v any, maxDepth int) error {
	if err := CheckDepth(data, maxDepth); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: not the expected JSON: %v", ErrBadBody, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the JSON value", ErrBadBody)
	}
	return nil
}

// CheckDepth refuses JSON nested deeper than max, in one pass over the bytes
// and before anything is decoded, so that a hostile body cannot make the
// decoder recurse deeply.
func CheckDepth(data []byte, max int) error {
	depth, inString, escaped := 0, false, false
	for _, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth++; depth > max {
				return fmt.Errorf("%w: JSON nested deeper than %d", ErrBadBody, max)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

// Write sends v as a JSON response that is never cached.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the client went away
}

// Error sends the error shape every API shares: a stable code for programs
// and a message for people.
func Error(w http.ResponseWriter, status int, code, message string) {
	Write(w, status, map[string]any{"error": map[string]string{"code": code, "message": message}})
}

// Code maps an error (matched with errors.Is) to an API's stable error code
// and HTTP status.
type Code struct {
	Err    error
	Code   string
	Status int
}

// Codes is an API's error table, checked in order.
type Codes []Code

// Lookup returns the code and status of the first entry err matches, and
// "internal" with 500 when none does.
func (cs Codes) Lookup(err error) (string, int) {
	for _, c := range cs {
		if errors.Is(err, c.Err) {
			return c.Code, c.Status
		}
	}
	return "internal", http.StatusInternalServerError
}
