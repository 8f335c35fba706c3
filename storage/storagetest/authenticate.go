package storagetest

import (
	"testing"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

func authenticateCases() []testCase {
	return []testCase{
		{"Authenticate/NewDevice", testAuthenticateNewDevice},
		{"Authenticate/Restart", testAuthenticateRestart},
		{"Authenticate/AllOrNothing", testAuthenticateAllOrNothing},
		{"Authenticate/Invalid", testAuthenticateInvalid},
		{"Authenticate/TenantIsolation", testAuthenticateTenantIsolation},
	}
}

// authentication is the Authenticate of a new device n (pending) with
// identity f, as the check-in service writes it at minute 5.
func authentication(org storage.OrgID, n int, f enroll.Fingerprint) enroll.Authentication {
	d := newDevice(org, n)
	d.State = inventory.StatePending
	return enroll.Authentication{
		Register: &d, RegisterEntry: deviceEntry(org, "device.register", at(5)),
		Identity: f, BindEntry: deviceEntry(org, "device.identity.bind", at(5)),
		ClearEntry: deviceEntry(org, "device.authenticate", at(5)),
		Enrollment: enroll.Enrollment{Org: org, Device: d.ID, Channel: d.Identifier, Topic: "com.apple.mgmt.External.test", Updated: at(5)},
	}
}

func recordIdentity(t testing.TB, s Store, id enroll.Identity) {
	t.Helper()
	_, err := s.RecordIdentity(t.Context(), id, entryFor(id.Org, "enroll.identity.record", at(2)))
	noErr(t, "RecordIdentity", err)
}

func testAuthenticateNewDevice(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	id := newIdentity(o.ID, 1)
	recordIdentity(t, s, id)
	a := authentication(o.ID, 1, id.Fingerprint)
	before := len(allAudit(t, s, o.ID))
	got, err := s.Authenticate(t.Context(), a)
	noErr(t, "Authenticate", err)
	if got.Fingerprint != id.Fingerprint || got.Device != a.Register.ID {
		t.Errorf("Authenticate returned identity %+v, want %s bound to %s", got, id.Fingerprint, a.Register.ID)
	}
	read, err := s.Identity(t.Context(), o.ID, id.Fingerprint)
	noErr(t, "Identity", err)
	same(t, "identity after Authenticate", read, got)
	d, err := s.Device(t.Context(), o.ID, a.Register.ID)
	noErr(t, "Device", err)
	if d.State != inventory.StatePending || d.Identifier != a.Register.Identifier || d.Version != 1 || !d.Created.Equal(storage.Normalize(at(5))) {
		t.Errorf("registered device: %+v", d)
	}
	e, err := s.Enrollment(t.Context(), o.ID, a.Register.ID)
	noErr(t, "Enrollment", err)
	same(t, "started enrollment", e, enroll.Enrollment{Org: o.ID, Device: a.Register.ID, Channel: a.Register.Identifier,
		Topic: "com.apple.mgmt.External.test", Updated: storage.Normalize(at(5))})
	var actions []string
	for _, en := range allAudit(t, s, o.ID)[before:] {
		actions = append(actions, en.Action)
	}
	same(t, "audit entries, in order", actions, []string{"device.register", "device.identity.bind", "device.authenticate"})

	// The same Authenticate again, without a new record: the binding is
	// a no-op (no entry), the rest is appended again.
	a.Register = nil
	afterFirst := len(allAudit(t, s, o.ID))
	_, err = s.Authenticate(t.Context(), a)
	noErr(t, "Authenticate again", err)
	if n := len(allAudit(t, s, o.ID)) - afterFirst; n != 1 {
		t.Errorf("repeated Authenticate appended %d entries, want 1 (device.authenticate)", n)
	}
}

func testAuthenticateRestart(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	d := mustCreateDevice(t, s, newDevice(o.ID, 1), at(1))
	startEnrollment(t, s, o.ID, d.ID)
	_, _, err := s.UpdateToken(t.Context(), o.ID, d.ID, tokenUpdate("t1", []byte("unlock"), at(2)))
	noErr(t, "UpdateToken", err)
	enqueue(t, s, o.ID, "c1", d.ID)
	enqueue(t, s, o.ID, "c2", d.ID)
	answer(t, s, o.ID, d.ID, "c1", enroll.StatusAcknowledged)

	// A retried Authenticate: no record, no identity to bind.
	got, err := s.Authenticate(t.Context(), enroll.Authentication{
		ClearEntry: deviceEntry(o.ID, "device.authenticate", at(6)),
		Enrollment: enroll.Enrollment{Org: o.ID, Device: d.ID, Channel: "E-2", UserEnrollment: true, Topic: "topic-2", Updated: at(6)},
	})
	noErr(t, "Authenticate", err)
	same(t, "identity of an Authenticate that binds none", got, enroll.Identity{})
	e, err := s.Enrollment(t.Context(), o.ID, d.ID)
	noErr(t, "Enrollment", err)
	same(t, "restarted enrollment (tokens and times start over)", e, enroll.Enrollment{Org: o.ID, Device: d.ID, Channel: "E-2",
		UserEnrollment: true, Topic: "topic-2", Updated: storage.Normalize(at(6))})
	same(t, "queue after Authenticate", statuses(t, s, o.ID, d.ID),
		map[string]enroll.CommandStatus{"c1": enroll.StatusAcknowledged, "c2": enroll.StatusAbandoned})
	log := allAudit(t, s, o.ID)
	if last := log[len(log)-1]; last.Action != "device.authenticate" {
		t.Errorf("last audit entry %q, want device.authenticate", last.Action)
	}
}

// testAuthenticateAllOrNothing: whichever step refuses, nothing of the
// others is left behind.
func testAuthenticateAllOrNothing(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	taken := newIdentity(o.ID, 1)
	recordIdentity(t, s, taken)
	_, err := s.BindIdentity(t.Context(), o.ID, taken.Fingerprint, "dev_900", deviceEntry(o.ID, "device.identity.bind", at(3)))
	noErr(t, "BindIdentity", err)
	revoked := newIdentity(o.ID, 2)
	recordIdentity(t, s, revoked)
	_, _, err = s.RevokeUserEnrollments(t.Context(), o.ID, revoked.UserID, at(3), entryFor(o.ID, "user.revoke", at(3)))
	noErr(t, "RevokeUserEnrollments", err)
	free := newIdentity(o.ID, 3)
	recordIdentity(t, s, free)
	existing := mustCreateDevice(t, s, newDevice(o.ID, 7), at(3))
	enqueue(t, s, o.ID, "c1", existing.ID)

	before := takeInvSnapshot(t, s)
	queue := statuses(t, s, o.ID, existing.ID)
	_, err = s.Authenticate(t.Context(), authentication(o.ID, 1, taken.Fingerprint))
	wantErr(t, "identity bound to another device", err, storage.ErrConflict)
	_, err = s.Authenticate(t.Context(), authentication(o.ID, 1, revoked.Fingerprint))
	wantErr(t, "revoked identity", err, storage.ErrConflict)
	_, err = s.Authenticate(t.Context(), authentication(o.ID, 1, fingerprint(99)))
	wantErr(t, "unknown identity", err, storage.ErrNotFound)
	dup := authentication(o.ID, 7, free.Fingerprint) // the existing device's ID and identifier
	_, err = s.Authenticate(t.Context(), dup)
	wantErr(t, "a record that exists", err, storage.ErrAlreadyExists)
	invUnchanged(t, "refused Authenticates", s, before)
	same(t, "queue after refused Authenticates", statuses(t, s, o.ID, existing.ID), queue)
	for _, f := range []enroll.Fingerprint{free.Fingerprint, revoked.Fingerprint} {
		id, err := s.Identity(t.Context(), o.ID, f)
		noErr(t, "Identity", err)
		if id.Device != "" {
			t.Errorf("identity %s bound to %q by a refused Authenticate", f, id.Device)
		}
	}
	for _, dev := range []string{newDevice(o.ID, 1).ID, existing.ID} {
		_, err = s.Enrollment(t.Context(), o.ID, dev)
		wantErr(t, "enrollment after refused Authenticates", err, storage.ErrNotFound)
	}
}

func testAuthenticateInvalid(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	other := mustCreateOrg(t, s, "globex")
	id := newIdentity(o.ID, 1)
	recordIdentity(t, s, id)
	before := takeInvSnapshot(t, s)
	for name, change := range map[string]func(a *enroll.Authentication){
		"no device":                   func(a *enroll.Authentication) { a.Enrollment.Device = "" },
		"no channel":                  func(a *enroll.Authentication) { a.Enrollment.Channel = "" },
		"record of another device":    func(a *enroll.Authentication) { a.Register.ID = "dev_other" },
		"record of another org":       func(a *enroll.Authentication) { a.Register.Org = other.ID },
		"invalid record":              func(a *enroll.Authentication) { a.Register.Platform = "" },
		"register entry of other org": func(a *enroll.Authentication) { a.RegisterEntry.Org = other.ID },
		"bind entry of other org":     func(a *enroll.Authentication) { a.BindEntry.Org = other.ID },
		"clear entry without action":  func(a *enroll.Authentication) { a.ClearEntry.Action = "" },
	} {
		a := authentication(o.ID, 1, id.Fingerprint)
		d := *a.Register
		a.Register = &d
		change(&a)
		_, err := s.Authenticate(t.Context(), a)
		wantErr(t, name, err, storage.ErrInvalid)
	}
	invUnchanged(t, "invalid Authenticates", s, before)
}

func testAuthenticateTenantIsolation(t testing.TB, s Store) {
	a := mustCreateOrg(t, s, "acme")
	b := mustCreateOrg(t, s, "globex")
	id := newIdentity(a.ID, 1)
	recordIdentity(t, s, id)
	before := takeInvSnapshot(t, s)
	// Org B cannot bind (or even find) org A's identity.
	_, err := s.Authenticate(t.Context(), authentication(b.ID, 1, id.Fingerprint))
	wantErr(t, "another org's identity", err, storage.ErrNotFound)
	invUnchanged(t, "cross-org Authenticate", s, before)
	// What org A's Authenticate writes stays org A's.
	_, err = s.Authenticate(t.Context(), authentication(a.ID, 1, id.Fingerprint))
	noErr(t, "Authenticate", err)
	_, err = s.Device(t.Context(), b.ID, newDevice(a.ID, 1).ID)
	wantErr(t, "org A's new device read as org B", err, storage.ErrNotFound)
	_, err = s.Enrollment(t.Context(), b.ID, newDevice(a.ID, 1).ID)
	wantErr(t, "org A's enrollment read as org B", err, storage.ErrNotFound)
}
