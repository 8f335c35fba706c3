package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// TestPagesRender renders every template with data reaching its branches,
// so that a template mistake fails here rather than as a 500 in use.
func TestPagesRender(t *testing.T) {
	pages, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{pages: pages, log: discardLog()}
	now := time.Now()
	dec := viewDecision(policy.Decision{Outcome: policy.Enroll, PolicyName: "P", Platform: policy.Android, Reasons: []string{"r"},
		Warnings: []string{"w"}, Requirements: policy.Requirements{Passcode: policy.Passcode{Required: true, MinLength: 6}, Encryption: true},
		Android: &policy.AndroidPlan{Mode: policy.ModeWorkProfile, Steps: []policy.ModeStep{{Mode: policy.ModeWorkProfile, Chosen: true, Reason: "x"}}}})
	dev := inventory.Device{ID: "d1", UserID: "u1", Platform: inventory.PlatformIOS, State: inventory.StateEnrolled, LastSeen: now}
	vals := []inventory.Value{{Key: inventory.KeyOSVersion, Value: "17.4", Source: inventory.SourceDevice, Collected: now},
		{Key: inventory.KeyEncryption, Value: "3", Source: inventory.SourceDevice, Collected: now},
		{Key: inventory.KeyManagedProfiles, Value: `["com.acme.wifi","com.acme.vpn"]`, Source: inventory.SourceDevice, Collected: now}}
	apps := []inventory.App{{Identifier: "a", Name: "A", Managed: true}, {Identifier: inventory.NameOnlyPrefix + "Installer", Name: "Installer"}}
	tests := []struct {
		name string
		p    page
		want string
	}{
		{"home", page{Title: "Home"}, "Admin console"},
		{"signin", page{Title: "Sign in", Error: "Wrong.", Data: signInForm{Site: "demo"}}, `role="alert"`},
		{"mfa", page{Title: "MFA", Data: mfaForm{}}, `name="code"`},
		{"mfa", page{Title: "MFA", Data: mfaForm{Enroll: true}}, "authenticator app"},
		{"pin", page{Title: "PIN", Data: pinForm{Set: true, Policy: auth.DefaultPINPolicy()}}, "at least 4 digits"},
		{"pin", page{Title: "PIN", Data: pinForm{}}, `value="verify"`},
		{"portal", page{Title: "P", Nav: "portal", Data: portalData{Devices: []inventory.Device{dev}, Facts: deviceFacts{Platform: "android", APILevel: 34}}}, "/portal/devices/d1"},
		{"decision", page{Title: "D", Nav: "portal", Data: decisionData{Decision: dec}}, "agent app on the Android device"},
		{"decision", page{Title: "D", Nav: "portal", Data: decisionData{Decision: viewDecision(policy.Decision{Outcome: policy.Denied, Reasons: []string{"no"}})}}, "cannot be enrolled"},
		{"enroll", page{Title: "E", Nav: "portal", Data: enrollData{URL: "https://x/enroll", IOS: true}}, "Safari"},
		{"report", page{Title: "R", Nav: "portal", Data: reportData{Device: dev, Report: inventory.BuildReport(dev, nil, nil, inventory.ReportOptions{}, now)}}, "can never see"},
		{"report", page{Title: "R", Nav: "portal", Data: reportData{Device: dev, Report: inventory.BuildReport(dev, vals, apps, inventory.ReportOptions{}, now)}},
			"<li>com.acme.vpn</li>"},
		{"store", page{Title: "S", Nav: "portal", CSRF: "tok", Data: storeData{Device: dev, Notice: "queued", Items: []catalog.Item{
			{App: catalog.App{ID: "a1", Kind: catalog.AppStore, Name: "Notes"}, State: catalog.StateAvailable},
			{App: catalog.App{ID: "a2", Kind: catalog.Play, Name: "Chat"}, State: catalog.StateAvailable},
			{App: catalog.App{ID: "a3", Kind: catalog.InHouse, Name: "Expenses"}, State: catalog.StateFailed, Reason: "no space"}}}},
			"/portal/devices/d1/store/a1/install"},
		{"decision", page{Title: "D", Nav: "portal", Data: decisionData{Decision: dec, CanEnrollAndroid: true,
			Facts: deviceFacts{Platform: "android", OSVersion: "9", APILevel: 28, Knox: true}}}, `name="knox" value="on"`},
		{"android_enroll", page{Title: "A", Nav: "portal", Data: androidEnrollData{Mode: "device_admin", Link: "https://x/android/agent?token=t",
			Agent: true, Payload: []byte("https://x/android/agent?token=t"), Expires: "then"}}, "<svg"},
		{"android_enroll", page{Title: "A", Nav: "portal", Data: androidEnrollData{Mode: "fully_managed", QR: true, Payload: []byte(`{"a":"b"}`)}}, "six times"},
		{"message", page{Title: "M", Data: message{Heading: "H", Text: "T", Link: "/", LinkText: "L"}}, "T"},
		{"admin_signin", page{Title: "A"}, `name="token"`},
		{"admin_devices", page{Title: "Devices", Nav: "admin", Data: consoleDevicesData{Devices: []consoleDevice{{Device: dev, Model: "iPhone"}}, Next: "d1"}}, "Next page"},
		{"admin_device", page{Title: "Device", Nav: "admin", Data: consoleDeviceData{Device: dev, Buttons: consoleButtons, Notice: "queued",
			Values: []inventory.Value{{Key: inventory.KeyOSVersion, Value: "17.4", Collected: now}}, Apps: []inventory.App{{Identifier: "a", Name: "A", Managed: true}},
			Actions: []actionView{{RequestType: "DeviceLock", Pending: true}}}}, "(pending)"},
		{"admin_device", page{Title: "Device", Nav: "admin", Data: consoleDeviceData{Device: dev, Buttons: consoleButtons, Values: vals, Apps: apps}},
			"Block-level and file-level encryption"},
		{"admin_device", page{Title: "Device", Nav: "admin", Data: consoleDeviceData{Device: dev, Buttons: consoleButtons, Values: vals, Apps: apps}},
			"Installer (no bundle identifier)"},
		{"admin_policies", page{Title: "Policies", Nav: "admin", Data: nil}, "admin API"},
		{"admin_users", page{Title: "Users", Nav: "admin", Data: []consoleUser{{User: auth.User{ID: "u1", Username: "alice", Status: auth.StatusActive}, Devices: 2}}}, "Deactivate alice"},
		{"admin_audit", page{Title: "Audit", Nav: "admin", Data: consoleAuditData{Entries: []storage.AuditEntry{{ID: 1, Actor: "a", Action: "x"}}, Next: 1}}, "Next page"},
		{"admin_apps", page{Title: "Apps", Nav: "admin", Data: consoleAppsData{Kinds: appKinds, Modes: appModes, Form: appForm{Kind: "ios_in_house"},
			Groups: []auth.Group{{ID: "g1", Name: "Employees"}},
			Apps: []consoleApp{{App: catalog.App{ID: "a1", Kind: catalog.AppStore, StoreID: 1, Identifier: "com.x", Name: "X"},
				Assignments: []consoleAssignment{{Group: "g1", GroupName: "Employees", Mode: catalog.Available}}}}}}, "Employees (Available in the store)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			s.render(rec, http.StatusOK, tt.name, tt.p)
			body := rec.Body.String()
			if rec.Code != 200 || !strings.Contains(body, tt.want) {
				t.Errorf("%s = %d, want %q in:\n%s", tt.name, rec.Code, tt.want, body)
			}
			if !strings.Contains(rec.Header().Get("Content-Security-Policy"), "default-src 'none'") {
				t.Error("no Content-Security-Policy")
			}
		})
	}
	if len(pages) != 18 {
		t.Errorf("%d templates; add the new one to this test", len(pages))
	}
}
