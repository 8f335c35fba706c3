package inventory_test

import (
	"context"
	"fmt"
	"time"

	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// The access rights an MDM enrollment profile asks for: never network
// information, and erase only where the policy and the device allow it.
func ExampleAccessRights() {
	d := inventory.Device{Ownership: inventory.OwnershipPersonal, EnrollmentType: inventory.EnrollAppleDevice}
	policyAllowsWipe := true
	fmt.Println(inventory.AccessRights(policyAllowsWipe && d.FactoryResetPermitted()))
	fmt.Println(inventory.DeviceInformationQueries(inventory.PlatformIOS))
	// Output:
	// 8151
	// [DeviceName SerialNumber ModelName ModelNumber Model ProductName DeviceCapacity AvailableDeviceCapacity OSVersion BuildVersion]
}

// A device reports more than the organization may see; only the contract's
// attributes are stored, and the user's report shows them with their source.
func ExampleService_IngestApple() {
	ctx := context.Background()
	store := memory.New()
	org := storage.Org{ID: "org_acme", Name: "acme", DisplayName: "Acme"}
	clock := func() time.Time { return time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC) }
	store.CreateOrg(ctx, org, storage.AuditEntry{Org: org.ID, Time: clock(), Actor: "system", Action: "org.create"})
	svc := inventory.New(store, inventory.WithClock(clock), inventory.WithLogger(quiet()))

	d, _ := svc.Register(ctx, inventory.Device{Org: org.ID, UserID: "alice", Platform: inventory.PlatformIOS,
		Ownership: inventory.OwnershipPersonal, EnrollmentType: inventory.EnrollAppleDevice,
		State: inventory.StateEnrolled, Identifier: "UDID-1"}, "system")

	result := []byte(`<plist version="1.0"><dict>
		<key>Status</key><string>Acknowledged</string><key>UDID</key><string>UDID-1</string>
		<key>QueryResponses</key><dict>
			<key>OSVersion</key><string>17.4</string>
			<key>IMEI</key><string>35 209900 176148 1</string>
			<key>WiFiMAC</key><string>f0:99:b6:65:43:21</string>
		</dict></dict></plist>`)
	res, _ := svc.IngestApple(ctx, org.ID, d.ID, result)
	fmt.Println("dropped:", res.Dropped.ForbiddenKeys)

	r, _ := svc.Report(ctx, org.ID, d.ID, inventory.ReportOptions{FullWipeAllowed: true})
	for _, item := range r.CanSee {
		if item.CollectedAt != nil {
			fmt.Printf("%s: %s (from the %s, %s)\n", item.Label, item.Value, item.Source, item.CollectedAt.Format(time.DateOnly))
		}
	}
	fmt.Println("factory reset possible:", r.Wipe.FactoryReset)
	// Output:
	// dropped: [IMEI WiFiMAC]
	// OS version: 17.4 (from the device, 2026-03-14)
	// factory reset possible: false
}

// Stored values stay what the device reported; people read them in words,
// in the units the device's OS reports.
func ExampleDisplayValue() {
	at := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	iPhone := inventory.OS{Platform: inventory.PlatformIOS, Version: "12.5.7"}
	mac := inventory.OS{Platform: inventory.PlatformMacOS, Version: "11.7.10"}
	for _, x := range []struct {
		v  inventory.Value
		os inventory.OS
	}{
		{inventory.Value{Key: inventory.KeyEncryption, Value: "3", Collected: at}, iPhone},
		{inventory.Value{Key: inventory.KeyEncryption, Value: "true", Collected: at}, mac},
		{inventory.Value{Key: inventory.KeyCapacity, Value: "233.4712", Collected: at}, mac},
		{inventory.Value{Key: inventory.KeyManagedProfiles, Value: `["com.acme.mdm","com.acme.wifi"]`, Collected: at}, iPhone},
	} {
		d := inventory.DisplayValue(x.v, x.os)
		fmt.Printf("%s %q → %s %q\n", x.v.Key, x.v.Value, d.Text, d.Items)
	}
	// Output:
	// encryption "3" → Block-level and file-level encryption []
	// encryption "true" → FileVault on []
	// capacity_gb "233.4712" → 233.47 GiB []
	// managed_profiles "[\"com.acme.mdm\",\"com.acme.wifi\"]" → com.acme.mdm, com.acme.wifi ["com.acme.mdm" "com.acme.wifi"]
}
