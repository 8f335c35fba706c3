package inventory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/openomm/omm/events"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/enroll/mdm"
	"github.com/openomm/omm/storage"
)

// DefaultRefreshInterval is how often a device's inventory is refreshed.
const DefaultRefreshInterval = 24 * time.Hour

// Directory is the part of the org's directory (auth.Directory) the
// inventory reads: a user's phone number, the only place it takes one
// from. Implementations must be safe for concurrent use.
type Directory interface {
	// User returns the user, or an error wrapping storage.ErrNotFound.
	User(ctx context.Context, org storage.OrgID, id string) (auth.User, error)
}

// Service runs the device registry: registration and state changes
// (audited), ingest of device reports through the privacy filter, the
// refresh schedule, and the user-facing report.
type Service struct {
	store    Store
	filter   *Filter
	dir      Directory
	log      *slog.Logger
	clock    func() time.Time
	interval time.Duration
}

// Option configures [New].
type Option func(*Service)

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.clock = now } }

// WithDirectory sets the directory the phone number is read from; without
// one no phone number is stored.
func WithDirectory(d Directory) Option { return func(s *Service) { s.dir = d } }

// WithRefreshInterval sets how old an inventory may get before the device
// is due for a refresh (default DefaultRefreshInterval).
func WithRefreshInterval(d time.Duration) Option {
	return func(s *Service) {
		if d > 0 {
			s.interval = d
		}
	}
}

// WithMaxReportSize sets the largest report accepted, in bytes (default
// DefaultMaxReportSize).
func WithMaxReportSize(n int) Option { return func(s *Service) { s.filter = NewFilter(n) } }

// New returns a service keeping devices in store.
func New(store Store, opts ...Option) *Service {
	s := &Service{store: store, filter: NewFilter(0), log: slog.Default(), clock: time.Now, interval: DefaultRefreshInterval}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Register stores a new device record for an enrollment, audited as
// [ActionDeviceRegister] by actor. An empty ID gets a fresh one; an empty State
// is pending.
func (s *Service) Register(ctx context.Context, d Device, actor string) (Device, error) {
	if d.ID == "" {
		d.ID = NewDeviceID()
	}
	if d.State == "" {
		d.State = StatePending
	}
	return s.store.CreateDevice(ctx, d, RegisterEntry(d, actor, s.clock()))
}

// RegisterEntry is the audit entry of d's registration by actor at at, as
// Service.Register writes it: for a store method that registers a device
// in a transaction of its own (an Android enrollment with its token).
func RegisterEntry(d Device, actor string, at time.Time) storage.AuditEntry {
	return storage.AuditEntry{
		Org: d.Org, Time: at, Actor: actor, Action: ActionDeviceRegister, Target: "device:" + d.ID,
		Details: map[string]string{
			"platform": string(d.Platform), "ownership": string(d.Ownership),
			"enrollment_type": string(d.EnrollmentType), "state": string(d.State),
		},
	}
}

// SetState moves a device to state to, audited as "device.state.<to>" by
// actor with the given reason. See [Store.UpdateDeviceState] for the rules.
func (s *Service) SetState(ctx context.Context, org storage.OrgID, id string, to State, actor, reason string) (Device, error) {
	e := storage.AuditEntry{
		Org: org, Time: s.clock(), Actor: actor, Action: ActionDeviceStatePrefix + string(to), Target: "device:" + id,
		Details: map[string]string{"state": string(to)}, Event: events.ForState(string(to)),
	}
	if reason != "" {
		e.Details["reason"] = reason
	}
	return s.store.UpdateDeviceState(ctx, org, id, to, e)
}

// Seen records that the device made contact now (a check-in).
func (s *Service) Seen(ctx context.Context, org storage.OrgID, id string) error {
	return s.store.TouchDevice(ctx, org, id, s.clock())
}

// DueForRefresh returns up to limit enrolled devices of org whose inventory
// is older than the refresh interval, the longest-waiting first.
func (s *Service) DueForRefresh(ctx context.Context, org storage.OrgID, limit int) ([]Device, error) {
	return s.store.DevicesDueForRefresh(ctx, org, s.clock().Add(-s.interval), limit)
}

// IngestResult says what an ingest stored and what the filter dropped.
type IngestResult struct {
	Command string
	// Values is the number of attribute values stored; Apps the size of
	// the app list stored, or -1 when the report left it alone.
	Values  int
	Apps    int
	Dropped Dropped
	Device  Device
}

// IngestApple filters an Apple MDM command result from device id and
// stores what the contract allows, reading the result by the device's
// platform and the OS version it reported (see [Filter.Apple]). Reports
// naming another device, or an Apple result for an Android device, yield
// ErrInvalid; see [Filter.Apple] for ErrReport and ErrNoInventory. The
// directory phone number is refreshed with every DeviceInformation result
// when a PhoneBook is set.
func (s *Service) IngestApple(ctx context.Context, org storage.OrgID, id string, result []byte) (IngestResult, error) {
	res, err := s.filter.parseApple(result)
	if err != nil {
		return IngestResult{}, fmt.Errorf("ingest for device %q: %w", id, err)
	}
	d, err := s.store.Device(ctx, org, id)
	if err != nil {
		return IngestResult{}, err
	}
	return s.ingestApple(ctx, d, res, nil)
}

// IngestAppleDevice is [Service.IngestApple] for device d as its caller
// has just read it from the store (the MDM check-in has, to authenticate
// the device), which saves reading it again: d only needs to be recent,
// since a record changed since is read again before the result is stored.
func (s *Service) IngestAppleDevice(ctx context.Context, d Device, result []byte) (IngestResult, error) {
	return s.IngestAppleDeviceWith(ctx, d, result, nil)
}

// Saver stores update u, computed by an ingest for device d as read, in
// place of [Store.SaveInventory](ctx, d.Org, d.ID, d.Version, u): a store
// method that stores it with other changes in one transaction (the MDM
// check-in stores an inventory query's answer with it). command is what
// the result answers ([AppleDeviceInformation], …). It returns the device
// after the update, or saved false when it stored nothing by choice. An
// error wrapping storage.ErrConflict makes the ingest read the device
// again and call it again.
type Saver func(ctx context.Context, command string, d Device, u Update) (stored Device, saved bool, err error)

// IngestAppleDeviceWith is [Service.IngestAppleDevice] with save storing
// the update (nil: [Store.SaveInventory]). When save stores nothing by
// choice, the ingest returns an IngestResult with only Command set (and
// Apps -1), and logs nothing.
func (s *Service) IngestAppleDeviceWith(ctx context.Context, d Device, result []byte, save Saver) (IngestResult, error) {
	res, err := s.filter.parseApple(result)
	if err != nil {
		return IngestResult{}, fmt.Errorf("ingest for device %q: %w", d.ID, err)
	}
	return s.ingestApple(ctx, d, res, save)
}

// IngestAppleDecodedWith is [Service.IngestAppleDeviceWith] for a result
// its caller has already decoded (enroll/mdm's ParseResult): the report's
// size and nesting limits are checked against what was measured while
// decoding it, and it is not decoded again.
func (s *Service) IngestAppleDecodedWith(ctx context.Context, d Device, result *mdm.Decoded, save Saver) (IngestResult, error) {
	res, err := s.filter.appleDecoded(result)
	if err != nil {
		return IngestResult{}, fmt.Errorf("ingest for device %q: %w", d.ID, err)
	}
	return s.ingestApple(ctx, d, res, save)
}

// ingestApple reads the parsed result res by d's platform and OS version
// and stores it with save (nil: the store's SaveInventory).
func (s *Service) ingestApple(ctx context.Context, d Device, res map[string]any, save Saver) (IngestResult, error) {
	org, id := d.Org, d.ID
	os := OS{Platform: d.Platform}
	if s.filter.appleNeedsVersion(res) {
		vals, err := s.store.DeviceValues(ctx, org, id)
		if err != nil {
			return IngestResult{}, err
		}
		os = OSOf(d, vals)
	}
	o, err := s.filter.appleObservation(res, s.clock(), os)
	if err != nil {
		return IngestResult{}, fmt.Errorf("ingest for device %q: %w", id, err)
	}
	return s.ingest(ctx, org, d, o, o.Command == string(AppleDeviceInformation), save)
}

// IngestAndroid filters an Android status report (see [Filter.Android])
// from device id and stores what the contract allows, with the directory
// phone number when a PhoneBook is set. The app list is replaced by the
// reported one; apps count as the organization's only on work-profile and
// fully managed devices.
func (s *Service) IngestAndroid(ctx context.Context, org storage.OrgID, id string, report []byte) (IngestResult, error) {
	d, err := s.store.Device(ctx, org, id)
	if err != nil {
		return IngestResult{}, err
	}
	managed := d.EnrollmentType == EnrollAndroidWorkProfile || d.EnrollmentType == EnrollAndroidFullyManaged
	o, err := s.filter.Android(report, s.clock(), managed)
	if err != nil {
		return IngestResult{}, fmt.Errorf("ingest for device %q: %w", id, err)
	}
	return s.ingest(ctx, org, d, o, true, nil)
}

// maxMergeAttempts bounds the re-read-and-retry loop of an ingest that
// merges with stored apps and meets a concurrent change.
const maxMergeAttempts = 5

// ingest stores o for device d, as read just before, with save (nil: the
// store's SaveInventory); a concurrent change makes it read the device
// again.
func (s *Service) ingest(ctx context.Context, org storage.OrgID, d Device, o Observation, withPhone bool, save Saver) (IngestResult, error) {
	if save == nil {
		save = func(ctx context.Context, _ string, d Device, u Update) (Device, bool, error) {
			d, err := s.store.SaveInventory(ctx, d.Org, d.ID, d.Version, u)
			return d, err == nil, err
		}
	}
	res := IngestResult{Command: o.Command, Apps: -1}
	id := d.ID
	var phone *Value
	removePhone, looked := false, false
	for attempt := 1; ; attempt++ {
		var err error
		if attempt > 1 {
			if d, err = s.store.Device(ctx, org, id); err != nil {
				return res, err
			}
		}
		if err := checkSender(d, o); err != nil {
			return res, err
		}
		if d.State.Terminal() {
			return res, fmt.Errorf("ingest for device %q: device is %s: %w", id, d.State, storage.ErrConflict)
		}
		if withPhone && s.dir != nil && !looked {
			phone, removePhone = s.phoneNumber(ctx, d)
			looked = true
		}
		dropped := o.Dropped
		u := Update{Values: visible(d, o.Values, &dropped), At: o.At}
		if phone != nil {
			u.Values = append(append([]Value(nil), u.Values...), *phone)
		}
		if removePhone {
			u.Remove = []Key{KeyPhoneNumber}
		}
		if o.Installed != nil || o.Managed != nil || len(o.Unmanaged) > 0 {
			apps := o.Installed
			if o.Command != "android" {
				if apps, err = s.store.DeviceApps(ctx, org, id); err != nil {
					return res, err
				}
				if o.Installed != nil {
					apps = mergeInstalled(apps, o.Installed, &dropped)
				}
				switch {
				case o.ManagedPartial:
					apps = mergeDeclarativeApps(apps, o.Managed, o.Unmanaged)
				case o.Managed != nil:
					apps = mergeManaged(apps, o.Managed)
				}
			}
			u.ReplaceApps, u.Apps = true, apps
		}
		stored, saved, err := save(ctx, o.Command, d, u)
		if errors.Is(err, storage.ErrConflict) && attempt < maxMergeAttempts {
			continue // changed since read: merge again with what is stored now
		}
		if err != nil {
			return res, fmt.Errorf("ingest for device %q: %w", id, err)
		}
		if !saved {
			return res, nil
		}
		d = stored
		res.Values, res.Dropped, res.Device = len(u.Values), dropped, d
		if u.ReplaceApps {
			res.Apps = len(u.Apps)
		}
		if dropped.Total() > 0 {
			s.logDropped(ctx, org, id, o.Command, dropped)
		}
		return res, nil
	}
}

// logDropped logs what the filter dropped: counts and schema key names
// only, never a reported value.
func (s *Service) logDropped(ctx context.Context, org storage.OrgID, id, command string, dropped Dropped) {
	s.log.InfoContext(ctx, "inventory: dropped reported data outside the privacy contract",
		"org", org, "device", id, "command", command,
		"forbidden", dropped.Forbidden, "unknown", dropped.Unknown,
		"malformed", dropped.Malformed, "details", dropped.Details,
		"forbidden_keys", dropped.ForbiddenKeys)
}

// visible keeps the values the organization may see on d; the others are
// dropped as forbidden, by attribute name.
func visible(d Device, vals []Value, dropped *Dropped) []Value {
	out := vals[:0:0]
	for _, v := range vals {
		if a, ok := attributeFor(v.Key); ok && !a.VisibleOn(d) {
			dropped.forbidden(string(v.Key))
			continue
		}
		out = append(out, v)
	}
	return out
}

// checkSender refuses a report whose platform or identifier is not the
// device's: the caller routed a result to the wrong record.
func checkSender(d Device, o Observation) error {
	android := o.Command == "android"
	if android != (d.Platform == PlatformAndroid) {
		return fmt.Errorf("%w: a %s report for %s device %q", storage.ErrInvalid, o.Command, d.Platform, d.ID)
	}
	if o.Identifier != "" && o.Identifier != d.Identifier {
		return fmt.Errorf("%w: report names another device than %q", storage.ErrInvalid, d.ID)
	}
	return nil
}

// phoneNumber reads the user's phone number from the directory. A failing
// directory does not block the device's own report: the stored number is
// left as it is and the failure logged.
func (s *Service) phoneNumber(ctx context.Context, d Device) (*Value, bool) {
	u, err := s.dir.User(ctx, d.Org, d.UserID)
	n := u.Phone
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, true
	case err != nil:
		s.log.WarnContext(ctx, "inventory: directory phone number unavailable", "org", d.Org, "device", d.ID, "err", err)
		return nil, false
	case n == "":
		return nil, true
	}
	v := Value{Key: KeyPhoneNumber, Value: n, Source: SourceDirectory, Collected: s.clock()}
	if err := v.Validate(); err != nil {
		s.log.WarnContext(ctx, "inventory: directory phone number refused", "org", d.Org, "device", d.ID, "err", err)
		return nil, false
	}
	return &v, false
}
