package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/android/agent"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
)

// statusReport is a device report in the Device resource's shape, with
// fields the privacy contract forbids (network identifiers, location,
// usage events) that must be dropped before storage.
const statusReport = `{
	"hardwareInfo": {"serialNumber": "R58M123ABC", "model": "SM-G960F", "manufacturer": "samsung", "deviceBasebandVersion": "G960FXXU"},
	"softwareInfo": {"androidVersion": "9", "securityPatchLevel": "2020-01-01"},
	"deviceSettings": {"isDeviceSecure": true, "encryptionStatus": "ENCRYPTED"},
	"securityPosture": {"devicePosture": "SECURE"},
	"networkInfo": {"imei": "356938035643809", "wifiMacAddress": "00:11:22:33:44:55"},
	"lastKnownLocation": {"latitude": 52.5, "longitude": 13.4},
	"applicationReports": [
		{"packageName": "com.example.mail", "displayName": "Mail", "versionName": "2.1", "state": "INSTALLED"},
		{"packageName": "org.personal.chat", "displayName": "Chat", "versionName": "9.9", "events": [{"eventType": "LAUNCH"}]}
	]
}`

// TestEndToEndLegacy: a Samsung device on API 28 enrolls in Knox mode
// over the agent protocol, receives its policy and apps, reports status
// (forbidden fields dropped), is wiped and ends in the right state —
// company-owned: factory reset, wiped; personal: work data only,
// deprovisioned.
func TestEndToEndLegacy(t *testing.T) {
	tests := []struct {
		own       inventory.Ownership
		wantWipe  android.WipeKind
		wantState inventory.State
	}{
		{inventory.OwnershipCompany, android.WipeFactoryReset, inventory.StateWiped},
		{inventory.OwnershipPersonal, android.WipeWorkData, inventory.StateDeprovisioned},
	}
	for _, tc := range tests {
		t.Run(string(tc.own), func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t)
			policyOwn := policy.OwnershipPersonal
			if tc.own == inventory.OwnershipCompany {
				policyOwn = policy.OwnershipCompany
			}
			req := policy.Requirements{
				Passcode: policy.Passcode{Required: true, MinLength: 6}, Encryption: true, AllowFullWipe: true,
				Android: policy.AndroidRequirements{Modes: policy.Modes{WorkProfile: true, Knox: true, DeviceAdmin: true}},
			}
			dec := decision(t, req, policy.Device{OSVersion: "9", APILevel: 28, Knox: true, Manufacturer: "samsung", Ownership: policyOwn})
			iss, err := f.svc.CreateToken(ctx, "user:bob", android.TokenRequest{Org: "org_acme", UserID: "bob", Decision: dec, Ownership: tc.own, OneTime: true})
			if err != nil {
				t.Fatal(err)
			}
			if iss.Plan.Type != inventory.EnrollAndroidKnox || iss.Link == "" || iss.QR != nil {
				t.Fatalf("issued %+v, want a Knox enrollment link", iss.Plan)
			}

			var enr agent.EnrollResponse
			if code := f.call(t, http.MethodPost, "/enroll", "", agent.EnrollRequest{Token: iss.Value, Identifier: "android-id-1"}, &enr); code != http.StatusOK {
				t.Fatalf("enroll: %d", code)
			}
			if enr.KnoxLicense != "KNOX-ACME-LICENSE" || enr.Mode != string(policy.ModeKnox) {
				t.Errorf("enroll answer %+v", enr)
			}
			// The token was one-time.
			var e errorAnswer
			if code := f.call(t, http.MethodPost, "/enroll", "", agent.EnrollRequest{Token: iss.Value, Identifier: "android-id-2"}, &e); code != http.StatusForbidden || e.Error.Code != agent.CodeTokenInvalid {
				t.Errorf("second enroll with a one-time token: %d %s", code, e.Error.Code)
			}

			var ap android.AgentPolicy
			if code := f.call(t, http.MethodGet, "/policy?api_level=28", enr.Credential, nil, &ap); code != http.StatusOK {
				t.Fatalf("policy: %d", code)
			}
			if len(ap.Apps) != 3 || !slices.ContainsFunc(ap.Calls, func(c android.AdminCall) bool {
				return c.Method == "setPasswordQuality" && c.Value == int64(android.QualityNumericComplex)
			}) {
				t.Errorf("agent policy %+v", ap)
			}

			var st agent.StatusResponse
			if code := f.call(t, http.MethodPost, "/status", enr.Credential, []byte(statusReport), &st); code != http.StatusOK {
				t.Fatalf("status: %d", code)
			}
			if st.Dropped.Forbidden < 3 || st.Apps != 2 {
				t.Errorf("status answer %+v: want the network, location and usage keys dropped and two apps kept", st)
			}
			vals, err := f.store.DeviceValues(ctx, "org_acme", enr.DeviceID)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				if v.Value == "356938035643809" || v.Value == "G960FXXU" {
					t.Errorf("a forbidden value was stored: %+v", v)
				}
			}
			stored, _ := f.store.DeviceApps(ctx, "org_acme", enr.DeviceID)
			for _, a := range stored {
				if a.Version != "" || a.Managed {
					t.Errorf("legacy-mode apps keep names only: %+v", a)
				}
			}

			cmd, err := f.svc.Wipe(ctx, "admin:alice", "org_acme", enr.DeviceID)
			if err != nil {
				t.Fatal(err)
			}
			if cmd.Wipe != tc.wantWipe || cmd.Status != android.StatusPending {
				t.Fatalf("wipe command %+v, want pending %s", cmd, tc.wantWipe)
			}
			state(t, f, enr.DeviceID, inventory.StateDeprovisioning) // pending, shown honestly

			var list struct {
				Commands []agent.CommandView `json:"commands"`
			}
			f.call(t, http.MethodGet, "/commands", enr.Credential, nil, &list)
			if len(list.Commands) != 1 || list.Commands[0].ID != cmd.ID || list.Commands[0].Wipe != tc.wantWipe {
				t.Fatalf("pending commands %+v", list.Commands)
			}
			if code := f.call(t, http.MethodPost, "/commands/ack", enr.Credential, agent.AckRequest{ID: cmd.ID, Status: android.StatusDone}, nil); code != http.StatusOK {
				t.Fatalf("ack: %d", code)
			}
			state(t, f, enr.DeviceID, tc.wantState)
			// The device is gone: its credential no longer works.
			if code := f.call(t, http.MethodGet, "/commands", enr.Credential, nil, &e); code != http.StatusUnauthorized {
				t.Errorf("credential of a %s device: %d", tc.wantState, code)
			}
		})
	}
}

// TestEndToEndWorkProfile: devices on the Android Management API path
// enroll (Google's side simulated by amapi.Fake), receive their policy with
// apps, report status through the privacy filter, are wiped and end in the
// right state: a personal work profile loses the profile only
// (devices.delete), a company-owned fully managed device is factory reset.
func TestEndToEndWorkProfile(t *testing.T) {
	tests := []struct {
		own       inventory.Ownership
		wantType  inventory.EnrollmentType
		wantWipe  android.WipeKind
		wantState inventory.State
	}{
		{inventory.OwnershipPersonal, inventory.EnrollAndroidWorkProfile, android.WipeWorkData, inventory.StateDeprovisioned},
		{inventory.OwnershipCompany, inventory.EnrollAndroidFullyManaged, android.WipeFactoryReset, inventory.StateWiped},
	}
	for _, tc := range tests {
		t.Run(string(tc.own), func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t)
			policyOwn := policy.OwnershipPersonal
			if tc.own == inventory.OwnershipCompany {
				policyOwn = policy.OwnershipCompany
			}
			req := policy.Requirements{
				Passcode: policy.Passcode{Required: true, MinLength: 6}, AllowFullWipe: true,
				DataSeparation: policy.DataSeparation{BlockWorkToPersonal: true},
				Android: policy.AndroidRequirements{
					Modes:               policy.Modes{WorkProfile: true, DeviceAdmin: true},
					WorkProfilePasscode: policy.Passcode{Required: true, MinLength: 4, AllowSimple: true},
				},
			}
			dec := decision(t, req, policy.Device{OSVersion: "14", APILevel: 34, WorkProfile: true, Ownership: policyOwn})
			iss, err := f.svc.CreateToken(ctx, "user:bob", android.TokenRequest{Org: "org_acme", UserID: "bob", Decision: dec, Ownership: tc.own})
			if err != nil {
				t.Fatal(err)
			}
			if iss.Plan.Type != tc.wantType {
				t.Fatalf("plan %+v", iss.Plan)
			}
			if tc.own == inventory.OwnershipCompany {
				var qr android.QRPayload
				if err := json.Unmarshal(iss.QR, &qr); err != nil || qr.Extras["com.google.android.apps.work.clouddpc.EXTRA_ENROLLMENT_TOKEN"] != iss.Value {
					t.Fatalf("QR payload %s: %v", iss.QR, err)
				}
			} else if iss.Link != android.GoogleEnrollLink(iss.Value) {
				t.Fatalf("link %q", iss.Link)
			}
			ptok, ok := f.fake.Token(iss.Value)
			// The token data names the org and our token, so that a
			// notification names its tenant.
			if !ok || ptok.AdditionalData != "b3JnX2FjbWU."+iss.Token.ID {
				t.Fatalf("provider token %+v", ptok)
			}
			pol, _ := f.fake.Policy(ptok.PolicyName)
			if len(pol.Applications) != 3 || pol.PlayStoreMode == "" {
				t.Errorf("provider policy apps %+v", pol.Applications)
			}
			if tc.own == inventory.OwnershipPersonal && (pol.CrossProfilePolicies == nil || len(pol.PasswordPolicies) != 2) {
				t.Errorf("work-profile policy %+v lacks its profile passcode or cross-profile policies", pol)
			}

			// Google's side: the device enrolls with the token and reports.
			name := enterprise + "/devices/3a1b"
			f.fake.SetDevice(name, []byte(fmt.Sprintf(`{"name":%q,"enrollmentTokenData":%q,"hardwareInfo":{"serialNumber":"X1","model":"Pixel 8"},
				"networkInfo":{"imei":"356938035643809"},"applicationReports":[{"packageName":"com.example.mail","displayName":"Mail","versionName":"2.1","state":"INSTALLED"}]}`,
				name, ptok.AdditionalData)))
			d, err := f.svc.EnrollManaged(ctx, "org_acme", name)
			if err != nil {
				t.Fatal(err)
			}
			state(t, f, d.ID, inventory.StateEnrolled)
			res, err := f.svc.SyncStatus(ctx, "org_acme", d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if res.Dropped.Forbidden == 0 || res.Apps != 1 {
				t.Errorf("status: %+v, want networkInfo dropped and the managed app kept", res)
			}

			// Our agent inside the work profile reports status too, with a
			// credential issued once the user signed in through it.
			if _, err := f.svc.IssueStatusCredential(ctx, "org_acme", "mallory", d.ID); err == nil {
				t.Error("a credential was issued for another user's device")
			}
			cred, err := f.svc.IssueStatusCredential(ctx, "org_acme", "bob", d.ID)
			if err != nil {
				t.Fatal(err)
			}
			var st agent.StatusResponse
			if code := f.call(t, http.MethodPost, "/status", cred, []byte(statusReport), &st); code != http.StatusOK {
				t.Fatalf("agent status: %d", code)
			}
			if st.Dropped.Forbidden < 3 {
				t.Errorf("agent status %+v: forbidden keys not dropped", st)
			}
			stored, _ := f.store.DeviceApps(ctx, "org_acme", d.ID)
			if len(stored) != 2 || !stored[0].Managed || stored[0].Version == "" {
				t.Errorf("work-profile apps %+v: the profile's apps are the organization's, with versions", stored)
			}
			var e errorAnswer
			if code := f.call(t, http.MethodGet, "/policy?api_level=34", cred, nil, &e); code != http.StatusConflict {
				t.Errorf("agent policy for a managed device: %d, want 409 (Google delivers it)", code)
			}
			cmd, err := f.svc.Wipe(ctx, "admin:alice", "org_acme", d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if cmd.Wipe != tc.wantWipe || cmd.Status != android.StatusDone {
				t.Fatalf("wipe %+v, want done %s", cmd, tc.wantWipe)
			}
			switch tc.wantWipe {
			case android.WipeWorkData:
				if got := f.fake.Deleted(); len(got) != 1 || got[0] != name {
					t.Errorf("deleted %v, want the work profile removed", got)
				}
				if len(f.fake.Commands(name)) != 0 {
					t.Errorf("commands %v, want no factory reset", f.fake.Commands(name))
				}
			case android.WipeFactoryReset:
				if cmds := f.fake.Commands(name); len(cmds) != 1 || cmds[0].Type != "WIPE" {
					t.Errorf("commands %v, want one WIPE", cmds)
				}
			}
			state(t, f, d.ID, tc.wantState)
		})
	}
}

func state(t *testing.T, f *fixture, id string, want inventory.State) {
	t.Helper()
	d, err := f.store.Device(context.Background(), "org_acme", id)
	if err != nil {
		t.Fatal(err)
	}
	if d.State != want {
		t.Errorf("device %s is %s, want %s", id, d.State, want)
	}
}
