package catalog_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/storage/sqlite"
)

// BenchmarkView measures the store view for a user with 200 assigned apps
// on a device reporting 300 installed apps (100 of them managed catalog
// apps, 20 with a request on record), on the memory and SQLite stores.
func BenchmarkView(b *testing.B) {
	b.Run("memory", func(b *testing.B) { benchView(b, newFixture(b)) })
	b.Run("sqlite", func(b *testing.B) {
		s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "omm.db"), sqlite.WithLogger(quiet()))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		benchView(b, newFixtureOn(b, s))
	})
}

func benchView(b *testing.B, f *fixture) {
	ctx := b.Context()
	d := f.iphone(b, "alice")
	var reported []reportedApp
	for i := range 200 {
		a := f.app(b, catalog.App{Kind: catalog.AppStore, Identifier: fmt.Sprintf("com.acme.app%03d", i), StoreID: int64(1000 + i),
			Name: fmt.Sprintf("App %03d", i), Description: "An app of the bench.",
			Config: []catalog.ConfigEntry{{Key: "user", Type: catalog.TypeString, Value: "${user.login}"}}})
		group := "grp_sales"
		if i%2 == 1 {
			group = "grp_all"
		}
		if _, err := f.store.CreateAssignment(ctx, catalog.Assignment{Org: f.org, AppID: a.ID, Group: group, Mode: catalog.Available},
			f.auditEntry("catalog.assignment.create")); err != nil {
			b.Fatal(err)
		}
		if i < 20 {
			if _, err := f.svc.Install(ctx, f.org, "alice", d.ID, a.ID); err != nil {
				b.Fatal(err)
			}
		}
		if i < 100 {
			reported = append(reported, reportedApp{id: a.Identifier, name: a.Name, version: "1.0", status: "Managed"})
		}
	}
	for i := range 200 {
		reported = append(reported, reportedApp{id: fmt.Sprintf("com.personal.app%03d", i), name: fmt.Sprintf("Personal %d", i)})
	}
	f.report(b, d, reported...)
	apps, _ := f.store.DeviceApps(ctx, f.org, d.ID)
	if len(apps) != 300 {
		b.Fatalf("device reports %d apps, want 300", len(apps))
	}
	b.ReportAllocs()
	for b.Loop() {
		v, err := f.svc.View(ctx, f.org, "alice", d.ID)
		if err != nil || len(v.Items) != 200 {
			b.Fatalf("View = %d items, %v", len(v.Items), err)
		}
	}
}
