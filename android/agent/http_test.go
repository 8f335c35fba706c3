package agent_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/android/agent"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// enrolled enrolls one device-admin device of bob in org_acme.
func enrolled(t testing.TB, f *fixture) agent.EnrollResponse {
	t.Helper()
	req := policy.Requirements{Android: policy.AndroidRequirements{Modes: policy.Modes{DeviceAdmin: true}}}
	dec := decision(t, req, policy.Device{OSVersion: "9", APILevel: 28})
	iss, err := f.svc.CreateToken(context.Background(), "user:bob", android.TokenRequest{Org: "org_acme", UserID: "bob", Decision: dec, Ownership: inventory.OwnershipPersonal})
	if err != nil {
		t.Fatal(err)
	}
	var enr agent.EnrollResponse
	if code := f.call(t, http.MethodPost, "/enroll", "", agent.EnrollRequest{Token: iss.Value, Identifier: "id-" + iss.Token.ID[:8]}, &enr); code != http.StatusOK {
		t.Fatalf("enroll: %d", code)
	}
	return enr
}

func TestErrors(t *testing.T) {
	f := newFixture(t)
	enr := enrolled(t, f)
	parts := strings.Split(enr.Credential, ".")
	otherOrg := base64.RawURLEncoding.EncodeToString([]byte("org_globex")) + "." + parts[1] + "." + parts[2]
	wrongSecret := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	deep := strings.Repeat("[", agent.MaxDepth+1) + strings.Repeat("]", agent.MaxDepth+1)
	tests := []struct {
		name, method, path, cred string
		body                     any
		status                   int
		code                     string
	}{
		{"no credential", http.MethodGet, "/commands", "", nil, http.StatusUnauthorized, agent.CodeUnauthorized},
		{"garbage credential", http.MethodGet, "/commands", "x.y", nil, http.StatusUnauthorized, agent.CodeUnauthorized},
		{"credential moved to another org", http.MethodGet, "/commands", otherOrg, nil, http.StatusUnauthorized, agent.CodeUnauthorized},
		{"wrong secret", http.MethodGet, "/commands", wrongSecret, nil, http.StatusUnauthorized, agent.CodeUnauthorized},
		{"wrong method", http.MethodPost, "/commands", enr.Credential, nil, http.StatusMethodNotAllowed, agent.CodeNotAllowed},
		{"unknown token", http.MethodPost, "/enroll", "", agent.EnrollRequest{Token: "b3JnX2FjbWU.NOPE", Identifier: "x"}, http.StatusForbidden, agent.CodeTokenInvalid},
		{"unknown field", http.MethodPost, "/enroll", "", []byte(`{"token":"a","identifier":"b","org":"org_globex"}`), http.StatusBadRequest, agent.CodeBadRequest},
		{"trailing data", http.MethodPost, "/enroll", "", []byte(`{"token":"a","identifier":"b"} {}`), http.StatusBadRequest, agent.CodeBadRequest},
		{"too deep", http.MethodPost, "/status", enr.Credential, []byte(deep), http.StatusBadRequest, agent.CodeBadRequest},
		{"too large", http.MethodPost, "/enroll", "", []byte(`{"token":"` + strings.Repeat("a", agent.MaxBodyBytes) + `"}`), http.StatusRequestEntityTooLarge, agent.CodeTooLarge},
		{"status not an object", http.MethodPost, "/status", enr.Credential, []byte(`[1]`), http.StatusBadRequest, agent.CodeBadRequest},
		{"policy without api level", http.MethodGet, "/policy", enr.Credential, nil, http.StatusBadRequest, agent.CodeBadRequest},
		{"ack unknown command", http.MethodPost, "/commands/ack", enr.Credential, agent.AckRequest{ID: "cmd_x", Status: android.StatusDone}, http.StatusNotFound, agent.CodeNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e errorAnswer
			code := f.call(t, tc.method, tc.path, tc.cred, tc.body, &e)
			if code != tc.status || e.Error.Code != tc.code {
				t.Errorf("%d %q, want %d %q", code, e.Error.Code, tc.status, tc.code)
			}
		})
	}
}

// TestCommandIsolation: a device cannot see or acknowledge another
// device's commands, and a replayed acknowledgement is idempotent.
func TestCommandIsolation(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a, b := enrolled(t, f), enrolled(t, f)
	cmd, err := f.svc.Lock(ctx, "admin:alice", "org_acme", a.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Commands []agent.CommandView `json:"commands"`
	}
	f.call(t, http.MethodGet, "/commands", b.Credential, nil, &list)
	if len(list.Commands) != 0 {
		t.Errorf("device b sees %+v", list.Commands)
	}
	var e errorAnswer
	if code := f.call(t, http.MethodPost, "/commands/ack", b.Credential, agent.AckRequest{ID: cmd.ID, Status: android.StatusDone}, &e); code != http.StatusNotFound {
		t.Errorf("b acknowledged a's command: %d", code)
	}
	for range 2 { // the replay answers the same
		if code := f.call(t, http.MethodPost, "/commands/ack", a.Credential, agent.AckRequest{ID: cmd.ID, Status: android.StatusFailed, Detail: "screen lock refused"}, nil); code != http.StatusOK {
			t.Fatalf("ack: %d", code)
		}
	}
	if code := f.call(t, http.MethodPost, "/commands/ack", a.Credential, agent.AckRequest{ID: cmd.ID, Status: android.StatusDone}, &e); code != http.StatusConflict {
		t.Errorf("changing a settled outcome: %d", code)
	}
	got, _ := f.store.AndroidCommand(ctx, storage.OrgID("org_acme"), cmd.ID)
	if got.Status != android.StatusFailed || got.Detail != "screen lock refused" {
		t.Errorf("stored %+v", got)
	}
}
