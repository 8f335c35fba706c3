package ota_test

import (
	"fmt"

	"github.com/openomm/omm/enroll/ota"
	"github.com/openomm/omm/policy"
)

// ProfileFingerprint changes only with what the policy profile enforces,
// so a Reapplier queues nothing for a policy edit the device cannot see.
func ExampleProfileFingerprint() {
	enrolled := policy.Requirements{Passcode: policy.Passcode{Required: true, MinLength: 6}}
	newMinimumOS := enrolled
	newMinimumOS.MinOSVersion = "17.0" // checked at enrollment, not by the profile
	longer := enrolled
	longer.Passcode.MinLength = 10

	fmt.Println("OS minimum changes the profile:", ota.ProfileFingerprint(newMinimumOS) != ota.ProfileFingerprint(enrolled))
	fmt.Println("passcode length changes the profile:", ota.ProfileFingerprint(longer) != ota.ProfileFingerprint(enrolled))
	fmt.Println("no requirements need a profile:", ota.ProfileFingerprint(policy.Requirements{}) != "")
	// Output:
	// OS minimum changes the profile: false
	// passcode length changes the profile: true
	// no requirements need a profile: false
}
