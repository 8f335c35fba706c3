package android

import (
	"testing"

	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// decide evaluates a one-policy org for an Android device.
func decide(t testing.TB, modes policy.Modes, req policy.Requirements, d policy.Device) policy.Decision {
	t.Helper()
	req.Android.Modes = modes
	p := policy.Policy{
		ID: "pol_android", Org: "org_test", Name: "Android", Priority: 1, Groups: []string{"staff"},
		Rules: map[policy.Platform]policy.Rule{policy.Android: {Action: policy.Require, Requirements: req}},
	}
	set, err := policy.NewSet(storage.OrgID("org_test"), []policy.Policy{p})
	if err != nil {
		t.Fatal(err)
	}
	d.Platform = policy.Android
	if d.OSVersion == "" {
		d.OSVersion = "9"
	}
	dec, err := set.Evaluate(policy.User{ID: "u1", Groups: []string{"staff"}}, d)
	if err != nil {
		t.Fatal(err)
	}
	return dec
}

var allModes = policy.Modes{WorkProfile: true, Knox: true, DeviceAdmin: true}
