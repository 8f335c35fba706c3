package omm

import (
	"context"
	"errors"
	"sync"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

// The app store's links to the device channels: Apple devices' answers to
// InstallApplication and RemoveApplication go back to the catalog, a
// device that completes enrollment gets the user's automatic installs,
// Android devices' policies list the user's Play apps, and new installs
// nudge the devices.

// AutoInstallActor is the audit actor of installs the SDK queues itself.
const AutoInstallActor = "system:app-store"

// catalogResults hands the device's answers to InstallApplication and
// RemoveApplication to the catalog. Answers to commands the catalog did
// not queue (storage.ErrNotFound) are someone else's and ignored.
type catalogResults struct{ svc *catalog.Service }

func (c catalogResults) HandleResult(ctx context.Context, r checkin.Result) error {
	err := c.svc.InstallOutcome(ctx, r.Device.Org, r.Device.ID, r.Command.UUID, enroll.CommandStatus(r.Status), r.Command.Detail)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	return err
}

// deviceEvent logs the check-in service's device events and, on a device
// that completed enrollment, re-decides its policy and installs the user's
// AutoInstall apps, unless the completion carried them (see completing).
func (s *SDK) deviceEvent(ctx context.Context, e checkin.Event) {
	s.log.Info("device event", "org", e.Org, "device", e.Device, "kind", e.Kind)
	if e.Kind != checkin.Enrolled {
		return
	}
	s.enrolledPolicy(ctx, e.Org, e.Device)
	if s.completed.take(e.Org, e.Device) {
		// The completion queued the installs in its own transaction.
		return
	}
	res, err := s.Catalog.SyncDevice(ctx, e.Org, e.Device, AutoInstallActor)
	if err != nil {
		// The device is enrolled all the same; its apps follow at the
		// next synchronization (or the user installs them from the store).
		s.log.Error("app store: install at enrollment failed", "org", e.Org, "device", e.Device, "err", err)
		return
	}
	if len(res.Installed) > 0 {
		s.log.Info("app store: installs at enrollment queued", "org", e.Org, "device", e.Device, "apps", res.Installed)
	}
}

// completing is the check-in service's completion hook: what the SDK's
// enrollment hooks would write after the completion goes into the
// completion's transaction instead — the policy record of the device
// (completingPolicy) and the user's automatic app installs (the commands
// and records Catalog.SyncDevice would queue). Whatever cannot be worked
// out here is left to the hooks after the completion, as before.
func (s *SDK) completing(ctx context.Context, d inventory.Device, id enroll.Identity, a *enroll.DeviceAction) {
	s.completingPolicy(ctx, d, id, a)
	enrolled := d
	enrolled.State = inventory.StateEnrolled
	cmds, ins, err := s.Catalog.EnrollmentInstalls(ctx, enrolled, AutoInstallActor)
	if err != nil || len(a.Commands)+len(cmds) > enroll.MaxActionCommands {
		s.completed.take(d.Org, d.ID) // Catalog.SyncDevice installs them after the completion
		return
	}
	a.Commands = append(a.Commands, cmds...)
	a.Installs = append(a.Installs, ins...)
	s.completed.put(d.Org, d.ID)
	if len(ins) > 0 {
		s.log.Info("app store: installs at enrollment queued with the completion", "org", d.Org, "device", d.ID, "apps", len(ins))
	}
}

// maxCompleted bounds the devices completedInstalls remembers: a
// completion that fails and is never retried leaves its device in it.
const maxCompleted = 10_000

// completedInstalls are the devices whose completing enrollment carries
// their app installs, until their Enrolled event: those need no
// synchronization after the completion. Full, it remembers no more
// devices, and theirs are synchronized after the completion, as before.
type completedInstalls struct {
	mu      sync.Mutex
	devices map[storage.OrgID]map[string]struct{}
	n       int
}

func (c *completedInstalls) put(org storage.OrgID, device string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n >= maxCompleted {
		return
	}
	if c.devices == nil {
		c.devices = map[storage.OrgID]map[string]struct{}{}
	}
	m := c.devices[org]
	if m == nil {
		m = map[string]struct{}{}
		c.devices[org] = m
	}
	if _, ok := m[device]; !ok {
		m[device] = struct{}{}
		c.n++
	}
}

// take reports whether device was put, and forgets it.
func (c *completedInstalls) take(org storage.OrgID, device string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.devices[org][device]; !ok {
		return false
	}
	delete(c.devices[org], device)
	if len(c.devices[org]) == 0 {
		delete(c.devices, org)
	}
	c.n--
	return true
}

// androidApps is the catalog as android.Apps: the Play apps assigned to
// the user's groups, forced where the assignment installs automatically,
// offered otherwise.
type androidApps struct{ s *SDK }

func (a androidApps) AndroidApps(ctx context.Context, org storage.OrgID, userID, _ string) ([]android.App, error) {
	u, err := a.s.policyUser(ctx, org, userID)
	if err != nil || len(u.Groups) == 0 {
		return nil, err
	}
	assigned, err := a.s.Store.AssignedApps(ctx, org, u.Groups)
	if err != nil {
		return nil, err
	}
	var apps []android.App
	seen := map[string]bool{}
	for _, aa := range assigned {
		if aa.App.Kind != catalog.Play || seen[aa.App.Identifier] {
			continue
		}
		seen[aa.App.Identifier] = true
		install := android.InstallAvailable
		if m := aa.Mode(); m == catalog.AutoInstall || m == catalog.TakeOver {
			install = android.InstallForced
		}
		apps = append(apps, android.App{PackageName: aa.App.Identifier, Install: install})
	}
	return apps, nil
}

// wakerNudger nudges Apple devices through the check-in service's waker
// (APNs).
type wakerNudger struct{ w checkin.Waker }

func (n wakerNudger) Nudge(ctx context.Context, org storage.OrgID, devices []string) error {
	return n.w.Wake(ctx, org, devices)
}

// noNudger is the nudger without push: devices find their commands at
// their next regular check-in.
type noNudger struct{}

func (noNudger) Nudge(context.Context, storage.OrgID, []string) error { return nil }
