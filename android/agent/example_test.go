package agent_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/android/agent"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// An agent enrolls a native device-admin device with its token and uses the
// credential it gets to fetch pending commands.
func Example() {
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	store := memory.New()
	org := storage.Org{ID: "org_acme", Name: "acme", DisplayName: "Acme"}
	if _, err := store.CreateOrg(ctx, org, storage.AuditEntry{Org: org.ID, Time: now, Actor: "system", Action: "org.create"}); err != nil {
		fmt.Println(err)
		return
	}
	clock := func() time.Time { return now }
	svc := android.New(store, inventory.New(store, inventory.WithClock(clock)), store,
		android.WithClock(clock), android.WithAgentURL("https://mdm.example.com/agent/enroll"))
	h := agent.New(svc)

	set, _ := policy.NewSet(org.ID, []policy.Policy{{
		ID: "pol_all", Org: org.ID, Name: "All", Priority: 1, Groups: []string{"staff"},
		Rules: map[policy.Platform]policy.Rule{policy.Android: {Action: policy.Require,
			Requirements: policy.Requirements{Android: policy.AndroidRequirements{Modes: policy.Modes{DeviceAdmin: true}}}}},
	}})
	dec, _ := set.Evaluate(policy.User{ID: "bob", Groups: []string{"staff"}}, policy.Device{Platform: policy.Android, OSVersion: "8.1", APILevel: 27})
	iss, err := svc.CreateToken(ctx, "user:bob", android.TokenRequest{Org: org.ID, UserID: "bob", Decision: dec, Ownership: inventory.OwnershipPersonal})
	if err != nil {
		fmt.Println(err)
		return
	}

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/enroll",
		strings.NewReader(fmt.Sprintf(`{"token":%q,"identifier":"a1b2c3"}`, iss.Value))))
	fmt.Println("enroll:", rec.Code)

	var cred string
	if _, after, ok := strings.Cut(rec.Body.String(), `"credential":"`); ok {
		cred, _, _ = strings.Cut(after, `"`)
	}
	req := httptest.NewRequest(http.MethodGet, "/commands", nil)
	req.Header.Set("Authorization", "Bearer "+cred)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Print("commands: ", rec.Code, " ", rec.Body.String())
	// Output:
	// enroll: 200
	// commands: 200 {"commands":[]}
}
