package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/openomm/omm/events"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/mdm"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

// Errors of the service, besides the storage sentinels.
var (
	// ErrUnsupportedChannel: installs of this kind of app on this device
	// are not available yet (Android installs come with the android
	// package's AMAPI channel).
	ErrUnsupportedChannel = errors.New("installing on this channel is not supported yet")
	// ErrWrongState: the app's state on the device does not allow the
	// request (installing what is installed, removing what is not). It
	// comes wrapped together with storage.ErrConflict.
	ErrWrongState = errors.New("not possible in the app's current state")
	// ErrNotManaged: the device is not enrolled (yet, or any more). It
	// comes wrapped together with storage.ErrConflict.
	ErrNotManaged = errors.New("device is not under management")
	// ErrIncomplete: an assignment change was stored, but some devices
	// could not be synchronized; they catch up at their next
	// synchronization. The joined causes follow it.
	ErrIncomplete = errors.New("change stored, some devices not synchronized")
)

// Directory is what the catalog asks the org's directory: a user's
// groups, a group's members, and the user's attributes that configuration
// placeholders resolve from. It is a subset of auth.Directory, so the
// directory the rest of the SDK uses serves here unchanged.
type Directory interface {
	// User returns the user, or an error wrapping storage.ErrNotFound.
	User(ctx context.Context, org storage.OrgID, id string) (auth.User, error)
	// Groups returns the user's groups; an unknown user yields an error
	// wrapping storage.ErrNotFound.
	Groups(ctx context.Context, org storage.OrgID, userID string) ([]auth.Group, error)
	// GroupMembers returns the IDs of the group's members; an unknown
	// group yields an error wrapping storage.ErrNotFound.
	GroupMembers(ctx context.Context, org storage.OrgID, groupID string) ([]string, error)
}

// Devices is the part of the inventory device registry the catalog reads;
// an inventory.Store satisfies it. Device IDs are inventory device IDs.
type Devices interface {
	// Device returns the device, or an error wrapping storage.ErrNotFound.
	Device(ctx context.Context, org storage.OrgID, id string) (inventory.Device, error)
	// DeviceApps returns the apps the device last reported; an unknown
	// device yields storage.ErrNotFound.
	DeviceApps(ctx context.Context, org storage.OrgID, id string) ([]inventory.App, error)
	// ListDevices returns a page of the org's devices (of one user when
	// q.UserID is set).
	ListDevices(ctx context.Context, org storage.OrgID, q inventory.DeviceQuery) (inventory.DevicePage, error)
}

// Commands queues MDM commands for Apple devices, as
// enroll.CommandQueue.EnqueueCommand does. A UUID queued before yields storage.ErrAlreadyExists and
// queues nothing.
type Commands interface {
	EnqueueCommand(ctx context.Context, org storage.OrgID, devices []string, cmd enroll.Command, entry storage.AuditEntry) error
}

// Nudger asks devices to contact the server soon (an APNs push, an
// Android notification). A failed nudge loses nothing: the device finds
// its commands at its next regular check-in, so the service logs it and
// carries on.
type Nudger interface {
	Nudge(ctx context.Context, org storage.OrgID, devices []string) error
}

// Service runs the app store: the admin's catalog and assignments, each
// user's store view, installs and removals through the device channel,
// and the state changes the devices' answers bring.
type Service struct {
	store   Store
	devices Devices
	dir     Directory
	nudger  Nudger
	groups  func(ctx context.Context, org storage.OrgID, group string) error
	log     *slog.Logger
	clock   func() time.Time
}

// Option configures [New].
type Option func(*Service)

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.clock = now } }

// WithNudger sets what nudges devices after commands are queued or
// assignments change; without one, devices learn at their next check-in.
func WithNudger(n Nudger) Option { return func(s *Service) { s.nudger = n } }

// WithGroupCheck makes [Service.Assign] refuse a group that check does
// not find in the org: its error (wrapping storage.ErrNotFound for an
// unknown group) is returned and nothing is stored. Without it a group is
// an opaque name, as an embedder's directory may know groups the catalog
// cannot list; with it, an assignment never names another org's group.
func WithGroupCheck(check func(ctx context.Context, org storage.OrgID, group string) error) Option {
	return func(s *Service) { s.groups = check }
}

// New returns a service keeping the catalog (and queueing Apple commands)
// in store, reading devices and their reported apps from devices and
// people from dir.
func New(store Store, devices Devices, dir Directory, opts ...Option) *Service {
	s := &Service{store: store, devices: devices, dir: dir, log: slog.Default(), clock: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *Service) entry(org storage.OrgID, actor, action, target string, details map[string]string) storage.AuditEntry {
	return storage.AuditEntry{Org: org, Time: s.clock(), Actor: actor, Action: action, Target: target, Details: details}
}

// appIdentifier is the bundle ID or package name of app id, or "" when it
// is gone (an event then names the app by ID only).
func (s *Service) appIdentifier(ctx context.Context, org storage.OrgID, id string) string {
	a, err := s.store.App(ctx, org, id)
	if err != nil {
		return ""
	}
	return a.Identifier
}

// queueEntry is the audit entry of queueing an MDM command, which emits
// the command's event.
func (s *Service) queueEntry(org storage.OrgID, actor, target string, details map[string]string) storage.AuditEntry {
	e := s.entry(org, actor, ActionCommandQueue, target, details)
	e.Event = events.CommandQueued
	return e
}

// CreateApp adds a to the catalog, audited as [ActionAppCreate]. An
// empty ID gets a fresh one.
func (s *Service) CreateApp(ctx context.Context, a App, actor string) (App, error) {
	if a.ID == "" {
		a.ID = NewAppID()
	}
	return s.store.CreateApp(ctx, a, s.entry(a.Org, actor, ActionAppCreate, "app:"+a.ID,
		map[string]string{"kind": string(a.Kind), "identifier": a.Identifier}))
}

// App returns the app, or ErrNotFound.
func (s *Service) App(ctx context.Context, org storage.OrgID, id string) (App, error) {
	return s.store.App(ctx, org, id)
}

// ListApps returns the org's catalog ordered by name.
func (s *Service) ListApps(ctx context.Context, org storage.OrgID) ([]App, error) {
	return s.store.ListApps(ctx, org)
}

// UpdateApp replaces the app's fields (see [Store.UpdateApp] and
// [CheckUpdate]: same identifier, in-house bundle version never lower).
// Devices pick up a new in-house build when their user installs the
// update the store view offers.
func (s *Service) UpdateApp(ctx context.Context, a App, actor string) (App, error) {
	d := map[string]string{"identifier": a.Identifier}
	if a.BundleVersion != "" {
		d["bundle_version"] = a.BundleVersion
	}
	return s.store.UpdateApp(ctx, a, s.entry(a.Org, actor, ActionAppUpdate, "app:"+a.ID, d))
}

// DeleteApp removes an app that is no longer assigned to any group.
func (s *Service) DeleteApp(ctx context.Context, org storage.OrgID, id string, version int64, actor string) error {
	return s.store.DeleteApp(ctx, org, id, version, s.entry(org, actor, ActionAppDelete, "app:"+id, nil))
}

// ListAssignments returns the app's assignments ordered by group.
func (s *Service) ListAssignments(ctx context.Context, org storage.OrgID, appID string) ([]Assignment, error) {
	if _, err := s.store.App(ctx, org, appID); err != nil {
		return nil, err
	}
	return s.store.ListAssignments(ctx, org, appID)
}

// Assign assigns an app to a group. The app appears in every member's
// store at once (views are computed from assignments); the members'
// enrolled devices are synchronized (an AutoInstall or TakeOver
// assignment queues the install) and nudged. When reaching some device
// fails, the assignment is stored and returned all the same, with an
// error wrapping ErrIncomplete.
func (s *Service) Assign(ctx context.Context, a Assignment, actor string) (Assignment, error) {
	if s.groups != nil {
		if err := s.groups(ctx, a.Org, a.Group); err != nil {
			return Assignment{}, fmt.Errorf("assign app %q: group %q: %w", a.AppID, a.Group, err)
		}
	}
	a, err := s.store.CreateAssignment(ctx, a, s.entry(a.Org, actor, ActionAssignmentCreate, "app:"+a.AppID,
		map[string]string{"group": a.Group, "mode": string(a.Mode)}))
	if err != nil {
		return Assignment{}, err
	}
	return a, s.syncGroup(ctx, a.Org, a.Group, actor)
}

// UpdateAssignment changes an assignment's mode and synchronizes the
// group's devices like [Service.Assign].
func (s *Service) UpdateAssignment(ctx context.Context, a Assignment, actor string) (Assignment, error) {
	a, err := s.store.UpdateAssignment(ctx, a, s.entry(a.Org, actor, ActionAssignmentUpdate, "app:"+a.AppID,
		map[string]string{"group": a.Group, "mode": string(a.Mode)}))
	if err != nil {
		return Assignment{}, err
	}
	return a, s.syncGroup(ctx, a.Org, a.Group, actor)
}

// SetAssignment assigns an app to a group in mode: a new assignment, or
// a change of mode when the app is assigned to the group already (as
// [Service.UpdateAssignment], at the version it finds). Assigning again
// in the same mode changes nothing. A concurrent change of the same
// assignment is retried once, then reported (ErrConflict).
func (s *Service) SetAssignment(ctx context.Context, a Assignment, actor string) (Assignment, error) {
	got, err := s.Assign(ctx, a, actor)
	for try := 0; errors.Is(err, storage.ErrAlreadyExists) && try < 2; try++ {
		var cur []Assignment
		if cur, err = s.ListAssignments(ctx, a.Org, a.AppID); err != nil {
			return Assignment{}, err
		}
		i := slices.IndexFunc(cur, func(x Assignment) bool { return x.Group == a.Group })
		if i < 0 { // removed meanwhile: assign afresh
			got, err = s.Assign(ctx, a, actor)
			continue
		}
		if cur[i].Mode == a.Mode {
			return cur[i], nil
		}
		next := cur[i]
		next.Mode = a.Mode
		got, err = s.UpdateAssignment(ctx, next, actor)
		if !errors.Is(err, storage.ErrConflict) {
			return got, err
		}
		err = storage.ErrAlreadyExists // read it again
	}
	if errors.Is(err, storage.ErrAlreadyExists) {
		err = fmt.Errorf("assign app %q: the assignment changed concurrently: %w", a.AppID, storage.ErrConflict)
	}
	return got, err
}

// Unassign removes an app's assignment to a group. On every member device
// where no other assignment keeps the app, its managed copy is removed.
func (s *Service) Unassign(ctx context.Context, org storage.OrgID, appID, group, actor string) error {
	_, err := s.store.DeleteAssignment(ctx, org, appID, group, s.entry(org, actor, ActionAssignmentDelete, "app:"+appID,
		map[string]string{"group": group}))
	if err != nil {
		return err
	}
	return s.syncGroup(ctx, org, group, actor)
}

// syncGroup synchronizes and nudges the enrolled devices of the group's
// members.
func (s *Service) syncGroup(ctx context.Context, org storage.OrgID, group, actor string) error {
	members, err := s.dir.GroupMembers(ctx, org, group)
	if errors.Is(err, storage.ErrNotFound) { // an unknown group has no members to synchronize
		return nil
	}
	if err != nil {
		return fmt.Errorf("catalog: members of group %q: %w", group, err)
	}
	var errs []error
	var nudge []string
	for _, u := range members {
		devs, err := s.userDevices(ctx, org, u)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, d := range devs {
			if _, err := s.syncDevice(ctx, d, actor); err != nil {
				errs = append(errs, err)
			}
			nudge = append(nudge, d.ID)
		}
	}
	s.nudge(ctx, org, nudge)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrIncomplete, err)
	}
	return nil
}

// userDevices returns the user's enrolled devices.
func (s *Service) userDevices(ctx context.Context, org storage.OrgID, userID string) ([]inventory.Device, error) {
	var out []inventory.Device
	q := inventory.DeviceQuery{UserID: userID, Limit: inventory.MaxDevicePage}
	for {
		p, err := s.devices.ListDevices(ctx, org, q)
		if err != nil {
			return nil, fmt.Errorf("catalog: devices of user %q: %w", userID, err)
		}
		for _, d := range p.Devices {
			if d.State == inventory.StateEnrolled && d.UserID == userID {
				out = append(out, d)
			}
		}
		if p.Next == "" {
			return out, nil
		}
		q.After = p.Next
	}
}

func (s *Service) nudge(ctx context.Context, org storage.OrgID, devices []string) {
	if s.nudger == nil || len(devices) == 0 {
		return
	}
	slices.Sort(devices)
	devices = slices.Compact(devices)
	if err := s.nudger.Nudge(ctx, org, devices); err != nil {
		s.log.WarnContext(ctx, "catalog: nudge failed; devices will learn at their next check-in", "org", org, "devices", len(devices), "err", err)
	}
}

// deviceState is what the store view of one device is computed from.
type deviceState struct {
	device   inventory.Device
	reported map[string]inventory.App // by identifier
	installs map[string]Install       // by app ID
}

func (s *Service) loadDevice(ctx context.Context, d inventory.Device) (deviceState, error) {
	apps, err := s.devices.DeviceApps(ctx, d.Org, d.ID)
	if err != nil {
		return deviceState{}, fmt.Errorf("catalog: apps of device %q: %w", d.ID, err)
	}
	recs, err := s.store.DeviceInstalls(ctx, d.Org, d.ID)
	if err != nil {
		return deviceState{}, err
	}
	ds := deviceState{device: d, reported: make(map[string]inventory.App, len(apps)), installs: make(map[string]Install, len(recs))}
	for _, a := range apps {
		ds.reported[a.Identifier] = a
	}
	for _, r := range recs {
		ds.installs[r.AppID] = r
	}
	return ds, nil
}

func (ds deviceState) item(app App, mode Mode) Item {
	rep, present := ds.reported[app.Identifier]
	var rec *Install
	if r, ok := ds.installs[app.ID]; ok {
		rec = &r
	}
	return derive(Item{App: app, Mode: mode}, reported{rep, present}, rec, ds.device.LastInventory, ds.device)
}

// userDevice loads the device if it is the user's; another user's device
// is ErrNotFound, as if it did not exist.
func (s *Service) userDevice(ctx context.Context, org storage.OrgID, userID, deviceID string) (deviceState, error) {
	d, err := s.devices.Device(ctx, org, deviceID)
	if err != nil {
		return deviceState{}, err
	}
	if d.UserID != userID {
		return deviceState{}, fmt.Errorf("device %q: %w", deviceID, storage.ErrNotFound)
	}
	return s.loadDevice(ctx, d)
}

// assignedTo returns the apps in the user's store on a device of platform p.
func (s *Service) assignedTo(ctx context.Context, org storage.OrgID, userID string, p inventory.Platform) ([]AssignedApp, error) {
	groups, err := s.dir.Groups(ctx, org, userID)
	if err != nil {
		return nil, fmt.Errorf("catalog: groups of user %q: %w", userID, err)
	}
	ids := make([]string, len(groups))
	for i, g := range groups {
		ids[i] = g.ID
	}
	all, err := s.store.AssignedApps(ctx, org, ids)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, aa := range all {
		if aa.App.Kind.RunsOn(p) {
			out = append(out, aa)
		}
	}
	return out, nil
}

// View returns the user's store on one of their devices: every app
// assigned to any of the user's groups that runs on the device, with its
// state there. The state is derived from the apps the device last
// reported (inventory) and the server's latest request for the app on the
// device; see [State] for the meanings. On a device not under management
// the store is closed (View.Closed says why) and Install and Uninstall
// refuse with ErrNotManaged. A device of another user is ErrNotFound.
func (s *Service) View(ctx context.Context, org storage.OrgID, userID, deviceID string) (View, error) {
	ds, err := s.userDevice(ctx, org, userID, deviceID)
	if err != nil {
		return View{}, err
	}
	assigned, err := s.assignedTo(ctx, org, userID, ds.device.Platform)
	if err != nil {
		return View{}, err
	}
	v := View{Device: ds.device, Items: make([]Item, len(assigned)), Closed: Closed(ds.device.State)}
	for i, aa := range assigned {
		v.Items[i] = ds.item(aa.App, aa.Mode())
	}
	return v, nil
}

// storeItem finds app appID in the user's store on the device.
func (s *Service) storeItem(ctx context.Context, org storage.OrgID, userID, deviceID, appID string) (deviceState, Item, error) {
	ds, err := s.userDevice(ctx, org, userID, deviceID)
	if err != nil {
		return deviceState{}, Item{}, err
	}
	assigned, err := s.assignedTo(ctx, org, userID, ds.device.Platform)
	if err != nil {
		return deviceState{}, Item{}, err
	}
	for _, aa := range assigned {
		if aa.App.ID == appID {
			return ds, ds.item(aa.App, aa.Mode()), nil
		}
	}
	return deviceState{}, Item{}, fmt.Errorf("app %q is not in this user's store for this device: %w", appID, storage.ErrNotFound)
}

func wrongState(it Item, what string) error {
	return fmt.Errorf("%w: cannot %s %q while it is %s: %w", ErrWrongState, what, it.App.Name, it.State, storage.ErrConflict)
}

func checkChannel(d inventory.Device, a App) error {
	if d.State != inventory.StateEnrolled {
		return fmt.Errorf("%w: device %q is %s: %w", ErrNotManaged, d.ID, d.State, storage.ErrConflict)
	}
	if a.Kind.Family() != "apple" || !d.Platform.Apple() {
		return fmt.Errorf("%s app %q on %s device: %w", a.Kind, a.Identifier, d.Platform, ErrUnsupportedChannel)
	}
	return nil
}

// Install installs an app from the user's store on their device: a fresh
// install when it is Available (or Failed or UserRejected before), a
// take-over of the user's own copy when the view offers one, an update
// when the view says one is available. It queues InstallApplication
// (removed on unenrollment and kept out of backups unless the app says
// otherwise, with the managed configuration resolved for the user),
// nudges the device, and returns the item as it now stands (Installing).
// Android apps yield ErrUnsupportedChannel.
func (s *Service) Install(ctx context.Context, org storage.OrgID, userID, deviceID, appID string) (Item, error) {
	ds, it, err := s.storeItem(ctx, org, userID, deviceID, appID)
	if err != nil {
		return Item{}, err
	}
	if err := checkChannel(ds.device, it.App); err != nil {
		return Item{}, err
	}
	takeOver := false
	switch it.State {
	case StateAvailable, StateFailed, StateUserRejected:
	case StateUnmanaged:
		if !it.TakeOver {
			return Item{}, fmt.Errorf("%w: remove the copy of %q installed on the device first: %w", ErrWrongState, it.App.Name, storage.ErrConflict)
		}
		takeOver = true
	case StateInstalled:
		if !it.UpdateAvailable {
			return Item{}, wrongState(it, "install")
		}
	default:
		return Item{}, wrongState(it, "install")
	}
	if err := s.queueInstall(ctx, ds, it.App, takeOver, "user:"+userID); err != nil {
		return Item{}, err
	}
	s.nudge(ctx, org, []string{deviceID})
	it.State, it.Reason, it.UpdateAvailable, it.Advice, it.TakeOver = StateInstalling, "", false, "", false
	return it, nil
}

// Uninstall removes a managed app the user installed (or was given) from
// their device: it queues RemoveApplication, which removes the app and its
// data, and nudges the device. Once the device confirms, the store shows
// the app Available again.
func (s *Service) Uninstall(ctx context.Context, org storage.OrgID, userID, deviceID, appID string) (Item, error) {
	ds, it, err := s.storeItem(ctx, org, userID, deviceID, appID)
	if err != nil {
		return Item{}, err
	}
	if err := checkChannel(ds.device, it.App); err != nil {
		return Item{}, err
	}
	if it.State != StateInstalled {
		return Item{}, wrongState(it, "uninstall")
	}
	if err := s.queueRemove(ctx, ds, it.App, "user:"+userID, "user"); err != nil {
		return Item{}, err
	}
	s.nudge(ctx, org, []string{deviceID})
	it.State, it.UpdateAvailable = StateRemoving, false
	return it, nil
}

// managementFlags returns the InstallApplication flags for a: remove on
// unenrollment and no backups unless the app relaxes them.
func managementFlags(a App) int {
	f := 0
	if !a.KeepOnUnenroll {
		f |= mdm.RemoveAppOnUnenroll
	}
	if !a.AllowBackup {
		f |= mdm.PreventAppDataBackup
	}
	return f
}

// queueInstall records and queues an install of a on the device.
func (s *Service) queueInstall(ctx context.Context, ds deviceState, a App, takeOver bool, actor string) error {
	r, err := s.installRequest(ctx, ds, a, takeOver, actor)
	if err != nil {
		return err
	}
	return s.queue(ctx, r)
}

// installRequest is the request that installs a on the device.
func (s *Service) installRequest(ctx context.Context, ds deviceState, a App, takeOver bool, actor string) (request, error) {
	d := ds.device
	u, err := s.dir.User(ctx, d.Org, d.UserID)
	if err != nil {
		return request{}, fmt.Errorf("catalog: user %q: %w", d.UserID, err)
	}
	cfg, err := ResolveConfig(a.Config, u)
	if err != nil {
		return request{}, fmt.Errorf("app %q: %w", a.Name, err)
	}
	ma := mdm.App{Identifier: a.Identifier, ManagementFlags: managementFlags(a), Configuration: cfg}
	if a.Kind == AppStore {
		ma.ITunesStoreID = int(a.StoreID)
	} else {
		ma.ManifestURL = a.ManifestURL
	}
	if takeOver {
		ma.ChangeManagementState = "Managed"
	}
	cmd, err := mdm.InstallApplication(ma)
	if err != nil {
		return request{}, fmt.Errorf("catalog: %w", err)
	}
	rec := Install{Org: d.Org, Device: d.ID, AppID: a.ID, Command: cmd.UUID, Progress: Queued, TakeOver: takeOver, BundleVersion: a.BundleVersion}
	action := ActionInstallRequest
	if takeOver {
		action = ActionInstallTakeOver
	}
	return s.request(ds, rec, cmd, actor, action, a)
}

// queueRemove records and queues the removal of a from the device.
func (s *Service) queueRemove(ctx context.Context, ds deviceState, a App, actor, why string) error {
	cmd := mdm.RemoveApplication(a.Identifier)
	rec := Install{Org: ds.device.Org, Device: ds.device.ID, AppID: a.ID, Command: cmd.UUID, Progress: Removing}
	return s.send(ctx, ds, rec, cmd, actor, ActionInstallRemove, a, "why", why)
}

// send stores rec and queues cmd in one transaction (see [InstallQueuer]).
func (s *Service) send(ctx context.Context, ds deviceState, rec Install, cmd mdm.Command, actor, action string, a App, extra ...string) error {
	r, err := s.request(ds, rec, cmd, actor, action, a, extra...)
	if err != nil {
		return err
	}
	return s.queue(ctx, r)
}

// request is one request for an app on a device: its record, the command
// that carries it and their audit entries.
type request struct {
	rec           Install
	prev          string // the command of the request it replaces
	cmd           enroll.Command
	entry, qentry storage.AuditEntry
}

// request encodes cmd and audits the request rec for app a.
func (s *Service) request(ds deviceState, rec Install, cmd mdm.Command, actor, action string, a App, extra ...string) (request, error) {
	body, err := cmd.Encode()
	if err != nil {
		return request{}, fmt.Errorf("catalog: encode %s: %w", cmd.RequestType, err)
	}
	details := map[string]string{"app": a.ID, "identifier": a.Identifier, "command": cmd.UUID}
	for i := 0; i+1 < len(extra); i += 2 {
		details[extra[i]] = extra[i+1]
	}
	org, dev := ds.device.Org, ds.device.ID
	return request{
		rec: rec, prev: ds.installs[a.ID].Command,
		cmd:    enroll.Command{UUID: cmd.UUID, RequestType: cmd.RequestType, Body: body},
		entry:  s.entry(org, actor, action, "device:"+dev, details),
		qentry: s.queueEntry(org, actor, "device:"+dev, map[string]string{"request_type": cmd.RequestType, "command": cmd.UUID, "app": a.ID}),
	}, nil
}

// queue stores r's record and queues its command in one transaction.
func (s *Service) queue(ctx context.Context, r request) error {
	_, err := s.store.QueueInstall(ctx, r.rec, r.prev, r.cmd, r.entry, r.qentry)
	return err
}

// InstallOutcome records a device's answer to an InstallApplication or
// RemoveApplication command this service queued; the check-in service's
// result router calls it. A command the catalog did not queue (or one a
// later request replaced) yields an error wrapping storage.ErrNotFound,
// which the router may ignore. Replayed answers are harmless.
//
// How an answer maps: Pending and NotNow change nothing (the command is
// still to run). Acknowledged moves an install to Accepted, a removal to
// Removed, and queues a ManagedApplicationList so that the device's own
// report of the app follows at once — an acknowledged install is not yet
// an installed app (the device may still prompt or download), and the
// store view shows Installed only when the device reports it. Error,
// CommandFormatError and Abandoned mark it Failed with detail as the
// reason, except that an install error whose detail says the user
// declined (Apple's UserRejected or ManagementRejected state, or an error
// chain saying "declined", "rejected by the user", "cancelled by the
// user") becomes Rejected, shown as UserRejected. Most refusals arrive
// instead as a UserRejected status in the managed app list, which the view
// reads directly.
func (s *Service) InstallOutcome(ctx context.Context, org storage.OrgID, device, commandUUID string, status enroll.CommandStatus, detail string) error {
	var final Progress
	switch status {
	case enroll.StatusPending, enroll.StatusNotNow:
		return nil
	case enroll.StatusAcknowledged:
		final = Accepted
	case enroll.StatusError, enroll.StatusFormatError, enroll.StatusAbandoned:
		final = Failed
	default:
		return fmt.Errorf("%w: unknown command status %q", storage.ErrInvalid, status)
	}
	recs, err := s.store.DeviceInstalls(ctx, org, device)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(recs, func(r Install) bool { return r.Command == commandUUID })
	if i < 0 {
		return fmt.Errorf("catalog: command %q for device %q: %w", commandUUID, device, storage.ErrNotFound)
	}
	rec := recs[i]
	if !rec.Progress.Open() {
		return nil // answered before
	}
	reason := ""
	switch {
	case rec.Progress == Removing && final == Accepted:
		final = Removed
	case final == Failed:
		reason = cleanReason(detail)
		if reason == "" {
			reason = "the device reported " + string(status)
		}
		if rec.Progress == Queued && declined(detail) {
			final = Rejected
		}
	}
	d := map[string]string{"app": rec.AppID, "command": commandUUID, "status": string(status)}
	if reason != "" {
		d["reason"] = reason
	}
	d["identifier"] = s.appIdentifier(ctx, org, rec.AppID)
	entry := s.entry(org, "device:"+device, ActionInstallPrefix+string(final), "device:"+device, d)
	entry.Event = map[Progress]events.Kind{Accepted: events.AppInstalled, Removed: events.AppRemoved, Rejected: events.AppRejected}[final]
	if _, err := s.store.FinishInstall(ctx, org, device, commandUUID, final, reason, entry); err != nil {
		return err
	}
	if status == enroll.StatusAcknowledged {
		cmd := mdm.ManagedApplicationList()
		body, err := cmd.Encode()
		if err == nil {
			err = s.store.EnqueueCommand(ctx, org, []string{device}, enroll.Command{UUID: cmd.UUID, RequestType: cmd.RequestType, Body: body},
				s.queueEntry(org, "system", "device:"+device, map[string]string{"request_type": cmd.RequestType, "command": cmd.UUID}))
		}
		if err != nil { // the next scheduled inventory brings the same news
			s.log.WarnContext(ctx, "catalog: could not queue a managed app list refresh", "org", org, "device", device, "err", err)
		}
	}
	return nil
}

// declined reports whether a device's error detail says the user refused.
func declined(detail string) bool {
	d := strings.ToLower(detail)
	for _, m := range []string{"userrejected", "managementrejected", "user rejected", "rejected by the user", "declined", "cancelled by the user", "canceled by the user"} {
		if strings.Contains(d, m) {
			return true
		}
	}
	return false
}

// cleanReason makes device-supplied text storable: valid UTF-8, control
// characters other than newline and tab replaced, at most MaxReasonLen
// characters.
func cleanReason(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > MaxReasonLen {
		s = string(r[:MaxReasonLen])
	}
	return s
}

// SyncResult says what a synchronization queued.
type SyncResult struct {
	// Installed and Removed are the IDs of the apps whose install (or
	// take-over) and removal were queued.
	Installed []string
	Removed   []string
}

// SyncDevice brings an enrolled device in line with its user's
// assignments and nudges it when it queued anything. Call it when a device
// completes enrollment (install at enrollment; or, in the completion's
// transaction, [Service.EnrollmentInstalls]) and when the user's group
// memberships change (a user who leaves a group loses its apps).
//
//   - Apps assigned AutoInstall or TakeOver that were never requested on
//     the device are installed when Available; an unmanaged copy is taken
//     over when the assignment says TakeOver and the device supports it,
//     otherwise left alone and flagged in the view. An app is installed
//     automatically once per device: one the user removed or declined
//     stays Available.
//   - Catalog apps the device holds as managed (installed or installing)
//     that are no longer assigned to the user are removed.
//
// Devices that are not enrolled, and Android devices (whose installs come
// with the android channel), are left alone. Failures for single apps do
// not stop the others; they are returned joined.
func (s *Service) SyncDevice(ctx context.Context, org storage.OrgID, deviceID, actor string) (SyncResult, error) {
	d, err := s.devices.Device(ctx, org, deviceID)
	if err != nil {
		return SyncResult{}, err
	}
	res, err := s.syncDevice(ctx, d, actor)
	if len(res.Installed)+len(res.Removed) > 0 {
		s.nudge(ctx, org, []string{deviceID})
	}
	return res, err
}

// SyncUser synchronizes every enrolled device of the user (see
// [Service.SyncDevice]).
func (s *Service) SyncUser(ctx context.Context, org storage.OrgID, userID, actor string) error {
	devs, err := s.userDevices(ctx, org, userID)
	if err != nil {
		return err
	}
	var errs []error
	var nudge []string
	for _, d := range devs {
		res, err := s.syncDevice(ctx, d, actor)
		errs = append(errs, err)
		if len(res.Installed)+len(res.Removed) > 0 {
			nudge = append(nudge, d.ID)
		}
	}
	s.nudge(ctx, org, nudge)
	return errors.Join(errs...)
}

// autoInstall is an app to install automatically on a device.
type autoInstall struct {
	app      App
	takeOver bool
}

// autoInstalls are the assigned apps a synchronization installs on the
// device: those assigned to install automatically (or to take over) that
// the device was never sent and does not hold, or holds unmanaged where
// the assignment takes it over.
func (ds deviceState) autoInstalls(assigned []AssignedApp) []autoInstall {
	var out []autoInstall
	for _, aa := range assigned {
		mode := aa.Mode()
		if mode == Available {
			continue
		}
		if _, requested := ds.installs[aa.App.ID]; requested {
			continue
		}
		it := ds.item(aa.App, mode)
		if it.State != StateAvailable && !(it.State == StateUnmanaged && it.TakeOver) {
			continue
		}
		out = append(out, autoInstall{aa.App, it.State == StateUnmanaged})
	}
	return out
}

// EnrollmentInstalls returns the installs [Service.SyncDevice] would queue
// on d, an Apple device about to complete its enrollment (d as it will be
// stored: enrolled), without storing anything: the commands with their
// queue entries, and the install records with their request entries, for
// the transaction that completes the enrollment (enroll.DeviceAction's
// Commands and Installs). Once that transaction committed, the device is
// as after SyncDevice. Devices SyncDevice leaves alone get nothing.
func (s *Service) EnrollmentInstalls(ctx context.Context, d inventory.Device, actor string) ([]enroll.ActionCommand, []enroll.AppInstall, error) {
	if d.State != inventory.StateEnrolled || !d.Platform.Apple() {
		return nil, nil, nil
	}
	ds, err := s.loadDevice(ctx, d)
	if err != nil {
		return nil, nil, err
	}
	assigned, err := s.assignedTo(ctx, d.Org, d.UserID, d.Platform)
	if err != nil {
		return nil, nil, err
	}
	var cmds []enroll.ActionCommand
	var ins []enroll.AppInstall
	for _, ai := range ds.autoInstalls(assigned) {
		r, err := s.installRequest(ctx, ds, ai.app, ai.takeOver, actor)
		if err != nil {
			return nil, nil, fmt.Errorf("install %q on %q: %w", ai.app.Name, d.ID, err)
		}
		cmds = append(cmds, enroll.ActionCommand{Command: r.cmd, Entry: r.qentry})
		ins = append(ins, enroll.AppInstall{AppID: r.rec.AppID, Command: r.rec.Command, TakeOver: r.rec.TakeOver,
			BundleVersion: r.rec.BundleVersion, Entry: r.entry})
	}
	return cmds, ins, nil
}

func (s *Service) syncDevice(ctx context.Context, d inventory.Device, actor string) (SyncResult, error) {
	var res SyncResult
	if d.State != inventory.StateEnrolled || !d.Platform.Apple() {
		return res, nil
	}
	ds, err := s.loadDevice(ctx, d)
	if err != nil {
		return res, err
	}
	assigned, err := s.assignedTo(ctx, d.Org, d.UserID, d.Platform)
	if err != nil {
		return res, err
	}
	var errs []error
	keep := make(map[string]bool, len(assigned))
	for _, aa := range assigned {
		keep[aa.App.ID] = true
	}
	for _, ai := range ds.autoInstalls(assigned) {
		err := s.queueInstall(ctx, ds, ai.app, ai.takeOver, actor)
		switch {
		case err == nil:
			res.Installed = append(res.Installed, ai.app.ID)
		case !errors.Is(err, storage.ErrConflict): // a conflict: a concurrent sync did it
			errs = append(errs, fmt.Errorf("install %q on %q: %w", ai.app.Name, d.ID, err))
		}
	}
	for appID := range ds.installs {
		if keep[appID] {
			continue
		}
		a, err := s.store.App(ctx, d.Org, appID)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if st := ds.item(a, Available).State; st != StateInstalled && st != StateInstalling {
			continue
		}
		err = s.queueRemove(ctx, ds, a, actor, "unassigned")
		switch {
		case err == nil:
			res.Removed = append(res.Removed, a.ID)
		case !errors.Is(err, storage.ErrConflict):
			errs = append(errs, fmt.Errorf("remove %q from %q: %w", a.Name, d.ID, err))
		}
	}
	slices.Sort(res.Installed)
	slices.Sort(res.Removed)
	return res, errors.Join(errs...)
}

// Deprovision removes every managed app from an Apple device, and nothing
// else: the apps the device reports as managed, and catalog apps whose
// install is still under way. Apps the user installed themselves are
// never touched. It returns the bundle IDs it queued removals for, sorted,
// and nudges the device. It does not check the device's state, so that it
// can run while the device is being deprovisioned. Android devices yield
// ErrUnsupportedChannel: removing the work profile removes their apps.
func (s *Service) Deprovision(ctx context.Context, org storage.OrgID, deviceID, actor string) ([]string, error) {
	d, err := s.devices.Device(ctx, org, deviceID)
	if err != nil {
		return nil, err
	}
	if !d.Platform.Apple() {
		return nil, fmt.Errorf("deprovision apps of %s device %q: %w", d.Platform, d.ID, ErrUnsupportedChannel)
	}
	ds, err := s.loadDevice(ctx, d)
	if err != nil {
		return nil, err
	}
	apps, err := s.store.ListApps(ctx, org)
	if err != nil {
		return nil, err
	}
	catalogApp := map[string]App{}
	for _, a := range apps {
		if a.Kind.Family() == "apple" {
			catalogApp[a.Identifier] = a
		}
	}
	targets := map[string]bool{}
	for id, r := range ds.reported {
		if r.Managed {
			targets[id] = true
		}
	}
	for _, a := range apps {
		if rec, ok := ds.installs[a.ID]; ok && a.Kind.Family() == "apple" {
			if st := ds.item(a, Available).State; st == StateInstalling || st == StateInstalled || rec.Progress == Queued {
				targets[a.Identifier] = true
			}
		}
	}
	var removed []string
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(targets)) {
		var err error
		if a, ok := catalogApp[id]; ok {
			if ds.installs[a.ID].Progress == Removing {
				removed = append(removed, id) // already on its way out
				continue
			}
			err = s.queueRemove(ctx, ds, a, actor, "deprovision")
		} else {
			err = s.queueForeignRemove(ctx, d, id, actor)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("remove %q from %q: %w", id, d.ID, err))
			continue
		}
		removed = append(removed, id)
	}
	s.nudge(ctx, org, []string{deviceID})
	return removed, errors.Join(errs...)
}

// queueForeignRemove removes a managed app the catalog does not know (one
// deleted from the catalog, say); there is no record to keep.
func (s *Service) queueForeignRemove(ctx context.Context, d inventory.Device, identifier, actor string) error {
	cmd := mdm.RemoveApplication(identifier)
	body, err := cmd.Encode()
	if err != nil {
		return err
	}
	return s.store.EnqueueCommand(ctx, d.Org, []string{d.ID}, enroll.Command{UUID: cmd.UUID, RequestType: cmd.RequestType, Body: body},
		s.queueEntry(d.Org, actor, "device:"+d.ID, map[string]string{"request_type": cmd.RequestType, "command": cmd.UUID, "identifier": identifier, "why": "deprovision"}))
}
