package agent_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fuzzBody sends body to path and checks the answer is JSON with a status
// the protocol defines: never a panic, never a 500 on bad input.
func fuzzBody(f *testing.F, path string, authed bool, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	fx := newFixture(f)
	cred := ""
	if authed {
		cred = enrolled(f, fx).Credential
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
		if cred != "" {
			req.Header.Set("Authorization", "Bearer "+cred)
		}
		rec := httptest.NewRecorder()
		fx.h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound,
			http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnauthorized:
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("answer is not JSON: %q", rec.Body)
		}
	})
}

func FuzzEnrollBody(f *testing.F) {
	fuzzBody(f, "/enroll", false,
		`{"token":"b3JnX2FjbWU.ABC","identifier":"x"}`, `{"token":"","identifier":""}`, `{"token":"a.b.c"}`,
		`[]`, `null`, `{"token":"\u0000.x","identifier":"y","serial_number":"z"}`)
}

func FuzzStatusBody(f *testing.F) {
	fuzzBody(f, "/status", true, statusReport, `{}`, `{"hardwareInfo":1}`, `{"applicationReports":[{"packageName":""}]}`, `[[[[`)
}

func FuzzAckBody(f *testing.F) {
	fuzzBody(f, "/commands/ack", true, `{"id":"cmd_x","status":"done"}`, `{"id":"","status":"pending"}`,
		`{"id":"cmd_x","status":"failed","detail":"\xff"}`, `{"id":1}`)
}

// FuzzCredential feeds arbitrary Authorization headers: only the issued
// credential may pass.
func FuzzCredential(f *testing.F) {
	fx := newFixture(f)
	good := enrolled(f, fx).Credential
	for _, s := range []string{"Bearer " + good, "Bearer ", "Bearer a.b.c", "Basic x", "Bearer " + good + "x", "Bearer ..", "Bearer b3JnX2FjbWU..x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		req := httptest.NewRequest(http.MethodGet, "/commands", nil)
		req.Header["Authorization"] = []string{header}
		rec := httptest.NewRecorder()
		fx.h.ServeHTTP(rec, req)
		if header == "Bearer "+good {
			if rec.Code != http.StatusOK {
				t.Fatalf("the issued credential was refused: %d", rec.Code)
			}
			return
		}
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("header %q: status %d, want 401", header, rec.Code)
		}
	})
}
