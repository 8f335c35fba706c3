package checkin_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/sqlite"
)

// TestDeviceActionFailsWhole: a store failure in the middle of an action's
// transaction (after the state change is written, while its commands are
// queued) leaves the device as it was: not deprovisioning without its
// commands, and no audit entry of a change that did not happen.
func TestDeviceActionFailsWhole(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "omm.db")
	s, err := sqlite.Open(ctx, path, sqlite.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	const org storage.OrgID = "org_acme"
	if _, err := s.CreateOrg(ctx, storage.Org{ID: org, Name: "acme", DisplayName: "Acme"},
		storage.AuditEntry{Org: org, Time: now, Actor: "system", Action: "org.create"}); err != nil {
		t.Fatal(err)
	}
	inv := inventory.New(s, inventory.WithClock(func() time.Time { return now }), inventory.WithLogger(quiet))
	svc := checkin.New(s, checkin.Inventory{Service: inv, Store: s}, cas{}, checkin.WithClock(func() time.Time { return now }), checkin.WithLogger(quiet))
	d, err := inv.Register(ctx, inventory.Device{
		Org: org, UserID: "alice", Platform: inventory.PlatformIOS, Ownership: inventory.OwnershipCompany,
		EnrollmentType: inventory.EnrollAppleDevice, State: inventory.StateEnrolled, Identifier: "UDID-FAIL",
	}, "system")
	if err != nil {
		t.Fatal(err)
	}

	// Fail every command queued for the device from now on, inside the
	// store's own transaction.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TRIGGER fail_queue BEFORE INSERT ON omm_enroll_queue
		WHEN NEW.device = '`+d.ID+`' BEGIN SELECT RAISE(ABORT, 'injected failure'); END`); err != nil {
		t.Fatal(err)
	}
	audit := func() int {
		p, err := s.ListAudit(ctx, org, storage.AuditQuery{Limit: storage.MaxAuditPage})
		if err != nil {
			t.Fatal(err)
		}
		return len(p.Entries)
	}
	before := audit()
	actions := []struct {
		name string
		run  func(context.Context) error
	}{
		{"Deprovision", func(ctx context.Context) error { return svc.Deprovision(ctx, org, d.ID, "admin:bob", "left") }},
		{"Erase", func(ctx context.Context) error { return svc.Erase(ctx, org, d.ID, "admin:bob", true) }},
		{"Lock", func(ctx context.Context) error { return svc.Lock(ctx, org, d.ID, "admin:bob", "Call IT", "") }},
	}
	for _, a := range actions {
		if err := a.run(ctx); err == nil {
			t.Fatalf("%s succeeded although queueing failed", a.name)
		}
		got, err := s.Device(ctx, org, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != inventory.StateEnrolled || got.Version != d.Version {
			t.Errorf("%s: device %s (version %d) after a failed action, want enrolled (version %d)", a.name, got.State, got.Version, d.Version)
		}
		if cmds, err := s.Commands(ctx, org, d.ID, 100); err != nil || len(cmds) != 0 {
			t.Errorf("%s: commands %v, %v after a failed action", a.name, cmds, err)
		}
		if n := audit(); n != before {
			t.Errorf("%s: %d audit entries appended by a failed action", a.name, n-before)
		}
	}

	// Once the store works again, the action lands whole.
	if _, err := db.ExecContext(ctx, "DROP TRIGGER fail_queue"); err != nil {
		t.Fatal(err)
	}
	if err := svc.Deprovision(ctx, org, d.ID, "admin:bob", "left"); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Device(ctx, org, d.ID)
	cmds, err := s.Commands(ctx, org, d.ID, 100)
	if got.State != inventory.StateDeprovisioning || err != nil || len(cmds) != 1 || cmds[0].RequestType != "RemoveProfile" {
		t.Errorf("after deprovision: %s, commands %+v, %v", got.State, cmds, err)
	}
	// A second deprovision that read the device enrolled is refused by the
	// store rather than queueing its commands too.
	_, err = s.QueueDeviceAction(ctx, enroll.DeviceAction{Org: org, Device: d.ID, From: []inventory.State{inventory.StateEnrolled},
		To: inventory.StateDeprovisioning, StateEntry: storage.AuditEntry{Org: org, Time: now, Actor: "admin:bob", Action: "device.state.deprovisioning"},
		Commands: []enroll.ActionCommand{{Command: enroll.Command{UUID: "late", RequestType: "RemoveProfile", Body: []byte("<plist/>")},
			Entry: storage.AuditEntry{Org: org, Time: now, Actor: "admin:bob", Action: "device.deprovision"}}},
	})
	if !errors.Is(err, storage.ErrConflict) {
		t.Errorf("deprovision of a device read enrolled but now deprovisioning: %v", err)
	}
}
