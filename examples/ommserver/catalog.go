package main

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/storage"
)

// The demo org's app store.

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
