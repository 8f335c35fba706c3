package omm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/declarative"
	"github.com/openomm/omm/enroll/ota"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// The rules the agent API, the admin API and a host's own UI share: what
// policy decides for a user on a device, whose device is whose, and which
// actions a device allows on which platform.

// Facts is what a device (or its user) says about itself when asking
// whether it may enroll.
type Facts struct {
	Platform     string `json:"platform"`
	OSVersion    string `json:"os_version"`
	APILevel     int    `json:"api_level,omitempty"`
	Model        string `json:"model,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Ownership    string `json:"ownership,omitempty"`
	Compromised  bool   `json:"compromised,omitempty"`
	WorkProfile  bool   `json:"work_profile,omitempty"`
	Knox         bool   `json:"knox,omitempty"`
	// FromPerson marks facts a person gave on a web page rather than the
	// device (the agent app reads them on the device it runs on): only
	// Platform and Ownership are taken, the decision is preliminary
	// (policy.Device.Preliminary), and the device is checked when it
	// reports at enrollment. See [ExplainFacts].
	FromPerson bool `json:"-"`
}

// maxFactLen bounds the free-text facts (the policy package checks the
// rest).
const maxFactLen = 100

func (f Facts) device() (policy.Device, error) {
	if f.FromPerson {
		p := policy.Platform(f.Platform)
		if err := p.Validate(); err != nil {
			return policy.Device{}, fmt.Errorf("%w: platform must be ios, android or macos", ErrBadRequest)
		}
		return policy.Device{Platform: p, Ownership: policy.Ownership(f.Ownership), Preliminary: true}, nil
	}
	for name, v := range map[string]string{"os_version": f.OSVersion, "model": f.Model, "manufacturer": f.Manufacturer} {
		if len(v) > maxFactLen {
			return policy.Device{}, fmt.Errorf("%w: %s is longer than %d bytes", ErrBadRequest, name, maxFactLen)
		}
	}
	p := policy.Platform(f.Platform)
	if err := p.Validate(); err != nil {
		return policy.Device{}, fmt.Errorf("%w: platform must be ios, android or macos", ErrBadRequest)
	}
	if f.OSVersion == "" {
		return policy.Device{}, fmt.Errorf("%w: os_version is required", ErrBadRequest)
	}
	return policy.Device{
		Platform: p, OSVersion: f.OSVersion, APILevel: f.APILevel, Model: f.Model, Manufacturer: f.Manufacturer,
		Ownership: policy.Ownership(f.Ownership), Compromised: f.Compromised, WorkProfile: f.WorkProfile, Knox: f.Knox,
	}, nil
}

// policyUser describes a user to policy evaluation: ID and the IDs of the
// directory groups.
func (s *SDK) policyUser(ctx context.Context, org storage.OrgID, userID string) (policy.User, error) {
	groups, err := s.Directory.Groups(ctx, org, userID)
	if err != nil {
		return policy.User{}, err
	}
	u := policy.User{ID: userID, Groups: make([]string, len(groups)), GroupNames: make(map[string]string, len(groups))}
	for i, g := range groups {
		u.Groups[i] = g.ID
		u.GroupNames[g.ID] = g.Name
	}
	return u, nil
}

// Decide evaluates the org's policies for the user on a device described
// by f.
func (s *SDK) Decide(ctx context.Context, org storage.OrgID, userID string, f Facts) (policy.Decision, error) {
	d, err := f.device()
	if err != nil {
		return policy.Decision{}, err
	}
	u, err := s.policyUser(ctx, org, userID)
	if err != nil {
		return policy.Decision{}, err
	}
	return s.Policy.Evaluate(ctx, org, u, d)
}

// Enrollment is a started Apple enrollment: the policy decision and the
// one-time URL the device opens (the OTA profile service, or the direct
// profile).
type Enrollment struct {
	Decision policy.Decision
	URL      string
	Expires  time.Time
}

// BeginAppleEnrollment re-evaluates the policy (never trusting an earlier
// answer a client holds) and starts an enrollment session for an iPhone,
// iPad or Mac of the user. delivery is enroll.KindOTA (the profile
// service, the default on iOS), enroll.KindDirect (one .mobileconfig:
// macOS, and device simulators) or "". An iPhone or iPad gets the direct
// profile only where its policy's iOS rule accepts it
// (policy.Requirements.AcceptDirectProfile, off by default): that profile
// carries no attestation that a genuine Apple device asked for it, so it
// would let a simulated "iPhone" past the Apple device check that OTA
// phase 2 makes. A refusal is ErrNotPermitted.
func (s *SDK) BeginAppleEnrollment(ctx context.Context, org storage.OrgID, userID string, f Facts, delivery enroll.SessionKind) (Enrollment, error) {
	dec, err := s.Decide(ctx, org, userID, f)
	if err != nil {
		return Enrollment{Decision: dec}, err
	}
	if delivery != "" && delivery != enroll.KindOTA && delivery != enroll.KindDirect {
		return Enrollment{Decision: dec}, fmt.Errorf("%w: delivery must be ota or direct", ErrBadRequest)
	}
	var kind enroll.SessionKind
	switch dec.Platform {
	case policy.IOS:
		kind = enroll.KindOTA
		if delivery == enroll.KindDirect {
			if err := directAccepted(dec); err != nil {
				return Enrollment{Decision: dec}, err
			}
			kind = enroll.KindDirect
		}
	case policy.MacOS:
		kind = enroll.KindDirect
	default:
		return Enrollment{Decision: dec}, fmt.Errorf("%w: Android devices enroll with an Android enrollment token", ErrNotPermitted)
	}
	if dec.Outcome != policy.Enroll {
		return Enrollment{Decision: dec}, fmt.Errorf("%w: the policy decision is %q, not enroll", ErrNotPermitted, dec.Outcome)
	}
	t, err := s.OTA.Begin(ctx, org, userID, dec, kind)
	if err != nil {
		return Enrollment{Decision: dec}, err
	}
	return Enrollment{Decision: dec, URL: t.URL, Expires: t.Expires}, nil
}

// AndroidEnrollment is an issued Android enrollment: the decision, the
// plan the device follows, and the one-time token with its link or QR
// provisioning JSON (and that as a PNG).
type AndroidEnrollment struct {
	Decision policy.Decision
	Issued   android.Issued
	QRPNG    []byte
}

// BeginAndroidEnrollment re-evaluates the policy for the device facts and
// issues a one-time enrollment token for the user's Android device.
func (s *SDK) BeginAndroidEnrollment(ctx context.Context, org storage.OrgID, userID, actor string, f Facts) (AndroidEnrollment, error) {
	if f.Platform != string(policy.Android) {
		return AndroidEnrollment{}, fmt.Errorf("%w: platform must be android", ErrBadRequest)
	}
	own := inventory.Ownership(f.Ownership)
	if own != inventory.OwnershipCompany && own != inventory.OwnershipPersonal {
		return AndroidEnrollment{}, fmt.Errorf("%w: ownership must be company or personal", ErrBadRequest)
	}
	dec, err := s.Decide(ctx, org, userID, f)
	if err != nil {
		return AndroidEnrollment{}, err
	}
	if f.FromPerson && dec.Outcome != policy.Denied && (dec.Android == nil || dec.Android.Mode == "") {
		return AndroidEnrollment{Decision: dec}, errPreliminaryMode
	}
	plan, err := android.PlanFor(dec, own)
	if err != nil {
		return AndroidEnrollment{Decision: dec}, err
	}
	if plan.Mode == policy.ModeKnox && !s.knox {
		return AndroidEnrollment{Decision: dec}, fmt.Errorf("%w: Samsung Knox enrollment needs the org's Knox license, and none is configured", ErrNotPermitted)
	}
	iss, err := s.Android.CreateToken(ctx, actor, android.TokenRequest{Org: org, UserID: userID, Decision: dec, Ownership: own, OneTime: true})
	if err != nil {
		return AndroidEnrollment{Decision: dec}, err
	}
	payload := iss.QR
	if payload == nil {
		payload = []byte(iss.Link) // scanned with the device's camera, it opens the link
	}
	png, err := android.QRPNG(payload)
	if err != nil {
		return AndroidEnrollment{Decision: dec}, err
	}
	return AndroidEnrollment{Decision: dec, Issued: iss, QRPNG: png}, nil
}

// UserDevices lists the user's devices (one page: a person has few).
func (s *SDK) UserDevices(ctx context.Context, org storage.OrgID, userID string) ([]inventory.Device, error) {
	page, err := s.Store.ListDevices(ctx, org, inventory.DeviceQuery{UserID: userID, Limit: inventory.MaxDevicePage})
	return page.Devices, err
}

// UserDevice returns the device only when it belongs to the user; anyone
// else's device is storage.ErrNotFound, exactly as if it did not exist.
func (s *SDK) UserDevice(ctx context.Context, org storage.OrgID, userID, id string) (inventory.Device, error) {
	d, err := s.OrgDevice(ctx, org, id)
	if err != nil {
		return d, err
	}
	if d.UserID != userID {
		return inventory.Device{}, fmt.Errorf("device: %w", storage.ErrNotFound)
	}
	return d, nil
}

// OrgDevice returns the org's device; another org's is storage.ErrNotFound.
func (s *SDK) OrgDevice(ctx context.Context, org storage.OrgID, id string) (inventory.Device, error) {
	if len(id) > inventory.MaxDeviceIDLen {
		return inventory.Device{}, fmt.Errorf("device: %w", storage.ErrNotFound)
	}
	return s.Store.Device(ctx, org, id)
}

// FullWipeAllowed reports whether the policy deciding for the device's
// user permits a factory reset on its platform. The device's ownership
// and enrollment type may forbid it still (the platform services check).
func (s *SDK) FullWipeAllowed(ctx context.Context, d inventory.Device) (bool, error) {
	if d.UserID == "" {
		return false, nil
	}
	u, err := s.policyUser(ctx, d.Org, d.UserID)
	if err != nil {
		return false, err
	}
	set, err := s.Policy.Set(ctx, d.Org)
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

// Report builds "What your organization can see" for a device.
func (s *SDK) Report(ctx context.Context, d inventory.Device) (inventory.Report, error) {
	wipe, err := s.FullWipeAllowed(ctx, d)
	if err != nil {
		return inventory.Report{}, err
	}
	r, err := s.Inventory.Report(ctx, d.Org, d.ID, inventory.ReportOptions{FullWipeAllowed: wipe})
	if err != nil {
		return r, err
	}
	names, err := s.catalogNames(ctx, d.Org)
	if err != nil {
		return r, err
	}
	for i, a := range r.Apps.Managed {
		if a.Name == "" {
			r.Apps.Managed[i].Name = names[a.Identifier]
		}
	}
	return r, nil
}

// Action is something done to a device on behalf of a user or an admin.
type Action string

// The device actions, on both platforms.
const (
	// ActionLock locks the screen.
	ActionLock Action = "lock"
	// ActionDeprovision removes the organization's data only: managed
	// apps, profiles and accounts, the work profile. Never personal data.
	ActionDeprovision Action = "deprovision"
	// ActionErase factory resets the device, where policy, ownership and
	// enrollment type all allow it.
	ActionErase Action = "erase"
	// ActionRefresh asks an Apple device for its inventory now.
	ActionRefresh Action = "refresh"
)

// Actions lists the device actions.
func Actions() []Action { return []Action{ActionLock, ActionDeprovision, ActionErase, ActionRefresh} }

// ActionChoice is a device action and whether it applies to the device
// now; Why says why not, in words for the person who would ask.
type ActionChoice struct {
	Action  Action
	Allowed bool
	Why     string
}

// DeviceActions says which of [Actions] apply to d in its state, on its
// platform, under its ownership, enrollment type and policy: what a
// console or portal offers, and exactly what [SDK.Act] accepts.
//
//   - A deprovisioned or wiped device is no longer managed: nothing.
//   - A device that has not completed enrollment: nothing yet.
//   - Enrolled: lock, remove work data (not on a fully managed Android
//     device, which leaves management only by a factory reset), factory
//     reset where ownership, enrollment type and policy permit one, and
//     on Apple devices an inventory refresh.
//   - Being deprovisioned: the removal again (after it expired
//     unanswered), or a factory reset where permitted; nothing else.
func (s *SDK) DeviceActions(ctx context.Context, d inventory.Device) ([]ActionChoice, error) {
	out := make([]ActionChoice, 0, len(Actions()))
	why := map[Action]string{}
	switch d.State {
	case inventory.StateDeprovisioned, inventory.StateWiped:
		for _, a := range Actions() {
			why[a] = fmt.Sprintf("the device is %s: it is no longer managed", d.State)
		}
	case inventory.StatePending:
		for _, a := range Actions() {
			why[a] = "the device has not completed its enrollment"
		}
	default:
		if err := s.deviceRules(ctx, d, why); err != nil {
			return nil, err
		}
	}
	for _, a := range Actions() {
		out = append(out, ActionChoice{Action: a, Allowed: why[a] == "", Why: why[a]})
	}
	return out, nil
}

// deviceRules fills why for a device enrolled or being deprovisioned.
func (s *SDK) deviceRules(ctx context.Context, d inventory.Device, why map[Action]string) error {
	if d.State == inventory.StateDeprovisioning {
		why[ActionLock] = "the device is being deprovisioned"
		why[ActionRefresh] = "the device is being deprovisioned"
	}
	if !d.Platform.Apple() {
		if why[ActionRefresh] == "" {
			why[ActionRefresh] = "Android devices report their inventory on their own"
		}
		ad, err := s.Store.AndroidDevice(ctx, d.Org, d.ID)
		if errors.Is(err, storage.ErrNotFound) { // registered, never enrolled through the channel
			for _, a := range Actions() {
				why[a] = "the device has not completed its enrollment"
			}
			return nil
		}
		if err != nil {
			return err
		}
		kinds := android.WipeKindsFor(d, ad)
		if !slices.Contains(kinds, android.WipeWorkData) {
			why[ActionDeprovision] = "a fully managed device has no personal side: it leaves management only by a factory reset"
		}
		if !slices.Contains(kinds, android.WipeFactoryReset) {
			why[ActionErase] = eraseRefusal(d, ad.Requirements.AllowFullWipe)
		}
		return nil
	}
	allowed, err := s.FullWipeAllowed(ctx, d)
	if err != nil {
		return err
	}
	if !d.FactoryResetPermitted() || !allowed {
		why[ActionErase] = eraseRefusal(d, allowed)
	}
	return nil
}

// eraseRefusal says why a device may not be factory reset.
func eraseRefusal(d inventory.Device, policyAllows bool) string {
	if !d.FactoryResetPermitted() {
		return "a factory reset is not possible: the device is personally owned or enrolled with a work profile or User Enrollment; removing the work data is"
	}
	if !policyAllows {
		return "a factory reset is not possible: the policy of the device's user does not allow it"
	}
	return ""
}

// Act does action to the device on behalf of actor ("admin:alice",
// "user:u1"), through the device's platform: queued commands for an Apple
// device, the agent's or Google's for an Android one. An action that does
// not apply to the device ([SDK.DeviceActions]) fails with ErrNotPermitted
// saying why; the platform services check their own rules again.
func (s *SDK) Act(ctx context.Context, d inventory.Device, action Action, actor string) error {
	if !slices.Contains(Actions(), action) {
		return fmt.Errorf("%w: unknown action %q", ErrBadRequest, action)
	}
	choices, err := s.DeviceActions(ctx, d)
	if err != nil {
		return err
	}
	for _, c := range choices {
		if c.Action == action && !c.Allowed {
			return fmt.Errorf("%w: %s", ErrNotPermitted, c.Why)
		}
	}
	apple := d.Platform.Apple()
	switch action {
	case ActionLock:
		if !apple {
			_, err := s.Android.Lock(ctx, actor, d.Org, d.ID)
			return err
		}
		return s.MDM.Lock(ctx, d.Org, d.ID, actor, "This device was locked by your organization.", "")
	case ActionDeprovision:
		// Work data only, also on a company-owned device whose policy
		// would allow a factory reset.
		if !apple {
			_, err := s.Android.RemoveWorkData(ctx, actor, d.Org, d.ID)
			return err
		}
		return s.MDM.Deprovision(ctx, d.Org, d.ID, actor, "requested by "+actor)
	case ActionErase:
		if !apple {
			_, err := s.Android.FactoryReset(ctx, actor, d.Org, d.ID)
			return err
		}
		allowed, err := s.FullWipeAllowed(ctx, d)
		if err != nil {
			return err
		}
		return s.MDM.Erase(ctx, d.Org, d.ID, actor, allowed)
	default: // ActionRefresh; DeviceActions refused it on Android
		return s.MDM.RefreshInventory(ctx, d.Org, d.ID, actor)
	}
}

// DeviceCommand is one command sent to a device, as people read it:
// Pending until the device answered.
type DeviceCommand struct {
	UUID        string               `json:"uuid"`
	RequestType string               `json:"request_type"`
	Status      enroll.CommandStatus `json:"status"`
	Pending     bool                 `json:"pending"`
	Detail      string               `json:"detail,omitempty"`
	Queued      time.Time            `json:"queued"`
	Updated     time.Time            `json:"updated"`
}

// MaxCommandsShown bounds the commands listed per device.
const MaxCommandsShown = 50

// Commands lists a device's latest commands, newest first: the MDM
// command queue of an Apple device, the pending commands of an Android
// device (its agent fetches them; settled ones leave the list).
func (s *SDK) Commands(ctx context.Context, d inventory.Device) ([]DeviceCommand, error) {
	if d.Platform.Apple() {
		cmds, err := s.MDM.Actions(ctx, d.Org, d.ID, MaxCommandsShown)
		if err != nil {
			return nil, err
		}
		out := make([]DeviceCommand, len(cmds))
		for i, c := range cmds {
			out[i] = DeviceCommand{UUID: c.UUID, RequestType: c.RequestType, Status: c.Status, Pending: c.Status.Open(),
				Detail: c.Detail, Queued: c.Queued, Updated: c.Updated}
		}
		return out, nil
	}
	ad, err := s.Store.AndroidDevice(ctx, d.Org, d.ID)
	if errors.Is(err, storage.ErrNotFound) { // registered, never enrolled through the channel
		return []DeviceCommand{}, nil
	}
	if err != nil {
		return nil, err
	}
	cmds, err := s.Android.Commands(ctx, ad)
	if err != nil {
		return nil, err
	}
	out := make([]DeviceCommand, 0, len(cmds))
	for _, c := range cmds {
		kind := string(c.Kind)
		if c.Wipe != "" {
			kind += " (" + string(c.Wipe) + ")"
		}
		out = append(out, DeviceCommand{UUID: c.ID, RequestType: kind, Status: enroll.StatusPending, Pending: true,
			Detail: c.Detail, Queued: c.Created, Updated: c.Updated})
	}
	return out, nil
}

// Compliance is what the admin views show of the policy a device last got.
type Compliance struct {
	Policy      policy.ID `json:"policy"`
	PolicyName  string    `json:"policy_name,omitempty"`
	InPolicy    bool      `json:"in_policy"`
	OutOfPolicy string    `json:"out_of_policy,omitempty"`
	// Fingerprint identifies the settings the device was sent: the policy
	// profile's, or on the declarative channel the declarations token.
	Fingerprint string `json:"settings_fingerprint,omitempty"`
	// Pending: the device has not yet applied the settings it was last
	// sent (an Apple device's policy profile still queued). It is not in
	// policy until it has.
	Pending bool `json:"pending,omitempty"`
	// Refused says why the device refused the settings it was last sent
	// (the device's error); empty when it did not.
	Refused string    `json:"refused,omitempty"`
	Updated time.Time `json:"updated"`
	// Declarative is the compliance recomputed from the status a device
	// on the declarative channel reports (declarations applied and valid,
	// passcode, OS version); nil on the command path.
	Declarative *declarative.Compliance `json:"declarative,omitempty"`
}

// policyProfileCommands are the commands that deliver an Apple device's
// policy settings: at enrollment and when a policy change re-applies them.
var policyProfileCommands = []string{"InstallProfile", "RemoveProfile"}

// Compliance returns the device's compliance: what its policy last gave
// it, whether it is still in policy, and whether it has applied it. A
// device no policy change has touched yet shows what it enrolled under;
// nil only for a device that is not enrolled (or enrolled no way the SDK
// knows).
func (s *SDK) Compliance(ctx context.Context, d inventory.Device) (*Compliance, error) {
	if d.State != inventory.StateEnrolled {
		return nil, nil
	}
	// A device on the declarative channel has its compliance from its
	// declarations and the status it reports.
	if ch, err := s.Channel(ctx, d); err != nil {
		return nil, err
	} else if ch != nil && ch.Declarative {
		st, err := s.Store.DeclarativeState(ctx, d.Org, d.ID)
		if err != nil {
			return nil, err
		}
		c := &Compliance{Policy: st.Inputs.Policy, InPolicy: st.Inputs.OutOfPolicy == "", OutOfPolicy: st.Inputs.OutOfPolicy,
			Fingerprint: st.Token, Updated: st.Updated, Declarative: ch.Compliance}
		if p, err := s.Policy.Policy(ctx, d.Org, c.Policy); err == nil {
			c.PolicyName = p.Name
		}
		return c, nil
	}
	c, err := s.appliedCompliance(ctx, d)
	if c == nil || err != nil {
		return c, err
	}
	if p, err := s.Policy.Policy(ctx, d.Org, c.Policy); err == nil {
		c.PolicyName = p.Name
	}
	if !d.Platform.Apple() {
		return c, nil
	}
	// The latest policy profile command says whether the device applied
	// what it was sent.
	cmds, err := s.MDM.Actions(ctx, d.Org, d.ID, MaxCommandsShown)
	if err != nil {
		return nil, err
	}
	for _, cmd := range cmds { // newest first
		if !slices.Contains(policyProfileCommands, cmd.RequestType) {
			continue
		}
		switch {
		case cmd.Status.Open():
			c.Pending = true
		case cmd.Status != enroll.StatusAcknowledged:
			c.Refused = orDefault(cmd.Detail, string(cmd.Status))
		}
		break
	}
	c.InPolicy = c.InPolicy && !c.Pending && c.Refused == ""
	return c, nil
}

// appliedCompliance is the device's applied-policy record, or for a
// device without one what it enrolled under.
func (s *SDK) appliedCompliance(ctx context.Context, d inventory.Device) (*Compliance, error) {
	a, err := s.Store.AppliedPolicy(ctx, d.Org, d.ID)
	if err == nil {
		return &Compliance{Policy: a.Policy, InPolicy: a.OutOfPolicy == "", OutOfPolicy: a.OutOfPolicy,
			Fingerprint: a.Fingerprint, Updated: a.Updated}, nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	if d.Platform.Apple() {
		sess, err := s.Store.DeviceEnrollSession(ctx, d.Org, d.ID)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return &Compliance{Policy: sess.Policy, InPolicy: true, Fingerprint: ota.ProfileFingerprint(sess.Requirements), Updated: d.Created}, nil
	}
	ad, err := s.Store.AndroidDevice(ctx, d.Org, d.ID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &Compliance{Policy: ad.Policy, InPolicy: true, Fingerprint: android.RequirementsFingerprint(ad.Requirements), Updated: ad.Created}, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
