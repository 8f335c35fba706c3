package policy

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/openomm/omm/storage"
)

// Limits of an Applied record.
const (
	MaxAppliedDeviceLen = 128
	MaxFingerprintLen   = 64
	MaxOutOfPolicyLen   = 1000
)

// Applied is what an enrolled device last got from its policy: the policy
// that decided, a fingerprint of the settings the device was sent (empty:
// none), and whether its user is still under a policy that admits the
// device. Packages that re-apply a changed policy (enroll/ota for Apple,
// android) keep it, so that an unchanged decision sends nothing.
//
// A policy change never deprovisions anyone. A device whose user no longer
// gets an Enroll or NotRequired decision keeps its enrollment and the
// settings it last got; OutOfPolicy says why, for administrators, until a
// later re-application finds the device in policy again.
type Applied struct {
	Org    storage.OrgID
	Device string
	// Policy is the policy whose requirements the device last got.
	Policy ID
	// Fingerprint identifies the settings the device was last sent, as
	// the delivering package computes it; empty when it holds none.
	Fingerprint string
	// OutOfPolicy is empty while the device is in policy, else the
	// decision's reason that it is not.
	OutOfPolicy string
	// Version counts changes: 1 after the first write. A write must carry
	// the version it read (0 for a device without a record).
	Version int64
	// Updated is the time of the audit entry of the latest change.
	Updated time.Time
}

// Validate checks every field a caller supplies; errors wrap
// storage.ErrInvalid.
func (a Applied) Validate() error {
	if err := a.Org.Validate(); err != nil {
		return err
	}
	switch {
	case a.Device == "" || len(a.Device) > MaxAppliedDeviceLen || !utf8.ValidString(a.Device):
		return fmt.Errorf("%w: applied policy: device must be 1–%d bytes of UTF-8", storage.ErrInvalid, MaxAppliedDeviceLen)
	case len(a.Fingerprint) > MaxFingerprintLen || !printableASCII(a.Fingerprint):
		return fmt.Errorf("%w: applied policy: fingerprint must be at most %d printable ASCII bytes", storage.ErrInvalid, MaxFingerprintLen)
	case len(a.OutOfPolicy) > MaxOutOfPolicyLen || !utf8.ValidString(a.OutOfPolicy):
		return fmt.Errorf("%w: applied policy: out-of-policy reason must be at most %d bytes of UTF-8", storage.ErrInvalid, MaxOutOfPolicyLen)
	case a.Version < 0:
		return fmt.Errorf("%w: applied policy: negative version", storage.ErrInvalid)
	}
	return a.Policy.Validate()
}

// Normalize returns a as stores keep it.
func (a Applied) Normalize() Applied {
	a.Updated = storage.Normalize(a.Updated)
	return a
}

func printableASCII(s string) bool {
	for _, c := range []byte(s) {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// OutOfPolicyReason summarizes why a Denied decision leaves an enrolled
// device out of policy: its last reason, which names the cause.
func OutOfPolicyReason(d Decision) string {
	if len(d.Reasons) == 0 {
		return "denied"
	}
	r := d.Reasons[len(d.Reasons)-1]
	if len(r) > MaxOutOfPolicyLen {
		r = r[:MaxOutOfPolicyLen]
		for !utf8.ValidString(r) {
			r = r[:len(r)-1]
		}
	}
	return r
}

// Reevaluate decides again for a device that is already enrolled, after a
// policy or the user's groups changed. It is [Set.Evaluate] with the facts
// that only matter before enrollment filled in where they are unknown: an
// OS version the device has not reported yet is taken as the rule's minimum
// and an unknown Android API level as the rule's minimum API level (at
// least 1), so that what is not known is not held against the device. A
// reported version below a raised minimum still denies.
func (s *Set) Reevaluate(u User, d Device) (Decision, error) {
	p, _ := s.Match(u.Groups)
	rule := p.Rules[d.Platform]
	if d.OSVersion == "" {
		d.OSVersion = rule.Requirements.MinOSVersion
		if d.OSVersion == "" {
			d.OSVersion = "1"
		}
	}
	if d.Platform == Android && d.APILevel == 0 {
		d.APILevel = max(rule.Requirements.Android.MinAPILevel, 1)
	}
	return s.Evaluate(u, d)
}

// Reevaluate is [Set.Reevaluate] on the org's current policies.
func (s *Service) Reevaluate(ctx context.Context, org storage.OrgID, u User, d Device) (Decision, error) {
	set, err := s.Set(ctx, org)
	if err != nil {
		return Decision{}, err
	}
	return set.Reevaluate(u, d)
}
