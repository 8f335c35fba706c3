package checkin_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/openomm/omm/internal/cms"
)

// TestEndedEnrollmentRefused: once a device checked out, its identity
// cannot start the enrollment again nor complete one with a TokenUpdate
// (found by FuzzDispatch: Authenticate restarted the ended enrollment and
// the next TokenUpdate failed with a server error). Enrolling again takes a
// new identity; the ended one is answered 401, which makes a device still
// holding it remove its enrollment.
func TestEndedEnrollmentRefused(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(e.orgA, "ENDED-UDID-1", "u_alice").enroll()
	h := mux(e.svc)
	send := func(m map[string]any) int {
		t.Helper()
		m["UDID"] = d.udid
		body := plistBody(t, m)
		sig, err := cms.SignDetached(body, d.key, d.cert, nil)
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPut, fmt.Sprintf("/mdm/%s/checkin", d.org), bytes.NewReader(body))
		req.Header.Set("Mdm-Signature", base64.StdEncoding.EncodeToString(sig))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	tokenUpdate := map[string]any{"MessageType": "TokenUpdate", "Topic": topic, "Token": []byte("t"), "PushMagic": "m"}
	if code := send(map[string]any{"MessageType": "CheckOut", "Topic": topic}); code != http.StatusOK {
		t.Fatalf("CheckOut = %d", code)
	}
	for _, m := range []map[string]any{
		tokenUpdate,
		{"MessageType": "Authenticate", "Topic": topic},
		tokenUpdate,
	} {
		if code := send(m); code != http.StatusUnauthorized {
			t.Errorf("%s after CheckOut = %d, want 401", m["MessageType"], code)
		}
	}
}

// TestCheckedOutIdentityGetsNothing (issue 22, finding 7): after CheckOut
// the same identity got the escrowed bootstrap token back and could escrow
// another. Now the token is forgotten at CheckOut, and both messages are
// refused.
func TestCheckedOutIdentityGetsNothing(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(e.orgA, "UDID-BOOT-OUT", "alice").enroll()
	id := d.record().ID
	if st, _ := d.checkin(map[string]any{"MessageType": "SetBootstrapToken", "BootstrapToken": []byte("escrowed-secret")}); st != http.StatusOK {
		t.Fatalf("SetBootstrapToken: %d", st)
	}
	if st, _ := d.checkin(map[string]any{"MessageType": "CheckOut", "Topic": topic}); st != http.StatusOK {
		t.Fatalf("CheckOut: %d", st)
	}
	st, out := d.checkin(map[string]any{"MessageType": "GetBootstrapToken"})
	if st == http.StatusOK || bytes.Contains(out, []byte("escrowed-secret")) || bytes.Contains(out, []byte(base64.StdEncoding.EncodeToString([]byte("escrowed-secret")))) {
		t.Errorf("GetBootstrapToken after CheckOut: %d %q, want it refused", st, out)
	}
	if st, _ := d.checkin(map[string]any{"MessageType": "SetBootstrapToken", "BootstrapToken": []byte("another")}); st == http.StatusOK {
		t.Errorf("SetBootstrapToken after CheckOut: %d, want it refused", st)
	}
	en, err := e.store.Enrollment(t.Context(), d.org, id)
	if err == nil && en.BootstrapToken != nil {
		t.Errorf("the checked-out enrollment still holds a bootstrap token: %q", en.BootstrapToken)
	}
}
