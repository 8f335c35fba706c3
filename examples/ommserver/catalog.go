package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/storage"
)

// The private app store: the catalog service wired to the directory, the
// inventory, the MDM command queue and push, with its agent and admin
// APIs and the device answers routed back to it.

// catalogDirectory adapts the auth directory (and the store's group
// membership lists) to catalog.Directory.
type catalogDirectory struct {
	dir     *auth.LocalDirectory
	members interface {
		GroupMembers(ctx context.Context, org storage.OrgID, groupID string) ([]string, error)
	}
}

func (d catalogDirectory) UserGroups(ctx context.Context, org storage.OrgID, userID string) ([]string, error) {
	groups, err := d.dir.Groups(ctx, org, userID)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(groups))
	for i, g := range groups {
		ids[i] = g.ID
	}
	return ids, nil
}

func (d catalogDirectory) GroupMembers(ctx context.Context, org storage.OrgID, group string) ([]string, error) {
	ids, err := d.members.GroupMembers(ctx, org, group)
	if errors.Is(err, storage.ErrNotFound) { // an unknown group has no members
		return nil, nil
	}
	return ids, err
}

func (d catalogDirectory) User(ctx context.Context, org storage.OrgID, userID string) (catalog.User, error) {
	u, err := d.dir.User(ctx, org, userID)
	if err != nil {
		return catalog.User{}, err
	}
	return catalog.User{ID: u.ID, Login: u.Username, Email: u.Email, DisplayName: u.DisplayName}, nil
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

// newCatalog builds the app store; waker is nil when push is not
// configured.
func newCatalog(s store, dir *auth.LocalDirectory, waker checkin.Waker, log *slog.Logger, now func() time.Time) *catalog.Service {
	var n catalog.Nudger = noNudger{}
	if waker != nil {
		n = wakerNudger{waker}
	} else {
		log.Info("app store: push disabled, devices see new installs at their next check-in")
	}
	return catalog.New(s, s, catalogDirectory{dir: dir, members: s},
		catalog.WithNudger(n), catalog.WithLogger(log), catalog.WithClock(now), catalog.WithGroupCheck(orgGroup(s)))
}

// catalogResults hands the device's answers to InstallApplication and
// RemoveApplication to the catalog. Answers to commands the catalog did
// not queue (storage.ErrNotFound) are someone else's and ignored.
func catalogResults(svc *catalog.Service) checkin.ResultHandler {
	return checkin.ResultHandlerFunc(func(ctx context.Context, r checkin.Result) error {
		err := svc.InstallOutcome(ctx, r.Device.Org, r.Device.ID, r.Command.UUID, enroll.CommandStatus(r.Status), r.Command.Detail)
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		return err
	})
}

// catalogRoutes mounts the store APIs:
//
//	/api/agent/store/devices/{device}/apps…   the signed-in user's store (catalog.NewAgentHandler)
//	/api/admin/apps…                           the admin token's org's catalog (catalog.NewAdminHandler)
func (s *server) catalogRoutes(mux *router) {
	agent := catalog.NewAgentHandler(s.catalog, catalog.WithHandlerLogger(s.log), catalog.WithPrincipal(agentCatalogPrincipal))
	mux.Handle("/api/agent/store/", s.auth.Require(http.StripPrefix("/api/agent/store", agent)))

	admin := catalog.NewAdminHandler(s.catalog, catalog.WithHandlerLogger(s.log), catalog.WithPrincipal(adminCatalogPrincipal))
	h := s.adminAuth(http.StripPrefix("/api/admin", admin).ServeHTTP)
	mux.Handle("/api/admin/apps", h)
	mux.Handle("/api/admin/apps/", h)
}

func agentCatalogPrincipal(ctx context.Context) (catalog.Principal, bool) {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return catalog.Principal{}, false
	}
	return catalog.Principal{Org: p.User.Org, UserID: p.User.ID, Actor: userActor(p)}, true
}

// adminTokenUser names the admin token where the catalog wants a user.
const adminTokenUser = "api-token"

func adminCatalogPrincipal(ctx context.Context) (catalog.Principal, bool) {
	org := adminOrg(ctx)
	if org == "" {
		return catalog.Principal{}, false
	}
	return catalog.Principal{Org: org, UserID: adminTokenUser, Actor: adminActor}, true
}

// demoApps are the demo org's store: one app of each kind.
var demoApps = []struct {
	app  catalog.App
	mode catalog.Mode
}{
	{catalog.App{Kind: catalog.AppStore, Identifier: "com.example.demo.notes", StoreID: 1234567890, Name: "Demo Notes",
		Description: "An App Store app, installed on every employee's device at enrollment."}, catalog.AutoInstall},
	{catalog.App{Kind: catalog.InHouse, Identifier: "com.example.demo.expenses", ManifestURL: "https://apps.example.com/expenses/manifest.plist",
		BundleVersion: "1.0", Name: "Demo Expenses", Description: "An in-house app, available to install from the store.",
		Config: []catalog.ConfigEntry{{Key: "user", Type: catalog.TypeString, Value: "${user.login}"}}}, catalog.Available},
	{catalog.App{Kind: catalog.Play, Identifier: "com.example.demo.chat", Name: "Demo Chat",
		Description: "A managed Google Play app, available to install from the store."}, catalog.Available},
}

// seedDemoApps puts the demo apps in the org's catalog and assigns them to
// group, creating only what is missing.
func seedDemoApps(ctx context.Context, org storage.OrgID, svc *catalog.Service, group string) error {
	apps, err := svc.ListApps(ctx, org)
	if err != nil {
		return fmt.Errorf("demo apps: %w", err)
	}
	for _, d := range demoApps {
		i := slices.IndexFunc(apps, func(a catalog.App) bool {
			return a.Kind.Family() == d.app.Kind.Family() && a.Identifier == d.app.Identifier
		})
		var a catalog.App
		if i >= 0 {
			a = apps[i]
		} else {
			a = d.app
			a.Org = org
			if a, err = svc.CreateApp(ctx, a, seedActor); err != nil {
				return fmt.Errorf("demo app %s: %w", d.app.Identifier, err)
			}
		}
		assigned, err := svc.ListAssignments(ctx, org, a.ID)
		if err != nil {
			return fmt.Errorf("demo app %s: %w", d.app.Identifier, err)
		}
		if slices.ContainsFunc(assigned, func(as catalog.Assignment) bool { return as.Group == group }) {
			continue
		}
		_, err = svc.Assign(ctx, catalog.Assignment{Org: org, AppID: a.ID, Group: group, Mode: d.mode}, seedActor)
		if err != nil && !errors.Is(err, catalog.ErrIncomplete) && !errors.Is(err, storage.ErrAlreadyExists) {
			return fmt.Errorf("demo app %s: %w", d.app.Identifier, err)
		}
	}
	return nil
}

// deviceEvent logs the check-in service's device events and installs the
// user's AutoInstall apps on a device that completed enrollment.
func (s *server) deviceEvent(ctx context.Context, e checkin.Event) {
	s.log.Info("device event", "org", e.Org, "device", e.Device, "kind", e.Kind)
	if e.Kind != checkin.Enrolled {
		return
	}
	res, err := s.catalog.SyncDevice(ctx, e.Org, e.Device, seedActor)
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

// groupID returns the ID of the org's group named name.
func groupID(ctx context.Context, dir *auth.LocalDirectory, org storage.OrgID, name string) (string, error) {
	groups, err := dir.ListGroups(ctx, org)
	if err != nil {
		return "", err
	}
	for _, g := range groups {
		if g.Name == name {
			return g.ID, nil
		}
	}
	return "", fmt.Errorf("group %q: %w", name, storage.ErrNotFound)
}
