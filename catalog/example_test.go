package catalog_test

import (
	"context"
	"fmt"
	"time"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// groups is a directory in which everyone is in the "staff" group.
type groups struct{}

func (groups) Groups(_ context.Context, org storage.OrgID, _ string) ([]auth.Group, error) {
	return []auth.Group{{Org: org, ID: "staff", Name: "Staff"}}, nil
}
func (groups) GroupMembers(context.Context, storage.OrgID, string) ([]string, error) {
	return []string{"alice"}, nil
}
func (groups) User(_ context.Context, org storage.OrgID, id string) (auth.User, error) {
	return auth.User{Org: org, ID: id, Username: id, Email: id + "@acme.example"}, nil
}

// An app assigned to a group appears in each member's store; installing
// it queues an InstallApplication for the device.
func ExampleService_View() {
	ctx := context.Background()
	clock := func() time.Time { return time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC) }
	store := memory.New()
	store.CreateOrg(ctx, storage.Org{ID: "org_acme", Name: "acme", DisplayName: "Acme"},
		storage.AuditEntry{Org: "org_acme", Time: clock(), Actor: "system", Action: "org.create"})
	devices := inventory.New(store, inventory.WithClock(clock))
	phone, _ := devices.Register(ctx, inventory.Device{Org: "org_acme", UserID: "alice", Platform: inventory.PlatformIOS,
		Ownership: inventory.OwnershipCompany, EnrollmentType: inventory.EnrollAppleDevice,
		State: inventory.StateEnrolled, Identifier: "UDID-1"}, "system")

	svc := catalog.New(store, store, groups{}, catalog.WithClock(clock))
	mail, err := svc.CreateApp(ctx, catalog.App{Org: "org_acme", Kind: catalog.AppStore, Identifier: "com.acme.mail",
		StoreID: 361309726, Name: "Mail",
		Config: []catalog.ConfigEntry{{Key: "account", Type: catalog.TypeString, Value: "${user.email}"}}}, "admin:root")
	fmt.Println("created:", err == nil)
	svc.Assign(ctx, catalog.Assignment{Org: "org_acme", AppID: mail.ID, Group: "staff", Mode: catalog.Available}, "admin:root")

	show := func() {
		v, _ := svc.View(ctx, "org_acme", "alice", phone.ID)
		for _, it := range v.Items {
			fmt.Printf("%s: %s\n", it.App.Name, it.State)
		}
	}
	show()
	svc.Install(ctx, "org_acme", "alice", phone.ID, mail.ID)
	show()
	queued, _ := store.Commands(ctx, "org_acme", phone.ID, 10)
	fmt.Println("queued:", queued[0].RequestType)

	_, err = svc.CreateApp(ctx, catalog.App{Org: "org_acme", Kind: catalog.InHouse, Identifier: "com.acme.sales",
		ManifestURL: "http://apps.acme.example/sales.plist", BundleVersion: "1", Name: "Sales"}, "admin:root")
	fmt.Println(err)
	// Output:
	// created: true
	// Mail: Available
	// Mail: Installing
	// queued: InstallApplication
	// invalid input: manifest URL "http://apps.acme.example/sales.plist" must use https
}
