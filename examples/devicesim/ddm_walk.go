package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/openomm/omm/enroll/declarative"
	"github.com/openomm/omm/policy"
)

// The declarative walk: an iPhone on iOS 17 enrolls, the server turns
// declarative management on, the phone applies its passcode and settings
// declarations and reports status; an administrator then raises the
// passcode length and enforces an OS update, which reaches the phone as
// one token change; the phone's compliance on the server follows what it
// reports as its user sets a longer passcode and the update installs.

// ddmWalkConfig is the declarative walk's settings.
type ddmWalkConfig struct {
	commonFlags
	serial     string
	adminToken string
}

func parseDeclarativeWalk(args []string, out io.Writer) (ddmWalkConfig, error) {
	var c ddmWalkConfig
	fs := newFlagSet("declarative", out)
	c.register(fs)
	fs.StringVar(&c.serial, "serial", "", "serial number of the simulated iPhone (random when empty)")
	fs.StringVar(&c.adminToken, "admin-token", "", "admin API token, to change the policy and read the device's compliance (required)")
	if err := parseFlags(fs, args); err != nil {
		return c, err
	}
	if c.adminToken == "" {
		return c, fmt.Errorf("%w: -admin-token is required", errUsage)
	}
	return c, c.checkTOTP()
}

// ddmWalkResult is what the declarative walk saw, for callers that check
// it.
type ddmWalkResult struct {
	DeviceID string
	// Commands are the request types answered at enrollment, and after
	// the policy change.
	Commands, AfterChange []string
	// Tokens are the declarations tokens before and after the change.
	Tokens [2]string
	// Compliance is the server's compliance state after each step:
	// enrolled, policy changed, longer passcode, OS updated.
	Compliance []string
	// Reasons are the server's reasons after the policy change.
	Reasons []string
}

// complianceView is the admin API's device detail, as far as the walk
// reads it.
type complianceView struct {
	Policy *struct {
		Policy   string `json:"policy"`
		InPolicy bool   `json:"in_policy"`
	} `json:"policy"`
	Management *declarative.Channel `json:"management"`
	Device     struct {
		Values map[string]string `json:"values"`
	} `json:"device"`
}

func (a *api) compliance(ctx context.Context, adminToken, id string) (complianceView, error) {
	var v complianceView
	if err := a.call(ctx, "GET", "/api/admin/devices/"+url.PathEscape(id), adminToken, nil, &v); err != nil {
		return v, fmt.Errorf("admin API: %w", err)
	}
	if v.Management == nil || !v.Management.Declarative || v.Management.Compliance == nil {
		return v, fmt.Errorf("admin API: device %s is not under declarative management: %+v", id, v.Management)
	}
	return v, nil
}

// changePolicy raises the iOS passcode length of the policy id to
// minLength and enforces an OS update to target by deadline, through the
// admin API.
func (a *api) changePolicy(ctx context.Context, adminToken, id string, minLength int, target, deadline string) error {
	p, req, pc, err := a.passcodeRule(ctx, adminToken, id)
	if err != nil {
		return err
	}
	pc["min_length"] = minLength
	req["os_update"] = map[string]any{"target_version": target, "deadline": deadline}
	return a.putPolicy(ctx, adminToken, id, p)
}

// passcodeRule reads the policy id through the admin API and returns it
// with its iOS requirements and passcode rule, to be edited in place and
// written back with putPolicy.
func (a *api) passcodeRule(ctx context.Context, adminToken, id string) (p, req, pc map[string]any, err error) {
	if err := a.call(ctx, "GET", "/api/admin/policies/"+url.PathEscape(id), adminToken, nil, &p); err != nil {
		return nil, nil, nil, fmt.Errorf("admin API: %w", err)
	}
	rules, _ := p["rules"].(map[string]any)
	ios, _ := rules["ios"].(map[string]any)
	req, _ = ios["requirements"].(map[string]any)
	pc, _ = req["passcode"].(map[string]any)
	if pc == nil {
		return nil, nil, nil, fmt.Errorf("policy %s has no iOS passcode rule", id)
	}
	return p, req, pc, nil
}

// putPolicy writes the policy id back through the admin API.
func (a *api) putPolicy(ctx context.Context, adminToken, id string, p map[string]any) error {
	if err := a.call(ctx, "PUT", "/api/admin/policies/"+url.PathEscape(id), adminToken, p, nil); err != nil {
		return fmt.Errorf("admin API: change policy: %w", err)
	}
	return nil
}

// walkDeclarative plays the declarative walk, logging each step to out.
func walkDeclarative(ctx context.Context, c ddmWalkConfig, out io.Writer) (ddmWalkResult, error) {
	logf := stepLog(out)
	var res ddmWalkResult
	a, err := c.target()
	if err != nil {
		return res, err
	}
	s := newSpec(c.serial)
	logf("simulated %s (%s, iOS %s), serial %s, passcode of %d digits", s.Model, s.Product, s.OSVersion, s.Serial, len(s.Passcode))
	token, err := a.signInAccount(ctx, &c.acct, logf)
	if err != nil {
		return res, err
	}
	dec, err := a.startEnrollment(ctx, token, facts{Platform: "ios", OSVersion: s.OSVersion, Model: s.Product, Ownership: "personal"}, "direct")
	if err != nil {
		return res, err
	}
	logf("enrollment started under policy %q", dec.PolicyName)
	d, err := enrollDirect(ctx, a, dec.EnrollURL, s, logf)
	if err != nil {
		return res, err
	}
	st, err := d.poll(ctx, 0, logf, nil)
	res.Commands = st.Commands
	if err != nil {
		return res, err
	}
	if !slices.Contains(res.Commands, "DeclarativeManagement") || d.ddm == nil || d.ddm.token == "" {
		return res, fmt.Errorf("declarative management was not turned on (commands %v)", res.Commands)
	}
	res.Tokens[0] = d.ddm.token
	logf("enrolled: %d commands answered, declarative management on, declarations token %s", len(res.Commands), d.ddm.token)
	if dec.Requirements == nil {
		return res, errors.New("the enrollment decision states no requirements to check the declarations against")
	}
	effects, err := d.checkDeclarativeEffects(*dec.Requirements)
	if err != nil {
		return res, err
	}
	logf("declarations match the policy: %s", effects)
	mine, err := a.myDevice(ctx, token, s.Serial)
	if err != nil {
		return res, err
	}
	res.DeviceID = mine.ID

	check := func(what string) (complianceView, error) {
		v, err := a.compliance(ctx, c.adminToken, res.DeviceID)
		if err != nil {
			return v, err
		}
		cp := v.Management.Compliance
		res.Compliance = append(res.Compliance, string(cp.State))
		logf("server after %s: %s (%s)%s", what, cp.State, v.Management.Reason, reasons(cp.Reasons))
		return v, nil
	}
	v, err := check("enrollment")
	if err != nil {
		return res, err
	}
	if v.Policy == nil || v.Policy.Policy == "" {
		return res, errors.New("admin API: the device's policy is not known")
	}

	deadline := a.now().Add(14 * 24 * time.Hour).UTC().Format(policy.DeadlineLayout)
	if err := a.changePolicy(ctx, c.adminToken, v.Policy.Policy, 8, "17.5", deadline); err != nil {
		return res, err
	}
	logf("admin: policy changed: passcode of at least 8 characters, iOS 17.5 by %s", deadline)
	st, err = d.poll(ctx, 0, logf, nil)
	res.AfterChange = st.Commands
	if err != nil {
		return res, err
	}
	res.Tokens[1] = d.ddm.token
	if res.Tokens[1] == res.Tokens[0] {
		return res, fmt.Errorf("the policy change did not change the declarations token (commands %v)", res.AfterChange)
	}
	if v, err = check("the policy change"); err != nil {
		return res, err
	}
	res.Reasons = v.Management.Compliance.Reasons

	d.Passcode = "48291637"
	logf("the user sets a passcode of %d digits", len(d.Passcode))
	if err := d.reportChange(ctx, logf); err != nil {
		return res, err
	}
	if _, err := check("the new passcode"); err != nil {
		return res, err
	}

	d.OSVersion, d.Build = "17.5", "21F79"
	logf("the OS update installs: iOS %s (%s)", d.OSVersion, d.Build)
	if err := d.reportChange(ctx, logf); err != nil {
		return res, err
	}
	if v, err = check("the OS update"); err != nil {
		return res, err
	}
	if got := v.Device.Values["os_version"]; got != d.OSVersion {
		return res, fmt.Errorf("the server's inventory says iOS %q after the update", got)
	}
	logf("declarative walk done: compliance went %s", strings.Join(res.Compliance, " → "))
	return res, nil
}
