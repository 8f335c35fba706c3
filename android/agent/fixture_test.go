package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/android/agent"
	"github.com/openomm/omm/android/amapi"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

var testNow = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

const enterprise = "enterprises/LC0123"

type staticApps []android.App

func (a staticApps) AndroidApps(context.Context, storage.OrgID, string, string) ([]android.App, error) {
	return a, nil
}

type knoxKeys map[storage.OrgID]string

func (k knoxKeys) KnoxLicense(_ context.Context, org storage.OrgID) (string, error) {
	return k[org], nil
}

var apps = staticApps{
	{PackageName: "com.example.mail", Install: android.InstallForced},
	{PackageName: "com.example.wiki", Install: android.InstallAvailable},
	{PackageName: "com.example.game", Install: android.InstallBlocked},
}

type fixture struct {
	store *memory.Store
	svc   *android.Service
	fake  *amapi.Fake
	h     http.Handler
	orgs  []storage.OrgID
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{store: memory.New(), fake: amapi.NewFake()}
	for _, name := range []string{"acme", "globex"} {
		o := storage.Org{ID: storage.OrgID("org_" + name), Name: name, DisplayName: name}
		if _, err := f.store.CreateOrg(ctx, o, storage.AuditEntry{Org: o.ID, Time: testNow, Actor: "system", Action: "org.create"}); err != nil {
			t.Fatal(err)
		}
		f.orgs = append(f.orgs, o.ID)
	}
	clock := func() time.Time { return testNow }
	inv := inventory.New(f.store, inventory.WithClock(clock))
	f.svc = android.New(f.store, inv, f.store,
		android.WithClock(clock), android.WithApps(apps),
		android.WithKnoxLicenses(knoxKeys{"org_acme": "KNOX-ACME-LICENSE"}),
		android.WithAgentURL("https://mdm.example.com/android/agent/enroll"),
		android.WithProvider(f.fake, enterprise, android.GoogleDPC("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")))
	f.h = agent.New(f.svc)
	return f
}

// decision evaluates a one-policy org for an Android device.
func decision(t testing.TB, req policy.Requirements, d policy.Device) policy.Decision {
	t.Helper()
	p := policy.Policy{
		ID: "pol_android", Org: "org_acme", Name: "Android", Priority: 1, Groups: []string{"staff"},
		Rules: map[policy.Platform]policy.Rule{policy.Android: {Action: policy.Require, Requirements: req}},
	}
	set, err := policy.NewSet("org_acme", []policy.Policy{p})
	if err != nil {
		t.Fatal(err)
	}
	d.Platform = policy.Android
	dec, err := set.Evaluate(policy.User{ID: "bob", Groups: []string{"staff"}}, d)
	if err != nil {
		t.Fatal(err)
	}
	return dec
}

// call sends one agent request and decodes the JSON answer into out.
func (f *fixture) call(t testing.TB, method, path, cred string, body any, out any) int {
	t.Helper()
	var rd *bytes.Reader
	switch b := body.(type) {
	case nil:
		rd = bytes.NewReader(nil)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req := httptest.NewRequest(method, path, rd)
	if cred != "" {
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: content type %q", method, path, ct)
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, rec.Body)
		}
	}
	return rec.Code
}

// errorCode extracts the stable error code of an error answer.
type errorAnswer struct {
	Error struct {
		Code string `json:"code"`
	} `json:"error"`
}
