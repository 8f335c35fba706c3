package catalog_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/storage"
)

type principalKey struct{}

// withUser stands in for the composition root's authentication: the
// principal comes from headers the test sets, never from the body.
func withUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := r.Header.Get("X-User"); u != "" {
			p := catalog.Principal{Org: storage.OrgID(r.Header.Get("X-Org")), UserID: u}
			r = r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
		}
		next.ServeHTTP(w, r)
	})
}

func principal(ctx context.Context) (catalog.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(catalog.Principal)
	return p, ok
}

type call struct {
	method, path, body string
	org, user          string
	status             int
	code               string // error code, if any
}

func do(t *testing.T, h http.Handler, c call) map[string]any {
	t.Helper()
	req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
	if c.user != "" {
		req.Header.Set("X-User", c.user)
		req.Header.Set("X-Org", c.org)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]any
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: body %q is not JSON: %v", c.method, c.path, rec.Body, err)
		}
	}
	if rec.Code != c.status {
		t.Fatalf("%s %s: status %d, want %d; body %s", c.method, c.path, rec.Code, c.status, rec.Body)
	}
	if c.code != "" {
		e, _ := out["error"].(map[string]any)
		if e["code"] != c.code {
			t.Fatalf("%s %s: error %v, want code %q", c.method, c.path, out, c.code)
		}
	}
	return out
}

func TestAdminHTTP(t *testing.T) {
	f := newFixture(t)
	h := withUser(catalog.NewAdminHandler(f.svc, catalog.WithPrincipal(principal)))
	org := string(f.org)
	admin := func(c call) call { c.org, c.user = org, "root"; return c }

	do(t, h, call{method: "GET", path: "/apps", status: 401, code: "unauthenticated"})
	do(t, catalog.NewAdminHandler(f.svc), call{method: "GET", path: "/apps", org: org, user: "root", status: 401, code: "unauthenticated"})

	mail := `{"kind":"ios_app_store","identifier":"com.acme.mail","store_id":361309726,"name":"Mail",
		"config":[{"key":"user","type":"string","value":"${user.login}"}]}`
	created := do(t, h, admin(call{method: "POST", path: "/apps", body: mail, status: 201}))
	id, _ := created["id"].(string)
	if id == "" || created["version"] != 1.0 {
		t.Fatalf("created %v", created)
	}
	before := f.snapshot(t)
	for _, c := range []call{
		{method: "POST", path: "/apps", body: mail, status: 409, code: "already_exists"},
		{method: "POST", path: "/apps", body: `{"kind":"ios_in_house","identifier":"com.acme.x","manifest_url":"http://x.example/m","bundle_version":"1","name":"X"}`, status: 400, code: "invalid_request"},
		{method: "POST", path: "/apps", body: `{"kind":"ios_app_store","identifier":"com.acme.y","store_id":1,"name":"Y","config":[{"key":"k","type":"string","value":"${user.secret}"}]}`, status: 400, code: "invalid_request"},
		{method: "POST", path: "/apps", body: `{"org":"org_other","kind":"android_play","identifier":"com.acme.z","name":"Z"}`, status: 400, code: "invalid_request"},
		{method: "POST", path: "/apps", body: `{"id":"app_mine","kind":"android_play","identifier":"com.acme.z","name":"Z"}`, status: 400, code: "invalid_request"},
		{method: "POST", path: "/apps", body: `{"kind":"android_play","identifier":"com.acme.z","name":"Z"} {}`, status: 400, code: "invalid_request"},
		{method: "POST", path: "/apps", body: `{"config":[[[[[[[[[[]]]]]]]]]]}`, status: 400, code: "invalid_request"},
		{method: "POST", path: "/apps", body: `{"name":"` + strings.Repeat("a", catalog.MaxBodyBytes) + `"}`, status: 413, code: "too_large"},
		{method: "PUT", path: "/apps/" + id, body: `{"kind":"ios_app_store","identifier":"com.acme.mail","store_id":1,"name":"Mail","version":7}`, status: 409, code: "conflict"},
		{method: "PUT", path: "/apps/" + id, body: `{"kind":"ios_app_store","identifier":"com.acme.other","store_id":1,"name":"Mail","version":1}`, status: 400, code: "invalid_request"},
		{method: "DELETE", path: "/apps/" + id, status: 400, code: "invalid_request"},
		{method: "GET", path: "/apps/app_unknown", status: 404, code: "not_found"},
		{method: "POST", path: "/apps/" + id + "/assignments", body: `{"group":"grp_sales","mode":"always"}`, status: 400, code: "invalid_request"},
	} {
		do(t, h, admin(c))
	}
	if d := f.snapshot(t); d.Audit != before.Audit || len(d.Apps) != len(before.Apps) || d.Apps[0].Version != 1 {
		t.Fatalf("rejected requests changed the store: %+v then %+v", before, d)
	}

	updated := do(t, h, admin(call{method: "PUT", path: "/apps/" + id, body: `{"kind":"ios_app_store","identifier":"com.acme.mail","store_id":361309726,"name":"Acme Mail","version":1}`, status: 200}))
	if updated["name"] != "Acme Mail" || updated["version"] != 2.0 {
		t.Errorf("updated %v", updated)
	}
	as := do(t, h, admin(call{method: "POST", path: "/apps/" + id + "/assignments", body: `{"group":"grp_sales","mode":"available"}`, status: 201}))
	if as["group"] != "grp_sales" || as["version"] != 1.0 {
		t.Errorf("assignment %v", as)
	}
	do(t, h, admin(call{method: "PUT", path: "/apps/" + id + "/assignments/grp_sales", body: `{"mode":"install","version":1}`, status: 200}))
	list := do(t, h, admin(call{method: "GET", path: "/apps/" + id + "/assignments", status: 200}))
	if n := len(list["assignments"].([]any)); n != 1 {
		t.Errorf("assignments %v", list)
	}
	do(t, h, admin(call{method: "DELETE", path: "/apps/" + id + "?version=2", status: 409, code: "conflict"}))

	// Another org sees none of it.
	other := call{org: "org_globex", user: "root"}
	other.method, other.path, other.status, other.code = "GET", "/apps/"+id, 404, "not_found"
	do(t, h, other)
	other.method, other.path, other.status, other.code = "DELETE", "/apps/"+id+"/assignments/grp_sales", 404, "not_found"
	do(t, h, other)
	apps := do(t, h, call{method: "GET", path: "/apps", org: "org_globex", user: "root", status: 200})
	if n := len(apps["apps"].([]any)); n != 0 {
		t.Errorf("another org lists %d apps", n)
	}

	do(t, h, admin(call{method: "DELETE", path: "/apps/" + id + "/assignments/grp_sales", status: 204}))
	do(t, h, admin(call{method: "DELETE", path: "/apps/" + id + "?version=2", status: 204}))
	do(t, h, admin(call{method: "GET", path: "/apps/" + id, status: 404, code: "not_found"}))
}

func TestAgentHTTP(t *testing.T) {
	f := newFixture(t)
	h := withUser(catalog.NewAgentHandler(f.svc, catalog.WithPrincipal(principal)))
	org := string(f.org)
	mail := f.app(t, mailApp())
	chat := f.app(t, catalog.App{Kind: catalog.Play, Identifier: "com.acme.chat", Name: "Chat"})
	f.assign(t, mail.ID, "grp_sales", catalog.Available)
	f.assign(t, chat.ID, "grp_sales", catalog.Available)
	d := f.iphone(t, "alice")
	bobs := f.iphone(t, "bob")
	alice := func(c call) call { c.org, c.user = org, "alice"; return c }

	do(t, h, call{method: "GET", path: "/devices/" + d.ID + "/apps", status: 401, code: "unauthenticated"})
	store := do(t, h, alice(call{method: "GET", path: "/devices/" + d.ID + "/apps", status: 200}))
	items := store["apps"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["state"] != "Available" || items[0].(map[string]any)["config"] != nil {
		t.Fatalf("store %v", store)
	}
	do(t, h, alice(call{method: "GET", path: "/devices/" + bobs.ID + "/apps", status: 404, code: "not_found"}))
	do(t, h, alice(call{method: "POST", path: "/devices/" + d.ID + "/apps/" + mail.ID + "/install", body: `{"user":"bob"}`, status: 400, code: "invalid_request"}))
	do(t, h, call{method: "POST", path: "/devices/" + d.ID + "/apps/" + mail.ID + "/install", org: "org_globex", user: "alice", status: 404, code: "not_found"})
	do(t, h, alice(call{method: "POST", path: "/devices/" + d.ID + "/apps/" + mail.ID + "/uninstall", status: 409, code: "wrong_state"}))
	if cs := f.commands(t, d, "InstallApplication", "RemoveApplication"); len(cs) != 0 {
		t.Fatalf("rejected requests queued %v", cs)
	}

	got := do(t, h, alice(call{method: "POST", path: "/devices/" + d.ID + "/apps/" + mail.ID + "/install", status: 202}))
	if got["state"] != "Installing" {
		t.Errorf("install answered %v", got)
	}
	do(t, h, alice(call{method: "POST", path: "/devices/" + d.ID + "/apps/" + mail.ID + "/install", body: "{}", status: 409, code: "wrong_state"}))
	f.only(t, d, "InstallApplication")

	a := f.device(t, "alice", "android", "android_work_profile", "personal")
	do(t, h, alice(call{method: "POST", path: "/devices/" + a.ID + "/apps/" + chat.ID + "/install", status: 422, code: "unsupported_channel"}))
}
