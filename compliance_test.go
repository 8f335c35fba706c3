package omm_test

import (
	"testing"

	"github.com/openomm/omm"
	"github.com/openomm/omm/enroll/mdm/mdmtest"
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
