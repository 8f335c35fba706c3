package declarative

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/openomm/omm/events"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/mdm"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// Errors of the service.
var (
	// ErrNotDeclarative: the device is not managed through declarations
	// (not turned on for its current enrollment); its policy goes through
	// MDM commands.
	ErrNotDeclarative = errors.New("declarative: the device is not under declarative management")
	// ErrNotFound wraps storage.ErrNotFound: no such declaration, or a
	// device that has not turned declarative management on (404).
	ErrNotFound = fmt.Errorf("declarative: %w", storage.ErrNotFound)
)

// Audit actions of the service.
const (
	// ActionEnable: DeclarativeManagement was queued to turn the channel
	// on for the device's enrollment.
	ActionEnable = "device.declarative.enable"
	// ActionUpdate: the device's declarations changed; a
	// DeclarativeManagement command with the new tokens was queued.
	ActionUpdate = "device.declarations.update"
	// ActionRecorded: what the declarations are built from changed
	// without changing them.
	ActionRecorded = "device.declarations.recorded"
	// ActionOutOfPolicy: the device is out of policy; it keeps its
	// declarations.
	ActionOutOfPolicy = "device.policy.out_of_policy"
	// ActionToken: the declarations token was renewed when the device
	// asked for it (the server's declarations changed with its software).
	ActionToken = "device.declarations.token"
)

// Change says what Apply did.
type Change string

const (
	// Unchanged: the device's declarations are already right.
	Unchanged Change = "unchanged"
	// Updated: the declarations changed; the device was told.
	Updated Change = "updated"
	// OutOfPolicy: the decision no longer admits the device; it keeps the
	// declarations it has, and the record says why.
	OutOfPolicy Change = "out_of_policy"
)

// Devices is what the service needs of the device registry;
// checkin.Inventory (an inventory.Service with its store) implements it.
type Devices interface {
	Device(ctx context.Context, org storage.OrgID, id string) (inventory.Device, error)
	DeviceValues(ctx context.Context, org storage.OrgID, id string) ([]inventory.Value, error)
	IngestDeclarative(ctx context.Context, org storage.OrgID, id string, items map[string]any) (inventory.IngestResult, error)
}

// Enrollments gives a device's MDM enrollment: its Enrolled time tells
// one enrollment from the next. enroll.EnrollmentStore implements it.
type Enrollments interface {
	Enrollment(ctx context.Context, org storage.OrgID, device string) (enroll.Enrollment, error)
}

// Source tells the service what a device's declarations are built from.
// The composition (package omm) implements it from the policy and the
// app catalog. Implementations must be safe for concurrent use.
type Source interface {
	// Decide returns the policy decision for d's user on d running
	// osVersion (policy.Set.Reevaluate).
	Decide(ctx context.Context, d inventory.Device, osVersion string) (policy.Decision, error)
	// Apps returns the catalog apps d gets as declarative managed apps.
	Apps(ctx context.Context, d inventory.Device) ([]App, error)
	// CommandProfile returns the identifier of the policy profile MDM
	// commands installed on d, or "" when none is: the declarations take
	// its place, and it is removed when they are turned on.
	CommandProfile(ctx context.Context, d inventory.Device) (string, error)
}

// AppsDecider is a Source that takes the decision and lists the apps
// from one read of the user: one directory call per report instead of
// two. The service uses it whenever it needs both.
type AppsDecider interface {
	// DecideApps returns Decide's decision and, unless it is denied,
	// Apps' apps.
	DecideApps(ctx context.Context, d inventory.Device, osVersion string) (policy.Decision, []App, error)
}

// decision is a policy decision and, when taken with it, the apps.
type decision struct {
	policy.Decision
	apps     []App
	withApps bool
}

// decide takes the decision for d running os, with the apps when the
// source can take both at once.
func (s *Service) decide(ctx context.Context, d inventory.Device, os string) (decision, error) {
	if ad, ok := s.source.(AppsDecider); ok {
		dec, apps, err := ad.DecideApps(ctx, d, os)
		return decision{Decision: dec, apps: apps, withApps: true}, err
	}
	dec, err := s.source.Decide(ctx, d, os)
	return decision{Decision: dec}, err
}

// appsOf returns the apps taken with dc, or reads them.
func (s *Service) appsOf(ctx context.Context, d inventory.Device, dc decision) ([]App, error) {
	if dc.withApps {
		return dc.apps, nil
	}
	return s.source.Apps(ctx, d)
}

// Profiles serves the signed profile of the settings that have no
// declaration (data separation). enroll/ota implements it.
type Profiles interface {
	// SettingsFingerprint identifies the profile req needs, "" when it
	// needs none; it changes exactly when the profile's content does.
	SettingsFingerprint(req policy.Requirements) string
	// SettingsProfile returns that profile, signed by org.
	SettingsProfile(ctx context.Context, org storage.OrgID, req policy.Requirements) ([]byte, error)
}

// Waker wakes devices so that they fetch their commands;
// checkin.Pusher implements it.
type Waker interface {
	Wake(ctx context.Context, org storage.OrgID, devices []string) error
}

// queuedWaker is a Waker that can wake devices for commands just queued
// without recording their push again (checkin.QueuedWaker).
type queuedWaker interface {
	WakeQueued(ctx context.Context, org storage.OrgID, devices []string) error
}

// EventKind names what happened on a device's declarative channel.
type EventKind string

// Events the service reports. The SDK has no event system yet: the hook
// (WithEvents) is where one attaches.
const (
	// EventEnabled: declarative management was turned on for the device.
	EventEnabled EventKind = "declarative.enabled"
	// EventUpdated: the device's declarations changed and it was told.
	EventUpdated EventKind = "declarations.updated"
	// EventStatus: the device reported status.
	EventStatus EventKind = "declarative.status"
	// EventCompliance: the device's compliance changed.
	EventCompliance EventKind = "compliance.changed"
)

// Event is delivered to the hook after the change is stored. Compliance is
// set for EventStatus and EventCompliance.
type Event struct {
	Kind       EventKind
	Org        storage.OrgID
	Device     string
	UserID     string
	Time       time.Time
	Compliance *Compliance
}

// Service runs declarative device management: it turns the channel on for
// devices that support it, answers their DeclarativeManagement check-ins
// (tokens, declaration items, declarations, status), keeps their
// declarations in step with their policy and apps, and recomputes their
// compliance from the status they report.
type Service struct {
	store       Store
	devices     Devices
	enrollments Enrollments
	source      Source
	profiles    Profiles
	baseURL     string
	waker       Waker
	events      func(context.Context, Event)
	clock       func() time.Time
	log         *slog.Logger
}

// Option configures [New].
type Option func(*Service)

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithClock sets the clock.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.clock = now } }

// WithWaker wakes devices after a DeclarativeManagement command is queued
// (default: they get it at their next check-in).
func WithWaker(w Waker) Option { return func(s *Service) { s.waker = w } }

// WithProfiles serves the settings profile from p at publicURL (the
// handler's public base, prefix included; see [Service.ProfileHandler]).
// Without it data separation has no declaration, and the policy profile
// MDM installed stays on the device.
func WithProfiles(p Profiles, publicURL string) Option {
	return func(s *Service) { s.profiles, s.baseURL = p, strings.TrimSuffix(publicURL, "/") }
}

// WithEvents sets the hook for the service's events.
func WithEvents(fn func(context.Context, Event)) Option { return func(s *Service) { s.events = fn } }

// New returns a service over store, the device registry, the devices'
// enrollments and the source of their declarations.
func New(store Store, devices Devices, enrollments Enrollments, source Source, opts ...Option) *Service {
	s := &Service{store: store, devices: devices, enrollments: enrollments, source: source,
		events: func(context.Context, Event) {}, clock: time.Now, log: slog.Default()}
	for _, o := range opts {
		o(s)
	}
	return s
}

// maxTries bounds the retries of a write that lost a race.
const maxTries = 5

// load reads the device's state and enrollment; on reports whether the
// channel is on for the current enrollment.
func (s *Service) load(ctx context.Context, d inventory.Device) (st State, enrolled time.Time, on bool, err error) {
	e, err := s.enrollments.Enrollment(ctx, d.Org, d.ID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return st, enrolled, false, err
	}
	st, err = s.store.DeclarativeState(ctx, d.Org, d.ID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return State{Org: d.Org, Device: d.ID}, e.Enrolled, false, nil
	case err != nil:
		return st, e.Enrolled, false, err
	}
	return st, e.Enrolled, st.On(e.Enrolled), nil
}

// osVersion is the OS version stored for the device, or "".
func (s *Service) osVersion(ctx context.Context, d inventory.Device) (string, []inventory.Value, error) {
	vals, err := s.devices.DeviceValues(ctx, d.Org, d.ID)
	if err != nil {
		return "", nil, err
	}
	return inventory.OSOf(d, vals).Version, vals, nil
}

// target is what st builds for device d.
func (s *Service) target(st State, d inventory.Device) Target {
	t := Target{Platform: d.Platform, Enrollment: EnrollmentOf(d.EnrollmentType), Ownership: d.Ownership,
		EnrollmentType: d.EnrollmentType, OSVersion: st.Inputs.OSVersion, Requirements: st.Inputs.Requirements, Apps: st.Inputs.Apps}
	if s.profiles != nil && st.ProfileSecret != "" {
		if fp := s.profiles.SettingsFingerprint(st.Inputs.Requirements); fp != "" {
			t.ProfileURL = s.baseURL + "/mdm/" + url.PathEscape(string(d.Org)) + "/declarative/" + url.PathEscape(d.ID) + "/" +
				st.ProfileSecret + "/settings.mobileconfig?v=" + url.QueryEscape(fp)
		}
	}
	return t
}

// Set returns the declarations device d has now.
func (s *Service) Set(ctx context.Context, d inventory.Device) (Set, error) {
	st, _, on, err := s.load(ctx, d)
	if err != nil {
		return Set{}, err
	}
	if !on {
		return Set{}, ErrNotDeclarative
	}
	return Build(s.target(st, d)), nil
}

// tokens is the TokensResponse of set, changed at changed.
func tokens(set Set, changed time.Time) []byte {
	b, _ := json.Marshal(TokensResponse{SyncTokens: SyncTokens{DeclarationsToken: set.Token, Timestamp: changed.UTC().Truncate(time.Second)}})
	return b
}

func (s *Service) entry(d inventory.Device, actor, action string, details map[string]string) storage.AuditEntry {
	return storage.AuditEntry{Org: d.Org, Time: s.clock(), Actor: actor, Action: action, Target: "device:" + d.ID, Details: details}
}

func (s *Service) emit(ctx context.Context, kind EventKind, d inventory.Device, c *Compliance) {
	s.events(ctx, Event{Kind: kind, Org: d.Org, Device: d.ID, UserID: d.UserID, Time: s.clock(), Compliance: c})
}

// wake wakes d after a command was queued for it: through the waker's
// WakeQueued when it has one (checkin.Outbox: the queueing recorded the
// push, and a device another replica has pushed since is not pushed
// again), its Wake otherwise.
func (s *Service) wake(ctx context.Context, d inventory.Device) {
	if s.waker == nil {
		return
	}
	wake := s.waker.Wake
	if q, ok := s.waker.(queuedWaker); ok {
		wake = q.WakeQueued
	}
	if err := wake(ctx, d.Org, []string{d.ID}); err != nil {
		s.log.WarnContext(ctx, "declarative: wake device", "org", d.Org, "device", d.ID, "err", err)
	}
}

// Inventoried is told that device d reported its inventory (its OS
// version, maybe a new one). A device the channel suits (see [Eligible])
// whose current enrollment does not have it yet gets it turned on: its
// declarations are built and a DeclarativeManagement command with their
// tokens is queued, together with the removal of the policy profile MDM
// installed, which the declarations replace; the device is woken. A
// device already on the channel is decided again (as [Service.Refresh]):
// on the OS version it reports, and on the policy, the user's groups and
// the apps as they are now, so that a decision a re-application missed
// (it failed for the device, or the directory changed unannounced) is
// repaired by the device's next report. Devices the channel does not suit
// keep the command path.
//
// current reports that the device is on the channel with declarations
// (and a compliance) decided on this report, so that a caller about to
// decide again for the device on it need not. It is false whenever the
// device stays on the command path, a decision refused it the channel
// included, and on an error.
func (s *Service) Inventoried(ctx context.Context, d inventory.Device) (current bool, err error) {
	if !d.Platform.Apple() || d.State != inventory.StateEnrolled {
		return false, nil
	}
	os, _, err := s.osVersion(ctx, d)
	if err != nil {
		return false, err
	}
	if ok, _ := Eligible(d, os); !ok {
		return false, nil
	}
	for try := 1; ; try++ {
		st, enrolled, on, err := s.load(ctx, d)
		if err != nil {
			return false, err
		}
		if enrolled.IsZero() {
			return false, nil // not enrolled through the check-in protocol
		}
		if on {
			// Decided on every report, not only when the OS version
			// changed: the state records the inputs of the declarations,
			// not whether the policy or the user's groups changed since.
			// The state and OS version just read are the decision's.
			_, err = s.applyLoaded(ctx, d, st, os, "device:"+d.Identifier, func(os string) (decision, error) {
				return s.decide(ctx, d, os)
			})
			return err == nil, err
		}
		on, err = s.enable(ctx, d, st, enrolled, os)
		if errors.Is(err, storage.ErrConflict) && try < maxTries {
			continue
		}
		return on && err == nil, err
	}
}

// enable turns the channel on for the enrollment that started at
// enrolled; on is false when the decision keeps the device on the command
// path.
func (s *Service) enable(ctx context.Context, d inventory.Device, st State, enrolled time.Time, os string) (on bool, err error) {
	dec, err := s.decide(ctx, d, os)
	if err != nil {
		return false, fmt.Errorf("declarative: decide for %s: %w", d.ID, err)
	}
	if dec.Outcome == policy.Denied {
		s.log.InfoContext(ctx, "declarative: device out of policy, keeps the command path", "org", d.Org, "device", d.ID,
			"reason", policy.OutOfPolicyReason(dec.Decision))
		return false, nil
	}
	apps, err := s.appsOf(ctx, d, dec)
	if err != nil {
		return false, err
	}
	old, err := s.source.CommandProfile(ctx, d)
	if err != nil {
		return false, err
	}
	now := s.clock()
	next := State{
		Org: d.Org, Device: d.ID, Enrollment: enrolled, Enabled: now,
		Inputs:        Inputs{Policy: dec.Policy, Requirements: dec.Requirements, Apps: apps, OSVersion: os},
		ProfileSecret: st.ProfileSecret,
		Version:       st.Version, StatusVersion: st.StatusVersion, // a state of an earlier enrollment is replaced
	}
	if next.ProfileSecret == "" {
		next.ProfileSecret = strings.ToLower(rand.Text())
	}
	set := Build(s.target(next, d))
	next.Token, next.TokenChanged = set.Token, now
	cmd := mdm.DeclarativeManagementCommand(tokens(set, now))
	cmds := []mdm.Command{cmd}
	if old != "" && s.profiles != nil {
		// The declarations (passcode, and the settings profile) replace
		// the profile enrollment installed.
		cmds = append(cmds, mdm.RemoveProfile(old))
	}
	queued, err := encode(cmds)
	if err != nil {
		return false, err
	}
	if _, err := s.store.SaveDeclarativeState(ctx, next, queued, s.entry(d, "device:"+d.Identifier, ActionEnable, map[string]string{
		"os_version": os, "policy": string(dec.Policy), "declarations": fmt.Sprint(len(set.Declarations)), "token": set.Token,
		"uuid": cmd.UUID,
	})); err != nil {
		return false, err
	}
	s.log.InfoContext(ctx, "declarative: channel turned on", "org", d.Org, "device", d.ID, "os_version", os,
		"declarations", len(set.Declarations))
	s.wake(ctx, d)
	s.emit(ctx, EventEnabled, d, nil)
	return true, nil
}

func encode(cmds []mdm.Command) ([]enroll.Command, error) {
	out := make([]enroll.Command, len(cmds))
	for i, c := range cmds {
		b, err := c.Encode()
		if err != nil {
			return nil, err
		}
		out[i] = enroll.Command{UUID: c.UUID, RequestType: c.RequestType, Body: b}
	}
	return out, nil
}

// Apply brings device d's declarations to the policy decision dec (of its
// user on it, see policy.Set.Reevaluate), on behalf of actor. When the
// declarations change, the state, a DeclarativeManagement command with
// the new tokens and the audit entry are one transaction, and the device
// is woken: one push. A decision that changes nothing the declarations
// hold sends nothing. A device out of policy keeps its declarations and
// is recorded so. A device not on the channel is ErrNotDeclarative.
func (s *Service) Apply(ctx context.Context, d inventory.Device, dec policy.Decision, actor string) (Change, error) {
	return s.applyWith(ctx, d, actor, func(string) (decision, error) { return decision{Decision: dec}, nil })
}

// Refresh is [Service.Apply] with the decision taken now from the source:
// for a change the source knows of (the user's apps, the device's OS
// version).
func (s *Service) Refresh(ctx context.Context, d inventory.Device, actor string) (Change, error) {
	return s.applyWith(ctx, d, actor, func(os string) (decision, error) { return s.decide(ctx, d, os) })
}

func (s *Service) applyWith(ctx context.Context, d inventory.Device, actor string, decide func(os string) (decision, error)) (Change, error) {
	if !d.Platform.Apple() || d.State != inventory.StateEnrolled {
		return "", ErrNotDeclarative
	}
	// Devices on the command path cost one look-up, not a decision.
	st, _, on, err := s.load(ctx, d)
	if err != nil {
		return "", err
	}
	if !on {
		return "", ErrNotDeclarative
	}
	os, _, err := s.osVersion(ctx, d)
	if err != nil {
		return "", err
	}
	return s.applyLoaded(ctx, d, st, os, actor, decide)
}

// applyLoaded is applyWith for a device on the channel whose state st and
// OS version os the caller has just read; a conflicting write reads the
// state again.
func (s *Service) applyLoaded(ctx context.Context, d inventory.Device, st State, os, actor string, decide func(os string) (decision, error)) (Change, error) {
	dec, err := decide(os)
	if err != nil {
		return "", err
	}
	for try := 1; ; try++ {
		if try > 1 {
			var on bool
			if st, _, on, err = s.load(ctx, d); err != nil {
				return "", err
			}
			if !on {
				return "", ErrNotDeclarative
			}
		}
		c, err := s.apply(ctx, d, st, dec, os, actor)
		if errors.Is(err, storage.ErrConflict) && try < maxTries {
			continue
		}
		return c, err
	}
}

func (s *Service) apply(ctx context.Context, d inventory.Device, st State, dec decision, os, actor string) (Change, error) {
	next := st
	if dec.Outcome == policy.Denied {
		next.Inputs.OutOfPolicy = policy.OutOfPolicyReason(dec.Decision)
		if next.Inputs.OutOfPolicy == st.Inputs.OutOfPolicy {
			return OutOfPolicy, nil
		}
		e := s.entry(d, actor, ActionOutOfPolicy, map[string]string{"policy": string(dec.Policy), "reason": next.Inputs.OutOfPolicy,
			"in_policy": "false"})
		e.Event = events.ComplianceChanged
		if _, err := s.store.SaveDeclarativeState(ctx, next, nil, e); err != nil {
			return "", err
		}
		s.log.WarnContext(ctx, "declarative: device is out of policy; it keeps its declarations",
			"org", d.Org, "device", d.ID, "user", d.UserID, "reason", next.Inputs.OutOfPolicy)
		return OutOfPolicy, nil
	}
	apps, err := s.appsOf(ctx, d, dec)
	if err != nil {
		return "", err
	}
	if os == "" {
		os = st.Inputs.OSVersion
	}
	next.Inputs = Inputs{Policy: dec.Policy, Requirements: dec.Requirements, Apps: apps, OSVersion: os}
	set := Build(s.target(next, d))
	if set.Token == st.Token {
		if reflect.DeepEqual(normalInputs(next.Inputs), normalInputs(st.Inputs)) {
			return Unchanged, nil
		}
		_, err := s.store.SaveDeclarativeState(ctx, next, nil, s.entry(d, actor, ActionRecorded,
			map[string]string{"policy": string(dec.Policy), "os_version": os}))
		return Unchanged, err
	}
	now := s.clock()
	next.Token, next.TokenChanged = set.Token, now
	cmd := mdm.DeclarativeManagementCommand(tokens(set, now))
	queued, err := encode([]mdm.Command{cmd})
	if err != nil {
		return "", err
	}
	e := s.entry(d, actor, ActionUpdate, map[string]string{
		"policy": string(dec.Policy), "token": set.Token, "declarations": fmt.Sprint(len(set.Declarations)), "uuid": cmd.UUID,
	})
	e.Event = events.PolicyApplied
	if _, err := s.store.SaveDeclarativeState(ctx, next, queued, e); err != nil {
		return "", err
	}
	s.log.InfoContext(ctx, "declarative: declarations changed", "org", d.Org, "device", d.ID, "token", set.Token)
	s.wake(ctx, d)
	s.emit(ctx, EventUpdated, d, nil)
	return Updated, nil
}

// normalInputs makes empty and nil app lists compare equal.
func normalInputs(in Inputs) Inputs {
	if len(in.Apps) == 0 {
		in.Apps = nil
	}
	return in
}

// DeclarativeManagement answers one DeclarativeManagement check-in message
// of device d (whose identity the check-in service verified): the tokens,
// the declaration items or one declaration as JSON, or nothing after a
// status report. A device whose current enrollment does not have the
// channel on, and a declaration it does not have, are ErrNotFound; a
// malformed message ErrMalformed.
func (s *Service) DeclarativeManagement(ctx context.Context, d inventory.Device, endpoint string, data []byte) ([]byte, error) {
	ep, err := ParseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	st, _, on, err := s.load(ctx, d)
	if err != nil {
		return nil, err
	}
	if !on {
		return nil, fmt.Errorf("%w: device %s has not turned declarative management on", ErrNotFound, d.ID)
	}
	set := Build(s.target(st, d))
	switch ep.Name {
	case EndpointTokens:
		changed := st.TokenChanged
		if set.Token != st.Token {
			changed = s.renewToken(ctx, d, st, set)
		}
		return tokens(set, changed), nil
	case EndpointItems:
		return json.Marshal(set.Items())
	case EndpointStatus:
		return nil, s.status(ctx, d, st, set, data)
	}
	decl, ok := set.Find(ep.Kind, ep.Identifier)
	if !ok {
		return nil, fmt.Errorf("%w: no %s %q for device %s", ErrNotFound, ep.Kind, truncate(ep.Identifier, MaxIdentifier), d.ID)
	}
	return decl.JSON()
}

// renewToken records a token the stored one no longer matches (the
// declarations' generation changed with the server's software) and
// returns its time; a failure is logged and the token answered all the
// same, as it is computed from the declarations.
func (s *Service) renewToken(ctx context.Context, d inventory.Device, st State, set Set) time.Time {
	now := s.clock()
	next := st
	next.Token, next.TokenChanged = set.Token, now
	if _, err := s.store.SaveDeclarativeState(ctx, next, nil, s.entry(d, "device:"+d.Identifier, ActionToken,
		map[string]string{"token": set.Token})); err != nil {
		s.log.WarnContext(ctx, "declarative: record renewed token", "device", d.ID, "err", err)
	}
	return now
}

// status takes a status report: its items go to the inventory through the
// privacy filter, its declarations' states are stored, and the device's
// compliance is recomputed (an event when it changed). A new OS version
// rebuilds the declarations.
func (s *Service) status(ctx context.Context, d inventory.Device, st State, set Set, data []byte) error {
	r, err := ParseStatus(data)
	if err != nil {
		return err
	}
	_, before, err := s.osVersion(ctx, d)
	if err != nil {
		return err
	}
	prev := Evaluate(st, set, before, s.clock())
	if len(r.Items) > 0 {
		res, err := s.devices.IngestDeclarative(ctx, d.Org, d.ID, r.Items)
		switch {
		case errors.Is(err, inventory.ErrNoInventory):
		case err != nil:
			return err
		case res.Dropped.Total() > 0 || r.Unknown > 0:
			s.log.InfoContext(ctx, "declarative: status items outside the privacy contract dropped", "org", d.Org,
				"device", d.ID, "dropped", res.Dropped.Total(), "outside_schema", r.Unknown, "forbidden_keys", res.Dropped.ForbiddenKeys)
		}
	}
	if len(r.Errors) > 0 {
		s.log.InfoContext(ctx, "declarative: device could not report status items", "device", d.ID, "items", r.Errors)
	}
	os, after, err := s.osVersion(ctx, d)
	if err != nil {
		return err
	}
	// The report's declaration states are stored with the compliance
	// they make; a report of other items that changes the compliance (a
	// passcode, a new OS version) stores the known states again, so that
	// the change's event is written with a change of its own.
	c := Evaluate(st, set, after, s.clock())
	if r.Declarations != nil || changed(c, prev) {
		if st, c, err = s.saveStatus(ctx, d, st, set, r.Declarations, prev, after); err != nil {
			return err
		}
	}
	s.emit(ctx, EventStatus, d, &c)
	if changed(c, prev) {
		s.log.InfoContext(ctx, "declarative: compliance changed", "org", d.Org, "device", d.ID, "from", prev.State, "to", c.State)
		s.emit(ctx, EventCompliance, d, &c)
	}
	// A device out of policy is decided again (as in Inventoried): the
	// version it now reports may be one its policy permits.
	if os != "" && (os != st.Inputs.OSVersion || st.Inputs.OutOfPolicy != "") {
		if _, err := s.Refresh(ctx, d, "device:"+d.Identifier); err != nil && !errors.Is(err, ErrNotDeclarative) {
			s.log.WarnContext(ctx, "declarative: rebuild declarations for a new OS version", "device", d.ID, "err", err)
		}
	}
	return nil
}

// saveStatus merges reported declaration states into the stored ones
// (the device's latest word on each of the set's declarations; states of
// declarations the device no longer has are dropped), retrying when a
// concurrent write won. It returns the state as stored and the compliance
// it makes; when that differs from prev, its event (events.ComplianceChanged)
// is written with the status.
func (s *Service) saveStatus(ctx context.Context, d inventory.Device, st State, set Set, reported []DeclarationStatus,
	prev Compliance, values []inventory.Value) (State, Compliance, error) {
	for try := 1; ; try++ {
		now := s.clock()
		next := st
		next.Status = Status{Declarations: mergeStatus(st.Status.Declarations, reported, set), Reported: now}
		c := Evaluate(next, set, values, now)
		var evs []events.Event
		if changed(c, prev) {
			reason := string(c.State)
			if len(c.Reasons) > 0 {
				reason += ": " + strings.Join(c.Reasons, "; ")
			}
			evs = append(evs, events.Compliance(d.Org, d.ID, "device:"+d.Identifier, c.State == Compliant, reason, now))
		}
		saved, err := s.store.SaveDeclarativeStatus(ctx, d.Org, d.ID, next.Status, st.StatusVersion, evs...)
		if errors.Is(err, storage.ErrConflict) && try < maxTries {
			if st, err = s.store.DeclarativeState(ctx, d.Org, d.ID); err != nil {
				return st, c, err
			}
			continue
		}
		return saved, c, err
	}
}

// changed reports whether compliance c differs from prev for people: its
// state or its reasons.
func changed(c, prev Compliance) bool {
	return c.State != prev.State || !equalStrings(c.Reasons, prev.Reasons)
}

func mergeStatus(stored, reported []DeclarationStatus, set Set) []DeclarationStatus {
	byKey := map[string]DeclarationStatus{}
	for _, d := range stored {
		byKey[string(d.Kind)+"/"+d.Identifier] = d
	}
	for _, d := range reported {
		byKey[string(d.Kind)+"/"+d.Identifier] = d
	}
	out := []DeclarationStatus{}
	for _, decl := range set.Declarations {
		if d, ok := byKey[string(decl.Type.Kind())+"/"+decl.Identifier]; ok {
			out = append(out, d)
		}
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Channel says how a device is managed, for people (the console).
type Channel struct {
	// Declarative is set when the device is managed through declarations.
	Declarative bool `json:"declarative"`
	// Reason says why, or why not.
	Reason string `json:"reason"`
	// Enabled is when the channel was turned on.
	Enabled time.Time `json:"enabled,omitzero"`
	// Token is the declarations token the device was last told.
	Token string `json:"token,omitempty"`
	// Compliance is the compliance recomputed from the device's status;
	// nil on the command path.
	Compliance *Compliance `json:"compliance,omitempty"`
}

// Channel returns how device d is managed and, on the declarative
// channel, its compliance.
func (s *Service) Channel(ctx context.Context, d inventory.Device) (Channel, error) {
	os, vals, err := s.osVersion(ctx, d)
	if err != nil {
		return Channel{}, err
	}
	eligible, why := Eligible(d, os)
	if !d.Platform.Apple() {
		return Channel{Reason: why}, nil
	}
	st, _, on, err := s.load(ctx, d)
	if err != nil {
		return Channel{}, err
	}
	if !on {
		if eligible {
			why = "commands: declarative management is not turned on for this enrollment yet"
		}
		return Channel{Reason: why}, nil
	}
	c := Evaluate(st, Build(s.target(st, d)), vals, s.clock())
	return Channel{Declarative: true, Reason: why, Enabled: st.Enabled, Token: st.Token, Compliance: &c}, nil
}

// SettingsProfile returns the signed settings profile of a device's
// declarations: the device's secret must match, and fingerprint must be
// the current profile's (an older one is gone: the device learns the new
// URL with its declarations). Anything else is ErrNotFound.
func (s *Service) SettingsProfile(ctx context.Context, org storage.OrgID, device, secret, fingerprint string) ([]byte, error) {
	if s.profiles == nil || len(device) > MaxDeviceID || len(secret) > maxSecretLen {
		return nil, ErrNotFound
	}
	st, err := s.store.DeclarativeState(ctx, org, device)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if st.Enabled.IsZero() || st.ProfileSecret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(st.ProfileSecret)) != 1 {
		return nil, ErrNotFound
	}
	if want := s.profiles.SettingsFingerprint(st.Inputs.Requirements); want == "" || want != fingerprint {
		return nil, ErrNotFound
	}
	d, err := s.devices.Device(ctx, org, device)
	if err != nil {
		return nil, err
	}
	if d.State.Terminal() {
		return nil, ErrNotFound
	}
	return s.profiles.SettingsProfile(ctx, org, st.Inputs.Requirements)
}
