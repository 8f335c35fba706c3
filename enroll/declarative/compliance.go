package declarative

import (
	"fmt"
	"strings"
	"time"

	"github.com/openomm/omm/inventory"
)

// ComplianceState sums up a device's compliance.
type ComplianceState string

const (
	// Compliant: every declaration applies and the device meets its
	// passcode and OS requirements.
	Compliant ComplianceState = "compliant"
	// Pending: nothing fails, but the device has not applied (or not
	// reported) everything yet, or an OS update is due but its deadline
	// has not passed.
	Pending ComplianceState = "pending"
	// NotCompliant: a declaration is invalid, or the device breaks a
	// requirement (passcode, OS version), or it is out of policy.
	NotCompliant ComplianceState = "not_compliant"
)

// DeclarationCompliance is one declaration and what the device reported
// of it.
type DeclarationCompliance struct {
	Type       Type   `json:"type"`
	Identifier string `json:"identifier"`
	// Applied: the device reported this very revision (server token).
	Applied bool     `json:"applied"`
	Active  bool     `json:"active"`
	Valid   string   `json:"valid"`
	Reasons []Reason `json:"reasons,omitempty"`
}

// Compliance is a device's compliance under declarative management,
// recomputed from the status it reports.
type Compliance struct {
	State ComplianceState `json:"state"`
	// Reasons say, for people, what is missing or failing.
	Reasons      []string                `json:"reasons"`
	Declarations []DeclarationCompliance `json:"declarations"`
	// Reported is when the device last reported status.
	Reported time.Time `json:"reported,omitzero"`
}

// Evaluate computes the compliance of a device whose declarations are set
// and whose state is st, from its declarations' status and the inventory
// values stored for it (passcode and OS version, from status reports or
// commands), at time now.
func Evaluate(st State, set Set, values []inventory.Value, now time.Time) Compliance {
	c := Compliance{State: Compliant, Reasons: []string{}, Declarations: []DeclarationCompliance{}, Reported: st.Status.Reported}
	fail := func(format string, args ...any) {
		c.State = NotCompliant
		c.Reasons = append(c.Reasons, fmt.Sprintf(format, args...))
	}
	wait := func(format string, args ...any) {
		if c.State == Compliant {
			c.State = Pending
		}
		c.Reasons = append(c.Reasons, fmt.Sprintf(format, args...))
	}
	if st.Inputs.OutOfPolicy != "" {
		fail("out of policy: %s", st.Inputs.OutOfPolicy)
	}
	reported := map[string]DeclarationStatus{}
	for _, d := range st.Status.Declarations {
		reported[string(d.Kind)+"/"+d.Identifier] = d
	}
	pending := 0
	for _, d := range set.Declarations {
		r, ok := reported[string(d.Type.Kind())+"/"+d.Identifier]
		dc := DeclarationCompliance{Type: d.Type, Identifier: d.Identifier, Valid: Unknown}
		if ok && r.ServerToken == d.ServerToken {
			dc.Applied, dc.Active, dc.Valid, dc.Reasons = true, r.Active, r.Valid, r.Reasons
		}
		c.Declarations = append(c.Declarations, dc)
		switch {
		case !dc.Applied:
			pending++
		case dc.Valid == Invalid:
			fail("%s %s is invalid on the device%s", describe(d.Type), d.Identifier, reasonText(dc.Reasons))
		}
	}
	if pending > 0 {
		wait("%d of %d declarations not yet applied by the device", pending, len(set.Declarations))
	}

	vals := map[inventory.Key]string{}
	for _, v := range values {
		vals[v.Key] = v.Value
	}
	req := st.Inputs.Requirements
	if req.Passcode.Required {
		switch {
		case vals[inventory.KeyPasscodePresent] == "false":
			fail("no passcode is set, and the policy requires one")
		case vals[inventory.KeyPasscodeCompliant] == "false":
			fail("the passcode does not meet the policy")
		}
	}
	os := vals[inventory.KeyOSVersion]
	if req.MinOSVersion != "" && os != "" && compareVersions(os, req.MinOSVersion) < 0 {
		fail("OS %s is older than %s, the policy's minimum", os, req.MinOSVersion)
	}
	if u := req.OSUpdate; u.Set() && os != "" && compareVersions(os, u.TargetVersion) < 0 {
		deadline, err := u.DeadlineTime(time.UTC)
		switch {
		case err != nil:
			fail("OS %s is older than %s, the policy's target", os, u.TargetVersion)
		case now.After(deadline):
			fail("OS %s is older than %s, which was due by %s", os, u.TargetVersion, u.Deadline)
		default:
			wait("OS update to %s due by %s (the device runs %s)", u.TargetVersion, u.Deadline, os)
		}
	}
	return c
}

// describe names a declaration type for people.
func describe(t Type) string {
	switch t {
	case TypeActivation:
		return "activation"
	case TypeStatusSubscriptions:
		return "status subscriptions"
	case TypePasscode:
		return "passcode settings"
	case TypeSoftwareUpdate:
		return "OS update enforcement"
	case TypeLegacyProfile:
		return "settings profile"
	case TypeManagedApp:
		return "managed app"
	}
	return string(t)
}

func reasonText(rs []Reason) string {
	if len(rs) == 0 {
		return ""
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.Code
		if r.Description != "" {
			parts[i] += " (" + r.Description + ")"
		}
	}
	return ": " + strings.Join(parts, "; ")
}
