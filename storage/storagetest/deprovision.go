package storagetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

func deprovisionCases() []testCase {
	return []testCase{
		{"DeviceAction/Whole", testActionWhole},
		{"DeviceAction/NothingOnFailure", testActionNothingOnFailure},
		{"DeviceAction/ConcurrentDeprovision", testActionConcurrent},
		{"DeviceAction/WithToken", testActionWithToken},
		{"DeviceAction/WithPolicy", testActionWithPolicy},
		{"DeviceAction/WithInstalls", testActionWithInstalls},
		{"DeviceAction/ManyCommandsInOrder", testActionManyCommands},
	}
}

// deprovisionAction moves dev from enrolled to deprovisioning with n
// commands named prefix-i.
func deprovisionAction(org storage.OrgID, dev, prefix string, n int) enroll.DeviceAction {
	a := enroll.DeviceAction{
		Org: org, Device: dev, From: []inventory.State{inventory.StateEnrolled}, To: inventory.StateDeprovisioning,
		StateEntry: deviceEntry(org, "device.state.deprovisioning", at(5)),
	}
	for i := range n {
		uuid := fmt.Sprintf("%s-%d", prefix, i)
		a.Commands = append(a.Commands, enroll.ActionCommand{
			Command: enroll.Command{UUID: uuid, RequestType: "RemoveProfile", Body: []byte("<plist>" + uuid + "</plist>")},
			Entry:   deviceEntry(org, "device.deprovision", at(5)),
		})
	}
	return a
}

// testActionWhole: the state change, every command (in order) and every
// audit entry are stored together.
func testActionWhole(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	d := mustCreateDevice(t, s, newDevice(o.ID, 1), at(1))
	n := len(allAudit(t, s, o.ID))
	got, err := s.QueueDeviceAction(ctx, deprovisionAction(o.ID, d.ID, "rm", 3))
	noErr(t, "QueueDeviceAction", err)
	want := d
	want.State, want.Version, want.Updated = inventory.StateDeprovisioning, d.Version+1, storage.Normalize(at(5))
	same(t, "QueueDeviceAction result", got, want)
	stored, err := s.Device(ctx, o.ID, d.ID)
	noErr(t, "Device", err)
	same(t, "stored device", stored, want)
	same(t, "queued commands", queued(t, s, o.ID, d.ID), []string{"rm-2", "rm-1", "rm-0"})
	if audit := allAudit(t, s, o.ID); len(audit) != n+4 {
		t.Errorf("QueueDeviceAction appended %d audit entries, want 4", len(audit)-n)
	}

	// Without a state change (lock, erase): only the commands.
	lock := enroll.DeviceAction{Org: o.ID, Device: d.ID, Commands: deprovisionAction(o.ID, d.ID, "lock", 1).Commands}
	got, err = s.QueueDeviceAction(ctx, lock)
	noErr(t, "QueueDeviceAction(no state change)", err)
	same(t, "device after an action without state change", got, want)
	same(t, "queued commands", queued(t, s, o.ID, d.ID), []string{"lock-0", "rm-2", "rm-1", "rm-0"})
}

// testActionManyCommands: an action queueing more commands than a store
// may write in one statement keeps their order, and a taken UUID past
// the first statement's rows still leaves nothing queued.
func testActionManyCommands(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	d := mustCreateDevice(t, s, newDevice(o.ID, 1), at(1))
	const n = 250
	noErr(t, "EnqueueCommand", s.EnqueueCommand(ctx, o.ID, []string{"dev_other"},
		enroll.Command{UUID: "taken", RequestType: "DeviceLock", Body: []byte("<plist/>")}, deviceEntry(o.ID, "mdm.command.queue", at(2))))
	late := deprovisionAction(o.ID, d.ID, "late", n)
	late.Commands[n-1].Command.UUID = "taken"
	_, err := s.QueueDeviceAction(ctx, late)
	wantErr(t, "QueueDeviceAction(last of 250 taken)", err, storage.ErrAlreadyExists)
	same(t, "queued after a refused action", len(allQueued(t, s, o.ID, d.ID)), 0)

	_, err = s.QueueDeviceAction(ctx, deprovisionAction(o.ID, d.ID, "rm", n))
	noErr(t, "QueueDeviceAction(250 commands)", err)
	want := make([]string, n)
	for i := range n {
		want[n-1-i] = fmt.Sprintf("rm-%d", i) // newest first
	}
	same(t, "queued commands", allQueued(t, s, o.ID, d.ID), want)
}

// allQueued is queued for up to 1000 commands.
func allQueued(t testing.TB, s Store, org storage.OrgID, device string) []string {
	t.Helper()
	cmds, err := s.Commands(t.Context(), org, device, 1000)
	noErr(t, "Commands", err)
	ids := make([]string, len(cmds))
	for i, c := range cmds {
		ids[i] = c.UUID
	}
	return ids
}

// testActionNothingOnFailure: an action refused at any point, including
// its last command inside the transaction, changes nothing.
func testActionNothingOnFailure(t testing.TB, s Store) {
	ctx := t.Context()
	a := mustCreateOrg(t, s, "acme")
	b := mustCreateOrg(t, s, "beta")
	d := mustCreateDevice(t, s, newDevice(a.ID, 1), at(1))
	pending := newDevice(a.ID, 2)
	pending.State = inventory.StatePending
	p := mustCreateDevice(t, s, pending, at(1))
	noErr(t, "EnqueueCommand", s.EnqueueCommand(ctx, a.ID, []string{"dev_other"},
		enroll.Command{UUID: "taken", RequestType: "DeviceLock", Body: []byte("<plist/>")}, deviceEntry(a.ID, "mdm.command.queue", at(2))))

	lastTaken := deprovisionAction(a.ID, d.ID, "rm", 3)
	lastTaken.Commands[2].Command.UUID = "taken"
	invalid := deprovisionAction(a.ID, d.ID, "rm", 3)
	invalid.Commands[1].Command.Body = nil
	twice := deprovisionAction(a.ID, d.ID, "rm", 2)
	twice.Commands[1].Command.UUID = twice.Commands[0].Command.UUID
	otherOrg := deprovisionAction(b.ID, d.ID, "rm", 2)
	foreignEntry := deprovisionAction(a.ID, d.ID, "rm", 2)
	foreignEntry.Commands[1].Entry.Org = b.ID
	tests := []struct {
		name string
		a    enroll.DeviceAction
		want error
	}{
		{"last command's UUID already queued", lastTaken, storage.ErrAlreadyExists},
		{"invalid command in the batch", invalid, storage.ErrInvalid},
		{"UUID twice in the batch", twice, storage.ErrInvalid},
		{"audit entry of another org", foreignEntry, storage.ErrInvalid},
		{"another org's device", otherOrg, storage.ErrNotFound},
		{"unknown device", deprovisionAction(a.ID, "dev_999", "rm", 2), storage.ErrNotFound},
		{"device in the wrong state", deprovisionAction(a.ID, p.ID, "rm", 2), storage.ErrConflict},
		{"no commands", deprovisionAction(a.ID, d.ID, "rm", 0), storage.ErrInvalid},
	}
	for _, tc := range tests {
		before := takeInvSnapshot(t, s)
		beforeQ := [][]string{queued(t, s, a.ID, d.ID), queued(t, s, a.ID, p.ID), queued(t, s, b.ID, d.ID)}
		_, err := s.QueueDeviceAction(ctx, tc.a)
		wantErr(t, "QueueDeviceAction("+tc.name+")", err, tc.want)
		invUnchanged(t, "QueueDeviceAction("+tc.name+")", s, before)
		same(t, "queues after QueueDeviceAction("+tc.name+")",
			[][]string{queued(t, s, a.ID, d.ID), queued(t, s, a.ID, p.ID), queued(t, s, b.ID, d.ID)}, beforeQ)
	}
}

// testActionConcurrent: of concurrent deprovisions of one device, each
// moving it from enrolled, exactly one stores its state and commands.
func testActionConcurrent(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	d := mustCreateDevice(t, s, newDevice(o.ID, 1), at(1))
	const n = 6
	errs := parallel(n, func(i int) error {
		_, err := s.QueueDeviceAction(ctx, deprovisionAction(o.ID, d.ID, fmt.Sprintf("c%d", i), 3))
		return err
	})
	same(t, "concurrent deprovisions", countErrs(errs, storage.ErrConflict), map[string]int{"nil": 1, storage.ErrConflict.Error(): n - 1})
	if got := queued(t, s, o.ID, d.ID); len(got) != 3 {
		t.Errorf("queued %v, want one deprovision's 3 commands", got)
	}
	stored, err := s.Device(ctx, o.ID, d.ID)
	noErr(t, "Device", err)
	if stored.State != inventory.StateDeprovisioning || stored.Version != d.Version+1 {
		t.Errorf("device %s version %d, want deprovisioning version %d", stored.State, stored.Version, d.Version+1)
	}
}

// testActionWithToken: the TokenUpdate that completes an enrollment is
// stored with the state change and the commands, or not at all.
func testActionWithToken(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	pending := newDevice(o.ID, 1)
	pending.State = inventory.StatePending
	d := mustCreateDevice(t, s, pending, at(1))
	startEnrollment(t, s, o.ID, d.ID)
	complete := func(uuid string, token string) enroll.DeviceAction {
		u := tokenUpdate(token, []byte("unlock-"+token), at(6))
		return enroll.DeviceAction{
			Org: o.ID, Device: d.ID, From: []inventory.State{inventory.StatePending}, To: inventory.StateEnrolled,
			StateEntry: deviceEntry(o.ID, "device.state.enrolled", at(6)), Token: &u,
			Commands: []enroll.ActionCommand{{
				Command: enroll.Command{UUID: uuid, RequestType: "DeviceInformation", Body: []byte("<plist>" + uuid + "</plist>")},
				Entry:   deviceEntry(o.ID, "device.inventory.refresh", at(6)),
			}},
		}
	}

	// Refusals store no token: a command queued before, a missing
	// enrollment, an invalid token.
	enqueue(t, s, o.ID, "taken", d.ID)
	before := takeInvSnapshot(t, s)
	_, err := s.QueueDeviceAction(ctx, complete("taken", "t0"))
	wantErr(t, "a command queued before", err, storage.ErrAlreadyExists)
	noEnrollment := mustCreateDevice(t, s, func() inventory.Device { x := newDevice(o.ID, 2); x.State = inventory.StatePending; return x }(), at(1))
	before = takeInvSnapshot(t, s)
	a := complete("c0", "t0")
	a.Device = noEnrollment.ID
	_, err = s.QueueDeviceAction(ctx, a)
	wantErr(t, "a device without an enrollment", err, storage.ErrNotFound)
	a = complete("c0", "")
	_, err = s.QueueDeviceAction(ctx, a)
	wantErr(t, "a token update without a token", err, storage.ErrInvalid)
	invUnchanged(t, "refused completions", s, before)
	e, err := s.Enrollment(ctx, o.ID, d.ID)
	noErr(t, "Enrollment", err)
	if e.Token != nil || !e.Enrolled.IsZero() {
		t.Errorf("a refused completion stored the token: %+v", e)
	}

	got, err := s.QueueDeviceAction(ctx, complete("c1", "t1"))
	noErr(t, "QueueDeviceAction with a token", err)
	if got.State != inventory.StateEnrolled {
		t.Errorf("device after completion: %s", got.State)
	}
	e, err = s.Enrollment(ctx, o.ID, d.ID)
	noErr(t, "Enrollment", err)
	if string(e.Token) != "t1" || e.PushMagic != "magic-t1" || string(e.UnlockToken) != "unlock-t1" || !e.Enrolled.Equal(storage.Normalize(at(6))) {
		t.Errorf("enrollment after completion: %+v", e)
	}
	if st := statuses(t, s, o.ID, d.ID); st["c1"] != enroll.StatusPending {
		t.Errorf("queue after completion: %v", st)
	}

	// A second completion (a concurrent TokenUpdate) is refused whole:
	// the device is no longer pending; its token stays the first one.
	after := takeInvSnapshot(t, s)
	_, err = s.QueueDeviceAction(ctx, complete("c2", "t2"))
	wantErr(t, "completing an enrolled device", err, storage.ErrConflict)
	invUnchanged(t, "refused second completion", s, after)
	e, err = s.Enrollment(ctx, o.ID, d.ID)
	noErr(t, "Enrollment", err)
	if string(e.Token) != "t1" {
		t.Errorf("a refused completion replaced the token: %q", e.Token)
	}
}

// testActionWithPolicy: the completion of an enrollment records the
// device's policy with it (entry after the commands'), or not at all; a
// device that has a record (in its own org) keeps it.
func testActionWithPolicy(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	b := mustCreateOrg(t, s, "beta")
	newPending := func(n int) inventory.Device {
		x := newDevice(o.ID, n)
		x.State = inventory.StatePending
		d := mustCreateDevice(t, s, x, at(1))
		startEnrollment(t, s, o.ID, d.ID)
		return d
	}
	complete := func(dev, uuid string) enroll.DeviceAction {
		u := tokenUpdate("t-"+uuid, nil, at(6))
		return enroll.DeviceAction{
			Org: o.ID, Device: dev, From: []inventory.State{inventory.StatePending}, To: inventory.StateEnrolled,
			StateEntry: deviceEntry(o.ID, "device.state.enrolled", at(6)), Token: &u,
			Commands: []enroll.ActionCommand{{
				Command: enroll.Command{UUID: uuid, RequestType: "DeviceInformation", Body: []byte("<plist>" + uuid + "</plist>")},
				Entry:   deviceEntry(o.ID, "device.inventory.refresh", at(6)),
			}},
			Policy:      &policy.Applied{Org: o.ID, Device: dev, Policy: "pol-enrolled", Fingerprint: fmt.Sprintf("%064x", 9)},
			PolicyEntry: deviceEntry(o.ID, "device.policy.recorded", at(7)),
		}
	}
	d := newPending(1)
	// Another org's record of the same device ID is not this device's.
	_, err := s.ApplyPolicy(ctx, policy.Applied{Org: b.ID, Device: d.ID, Policy: "pol-beta"}, nil, deviceEntry(b.ID, "device.policy.recorded", at(2)))
	noErr(t, "ApplyPolicy(other org)", err)

	// Refusals record nothing.
	enqueue(t, s, o.ID, "taken", "dev_elsewhere")
	wrongDevice := complete(d.ID, "c0")
	wrongDevice.Policy.Device = "dev_elsewhere"
	notNew := complete(d.ID, "c0")
	notNew.Policy.Version = 1
	foreign := complete(d.ID, "c0")
	foreign.PolicyEntry.Org = b.ID
	for _, tc := range []struct {
		name string
		a    enroll.DeviceAction
		want error
	}{
		{"a command queued before", complete(d.ID, "taken"), storage.ErrAlreadyExists},
		{"a record of another device", wrongDevice, storage.ErrInvalid},
		{"a record that is not new", notNew, storage.ErrInvalid},
		{"an entry of another org", foreign, storage.ErrInvalid},
	} {
		before := takeInvSnapshot(t, s)
		n := len(allAudit(t, s, o.ID))
		_, err := s.QueueDeviceAction(ctx, tc.a)
		wantErr(t, "QueueDeviceAction("+tc.name+")", err, tc.want)
		invUnchanged(t, "QueueDeviceAction("+tc.name+")", s, before)
		_, err = s.AppliedPolicy(ctx, o.ID, d.ID)
		wantErr(t, "record after QueueDeviceAction("+tc.name+")", err, storage.ErrNotFound)
		if got := len(allAudit(t, s, o.ID)); got != n {
			t.Errorf("QueueDeviceAction(%s) appended %d audit entries", tc.name, got-n)
		}
	}

	n := len(allAudit(t, s, o.ID))
	_, err = s.QueueDeviceAction(ctx, complete(d.ID, "c1"))
	noErr(t, "QueueDeviceAction with a policy record", err)
	got, err := s.AppliedPolicy(ctx, o.ID, d.ID)
	noErr(t, "AppliedPolicy", err)
	want := *complete(d.ID, "c1").Policy
	want.Version, want.Updated = 1, storage.Normalize(at(7))
	same(t, "policy record after completion", got, want)
	var actions []string
	for _, e := range allAudit(t, s, o.ID)[n:] {
		actions = append(actions, e.Action)
	}
	slices.Sort(actions) // in the org's order, the policy entry after the commands'; a listing's order is not this case's subject
	same(t, "audit entries of the completion", actions, []string{"device.inventory.refresh", "device.policy.recorded", "device.state.enrolled"})
	other, err := s.AppliedPolicy(ctx, b.ID, d.ID)
	noErr(t, "AppliedPolicy(other org)", err)
	if other.Policy != "pol-beta" || other.Version != 1 {
		t.Errorf("the other org's record changed: %+v", other)
	}

	// A device that has a record keeps it; no entry is written for it.
	d2 := newPending(2)
	kept, err := s.ApplyPolicy(ctx, policy.Applied{Org: o.ID, Device: d2.ID, Policy: "pol-later"}, nil, deviceEntry(o.ID, "device.policy.recorded", at(3)))
	noErr(t, "ApplyPolicy", err)
	n = len(allAudit(t, s, o.ID))
	_, err = s.QueueDeviceAction(ctx, complete(d2.ID, "c2"))
	noErr(t, "QueueDeviceAction(a device with a record)", err)
	got, err = s.AppliedPolicy(ctx, o.ID, d2.ID)
	noErr(t, "AppliedPolicy", err)
	same(t, "a record the completion found", got, kept)
	if added := len(allAudit(t, s, o.ID)) - n; added != 2 {
		t.Errorf("completion of a device with a record appended %d audit entries, want 2 (state, command)", added)
	}
}

// testActionWithInstalls: the app installs an action starts are recorded
// with it (each with its entry, its command among the action's), or not
// at all: an app not in the device's org's catalog, or a request already
// recorded for the app on the device, refuses the whole action.
func testActionWithInstalls(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	b := mustCreateOrg(t, s, "beta")
	store, inHouse, _ := sampleApps(o.ID)
	mustCreateApp(t, s, store, 1)
	mustCreateApp(t, s, inHouse, 1)
	betaOnly := catalog.App{ID: "app_beta", Org: b.ID, Kind: catalog.AppStore, Identifier: "com.beta.only", StoreID: 7, Name: "Beta"}
	mustCreateApp(t, s, betaOnly, 1)
	x := newDevice(o.ID, 1)
	x.State = inventory.StatePending
	d := mustCreateDevice(t, s, x, at(1))
	startEnrollment(t, s, o.ID, d.ID)
	complete := func(prefix string, apps ...string) enroll.DeviceAction {
		u := tokenUpdate("t-"+prefix, nil, at(6))
		a := enroll.DeviceAction{
			Org: o.ID, Device: d.ID, From: []inventory.State{inventory.StatePending}, To: inventory.StateEnrolled,
			StateEntry: deviceEntry(o.ID, "device.state.enrolled", at(6)), Token: &u,
			Commands: []enroll.ActionCommand{{
				Command: enroll.Command{UUID: prefix + "-inv", RequestType: "DeviceInformation", Body: []byte("<plist/>")},
				Entry:   deviceEntry(o.ID, "device.inventory.refresh", at(6)),
			}},
		}
		for _, app := range apps {
			uuid := prefix + "-" + app
			a.Commands = append(a.Commands, enroll.ActionCommand{
				Command: enroll.Command{UUID: uuid, RequestType: "InstallApplication", Body: []byte("<plist>" + uuid + "</plist>")},
				Entry:   catEntry(o.ID, "mdm.command.queue", "device:"+d.ID, 6),
			})
			a.Installs = append(a.Installs, enroll.AppInstall{AppID: app, Command: uuid, BundleVersion: map[string]string{inHouse.ID: inHouse.BundleVersion}[app],
				Entry: catEntry(o.ID, "catalog.install.request", "device:"+d.ID, 6)})
		}
		return a
	}

	notCarried := complete("c0", store.ID)
	notCarried.Installs[0].Command = "elsewhere"
	foreignEntry := complete("c0", store.ID)
	foreignEntry.Installs[0].Entry.Org = b.ID
	for _, tc := range []struct {
		name string
		a    enroll.DeviceAction
		want error
	}{
		{"an app of another org", complete("c0", store.ID, betaOnly.ID), storage.ErrNotFound},
		{"an unknown app", complete("c0", store.ID, "app_none"), storage.ErrNotFound},
		{"a command that is not the action's", notCarried, storage.ErrInvalid},
		{"an entry of another org", foreignEntry, storage.ErrInvalid},
	} {
		before := takeInvSnapshot(t, s)
		cat := takeCatalogSnapshot(t, s, d.ID)
		n := len(allAudit(t, s, o.ID))
		_, err := s.QueueDeviceAction(ctx, tc.a)
		wantErr(t, "QueueDeviceAction("+tc.name+")", err, tc.want)
		invUnchanged(t, "QueueDeviceAction("+tc.name+")", s, before)
		catalogUnchanged(t, "QueueDeviceAction("+tc.name+")", s, cat, d.ID)
		if got := queued(t, s, o.ID, d.ID); len(got) != 0 {
			t.Errorf("QueueDeviceAction(%s) queued %v", tc.name, got)
		}
		if got := len(allAudit(t, s, o.ID)); got != n {
			t.Errorf("QueueDeviceAction(%s) appended %d audit entries", tc.name, got-n)
		}
	}

	n := len(allAudit(t, s, o.ID))
	_, err := s.QueueDeviceAction(ctx, complete("c1", store.ID, inHouse.ID))
	noErr(t, "QueueDeviceAction with installs", err)
	ins, err := s.DeviceInstalls(ctx, o.ID, d.ID)
	noErr(t, "DeviceInstalls", err)
	want := []catalog.Install{
		{Org: o.ID, Device: d.ID, AppID: store.ID, Command: "c1-" + store.ID, Progress: catalog.Queued, Updated: storage.Normalize(at(6))},
		{Org: o.ID, Device: d.ID, AppID: inHouse.ID, Command: "c1-" + inHouse.ID, Progress: catalog.Queued, BundleVersion: inHouse.BundleVersion, Updated: storage.Normalize(at(6))},
	}
	slices.SortFunc(ins, func(x, y catalog.Install) int { return strings.Compare(x.Command, y.Command) })
	slices.SortFunc(want, func(x, y catalog.Install) int { return strings.Compare(x.Command, y.Command) })
	same(t, "installs after the action", ins, want)
	if got := queued(t, s, o.ID, d.ID); len(got) != 3 {
		t.Errorf("queued %v, want the action's 3 commands", got)
	}
	if added := len(allAudit(t, s, o.ID)) - n; added != 6 {
		t.Errorf("the action appended %d audit entries, want 6 (state, 3 commands, 2 installs)", added)
	}

	// A second request for an app already recorded on the device is
	// refused whole.
	u := tokenUpdate("t-again", nil, at(7))
	again := enroll.DeviceAction{Org: o.ID, Device: d.ID, Token: &u,
		Commands: []enroll.ActionCommand{{Command: enroll.Command{UUID: "c2-" + store.ID, RequestType: "InstallApplication", Body: []byte("<plist/>")},
			Entry: catEntry(o.ID, "mdm.command.queue", "device:"+d.ID, 7)}},
		Installs: []enroll.AppInstall{{AppID: store.ID, Command: "c2-" + store.ID, Entry: catEntry(o.ID, "catalog.install.request", "device:"+d.ID, 7)}}}
	cat := takeCatalogSnapshot(t, s, d.ID)
	_, err = s.QueueDeviceAction(ctx, again)
	wantErr(t, "QueueDeviceAction(an app already requested)", err, storage.ErrConflict)
	catalogUnchanged(t, "QueueDeviceAction(an app already requested)", s, cat, d.ID)
	if got := queued(t, s, o.ID, d.ID); len(got) != 3 {
		t.Errorf("a refused action queued: %v", got)
	}
}
