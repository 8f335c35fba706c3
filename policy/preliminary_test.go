package policy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// TestPreliminary: a decision for a device that has not reported its
// facts (asked from a web page) holds nothing unknown against it and says
// what the device is checked against when it enrolls; an Android plan
// chooses the work profile (fully managed when company-owned) or no mode.
func TestPreliminary(t *testing.T) {
	set := fixtureSet(t)
	exec := policy.User{ID: "alice", Groups: []string{"execs"}, GroupNames: map[string]string{"execs": "Executives group"}}
	dec, err := set.Evaluate(exec, policy.Device{Platform: policy.IOS, Ownership: policy.OwnershipPersonal, Preliminary: true})
	if err != nil {
		t.Fatal(err)
	}
	reasons := strings.Join(dec.Reasons, "\n")
	for _, want := range []string{`targets the user's group "Executives group"`, "OS version is checked when it enrolls: policy \"Executives\" requires iOS 17.4.1 or later",
		"whether the device is jailbroken is checked"} {
		if !strings.Contains(reasons, want) {
			t.Errorf("reasons lack %q:\n%s", want, reasons)
		}
	}
	if dec.Outcome != policy.Enroll {
		t.Errorf("outcome %s, want enroll", dec.Outcome)
	}

	for _, tt := range []struct {
		own  policy.Ownership
		user policy.User
		mode policy.Mode
		want string
	}{
		{policy.OwnershipPersonal, exec, policy.ModeWorkProfile, "work profile: chosen"},
		{policy.OwnershipCompany, exec, policy.ModeWorkProfile, "fully managed"},
		{policy.OwnershipPersonal, user("staff"), "", "enroll it from the OMM agent app"}, // legacy modes only
	} {
		dec, err := set.Evaluate(tt.user, policy.Device{Platform: policy.Android, Ownership: tt.own, Preliminary: true})
		if err != nil {
			t.Fatal(err)
		}
		if dec.Outcome == policy.Denied || dec.Android == nil || dec.Android.Mode != tt.mode || !strings.Contains(strings.Join(dec.Reasons, "\n"), tt.want) {
			t.Errorf("%s Android of %v: %s %+v\n%s", tt.own, tt.user.Groups, dec.Outcome, dec.Android, strings.Join(dec.Reasons, "\n"))
		}
	}
	// A preliminary decision knows platform and ownership only.
	if _, err := set.Evaluate(exec, policy.Device{Platform: policy.IOS, OSVersion: "17.4", Preliminary: true}); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("preliminary with an OS version: %v", err)
	}
}
