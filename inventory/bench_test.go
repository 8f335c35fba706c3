package inventory_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/micromdm/plist"

	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
	"github.com/openomm/omm/storage/postgres"
	"github.com/openomm/omm/storage/sqlite"
)

// installedList returns an InstalledApplicationList result of n apps
// shaped like a real device's (sizes, flags, versions).
func installedList(b testing.TB, n int) []byte {
	apps := make([]any, n)
	for i := range apps {
		apps[i] = map[string]any{
			"Identifier": fmt.Sprintf("com.example.app%03d", i), "Name": fmt.Sprintf("Example App %d", i),
			"ShortVersion": "3.1.4", "Version": "3140", "BundleSize": int64(50_000_000 + i), "DynamicSize": int64(1_000_000 * i),
			"Installing": false, "IsValidated": true, "ExternalVersionIdentifier": int64(800000000 + i),
			"AppStoreVendable": true, "DeviceBasedVPP": false, "BetaApp": false, "AdHocCodeSigned": false, "HasUpdateAvailable": false,
		}
	}
	data, err := plist.Marshal(map[string]any{"Status": "Acknowledged", "UDID": udid, "CommandUUID": "bench", "InstalledApplicationList": apps})
	if err != nil {
		b.Fatal(err)
	}
	return data
}

type benchStore interface {
	inventory.Store
	CreateOrg(context.Context, storage.Org, storage.AuditEntry) (storage.Org, error)
}

func backends() map[string]func(b *testing.B) benchStore {
	m := map[string]func(b *testing.B) benchStore{
		"memory": func(b *testing.B) benchStore { return memory.New() },
		"sqlite": func(b *testing.B) benchStore {
			s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "omm.db"), sqlite.WithLogger(quiet()))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		},
	}
	if dsn := os.Getenv("OMM_TEST_POSTGRES_DSN"); dsn != "" {
		m["postgres"] = func(b *testing.B) benchStore {
			schema := fmt.Sprintf("omm_bench_inventory_%d", time.Now().UnixNano())
			s, err := postgres.Open(b.Context(), dsn, postgres.WithSchema(schema), postgres.WithLogger(quiet()))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() {
				s.Close()
				ctx := context.Background()
				if conn, err := pgx.Connect(ctx, dsn); err == nil {
					conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE") //nolint:errcheck // best effort
					conn.Close(ctx)
				}
			})
			return s
		}
	}
	return m
}

// BenchmarkIngest measures one inventory refresh of one device: a
// DeviceInformation result with forbidden keys to drop, plus a 300-app
// InstalledApplicationList, each parsed, filtered, merged and stored.
func BenchmarkIngest(b *testing.B) {
	info := readFile(b, testdata("apple", "DeviceInformation.full.plist"))
	apps := installedList(b, 300)
	for name, open := range backends() {
		b.Run(name, func(b *testing.B) {
			s := open(b)
			o := storage.Org{ID: "org_bench", Name: "bench", DisplayName: "Bench"}
			if _, err := s.CreateOrg(b.Context(), o, storage.AuditEntry{Org: o.ID, Time: now, Actor: "system", Action: "org.create"}); err != nil {
				b.Fatal(err)
			}
			svc := inventory.New(s, inventory.WithLogger(quiet()), inventory.WithDirectory(phoneBook{"alice": "+1 555 0100"}))
			d, err := svc.Register(b.Context(), inventory.Device{Org: o.ID, UserID: "alice", Platform: inventory.PlatformIOS,
				Ownership: inventory.OwnershipCompany, EnrollmentType: inventory.EnrollAppleDevice, State: inventory.StateEnrolled, Identifier: udid}, "system")
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(info) + len(apps)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := svc.IngestApple(b.Context(), o.ID, d.ID, info); err != nil {
					b.Fatal(err)
				}
				res, err := svc.IngestApple(b.Context(), o.ID, d.ID, apps)
				if err != nil || res.Apps != 300 {
					b.Fatalf("ingest apps: %d, %v", res.Apps, err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "refreshes/s")
		})
	}
}

// BenchmarkFilter measures parsing and filtering alone, without storage.
func BenchmarkFilter(b *testing.B) {
	info := readFile(b, testdata("apple", "DeviceInformation.full.plist"))
	apps := installedList(b, 300)
	f := inventory.NewFilter(0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Apple(info, now, iPhone); err != nil {
			b.Fatal(err)
		}
		if o, err := f.Apple(apps, now, iPhone); err != nil || len(o.Installed) != 300 {
			b.Fatal(err)
		}
	}
}
