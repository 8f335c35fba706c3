package policy_test

import (
	"strings"
	"testing"

	"github.com/openomm/omm/policy"
)

// TestScenarios runs one user on one device through the fixture policies.
// Reasons and warnings are matched by substring, in order; the number of
// warnings must match exactly, so that a clamp appearing where none is
// expected fails too.
func TestScenarios(t *testing.T) {
	set := fixtureSet(t)
	type req = policy.Requirements
	tests := []struct {
		name     string
		user     policy.User
		device   policy.Device
		outcome  policy.Outcome
		policy   policy.ID
		group    string
		reasons  []string
		warnings []string
		mode     policy.Mode // Android only; "" expects no mode chosen
		check    func(t *testing.T, d policy.Decision)
	}{
		// Targeting.
		{name: "user in no group", user: user(), device: iphone("17.5"),
			outcome: policy.Denied, policy: policy.DefaultID,
			reasons: []string{"no mobile policy targets any of the user's groups", `policy "Default" denies enrollment of iOS`}},
		{name: "user in no targeted group", user: user("marketing", "everyone"), device: pixel("14", 34),
			outcome: policy.Denied, policy: policy.DefaultID,
			reasons: []string{"built-in default policy applies", "denies enrollment of Android"}},
		{name: "one targeted group", user: user("execs"), device: iphone("17.5"),
			outcome: policy.Enroll, policy: "pol_exec", group: "execs",
			reasons: []string{`policy "Executives" (priority 10) targets the user's group "execs"`, "requires enrollment of iOS"}},
		{name: "two groups, higher priority listed last", user: user("staff", "execs"), device: iphone("17.5"),
			outcome: policy.Enroll, policy: "pol_exec", group: "execs"},
		{name: "two groups, higher priority listed first", user: user("execs", "staff"), device: iphone("17.5"),
			outcome: policy.Enroll, policy: "pol_exec", group: "execs"},
		{name: "two groups of different policies: 20 beats 30", user: user("interns", "staff"), device: iphone("17.5"),
			outcome: policy.NotRequired, policy: "pol_staff", group: "staff", warnings: staffIOSClamps},
		{name: "two groups of one policy: first listed is the match", user: user("contractors", "staff"), device: iphone("17.5"),
			outcome: policy.NotRequired, policy: "pol_staff", group: "contractors", warnings: staffIOSClamps},
		{name: "lower-priority policy applies alone", user: user("interns"), device: pixel("14", 34),
			outcome: policy.NotRequired, policy: "pol_interns", mode: policy.ModeWorkProfile,
			reasons: []string{"allows but does not require enrollment of Android"}},

		// Platform rules.
		{name: "platform denied by rule", user: user("interns"), device: iphone("17.5"),
			outcome: policy.Denied, policy: "pol_interns", reasons: []string{`policy "Interns" denies enrollment of iOS`}},
		{name: "platform without rule is denied, no fall-through", user: user("staff", "lab"), device: mac(),
			outcome: policy.Denied, policy: "pol_staff", reasons: []string{`policy "Staff" has no macOS rule`}},
		{name: "allow rule gives not required", user: user("execs"), device: mac(),
			outcome: policy.NotRequired, policy: "pol_exec", reasons: []string{"allows but does not require enrollment of macOS"}},

		// OS versions.
		{name: "iOS too old", user: user("execs"), device: iphone("16.7.8"),
			outcome: policy.Denied, policy: "pol_exec", reasons: []string{"iOS 16.7.8 is older than iOS 17.4.1"}},
		{name: "iOS 17.4 older than 17.4.1", user: user("execs"), device: iphone("17.4"),
			outcome: policy.Denied, policy: "pol_exec", reasons: []string{"older than"}},
		{name: "iOS exactly the minimum", user: user("execs"), device: iphone("17.4.1"),
			outcome: policy.Enroll, policy: "pol_exec"},
		{name: "iOS 17.10 newer than 17.4.1 (numeric, not lexical)", user: user("execs"), device: iphone("17.10"),
			outcome: policy.Enroll, policy: "pol_exec"},
		{name: "Android API level too old", user: user("execs"), device: pixel("7.1", 25),
			outcome: policy.Denied, policy: "pol_exec", reasons: []string{"API level 25 is below 26"}},

		// Compromised devices.
		{name: "jailbroken iPhone refused", user: user("execs"), device: with(iphone("17.5"), func(d *policy.Device) { d.Compromised = true }),
			outcome: policy.Denied, policy: "pol_exec", reasons: []string{"the device is jailbroken"}},
		{name: "rooted Android refused", user: user("execs"), device: with(pixel("14", 34), func(d *policy.Device) { d.Compromised = true }),
			outcome: policy.Denied, policy: "pol_exec", reasons: []string{"the device is rooted"}},
		{name: "rooted Android accepted with a warning", user: user("lab"), device: with(oldAndroid("9", 28), func(d *policy.Device) { d.Compromised = true }),
			outcome: policy.NotRequired, policy: "pol_lab", mode: policy.ModeDeviceAdmin,
			warnings: []string{"reports being rooted", "passcode minimum length 30 lowered to 16, the most Android accepts"}},

		// Android modes: Samsung with and without work profile, Android 9 vs 12.
		// A company-owned device is fully managed: the reasons say so, not
		// "work profile".
		{name: "Pixel with work profile", user: user("execs"), device: pixel("12", 31),
			outcome: policy.Enroll, mode: policy.ModeWorkProfile,
			reasons: []string{"fully managed (the company-owned form of the work-profile mode): enabled and supported by the device: chosen",
				"Samsung Knox: not needed", "native device admin: not needed"}},
		{name: "Samsung with work profile prefers it over Knox", user: user("execs"), device: samsung("12", 31, true),
			outcome: policy.Enroll, mode: policy.ModeWorkProfile},
		{name: "Samsung without work profile on Android 9 uses Knox", user: user("execs"), device: samsung("9", 28, false),
			outcome: policy.Enroll, mode: policy.ModeKnox,
			reasons:  []string{"work profile: the device does not support a work profile", "Samsung Knox: enabled and supported by the device: chosen", "native device admin: not needed"},
			warnings: []string{"work-profile passcode not applied", "work-to-personal sharing cannot be blocked in Samsung Knox mode"}},
		{name: "Samsung without work profile on Android 12 is denied", user: user("execs"), device: samsung("12", 31, false),
			outcome: policy.Denied,
			reasons: []string{"the device does not support a work profile", "Samsung Knox: refused on API level 31", "native device admin: refused on API level 31", "no enabled Android enrollment mode is usable"}},
		{name: "other device without work profile on Android 9 uses device admin", user: user("execs"), device: oldAndroid("9", 28),
			outcome: policy.Enroll, mode: policy.ModeDeviceAdmin,
			reasons:  []string{"Samsung Knox: not a Samsung device with Knox", "native device admin: enabled and supported by the device: chosen"},
			warnings: []string{"work-profile passcode not applied", "work-to-personal sharing cannot be blocked in native device admin mode"}},
		{name: "legacy-only policy, Samsung Android 9", user: user("staff"), device: samsung("9", 28, false),
			outcome: policy.Enroll, mode: policy.ModeKnox, reasons: []string{"work profile: disabled by policy", "Samsung Knox: enabled and supported"}},
		{name: "legacy-only policy, Samsung Android 12", user: user("staff"), device: samsung("12", 31, false),
			outcome: policy.Denied, reasons: []string{"work profile: disabled by policy", "up to Android 9 (API level 28)"}},
		{name: "legacy-only policy, other Android 9", user: user("staff"), device: oldAndroid("9", 28),
			outcome: policy.Enroll, mode: policy.ModeDeviceAdmin},
		{name: "legacy-only policy, other Android 12", user: user("staff"), device: oldAndroid("12", 31),
			outcome: policy.Denied, reasons: []string{"native device admin: refused on API level 31"}},
		{name: "legacy-only policy, Android 10 is the first refused", user: user("staff"), device: oldAndroid("10", 29),
			outcome: policy.Denied, reasons: []string{"refused on API level 29"}},
		{name: "legacy-only policy ignores work-profile support", user: user("staff"), device: pixel("12", 31),
			outcome: policy.Denied, reasons: []string{"work profile: disabled by policy", "Samsung Knox: not a Samsung device with Knox"}},
		{name: "work profile only, device without it", user: user("interns"), device: samsung("9", 28, false),
			outcome: policy.Denied, reasons: []string{"does not support a work profile", "Samsung Knox: disabled by policy", "native device admin: disabled by policy"}},

		// Data separation.
		{name: "iOS: both open-in directions blocked", user: user("execs"), device: iphone("17.5"), outcome: policy.Enroll,
			check: wantSeparation(policy.DataSeparation{BlockManagedToUnmanaged: true, BlockUnmanagedToManaged: true})},
		{name: "iOS: managed to unmanaged only", user: user("partners"), device: iphone("17.5"), outcome: policy.Enroll,
			check: wantSeparation(policy.DataSeparation{BlockManagedToUnmanaged: true})},
		{name: "iOS: no restriction", user: user("staff"), device: iphone("17.5"), outcome: policy.NotRequired, warnings: staffIOSClamps,
			check: wantSeparation(policy.DataSeparation{})},
		{name: "Android work profile: work to personal blocked", user: user("execs"), device: pixel("14", 34), outcome: policy.Enroll,
			mode: policy.ModeWorkProfile, check: wantSeparation(policy.DataSeparation{BlockWorkToPersonal: true})},
		{name: "Android without work profile: sharing block dropped", user: user("execs"), device: samsung("8.0", 26, false),
			outcome: policy.Enroll, mode: policy.ModeKnox,
			warnings: []string{"work-profile passcode not applied", "work-to-personal sharing cannot be blocked"},
			check:    wantSeparation(policy.DataSeparation{})},
		{name: "macOS: open-in not available", user: user("lab"), device: mac(), outcome: policy.Enroll,
			warnings: []string{"open-in restrictions are not available on macOS"}, check: wantSeparation(policy.DataSeparation{})},

		// Wipe permission.
		{name: "full wipe: allowed, company-owned iPhone", user: user("execs"), device: iphone("17.5"), outcome: policy.Enroll,
			reasons: []string{"wiping all device data is permitted"}, check: wantWipe(true)},
		{name: "full wipe: allowed, personal iPhone", user: user("execs"),
			device:  with(iphone("17.5"), func(d *policy.Device) { d.Ownership = policy.OwnershipPersonal }),
			outcome: policy.Enroll, reasons: []string{"not permitted on a device that is not company-owned"}, check: wantWipe(false)},
		{name: "full wipe: allowed, ownership unknown", user: user("execs"),
			device:  with(iphone("17.5"), func(d *policy.Device) { d.Ownership = policy.OwnershipUnknown }),
			outcome: policy.Enroll, check: wantWipe(false)},
		{name: "full wipe: allowed, personal work profile", user: user("execs"),
			device:  with(pixel("14", 34), func(d *policy.Device) { d.Ownership = policy.OwnershipPersonal }),
			outcome: policy.Enroll, mode: policy.ModeWorkProfile, check: wantWipe(false)},
		{name: "full wipe: allowed, company-owned work profile", user: user("execs"), device: pixel("14", 34),
			outcome: policy.Enroll, mode: policy.ModeWorkProfile, check: wantWipe(true)},
		{name: "full wipe: not allowed by policy", user: user("partners"), device: iphone("17.5"), outcome: policy.Enroll,
			reasons: []string{`not permitted by policy "Partners"`}, check: wantWipe(false)},

		// Clamping.
		{name: "Apple limits on passcode", user: user("staff"), device: iphone("17.5"), outcome: policy.NotRequired,
			warnings: staffIOSClamps, check: func(t *testing.T, d policy.Decision) {
				want := policy.Passcode{Required: true, MinLength: 16, MinSymbols: 4, MaxFailedAttempts: 11,
					MaxAgeDays: 730, History: 50, AutoLockMinutes: 15, GracePeriodMinutes: 5}
				if d.Requirements.Passcode != want {
					t.Errorf("passcode = %+v, want %+v", d.Requirements.Passcode, want)
				}
			}},
		{name: "iOS encryption needs a passcode", user: user("lab"), device: iphone("17.5"), outcome: policy.Enroll,
			warnings: []string{"Data Protection, which needs a passcode"},
			check: func(t *testing.T, d policy.Decision) {
				if !d.Requirements.Passcode.Required || !d.Requirements.Encryption {
					t.Errorf("requirements = %+v, want encryption and a required passcode", d.Requirements)
				}
			}},
		{name: "macOS auto-lock of 45 minutes is within its limit", user: user("lab"), device: mac(), outcome: policy.Enroll,
			warnings: []string{"open-in"}, check: func(t *testing.T, d policy.Decision) {
				if got := d.Requirements.Passcode.AutoLockMinutes; got != 45 {
					t.Errorf("macOS auto-lock = %d, want 45 kept", got)
				}
			}},
		{name: "Android passcode length clamped", user: user("lab"), device: oldAndroid("8.1", 27), outcome: policy.NotRequired,
			mode: policy.ModeDeviceAdmin, warnings: []string{"passcode minimum length 30 lowered to 16"},
			check: func(t *testing.T, d policy.Decision) {
				if got := d.Requirements.Passcode.MinLength; got != 16 {
					t.Errorf("Android passcode length = %d, want 16", got)
				}
			}},
		{name: "work-profile passcode kept with a work profile", user: user("execs"), device: pixel("14", 34),
			outcome: policy.Enroll, mode: policy.ModeWorkProfile, check: func(t *testing.T, d policy.Decision) {
				want := policy.Passcode{Required: true, MinLength: 8, RequireLetters: true}
				if got := d.Requirements.Android.WorkProfilePasscode; got != want {
					t.Errorf("work-profile passcode = %+v, want %+v", got, want)
				}
			}},

		// What a decision carries.
		{name: "agreement carried when enrolling", user: user("execs"), device: iphone("17.5"), outcome: policy.Enroll,
			check: func(t *testing.T, d policy.Decision) {
				if d.Agreement != executives.Agreement {
					t.Errorf("agreement = %q, want the policy's", d.Agreement)
				}
			}},
		{name: "denied decision carries no requirements", user: user("execs"), device: iphone("15.0"), outcome: policy.Denied,
			check: func(t *testing.T, d policy.Decision) {
				if d.Requirements != (req{}) || d.Agreement != "" || d.Android != nil {
					t.Errorf("denied decision carries %+v, agreement %q, plan %+v", d.Requirements, d.Agreement, d.Android)
				}
			}},
	}
	if len(tests) < 40 {
		t.Fatalf("only %d scenarios; the issue asks for at least 40", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := set.Evaluate(tt.user, tt.device)
			if err != nil {
				t.Fatalf("Evaluate: %v", err)
			}
			if d.Outcome != tt.outcome {
				t.Errorf("outcome = %s, want %s\nreasons: %s", d.Outcome, tt.outcome, strings.Join(d.Reasons, "\n  "))
			}
			if tt.policy != "" && d.Policy != tt.policy {
				t.Errorf("policy = %s, want %s", d.Policy, tt.policy)
			}
			if tt.group != "" && d.MatchedGroup != tt.group {
				t.Errorf("matched group = %q, want %q", d.MatchedGroup, tt.group)
			}
			inOrder(t, "reasons", d.Reasons, tt.reasons)
			inOrder(t, "warnings", d.Warnings, tt.warnings)
			if len(d.Warnings) != len(tt.warnings) {
				t.Errorf("%d warnings, want %d:\n  %s", len(d.Warnings), len(tt.warnings), strings.Join(d.Warnings, "\n  "))
			}
			if tt.device.Platform == policy.Android && tt.outcome != policy.Denied {
				if d.Android == nil || d.Android.Mode != tt.mode {
					t.Errorf("Android plan = %+v, want mode %q", d.Android, tt.mode)
				}
			}
			if tt.check != nil {
				tt.check(t, d)
			}
		})
	}
}

// staffIOSClamps are the warnings the Staff policy's iOS passcode earns.
var staffIOSClamps = []string{
	"minimum length 30 lowered to 16, the most iOS accepts",
	"minimum symbols 6 lowered to 4",
	"failed attempts before wipe 20 lowered to 11",
	"maximum age in days 1000 lowered to 730",
	"history 60 lowered to 50",
	"auto-lock minutes 30 lowered to 15",
}

// inOrder fails unless each of want is a substring of a line of got, in
// order.
func inOrder(t *testing.T, what string, got, want []string) {
	t.Helper()
	i := 0
	for _, line := range got {
		if i < len(want) && strings.Contains(line, want[i]) {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("%s: %q not found in order in:\n  %s", what, want[i], strings.Join(got, "\n  "))
	}
}

func wantSeparation(want policy.DataSeparation) func(*testing.T, policy.Decision) {
	return func(t *testing.T, d policy.Decision) {
		t.Helper()
		if d.Requirements.DataSeparation != want {
			t.Errorf("data separation = %+v, want %+v", d.Requirements.DataSeparation, want)
		}
	}
}

func wantWipe(want bool) func(*testing.T, policy.Decision) {
	return func(t *testing.T, d policy.Decision) {
		t.Helper()
		if d.Requirements.AllowFullWipe != want {
			t.Errorf("full wipe permitted = %v, want %v", d.Requirements.AllowFullWipe, want)
		}
	}
}
