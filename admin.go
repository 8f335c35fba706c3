package omm

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/enroll/declarative"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// The Go admin API: what an administrator does, with names where people
// read, and every change audited with its actor ("admin:alice").

// DeviceSummary is a device as a list shows it: who has it and what it is
// called, not only IDs.
type DeviceSummary struct {
	inventory.Device
	// Name and Model are what the device reported (privacy-filtered).
	Name  string
	Model string
	// User is the device's user as the directory knows them (zero when
	// the directory no longer does).
	User auth.User
}

// Label is what people call the device: its reported name, else its
// model, else its kind and when it was added ("iPhone added 2026-03-14"):
// never an opaque ID. A deprovisioned device's inventory is erased, so
// it is known by the last.
func (d DeviceSummary) Label() string {
	switch {
	case d.Name != "":
		return d.Name
	case d.Model != "":
		return d.Model
	}
	return PlatformName(d.Platform) + " added " + d.Created.UTC().Format(time.DateOnly)
}

// PlatformName is the kind of device in words: "iPhone", "iPad", "Mac",
// "Android phone".
func PlatformName(p inventory.Platform) string {
	switch p {
	case inventory.PlatformIOS:
		return "iPhone"
	case inventory.PlatformIPadOS:
		return "iPad"
	case inventory.PlatformMacOS:
		return "Mac"
	case inventory.PlatformAndroid:
		return "Android phone"
	}
	return string(p) + " device"
}

// DevicePage is one page of devices.
type DevicePage struct {
	Devices []DeviceSummary
	// Next is the cursor of the following page, "" on the last.
	Next string
}

// Devices lists a page of the org's devices (of one user when q.UserID is
// set), each with its name, model and user.
func (s *SDK) Devices(ctx context.Context, org storage.OrgID, q inventory.DeviceQuery) (DevicePage, error) {
	page, err := s.Store.ListDevices(ctx, org, q)
	if err != nil {
		return DevicePage{}, err
	}
	out := DevicePage{Devices: make([]DeviceSummary, len(page.Devices)), Next: page.Next}
	users := map[string]auth.User{}
	for i, d := range page.Devices {
		sum, err := s.summary(ctx, d, users)
		if err != nil {
			return DevicePage{}, err
		}
		out.Devices[i] = sum
	}
	return out, nil
}

// Summary is d with its name, model and user, as lists show it.
func (s *SDK) Summary(ctx context.Context, d inventory.Device) (DeviceSummary, error) {
	return s.summary(ctx, d, map[string]auth.User{})
}

func (s *SDK) summary(ctx context.Context, d inventory.Device, users map[string]auth.User) (DeviceSummary, error) {
	sum := DeviceSummary{Device: d}
	vals, err := s.Store.DeviceValues(ctx, d.Org, d.ID)
	if err != nil {
		return sum, err
	}
	for _, v := range vals {
		switch v.Key {
		case inventory.KeyDeviceName:
			sum.Name = v.Value
		case inventory.KeyModelName:
			sum.Model = v.Value
		}
	}
	u, ok := users[d.UserID]
	if !ok && d.UserID != "" {
		u, err = s.Directory.User(ctx, d.Org, d.UserID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return sum, err
		}
		users[d.UserID] = u
	}
	sum.User = u
	return sum, nil
}

// DeviceDetail is everything an administrator sees of one device.
type DeviceDetail struct {
	DeviceSummary
	// Values are the inventory as stored (privacy-filtered at ingest).
	Values []inventory.Value
	Apps   []inventory.App
	// Commands are the latest commands, newest first.
	Commands []DeviceCommand
	// Compliance is nil when the device is not enrolled.
	Compliance *Compliance
	// Channel says whether an Apple device is managed through
	// declarations or commands, and why; nil for Android devices.
	Channel *declarative.Channel
	// Actions are the device actions and whether each applies now.
	Actions []ActionChoice
}

// catalogNames maps the identifiers of the org's catalog apps to their
// names: a managed app the device reported without a name (Apple's
// managed-app list carries none) is shown by the name the organization
// gave it.
func (s *SDK) catalogNames(ctx context.Context, org storage.OrgID) (map[string]string, error) {
	apps, err := s.Catalog.ListApps(ctx, org)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(apps))
	for _, a := range apps {
		names[a.Identifier] = a.Name
	}
	return names, nil
}

// Device returns one of the org's devices with its inventory, commands
// and compliance; another org's is storage.ErrNotFound.
func (s *SDK) Device(ctx context.Context, org storage.OrgID, id string) (DeviceDetail, error) {
	d, err := s.OrgDevice(ctx, org, id)
	if err != nil {
		return DeviceDetail{}, err
	}
	var dd DeviceDetail
	if dd.DeviceSummary, err = s.summary(ctx, d, map[string]auth.User{}); err != nil {
		return DeviceDetail{}, err
	}
	if dd.Values, err = s.Store.DeviceValues(ctx, org, d.ID); err != nil {
		return DeviceDetail{}, err
	}
	if dd.Apps, err = s.Store.DeviceApps(ctx, org, d.ID); err != nil {
		return DeviceDetail{}, err
	}
	names, err := s.catalogNames(ctx, org)
	if err != nil {
		return DeviceDetail{}, err
	}
	for i, a := range dd.Apps {
		if a.Managed && a.Name == "" {
			dd.Apps[i].Name = names[a.Identifier]
		}
	}
	if dd.Actions, err = s.DeviceActions(ctx, d); err != nil {
		return DeviceDetail{}, err
	}
	if dd.Commands, err = s.Commands(ctx, d); err != nil {
		return DeviceDetail{}, err
	}
	if dd.Compliance, err = s.Compliance(ctx, d); err != nil {
		return DeviceDetail{}, err
	}
	if dd.Channel, err = s.Channel(ctx, d); err != nil {
		return DeviceDetail{}, err
	}
	return dd, nil
}

// DeviceAction does action to one of the org's devices on behalf of
// actor (see [SDK.Act]).
func (s *SDK) DeviceAction(ctx context.Context, org storage.OrgID, id string, action Action, actor string) error {
	d, err := s.OrgDevice(ctx, org, id)
	if err != nil {
		return err
	}
	return s.Act(ctx, d, action, actor)
}

// RefreshAll queues an inventory query (DeviceInformation) to every
// enrolled Apple device of org as one fan-out, audited once as actor, and
// returns how many devices it queued for. The devices are recorded in the
// push outbox with the command; this replica starts pushing them in the
// background as it returns, and the outbox drain of [SDK.Run] on every
// replica shares the rest (every second): a replica that dies right after
// this returns, or mid-way through its pushes, loses none of them.
func (s *SDK) RefreshAll(ctx context.Context, org storage.OrgID, actor string) (int, error) {
	var all []inventory.Device
	q := inventory.DeviceQuery{Limit: inventory.MaxDevicePage}
	for {
		page, err := s.Store.ListDevices(ctx, org, q)
		if err != nil {
			return 0, err
		}
		all = append(all, page.Devices...)
		if page.Next == "" {
			break
		}
		q.After = page.Next
	}
	queued, err := s.MDM.RefreshAll(ctx, org, all, actor)
	if len(queued) > 0 && s.push != nil {
		// Not tied to the request: the pushes go on after the answer.
		go func() {
			if err := s.outbox.WakeQueued(context.WithoutCancel(ctx), org, queued); err != nil {
				s.log.WarnContext(ctx, "omm: fan-out pushes left to the outbox drain", "org", org, "devices", len(queued), "err", err)
			}
		}()
	}
	return len(queued), err
}

// CreatePolicy stores a new policy of p.Org, its target groups checked
// against the directory; enrolled devices are re-evaluated.
func (s *SDK) CreatePolicy(ctx context.Context, actor string, p policy.Policy) (policy.Policy, error) {
	if err := s.checkGroups(ctx, p.Org, p.Groups); err != nil {
		return policy.Policy{}, err
	}
	return s.Policy.Create(ctx, actor, p)
}

// UpdatePolicy replaces a policy (p.Version must be the stored one); the
// built-in default policy cannot be changed. Enrolled devices are
// re-evaluated.
func (s *SDK) UpdatePolicy(ctx context.Context, actor string, p policy.Policy) (policy.Policy, error) {
	if p.ID == policy.DefaultID {
		return policy.Policy{}, fmt.Errorf("%w: the built-in default policy cannot be changed", ErrNotPermitted)
	}
	if err := s.checkGroups(ctx, p.Org, p.Groups); err != nil {
		return policy.Policy{}, err
	}
	return s.Policy.Update(ctx, actor, p)
}

// DeletePolicy deletes a policy at its stored version; the built-in
// default policy cannot be deleted. Enrolled devices are re-evaluated.
func (s *SDK) DeletePolicy(ctx context.Context, actor string, org storage.OrgID, id policy.ID, version int64) error {
	if id == policy.DefaultID {
		return fmt.Errorf("%w: the built-in default policy cannot be deleted", ErrNotPermitted)
	}
	return s.Policy.Delete(ctx, actor, org, id, version)
}

// Audit returns a page of the org's audit log.
func (s *SDK) Audit(ctx context.Context, org storage.OrgID, q storage.AuditQuery) (storage.AuditPage, error) {
	return s.Store.ListAudit(ctx, org, q)
}
