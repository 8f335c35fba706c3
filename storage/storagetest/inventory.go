package storagetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

func inventoryCases() []testCase {
	return []testCase{
		{"Inventory/CreateAndRead", testInvCreateAndRead},
		{"Inventory/CreateRejected", testInvCreateRejected},
		{"Inventory/TenantIsolation", testInvTenantIsolation},
		{"Inventory/StateTransitions", testInvStateTransitions},
		{"Inventory/TerminalStateErasesInventory", testInvTerminalErases},
		{"Inventory/SaveAndRead", testInvSaveAndRead},
		{"Inventory/SaveRejected", testInvSaveRejected},
		{"Inventory/Touch", testInvTouch},
		{"Inventory/ListPaging", testInvListPaging},
		{"Inventory/DueForRefresh", testInvDueForRefresh},
		{"Inventory/ConcurrentStateChange", testInvConcurrentState},
		{"Inventory/ConcurrentSave", testInvConcurrentSave},
		{"Inventory/ConcurrentCreateSameIdentifier", testInvConcurrentCreate},
	}
}

func newDevice(org storage.OrgID, n int) inventory.Device {
	return inventory.Device{
		ID: fmt.Sprintf("dev_%03d", n), Org: org, UserID: "user:alice",
		Platform: inventory.PlatformIOS, Ownership: inventory.OwnershipCompany,
		EnrollmentType: inventory.EnrollAppleDevice, State: inventory.StateEnrolled,
		Identifier: fmt.Sprintf("66ADE930-5FDF-5EC4-8429-%012d", n), SerialNumber: fmt.Sprintf("C02XK%03d", n),
	}
}

func deviceEntry(org storage.OrgID, action string, when time.Time) storage.AuditEntry {
	e := entryFor(org, action, when)
	e.Actor = "system"
	return e
}

func mustCreateDevice(t testing.TB, s Store, d inventory.Device, when time.Time) inventory.Device {
	t.Helper()
	got, err := s.CreateDevice(t.Context(), d, deviceEntry(d.Org, "device.register", when))
	noErr(t, "CreateDevice", err)
	return got
}

// invSnapshot is everything the inventory contract shows, plus orgs and
// audit.
type invSnapshot struct {
	Base    snapshot
	Devices map[storage.OrgID][]inventory.Device
	Values  map[string][]inventory.Value
	Apps    map[string][]inventory.App
}

func takeInvSnapshot(t testing.TB, s Store) invSnapshot {
	t.Helper()
	snap := invSnapshot{Base: takeSnapshot(t, s), Devices: map[storage.OrgID][]inventory.Device{},
		Values: map[string][]inventory.Value{}, Apps: map[string][]inventory.App{}}
	for _, o := range snap.Base.Orgs {
		p, err := s.ListDevices(t.Context(), o.ID, inventory.DeviceQuery{Limit: inventory.MaxDevicePage})
		noErr(t, "ListDevices", err)
		snap.Devices[o.ID] = p.Devices
		for _, d := range p.Devices {
			k := string(o.ID) + "/" + d.ID
			snap.Values[k], err = s.DeviceValues(t.Context(), o.ID, d.ID)
			noErr(t, "DeviceValues", err)
			snap.Apps[k], err = s.DeviceApps(t.Context(), o.ID, d.ID)
			noErr(t, "DeviceApps", err)
		}
	}
	return snap
}

func invUnchanged(t testing.TB, what string, s Store, before invSnapshot) {
	t.Helper()
	same(t, what+": store changed", takeInvSnapshot(t, s), before)
}

func testInvCreateAndRead(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	in := newDevice(o.ID, 1)
	in.EnrollmentID = "enrollment-token-1"
	in.Version, in.LastInventory = 7, at(-100) // ignored: the store sets them
	e := deviceEntry(o.ID, "device.register", at(2))
	got, err := s.CreateDevice(ctx, in, e)
	noErr(t, "CreateDevice", err)

	want := in
	want.Version = 1
	want.Created = storage.Normalize(e.Time)
	want.Updated, want.LastSeen, want.LastInventory = want.Created, want.Created, time.Time{}
	same(t, "CreateDevice result", got, want)
	read, err := s.Device(ctx, o.ID, in.ID)
	noErr(t, "Device", err)
	same(t, "Device", read, want)
	byIdent, err := s.DeviceByIdentifier(ctx, o.ID, in.Identifier)
	noErr(t, "DeviceByIdentifier", err)
	same(t, "DeviceByIdentifier", byIdent, want)
	vals, err := s.DeviceValues(ctx, o.ID, in.ID)
	noErr(t, "DeviceValues", err)
	same(t, "values of a new device", vals, []inventory.Value{})
	apps, err := s.DeviceApps(ctx, o.ID, in.ID)
	noErr(t, "DeviceApps", err)
	same(t, "apps of a new device", apps, []inventory.App{})

	log := allAudit(t, s, o.ID)
	if len(log) != 2 || log[1].Action != "device.register" {
		t.Fatalf("audit log after CreateDevice = %+v, want org creation then device.register", log)
	}
	wantEntry := e.Normalize()
	wantEntry.ID = log[1].ID
	same(t, "registration audit entry", log[1], wantEntry)

	_, err = s.Device(ctx, o.ID, "dev_missing")
	wantErr(t, "Device(unknown)", err, storage.ErrNotFound)
	_, err = s.DeviceByIdentifier(ctx, o.ID, "unknown-udid")
	wantErr(t, "DeviceByIdentifier(unknown)", err, storage.ErrNotFound)
	_, err = s.DeviceValues(ctx, o.ID, "dev_missing")
	wantErr(t, "DeviceValues(unknown)", err, storage.ErrNotFound)
	_, err = s.DeviceApps(ctx, o.ID, "dev_missing")
	wantErr(t, "DeviceApps(unknown)", err, storage.ErrNotFound)
}

func testInvCreateRejected(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	first := mustCreateDevice(t, s, newDevice(o.ID, 1), at(1))

	tests := []struct {
		name string
		edit func(*inventory.Device, *storage.AuditEntry)
		want error
	}{
		{"valid control", func(*inventory.Device, *storage.AuditEntry) {}, nil},
		{"used id", func(d *inventory.Device, _ *storage.AuditEntry) { d.ID = first.ID }, storage.ErrAlreadyExists},
		{"identifier of an active device", func(d *inventory.Device, _ *storage.AuditEntry) { d.Identifier = first.Identifier }, storage.ErrAlreadyExists},
		{"unknown org", func(d *inventory.Device, e *storage.AuditEntry) { d.Org, e.Org = "org_nowhere", "org_nowhere" }, storage.ErrNotFound},
		{"empty id", func(d *inventory.Device, _ *storage.AuditEntry) { d.ID = "" }, storage.ErrInvalid},
		{"id with space", func(d *inventory.Device, _ *storage.AuditEntry) { d.ID = "dev 1" }, storage.ErrInvalid},
		{"id too long", func(d *inventory.Device, _ *storage.AuditEntry) {
			d.ID = strings.Repeat("d", inventory.MaxDeviceIDLen+1)
		}, storage.ErrInvalid},
		{"no user", func(d *inventory.Device, _ *storage.AuditEntry) { d.UserID = "" }, storage.ErrInvalid},
		{"unknown platform", func(d *inventory.Device, _ *storage.AuditEntry) { d.Platform = "symbian" }, storage.ErrInvalid},
		{"unknown ownership", func(d *inventory.Device, _ *storage.AuditEntry) { d.Ownership = "borrowed" }, storage.ErrInvalid},
		{"android type on apple", func(d *inventory.Device, _ *storage.AuditEntry) {
			d.EnrollmentType = inventory.EnrollAndroidWorkProfile
		}, storage.ErrInvalid},
		{"user enrollment of a company device", func(d *inventory.Device, _ *storage.AuditEntry) { d.EnrollmentType = inventory.EnrollAppleUser }, storage.ErrInvalid},
		{"unknown state", func(d *inventory.Device, _ *storage.AuditEntry) { d.State = "lost" }, storage.ErrInvalid},
		{"no identifier", func(d *inventory.Device, _ *storage.AuditEntry) { d.Identifier = "" }, storage.ErrInvalid},
		{"identifier with newline", func(d *inventory.Device, _ *storage.AuditEntry) { d.Identifier = "a\nb" }, storage.ErrInvalid},
		{"serial too long", func(d *inventory.Device, _ *storage.AuditEntry) {
			d.SerialNumber = strings.Repeat("S", inventory.MaxSerialLen+1)
		}, storage.ErrInvalid},
		{"entry for another org", func(_ *inventory.Device, e *storage.AuditEntry) { e.Org = "org_elsewhere" }, storage.ErrInvalid},
		{"entry without action", func(_ *inventory.Device, e *storage.AuditEntry) { e.Action = "" }, storage.ErrInvalid},
	}
	for i, tt := range tests {
		d := newDevice(o.ID, 100+i)
		e := deviceEntry(o.ID, "device.register", at(10+i))
		tt.edit(&d, &e)
		before := takeInvSnapshot(t, s)
		_, err := s.CreateDevice(ctx, d, e)
		if tt.want == nil {
			noErr(t, tt.name, err)
			continue
		}
		wantErr(t, tt.name, err, tt.want)
		invUnchanged(t, tt.name, s, before)
	}
}

func testInvTenantIsolation(t testing.TB, s Store) {
	ctx := t.Context()
	a := mustCreateOrg(t, s, "acme")
	b := mustCreateOrg(t, s, "beta")
	da := mustCreateDevice(t, s, newDevice(a.ID, 1), at(1))
	_, err := s.SaveInventory(ctx, a.ID, da.ID, da.Version, inventory.Update{At: at(2),
		Values:      []inventory.Value{{Key: inventory.KeyDeviceName, Value: "Alice's iPhone", Source: inventory.SourceDevice, Collected: at(2)}},
		ReplaceApps: true, Apps: []inventory.App{{Identifier: "com.example.mail", Name: "Mail"}}})
	noErr(t, "SaveInventory", err)

	// The same ID and platform identifier are free in another org, and
	// reads through org b return b's record, never a's.
	db := mustCreateDevice(t, s, newDevice(b.ID, 1), at(3))
	got, err := s.Device(ctx, b.ID, da.ID)
	noErr(t, "Device(b)", err)
	same(t, "org b's device", got, db)
	got, err = s.DeviceByIdentifier(ctx, b.ID, da.Identifier)
	noErr(t, "DeviceByIdentifier(b)", err)
	same(t, "org b's device by identifier", got, db)
	vals, err := s.DeviceValues(ctx, b.ID, da.ID)
	noErr(t, "DeviceValues(b)", err)
	same(t, "org b's values", vals, []inventory.Value{})
	apps, err := s.DeviceApps(ctx, b.ID, da.ID)
	noErr(t, "DeviceApps(b)", err)
	same(t, "org b's apps", apps, []inventory.App{})

	// A device only org a has.
	onlyA := mustCreateDevice(t, s, newDevice(a.ID, 2), at(4))
	before := takeInvSnapshot(t, s)
	_, err = s.Device(ctx, b.ID, onlyA.ID)
	wantErr(t, "Device across orgs", err, storage.ErrNotFound)
	_, err = s.DeviceByIdentifier(ctx, b.ID, onlyA.Identifier)
	wantErr(t, "DeviceByIdentifier across orgs", err, storage.ErrNotFound)
	_, err = s.DeviceValues(ctx, b.ID, onlyA.ID)
	wantErr(t, "DeviceValues across orgs", err, storage.ErrNotFound)
	_, err = s.DeviceApps(ctx, b.ID, onlyA.ID)
	wantErr(t, "DeviceApps across orgs", err, storage.ErrNotFound)
	_, err = s.UpdateDeviceState(ctx, b.ID, onlyA.ID, inventory.StateDeprovisioned, deviceEntry(b.ID, "device.state.deprovisioned", at(5)))
	wantErr(t, "UpdateDeviceState across orgs", err, storage.ErrNotFound)
	err = s.TouchDevice(ctx, b.ID, onlyA.ID, at(5))
	wantErr(t, "TouchDevice across orgs", err, storage.ErrNotFound)
	_, err = s.SaveInventory(ctx, b.ID, onlyA.ID, onlyA.Version, inventory.Update{At: at(5)})
	wantErr(t, "SaveInventory across orgs", err, storage.ErrNotFound)
	invUnchanged(t, "calls across orgs", s, before)

	list, err := s.ListDevices(ctx, b.ID, inventory.DeviceQuery{})
	noErr(t, "ListDevices(b)", err)
	same(t, "org b's device list", list.Devices, []inventory.Device{db})
	due, err := s.DevicesDueForRefresh(ctx, b.ID, at(100), 10)
	noErr(t, "DevicesDueForRefresh(b)", err)
	same(t, "org b's due devices", due, []inventory.Device{db})
	if n := len(allAudit(t, s, b.ID)); n != 2 {
		t.Errorf("org b has %d audit entries, want 2 (org and device creation)", n)
	}
}

func testInvStateTransitions(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	P, E, D, X, W := inventory.StatePending, inventory.StateEnrolled, inventory.StateDeprovisioning, inventory.StateDeprovisioned, inventory.StateWiped
	allowed := map[[2]inventory.State]bool{{P, E}: true, {P, X}: true, {E, D}: true, {E, X}: true, {E, W}: true, {D, X}: true, {D, W}: true}
	n := 0
	for _, from := range []inventory.State{P, E, D, X, W} {
		for _, to := range []inventory.State{P, E, D, X, W} {
			if from == to {
				continue
			}
			n++
			d := newDevice(o.ID, n)
			d.State = from
			d = mustCreateDevice(t, s, d, at(n))
			before := takeInvSnapshot(t, s)
			got, err := s.UpdateDeviceState(ctx, o.ID, d.ID, to, deviceEntry(o.ID, "device.state."+string(to), at(n+1)))
			what := fmt.Sprintf("%s → %s", from, to)
			if !allowed[[2]inventory.State{from, to}] {
				wantErr(t, what, err, storage.ErrConflict)
				if !errors.Is(err, inventory.ErrTransition) {
					t.Errorf("%s: error %v does not wrap ErrTransition", what, err)
				}
				invUnchanged(t, what, s, before)
				continue
			}
			noErr(t, what, err)
			want := d
			want.State, want.Version, want.Updated = to, 2, storage.Normalize(at(n+1))
			same(t, what+" result", got, want)
			read, err := s.Device(ctx, o.ID, d.ID)
			noErr(t, "Device", err)
			same(t, what+" stored", read, want)
		}
	}
	log := allAudit(t, s, o.ID)
	if want := 1 + n + len(allowed); len(log) != want {
		t.Errorf("%d audit entries, want %d (org, %d devices, %d transitions)", len(log), want, n, len(allowed))
	}

	// Same state: a no-op without an audit entry.
	d := mustCreateDevice(t, s, newDevice(o.ID, 900), at(50))
	before := takeInvSnapshot(t, s)
	got, err := s.UpdateDeviceState(ctx, o.ID, d.ID, inventory.StateEnrolled, deviceEntry(o.ID, "device.state.enrolled", at(51)))
	noErr(t, "UpdateDeviceState to the same state", err)
	same(t, "same-state result", got, d)
	invUnchanged(t, "same-state update", s, before)

	// Invalid input changes nothing.
	for _, tt := range []struct {
		name string
		to   inventory.State
		e    storage.AuditEntry
		want error
	}{
		{"unknown state", "lost", deviceEntry(o.ID, "device.state.lost", at(52)), storage.ErrInvalid},
		{"entry of another org", inventory.StateDeprovisioning, deviceEntry("org_other", "device.state.x", at(52)), storage.ErrInvalid},
		{"entry without time", inventory.StateDeprovisioning, deviceEntry(o.ID, "device.state.x", time.Time{}), storage.ErrInvalid},
	} {
		_, err := s.UpdateDeviceState(ctx, o.ID, d.ID, tt.to, tt.e)
		wantErr(t, tt.name, err, tt.want)
		invUnchanged(t, tt.name, s, before)
	}
	_, err = s.UpdateDeviceState(ctx, o.ID, "dev_missing", inventory.StateDeprovisioned, deviceEntry(o.ID, "device.state.deprovisioned", at(52)))
	wantErr(t, "UpdateDeviceState(unknown)", err, storage.ErrNotFound)
	invUnchanged(t, "UpdateDeviceState(unknown)", s, before)
}

func testInvTerminalErases(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	d := mustCreateDevice(t, s, newDevice(o.ID, 1), at(1))
	d, err := s.SaveInventory(ctx, o.ID, d.ID, d.Version, inventory.Update{At: at(2),
		Values:      []inventory.Value{{Key: inventory.KeySerialNumber, Value: "C02XK001", Source: inventory.SourceDevice, Collected: at(2)}},
		ReplaceApps: true, Apps: []inventory.App{{Identifier: "com.acme.app", Name: "Acme", Managed: true, Version: "1.0", State: "Managed"}}})
	noErr(t, "SaveInventory", err)
	_, err = s.UpdateDeviceState(ctx, o.ID, d.ID, inventory.StateDeprovisioned, deviceEntry(o.ID, "device.state.deprovisioned", at(3)))
	noErr(t, "UpdateDeviceState", err)
	vals, err := s.DeviceValues(ctx, o.ID, d.ID)
	noErr(t, "DeviceValues", err)
	same(t, "values after deprovisioning", vals, []inventory.Value{})
	apps, err := s.DeviceApps(ctx, o.ID, d.ID)
	noErr(t, "DeviceApps", err)
	same(t, "apps after deprovisioning", apps, []inventory.App{})

	// A late report for a deprovisioned device is refused.
	cur, err := s.Device(ctx, o.ID, d.ID)
	noErr(t, "Device", err)
	before := takeInvSnapshot(t, s)
	_, err = s.SaveInventory(ctx, o.ID, d.ID, cur.Version, inventory.Update{At: at(4),
		Values: []inventory.Value{{Key: inventory.KeySerialNumber, Value: "C02XK001", Source: inventory.SourceDevice, Collected: at(4)}}})
	wantErr(t, "SaveInventory on a deprovisioned device", err, storage.ErrConflict)
	invUnchanged(t, "SaveInventory on a deprovisioned device", s, before)

	// The device may enroll again under a new record.
	_, err = s.DeviceByIdentifier(ctx, o.ID, d.Identifier)
	wantErr(t, "DeviceByIdentifier of a deprovisioned device", err, storage.ErrNotFound)
	again := newDevice(o.ID, 2)
	again.Identifier = d.Identifier
	again = mustCreateDevice(t, s, again, at(5))
	got, err := s.DeviceByIdentifier(ctx, o.ID, d.Identifier)
	noErr(t, "DeviceByIdentifier after re-enrollment", err)
	same(t, "re-enrolled device", got, again)
}

func testInvSaveAndRead(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	d := mustCreateDevice(t, s, newDevice(o.ID, 1), at(1))
	val := func(k inventory.Key, v string, src inventory.Source, when time.Time) inventory.Value {
		return inventory.Value{Key: k, Value: v, Source: src, Collected: when}
	}
	apps := []inventory.App{
		{Identifier: "com.example.weather", Name: "Weather ☀"},
		{Identifier: "com.acme.crm", Name: "Acme CRM", Managed: true, Version: "4.2.1", State: "Managed"},
		{Identifier: "com.acme.queued", Managed: true, State: "Queued"},
	}
	got, err := s.SaveInventory(ctx, o.ID, d.ID, d.Version, inventory.Update{At: at(10),
		Values: []inventory.Value{
			val(inventory.KeyOSVersion, "17.4", inventory.SourceDevice, at(10)),
			val(inventory.KeyCapacity, "128", inventory.SourceDevice, at(10)),
			val(inventory.KeyPhoneNumber, "+1 555 0100", inventory.SourceDirectory, at(9)),
			val(inventory.KeyPasscodePresent, "true", inventory.SourceDevice, at(10)),
			val(inventory.KeyManagedProfiles, `["com.acme.mdm","com.acme.wifi"]`, inventory.SourceDevice, at(10)),
		},
		ReplaceApps: true, Apps: apps})
	noErr(t, "SaveInventory", err)
	want := d
	want.Version, want.LastInventory, want.LastSeen = 2, storage.Normalize(at(10)), storage.Normalize(at(10))
	same(t, "SaveInventory result", got, want)
	read, err := s.Device(ctx, o.ID, d.ID)
	noErr(t, "Device", err)
	same(t, "device after SaveInventory", read, want)

	vals, err := s.DeviceValues(ctx, o.ID, d.ID)
	noErr(t, "DeviceValues", err)
	same(t, "stored values", vals, []inventory.Value{
		val(inventory.KeyCapacity, "128", inventory.SourceDevice, storage.Normalize(at(10))),
		val(inventory.KeyManagedProfiles, `["com.acme.mdm","com.acme.wifi"]`, inventory.SourceDevice, storage.Normalize(at(10))),
		val(inventory.KeyOSVersion, "17.4", inventory.SourceDevice, storage.Normalize(at(10))),
		val(inventory.KeyPasscodePresent, "true", inventory.SourceDevice, storage.Normalize(at(10))),
		val(inventory.KeyPhoneNumber, "+1 555 0100", inventory.SourceDirectory, storage.Normalize(at(9))),
	})
	gotApps, err := s.DeviceApps(ctx, o.ID, d.ID)
	noErr(t, "DeviceApps", err)
	same(t, "stored apps", gotApps, []inventory.App{apps[1], apps[2], apps[0]})

	// Upsert one value, remove another, leave the apps alone.
	got, err = s.SaveInventory(ctx, o.ID, d.ID, got.Version, inventory.Update{At: at(20),
		Values: []inventory.Value{val(inventory.KeyOSVersion, "17.5", inventory.SourceDevice, at(20))},
		Remove: []inventory.Key{inventory.KeyPhoneNumber, inventory.KeySerialNumber}})
	noErr(t, "second SaveInventory", err)
	if got.Version != 3 {
		t.Errorf("version after two saves = %d, want 3", got.Version)
	}
	vals, err = s.DeviceValues(ctx, o.ID, d.ID)
	noErr(t, "DeviceValues", err)
	same(t, "values after the second save", vals, []inventory.Value{
		val(inventory.KeyCapacity, "128", inventory.SourceDevice, storage.Normalize(at(10))),
		val(inventory.KeyManagedProfiles, `["com.acme.mdm","com.acme.wifi"]`, inventory.SourceDevice, storage.Normalize(at(10))),
		val(inventory.KeyOSVersion, "17.5", inventory.SourceDevice, storage.Normalize(at(20))),
		val(inventory.KeyPasscodePresent, "true", inventory.SourceDevice, storage.Normalize(at(10))),
	})
	gotApps, err = s.DeviceApps(ctx, o.ID, d.ID)
	noErr(t, "DeviceApps", err)
	same(t, "apps untouched by a values-only save", gotApps, []inventory.App{apps[1], apps[2], apps[0]})

	// Replacing the app list replaces it whole; the same list again (a
	// refresh with nothing changed) and the same app in another version
	// read back as given; an empty list empties it.
	notes := inventory.App{Identifier: "com.example.notes", Name: "Notes"}
	notes2 := inventory.App{Identifier: "com.example.notes", Name: "Notes", Managed: true, Version: "2.0"}
	for _, step := range []struct {
		what string
		apps []inventory.App
	}{{"replaced apps", []inventory.App{notes}}, {"apps saved again unchanged", []inventory.App{notes}}, {"updated app", []inventory.App{notes2}}} {
		got, err = s.SaveInventory(ctx, o.ID, d.ID, got.Version, inventory.Update{At: at(30), ReplaceApps: true, Apps: step.apps})
		noErr(t, "SaveInventory: "+step.what, err)
		gotApps, err = s.DeviceApps(ctx, o.ID, d.ID)
		noErr(t, "DeviceApps", err)
		same(t, step.what, gotApps, step.apps)
	}
	_, err = s.SaveInventory(ctx, o.ID, d.ID, got.Version, inventory.Update{At: at(31), ReplaceApps: true})
	noErr(t, "SaveInventory with an empty app list", err)
	gotApps, err = s.DeviceApps(ctx, o.ID, d.ID)
	noErr(t, "DeviceApps", err)
	same(t, "emptied apps", gotApps, []inventory.App{})

	// No state change, so no audit entries for inventory.
	if n := len(allAudit(t, s, o.ID)); n != 2 {
		t.Errorf("%d audit entries after inventory saves, want 2", n)
	}
}

func testInvSaveRejected(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	d := mustCreateDevice(t, s, newDevice(o.ID, 1), at(1))
	ok := inventory.Value{Key: inventory.KeyDeviceName, Value: "iPad", Source: inventory.SourceDevice, Collected: at(2)}
	tests := []struct {
		name    string
		version int64
		u       inventory.Update
		want    error
	}{
		{"stale version", d.Version - 1, inventory.Update{At: at(2), Values: []inventory.Value{ok}}, storage.ErrConflict},
		{"future version", d.Version + 1, inventory.Update{At: at(2), Values: []inventory.Value{ok}}, storage.ErrConflict},
		{"no time", d.Version, inventory.Update{Values: []inventory.Value{ok}}, storage.ErrInvalid},
		{"key outside the contract", d.Version, inventory.Update{At: at(2), Values: []inventory.Value{ok,
			{Key: "imei", Value: "35 209900 176148 1", Source: inventory.SourceDevice, Collected: at(2)}}}, storage.ErrInvalid},
		{"phone number from the device", d.Version, inventory.Update{At: at(2), Values: []inventory.Value{
			{Key: inventory.KeyPhoneNumber, Value: "+1 555 0100", Source: inventory.SourceDevice, Collected: at(2)}}}, storage.ErrInvalid},
		{"device value claimed from the directory", d.Version, inventory.Update{At: at(2), Values: []inventory.Value{
			{Key: inventory.KeySerialNumber, Value: "X", Source: inventory.SourceDirectory, Collected: at(2)}}}, storage.ErrInvalid},
		{"app list as a value", d.Version, inventory.Update{At: at(2), Values: []inventory.Value{
			{Key: inventory.KeyApps, Value: "Mail", Source: inventory.SourceDevice, Collected: at(2)}}}, storage.ErrInvalid},
		{"number that is not", d.Version, inventory.Update{At: at(2), Values: []inventory.Value{
			{Key: inventory.KeyCapacity, Value: "lots", Source: inventory.SourceDevice, Collected: at(2)}}}, storage.ErrInvalid},
		{"value too long", d.Version, inventory.Update{At: at(2), Values: []inventory.Value{
			{Key: inventory.KeyDeviceName, Value: strings.Repeat("n", inventory.MaxValueLen+1), Source: inventory.SourceDevice, Collected: at(2)}}}, storage.ErrInvalid},
		{"empty value", d.Version, inventory.Update{At: at(2), Values: []inventory.Value{
			{Key: inventory.KeyDeviceName, Source: inventory.SourceDevice, Collected: at(2)}}}, storage.ErrInvalid},
		{"value without time", d.Version, inventory.Update{At: at(2), Values: []inventory.Value{
			{Key: inventory.KeyDeviceName, Value: "x", Source: inventory.SourceDevice}}}, storage.ErrInvalid},
		{"key twice", d.Version, inventory.Update{At: at(2), Values: []inventory.Value{ok, ok}}, storage.ErrInvalid},
		{"stored and removed", d.Version, inventory.Update{At: at(2), Values: []inventory.Value{ok}, Remove: []inventory.Key{ok.Key}}, storage.ErrInvalid},
		{"remove unknown key", d.Version, inventory.Update{At: at(2), Remove: []inventory.Key{"wifi_mac"}}, storage.ErrInvalid},
		{"personal app with version", d.Version, inventory.Update{At: at(2), ReplaceApps: true, Apps: []inventory.App{
			{Identifier: "com.example.game", Name: "Game", Version: "2.0"}}}, storage.ErrInvalid},
		{"personal app with state", d.Version, inventory.Update{At: at(2), ReplaceApps: true, Apps: []inventory.App{
			{Identifier: "com.example.game", Name: "Game", State: "Installing"}}}, storage.ErrInvalid},
		{"app without identifier", d.Version, inventory.Update{At: at(2), ReplaceApps: true, Apps: []inventory.App{{Name: "Game"}}}, storage.ErrInvalid},
		{"app twice", d.Version, inventory.Update{At: at(2), ReplaceApps: true, Apps: []inventory.App{
			{Identifier: "a.b"}, {Identifier: "a.b", Name: "B"}}}, storage.ErrInvalid},
		{"apps without ReplaceApps", d.Version, inventory.Update{At: at(2), Apps: []inventory.App{{Identifier: "a.b"}}}, storage.ErrInvalid},
		{"too many apps", d.Version, inventory.Update{At: at(2), ReplaceApps: true, Apps: manyApps(inventory.MaxApps + 1)}, storage.ErrInvalid},
	}
	for _, tt := range tests {
		before := takeInvSnapshot(t, s)
		_, err := s.SaveInventory(ctx, o.ID, d.ID, tt.version, tt.u)
		wantErr(t, tt.name, err, tt.want)
		invUnchanged(t, tt.name, s, before)
	}
	before := takeInvSnapshot(t, s)
	_, err := s.SaveInventory(ctx, o.ID, "dev_missing", 1, inventory.Update{At: at(2)})
	wantErr(t, "SaveInventory(unknown)", err, storage.ErrNotFound)
	invUnchanged(t, "SaveInventory(unknown)", s, before)
}

func manyApps(n int) []inventory.App {
	apps := make([]inventory.App, n)
	for i := range apps {
		apps[i] = inventory.App{Identifier: fmt.Sprintf("com.example.app%05d", i), Name: fmt.Sprintf("App %d", i)}
	}
	return apps
}

func testInvTouch(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	d := mustCreateDevice(t, s, newDevice(o.ID, 1), at(1))
	noErr(t, "TouchDevice", s.TouchDevice(ctx, o.ID, d.ID, at(5)))
	noErr(t, "TouchDevice earlier", s.TouchDevice(ctx, o.ID, d.ID, at(3)))
	got, err := s.Device(ctx, o.ID, d.ID)
	noErr(t, "Device", err)
	want := d
	want.LastSeen = storage.Normalize(at(5))
	same(t, "device after touches", got, want)

	// An older inventory does not move LastSeen back either.
	_, err = s.SaveInventory(ctx, o.ID, d.ID, d.Version, inventory.Update{At: at(4)})
	noErr(t, "SaveInventory", err)
	got, err = s.Device(ctx, o.ID, d.ID)
	noErr(t, "Device", err)
	same(t, "LastSeen after an older inventory", got.LastSeen, storage.Normalize(at(5)))
	same(t, "LastInventory", got.LastInventory, storage.Normalize(at(4)))

	before := takeInvSnapshot(t, s)
	wantErr(t, "TouchDevice(unknown)", s.TouchDevice(ctx, o.ID, "dev_missing", at(6)), storage.ErrNotFound)
	wantErr(t, "TouchDevice(zero time)", s.TouchDevice(ctx, o.ID, d.ID, time.Time{}), storage.ErrInvalid)
	invUnchanged(t, "rejected touches", s, before)
}

func testInvListPaging(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	var alice, all []inventory.Device
	for i := range 13 {
		d := newDevice(o.ID, i)
		if i%3 == 0 {
			d.UserID = "user:bob"
		}
		d = mustCreateDevice(t, s, d, at(i))
		all = append(all, d)
		if d.UserID == "user:alice" {
			alice = append(alice, d)
		}
	}
	var got []inventory.Device
	q := inventory.DeviceQuery{Limit: 4}
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		p, err := s.ListDevices(ctx, o.ID, q)
		noErr(t, "ListDevices", err)
		if len(p.Devices) > 4 {
			t.Fatalf("page of %d with limit 4", len(p.Devices))
		}
		got = append(got, p.Devices...)
		if p.Next == "" {
			break
		}
		q.After = p.Next
	}
	same(t, "all devices page by page", got, all)
	p, err := s.ListDevices(ctx, o.ID, inventory.DeviceQuery{UserID: "user:alice"})
	noErr(t, "ListDevices(alice)", err)
	same(t, "alice's devices", p.Devices, alice)
	if p.Next != "" {
		t.Errorf("single page has Next %q", p.Next)
	}
	_, err = s.ListDevices(ctx, o.ID, inventory.DeviceQuery{Limit: -1})
	wantErr(t, "negative limit", err, storage.ErrInvalid)
	empty, err := s.ListDevices(ctx, "org_nobody", inventory.DeviceQuery{})
	noErr(t, "ListDevices(unknown org)", err)
	same(t, "devices of an unknown org", empty.Devices, []inventory.Device{})
}

func testInvDueForRefresh(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	mk := func(n int, state inventory.State, inv time.Time) inventory.Device {
		d := newDevice(o.ID, n)
		d.State = state
		d = mustCreateDevice(t, s, d, at(0))
		if !inv.IsZero() {
			var err error
			d, err = s.SaveInventory(ctx, o.ID, d.ID, d.Version, inventory.Update{At: inv})
			noErr(t, "SaveInventory", err)
		}
		return d
	}
	old := mk(1, inventory.StateEnrolled, at(10))
	fresh := mk(2, inventory.StateEnrolled, at(100))
	never1 := mk(3, inventory.StateEnrolled, time.Time{})
	older := mk(4, inventory.StateEnrolled, at(5))
	mk(5, inventory.StatePending, time.Time{})
	mk(6, inventory.StateDeprovisioning, at(1))
	never0 := mk(7, inventory.StateEnrolled, time.Time{})
	_ = fresh

	due, err := s.DevicesDueForRefresh(ctx, o.ID, at(50), 10)
	noErr(t, "DevicesDueForRefresh", err)
	same(t, "due devices", due, []inventory.Device{never1, never0, older, old})
	due, err = s.DevicesDueForRefresh(ctx, o.ID, at(50), 3)
	noErr(t, "DevicesDueForRefresh(limit 3)", err)
	same(t, "first three due devices", due, []inventory.Device{never1, never0, older})
	due, err = s.DevicesDueForRefresh(ctx, o.ID, at(10), 10)
	noErr(t, "DevicesDueForRefresh(at the boundary)", err)
	same(t, "due strictly before", due, []inventory.Device{never1, never0, older})
	for _, limit := range []int{0, -1, inventory.MaxDevicePage + 1} {
		_, err = s.DevicesDueForRefresh(ctx, o.ID, at(50), limit)
		wantErr(t, fmt.Sprintf("limit %d", limit), err, storage.ErrInvalid)
	}
}

func testInvConcurrentState(t testing.TB, s Store) {
	const n = 8
	o := mustCreateOrg(t, s, "acme")
	d := mustCreateDevice(t, s, newDevice(o.ID, 1), at(1))
	errs := parallel(n, func(i int) error {
		to := inventory.StateDeprovisioned
		if i%2 == 1 {
			to = inventory.StateWiped
		}
		_, err := s.UpdateDeviceState(t.Context(), o.ID, d.ID, to, deviceEntry(o.ID, "device.state."+string(to), at(i+2)))
		return err
	})
	got, err := s.Device(t.Context(), o.ID, d.ID)
	noErr(t, "Device", err)
	if got.Version != 2 {
		t.Errorf("version after racing terminal transitions = %d, want 2", got.Version)
	}
	// The winner's target is a no-op for its peers; the other target is
	// refused.
	c := countErrs(errs, storage.ErrConflict)
	same(t, "racing transitions", c, map[string]int{"nil": n / 2, storage.ErrConflict.Error(): n / 2})
	if log := allAudit(t, s, o.ID); len(log) != 3 {
		t.Errorf("%d audit entries, want 3 (org, device, one transition)", len(log))
	}
}

func testInvConcurrentSave(t testing.TB, s Store) {
	const n = 8
	o := mustCreateOrg(t, s, "acme")
	d := mustCreateDevice(t, s, newDevice(o.ID, 1), at(1))
	errs := parallel(n, func(i int) error {
		_, err := s.SaveInventory(t.Context(), o.ID, d.ID, d.Version, inventory.Update{At: at(2 + i), ReplaceApps: true,
			Apps: []inventory.App{{Identifier: fmt.Sprintf("com.example.writer%d", i)}}})
		return err
	})
	same(t, "concurrent SaveInventory outcomes", countErrs(errs, storage.ErrConflict),
		map[string]int{"nil": 1, storage.ErrConflict.Error(): n - 1})
	apps, err := s.DeviceApps(t.Context(), o.ID, d.ID)
	noErr(t, "DeviceApps", err)
	if len(apps) != 1 {
		t.Errorf("%d apps after racing replacements, want one writer's list", len(apps))
	}
}

func testInvConcurrentCreate(t testing.TB, s Store) {
	const n = 8
	o := mustCreateOrg(t, s, "acme")
	errs := parallel(n, func(i int) error {
		d := newDevice(o.ID, i)
		d.Identifier = "SAME-UDID"
		_, err := s.CreateDevice(t.Context(), d, deviceEntry(o.ID, "device.register", at(i)))
		return err
	})
	same(t, "concurrent CreateDevice outcomes", countErrs(errs, storage.ErrAlreadyExists),
		map[string]int{"nil": 1, storage.ErrAlreadyExists.Error(): n - 1})
	if log := allAudit(t, s, o.ID); len(log) != 2 {
		t.Errorf("%d audit entries, want 2", len(log))
	}
}
