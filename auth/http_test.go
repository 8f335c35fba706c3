package auth_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openomm/omm/auth"
)

type apiClient struct {
	t   testing.TB
	srv *httptest.Server
}

func newAPI(t testing.TB, e *env) *apiClient {
	mux := http.NewServeMux()
	mux.Handle("/api/auth/", http.StripPrefix("/api/auth", auth.NewHandler(e.svc)))
	mux.Handle("GET /api/me", e.svc.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFrom(r.Context())
		io.WriteString(w, p.User.Username)
	})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &apiClient{t: t, srv: srv}
}

// call sends body (raw JSON, or "" for none) and decodes the JSON answer.
func (c *apiClient) call(method, path, token, body string) (int, http.Header, map[string]any) {
	c.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.srv.URL+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.srv.Client().Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(data) > 0 && resp.Header.Get("Content-Type") == "application/json" {
		if err := json.Unmarshal(data, &out); err != nil {
			c.t.Fatalf("%s %s: answer %q is not JSON: %v", method, path, data, err)
		}
	}
	return resp.StatusCode, resp.Header, out
}

func errCode(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func TestHTTPSignInFlow(t *testing.T) {
	e := newEnv(t)
	e.requireMFA()
	api := newAPI(t, e)
	status, _, out := api.call("POST", "/api/auth/signin", "", `{"site":"https://acme.example.com","username":"bob","password":"`+bobPassword+`"}`)
	if status != 200 || out["state"] != "mfa_required" || out["next"] != "mfa_required" {
		t.Fatalf("signin = %d %v", status, out)
	}
	tok, _ := out["token"].(string)
	methods, _ := out["methods"].([]any)
	if len(methods) != 3 {
		t.Errorf("methods = %v, want totp, sms, voice", methods)
	}
	steps := []struct {
		method, path, body string
		status             int
		next, code         string
	}{
		{"GET", "/api/me", "", 403, "", "mfa_required"},
		{"POST", "/api/auth/pin", `{"pin":"4812","confirm":"4812"}`, 403, "", "mfa_required"},
		{"POST", "/api/auth/mfa/verify", `{"method":"totp","code":"` + e.code(0) + `"}`, 200, "pin_setup_required", ""},
		{"GET", "/api/me", "", 403, "", "pin_setup_required"},
		{"POST", "/api/auth/pin", `{"pin":"1234","confirm":"1234"}`, 422, "", "pin_rejected"},
		{"POST", "/api/auth/pin", `{"pin":"4812","confirm":"4812"}`, 200, "none", ""},
		{"POST", "/api/auth/pin/verify", `{"pin":"0000"}`, 401, "", "invalid_pin"},
		{"POST", "/api/auth/pin/verify", `{"pin":"4812"}`, 200, "none", ""},
		{"GET", "/api/auth/session", "", 200, "none", ""},
		{"POST", "/api/auth/signout", "", 204, "", ""},
		{"GET", "/api/me", "", 401, "", "invalid_session"},
		{"POST", "/api/auth/signout", "", 401, "", "invalid_session"},
	}
	for _, s := range steps {
		status, _, out := api.call(s.method, s.path, tok, s.body)
		if status != s.status || s.next != "" && out["next"] != s.next || s.code != "" && errCode(out) != s.code {
			t.Fatalf("%s %s %s = %d %v; want %d next=%q error=%q", s.method, s.path, s.body, status, out, s.status, s.next, s.code)
		}
		// Each privilege step hands out a new token and ends the old one.
		if next, _ := out["token"].(string); next != "" {
			if next == tok {
				t.Fatalf("%s %s returned the same token", s.method, s.path)
			}
			if st, _, _ := api.call("GET", "/api/auth/session", tok, ""); st != http.StatusUnauthorized {
				t.Fatalf("the token before %s %s still works: %d", s.method, s.path, st)
			}
			tok = next
		}
	}
}

func TestHTTPErrors(t *testing.T) {
	e := newEnv(t)
	api := newAPI(t, e)
	signin := func(body string) string { return body }
	tests := []struct {
		name, method, path, token, body string
		status                          int
		code                            string
	}{
		{"unknown site", "POST", "/api/auth/signin", "", signin(`{"site":"nope","username":"bob","password":"x"}`), 404, "unknown_site"},
		{"bad password", "POST", "/api/auth/signin", "", signin(`{"site":"acme","username":"bob","password":"x"}`), 401, "invalid_credentials"},
		{"not JSON", "POST", "/api/auth/signin", "", "site=acme", 400, "invalid_request"},
		{"unknown field", "POST", "/api/auth/signin", "", `{"site":"acme","user":"bob"}`, 400, "invalid_request"},
		{"wrong type", "POST", "/api/auth/signin", "", `{"site":1}`, 400, "invalid_request"},
		{"trailing data", "POST", "/api/auth/signin", "", `{"site":"acme"} {}`, 400, "invalid_request"},
		{"too deep", "POST", "/api/auth/signin", "", `{"site":[[[[["x"]]]]]}`, 400, "invalid_request"},
		{"too large", "POST", "/api/auth/signin", "", `{"site":"` + strings.Repeat("a", auth.MaxBodyBytes) + `"}`, 400, "invalid_request"},
		{"empty body", "POST", "/api/auth/signin", "", "", 400, "invalid_request"},
		{"no token", "POST", "/api/auth/pin", "", `{"pin":"4812","confirm":"4812"}`, 401, "invalid_session"},
		{"garbage token", "POST", "/api/auth/pin", "omm1.x.y", `{"pin":"4812","confirm":"4812"}`, 401, "invalid_session"},
		{"unknown route", "GET", "/api/auth/nothing", "", "", 404, ""},
		{"wrong method", "GET", "/api/auth/signin", "", "", 405, ""},
		{"bad MFA method", "POST", "/api/auth/mfa/verify", "", `{"method":"carrier-pigeon","code":"1"}`, 401, "invalid_session"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, out := api.call(tt.method, tt.path, tt.token, tt.body)
			if status != tt.status || errCode(out) != tt.code {
				t.Errorf("= %d %v, want %d %q", status, out, tt.status, tt.code)
			}
			if status == 401 && tt.code == "invalid_session" && hdr.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
		})
	}
}

func TestHTTPThrottledRetryAfter(t *testing.T) {
	e := newEnv(t)
	api := newAPI(t, e)
	for range 5 {
		api.call("POST", "/api/auth/signin", "", `{"site":"acme","username":"bob","password":"wrong"}`)
	}
	status, hdr, out := api.call("POST", "/api/auth/signin", "", `{"site":"acme","username":"bob","password":"wrong"}`)
	if status != 429 || errCode(out) != "throttled" || hdr.Get("Retry-After") != "30" {
		t.Errorf("= %d %v Retry-After %q, want 429 throttled 30", status, out, hdr.Get("Retry-After"))
	}
}

// FuzzAPIJSON feeds arbitrary bodies to the JSON reader every route uses,
// and to the sign-in route itself.
func FuzzAPIJSON(f *testing.F) {
	for _, s := range []string{
		`{"site":"acme","username":"bob","password":"bob-password-1"}`,
		`{"site":"acme.example.com","username":"BOB","password":""}`,
		`{"pin":"4812","confirm":"4812"}`, `{"method":"totp","code":"123456"}`,
		`[[[[[[[[[[]]]]]]]]]]`, `{"site":{"a":{"b":{"c":{}}}}}`, `{"site":"\u0000"}`, `{}`, ``, `null`, `{"site":"acme"}{}`,
	} {
		f.Add([]byte(s))
	}
	e := newEnv(f)
	h := auth.NewHandler(e.svc)
	f.Fuzz(func(t *testing.T, body []byte) {
		var v struct {
			Site     string `json:"site"`
			Username string `json:"username"`
			Password string `json:"password"`
		}
		err := auth.DecodeJSON(strings.NewReader(string(body)), &v, false)
		if err == nil && len(body) > auth.MaxBodyBytes {
			t.Fatalf("accepted a body of %d bytes", len(body))
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/signin", strings.NewReader(string(body))))
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("answer %q is not JSON: %v", rec.Body.String(), err)
		}
		if rec.Code == 500 {
			t.Fatalf("internal error for %q: %v", body, out)
		}
		if rec.Code == 200 && (v.Site == "" || out["token"] == nil) {
			t.Fatalf("200 without a token for %q", body)
		}
	})
}
