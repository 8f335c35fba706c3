package android_test

import (
	"encoding/json"
	"fmt"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
)

// A Samsung phone on Android 9 without work-profile support: the policy
// decision falls back to Samsung Knox and explains each step; the agent
// policy lists the device-admin calls and what cannot be enforced.
func Example() {
	req := policy.Requirements{
		Passcode:       policy.Passcode{Required: true, MinLength: 6},
		DataSeparation: policy.DataSeparation{BlockWorkToPersonal: true},
		Android:        policy.AndroidRequirements{Modes: policy.Modes{WorkProfile: true, Knox: true, DeviceAdmin: true}},
	}
	set, _ := policy.NewSet("org_acme", []policy.Policy{{
		ID: "pol_sales", Org: "org_acme", Name: "Sales", Priority: 1, Groups: []string{"sales"},
		Rules: map[policy.Platform]policy.Rule{policy.Android: {Action: policy.Require, Requirements: req}},
	}})
	dec, _ := set.Evaluate(policy.User{ID: "bob", Groups: []string{"sales"}},
		policy.Device{Platform: policy.Android, OSVersion: "9", APILevel: 28, Manufacturer: "samsung", Knox: true})

	plan, err := android.PlanFor(dec, inventory.OwnershipPersonal)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(plan.Type, plan.Channel, plan.Provisioning)
	for _, s := range plan.Steps {
		fmt.Println("-", s.Reason)
	}
	ap, _ := android.CompileAgent(plan.Mode, dec.Requirements, 28, []android.App{{PackageName: "com.example.mail", Install: android.InstallForced}})
	for _, c := range ap.Calls {
		fmt.Printf("call %s(%#x) API %d–%d\n", c.Method, c.Value, c.MinAPI, c.MaxAPI)
	}
	fmt.Println("apps:", ap.Apps[0].PackageName, ap.Apps[0].Install)
	// Output:
	// android_knox agent link
	// - work profile: the device does not support a work profile
	// - Samsung Knox: enabled and supported by the device: chosen
	// - native device admin: not needed, Samsung Knox was chosen first
	// call setPasswordQuality(0x30000) API 21–28
	// call setPasswordMinimumLength(0x6) API 8–28
	// apps: com.example.mail FORCE_INSTALLED
}

// A work-profile policy: a device passcode, a separate work-profile
// passcode, and work-to-personal sharing blocked.
func ExampleCompile() {
	req := policy.Requirements{
		Passcode:       policy.Passcode{Required: true, MinLength: 6},
		Encryption:     true,
		DataSeparation: policy.DataSeparation{BlockWorkToPersonal: true},
		Android:        policy.AndroidRequirements{WorkProfilePasscode: policy.Passcode{Required: true, RequireLetters: true, MinLength: 8}},
	}
	c, _ := android.Compile(req, android.CompileOptions{WorkProfile: true,
		Apps: []android.App{{PackageName: "com.example.mail", Install: android.InstallForced}}})
	out, _ := json.MarshalIndent(c.Policy, "", "  ")
	fmt.Println(string(out))
	// Output:
	// {
	//   "passwordPolicies": [
	//     {
	//       "passwordScope": "SCOPE_DEVICE",
	//       "passwordQuality": "NUMERIC_COMPLEX",
	//       "passwordMinimumLength": 6
	//     },
	//     {
	//       "passwordScope": "SCOPE_PROFILE",
	//       "passwordQuality": "ALPHANUMERIC",
	//       "passwordMinimumLength": 8
	//     }
	//   ],
	//   "encryptionPolicy": "ENABLED_WITH_PASSWORD",
	//   "applications": [
	//     {
	//       "packageName": "com.example.mail",
	//       "installType": "FORCE_INSTALLED"
	//     }
	//   ],
	//   "playStoreMode": "WHITELIST",
	//   "crossProfilePolicies": {
	//     "crossProfileDataSharing": "DATA_SHARING_FROM_WORK_TO_PERSONAL_DISALLOWED",
	//     "crossProfileCopyPaste": "COPY_FROM_WORK_TO_PERSONAL_DISALLOWED"
	//   },
	//   "statusReportingSettings": {
	//     "applicationReportsEnabled": true,
	//     "deviceSettingsEnabled": true,
	//     "softwareInfoEnabled": true,
	//     "memoryInfoEnabled": true
	//   }
	// }
}
