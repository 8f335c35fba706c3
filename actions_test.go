package omm_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/openomm/omm"
	"github.com/openomm/omm/inventory"
)

// TestDeviceActionsFollowStateAndOwnership: what a console offers is what
// Act accepts, by the device's state, platform, ownership and policy.
func TestDeviceActionsFollowStateAndOwnership(t *testing.T) {
	e := newEnv(t, "")
	ctx := t.Context()
	register := func(udid string, own inventory.Ownership, state inventory.State) inventory.Device {
		t.Helper()
		d, err := e.sdk.Inventory.Register(ctx, inventory.Device{Org: e.org, UserID: e.users["alice"], Platform: inventory.PlatformIOS,
			Ownership: own, EnrollmentType: inventory.EnrollAppleDevice, State: state, Identifier: udid}, "test")
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	enrolled := register("UDID-1", inventory.OwnershipPersonal, inventory.StateEnrolled)
	gone := register("UDID-2", inventory.OwnershipPersonal, inventory.StateEnrolled)
	if err := e.sdk.Act(ctx, gone, omm.ActionDeprovision, "admin:test"); err != nil {
		t.Fatal(err)
	}
	gone, err := e.sdk.Inventory.SetState(ctx, e.org, gone.ID, inventory.StateDeprovisioned, "test", "the device removed its profile")
	if err != nil {
		t.Fatal(err)
	}
	pending := register("UDID-3", inventory.OwnershipCompany, inventory.StatePending)

	offered := func(d inventory.Device) string {
		t.Helper()
		cs, err := e.sdk.DeviceActions(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		var on []string
		for _, c := range cs {
			if c.Allowed {
				on = append(on, string(c.Action))
			} else if c.Why == "" {
				t.Errorf("%s refused without a reason", c.Action)
			}
		}
		return strings.Join(on, ",")
	}
	for _, tt := range []struct {
		name string
		d    inventory.Device
		want string
	}{
		{"personal iPhone", enrolled, "lock,deprovision,refresh"}, // the staff policy allows no factory reset
		{"deprovisioned", gone, ""},
		{"pending", pending, ""},
	} {
		if got := offered(tt.d); got != tt.want {
			t.Errorf("%s: offered %q, want %q", tt.name, got, tt.want)
		}
	}
	// Act refuses what is not offered, saying why, and queues nothing.
	for _, a := range omm.Actions() {
		err := e.sdk.Act(ctx, gone, a, "admin:test")
		if !errors.Is(err, omm.ErrNotPermitted) || !strings.Contains(err.Error(), "no longer managed") {
			t.Errorf("%s on a deprovisioned device: %v", a, err)
		}
	}
	cmds, err := e.sdk.Commands(ctx, gone)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		if c.RequestType == "DeviceLock" || c.RequestType == "EraseDevice" {
			t.Errorf("a refused action queued %s", c.RequestType)
		}
	}
	if err := e.sdk.Act(ctx, enrolled, omm.ActionErase, "admin:test"); !errors.Is(err, omm.ErrNotPermitted) || !strings.Contains(err.Error(), "personally owned") {
		t.Errorf("erase of a personal iPhone: %v", err)
	}
	if err := e.sdk.Act(ctx, enrolled, "explode", "admin:test"); !errors.Is(err, omm.ErrBadRequest) {
		t.Errorf("unknown action: %v", err)
	}
}
