package main

import (
	"context"
	"fmt"
	"time"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// The logic the agent API, the admin API and the web UI share: who is in
// which groups, what policy decides, whose device is whose and which
// actions a device allows.

// deviceFacts is what a device says about itself when asking whether it
// may enroll.
type deviceFacts struct {
	Platform     string `json:"platform"`
	OSVersion    string `json:"os_version"`
	APILevel     int    `json:"api_level,omitempty"`
	Model        string `json:"model,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Ownership    string `json:"ownership,omitempty"`
	Compromised  bool   `json:"compromised,omitempty"`
	WorkProfile  bool   `json:"work_profile,omitempty"`
	Knox         bool   `json:"knox,omitempty"`
}

// Bounds on the free-text device facts (the policy package checks the rest).
const maxFactLen = 100

func (f deviceFacts) device() (policy.Device, error) {
	for name, v := range map[string]string{"os_version": f.OSVersion, "model": f.Model, "manufacturer": f.Manufacturer} {
		if len(v) > maxFactLen {
			return policy.Device{}, fmt.Errorf("%w: %s is longer than %d bytes", errBadRequest, name, maxFactLen)
		}
	}
	p := policy.Platform(f.Platform)
	if err := p.Validate(); err != nil {
		return policy.Device{}, fmt.Errorf("%w: platform must be ios, android or macos", errBadRequest)
	}
	if f.OSVersion == "" {
		return policy.Device{}, fmt.Errorf("%w: os_version is required", errBadRequest)
	}
	return policy.Device{
		Platform: p, OSVersion: f.OSVersion, APILevel: f.APILevel, Model: f.Model, Manufacturer: f.Manufacturer,
		Ownership: policy.Ownership(f.Ownership), Compromised: f.Compromised, WorkProfile: f.WorkProfile, Knox: f.Knox,
	}, nil
}

// policyUser describes a user to policy evaluation: ID and directory
// group IDs.
func (s *server) policyUser(ctx context.Context, org storage.OrgID, userID string) (policy.User, error) {
	groups, err := s.dir.Groups(ctx, org, userID)
	if err != nil {
		return policy.User{}, err
	}
	u := policy.User{ID: userID, Groups: make([]string, len(groups))}
	for i, g := range groups {
		u.Groups[i] = g.ID
	}
	return u, nil
}

// decide evaluates the org's policies for the principal on a device.
func (s *server) decide(ctx context.Context, p auth.Principal, f deviceFacts) (policy.Decision, error) {
	d, err := f.device()
	if err != nil {
		return policy.Decision{}, err
	}
	u, err := s.policyUser(ctx, p.User.Org, p.User.ID)
	if err != nil {
		return policy.Decision{}, err
	}
	return s.policy.Evaluate(ctx, p.User.Org, u, d)
}

// enrollRequest is what the agent app sends to start an enrollment.
type enrollRequest struct {
	deviceFacts
	// Delivery is "ota" (the iOS profile service, the default on iOS) or
	// "direct" (one .mobileconfig: macOS, and device simulators).
	Delivery enroll.SessionKind `json:"delivery,omitempty"`
}

// beginEnrollment re-evaluates the policy (never trusting an earlier answer
// the client holds) and starts an enrollment session for an Apple device.
func (s *server) beginEnrollment(ctx context.Context, p auth.Principal, req enrollRequest) (policy.Decision, string, time.Time, error) {
	dec, err := s.decide(ctx, p, req.deviceFacts)
	if err != nil {
		return dec, "", time.Time{}, err
	}
	if req.Delivery != "" && req.Delivery != enroll.KindOTA && req.Delivery != enroll.KindDirect {
		return dec, "", time.Time{}, fmt.Errorf("%w: delivery must be ota or direct", errBadRequest)
	}
	var kind enroll.SessionKind
	switch dec.Platform {
	case policy.IOS:
		kind = enroll.KindOTA
		if req.Delivery == enroll.KindDirect {
			kind = enroll.KindDirect
		}
	case policy.MacOS:
		kind = enroll.KindDirect
	default:
		return dec, "", time.Time{}, fmt.Errorf("%w: Android devices enroll with a code from /api/agent/android/enroll", errNotPermitted)
	}
	if dec.Outcome != policy.Enroll {
		return dec, "", time.Time{}, fmt.Errorf("%w: the policy decision is %q, not enroll", errNotPermitted, dec.Outcome)
	}
	t, err := s.ota.Begin(ctx, p.User.Org, p.User.ID, dec, kind)
	if err != nil {
		return dec, "", time.Time{}, err
	}
	return dec, t.URL, t.Expires, nil
}

// userDevices lists the user's devices (at most one page: a person has
// few).
func (s *server) userDevices(ctx context.Context, org storage.OrgID, userID string) ([]inventory.Device, error) {
	page, err := s.store.ListDevices(ctx, org, inventory.DeviceQuery{UserID: userID, Limit: inventory.MaxDevicePage})
	return page.Devices, err
}

// userDevice returns the device only when it belongs to the user; anyone
// else's device is ErrNotFound, exactly as if it did not exist.
func (s *server) userDevice(ctx context.Context, org storage.OrgID, userID, id string) (inventory.Device, error) {
	if len(id) > inventory.MaxDeviceIDLen {
		return inventory.Device{}, fmt.Errorf("device: %w", storage.ErrNotFound)
	}
	d, err := s.store.Device(ctx, org, id)
	if err != nil {
		return d, err
	}
	if d.UserID != userID {
		return inventory.Device{}, fmt.Errorf("device: %w", storage.ErrNotFound)
	}
	return d, nil
}

// fullWipeAllowed reports whether the policy deciding for the device's
// user permits a factory reset on its platform. The device's ownership and
// enrollment type may forbid it still (checkin.Service.Erase checks).
func (s *server) fullWipeAllowed(ctx context.Context, d inventory.Device) (bool, error) {
	if d.UserID == "" {
		return false, nil
	}
	u, err := s.policyUser(ctx, d.Org, d.UserID)
	if err != nil {
		return false, err
	}
	set, err := s.policy.Set(ctx, d.Org)
	if err != nil {
		return false, err
	}
	pol, _ := set.Match(u.Groups)
	rule, ok := pol.Rules[policyPlatform(d.Platform)]
	return ok && rule.Action != policy.Deny && rule.Requirements.AllowFullWipe, nil
}

func policyPlatform(p inventory.Platform) policy.Platform {
	switch p {
	case inventory.PlatformIOS, inventory.PlatformIPadOS:
		return policy.IOS
	case inventory.PlatformMacOS:
		return policy.MacOS
	default:
		return policy.Android
	}
}

// report builds "What your organization can see" for a device.
func (s *server) report(ctx context.Context, d inventory.Device) (inventory.Report, error) {
	wipe, err := s.fullWipeAllowed(ctx, d)
	if err != nil {
		return inventory.Report{}, err
	}
	return s.inv.Report(ctx, d.Org, d.ID, inventory.ReportOptions{FullWipeAllowed: wipe})
}

// deprovision removes the work data from a device.
func (s *server) deprovision(ctx context.Context, d inventory.Device, actor string) error {
	if !d.Platform.Apple() {
		return s.androidWipe(ctx, d, actor, android.WipeWorkData)
	}
	return s.mdm.Deprovision(ctx, d.Org, d.ID, actor, "requested by "+actor)
}

// erase factory resets a device where policy, ownership and enrollment
// type all allow it.
func (s *server) erase(ctx context.Context, d inventory.Device, actor string) error {
	if !d.Platform.Apple() {
		return s.androidWipe(ctx, d, actor, android.WipeFactoryReset)
	}
	allowed, err := s.fullWipeAllowed(ctx, d)
	if err != nil {
		return err
	}
	return s.mdm.Erase(ctx, d.Org, d.ID, actor, allowed)
}

// deviceView is a device as the APIs show it.
type deviceView struct {
	ID             string                   `json:"id"`
	UserID         string                   `json:"user_id"`
	Platform       inventory.Platform       `json:"platform"`
	Ownership      inventory.Ownership      `json:"ownership"`
	EnrollmentType inventory.EnrollmentType `json:"enrollment_type"`
	State          inventory.State          `json:"state"`
	SerialNumber   string                   `json:"serial_number,omitempty"`
	LastSeen       *time.Time               `json:"last_seen"`
	LastInventory  *time.Time               `json:"last_inventory"`
	Created        time.Time                `json:"created"`
	Values         map[inventory.Key]string `json:"values,omitempty"`
}

func viewDevice(d inventory.Device) deviceView {
	return deviceView{ID: d.ID, UserID: d.UserID, Platform: d.Platform, Ownership: d.Ownership,
		EnrollmentType: d.EnrollmentType, State: d.State, SerialNumber: d.SerialNumber,
		LastSeen: timePtr(d.LastSeen), LastInventory: timePtr(d.LastInventory), Created: d.Created}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// decisionView is a policy decision as the APIs show it.
type decisionView struct {
	Outcome      policy.Outcome       `json:"outcome"`
	Policy       policy.ID            `json:"policy"`
	PolicyName   string               `json:"policy_name"`
	MatchedGroup string               `json:"matched_group,omitempty"`
	Platform     policy.Platform      `json:"platform"`
	Reasons      []string             `json:"reasons"`
	Warnings     []string             `json:"warnings,omitempty"`
	Requirements *policy.Requirements `json:"requirements,omitempty"`
	Agreement    string               `json:"agreement,omitempty"`
	Android      *androidPlanView     `json:"android,omitempty"`
	EnrollURL    string               `json:"enroll_url,omitempty"`
	EnrollExpiry *time.Time           `json:"enroll_expires,omitempty"`
}

type androidPlanView struct {
	Mode  policy.Mode `json:"mode"`
	Steps []struct {
		Mode   policy.Mode `json:"mode"`
		Chosen bool        `json:"chosen"`
		Reason string      `json:"reason"`
	} `json:"steps"`
}

func viewDecision(d policy.Decision) decisionView {
	v := decisionView{Outcome: d.Outcome, Policy: d.Policy, PolicyName: d.PolicyName, MatchedGroup: d.MatchedGroup,
		Platform: d.Platform, Reasons: d.Reasons, Warnings: d.Warnings, Agreement: d.Agreement}
	if d.Outcome != policy.Denied {
		req := d.Requirements
		v.Requirements = &req
	}
	if d.Android != nil {
		v.Android = &androidPlanView{Mode: d.Android.Mode}
		for _, st := range d.Android.Steps {
			v.Android.Steps = append(v.Android.Steps, struct {
				Mode   policy.Mode `json:"mode"`
				Chosen bool        `json:"chosen"`
				Reason string      `json:"reason"`
			}{st.Mode, st.Chosen, st.Reason})
		}
	}
	return v
}
