package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openomm/omm"
	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
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
	sum := omm.DeviceSummary{Device: dev, Name: "Alice's iPhone", Model: "iPhone", User: auth.User{ID: "u1", Username: "alice", DisplayName: "Alice"}}
	gone := omm.DeviceSummary{Device: inventory.Device{ID: "d2", UserID: "u1", Platform: inventory.PlatformIOS, State: inventory.StateDeprovisioned, Created: now}}
	detail := func(d omm.DeviceSummary, vals []inventory.Value, apps []inventory.App) consoleDeviceData {
		dd := consoleDeviceData{DeviceDetail: omm.DeviceDetail{DeviceSummary: d, Values: vals, Apps: apps,
			Compliance: &omm.Compliance{Policy: "p1", PolicyName: "Employees", Pending: true}}}
		for _, b := range consoleButtons {
			dd.Offered = append(dd.Offered, b)
		}
		return dd
	}
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
		{"mfa", page{Title: "MFA", Data: mfaForm{TOTP: true}}, `name="code"`},
		{"mfa", page{Title: "MFA", Data: mfaForm{Enroll: true}}, "authenticator app"},
		{"mfa", page{Title: "MFA", Data: mfaForm{SMS: true, Voice: true, Phone: "…67"}}, "Text me a code"},
		{"mfa", page{Title: "MFA", Data: mfaForm{SMS: true, Sent: "sms", Phone: "…67"}}, "We sent a code by text message to …67"},
		{"totp", page{Title: "TOTP", Data: totpSetup{URI: "otpauth://totp/Demo:alice?secret=ABCDEFGHIJKLMNOP", Secret: "ABCDEFGHIJKLMNOP", Action: "/signin/mfa/confirm"}}, "ABCD EFGH IJKL MNOP"},
		{"totp", page{Title: "TOTP", Data: totpSetup{Action: "/portal/security/totp/confirm"}}, "Start again"},
		{"security", page{Title: "S", Nav: "portal", Data: securityData{MFA: omm.MFAStatus{Required: "the policy requires it", Phone: "+15555550100"}}}, "Set up an authenticator app"},
		{"pin", page{Title: "PIN", Data: pinForm{Set: true, Policy: auth.DefaultPINPolicy()}}, "at least 4 digits"},
		{"pin", page{Title: "PIN", Data: pinForm{}}, `value="verify"`},
		{"portal", page{Title: "P", Nav: "portal", Data: portalData{Devices: []omm.DeviceSummary{sum, gone}, Facts: deviceFacts{Platform: "android"}}}, "Alice&#39;s iPhone"},
		{"portal", page{Title: "P", Nav: "portal", Data: portalData{Devices: []omm.DeviceSummary{gone}}}, "iPhone added"},
		{"decision", page{Title: "D", Nav: "portal", Data: decisionData{Decision: dec}}, "agent app on the Android device"},
		{"decision", page{Title: "D", Nav: "portal", Data: decisionData{Decision: viewDecision(policy.Decision{Outcome: policy.Denied, Reasons: []string{"no"}})}}, "cannot be enrolled"},
		{"decision", page{Title: "D", Nav: "portal", Data: decisionData{Decision: withPreview(dec), CanEnrollAndroid: true,
			Facts: deviceFacts{Platform: "android", Ownership: "company"}}}, "What your organization will see"},
		{"enroll", page{Title: "E", Nav: "portal", Data: enrollData{URL: "https://x/enroll", IOS: true}}, "Safari"},
		{"admin_token", page{Title: "T", Nav: "admin", CSRF: "tok"}, `action="/admin/token/rotate"`},
		{"admin_credentials", page{Title: "C", Nav: "admin", Data: credentialsData{Window: "720h0m0s",
			Credentials: []omm.Credential{{Name: omm.CredentialPush, Topic: "com.apple.mgmt.External.x", NotAfter: now, Expiring: true}},
			Renewals:    []omm.IdentityRenewal{{Device: "dev_1", NotAfter: now, Attempts: 3, AtRisk: true}}}}, "at risk: the device has not taken its renewal"},
		{"report", page{Title: "R", Nav: "portal", Data: reportData{Device: sum, Report: inventory.BuildReport(dev, nil, nil, inventory.ReportOptions{}, now)}}, "can never see"},
		{"report", page{Title: "R", Nav: "portal", Data: reportData{Device: sum, Offered: map[string]bool{"deprovision": true},
			Report: inventory.BuildReport(dev, vals, apps, inventory.ReportOptions{}, now)}}, "<li>com.acme.vpn</li>"},
		{"store", page{Title: "S", Nav: "portal", CSRF: "tok", Data: storeData{Device: sum, Notice: "queued", Items: []catalog.Item{
			{App: catalog.App{ID: "a1", Kind: catalog.AppStore, Name: "Notes"}, State: catalog.StateAvailable},
			{App: catalog.App{ID: "a2", Kind: catalog.Play, Name: "Chat"}, State: catalog.StateAvailable},
			{App: catalog.App{ID: "a3", Kind: catalog.InHouse, Name: "Expenses"}, State: catalog.StateFailed, Reason: "no space"}}}},
			"/portal/devices/d1/store/a1/install"},
		{"store", page{Title: "S", Nav: "portal", CSRF: "tok", Data: storeData{Device: gone, Closed: "The device is no longer managed", Items: []catalog.Item{
			{App: catalog.App{ID: "a1", Kind: catalog.AppStore, Name: "Notes"}, State: catalog.StateAvailable}}}}, "no longer managed"},
		{"android_enroll", page{Title: "A", Nav: "portal", Data: androidEnrollData{Mode: "device_admin", Kind: "native device admin", Link: "https://x/android/agent?token=t",
			Agent: true, Payload: []byte("https://x/android/agent?token=t"), Expires: "then"}}, "<svg"},
		{"android_enroll", page{Title: "A", Nav: "portal", Data: androidEnrollData{Mode: "work_profile", Kind: "fully managed", QR: true, Payload: []byte(`{"a":"b"}`)}}, "Enrollment code (fully managed)"},
		{"message", page{Title: "M", Data: message{Heading: "H", Text: "T", Link: "/", LinkText: "L"}}, "T"},
		{"admin_signin", page{Title: "A"}, `name="token"`},
		{"admin_devices", page{Title: "Devices", Nav: "admin", Data: consoleDevicesData{Devices: []omm.DeviceSummary{sum, gone}, Next: "d1", User: "alice", UserID: "u1"}}, "Next page"},
		{"admin_device", page{Title: "Device", Nav: "admin", Data: func() consoleDeviceData {
			d := detail(sum, []inventory.Value{{Key: inventory.KeyOSVersion, Value: "17.4", Collected: now}}, []inventory.App{{Identifier: "a", Name: "A", Managed: true}})
			d.Notice, d.Commands = "queued", []actionView{{RequestType: "DeviceLock", Pending: true}}
			return d
		}()}, "(pending)"},
		{"admin_device", page{Title: "Device", Nav: "admin", Data: detail(sum, vals, apps)}, "Block-level and file-level encryption"},
		{"admin_device", page{Title: "Device", Nav: "admin", Data: detail(sum, vals, apps)}, "Installer (no bundle identifier)"},
		{"admin_device", page{Title: "Device", Nav: "admin", Data: detail(sum, vals, apps)}, "Pending: the device has not applied the settings of policy &#34;Employees&#34;"},
		{"admin_device", page{Title: "Device", Nav: "admin", Data: consoleDeviceData{DeviceDetail: omm.DeviceDetail{DeviceSummary: gone},
			Refused: []omm.ActionChoice{{Action: omm.ActionLock, Why: "the device is deprovisioned: it is no longer managed"}}}}, "no longer managed"},
		{"admin_confirm", page{Title: "Erase?", Nav: "admin", Data: confirmation{Heading: "Erase?", Text: "Everything goes", Action: "/admin/devices/d1/erase",
			Button: "Erase", Check: "I understand", Back: "/admin/devices/d1", Fields: map[string]string{"version": "3"}}}, `name="version" value="3"`},
		{"admin_policies", page{Title: "Policies", Nav: "admin", Data: consolePoliciesData{Policies: []consolePolicyRow{{Policy: policy.Policy{ID: "p1", Name: "Staff", RequireMFA: true}}}}}, "/admin/policies/p1"},
		{"admin_policy", page{Title: "Policy", Nav: "admin", Data: func() policyForm {
			f := formOfPolicy(policy.Policy{ID: "p1", Name: "Staff", Groups: []string{"g1"}, Rules: map[policy.Platform]policy.Rule{
				policy.Android: {Action: policy.Require, Requirements: policy.Requirements{Android: policy.AndroidRequirements{Modes: policy.Modes{Knox: true}}}}}})
			f.AllGroups = []auth.Group{{ID: "g1", Name: "Employees"}}
			return f
		}()}, `id="android_knox" name="android_knox" checked`},
		{"admin_users", page{Title: "Users", Nav: "admin", Data: []consoleUser{{User: auth.User{ID: "u1", Username: "alice", Status: auth.StatusActive},
			Devices: 2, MFA: omm.MFAStatus{Authenticator: true}, Groups: []auth.Group{{Name: "Employees"}}}}}, "Reset the authenticator app of alice"},
		{"admin_groups", page{Title: "Groups", Nav: "admin", Data: consoleGroupsData{Groups: []consoleGroup{{Group: auth.Group{ID: "g1", Name: "Employees"},
			Members: []auth.User{{ID: "u1", Username: "alice"}}, Others: []auth.User{{ID: "u2", Username: "bob"}}}}}}, "Remove alice from Employees"},
		{"admin_audit", page{Title: "Audit", Nav: "admin", Data: consoleAuditData{Entries: []omm.AuditView{{ID: 1, Actor: consoleAdminActor, Action: "device.lock",
			Target: "device:d1", TargetName: "Alice's iPhone"}}, Next: "/admin/audit?before=1", Actions: auditFamilies}}, "Administrator (console)"},
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
	if len(pages) != 25 {
		t.Errorf("%d templates; add the new one to this test", len(pages))
	}
}

// withPreview is dec with the privacy preview of a company-owned
// work-profile device.
func withPreview(dec omm.DecisionView) omm.DecisionView {
	rep := inventory.Preview(inventory.PlatformAndroid, inventory.OwnershipCompany, inventory.EnrollAndroidFullyManaged, inventory.ReportOptions{}, time.Now())
	dec.Privacy = &rep
	dec.Facts = omm.ExplainFacts(omm.Facts{Platform: "android", Ownership: "company", FromPerson: true})
	return dec
}
