package amapitest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openomm/omm/android/amapi"
	"github.com/openomm/omm/android/amapi/amapitest"
)

func call(t testing.TB, h http.Handler, method, path, secret, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if secret != "" {
		r.Header.Set("Authorization", "Bearer "+secret)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHandler(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pol, err := e.srv.PatchPolicy(ctx, enterprise, "p", workPolicy)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.srv.CreateEnrollmentToken(ctx, enterprise, amapi.EnrollmentTokenRequest{PolicyName: pol, OneTimeOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	h := e.srv.Handler()
	enroll := `{"token":"` + tok.Value + `","provisioning":"link","api_level":34,"hardware":{"serial_number":"S9"}}`
	w := call(t, h, "POST", "/enroll", "", enroll)
	if w.Code != 200 {
		t.Fatalf("enroll = %d %s", w.Code, w.Body)
	}
	var en amapitest.Enrolled
	if err := json.Unmarshal(w.Body.Bytes(), &en); err != nil || en.Secret == "" {
		t.Fatalf("enrolled %s: %v", w.Body, err)
	}
	tests := []struct {
		name, method, path, secret, body string
		status                           int
	}{
		{"token used up", "POST", "/enroll", "", enroll, 400},
		{"unknown token", "POST", "/enroll", "", `{"token":"X","provisioning":"qr","api_level":30}`, 404},
		{"unknown field", "POST", "/enroll", "", `{"token":"X","imei":"1"}`, 400},
		{"too deep", "POST", "/enroll", "", strings.Repeat("[", 20) + strings.Repeat("]", 20), 400},
		{"too large", "POST", "/report", en.Secret, `{"apps":[` + strings.Repeat(`{"package_name":"a"},`, 20000) + `{"package_name":"a"}]}`, 400},
		{"view", "GET", "/device", en.Secret, "", 200},
		{"view without secret", "GET", "/device", "", "", 404},
		{"report", "POST", "/report", en.Secret, `{"apps":[{"package_name":"org.p"}]}`, 204},
		{"wrong method", "GET", "/enroll", "", "", 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := call(t, h, tt.method, tt.path, tt.secret, tt.body)
			if w.Code != tt.status {
				t.Errorf("= %d %s, want %d", w.Code, w.Body, tt.status)
			}
		})
	}
	var v amapitest.View
	if err := json.Unmarshal(call(t, h, "GET", "/device", en.Secret, "").Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if v.ManagementMode != amapitest.ProfileOwner || v.Policy == nil || len(v.PersonalApps) != 1 {
		t.Errorf("view %+v", v)
	}
}

// FuzzHandler: no body makes the device side panic or answer 5xx.
func FuzzHandler(f *testing.F) {
	f.Add("/enroll", []byte(`{"token":"T","provisioning":"qr","api_level":34,"hardware":{"model":"Pixel"}}`))
	f.Add("/report", []byte(`{"apps":[{"package_name":"a.b","display_name":"A"}]}`))
	f.Add("/enroll", []byte(`{"apps":[{}],"api_level":1e300}`))
	f.Add("/report", []byte(`[[[[[[[[[[]]]]]]]]]]`))
	srv, err := amapitest.New(enterprise)
	if err != nil {
		f.Fatal(err)
	}
	h := srv.Handler()
	f.Fuzz(func(t *testing.T, path string, body []byte) {
		if path != "/enroll" && path != "/report" {
			return
		}
		r := httptest.NewRequest("POST", path, bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer x")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Errorf("%s = %d %s", path, w.Code, w.Body)
		}
	})
}
