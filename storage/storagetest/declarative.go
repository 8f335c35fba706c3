package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/declarative"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

func declarativeCases() []testCase {
	return []testCase{
		{"Declarative/RoundTrip", testDeclarativeRoundTrip},
		{"Declarative/CommandsWithState", testDeclarativeCommands},
		{"Declarative/Status", testDeclarativeStatus},
		{"Declarative/ConcurrentWriters", testDeclarativeConcurrent},
		{"Declarative/TenantIsolation", testDeclarativeTenantIsolation},
	}
}

func sampleDeclarative(org storage.OrgID, device string) declarative.State {
	return declarative.State{
		Org: org, Device: device, Enrollment: at(1), Enabled: at(2),
		Inputs: declarative.Inputs{Policy: "pol-1", OSVersion: "17.4",
			Requirements: policy.Requirements{Passcode: policy.Passcode{Required: true, MinLength: 6},
				OSUpdate: policy.OSUpdate{TargetVersion: "17.5", Deadline: "2026-03-31T18:00:00"}},
			Apps: []declarative.App{{ID: "app_1", Identifier: "com.acme.expenses", ManifestURL: "https://acme.example/m.plist", Required: true}}},
		ProfileSecret: "secret-1", Token: fmt.Sprintf("%032x", 1), TokenChanged: at(2),
		Status: declarative.Status{Declarations: []declarative.DeclarationStatus{}},
	}
}

func declarativeEntry(org storage.OrgID, action string, minute int) storage.AuditEntry {
	return storage.AuditEntry{Org: org, Time: at(minute), Actor: "device:udid-1", Action: action, Target: "device:dev-1",
		Details: map[string]string{"minute": fmt.Sprint(minute)}}
}

// storedDeclarative is st as a store returns it after a state write at
// minute (both versions count it).
func storedDeclarative(st declarative.State, minute int) declarative.State {
	st.Version++
	st.StatusVersion++
	st.Updated = at(minute)
	return st.Normalize()
}

func sampleStatus(minute int) declarative.Status {
	return declarative.Status{Reported: at(minute), Declarations: []declarative.DeclarationStatus{
		{Kind: declarative.KindConfiguration, Identifier: "omm.passcode", ServerToken: "t1", Active: true, Valid: declarative.Valid},
		{Kind: declarative.KindConfiguration, Identifier: "omm.softwareupdate", ServerToken: "t2", Valid: declarative.Invalid,
			Reasons: []declarative.Reason{{Code: "Error.ConfigurationCannotBeApplied", Description: "nope"}}},
	}}
}

func testDeclarativeRoundTrip(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	_, err := s.DeclarativeState(t.Context(), o.ID, "dev-1")
	wantErr(t, "DeclarativeState before any write", err, storage.ErrNotFound)

	st := sampleDeclarative(o.ID, "dev-1")
	got, err := s.SaveDeclarativeState(t.Context(), st, nil, declarativeEntry(o.ID, declarative.ActionEnable, 3))
	noErr(t, "SaveDeclarativeState", err)
	same(t, "stored state", got, storedDeclarative(st, 3))
	read, err := s.DeclarativeState(t.Context(), o.ID, "dev-1")
	noErr(t, "DeclarativeState", err)
	same(t, "read state", read, storedDeclarative(st, 3))

	before := takeSnapshot(t, s)
	edit := func(f func(*declarative.State)) declarative.State { x := read; f(&x); return x }
	bad := []struct {
		what string
		st   declarative.State
		e    storage.AuditEntry
		want error
	}{
		{"second first write", st, declarativeEntry(o.ID, "x", 4), storage.ErrConflict},
		{"stale version", edit(func(x *declarative.State) { x.Version = 7 }), declarativeEntry(o.ID, "x", 4), storage.ErrConflict},
		{"stale status version", edit(func(x *declarative.State) { x.StatusVersion = 0 }), declarativeEntry(o.ID, "x", 4), storage.ErrConflict},
		{"no device", edit(func(x *declarative.State) { x.Device = "" }), declarativeEntry(o.ID, "x", 4), storage.ErrInvalid},
		{"token with a space", edit(func(x *declarative.State) { x.Token = "a b" }), declarativeEntry(o.ID, "x", 4), storage.ErrInvalid},
		{"enabled without enrollment", edit(func(x *declarative.State) { x.Enrollment = time.Time{} }), declarativeEntry(o.ID, "x", 4), storage.ErrInvalid},
		{"bad policy id", edit(func(x *declarative.State) { x.Inputs.Policy = "no spaces" }), declarativeEntry(o.ID, "x", 4), storage.ErrInvalid},
		{"bad declaration status", edit(func(x *declarative.State) {
			x.Status.Declarations = []declarative.DeclarationStatus{{Kind: "gadget", Identifier: "x", Valid: declarative.Valid}}
		}), declarativeEntry(o.ID, "x", 4), storage.ErrInvalid},
		{"entry of another org", read, declarativeEntry(storage.NewOrgID(), "x", 4), storage.ErrInvalid},
		{"unknown org", edit(func(x *declarative.State) { x.Org = storage.NewOrgID(); x.Version, x.StatusVersion = 0, 0 }), storage.AuditEntry{}, storage.ErrNotFound},
	}
	for _, c := range bad {
		e := c.e
		if c.want == storage.ErrNotFound {
			e = declarativeEntry(c.st.Org, "x", 4)
		}
		_, err := s.SaveDeclarativeState(t.Context(), c.st, nil, e)
		wantErr(t, c.what, err, c.want)
	}
	unchanged(t, "rejected writes", s, before)
	again, err := s.DeclarativeState(t.Context(), o.ID, "dev-1")
	noErr(t, "DeclarativeState after rejected writes", err)
	same(t, "state after rejected writes", again, read)

	next := read
	next.Inputs.Requirements.Passcode.MinLength = 8
	next.Inputs.Apps = nil
	next.Token, next.TokenChanged = fmt.Sprintf("%032x", 2), at(5)
	next.Status = sampleStatus(5)
	got, err = s.SaveDeclarativeState(t.Context(), next, nil, declarativeEntry(o.ID, declarative.ActionUpdate, 5))
	noErr(t, "SaveDeclarativeState update", err)
	same(t, "updated state", got, storedDeclarative(next, 5))
	read, err = s.DeclarativeState(t.Context(), o.ID, "dev-1")
	noErr(t, "DeclarativeState after update", err)
	same(t, "read updated state", read, storedDeclarative(next, 5))
	if n := len(allAudit(t, s, o.ID)); n != 3 {
		t.Errorf("%d audit entries after the org and two writes, want 3", n)
	}
}

func testDeclarativeCommands(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	st := sampleDeclarative(o.ID, "dev-1")
	cmds := []enroll.Command{
		{UUID: "cmd-ddm-1", RequestType: "DeclarativeManagement", Body: []byte("<plist>ddm</plist>")},
		{UUID: "cmd-ddm-2", RequestType: "RemoveProfile", Body: []byte("<plist>remove</plist>")},
	}
	got, err := s.SaveDeclarativeState(t.Context(), st, cmds, declarativeEntry(o.ID, declarative.ActionEnable, 1))
	noErr(t, "SaveDeclarativeState with commands", err)
	queue, err := s.Commands(t.Context(), o.ID, "dev-1", 0)
	noErr(t, "Commands", err)
	if len(queue) != 2 || queue[0].UUID != "cmd-ddm-2" || queue[1].UUID != "cmd-ddm-1" || queue[1].Status != enroll.StatusPending {
		t.Fatalf("queue = %+v, want both commands pending, the DeclarativeManagement first", queue)
	}
	next, err := s.NextCommand(t.Context(), o.ID, "dev-1", enroll.NextOptions{Now: at(2)})
	noErr(t, "NextCommand", err)
	if next.UUID != "cmd-ddm-1" {
		t.Errorf("first command delivered %s, want cmd-ddm-1", next.UUID)
	}

	// A command that cannot be queued leaves the state as it was, and a
	// state that cannot be written queues nothing.
	before := takeSnapshot(t, s)
	changed := got
	changed.Token = fmt.Sprintf("%032x", 9)
	_, err = s.SaveDeclarativeState(t.Context(), changed, []enroll.Command{cmds[0]}, declarativeEntry(o.ID, declarative.ActionUpdate, 3))
	wantErr(t, "reused command UUID", err, storage.ErrAlreadyExists)
	stale := changed
	stale.Version = 0
	_, err = s.SaveDeclarativeState(t.Context(), stale, []enroll.Command{{UUID: "cmd-ddm-3", RequestType: "DeclarativeManagement",
		Body: []byte("x")}}, declarativeEntry(o.ID, declarative.ActionUpdate, 3))
	wantErr(t, "stale state with a command", err, storage.ErrConflict)
	_, err = s.SaveDeclarativeState(t.Context(), changed, []enroll.Command{{UUID: "c"}}, declarativeEntry(o.ID, declarative.ActionUpdate, 3))
	wantErr(t, "invalid command", err, storage.ErrInvalid)
	unchanged(t, "rejected writes", s, before)
	read, err := s.DeclarativeState(t.Context(), o.ID, "dev-1")
	noErr(t, "DeclarativeState", err)
	same(t, "state after rejected writes", read, got)
	queue, err = s.Commands(t.Context(), o.ID, "dev-1", 0)
	noErr(t, "Commands", err)
	if len(queue) != 2 {
		t.Errorf("%d commands after rejected writes, want 2", len(queue))
	}
}

func testDeclarativeStatus(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	_, err := s.SaveDeclarativeStatus(t.Context(), o.ID, "dev-1", sampleStatus(1), 0)
	wantErr(t, "status of a device without state", err, storage.ErrNotFound)
	st, err := s.SaveDeclarativeState(t.Context(), sampleDeclarative(o.ID, "dev-1"), nil, declarativeEntry(o.ID, declarative.ActionEnable, 1))
	noErr(t, "SaveDeclarativeState", err)
	audit := len(allAudit(t, s, o.ID))

	got, err := s.SaveDeclarativeStatus(t.Context(), o.ID, "dev-1", sampleStatus(2), st.StatusVersion)
	noErr(t, "SaveDeclarativeStatus", err)
	want := st
	want.Status, want.StatusVersion = sampleStatus(2), st.StatusVersion+1
	want = want.Normalize()
	same(t, "state after a status write", got, want)
	read, err := s.DeclarativeState(t.Context(), o.ID, "dev-1")
	noErr(t, "DeclarativeState", err)
	same(t, "read state after a status write", read, want)
	if n := len(allAudit(t, s, o.ID)); n != audit {
		t.Errorf("a status write added %d audit entries, want none", n-audit)
	}

	_, err = s.SaveDeclarativeStatus(t.Context(), o.ID, "dev-1", sampleStatus(3), st.StatusVersion)
	wantErr(t, "status write from a stale version", err, storage.ErrConflict)
	// A state write from before the status write lost to it.
	_, err = s.SaveDeclarativeState(t.Context(), st, nil, declarativeEntry(o.ID, declarative.ActionUpdate, 3))
	wantErr(t, "state write over a newer status", err, storage.ErrConflict)
	bad := sampleStatus(3)
	bad.Declarations[0].Valid = "sort of"
	_, err = s.SaveDeclarativeStatus(t.Context(), o.ID, "dev-1", bad, want.StatusVersion)
	wantErr(t, "invalid status", err, storage.ErrInvalid)
	read, err = s.DeclarativeState(t.Context(), o.ID, "dev-1")
	noErr(t, "DeclarativeState after rejected writes", err)
	same(t, "state after rejected writes", read, want)
}

func testDeclarativeConcurrent(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	errs := parallel(8, func(i int) error {
		cmd := enroll.Command{UUID: fmt.Sprintf("cmd-%d", i), RequestType: "DeclarativeManagement", Body: []byte("x")}
		_, err := s.SaveDeclarativeState(t.Context(), sampleDeclarative(o.ID, "dev-1"), []enroll.Command{cmd},
			declarativeEntry(o.ID, declarative.ActionEnable, 1))
		return err
	})
	same(t, "outcomes of concurrent first writes", countErrs(errs, storage.ErrConflict),
		map[string]int{"nil": 1, storage.ErrConflict.Error(): 7})
	cmds, err := s.Commands(t.Context(), o.ID, "dev-1", 0)
	noErr(t, "Commands", err)
	if len(cmds) != 1 {
		t.Errorf("%d commands queued by concurrent writers, want the winner's only", len(cmds))
	}
	st, err := s.DeclarativeState(t.Context(), o.ID, "dev-1")
	noErr(t, "DeclarativeState", err)
	errs = parallel(8, func(i int) error {
		_, err := s.SaveDeclarativeStatus(t.Context(), o.ID, "dev-1", sampleStatus(2+i), st.StatusVersion)
		return err
	})
	same(t, "outcomes of concurrent status writes", countErrs(errs, storage.ErrConflict),
		map[string]int{"nil": 1, storage.ErrConflict.Error(): 7})
}

func testDeclarativeTenantIsolation(t testing.TB, s Store) {
	a := mustCreateOrg(t, s, "acme")
	b := mustCreateOrg(t, s, "globex")
	stA, err := s.SaveDeclarativeState(t.Context(), sampleDeclarative(a.ID, "dev-1"), nil, declarativeEntry(a.ID, declarative.ActionEnable, 1))
	noErr(t, "SaveDeclarativeState in org A", err)

	_, err = s.DeclarativeState(t.Context(), b.ID, "dev-1")
	wantErr(t, "org B reads org A's state", err, storage.ErrNotFound)
	_, err = s.SaveDeclarativeStatus(t.Context(), b.ID, "dev-1", sampleStatus(2), stA.StatusVersion)
	wantErr(t, "org B writes org A's status", err, storage.ErrNotFound)
	inB := stA
	inB.Org = b.ID
	_, err = s.SaveDeclarativeState(t.Context(), inB, nil, declarativeEntry(b.ID, declarative.ActionUpdate, 2))
	wantErr(t, "org B updates org A's state", err, storage.ErrConflict)

	// The same device ID in org B is a record of its own.
	gotB, err := s.SaveDeclarativeState(t.Context(), sampleDeclarative(b.ID, "dev-1"), nil, declarativeEntry(b.ID, declarative.ActionEnable, 3))
	noErr(t, "SaveDeclarativeState in org B", err)
	if gotB.Version != 1 {
		t.Errorf("org B's state has version %d, want 1", gotB.Version)
	}
	readA, err := s.DeclarativeState(t.Context(), a.ID, "dev-1")
	noErr(t, "DeclarativeState in org A", err)
	same(t, "org A's state", readA, stA)
}
