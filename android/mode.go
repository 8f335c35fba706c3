package android

import (
	"fmt"
	"strings"

	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
)

// Channel is how the SDK talks to an enrolled device.
type Channel string

const (
	// ChannelAMAPI: Google's Android Device Policy app manages the device
	// through the Android Management API (work profile, fully managed).
	ChannelAMAPI Channel = "amapi"
	// ChannelAgent: our own agent app, over the agent protocol (Samsung
	// Knox and native device admin).
	ChannelAgent Channel = "agent"
)

// Provisioning is how the enrollment reaches the device.
type Provisioning string

const (
	// ProvisionQR: a QR code scanned at setup of a company-owned device.
	ProvisionQR Provisioning = "qr"
	// ProvisionLink: an enrollment link opened on a device in use.
	ProvisionLink Provisioning = "link"
)

// Plan is how one device enrolls: the mode the policy chose, with every
// step of the fallback explained, and what ownership adds to it.
type Plan struct {
	Mode         policy.Mode
	Type         inventory.EnrollmentType
	Ownership    inventory.Ownership
	Channel      Channel
	Provisioning Provisioning
	// Steps are the policy decision's, unchanged: every mode in priority
	// order with why it was chosen or passed over.
	Steps []policy.ModeStep
}

// PlanFor turns an Android policy decision into an enrollment plan for a
// device of the given ownership. A denied decision, or one without an
// Android plan, yields ErrDenied with the decision's reasons.
//
// The mode is the decision's: a work-profile capable device gets a work
// profile when personally owned and is fully managed when company-owned
// (the company-owned form of the same Android Management API channel);
// Knox and native device admin run through our agent.
func PlanFor(dec policy.Decision, own inventory.Ownership) (Plan, error) {
	if dec.Outcome == policy.Denied || dec.Android == nil || dec.Android.Mode == "" {
		return Plan{}, fmt.Errorf("%w: %s", ErrDenied, strings.Join(dec.Reasons, "; "))
	}
	if own != inventory.OwnershipCompany && own != inventory.OwnershipPersonal {
		own = inventory.OwnershipPersonal // unknown is treated as personal: the cautious reading
	}
	p := Plan{Mode: dec.Android.Mode, Ownership: own, Steps: append([]policy.ModeStep(nil), dec.Android.Steps...)}
	switch p.Mode {
	case policy.ModeWorkProfile:
		p.Channel = ChannelAMAPI
		if own == inventory.OwnershipCompany {
			p.Type, p.Provisioning = inventory.EnrollAndroidFullyManaged, ProvisionQR
		} else {
			p.Type, p.Provisioning = inventory.EnrollAndroidWorkProfile, ProvisionLink
		}
	case policy.ModeKnox:
		p.Type, p.Channel, p.Provisioning = inventory.EnrollAndroidKnox, ChannelAgent, ProvisionLink
	case policy.ModeDeviceAdmin:
		p.Type, p.Channel, p.Provisioning = inventory.EnrollAndroidDeviceAdmin, ChannelAgent, ProvisionLink
	default:
		return Plan{}, fmt.Errorf("%w: unknown Android mode %q", ErrDenied, p.Mode)
	}
	return p, nil
}
