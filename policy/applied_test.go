package policy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

func TestReevaluate(t *testing.T) {
	set, err := policy.NewSet("org_acme", []policy.Policy{{
		ID: "pol_staff", Org: "org_acme", Name: "Staff", Priority: 1, Groups: []string{"staff"},
		Rules: map[policy.Platform]policy.Rule{
			policy.IOS: {Action: policy.Require, Requirements: policy.Requirements{MinOSVersion: "17.0",
				Passcode: policy.Passcode{Required: true, MinLength: 6}}},
			policy.Android: {Action: policy.Require, Requirements: policy.Requirements{
				Android: policy.AndroidRequirements{MinAPILevel: 26, Modes: policy.Modes{WorkProfile: true, DeviceAdmin: true}}}},
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	staff := policy.User{ID: "u1", Groups: []string{"staff"}}
	cases := []struct {
		name    string
		user    policy.User
		device  policy.Device
		outcome policy.Outcome
		mode    policy.Mode
	}{
		{"OS not reported yet", staff, policy.Device{Platform: policy.IOS}, policy.Enroll, ""},
		{"reported OS meets the minimum", staff, policy.Device{Platform: policy.IOS, OSVersion: "17.4"}, policy.Enroll, ""},
		{"reported OS below a raised minimum", staff, policy.Device{Platform: policy.IOS, OSVersion: "16.7"}, policy.Denied, ""},
		{"user no longer targeted", policy.User{ID: "u1", Groups: []string{"visitors"}}, policy.Device{Platform: policy.IOS}, policy.Denied, ""},
		{"work profile device keeps its mode", staff, policy.Device{Platform: policy.Android, WorkProfile: true}, policy.Enroll, policy.ModeWorkProfile},
		{"device admin device, API level unknown", staff, policy.Device{Platform: policy.Android}, policy.Enroll, policy.ModeDeviceAdmin},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dec, err := set.Reevaluate(c.user, c.device)
			if err != nil {
				t.Fatal(err)
			}
			if dec.Outcome != c.outcome {
				t.Fatalf("outcome %s, want %s (reasons %q)", dec.Outcome, c.outcome, dec.Reasons)
			}
			if c.mode != "" && (dec.Android == nil || dec.Android.Mode != c.mode) {
				t.Errorf("plan %+v, want mode %s", dec.Android, c.mode)
			}
			if dec.Outcome == policy.Denied && policy.OutOfPolicyReason(dec) != dec.Reasons[len(dec.Reasons)-1] {
				t.Errorf("out-of-policy reason %q", policy.OutOfPolicyReason(dec))
			}
		})
	}
}

func TestAppliedValidate(t *testing.T) {
	ok := policy.Applied{Org: "org_acme", Device: "dev-1", Policy: "pol_staff", Fingerprint: strings.Repeat("a", 64)}
	cases := []struct {
		name  string
		edit  func(*policy.Applied)
		valid bool
	}{
		{"complete", func(*policy.Applied) {}, true},
		{"no settings sent", func(a *policy.Applied) { a.Fingerprint = "" }, true},
		{"no org", func(a *policy.Applied) { a.Org = "" }, false},
		{"no device", func(a *policy.Applied) { a.Device = "" }, false},
		{"device too long", func(a *policy.Applied) { a.Device = strings.Repeat("d", policy.MaxAppliedDeviceLen+1) }, false},
		{"fingerprint too long", func(a *policy.Applied) { a.Fingerprint = strings.Repeat("a", 65) }, false},
		{"fingerprint not printable", func(a *policy.Applied) { a.Fingerprint = "a\nb" }, false},
		{"reason too long", func(a *policy.Applied) { a.OutOfPolicy = strings.Repeat("r", policy.MaxOutOfPolicyLen+1) }, false},
		{"reason not UTF-8", func(a *policy.Applied) { a.OutOfPolicy = "\xff" }, false},
		{"bad policy", func(a *policy.Applied) { a.Policy = "" }, false},
		{"negative version", func(a *policy.Applied) { a.Version = -1 }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := ok
			c.edit(&a)
			err := a.Validate()
			if c.valid != (err == nil) || (err != nil && !errors.Is(err, storage.ErrInvalid)) {
				t.Errorf("Validate = %v, want valid %v", err, c.valid)
			}
		})
	}
}

func TestOutOfPolicyReasonIsBounded(t *testing.T) {
	long := strings.Repeat("é", policy.MaxOutOfPolicyLen) // two bytes each
	r := policy.OutOfPolicyReason(policy.Decision{Outcome: policy.Denied, Reasons: []string{long}})
	a := policy.Applied{Org: "org_acme", Device: "d", Policy: "p", OutOfPolicy: r}
	if err := a.Validate(); err != nil {
		t.Errorf("a reason from a long decision does not fit: %v", err)
	}
	if policy.OutOfPolicyReason(policy.Decision{}) == "" {
		t.Error("a decision without reasons gives an empty reason")
	}
}
