package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/profile"
)

// The checks of policy effects: what a device received is compared with
// what the server said the policy requires (the requirements of its
// enrollment decision), never with the demo org's values, so that the
// walks prove the effects against any server and any policy.

// errPolicyProfile: the device did not receive the policy's settings.
var errPolicyProfile = errors.New("policy profile")

// errPolicyEffect: an Android phone's policy does not carry what the
// decision requires.
var errPolicyEffect = errors.New("policy effect")

// checkPolicyProfile finds, among the signed profiles InstallProfile
// delivered, the latest policy profile (the one with a passcode payload
// or restrictions) and checks it against req: a passcode payload exactly
// when req requires a passcode, with req's rules, and the open-in
// restrictions exactly as req's data separation asks. Requirements that
// no profile enforces must leave the device without a policy profile.
// found says whether a policy profile was received.
func checkPolicyProfile(profiles []*profile.Profile, req policy.Requirements) (desc string, found bool, err error) {
	wantAny := req.Passcode.Required || req.DataSeparation.BlockManagedToUnmanaged || req.DataSeparation.BlockUnmanagedToManaged
	var p *profile.Profile
	var pc *profile.Passcode
	var r *profile.Restrictions
	for _, cand := range slices.Backward(profiles) {
		for _, pl := range cand.Payloads {
			switch pl := pl.(type) {
			case *profile.Passcode:
				pc, p = pl, cand
			case *profile.Restrictions:
				r, p = pl, cand
			}
		}
		if p != nil {
			break
		}
	}
	switch {
	case p == nil && !wantAny:
		return "no policy profile, as the policy requires no passcode and no data separation", false, nil
	case p == nil:
		return "", false, fmt.Errorf("%w: none of the %d signed profiles received carries a passcode payload or restrictions, and the policy requires %s",
			errPolicyProfile, len(profiles), describeRequirements(req))
	}
	var diffs []string
	want := req.Passcode
	switch {
	case want.Required && pc == nil:
		diffs = append(diffs, "the policy requires a passcode, the profile has no passcode payload")
	case !want.Required && pc != nil:
		diffs = append(diffs, "the profile forces a passcode the policy does not require")
	case pc != nil:
		for _, f := range []struct {
			name      string
			got, want any
		}{
			{"forcePIN", pc.ForcePIN, true},
			{"allowSimple", pc.AllowSimple != nil && *pc.AllowSimple, want.AllowSimple},
			{"minLength", pc.MinLength, want.MinLength},
			{"requireAlphanumeric", pc.RequireAlphanumeric, want.RequireLetters},
			{"minComplexChars", pc.MinComplexChars, want.MinSymbols},
			{"maxPINAgeInDays", pc.MaxPINAgeInDays, want.MaxAgeDays},
			{"pinHistory", pc.PINHistory, want.History},
			{"maxFailedAttempts", pc.MaxFailedAttempts, want.MaxFailedAttempts},
			{"maxInactivity", pc.MaxInactivity, want.AutoLockMinutes},
			{"maxGracePeriod", pc.MaxGracePeriod, want.GracePeriodMinutes},
		} {
			if f.got != f.want {
				diffs = append(diffs, fmt.Sprintf("passcode %s is %v, the policy says %v", f.name, f.got, f.want))
			}
		}
	}
	ds := req.DataSeparation
	var m2u, u2m *bool
	if r != nil {
		m2u, u2m = r.AllowOpenFromManagedToUnmanaged, r.AllowOpenFromUnmanagedToManaged
	}
	if blocked := isFalse(m2u); blocked != ds.BlockManagedToUnmanaged {
		diffs = append(diffs, fmt.Sprintf("managed→unmanaged open-in blocked: %v, the policy says %v", blocked, ds.BlockManagedToUnmanaged))
	}
	if blocked := isFalse(u2m); blocked != ds.BlockUnmanagedToManaged {
		diffs = append(diffs, fmt.Sprintf("unmanaged→managed open-in blocked: %v, the policy says %v", blocked, ds.BlockUnmanagedToManaged))
	}
	if len(diffs) > 0 {
		return "", true, fmt.Errorf("%w %s does not match the policy: %s", errPolicyProfile, p.Identifier, strings.Join(diffs, "; "))
	}
	var extra []string
	if r != nil {
		for name, v := range map[string]*bool{"managed pasteboard": r.RequireManagedPasteboard,
			"managed contacts separated": negate(r.AllowManagedToWriteUnmanagedContacts)} {
			if v != nil && *v {
				extra = append(extra, name)
			}
		}
	}
	slices.Sort(extra)
	return fmt.Sprintf("%s: %s%s, as the policy requires", p.Identifier, describeRequirements(req),
		strings.Join(append([]string{""}, extra...), ", ")), true, nil
}

// describeRequirements says what an Apple policy profile must carry.
func describeRequirements(req policy.Requirements) string {
	var parts []string
	if pc := req.Passcode; pc.Required {
		parts = append(parts, fmt.Sprintf("passcode min length %d, max failed attempts %d, auto-lock %d min",
			pc.MinLength, pc.MaxFailedAttempts, pc.AutoLockMinutes))
	} else {
		parts = append(parts, "no passcode")
	}
	switch ds := req.DataSeparation; {
	case ds.BlockManagedToUnmanaged && ds.BlockUnmanagedToManaged:
		parts = append(parts, "managed↔unmanaged open-in blocked")
	case ds.BlockManagedToUnmanaged:
		parts = append(parts, "managed→unmanaged open-in blocked")
	case ds.BlockUnmanagedToManaged:
		parts = append(parts, "unmanaged→managed open-in blocked")
	default:
		parts = append(parts, "open-in unrestricted")
	}
	return strings.Join(parts, "; ")
}

func isFalse(b *bool) bool { return b != nil && !*b }

func negate(b *bool) *bool {
	if b == nil {
		return nil
	}
	v := !*b
	return &v
}

// adminCall is one device-admin call of an agent policy.
type adminCall struct {
	Method string `json:"method"`
	Value  int64  `json:"value"`
}

// checkAgentPolicy checks the device-admin calls of a legacy-mode phone
// against the decision's requirements: the passcode rules the device
// admin API can enforce are among the calls, and none is made when the
// policy requires no passcode.
func checkAgentPolicy(calls []adminCall, req policy.Requirements) error {
	has := func(method string, value int64) bool {
		return slices.ContainsFunc(calls, func(c adminCall) bool { return c.Method == method && c.Value == value })
	}
	pc := req.Passcode
	quality := slices.ContainsFunc(calls, func(c adminCall) bool { return c.Method == "setPasswordQuality" })
	var diffs []string
	if quality != pc.Required {
		diffs = append(diffs, fmt.Sprintf("setPasswordQuality made: %v, the policy requires a passcode: %v", quality, pc.Required))
	}
	if pc.Required {
		for _, w := range []struct {
			method string
			value  int64
			on     bool
		}{
			{"setPasswordMinimumLength", int64(pc.MinLength), pc.MinLength > 0},
			{"setMaximumFailedPasswordsForWipe", int64(pc.MaxFailedAttempts), pc.MaxFailedAttempts > 0},
			{"setMaximumTimeToLock", int64(pc.AutoLockMinutes) * 60_000, pc.AutoLockMinutes > 0},
			{"setPasswordHistoryLength", int64(pc.History), pc.History > 0},
		} {
			if w.on && !has(w.method, w.value) {
				diffs = append(diffs, fmt.Sprintf("no %s(%d)", w.method, w.value))
			}
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%w: the device-admin policy does not match the decision's requirements: %s", errPolicyEffect, strings.Join(diffs, "; "))
	}
	return nil
}

// amapiPasswordPolicy is one entry of an Android Management API policy's
// passwordPolicies.
type amapiPasswordPolicy struct {
	Scope         string `json:"passwordScope"`
	MinLength     int    `json:"passwordMinimumLength"`
	FailedForWipe int    `json:"maximumFailedPasswordsForWipe"`
}

// checkManagedPolicy checks the Android Management API policy a phone
// applied against the decision's requirements: a device password policy
// with the passcode's rules exactly when one is required, and, on a work
// profile, cross-profile sharing as the data separation asks.
func checkManagedPolicy(pw []amapiPasswordPolicy, sharing string, workProfile bool, req policy.Requirements) error {
	var diffs []string
	pc := req.Passcode
	i := slices.IndexFunc(pw, func(p amapiPasswordPolicy) bool { return p.Scope == "SCOPE_DEVICE" })
	switch {
	case pc.Required && i < 0:
		diffs = append(diffs, "the policy requires a passcode, the phone got no device password policy")
	case !pc.Required && i >= 0:
		diffs = append(diffs, "the phone got a device password policy the policy does not require")
	case i >= 0 && (pw[i].MinLength != pc.MinLength || pw[i].FailedForWipe != pc.MaxFailedAttempts):
		diffs = append(diffs, fmt.Sprintf("device password policy min length %d, wipe after %d; the policy says %d and %d",
			pw[i].MinLength, pw[i].FailedForWipe, pc.MinLength, pc.MaxFailedAttempts))
	}
	if workProfile {
		want := "CROSS_PROFILE_DATA_SHARING_ALLOWED"
		if req.DataSeparation.BlockWorkToPersonal {
			want = "DATA_SHARING_FROM_WORK_TO_PERSONAL_DISALLOWED"
		}
		if sharing != want {
			diffs = append(diffs, fmt.Sprintf("cross-profile data sharing %q, the policy says %s", sharing, want))
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%w: the Android Management API policy does not match the decision's requirements: %s", errPolicyEffect, strings.Join(diffs, "; "))
	}
	return nil
}

// describeAndroidPasscode says what an Android passcode requirement is,
// for the log.
func describeAndroidPasscode(pc policy.Passcode) string {
	if !pc.Required {
		return "no passcode"
	}
	return fmt.Sprintf("passcode min length %d, wipe after %d failures", pc.MinLength, pc.MaxFailedAttempts)
}
