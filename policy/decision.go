package policy

import "fmt"

// Outcome is what the agent app tells the user.
type Outcome string

const (
	// Enroll: the user must enroll this device now.
	Enroll Outcome = "enroll"
	// NotRequired: the user may enroll this device but need not (the rule
	// says Allow). The decision still carries the requirements that apply
	// if they do.
	NotRequired Outcome = "not_required"
	// Denied: this device may not be enrolled; Reasons say why.
	Denied Outcome = "denied"
)

// Decision is the result of evaluating an org's policies for one user on
// one device.
type Decision struct {
	Outcome Outcome
	// Policy and PolicyName name the policy that decided: the first one by
	// priority targeting one of the user's groups, or the built-in default.
	Policy     ID
	PolicyName string
	// MatchedGroup is the user's group through which Policy matched; empty
	// for the built-in default.
	MatchedGroup string
	Platform     Platform
	// Reasons explain the decision in order, for people.
	Reasons []string
	// Warnings tell people what they should know beyond the outcome: each
	// requirement the platform or the Android mode forced to change
	// (clamped or dropped), and a compromised device the rule accepts.
	Warnings []string
	// Requirements are the effective requirements after clamping; zero when
	// Denied.
	Requirements Requirements
	// Agreement is the policy's user agreement text, if any, to accept
	// before enrolling; empty when Denied.
	Agreement string
	// Android is the enrollment mode plan for Android devices that got as
	// far as mode selection; nil otherwise.
	Android *AndroidPlan
}

// AndroidPlan is the outcome of Android mode selection.
type AndroidPlan struct {
	// Mode is the chosen mode, or empty when none is usable.
	Mode Mode
	// Steps explains every mode in priority order: work profile → Samsung
	// Knox → native device admin.
	Steps []ModeStep
}

// ModeStep explains one mode of the priority list.
type ModeStep struct {
	Mode   Mode
	Chosen bool
	Reason string
}

// legacyAPILimit is the last API level (Android 9) on which the device
// admin based modes (Samsung Knox through device admin, native device
// admin) work; from Android 10 the device admin policies they need are
// refused.
const legacyAPILimit = 28

// decide applies p, which matched the user through group, to a device.
func decide(p *Policy, group string, names map[string]string, d Device, v Version) Decision {
	dec := Decision{Policy: p.ID, PolicyName: p.Name, MatchedGroup: group, Platform: d.Platform}
	if p.ID == DefaultID {
		dec.reason("no mobile policy targets any of the user's groups: the built-in default policy applies")
	} else {
		dec.reason("policy %q (priority %d) targets the user's group %q", p.Name, p.Priority, orID(names[group], group))
	}
	rule, ok := p.Rules[d.Platform]
	if !ok {
		return dec.deny("policy %q has no %s rule, so %s devices are denied", p.Name, d.Platform, d.Platform)
	}
	if rule.Action == Deny {
		return dec.deny("policy %q denies enrollment of %s devices", p.Name, d.Platform)
	}
	req := rule.Requirements

	what := "jailbroken"
	if d.Platform == Android {
		what = "rooted"
	}
	if d.Preliminary {
		dec.preliminaryChecks(p, d, req, what)
	}
	if d.Compromised {
		if req.RefuseCompromised {
			return dec.deny("the device is %s and policy %q refuses %s devices", what, p.Name, what)
		}
		dec.warn("the device reports being %s; policy %q does not refuse such devices", what, p.Name)
	}
	if req.MinOSVersion != "" && !d.Preliminary {
		least, _ := ParseVersion(req.MinOSVersion) // validated with the policy
		if v.Compare(least) < 0 {
			return dec.deny("%s %s is older than %s %s, the minimum policy %q requires", d.Platform, d.OSVersion, d.Platform, req.MinOSVersion, p.Name)
		}
	}
	if least := req.Android.MinAPILevel; d.Platform == Android && !d.Preliminary && least > 0 && APILevel(d.APILevel).Compare(APILevel(least)) < 0 {
		return dec.deny("Android API level %d is below %d, the minimum policy %q requires", d.APILevel, least, p.Name)
	}

	dec.Warnings = append(dec.Warnings, clamp(d.Platform, &req)...)

	if d.Platform == Android {
		plan := planAndroid(req.Android.Modes, d)
		dec.Android = &plan
		for _, s := range plan.Steps {
			dec.reason("%s", s.Reason)
		}
		if plan.Mode == "" && !d.Preliminary {
			return dec.deny("no enabled Android enrollment mode is usable on this device")
		}
		if plan.Mode != "" {
			dec.Warnings = append(dec.Warnings, dropWithoutWorkProfile(plan.Mode, &req)...)
		}
	}

	if req.AllowFullWipe {
		if d.Ownership == OwnershipCompany {
			dec.reason("wiping all device data is permitted: the policy allows it and the device is company-owned")
		} else {
			req.AllowFullWipe = false
			dec.reason("wiping all device data is not permitted on a device that is not company-owned: only work data can be removed")
		}
	} else {
		dec.reason("wiping all device data is not permitted by policy %q: only work data can be removed", p.Name)
	}

	dec.Requirements = req
	dec.Agreement = p.Agreement
	if rule.Action == Require {
		dec.Outcome = Enroll
		dec.reason("policy %q requires enrollment of %s devices", p.Name, d.Platform)
	} else {
		dec.Outcome = NotRequired
		dec.reason("policy %q allows but does not require enrollment of %s devices", p.Name, d.Platform)
	}
	return dec
}

// preliminaryChecks says which requirements a device that has not
// reported its facts yet is checked against when it does.
func (dec *Decision) preliminaryChecks(p *Policy, d Device, req Requirements, what string) {
	if req.MinOSVersion != "" {
		dec.reason("the device's OS version is checked when it enrolls: policy %q requires %s %s or later", p.Name, d.Platform, req.MinOSVersion)
	}
	if d.Platform == Android && req.Android.MinAPILevel > 0 {
		dec.reason("the device's Android API level is checked when it enrolls: policy %q requires %d or later", p.Name, req.Android.MinAPILevel)
	}
	if req.RefuseCompromised {
		dec.reason("whether the device is %s is checked from what it reports: policy %q refuses %s devices", what, p.Name, what)
	}
}

func orID(name, id string) string {
	if name == "" {
		return id
	}
	return name
}

func (dec *Decision) reason(format string, args ...any) {
	dec.Reasons = append(dec.Reasons, fmt.Sprintf(format, args...))
}

func (dec *Decision) warn(format string, args ...any) {
	dec.Warnings = append(dec.Warnings, fmt.Sprintf(format, args...))
}

// deny finishes a Denied decision: no requirements, no agreement.
func (dec Decision) deny(format string, args ...any) Decision {
	dec.reason(format, args...)
	dec.Outcome = Denied
	dec.Requirements = Requirements{}
	dec.Agreement = ""
	return dec
}

// planAndroid walks the mode priority list: work profile if the device
// supports one, else Samsung Knox on a Knox device, else native device
// admin; the last two only up to API level 28.
func planAndroid(m Modes, d Device) AndroidPlan {
	var plan AndroidPlan
	if d.Preliminary {
		return planPreliminary(m, d)
	}
	for _, mode := range []Mode{ModeWorkProfile, ModeKnox, ModeDeviceAdmin} {
		step := ModeStep{Mode: mode}
		switch {
		case plan.Mode != "":
			step.Reason = fmt.Sprintf("%s: not needed, %s was chosen first", mode, plan.Mode)
		case !m.enabled(mode):
			step.Reason = fmt.Sprintf("%s: disabled by policy", mode)
		case mode == ModeWorkProfile && !d.WorkProfile:
			step.Reason = fmt.Sprintf("%s: the device does not support a work profile", mode)
		case mode == ModeKnox && !d.Knox:
			step.Reason = fmt.Sprintf("%s: not a Samsung device with Knox", mode)
		case mode != ModeWorkProfile && d.APILevel > legacyAPILimit:
			step.Reason = fmt.Sprintf("%s: refused on API level %d: device admin based modes work only up to Android 9 (API level %d)", mode, d.APILevel, legacyAPILimit)
		case mode == ModeWorkProfile && d.Ownership == OwnershipCompany:
			step.Chosen, plan.Mode = true, mode
			step.Reason = "fully managed (the company-owned form of the work-profile mode): enabled and supported by the device: chosen"
		default:
			step.Chosen = true
			plan.Mode = mode
			step.Reason = fmt.Sprintf("%s: enabled and supported by the device: chosen", mode)
		}
		plan.Steps = append(plan.Steps, step)
	}
	return plan
}

// planPreliminary plans for a device that has not reported what it
// supports: the work profile when enabled (a company-owned device is then
// fully managed), else no mode yet.
func planPreliminary(m Modes, d Device) AndroidPlan {
	var plan AndroidPlan
	for _, mode := range []Mode{ModeWorkProfile, ModeKnox, ModeDeviceAdmin} {
		step := ModeStep{Mode: mode}
		switch {
		case plan.Mode != "":
			step.Reason = fmt.Sprintf("%s: not needed, %s was chosen first", mode, plan.Mode)
		case !m.enabled(mode):
			step.Reason = fmt.Sprintf("%s: disabled by policy", mode)
		case mode == ModeWorkProfile && d.Ownership == OwnershipCompany:
			step.Chosen, plan.Mode = true, mode
			step.Reason = "fully managed (the company-owned form of the work-profile mode): chosen; the device is set up from its first screen"
		case mode == ModeWorkProfile:
			step.Chosen, plan.Mode = true, mode
			step.Reason = "work profile: chosen, for a device that supports one (nearly every device since Android 7); one that does not enrolls from the OMM agent app"
		default:
			step.Reason = fmt.Sprintf("%s: depends on what the device reports (a Samsung Knox device, Android 9 or earlier): enroll it from the OMM agent app, which reads what it needs from the device", mode)
		}
		plan.Steps = append(plan.Steps, step)
	}
	return plan
}

// dropWithoutWorkProfile removes the requirements that only a work profile
// can enforce when the chosen mode has none.
func dropWithoutWorkProfile(mode Mode, req *Requirements) []string {
	if mode == ModeWorkProfile {
		return nil
	}
	var warnings []string
	if req.Android.WorkProfilePasscode.Required {
		req.Android.WorkProfilePasscode = Passcode{}
		warnings = append(warnings, fmt.Sprintf("work-profile passcode not applied: %s mode has no work profile", mode))
	}
	if req.DataSeparation.BlockWorkToPersonal {
		req.DataSeparation.BlockWorkToPersonal = false
		warnings = append(warnings, fmt.Sprintf("work-to-personal sharing cannot be blocked in %s mode, which has no work profile: not applied", mode))
	}
	return warnings
}
