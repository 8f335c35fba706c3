package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
)

func TestAdminAuthentication(t *testing.T) {
	w := newWorld(t)
	tests := []struct {
		name, header string
		status       int
	}{
		{"no header", "", 401},
		{"wrong token", "Bearer omm_admin_wrong", 401},
		{"a user's session token", "Bearer " + w.agentSignIn(t, "alice"), 401},
		{"basic auth", "Basic YWRtaW46YWRtaW4=", 401},
		{"right token", "Bearer " + w.first.adminToken, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), "GET", w.base+"/api/admin/devices", nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := w.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
		})
	}
}

// TestAdminTenantIsolation proves that the demo org's admin token sees
// nothing of the other org, whatever the path says.
func TestAdminTenantIsolation(t *testing.T) {
	w := newWorld(t)
	tok := w.first.adminToken

	devices := must[struct{ Devices []deviceView }](t, 200)(w.do(t, "GET", "/api/admin/devices", tok, nil))
	var ids []string
	for _, d := range devices.Devices {
		ids = append(ids, d.ID)
	}
	if len(ids) != 2 || strings.Contains(strings.Join(ids, ","), w.otherDev) {
		t.Errorf("devices = %v, want alice's and bob's only", ids)
	}
	for _, path := range []string{
		"/api/admin/devices/" + w.otherDev,
		"/api/admin/devices?user=" + w.otherUser,
	} {
		status, body := w.do(t, "GET", path, tok, nil)
		if status == 200 && strings.Contains(string(body), w.otherDev) || status != 200 && status != 404 {
			t.Errorf("GET %s = %d %s", path, status, body)
		}
	}
	for _, action := range []string{"lock", "deprovision", "erase", "refresh"} {
		if status, body := w.do(t, "POST", "/api/admin/devices/"+w.otherDev+"/"+action, tok, nil); status != 404 {
			t.Errorf("%s on the other org's device = %d %s, want 404", action, status, body)
		}
	}
	if status, _ := w.do(t, "GET", "/api/admin/orgs/"+string(w.otherOrg), tok, nil); status != http.StatusForbidden {
		t.Errorf("other org by path = %d, want 403", status)
	}
	orgs := must[struct{ Orgs []orgView }](t, 200)(w.do(t, "GET", "/api/admin/orgs", tok, nil))
	if len(orgs.Orgs) != 1 || orgs.Orgs[0].ID != demoOrg.ID {
		t.Errorf("orgs = %+v, want the demo org only", orgs.Orgs)
	}
	// The audit log: every page of the demo org, none of the other's
	// entries (its org.create and device.register).
	var all []auditView
	for after := int64(0); ; {
		page := must[struct {
			Entries []auditView
			Next    int64
		}](t, 200)(w.do(t, "GET", fmt.Sprintf("/api/admin/audit?limit=5&after=%d", after), tok, nil))
		if len(page.Entries) > 5 {
			t.Fatalf("page of %d entries, limit 5", len(page.Entries))
		}
		all = append(all, page.Entries...)
		if page.Next == 0 {
			break
		}
		after = page.Next
	}
	if len(all) < 10 {
		t.Errorf("audit log has %d entries; the demo seed alone writes more", len(all))
	}
	for _, e := range all {
		if e.Target == "org:other" || e.Target == "device:"+w.otherDev {
			t.Errorf("the demo org's audit log shows %+v", e)
		}
	}
	// Bad paging is refused with a message, not a stack trace.
	for _, q := range []string{"limit=-1", "limit=abc", "after=-5", "limit=100000"} {
		if status, body := w.do(t, "GET", "/api/admin/audit?"+q, tok, nil); status != 400 || !strings.Contains(string(body), "invalid_request") {
			t.Errorf("audit?%s = %d %s", q, status, body)
		}
	}
}

func TestAdminDirectoryAndDevices(t *testing.T) {
	w := newWorld(t)
	tok := w.first.adminToken

	// Users and groups.
	u := must[userView](t, 201)(w.do(t, "POST", "/api/admin/users", tok, map[string]string{
		"username": "dave", "display_name": "Dave", "password": "correct horse battery"}))
	if status, body := w.do(t, "POST", "/api/admin/users", tok, map[string]string{"username": "dave", "password": "another password"}); status != 409 {
		t.Errorf("duplicate user = %d %s", status, body)
	}
	if status, body := w.do(t, "POST", "/api/admin/users", tok, map[string]string{"username": "eve", "password": "short"}); status != 400 {
		t.Errorf("short password = %d %s", status, body)
	}
	g := must[groupView](t, 201)(w.do(t, "POST", "/api/admin/groups", tok, map[string]string{"name": "Sales"}))
	if status, body := w.do(t, "POST", "/api/admin/groups/"+g.ID+"/members", tok, map[string]string{"user_id": u.ID}); status != 204 {
		t.Errorf("add member = %d %s", status, body)
	}
	groups := must[struct{ Groups []groupView }](t, 200)(w.do(t, "GET", "/api/admin/groups", tok, nil))
	if len(groups.Groups) != len(demoGroups)+1 {
		t.Errorf("groups = %+v", groups.Groups)
	}

	// Policies: create, read, update with version, stale update, delete.
	in := policyBody{Name: "Sales", Priority: 50, Groups: []string{g.ID},
		Rules: map[policy.Platform]policy.Rule{policy.IOS: {Action: policy.Allow}}}
	p := must[policyBody](t, 201)(w.do(t, "POST", "/api/admin/policies", tok, in))
	if p.ID == "" || p.Version != 1 {
		t.Fatalf("created %+v", p)
	}
	if status, body := w.do(t, "POST", "/api/admin/policies", tok, in); status != 409 {
		t.Errorf("same priority again = %d %s", status, body)
	}
	p.Description = "updated"
	p2 := must[policyBody](t, 200)(w.do(t, "PUT", "/api/admin/policies/"+string(p.ID), tok, p))
	if p2.Version != 2 || p2.Description != "updated" {
		t.Errorf("updated %+v", p2)
	}
	if status, body := w.do(t, "PUT", "/api/admin/policies/"+string(p.ID), tok, p); status != 409 {
		t.Errorf("stale update = %d %s", status, body)
	}
	if status, body := w.do(t, "PUT", "/api/admin/policies/default", tok, p); status != 400 && status != 403 {
		t.Errorf("update of the default = %d %s", status, body)
	}
	if status, body := w.do(t, "DELETE", "/api/admin/policies/"+string(p.ID), tok, nil); status != 400 {
		t.Errorf("delete without version = %d %s", status, body)
	}
	if status, body := w.do(t, "DELETE", fmt.Sprintf("/api/admin/policies/%s?version=%d", p.ID, p2.Version), tok, nil); status != 204 {
		t.Errorf("delete = %d %s", status, body)
	}
	if status, _ := w.do(t, "GET", "/api/admin/policies/"+string(p.ID), tok, nil); status != 404 {
		t.Errorf("deleted policy still readable: %d", status)
	}
	if status, body := w.do(t, "POST", "/api/admin/policies", tok, `{"name":"x","priority":1,"rules":{"ios":{"action":"maybe"}}}`); status != 400 {
		t.Errorf("invalid policy = %d %s", status, body)
	}

	// Device actions show as pending until the device answers.
	if status, body := w.do(t, "POST", "/api/admin/devices/"+w.aliceDev+"/lock", tok, nil); status != 202 {
		t.Fatalf("lock = %d %s", status, body)
	}
	if status, body := w.do(t, "POST", "/api/admin/devices/"+w.aliceDev+"/refresh", tok, nil); status != 202 {
		t.Fatalf("refresh = %d %s", status, body)
	}
	if status, body := w.do(t, "POST", "/api/admin/devices/"+w.aliceDev+"/erase", tok, nil); status != 403 {
		t.Errorf("erase of a personal device = %d %s, want 403", status, body)
	}
	if status, _ := w.do(t, "POST", "/api/admin/devices/"+w.aliceDev+"/explode", tok, nil); status != 404 {
		t.Errorf("unknown action = %d", status)
	}
	detail := must[struct {
		Device  deviceView
		Actions []actionView
	}](t, 200)(w.do(t, "GET", "/api/admin/devices/"+w.aliceDev, tok, nil))
	var lockPending bool
	for _, a := range detail.Actions {
		if a.RequestType == "DeviceLock" && a.Pending {
			lockPending = true
		}
	}
	if !lockPending || len(detail.Actions) < 2 {
		t.Errorf("actions = %+v, want a pending DeviceLock and the refresh commands", detail.Actions)
	}

	// Deactivating bob deprovisions his device and ends his sessions.
	bob := w.agentSignIn(t, "bob")
	res := must[struct {
		Status                string
		DevicesDeprovisioning int `json:"devices_deprovisioning"`
	}](t, 200)(w.do(t, "POST", "/api/admin/users/"+w.users["bob"]+"/deactivate", tok, nil))
	if res.DevicesDeprovisioning != 1 {
		t.Errorf("deactivate = %+v, want 1 device deprovisioning", res)
	}
	bobDev := must[struct{ Device deviceView }](t, 200)(w.do(t, "GET", "/api/admin/devices/"+w.bobDev, tok, nil))
	if bobDev.Device.State != inventory.StateDeprovisioning {
		t.Errorf("bob's device is %s", bobDev.Device.State)
	}
	if status, _ := w.do(t, "GET", "/api/agent/devices", bob, nil); status != 401 {
		t.Errorf("bob's session after deactivation = %d, want 401", status)
	}
	if status, _ := w.do(t, "POST", "/api/admin/users/no-such-user/deactivate", tok, nil); status != 404 {
		t.Errorf("deactivate unknown user = %d", status)
	}
}
