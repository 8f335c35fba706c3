package android

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
)

// TestModeScenarios is the scenario table of the mode decision: the policy
// decides the mode (and explains each step); PlanFor adds the enrollment
// type, channel and provisioning from ownership.
func TestModeScenarios(t *testing.T) {
	tests := []struct {
		name   string
		modes  policy.Modes
		device policy.Device
		own    inventory.Ownership
		want   inventory.EnrollmentType // "" = denied
		// reasons holds fragments the explained steps must contain.
		reasons []string
	}{
		{"work-profile capable, personal", allModes,
			policy.Device{APILevel: 33, OSVersion: "13", WorkProfile: true}, inventory.OwnershipPersonal,
			inventory.EnrollAndroidWorkProfile, []string{"work profile: enabled and supported by the device: chosen"}},
		{"work-profile capable, company-owned", allModes,
			policy.Device{APILevel: 33, OSVersion: "13", WorkProfile: true}, inventory.OwnershipCompany,
			inventory.EnrollAndroidFullyManaged, []string{"chosen"}},
		{"Samsung without work profile, API 28", allModes,
			policy.Device{APILevel: 28, Knox: true, Manufacturer: "samsung"}, inventory.OwnershipPersonal,
			inventory.EnrollAndroidKnox, []string{"does not support a work profile", "Samsung Knox: enabled and supported"}},
		{"Samsung without work profile, API 30", allModes,
			policy.Device{APILevel: 30, OSVersion: "11", Knox: true, Manufacturer: "samsung"}, inventory.OwnershipPersonal,
			"", []string{"Samsung Knox: refused on API level 30", "native device admin: refused on API level 30"}},
		{"Samsung without work profile, Knox disabled, API 28", policy.Modes{WorkProfile: true, DeviceAdmin: true},
			policy.Device{APILevel: 28, Knox: true, Manufacturer: "samsung"}, inventory.OwnershipPersonal,
			inventory.EnrollAndroidDeviceAdmin, []string{"Samsung Knox: disabled by policy", "native device admin: enabled and supported"}},
		{"non-Samsung without work profile, API 28", allModes,
			policy.Device{APILevel: 28}, inventory.OwnershipPersonal,
			inventory.EnrollAndroidDeviceAdmin, []string{"Samsung Knox: not a Samsung device with Knox", "native device admin: enabled"}},
		{"non-Samsung without work profile, API 30", allModes,
			policy.Device{APILevel: 30, OSVersion: "11"}, inventory.OwnershipPersonal,
			"", []string{"native device admin: refused on API level 30"}},
		{"modes disabled by policy: Knox only, non-Samsung API 28", policy.Modes{Knox: true},
			policy.Device{APILevel: 28, WorkProfile: true}, inventory.OwnershipPersonal,
			"", []string{"work profile: disabled by policy", "Samsung Knox: not a Samsung device", "native device admin: disabled by policy"}},
		{"work profile disabled, capable device on API 30", policy.Modes{Knox: true, DeviceAdmin: true},
			policy.Device{APILevel: 30, OSVersion: "11", WorkProfile: true, Knox: true}, inventory.OwnershipPersonal,
			"", []string{"work profile: disabled by policy", "Samsung Knox: refused"}},
		{"legacy on a company-owned device, API 28", policy.Modes{DeviceAdmin: true},
			policy.Device{APILevel: 28}, inventory.OwnershipCompany,
			inventory.EnrollAndroidDeviceAdmin, []string{"native device admin: enabled"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dec := decide(t, tc.modes, policy.Requirements{}, tc.device)
			plan, err := PlanFor(dec, tc.own)
			all := strings.Join(dec.Reasons, "\n")
			if tc.want == "" {
				if !errors.Is(err, ErrDenied) {
					t.Fatalf("PlanFor = %+v, %v; want ErrDenied", plan, err)
				}
				all = err.Error() // the reasons travel in the error
			} else {
				if err != nil {
					t.Fatalf("PlanFor: %v", err)
				}
				if plan.Type != tc.want {
					t.Errorf("type = %s, want %s", plan.Type, tc.want)
				}
				if len(plan.Steps) != 3 || !slices.ContainsFunc(plan.Steps, func(s policy.ModeStep) bool { return s.Chosen }) {
					t.Errorf("steps = %+v, want three with one chosen", plan.Steps)
				}
				wantChannel := ChannelAgent
				if tc.want == inventory.EnrollAndroidWorkProfile || tc.want == inventory.EnrollAndroidFullyManaged {
					wantChannel = ChannelAMAPI
				}
				if plan.Channel != wantChannel {
					t.Errorf("channel = %s, want %s", plan.Channel, wantChannel)
				}
			}
			for _, r := range tc.reasons {
				if !strings.Contains(all, r) {
					t.Errorf("explanation lacks %q:\n%s", r, all)
				}
			}
		})
	}
}
