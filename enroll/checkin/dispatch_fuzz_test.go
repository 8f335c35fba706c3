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

// FuzzDispatch sends arbitrary bodies, signed with an enrolled device's
// identity so that they pass the identity check, to both MDM endpoints:
// whatever the body, the dispatcher answers without panicking and never
// with a server error (a device's input is never the server's fault).
func FuzzDispatch(f *testing.F) {
	e := newEnv(f)
	d := e.newDevice(e.orgA, "FUZZ-UDID-1", "u_alice").enroll()
	h := mux(e.svc)
	seed := func(m map[string]any) {
		m["UDID"] = d.udid
		f.Add(false, plistBody(f, m))
		f.Add(true, plistBody(f, m))
	}
	seed(map[string]any{"MessageType": "Authenticate", "Topic": topic})
	seed(map[string]any{"MessageType": "TokenUpdate", "Topic": topic, "Token": []byte("t"), "PushMagic": "m"})
	seed(map[string]any{"MessageType": "SetBootstrapToken", "BootstrapToken": []byte("b")})
	seed(map[string]any{"MessageType": "DeclarativeManagement", "Endpoint": "tokens"})
	seed(map[string]any{"Status": "Idle"})
	seed(map[string]any{"Status": "Acknowledged", "CommandUUID": "c-1"})
	seed(map[string]any{"Status": "Error", "CommandUUID": "c-2", "ErrorChain": []any{map[string]any{"ErrorCode": 12}}})
	seed(map[string]any{"Status": "NotNow", "CommandUUID": "c-3"})
	seed(map[string]any{"Status": "Acknowledged", "CommandUUID": "c-4", "QueryResponses": map[string]any{"OSVersion": "18.1"}})
	// Last: a check-out ends the enrollment that the others go through.
	seed(map[string]any{"MessageType": "CheckOut", "Topic": topic})
	f.Add(false, []byte("bplist00\xa1\x00\x08\x00\x00\x00\x00\x00\x00\x01\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x0a"))
	f.Fuzz(func(t *testing.T, server bool, body []byte) {
		sig, err := cms.SignDetached(body, d.key, d.cert, nil)
		if err != nil {
			t.Fatal(err)
		}
		path := fmt.Sprintf("/mdm/%s/checkin", d.org)
		if server {
			path = fmt.Sprintf("/mdm/%s/server", d.org)
		}
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPut, path, bytes.NewReader(body))
		req.Header.Set("Mdm-Signature", base64.StdEncoding.EncodeToString(sig))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("PUT %s: status %d for body %q", path, rec.Code, body)
		}
	})
}
