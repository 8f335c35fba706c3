package storagetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

func renewalCases() []testCase {
	return []testCase{
		{"Renewal/ClaimWindowAndLease", testRenewalClaim},
		{"Renewal/QueueAtomic", testRenewalQueue},
		{"Renewal/StaleClaimRefused", testRenewalStaleClaim},
		{"Renewal/CompletedByBind", testRenewalCompleted},
		{"Renewal/NotDue", testRenewalNotDue},
		{"Renewal/ConcurrentClaims", testRenewalConcurrentClaims},
		{"Renewal/TenantIsolation", testRenewalTenantIsolation},
	}
}

// renewalYear is when the identities of these cases expire: a year after
// they are issued, at(2).
var renewalYear = at(60 * 24 * 365)

// renewalNow is a time inside the renewal window of those identities.
var renewalNow = renewalYear.Add(-10 * 24 * time.Hour)

// boundIdentity registers device n of org, enrolled, with identity n
// bound to it, and returns the identity.
func boundIdentity(t testing.TB, s Store, org storage.OrgID, n int) enroll.Identity {
	t.Helper()
	d := mustCreateDevice(t, s, newDevice(org, n), at(1))
	id := newIdentity(org, n)
	_, err := s.RecordIdentity(t.Context(), id, entryFor(org, "enroll.scep.issue", at(2)))
	noErr(t, "RecordIdentity", err)
	id, err = s.BindIdentity(t.Context(), org, id.Fingerprint, d.ID, entryFor(org, "device.identity.bind", at(3)))
	noErr(t, "BindIdentity", err)
	return id
}

func claim(t testing.TB, s Store, org storage.OrgID, now time.Time, limit int) []enroll.Renewal {
	t.Helper()
	got, err := s.ClaimRenewals(t.Context(), enroll.RenewalClaim{Org: org, Now: now, Window: enroll.DefaultRenewalWindow,
		Lease: enroll.DefaultRenewalLease, Limit: limit})
	noErr(t, "ClaimRenewals", err)
	return got
}

// claimOne claims the one renewal due at now.
func claimOne(t testing.TB, s Store, org storage.OrgID, now time.Time) enroll.Renewal {
	t.Helper()
	got := claim(t, s, org, now, 10)
	if len(got) != 1 {
		t.Fatalf("claimed %d renewals at %s, want 1", len(got), now)
	}
	return got[0]
}

func renewalSession(r enroll.Renewal, n int) *enroll.Session {
	se := newSession(r.Org, n, enroll.KindRenewal)
	se.Phase, se.Renews, se.UDID, se.Expires = enroll.PhaseProfileSent, r.Identity, "UDID-1", r.NotAfter
	return &se
}

func renewalCommand(n int) *enroll.Command {
	return &enroll.Command{UUID: fmt.Sprintf("renew-%d", n), RequestType: "InstallProfile", Body: []byte("<plist/>")}
}

func renewalEntry(org storage.OrgID, when time.Time) storage.AuditEntry {
	return storage.AuditEntry{Org: org, Time: when, Actor: "system:renewal", Action: enroll.ActionRenewalQueued, Target: "device:dev_001"}
}

func testRenewalClaim(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	id := boundIdentity(t, s, o.ID, 1)
	if got := claim(t, s, o.ID, renewalYear.Add(-enroll.DefaultRenewalWindow-time.Minute), 10); len(got) != 0 {
		t.Fatalf("claimed before the window: %+v", got)
	}
	_, err := s.Renewal(t.Context(), o.ID, id.Fingerprint)
	wantErr(t, "Renewal before the window", err, storage.ErrNotFound)

	got := claim(t, s, o.ID, renewalNow, 10)
	if len(got) != 1 {
		t.Fatalf("claimed %d renewals in the window, want 1", len(got))
	}
	want := enroll.Renewal{Org: o.ID, Identity: id.Fingerprint, Device: "dev_001", NotAfter: storage.Normalize(renewalYear),
		Attempts: 1, NextAttempt: storage.Normalize(renewalNow), LeaseUntil: storage.Normalize(renewalNow.Add(enroll.DefaultRenewalLease)),
		Created: storage.Normalize(renewalNow), Updated: storage.Normalize(renewalNow)}
	same(t, "claimed renewal", got[0], want)
	read, err := s.Renewal(t.Context(), o.ID, id.Fingerprint)
	noErr(t, "Renewal", err)
	same(t, "read renewal", read, want)

	// While the lease runs nobody else gets it; after, the next does.
	if again := claim(t, s, o.ID, renewalNow.Add(enroll.DefaultRenewalLease-time.Second), 10); len(again) != 0 {
		t.Errorf("claimed again during the lease: %+v", again)
	}
	again := claim(t, s, o.ID, renewalNow.Add(enroll.DefaultRenewalLease), 10)
	if len(again) != 1 || again[0].Attempts != 2 {
		t.Errorf("after the lease: %+v, want the renewal with attempt 2", again)
	}
	list, err := s.Renewals(t.Context(), o.ID, 0)
	noErr(t, "Renewals", err)
	if len(list) != 1 || list[0].Identity != id.Fingerprint {
		t.Errorf("Renewals: %+v", list)
	}
}

func testRenewalQueue(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	boundIdentity(t, s, o.ID, 1)
	r := claimOne(t, s, o.ID, renewalNow)
	next := renewalNow.Add(time.Hour)

	// Bad attempts change nothing.
	before := takeSnapshot(t, s)
	otherKind := renewalSession(r, 7)
	otherKind.Kind, otherKind.Renews, otherKind.Phase = enroll.KindDirect, "", enroll.PhaseCreated
	for name, c := range map[string]struct {
		sess *enroll.Session
		cmd  *enroll.Command
		e    storage.AuditEntry
	}{
		"session without command": {renewalSession(r, 7), nil, renewalEntry(o.ID, renewalNow)},
		"session of another kind": {otherKind, renewalCommand(7), renewalEntry(o.ID, renewalNow)},
		"entry of another org":    {renewalSession(r, 7), renewalCommand(7), renewalEntry(storage.NewOrgID(), renewalNow)},
	} {
		_, err := s.QueueRenewal(t.Context(), r, c.sess, c.cmd, next, c.e)
		wantErr(t, name, err, storage.ErrInvalid)
	}
	unchanged(t, "bad renewal attempts", s, before)

	got, err := s.QueueRenewal(t.Context(), r, renewalSession(r, 7), renewalCommand(7), next, renewalEntry(o.ID, renewalNow))
	noErr(t, "QueueRenewal", err)
	if got.Session != sessionID(7) || got.Command != "renew-7" || !got.LeaseUntil.IsZero() || !got.NextAttempt.Equal(storage.Normalize(next)) {
		t.Errorf("queued renewal: %+v", got)
	}
	read, err := s.Renewal(t.Context(), o.ID, r.Identity)
	noErr(t, "Renewal", err)
	same(t, "read queued renewal", read, got)
	se, err := s.EnrollSession(t.Context(), o.ID, sessionID(7))
	noErr(t, "EnrollSession", err)
	if se.Kind != enroll.KindRenewal || se.Renews != r.Identity || se.Phase != enroll.PhaseProfileSent {
		t.Errorf("renewal session: %+v", se)
	}
	cmds, err := s.Commands(t.Context(), o.ID, "dev_001", 0)
	noErr(t, "Commands", err)
	if len(cmds) != 1 || cmds[0].UUID != "renew-7" {
		t.Errorf("queued commands: %+v", cmds)
	}
	if n := len(allAudit(t, s, o.ID)); n != 5 {
		t.Errorf("%d audit entries, want 5 (org, device, issue, bind, renewal)", n)
	}

	// Not due before next; the next attempt's session ends the first's
	// challenge.
	if early := claim(t, s, o.ID, next.Add(-time.Second), 10); len(early) != 0 {
		t.Errorf("claimed before its next attempt: %+v", early)
	}
	r2 := claim(t, s, o.ID, next, 10)
	if len(r2) != 1 || r2[0].Session != sessionID(7) {
		t.Fatalf("second claim: %+v", r2)
	}
	_, err = s.QueueRenewal(t.Context(), r2[0], renewalSession(r2[0], 8), renewalCommand(8), next.Add(2*time.Hour), renewalEntry(o.ID, next))
	noErr(t, "second QueueRenewal", err)
	first, err := s.EnrollSession(t.Context(), o.ID, sessionID(7))
	noErr(t, "EnrollSession", err)
	if first.ChallengeHash != nil || first.Expires.After(storage.Normalize(next)) {
		t.Errorf("the first attempt's session still has its challenge: %+v", first)
	}

	// An attempt that only wakes the device keeps session and command.
	r3 := claimOne(t, s, o.ID, next.Add(2*time.Hour))
	got, err = s.QueueRenewal(t.Context(), r3, nil, nil, next.Add(6*time.Hour), renewalEntry(o.ID, next.Add(2*time.Hour)))
	noErr(t, "wake-only QueueRenewal", err)
	if got.Session != sessionID(8) || got.Command != "renew-8" || got.Attempts != 3 {
		t.Errorf("after a wake-only attempt: %+v", got)
	}
}

func testRenewalStaleClaim(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	boundIdentity(t, s, o.ID, 1)
	stale := claimOne(t, s, o.ID, renewalNow)
	later := renewalNow.Add(enroll.DefaultRenewalLease)
	fresh := claimOne(t, s, o.ID, later) // the dead claimer's lease ran out
	before := takeSnapshot(t, s)
	_, err := s.QueueRenewal(t.Context(), stale, renewalSession(stale, 7), renewalCommand(7), later.Add(time.Hour), renewalEntry(o.ID, later))
	wantErr(t, "QueueRenewal of a stale claim", err, storage.ErrConflict)
	unchanged(t, "stale claim", s, before)
	cmds, err := s.Commands(t.Context(), o.ID, "dev_001", 0)
	noErr(t, "Commands", err)
	if len(cmds) != 0 {
		t.Errorf("a stale claim queued %+v", cmds)
	}
	_, err = s.EnrollSession(t.Context(), o.ID, sessionID(7))
	wantErr(t, "session of a stale claim", err, storage.ErrNotFound)
	_, err = s.QueueRenewal(t.Context(), fresh, renewalSession(fresh, 7), renewalCommand(7), later.Add(time.Hour), renewalEntry(o.ID, later))
	noErr(t, "QueueRenewal of the current claim", err)
	_, err = s.QueueRenewal(t.Context(), fresh, nil, nil, later.Add(time.Hour), renewalEntry(o.ID, later))
	wantErr(t, "QueueRenewal of a claim already used", err, storage.ErrConflict)
}

func testRenewalCompleted(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	id := boundIdentity(t, s, o.ID, 1)
	r := claimOne(t, s, o.ID, renewalNow)
	_, err := s.QueueRenewal(t.Context(), r, renewalSession(r, 7), renewalCommand(7), renewalNow.Add(time.Hour), renewalEntry(o.ID, renewalNow))
	noErr(t, "QueueRenewal", err)
	succ := newIdentity(o.ID, 2)
	succ.Renews, succ.Session, succ.Issued, succ.NotAfter = id.Fingerprint, sessionID(7), renewalNow, renewalYear.AddDate(1, 0, 0)
	_, err = s.RecordIdentity(t.Context(), succ, entryFor(o.ID, "enroll.scep.issue", renewalNow))
	noErr(t, "RecordIdentity", err)
	if got := claim(t, s, o.ID, renewalNow.Add(time.Hour), 10); len(got) != 1 {
		t.Fatalf("an unbound successor completes nothing: claimed %+v", got)
	}
	done := renewalNow.Add(2 * time.Hour)
	_, err = s.BindIdentity(t.Context(), o.ID, succ.Fingerprint, "dev_001", entryFor(o.ID, enroll.ActionIdentityRenewed, done))
	noErr(t, "BindIdentity", err)
	read, err := s.Renewal(t.Context(), o.ID, id.Fingerprint)
	noErr(t, "Renewal", err)
	if read.Successor != succ.Fingerprint || !read.Completed.Equal(storage.Normalize(done)) || !read.LeaseUntil.IsZero() {
		t.Errorf("renewal after its successor was bound: %+v", read)
	}
	if got := claim(t, s, o.ID, done.Add(24*time.Hour), 10); len(got) != 0 {
		t.Errorf("claimed after completion: %+v", got)
	}
	list, err := s.Renewals(t.Context(), o.ID, 0)
	noErr(t, "Renewals", err)
	if len(list) != 0 {
		t.Errorf("completed renewal still listed: %+v", list)
	}
}

func testRenewalNotDue(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	ctx := t.Context()
	// A revoked identity (never bound), an identity of a device that left
	// (deprovisioned), one of a pending device, and an expired one.
	revoked := newIdentity(o.ID, 1)
	_, err := s.RecordIdentity(ctx, revoked, entryFor(o.ID, "enroll.scep.issue", at(2)))
	noErr(t, "RecordIdentity", err)
	_, _, err = s.RevokeUserEnrollments(ctx, o.ID, revoked.UserID, at(3), entryFor(o.ID, "user.revoke", at(3)))
	noErr(t, "RevokeUserEnrollments", err)
	left := boundIdentity(t, s, o.ID, 2)
	_, err = s.UpdateDeviceState(ctx, o.ID, left.Device, inventory.StateDeprovisioning, deviceEntry(o.ID, "device.state", at(4)))
	noErr(t, "UpdateDeviceState", err)
	pending := newDevice(o.ID, 3)
	pending.State = inventory.StatePending
	mustCreateDevice(t, s, pending, at(1))
	pid := newIdentity(o.ID, 3)
	_, err = s.RecordIdentity(ctx, pid, entryFor(o.ID, "enroll.scep.issue", at(2)))
	noErr(t, "RecordIdentity", err)
	_, err = s.BindIdentity(ctx, o.ID, pid.Fingerprint, pending.ID, entryFor(o.ID, "device.identity.bind", at(3)))
	noErr(t, "BindIdentity", err)
	if got := claim(t, s, o.ID, renewalNow, 10); len(got) != 0 {
		t.Errorf("claimed %+v; want none", got)
	}
	boundIdentity(t, s, o.ID, 4)
	if got := claim(t, s, o.ID, renewalYear, 10); len(got) != 0 {
		t.Errorf("claimed an expired identity: %+v", got)
	}
}

func testRenewalConcurrentClaims(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	const devices = 6
	for n := 1; n <= devices; n++ {
		boundIdentity(t, s, o.ID, n)
	}
	claimed := make([][]enroll.Renewal, 8)
	errs := parallel(len(claimed), func(i int) error {
		var err error
		claimed[i], err = s.ClaimRenewals(context.Background(), enroll.RenewalClaim{Org: o.ID, Now: renewalNow,
			Window: enroll.DefaultRenewalWindow, Lease: enroll.DefaultRenewalLease, Limit: 2})
		return err
	})
	for _, err := range errs {
		noErr(t, "concurrent ClaimRenewals", err)
	}
	seen := map[enroll.Fingerprint]int{}
	for _, list := range claimed {
		for _, r := range list {
			seen[r.Identity]++
		}
	}
	if len(seen) != devices {
		t.Errorf("%d of %d renewals claimed", len(seen), devices)
	}
	for f, n := range seen {
		if n != 1 {
			t.Errorf("renewal of %s claimed %d times", f, n)
		}
	}
}

func testRenewalTenantIsolation(t testing.TB, s Store) {
	a := mustCreateOrg(t, s, "acme")
	b := mustCreateOrg(t, s, "beta")
	id := boundIdentity(t, s, a.ID, 1)
	if got := claim(t, s, b.ID, renewalNow, 10); len(got) != 0 {
		t.Fatalf("org beta claimed %+v", got)
	}
	r := claimOne(t, s, a.ID, renewalNow)
	_, err := s.Renewal(t.Context(), b.ID, id.Fingerprint)
	wantErr(t, "Renewal of another org", err, storage.ErrNotFound)
	list, err := s.Renewals(t.Context(), b.ID, 0)
	noErr(t, "Renewals", err)
	if len(list) != 0 {
		t.Errorf("org beta lists %+v", list)
	}
	before := takeSnapshot(t, s)
	theirs := r
	theirs.Org = b.ID
	_, err = s.QueueRenewal(t.Context(), theirs, renewalSession(theirs, 7), renewalCommand(7), renewalNow.Add(time.Hour), renewalEntry(b.ID, renewalNow))
	wantErr(t, "QueueRenewal through another org", err, storage.ErrNotFound)
	unchanged(t, "QueueRenewal through another org", s, before)
}
