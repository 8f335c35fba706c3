package omm_test

import (
	"testing"

	"github.com/micromdm/plist"

	"github.com/openomm/omm"
	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/enroll/mdm/mdmtest"
	"github.com/openomm/omm/inventory"
)

// TestComplianceFromEnrollment: a newly enrolled iPhone shows its policy
// at once, pending until it installed the policy profile; after a policy
// change it is pending again until it installed the new one, and a
// refused profile is not "in policy".
func TestComplianceFromEnrollment(t *testing.T) {
	e := newEnv(t, "")
	ctx := t.Context()
	d := e.enrollApple(t, e.org, e.users["alice"])
	dev, err := e.sdk.OrgDevice(ctx, e.org, d.id)
	if err != nil {
		t.Fatal(err)
	}
	compliance := func() omm.Compliance {
		t.Helper()
		c, err := e.sdk.Compliance(ctx, dev)
		if err != nil || c == nil {
			t.Fatalf("compliance = %v, %v", c, err)
		}
		return *c
	}
	if c := compliance(); !c.Pending || c.InPolicy || c.PolicyName != "Staff" {
		t.Errorf("before the device installed its policy profile: %+v", c)
	}
	d.drain(t, nil)
	if c := compliance(); c.Pending || !c.InPolicy {
		t.Errorf("after the device installed its policy profile: %+v", c)
	}

	p := e.policies[e.org]
	ios := p.Rules["ios"]
	ios.Requirements.Passcode.MinLength = 8
	p.Rules["ios"] = ios
	if _, err := e.sdk.UpdatePolicy(ctx, "admin:test", p); err != nil {
		t.Fatal(err)
	}
	if c := compliance(); !c.Pending || c.InPolicy {
		t.Errorf("while the new profile is queued: %+v", c)
	}
	d.drain(t, func(c mdmtest.Command) map[string]any {
		if c.RequestType == "InstallProfile" {
			return map[string]any{"Status": "Error", "ErrorChain": []any{map[string]any{"ErrorCode": 4001, "ErrorDomain": "MCProfileErrorDomain",
				"LocalizedDescription": "The profile could not be installed."}}}
		}
		return nil
	})
	if c := compliance(); c.Pending || c.InPolicy || c.Refused == "" {
		t.Errorf("after the device refused the new profile: %+v", c)
	}
}

// TestManagedAppNamedFromCatalog: a managed app the device reported
// without a name (Apple's managed-app list carries none) shows the name
// the organization gave it, in the admin view and the user's report.
func TestManagedAppNamedFromCatalog(t *testing.T) {
	e := newEnv(t, "")
	ctx := t.Context()
	if _, err := e.sdk.Catalog.CreateApp(ctx, catalog.App{Org: e.org, Kind: catalog.AppStore, Identifier: "com.example.notes", Name: "Notes", StoreID: 42}, "admin:test"); err != nil {
		t.Fatal(err)
	}
	d, err := e.sdk.Inventory.Register(ctx, inventory.Device{Org: e.org, UserID: e.users["alice"], Platform: inventory.PlatformIOS,
		Ownership: inventory.OwnershipPersonal, EnrollmentType: inventory.EnrollAppleDevice, State: inventory.StateEnrolled, Identifier: "UDID-NAMES"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	result, err := plist.Marshal(map[string]any{"Status": "Acknowledged", "UDID": "UDID-NAMES", "CommandUUID": "c1",
		"ManagedApplicationList": map[string]any{"com.example.notes": map[string]any{"Status": "Managed"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.sdk.Inventory.IngestApple(ctx, e.org, d.ID, result); err != nil {
		t.Fatal(err)
	}
	dd, err := e.sdk.Device(ctx, e.org, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(dd.Apps) != 1 || dd.Apps[0].Name != "Notes" {
		t.Errorf("admin view apps %+v, want Notes by name", dd.Apps)
	}
	rep, err := e.sdk.Report(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Apps.Managed) != 1 || rep.Apps.Managed[0].Name != "Notes" {
		t.Errorf("report's managed apps %+v, want Notes by name", rep.Apps.Managed)
	}
}
