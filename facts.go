package omm

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/enroll/mdm"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// Eligibility facts and where they come from. A person answers what only
// a person can (which kind of device, who owns it); what a device can
// report — its OS version, model, capabilities, whether it is jailbroken
// or rooted — comes from the device: from the agent app running on it,
// and after enrollment from its MDM or Android reports, which re-evaluate
// it. A web page can tell only what its user says, so a decision asked
// from one ([Facts.FromPerson]) is preliminary: it holds nothing unknown
// against the device and says what the device is checked against when it
// reports.

// FactSource says where a fact of a decision came from.
type FactSource string

const (
	// FromYou: the person answered it (the device's kind, its owner).
	FromYou FactSource = "you"
	// FromDevice: the device reported it (the agent app read it on the
	// device; an MDM or Android report).
	FromDevice FactSource = "device"
	// NotYetKnown: the device has not reported it; it is checked when the
	// device enrolls and reports.
	NotYetKnown FactSource = "checked_at_enrollment"
)

// FactView is one fact a decision used, with where it came from.
type FactView struct {
	Fact  string     `json:"fact"`
	Value string     `json:"value,omitempty"`
	From  FactSource `json:"from"`
}

// ExplainFacts lists the facts a decision on f used and where each came
// from: platform and ownership from the person; the rest from the device
// (the agent app), or, for facts a person gave on a web page, not known
// until the device reports them.
func ExplainFacts(f Facts) []FactView {
	own := map[string]string{"company": "your organization", "personal": "you"}[f.Ownership]
	if own == "" {
		own = "not said (treated as personal)"
	}
	out := []FactView{
		{"Kind of device", platformWords(f.Platform), FromYou},
		{"Owner", own, FromYou},
	}
	device := []FactView{{Fact: "OS version", Value: f.OSVersion}}
	if f.Platform == string(policy.Android) {
		api := ""
		if f.APILevel > 0 {
			api = strconv.Itoa(f.APILevel)
		}
		device = append(device, FactView{Fact: "Android API level", Value: api},
			FactView{Fact: "Work profile support", Value: yesNo(f.WorkProfile)}, FactView{Fact: "Samsung Knox", Value: yesNo(f.Knox)})
	}
	if f.Model != "" || !f.FromPerson {
		device = append(device, FactView{Fact: "Model", Value: f.Model})
	}
	device = append(device, FactView{Fact: "Jailbroken or rooted", Value: yesNo(f.Compromised)})
	for _, d := range device {
		if f.FromPerson {
			d.Value, d.From = "", NotYetKnown
		} else {
			d.From = FromDevice
		}
		out = append(out, d)
	}
	return out
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func platformWords(p string) string {
	switch policy.Platform(p) {
	case policy.IOS:
		return "iPhone or iPad"
	case policy.Android:
		return "Android"
	case policy.MacOS:
		return "Mac"
	}
	return p
}

// reportedFacts are the eligibility facts an enrolled device reported, as
// stored in its inventory: its OS version, and on Android whether Google
// (or the agent) reports it as compromised.
type reportedFacts struct {
	osVersion   string
	compromised bool
}

// compromisedPosture is the Android security posture of a rooted or
// otherwise compromised device (the Android Management API's
// POTENTIALLY_COMPROMISED).
const compromisedPosture = "POTENTIALLY_COMPROMISED"

func (s *SDK) reported(ctx context.Context, d inventory.Device) (reportedFacts, error) {
	vals, err := s.Store.DeviceValues(ctx, d.Org, d.ID)
	if err != nil {
		return reportedFacts{}, err
	}
	var f reportedFacts
	for _, v := range vals {
		switch v.Key {
		case inventory.KeyOSVersion:
			if _, err := policy.ParseVersion(v.Value); err == nil {
				f.osVersion = v.Value
			}
		case inventory.KeySecurityPosture:
			f.compromised = v.Value == compromisedPosture
		}
	}
	return f, nil
}

// reevaluateOnReport is the result handler of Apple inventory answers
// that carry eligibility facts (DeviceInformation: the OS version): after
// the check-in service's built-in ingest stored the answer through the
// privacy filter, it decides again for the device, so that a device whose
// reported facts its policy refuses shows as out of policy (it keeps its
// enrollment: an administrator acts on it). A device the declarative
// channel has just decided for on this answer (checkin.Result.Declarative)
// is not decided a second time on the same facts.
type reevaluateOnReport struct{ s *SDK }

func (h reevaluateOnReport) HandleResult(ctx context.Context, r checkin.Result) error {
	if r.Status != mdm.Acknowledged || r.Inventory == nil || r.Declarative {
		return nil
	}
	h.s.reevaluate(ctx, r.Device.Org, r.Device.ID)
	return nil
}

// reevaluate decides again for one enrolled device after it reported.
func (s *SDK) reevaluate(ctx context.Context, org storage.OrgID, id string) {
	d, err := s.Store.Device(ctx, org, id)
	if err == nil && d.State == inventory.StateEnrolled {
		_, err = s.reapplyRetrying(context.WithoutCancel(ctx), d, map[string]policy.User{})
	}
	if err != nil {
		s.log.Error("re-evaluation after a device report failed; the next policy change tries again", "org", org, "device", id, "err", err)
	}
}

// androidReported wraps the Android agent's status endpoint: after a
// report is stored, the device is decided again on what it reported.
func (s *SDK) androidReported(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.status != http.StatusOK {
			return
		}
		credential, ok := bearer(r)
		if !ok {
			return
		}
		d, err := s.Android.Authenticate(r.Context(), credential)
		if err != nil {
			return
		}
		s.reevaluate(r.Context(), d.Org, d.ID)
	})
}

func bearer(r *http.Request) (string, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return strings.TrimSpace(tok), ok && strings.TrimSpace(tok) != ""
}

// androidFacts describes an enrolled Android device to re-evaluation:
// its mode's capability and ownership (android.ReapplyFacts), and what it
// reported.
func androidFacts(ad android.Device, rep reportedFacts) policy.Device {
	f := android.ReapplyFacts(ad)
	f.OSVersion, f.Compromised = rep.osVersion, rep.compromised
	return f
}

// errPreliminaryMode is why a preliminary Android decision without a
// mode issues no token.
var errPreliminaryMode = fmt.Errorf("%w: this device's enrollment mode depends on what it reports: enroll it from the OMM agent app", ErrNotPermitted)

// PrivacyPreview is "What your organization can see" for the device a
// decision is about, before it enrolls: the report an enrolled device of
// that platform, ownership and enrollment type (the Android plan's; an
// Apple device enrolls its whole device) will show, from the same privacy
// contract, with the policy's word on a factory reset. The user reads it
// before agreeing. A denied decision has none (ok false).
func (s *SDK) PrivacyPreview(dec policy.Decision, f Facts) (inventory.Report, bool) {
	if dec.Outcome == policy.Denied {
		return inventory.Report{}, false
	}
	own := inventory.Ownership(f.Ownership)
	if own != inventory.OwnershipCompany {
		own = inventory.OwnershipPersonal // unknown is treated as personal
	}
	var p inventory.Platform
	typ := inventory.EnrollAppleDevice
	switch dec.Platform {
	case policy.IOS:
		p = inventory.PlatformIOS
	case policy.MacOS:
		p = inventory.PlatformMacOS
	case policy.Android:
		p, typ = inventory.PlatformAndroid, inventory.EnrollAndroidWorkProfile
		if plan, err := android.PlanFor(dec, own); err == nil {
			typ = plan.Type
		} else if own == inventory.OwnershipCompany {
			typ = inventory.EnrollAndroidFullyManaged
		}
	default:
		return inventory.Report{}, false
	}
	return inventory.Preview(p, own, typ, inventory.ReportOptions{FullWipeAllowed: dec.Requirements.AllowFullWipe}, s.now()), true
}
