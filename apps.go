package omm

import (
	"context"
	"errors"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/checkin"
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

// deviceEvent logs the check-in service's device events and installs the
// user's AutoInstall apps on a device that completed enrollment.
func (s *SDK) deviceEvent(ctx context.Context, e checkin.Event) {
	s.log.Info("device event", "org", e.Org, "device", e.Device, "kind", e.Kind)
	if e.Kind != checkin.Enrolled {
		return
	}
	s.enrolledPolicy(ctx, e.Org, e.Device)
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
