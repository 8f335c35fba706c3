package policy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// clone returns a deep copy of p whose rules can be edited freely.
func clone(p policy.Policy) policy.Policy { return p.Normalize() }

func editRule(p *policy.Policy, platform policy.Platform, edit func(*policy.Requirements)) {
	r := p.Rules[platform]
	edit(&r.Requirements)
	p.Rules[platform] = r
}

func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name string
		edit func(*policy.Policy)
		msg  string // the error must say this
	}{
		{"empty name", func(p *policy.Policy) { p.Name = "" }, "policy name is empty"},
		{"name padded", func(p *policy.Policy) { p.Name = " Staff" }, "leading or trailing spaces"},
		{"name too long", func(p *policy.Policy) { p.Name = strings.Repeat("n", policy.MaxNameLen+1) }, "at most 100"},
		{"name not UTF-8", func(p *policy.Policy) { p.Name = "Sta\xffff" }, "not valid UTF-8"},
		{"description with control character", func(p *policy.Policy) { p.Description = "a\x00b" }, "control character"},
		{"agreement too long", func(p *policy.Policy) { p.Agreement = strings.Repeat("é", policy.MaxAgreementLen+1) }, "user agreement is"},
		{"empty id", func(p *policy.Policy) { p.ID = "" }, "policy id is empty"},
		{"id with slash", func(p *policy.Policy) { p.ID = "a/b" }, "only letters"},
		{"reserved id", func(p *policy.Policy) { p.ID = policy.DefaultID }, "reserved for the built-in default"},
		{"bad org", func(p *policy.Policy) { p.Org = "" }, "org id is empty"},
		{"priority zero", func(p *policy.Policy) { p.Priority = 0 }, "priority 0 is outside"},
		{"priority negative", func(p *policy.Policy) { p.Priority = -1 }, "priority -1 is outside"},
		{"priority too large", func(p *policy.Policy) { p.Priority = policy.MaxPriority + 1 }, "is outside 1–1000000"},
		{"empty group", func(p *policy.Policy) { p.Groups = []string{"a", ""} }, "empty target group"},
		{"duplicate group", func(p *policy.Policy) { p.Groups = []string{"a", "b", "a"} }, `"a" listed twice`},
		{"too many groups", func(p *policy.Policy) { p.Groups = make([]string, policy.MaxGroups+1) }, "target groups, at most"},
		{"group too long", func(p *policy.Policy) { p.Groups = []string{strings.Repeat("g", policy.MaxGroupIDLen+1)} }, "bytes, at most 128"},
		{"unknown platform", func(p *policy.Policy) { p.Rules["windows"] = policy.Rule{Action: policy.Deny} }, `unknown platform "windows"`},
		{"empty platform", func(p *policy.Policy) { p.Rules[""] = policy.Rule{Action: policy.Deny} }, "unknown platform"},
		{"unknown action", func(p *policy.Policy) { p.Rules[policy.MacOS] = policy.Rule{Action: "sometimes"} }, `unknown action "sometimes"`},
		{"missing action", func(p *policy.Policy) { p.Rules[policy.MacOS] = policy.Rule{} }, `unknown action ""`},
		{"deny with requirements", func(p *policy.Policy) {
			p.Rules[policy.MacOS] = policy.Rule{Action: policy.Deny, Requirements: policy.Requirements{Encryption: true}}
		}, "deny rule carries no requirements"},
		{"negative passcode length", func(p *policy.Policy) {
			editRule(p, policy.IOS, func(r *policy.Requirements) { r.Passcode.MinLength = -4 })
		}, "passcode minimum length is negative (-4)"},
		{"negative history", func(p *policy.Policy) {
			editRule(p, policy.IOS, func(r *policy.Requirements) { r.Passcode.History = -1 })
		}, "history is negative"},
		{"negative grace period", func(p *policy.Policy) {
			editRule(p, policy.IOS, func(r *policy.Requirements) { r.Passcode.GracePeriodMinutes = -1 })
		}, "grace period minutes is negative"},
		{"passcode length beyond any platform", func(p *policy.Policy) {
			editRule(p, policy.IOS, func(r *policy.Requirements) { r.Passcode.MinLength = 65 })
		}, "minimum length is 65, at most 64"},
		{"one failed attempt", func(p *policy.Policy) {
			editRule(p, policy.IOS, func(r *policy.Requirements) { r.Passcode.MaxFailedAttempts = 1 })
		}, "use 0 (never) or at least 2"},
		{"passcode settings without passcode", func(p *policy.Policy) {
			editRule(p, policy.IOS, func(r *policy.Requirements) { r.Passcode = policy.Passcode{MinLength: 6} })
		}, "passcode settings are set but the passcode is not required"},
		{"bad minimum OS", func(p *policy.Policy) {
			editRule(p, policy.IOS, func(r *policy.Requirements) { r.MinOSVersion = "seventeen" })
		}, `minimum OS version: invalid input: OS version "seventeen"`},
		{"Android modes on iOS", func(p *policy.Policy) {
			editRule(p, policy.IOS, func(r *policy.Requirements) { r.Android.Modes.WorkProfile = true })
		}, "belong in the android rule"},
		{"API level on iOS", func(p *policy.Policy) {
			editRule(p, policy.IOS, func(r *policy.Requirements) { r.Android.MinAPILevel = 29 })
		}, "belong in the android rule"},
		{"work-profile sharing on iOS", func(p *policy.Policy) {
			editRule(p, policy.IOS, func(r *policy.Requirements) { r.DataSeparation.BlockWorkToPersonal = true })
		}, "work-profile sharing is an Android setting"},
		{"open-in on Android", func(p *policy.Policy) {
			editRule(p, policy.Android, func(r *policy.Requirements) { r.DataSeparation.BlockUnmanagedToManaged = true })
		}, "open-in is an Apple setting"},
		{"Android without modes", func(p *policy.Policy) {
			editRule(p, policy.Android, func(r *policy.Requirements) { r.Android.Modes = policy.Modes{} })
		}, "enable at least one enrollment mode"},
		{"negative API level", func(p *policy.Policy) {
			editRule(p, policy.Android, func(r *policy.Requirements) { r.Android.MinAPILevel = -1 })
		}, "minimum API level -1"},
		{"work-profile passcode without work profile", func(p *policy.Policy) {
			editRule(p, policy.Android, func(r *policy.Requirements) { r.Android.Modes.WorkProfile = false })
		}, "work-profile passcode needs the work profile mode"},
		{"negative work-profile passcode length", func(p *policy.Policy) {
			editRule(p, policy.Android, func(r *policy.Requirements) { r.Android.WorkProfilePasscode.MinLength = -1 })
		}, "work-profile passcode minimum length is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := clone(executives)
			tt.edit(&p)
			err := p.Validate()
			if !errors.Is(err, storage.ErrInvalid) {
				t.Fatalf("Validate = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	for _, p := range fixtures() {
		if err := p.Validate(); err != nil {
			t.Errorf("fixture %s: %v", p.Name, err)
		}
	}
	edge := []func(*policy.Policy){
		func(p *policy.Policy) { p.Groups = nil },                                                  // targets nobody yet
		func(p *policy.Policy) { p.Rules = nil },                                                   // denies every platform
		func(p *policy.Policy) { p.Priority = policy.MaxPriority },                                 // last stored slot
		func(p *policy.Policy) { p.Agreement = "Line one\n\tLine two" },                            // multi-line text
		func(p *policy.Policy) { p.Groups = []string{"CN=Sales,OU=Groups", "cn=sales,ou=groups"} }, // case-sensitive IDs
		func(p *policy.Policy) {
			editRule(p, policy.IOS, func(r *policy.Requirements) { r.Passcode.MinLength = 64 }) // clamped at evaluation
		},
	}
	for i, edit := range edge {
		p := clone(executives)
		edit(&p)
		if err := p.Validate(); err != nil {
			t.Errorf("edge case %d: %v", i, err)
		}
	}
}

func TestDefaultPolicy(t *testing.T) {
	d := policy.Default(org)
	if d.ID != policy.DefaultID || d.Org != org || d.Priority <= policy.MaxPriority {
		t.Errorf("Default = %+v", d)
	}
	for _, p := range policy.Platforms() {
		if r, ok := d.Rules[p]; !ok || r.Action != policy.Deny {
			t.Errorf("default rule for %s = %+v, want deny", p, r)
		}
	}
	// It can never be stored: its ID is reserved.
	if err := d.Validate(); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("Default().Validate() = %v, want ErrInvalid", err)
	}
}

func TestDeviceFactsRejected(t *testing.T) {
	set := fixtureSet(t)
	tests := []struct {
		name   string
		device policy.Device
	}{
		{"unknown platform", policy.Device{Platform: "windows", OSVersion: "11"}},
		{"missing OS version", with(iphone(""), func(*policy.Device) {})},
		{"OS version with suffix", iphone("17.4 beta")},
		{"Android without API level", pixel("14", 0)},
		{"API level on iOS", with(iphone("17.5"), func(d *policy.Device) { d.APILevel = 17 })},
		{"Knox on iOS", with(iphone("17.5"), func(d *policy.Device) { d.Knox = true })},
		{"unknown ownership", with(iphone("17.5"), func(d *policy.Device) { d.Ownership = "borrowed" })},
		{"model with newline", with(iphone("17.5"), func(d *policy.Device) { d.Model = "x\ny" })},
		{"oversize manufacturer", with(pixel("14", 34), func(d *policy.Device) { d.Manufacturer = strings.Repeat("m", 129) })},
	}
	for _, tt := range tests {
		if _, err := set.Evaluate(user("execs"), tt.device); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("%s: Evaluate = %v, want ErrInvalid", tt.name, err)
		}
	}
	if _, err := set.Evaluate(policy.User{Groups: make([]string, policy.MaxUserGroups+1)}, iphone("17.5")); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("oversize group list: Evaluate = %v, want ErrInvalid", err)
	}
}
