package jsonapi_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openomm/omm/internal/jsonapi"
)

type body struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		in   string
		lim  jsonapi.Limits
		ok   bool
	}{
		{"valid", `{"name":"a","tags":["x"]}`, jsonapi.Limits{}, true},
		{"brackets inside strings do not count", `{"name":"[[[[[[[[[[{{{{{{{"}`, jsonapi.Limits{MaxDepth: 2}, true},
		{"escaped quote in string", `{"name":"a\"[[[[[[[["}`, jsonapi.Limits{MaxDepth: 1}, true},
		{"empty refused", ``, jsonapi.Limits{}, false},
		{"empty allowed", `  `, jsonapi.Limits{AllowEmpty: true}, true},
		{"unknown field", `{"name":"a","admin":true}`, jsonapi.Limits{}, false},
		{"trailing data", `{"name":"a"} {"name":"b"}`, jsonapi.Limits{}, false},
		{"too deep", `{"tags":[[[[[["x"]]]]]]}`, jsonapi.Limits{MaxDepth: 4}, false},
		{"too large", `{"name":"` + strings.Repeat("a", 100) + `"}`, jsonapi.Limits{MaxBytes: 50}, false},
		{"wrong type", `{"name":5}`, jsonapi.Limits{}, false},
		{"not JSON", `name=a`, jsonapi.Limits{}, false},
	}
	for _, tt := range tests {
		var v body
		err := jsonapi.Decode(strings.NewReader(tt.in), &v, tt.lim)
		if (err == nil) != tt.ok {
			t.Errorf("%s: %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, jsonapi.ErrBadBody) {
			t.Errorf("%s: %v is not ErrBadBody", tt.name, err)
		}
	}
}

func TestError(t *testing.T) {
	w := httptest.NewRecorder()
	jsonapi.Error(w, 409, "conflict", "changed meanwhile")
	if w.Code != 409 || w.Header().Get("Cache-Control") != "no-store" ||
		strings.TrimSpace(w.Body.String()) != `{"error":{"code":"conflict","message":"changed meanwhile"}}` {
		t.Errorf("%d %v %s", w.Code, w.Header(), w.Body)
	}
}

func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{`{"name":"a","tags":["x"]}`, `[[[[[[`, `{"name":"\"["}`, `}}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v body
		if err := jsonapi.Unmarshal(data, &v, 4); err != nil && !errors.Is(err, jsonapi.ErrBadBody) {
			t.Fatalf("error %v is not ErrBadBody", err)
		}
	})
}

func TestCodesLookup(t *testing.T) {
	errA, errB := errors.New("a"), errors.New("b")
	codes := jsonapi.Codes{
		{Err: errA, Code: "a", Status: http.StatusBadRequest},
		{Err: errB, Code: "b", Status: http.StatusConflict},
	}
	for _, tt := range []struct {
		err    error
		code   string
		status int
	}{
		{errA, "a", http.StatusBadRequest},
		{fmt.Errorf("wrapped: %w", errB), "b", http.StatusConflict},
		{fmt.Errorf("%w and %w", errB, errA), "a", http.StatusBadRequest}, // first entry wins
		{errors.New("other"), "internal", http.StatusInternalServerError},
	} {
		if code, status := codes.Lookup(tt.err); code != tt.code || status != tt.status {
			t.Errorf("Lookup(%v) = %q, %d; want %q, %d", tt.err, code, status, tt.code, tt.status)
		}
	}
}
