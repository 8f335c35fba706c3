package policy_test

import (
	"testing"

	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

const org storage.OrgID = "org_acme"

// Fixture policies, one per priority band, each exercising other rules.
var (
	executives = policy.Policy{
		ID: "pol_exec", Org: org, Name: "Executives", Priority: 10, Groups: []string{"execs"},
		Agreement: "Acme manages work data on this device.",
		Rules: map[policy.Platform]policy.Rule{
			policy.IOS: {Action: policy.Require, Requirements: policy.Requirements{
				Passcode:     policy.Passcode{Required: true, MinLength: 6},
				Encryption:   true,
				MinOSVersion: "17.4.1", RefuseCompromised: true, AllowFullWipe: true,
				DataSeparation: policy.DataSeparation{BlockManagedToUnmanaged: true, BlockUnmanagedToManaged: true},
			}},
			policy.Android: {Action: policy.Require, Requirements: policy.Requirements{
				Passcode:          policy.Passcode{Required: true, MinLength: 6},
				RefuseCompromised: true, AllowFullWipe: true,
				DataSeparation: policy.DataSeparation{BlockWorkToPersonal: true},
				Android: policy.AndroidRequirements{
					MinAPILevel:         26,
					Modes:               policy.Modes{WorkProfile: true, Knox: true, DeviceAdmin: true},
					WorkProfilePasscode: policy.Passcode{Required: true, MinLength: 8, RequireLetters: true},
				},
			}},
			policy.MacOS: {Action: policy.Allow},
		},
	}
	staff = policy.Policy{
		ID: "pol_staff", Org: org, Name: "Staff", Priority: 20, Groups: []string{"staff", "contractors"},
		Rules: map[policy.Platform]policy.Rule{
			policy.IOS: {Action: policy.Allow, Requirements: policy.Requirements{
				Passcode: policy.Passcode{Required: true, MinLength: 30, MinSymbols: 6, MaxFailedAttempts: 20,
					MaxAgeDays: 1000, History: 60, AutoLockMinutes: 30, GracePeriodMinutes: 5},
			}},
			// Only the legacy modes: fine on Android 9, refused from 10 on.
			policy.Android: {Action: policy.Require, Requirements: policy.Requirements{
				Android: policy.AndroidRequirements{Modes: policy.Modes{Knox: true, DeviceAdmin: true}},
			}},
		},
	}
	interns = policy.Policy{
		ID: "pol_interns", Org: org, Name: "Interns", Priority: 30, Groups: []string{"interns", "staff"},
		Rules: map[policy.Platform]policy.Rule{
			policy.IOS: {Action: policy.Deny},
			policy.Android: {Action: policy.Allow, Requirements: policy.Requirements{
				Android: policy.AndroidRequirements{Modes: policy.Modes{WorkProfile: true}},
			}},
		},
	}
	lab = policy.Policy{
		ID: "pol_lab", Org: org, Name: "Lab", Priority: 40, Groups: []string{"lab"},
		Rules: map[policy.Platform]policy.Rule{
			policy.IOS: {Action: policy.Require, Requirements: policy.Requirements{Encryption: true}},
			policy.MacOS: {Action: policy.Require, Requirements: policy.Requirements{
				Passcode:       policy.Passcode{Required: true, AutoLockMinutes: 45},
				DataSeparation: policy.DataSeparation{BlockManagedToUnmanaged: true},
			}},
			policy.Android: {Action: policy.Allow, Requirements: policy.Requirements{
				Passcode: policy.Passcode{Required: true, MinLength: 30},
				Android:  policy.AndroidRequirements{Modes: policy.Modes{DeviceAdmin: true}},
			}},
		},
	}
	partners = policy.Policy{
		ID: "pol_partners", Org: org, Name: "Partners", Priority: 50, Groups: []string{"partners"},
		Rules: map[policy.Platform]policy.Rule{
			policy.IOS: {Action: policy.Require, Requirements: policy.Requirements{
				DataSeparation: policy.DataSeparation{BlockManagedToUnmanaged: true},
			}},
		},
	}
)

// fixtures returns deep copies of the fixture policies, out of priority
// order on purpose.
func fixtures() []policy.Policy {
	ps := []policy.Policy{lab, staff, partners, executives, interns}
	for i := range ps {
		ps[i] = ps[i].Normalize()
	}
	return ps
}

func fixtureSet(t testing.TB) *policy.Set {
	t.Helper()
	s, err := policy.NewSet(org, fixtures())
	if err != nil {
		t.Fatalf("NewSet: %v", err)
	}
	return s
}

// Devices.
func iphone(version string) policy.Device {
	return policy.Device{Platform: policy.IOS, OSVersion: version, Model: "iPhone15,2", Manufacturer: "Apple", Ownership: policy.OwnershipCompany}
}

func mac() policy.Device {
	return policy.Device{Platform: policy.MacOS, OSVersion: "14.5", Model: "Mac14,2", Manufacturer: "Apple", Ownership: policy.OwnershipCompany}
}

func pixel(release string, api int) policy.Device {
	return policy.Device{Platform: policy.Android, OSVersion: release, APILevel: api, Model: "Pixel 7", Manufacturer: "Google",
		Ownership: policy.OwnershipCompany, WorkProfile: true}
}

// samsung is a Knox device, with or without work-profile support.
func samsung(release string, api int, workProfile bool) policy.Device {
	return policy.Device{Platform: policy.Android, OSVersion: release, APILevel: api, Model: "SM-G960F", Manufacturer: "samsung",
		Ownership: policy.OwnershipCompany, WorkProfile: workProfile, Knox: true}
}

// oldAndroid is a non-Samsung device without work-profile support.
func oldAndroid(release string, api int) policy.Device {
	return policy.Device{Platform: policy.Android, OSVersion: release, APILevel: api, Model: "Moto E", Manufacturer: "motorola",
		Ownership: policy.OwnershipCompany}
}

func with(d policy.Device, edit func(*policy.Device)) policy.Device {
	edit(&d)
	return d
}

func user(groups ...string) policy.User { return policy.User{ID: "alice", Groups: groups} }
