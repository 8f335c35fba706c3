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
// new identity.
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
		if code := send(m); code != http.StatusForbidden {
			t.Errorf("%s after CheckOut = %d, want 403", m["MessageType"], code)
		}
	}
}
