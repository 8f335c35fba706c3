package declarative_test

import (
	"fmt"

	"github.com/openomm/omm/enroll/declarative"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
)

// ExampleBuild builds the declarations of a personal iPhone enrolled with
// User Enrollment: passcode settings from the policy (the keys newer than
// iOS 15 in a configuration of their own, activated from iOS 16.2), status
// subscriptions that leave out the serial number the organization may not
// see on such a device, and no OS update enforcement, which Apple does not
// allow on User Enrollment.
func ExampleBuild() {
	set := declarative.Build(declarative.Target{
		Platform: inventory.PlatformIOS, Enrollment: declarative.EnrollUser,
		Ownership: inventory.OwnershipPersonal, EnrollmentType: inventory.EnrollAppleUser, OSVersion: "17.4",
		Requirements: policy.Requirements{
			Passcode: policy.Passcode{Required: true, MinLength: 6, RequireLetters: true},
			OSUpdate: policy.OSUpdate{TargetVersion: "17.5", Deadline: "2026-03-31T18:00:00"},
		},
	})
	for _, d := range set.Declarations {
		fmt.Println(d.Type, d.Identifier)
		if p, ok := d.Payload["Predicate"]; ok {
			fmt.Println("  when", p)
		}
	}
	subs := set.Of(declarative.TypeStatusSubscriptions)[0].Payload["StatusItems"].([]any)
	fmt.Println(len(subs), "status items, serial number among them:", contains(subs, "device.identifier.serial-number"))
	// Output:
	// com.apple.activation.simple omm.activation
	// com.apple.activation.simple omm.activation.passcode-newer
	//   when @status(device.operating-system.version) >= '16.2'
	// com.apple.configuration.passcode.settings omm.passcode
	// com.apple.configuration.passcode.settings omm.passcode.newer
	// com.apple.configuration.management.status-subscriptions omm.status-subscriptions
	// 9 status items, serial number among them: false
}

func contains(items []any, name string) bool {
	for _, it := range items {
		if it.(map[string]any)["Name"] == name {
			return true
		}
	}
	return false
}

// ExampleEligible shows the per-device choice between declarations and
// commands.
func ExampleEligible() {
	phone := inventory.Device{Platform: inventory.PlatformIOS, EnrollmentType: inventory.EnrollAppleDevice}
	for _, os := range []string{"17.4", "14.8"} {
		_, why := declarative.Eligible(phone, os)
		fmt.Println(why)
	}
	// Output:
	// declarative: iOS 17.4, device enrollment
	// commands: iOS 14.8 predates declarative device management (iOS 15.0)
}
