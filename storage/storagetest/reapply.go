package storagetest

import (
	"fmt"
	"testing"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/ota"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// reapplyStore is what re-applying changed policies to enrolled devices
// stores: policy.Applied records, written with the command (Apple) or the
// Android device's new requirements in one transaction.
type reapplyStore interface {
	ota.ReapplyStore
	android.ReapplyStore
}

func reapplyCases() []testCase {
	return []testCase{
		{"Reapply/RecordRoundTrip", testAppliedRoundTrip},
		{"Reapply/CommandWithRecord", testAppliedWithCommand},
		{"Reapply/AndroidRequirements", testAppliedAndroid},
		{"Reapply/DeviceEnrollSession", testAppliedEnrollSession},
		{"Reapply/ConcurrentWriters", testAppliedConcurrent},
		{"Reapply/TenantIsolation", testAppliedTenantIsolation},
	}
}

func sampleApplied(org storage.OrgID, device string) policy.Applied {
	return policy.Applied{Org: org, Device: device, Policy: "pol-1", Fingerprint: fmt.Sprintf("%064x", 7),
		OutOfPolicy: "policy \"Staff\" — no longer targets the user's groups"}
}

func reapplyEntry(org storage.OrgID, action string, minute int) storage.AuditEntry {
	return storage.AuditEntry{Org: org, Time: at(minute), Actor: "admin:root", Action: action, Target: "device:dev-1",
		Details: map[string]string{"minute": fmt.Sprint(minute)}}
}

// storedApplied is a as a store returns it after the write at minute.
func storedApplied(a policy.Applied, version int64, minute int) policy.Applied {
	a.Version, a.Updated = version, storage.Normalize(at(minute))
	return a
}

func testAppliedRoundTrip(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	_, err := s.AppliedPolicy(t.Context(), o.ID, "dev-1")
	wantErr(t, "AppliedPolicy before any write", err, storage.ErrNotFound)

	a := sampleApplied(o.ID, "dev-1")
	got, err := s.ApplyPolicy(t.Context(), a, nil, reapplyEntry(o.ID, "device.policy.recorded", 1))
	noErr(t, "ApplyPolicy", err)
	same(t, "stored record", got, storedApplied(a, 1, 1))
	read, err := s.AppliedPolicy(t.Context(), o.ID, "dev-1")
	noErr(t, "AppliedPolicy", err)
	same(t, "read record", read, storedApplied(a, 1, 1))

	before := takeSnapshot(t, s)
	bad := []struct {
		what string
		a    policy.Applied
		e    storage.AuditEntry
		want error
	}{
		{"second first write", a, reapplyEntry(o.ID, "x", 2), storage.ErrConflict},
		{"stale version", func() policy.Applied { b := a; b.Version = 5; return b }(), reapplyEntry(o.ID, "x", 2), storage.ErrConflict},
		{"no device", func() policy.Applied { b := a; b.Device = ""; return b }(), reapplyEntry(o.ID, "x", 2), storage.ErrInvalid},
		{"fingerprint with a space", func() policy.Applied { b := a; b.Fingerprint = "a b"; b.Version = 1; return b }(), reapplyEntry(o.ID, "x", 2), storage.ErrInvalid},
		{"bad policy id", func() policy.Applied { b := a; b.Policy = "no spaces"; b.Version = 1; return b }(), reapplyEntry(o.ID, "x", 2), storage.ErrInvalid},
		{"entry of another org", func() policy.Applied { b := a; b.Version = 1; return b }(), reapplyEntry(storage.NewOrgID(), "x", 2), storage.ErrInvalid},
		{"unknown org", func() policy.Applied { b := a; b.Org = storage.NewOrgID(); return b }(), storage.AuditEntry{}, storage.ErrNotFound},
	}
	for _, c := range bad {
		e := c.e
		if c.want == storage.ErrNotFound {
			e = reapplyEntry(c.a.Org, "x", 2)
		}
		_, err := s.ApplyPolicy(t.Context(), c.a, nil, e)
		wantErr(t, c.what, err, c.want)
	}
	unchanged(t, "rejected writes", s, before)
	read, err = s.AppliedPolicy(t.Context(), o.ID, "dev-1")
	noErr(t, "AppliedPolicy after rejected writes", err)
	same(t, "record after rejected writes", read, storedApplied(a, 1, 1))

	back := read
	back.OutOfPolicy, back.Fingerprint = "", ""
	got, err = s.ApplyPolicy(t.Context(), back, nil, reapplyEntry(o.ID, "device.policy.recorded", 3))
	noErr(t, "ApplyPolicy update", err)
	same(t, "updated record", got, storedApplied(back, 2, 3))
	if n := len(allAudit(t, s, o.ID)); n != 3 {
		t.Errorf("%d audit entries after the org and two writes, want 3", n)
	}
}

func testAppliedWithCommand(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	a := sampleApplied(o.ID, "dev-1")
	a.OutOfPolicy = ""
	cmd := enroll.Command{UUID: "cmd-reapply-1", RequestType: "InstallProfile", Body: []byte("<plist>profile</plist>")}
	_, err := s.ApplyPolicy(t.Context(), a, &cmd, reapplyEntry(o.ID, "device.policy.reapply", 1))
	noErr(t, "ApplyPolicy with command", err)
	cmds, err := s.Commands(t.Context(), o.ID, "dev-1", 0)
	noErr(t, "Commands", err)
	if len(cmds) != 1 || cmds[0].UUID != cmd.UUID || cmds[0].Status != enroll.StatusPending || string(cmds[0].Body) != string(cmd.Body) {
		t.Fatalf("queue after ApplyPolicy = %+v, want the pending command %s", cmds, cmd.UUID)
	}
	audit := allAudit(t, s, o.ID)
	if last := audit[len(audit)-1]; last.Action != "device.policy.reapply" {
		t.Errorf("last audit entry %q, want device.policy.reapply", last.Action)
	}

	// A command that cannot be queued leaves the record as it was, and the
	// reverse: a record that cannot be written queues nothing.
	before := takeSnapshot(t, s)
	next := storedApplied(a, 1, 1)
	next.Fingerprint = ""
	_, err = s.ApplyPolicy(t.Context(), next, &cmd, reapplyEntry(o.ID, "device.policy.reapply", 2))
	wantErr(t, "reused command UUID", err, storage.ErrAlreadyExists)
	stale := next
	stale.Version = 0
	other := enroll.Command{UUID: "cmd-reapply-2", RequestType: "RemoveProfile", Body: []byte("<plist>remove</plist>")}
	_, err = s.ApplyPolicy(t.Context(), stale, &other, reapplyEntry(o.ID, "device.policy.reapply", 2))
	wantErr(t, "stale record with a command", err, storage.ErrConflict)
	_, err = s.ApplyPolicy(t.Context(), next, &enroll.Command{UUID: "c"}, reapplyEntry(o.ID, "device.policy.reapply", 2))
	wantErr(t, "invalid command", err, storage.ErrInvalid)
	unchanged(t, "rejected writes", s, before)
	read, err := s.AppliedPolicy(t.Context(), o.ID, "dev-1")
	noErr(t, "AppliedPolicy", err)
	same(t, "record after rejected writes", read, storedApplied(a, 1, 1))
	cmds, err = s.Commands(t.Context(), o.ID, "dev-1", 0)
	noErr(t, "Commands", err)
	if len(cmds) != 1 {
		t.Errorf("%d commands after rejected writes, want 1", len(cmds))
	}

	_, err = s.ApplyPolicy(t.Context(), next, &other, reapplyEntry(o.ID, "device.policy.reapply", 3))
	noErr(t, "ApplyPolicy RemoveProfile", err)
	cmds, err = s.Commands(t.Context(), o.ID, "dev-1", 0)
	noErr(t, "Commands", err)
	if len(cmds) != 2 || cmds[0].UUID != other.UUID {
		t.Errorf("queue = %+v, want %s newest", cmds, other.UUID)
	}
}

func testAppliedAndroid(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	d, err := s.CreateAndroidDevice(t.Context(), sampleAndroidDevice(o.ID, "dev-1"), androidEntry(o.ID, "android.device.enroll", 1))
	noErr(t, "CreateAndroidDevice", err)

	a := sampleApplied(o.ID, "dev-1")
	a.Policy, a.OutOfPolicy = "pol-2", ""
	req := d.Requirements
	req.Passcode.MinLength = 12
	req.DataSeparation.BlockWorkToPersonal = true
	got, err := s.ReapplyAndroidDevice(t.Context(), a, &req, reapplyEntry(o.ID, "android.device.policy.reapply", 2))
	noErr(t, "ReapplyAndroidDevice", err)
	same(t, "stored record", got, storedApplied(a, 1, 2))
	read, err := s.AndroidDevice(t.Context(), o.ID, "dev-1")
	noErr(t, "AndroidDevice", err)
	want := d
	want.Policy, want.Requirements = "pol-2", req
	same(t, "device after re-application", read, want)

	// Without requirements only the record changes.
	mark := got
	mark.OutOfPolicy = "denied"
	_, err = s.ReapplyAndroidDevice(t.Context(), mark, nil, reapplyEntry(o.ID, "android.device.out_of_policy", 3))
	noErr(t, "ReapplyAndroidDevice without requirements", err)
	read, err = s.AndroidDevice(t.Context(), o.ID, "dev-1")
	noErr(t, "AndroidDevice", err)
	same(t, "device after marking", read, want)

	before := takeSnapshot(t, s)
	ghost := sampleApplied(o.ID, "dev-ghost")
	_, err = s.ReapplyAndroidDevice(t.Context(), ghost, &req, reapplyEntry(o.ID, "android.device.policy.reapply", 4))
	wantErr(t, "unknown android device", err, storage.ErrNotFound)
	unchanged(t, "rejected write", s, before)
	_, err = s.AppliedPolicy(t.Context(), o.ID, "dev-ghost")
	wantErr(t, "record of the rejected write", err, storage.ErrNotFound)
}

func testAppliedEnrollSession(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	se := mustCreateSession(t, s, newSession(o.ID, 1, enroll.KindOTA))
	id := newIdentity(o.ID, 1)
	_, err := s.RecordIdentity(t.Context(), id, entryFor(o.ID, "enroll.identity.record", at(2)))
	noErr(t, "RecordIdentity", err)
	_, err = s.DeviceEnrollSession(t.Context(), o.ID, "")
	wantErr(t, "DeviceEnrollSession(no device)", err, storage.ErrNotFound)
	_, err = s.DeviceEnrollSession(t.Context(), o.ID, "dev-1")
	wantErr(t, "DeviceEnrollSession before binding", err, storage.ErrNotFound)
	_, err = s.BindIdentity(t.Context(), o.ID, id.Fingerprint, "dev-1", entryFor(o.ID, "enroll.identity.bind", at(3)))
	noErr(t, "BindIdentity", err)
	got, err := s.DeviceEnrollSession(t.Context(), o.ID, "dev-1")
	noErr(t, "DeviceEnrollSession", err)
	same(t, "session of the device", got, se)
}

func testAppliedConcurrent(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	errs := parallel(8, func(i int) error {
		a := sampleApplied(o.ID, "dev-1")
		cmd := enroll.Command{UUID: fmt.Sprintf("cmd-%d", i), RequestType: "InstallProfile", Body: []byte("x")}
		_, err := s.ApplyPolicy(t.Context(), a, &cmd, reapplyEntry(o.ID, "device.policy.reapply", 1))
		return err
	})
	same(t, "outcomes of concurrent first writes", countErrs(errs, storage.ErrConflict),
		map[string]int{"nil": 1, storage.ErrConflict.Error(): 7})
	cmds, err := s.Commands(t.Context(), o.ID, "dev-1", 0)
	noErr(t, "Commands", err)
	if len(cmds) != 1 {
		t.Errorf("%d commands queued by concurrent writers, want the winner's only", len(cmds))
	}
}

func testAppliedTenantIsolation(t testing.TB, s Store) {
	a := mustCreateOrg(t, s, "acme")
	b := mustCreateOrg(t, s, "globex")
	_, err := s.ApplyPolicy(t.Context(), sampleApplied(a.ID, "dev-1"), nil, reapplyEntry(a.ID, "device.policy.recorded", 1))
	noErr(t, "ApplyPolicy in org A", err)
	_, err = s.CreateAndroidDevice(t.Context(), sampleAndroidDevice(a.ID, "dev-2"), androidEntry(a.ID, "android.device.enroll", 1))
	noErr(t, "CreateAndroidDevice in org A", err)
	se := mustCreateSession(t, s, newSession(a.ID, 1, enroll.KindOTA))
	id := newIdentity(a.ID, 1)
	_, err = s.RecordIdentity(t.Context(), id, entryFor(a.ID, "enroll.identity.record", at(2)))
	noErr(t, "RecordIdentity", err)
	_, err = s.BindIdentity(t.Context(), a.ID, id.Fingerprint, "dev-1", entryFor(a.ID, "enroll.identity.bind", at(3)))
	noErr(t, "BindIdentity", err)

	_, err = s.AppliedPolicy(t.Context(), b.ID, "dev-1")
	wantErr(t, "org B reads org A's record", err, storage.ErrNotFound)
	_, err = s.DeviceEnrollSession(t.Context(), b.ID, "dev-1")
	wantErr(t, "org B reads org A's session", err, storage.ErrNotFound)
	req := policy.Requirements{Passcode: policy.Passcode{Required: true, MinLength: 4}}
	_, err = s.ReapplyAndroidDevice(t.Context(), sampleApplied(b.ID, "dev-2"), &req, reapplyEntry(b.ID, "android.device.policy.reapply", 2))
	wantErr(t, "org B changes org A's android device", err, storage.ErrNotFound)

	// The same device ID in org B is a record of its own.
	gotB, err := s.ApplyPolicy(t.Context(), sampleApplied(b.ID, "dev-1"), nil, reapplyEntry(b.ID, "device.policy.recorded", 3))
	noErr(t, "ApplyPolicy in org B", err)
	if gotB.Version != 1 {
		t.Errorf("org B's record has version %d, want 1", gotB.Version)
	}
	readA, err := s.AppliedPolicy(t.Context(), a.ID, "dev-1")
	noErr(t, "AppliedPolicy in org A", err)
	same(t, "org A's record", readA, storedApplied(sampleApplied(a.ID, "dev-1"), 1, 1))
	dA, err := s.AndroidDevice(t.Context(), a.ID, "dev-2")
	noErr(t, "AndroidDevice in org A", err)
	same(t, "org A's android requirements", dA.Requirements, sampleAndroidDevice(a.ID, "dev-2").Requirements)
	got, err := s.DeviceEnrollSession(t.Context(), a.ID, "dev-1")
	noErr(t, "DeviceEnrollSession in org A", err)
	same(t, "org A's session", got.ID, se.ID)
}
