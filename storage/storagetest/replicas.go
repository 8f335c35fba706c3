package storagetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
)

// Work shared by replicas: leases (storage.Leases) and the push outbox
// (enroll.PushOutbox).
func replicaCases() []testCase {
	return []testCase{
		{"Leases/OneHolder", testLeaseOneHolder},
		{"Leases/Takeover", testLeaseTakeover},
		{"Leases/TenantIsolation", testLeaseTenants},
		{"Leases/Invalid", testLeaseInvalid},
		{"Pushes/QueuedWithCommand", testPushesWithCommand},
		{"Pushes/ClaimOnce", testPushesClaimOnce},
		{"Pushes/Takeover", testPushesTakeover},
		{"Pushes/NewCommandReleases", testPushesNewCommand},
		{"Pushes/Renew", testPushesRenew},
		{"Pushes/TenantIsolation", testPushesTenants},
		{"Pushes/Invalid", testPushesInvalid},
	}
}

func takeLease(t testing.TB, s Store, org storage.OrgID, name, holder string, now, until int) bool {
	t.Helper()
	ok, err := s.TakeLease(t.Context(), org, name, holder, at(now), at(until))
	noErr(t, fmt.Sprintf("TakeLease(%s, %s)", name, holder), err)
	return ok
}

// testLeaseOneHolder: of many replicas racing for a free lease, one gets
// it; its holder renews it, the others keep failing while it runs.
func testLeaseOneHolder(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	got := make([]bool, 8)
	errs := parallel(len(got), func(i int) error {
		var err error
		got[i], err = s.TakeLease(t.Context(), o.ID, "reconcile", fmt.Sprintf("replica-%d", i), at(1), at(10))
		return err
	})
	for _, err := range errs {
		noErr(t, "TakeLease", err)
	}
	holder := slices.Index(got, true)
	if n := len(slices.DeleteFunc(slices.Clone(got), func(b bool) bool { return !b })); n != 1 {
		t.Fatalf("%d of %d racing replicas got the lease, want 1", n, len(got))
	}
	me := fmt.Sprintf("replica-%d", holder)
	other := fmt.Sprintf("replica-%d", (holder+1)%len(got))
	if takeLease(t, s, o.ID, "reconcile", other, 5, 20) {
		t.Error("another replica took a running lease")
	}
	if !takeLease(t, s, o.ID, "reconcile", me, 5, 20) {
		t.Error("the holder could not renew its lease")
	}
	if takeLease(t, s, o.ID, "reconcile", other, 15, 30) {
		t.Error("another replica took a renewed lease before it ran out")
	}
	if !takeLease(t, s, o.ID, "webhook:x", other, 15, 30) {
		t.Error("a lease of another name was refused")
	}
}

// testLeaseTakeover: a lease whose holder stopped renewing it is taken
// over once it runs out, and its old holder then cannot renew it.
func testLeaseTakeover(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	if !takeLease(t, s, o.ID, "reconcile", "dead", 1, 5) {
		t.Fatal("a free lease was refused")
	}
	if takeLease(t, s, o.ID, "reconcile", "alive", 4, 10) {
		t.Error("a lease was taken over a minute before it ran out")
	}
	if !takeLease(t, s, o.ID, "reconcile", "alive", 5, 10) {
		t.Error("a lease was not taken over when it ran out")
	}
	if takeLease(t, s, o.ID, "reconcile", "dead", 6, 12) {
		t.Error("the old holder took back a lease taken over")
	}
	// A holder may shorten its own lease (a job done early frees it).
	if !takeLease(t, s, o.ID, "reconcile", "alive", 6, 7) || !takeLease(t, s, o.ID, "reconcile", "third", 7, 20) {
		t.Error("a lease shortened by its holder was not free when the shorter term ran out")
	}
}

// testLeaseTenants: leases of the same name in two orgs are two leases.
func testLeaseTenants(t testing.TB, s Store) {
	a, b := mustCreateOrg(t, s, "acme"), mustCreateOrg(t, s, "globex")
	if !takeLease(t, s, a.ID, "reconcile", "r1", 1, 10) {
		t.Fatal("a free lease was refused")
	}
	if !takeLease(t, s, b.ID, "reconcile", "r2", 1, 10) {
		t.Error("org b's lease is held by org a's holder")
	}
	if takeLease(t, s, a.ID, "reconcile", "r2", 2, 10) {
		t.Error("org b's holder took org a's lease")
	}
	_, err := s.TakeLease(t.Context(), "org_unknown", "reconcile", "r1", at(1), at(10))
	wantErr(t, "TakeLease of an unknown org", err, storage.ErrNotFound)
}

func testLeaseInvalid(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	for name, call := range map[string]func() error{
		"empty name":   func() error { _, err := s.TakeLease(t.Context(), o.ID, "", "r", at(1), at(2)); return err },
		"empty holder": func() error { _, err := s.TakeLease(t.Context(), o.ID, "x", "", at(1), at(2)); return err },
		"until before": func() error { _, err := s.TakeLease(t.Context(), o.ID, "x", "r", at(2), at(2)); return err },
		"bad org":      func() error { _, err := s.TakeLease(t.Context(), "", "x", "r", at(1), at(2)); return err },
	} {
		wantErr(t, name, call(), storage.ErrInvalid)
	}
	if !takeLease(t, s, o.ID, "x", "r", 1, 2) {
		t.Error("a refused call left the lease taken")
	}
}

func claimPushes(t testing.TB, s Store, org storage.OrgID, devices []string, who string, now, until, limit int) []string {
	t.Helper()
	got, err := s.ClaimPushes(t.Context(), org, devices, who, at(now), at(until), limit)
	noErr(t, "ClaimPushes "+who, err)
	slices.Sort(got)
	return got
}

func pushesDone(t testing.TB, s Store, org storage.OrgID, who string, devices ...string) {
	t.Helper()
	noErr(t, "PushesDone "+who, s.PushesDone(t.Context(), org, who, devices))
}

// testPushesWithCommand: a queued command leaves its devices in the
// outbox, oldest first; done pushes leave it.
func testPushesWithCommand(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	if got := claimPushes(t, s, o.ID, nil, "c0", 1, 2, 10); len(got) != 0 {
		t.Fatalf("pushes waiting before any command: %v", got)
	}
	enqueue(t, s, o.ID, "u1", "d1", "d2", "d3")
	same(t, "devices of a queued command", claimPushes(t, s, o.ID, nil, "c1", 2, 5, 10), []string{"d1", "d2", "d3"})
	if got := claimPushes(t, s, o.ID, nil, "c2", 3, 5, 10); len(got) != 0 {
		t.Errorf("devices claimed twice: %v", got)
	}
	pushesDone(t, s, o.ID, "c1", "d1", "d2")
	// d3's claim runs out: it is claimed again; d1 and d2 are gone.
	same(t, "after the claim ran out", claimPushes(t, s, o.ID, nil, "c3", 5, 8, 10), []string{"d3"})
	pushesDone(t, s, o.ID, "c3", "d3")
	if got := claimPushes(t, s, o.ID, nil, "c4", 9, 10, 10); len(got) != 0 {
		t.Errorf("pushes left after all were done: %v", got)
	}
	// A wake without a command, and only the devices asked for.
	noErr(t, "QueuePushes", s.QueuePushes(t.Context(), o.ID, []string{"d7", "d8"}, at(10)))
	same(t, "claim of listed devices", claimPushes(t, s, o.ID, []string{"d8", "d9"}, "c5", 10, 12, 10), []string{"d8"})
	same(t, "the other", claimPushes(t, s, o.ID, nil, "c6", 10, 12, 10), []string{"d7"})
}

// testPushesClaimOnce: concurrent claimers share the outbox: every device
// is claimed by exactly one of them.
func testPushesClaimOnce(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	var devices []string
	for i := range 40 {
		devices = append(devices, fmt.Sprintf("d%02d", i))
	}
	enqueue(t, s, o.ID, "fan-out", devices...)
	claims := make([][]string, 8)
	errs := parallel(len(claims), func(i int) error {
		for {
			got, err := s.ClaimPushes(t.Context(), o.ID, nil, fmt.Sprintf("w%d", i), at(2), at(10), 3)
			if err != nil || len(got) == 0 {
				return err
			}
			claims[i] = append(claims[i], got...)
		}
	})
	for _, err := range errs {
		noErr(t, "concurrent ClaimPushes", err)
	}
	var all []string
	for _, c := range claims {
		all = append(all, c...)
	}
	slices.Sort(all)
	same(t, "devices claimed by concurrent claimers (each once)", all, devices)
}

// testPushesTakeover: the claim of a pusher that died runs out and the
// devices are claimed again; the dead claim's late PushesDone deletes
// nothing the new one holds.
func testPushesTakeover(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	enqueue(t, s, o.ID, "u1", "d1", "d2")
	same(t, "first claim", claimPushes(t, s, o.ID, nil, "dead", 1, 3, 10), []string{"d1", "d2"})
	if got := claimPushes(t, s, o.ID, nil, "alive", 2, 5, 10); len(got) != 0 {
		t.Errorf("claimed before the claim ran out: %v", got)
	}
	same(t, "taken over", claimPushes(t, s, o.ID, nil, "alive", 3, 5, 10), []string{"d1", "d2"})
	pushesDone(t, s, o.ID, "dead", "d1", "d2")
	same(t, "after the dead claim's PushesDone", claimPushes(t, s, o.ID, nil, "third", 5, 6, 10), []string{"d1", "d2"})
}

// testPushesNewCommand: a command queued while a device's push is claimed
// releases the claim (the push may have left before the command existed).
func testPushesNewCommand(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	enqueue(t, s, o.ID, "u1", "d1")
	same(t, "claim", claimPushes(t, s, o.ID, nil, "c1", 1, 10, 10), []string{"d1"})
	enqueue(t, s, o.ID, "u2", "d1")
	pushesDone(t, s, o.ID, "c1", "d1")
	same(t, "after a new command", claimPushes(t, s, o.ID, nil, "c2", 2, 10, 10), []string{"d1"})
	// A wake without a command does not release a claim.
	noErr(t, "QueuePushes", s.QueuePushes(t.Context(), o.ID, []string{"d1"}, at(3)))
	if got := claimPushes(t, s, o.ID, nil, "c3", 3, 10, 10); len(got) != 0 {
		t.Errorf("QueuePushes released a claim: %v", got)
	}
}

func renewPushes(t testing.TB, s Store, org storage.OrgID, who string, now, until int, devices ...string) int {
	t.Helper()
	n, err := s.RenewPushes(t.Context(), org, who, devices, at(now), at(until))
	noErr(t, "RenewPushes "+who, err)
	return n
}

// testPushesRenew: a claim renewed while its devices are pushed holds
// them past its first end, only those it still holds: not a device a new
// command released, nor one another claimed once the claim had run out,
// nor another org's.
func testPushesRenew(t testing.TB, s Store) {
	o, other := mustCreateOrg(t, s, "acme"), mustCreateOrg(t, s, "globex")
	enqueue(t, s, o.ID, "u1", "d1", "d2", "d3")
	enqueue(t, s, other.ID, "u1", "d1")
	same(t, "claim", claimPushes(t, s, o.ID, nil, "c1", 1, 3, 10), []string{"d1", "d2", "d3"})
	same(t, "the other org's claim", claimPushes(t, s, other.ID, nil, "c1", 1, 3, 10), []string{"d1"})
	enqueue(t, s, o.ID, "u2", "d3") // releases d3
	if n := renewPushes(t, s, o.ID, "c1", 2, 10, "d1", "d2", "d3"); n != 2 {
		t.Errorf("RenewPushes = %d, want the 2 devices the claim still holds", n)
	}
	if n := renewPushes(t, s, o.ID, "someone", 2, 20, "d1", "d2"); n != 0 {
		t.Errorf("RenewPushes of a claim that holds nothing = %d", n)
	}
	same(t, "claim after the first claim's end", claimPushes(t, s, o.ID, nil, "c2", 5, 8, 10), []string{"d3"})
	pushesDone(t, s, o.ID, "c2", "d3")
	same(t, "the other org's claim, not renewed, runs out", claimPushes(t, s, other.ID, nil, "c2", 5, 8, 10), []string{"d1"})
	same(t, "claim after the renewed end", claimPushes(t, s, o.ID, nil, "c3", 10, 12, 10), []string{"d1", "d2"})
	// The first claim, taken over, renews nothing and takes nothing back.
	if n := renewPushes(t, s, o.ID, "c1", 11, 30, "d1", "d2"); n != 0 {
		t.Errorf("RenewPushes of a claim taken over = %d", n)
	}
	same(t, "after the old claim's renewal", claimPushes(t, s, o.ID, nil, "c4", 12, 14, 10), []string{"d1", "d2"})
	for name, call := range map[string]func() error{
		"empty claim": func() error {
			_, err := s.RenewPushes(t.Context(), o.ID, "", []string{"d1"}, at(13), at(20))
			return err
		},
		"until before": func() error {
			_, err := s.RenewPushes(t.Context(), o.ID, "c4", []string{"d1"}, at(13), at(13))
			return err
		},
		"empty device": func() error {
			_, err := s.RenewPushes(t.Context(), o.ID, "c4", []string{""}, at(13), at(20))
			return err
		},
		"bad org": func() error {
			_, err := s.RenewPushes(t.Context(), "", "c4", []string{"d1"}, at(13), at(20))
			return err
		},
	} {
		wantErr(t, name, call(), storage.ErrInvalid)
	}
	if got := claimPushes(t, s, o.ID, nil, "c5", 13, 15, 10); len(got) != 0 {
		t.Errorf("refused renewals released the claim: %v", got)
	}
}

// testPushesTenants: one org's claims never see another's devices.
func testPushesTenants(t testing.TB, s Store) {
	a, b := mustCreateOrg(t, s, "acme"), mustCreateOrg(t, s, "globex")
	enqueue(t, s, a.ID, "ua", "d1")
	enqueue(t, s, b.ID, "ub", "d1")
	same(t, "org a", claimPushes(t, s, a.ID, nil, "c", 1, 5, 10), []string{"d1"})
	same(t, "org b's device of the same ID", claimPushes(t, s, b.ID, []string{"d1"}, "c", 1, 5, 10), []string{"d1"})
	pushesDone(t, s, a.ID, "c", "d1")
	// b's row, claimed by the same claim name, is still there after its
	// claim runs out.
	same(t, "org b after org a's PushesDone", claimPushes(t, s, b.ID, nil, "c2", 5, 8, 10), []string{"d1"})
	err := s.QueuePushes(t.Context(), "org_unknown", []string{"d1"}, at(1))
	wantErr(t, "QueuePushes of an unknown org", err, storage.ErrNotFound)
}

func testPushesInvalid(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	enqueue(t, s, o.ID, "u1", "d1")
	for name, call := range map[string]func() error{
		"limit 0": func() error { _, err := s.ClaimPushes(t.Context(), o.ID, nil, "c", at(1), at(2), 0); return err },
		"limit too big": func() error {
			_, err := s.ClaimPushes(t.Context(), o.ID, nil, "c", at(1), at(2), enroll.MaxPushClaim+1)
			return err
		},
		"empty claim":  func() error { _, err := s.ClaimPushes(t.Context(), o.ID, nil, "", at(1), at(2), 1); return err },
		"until before": func() error { _, err := s.ClaimPushes(t.Context(), o.ID, nil, "c", at(2), at(1), 1); return err },
		"no devices":   func() error { return s.QueuePushes(t.Context(), o.ID, []string{}, at(1)) },
		"empty device": func() error { return s.QueuePushes(t.Context(), o.ID, []string{""}, at(1)) },
	} {
		wantErr(t, name, call(), storage.ErrInvalid)
	}
	same(t, "after refused calls", claimPushes(t, s, o.ID, nil, "c", 1, 2, 10), []string{"d1"})
}
