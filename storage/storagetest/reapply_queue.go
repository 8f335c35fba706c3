package storagetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// Re-applications still to be done (policy.ReapplyQueue).
func reapplyQueueCases() []testCase {
	return []testCase{
		{"ReapplyQueue/WithPolicyChange", testReapplyWithPolicyChange},
		{"ReapplyQueue/ClaimOnce", testReapplyClaimOnce},
		{"ReapplyQueue/RequestedAgain", testReapplyRequestedAgain},
		{"ReapplyQueue/Takeover", testReapplyTakeover},
		{"ReapplyQueue/Progress", testReapplyProgress},
		{"ReapplyQueue/NotBeforeRequestedBy", testReapplyRequestedBy},
		{"ReapplyQueue/TenantIsolation", testReapplyTenants},
		{"ReapplyQueue/Invalid", testReapplyInvalid},
	}
}

func claimDueReapplies(t testing.TB, s Store, org storage.OrgID, claim string, requestedBy, now, until int) []string {
	t.Helper()
	got, err := s.ClaimDueReapplies(t.Context(), org, at(requestedBy), claim, at(now), at(until), policy.MaxReapplyClaim)
	noErr(t, "ClaimDueReapplies("+claim+")", err)
	users := []string{}
	for _, r := range got {
		users = append(users, r.User)
	}
	return users
}

func claimReapply(t testing.TB, s Store, org storage.OrgID, user, claim string, now, until int) (policy.ReapplyRequest, bool) {
	t.Helper()
	r, ok, err := s.ClaimReapply(t.Context(), org, user, claim, at(now), at(until))
	noErr(t, fmt.Sprintf("ClaimReapply(%q, %s)", user, claim), err)
	return r, ok
}

func reapplyDone(t testing.TB, s Store, org storage.OrgID, claim string, r policy.ReapplyRequest) {
	t.Helper()
	noErr(t, fmt.Sprintf("ReapplyDone(%q, %s)", r.User, claim), s.ReapplyDone(t.Context(), org, claim, r))
}

// drainReapplies claims and completes every waiting request, returning
// what it found.
func drainReapplies(t testing.TB, s Store, org storage.OrgID, now int) []policy.ReapplyRequest {
	t.Helper()
	got, err := s.ClaimDueReapplies(t.Context(), org, at(now), "drain", at(now), at(now+1), policy.MaxReapplyClaim)
	noErr(t, "ClaimDueReapplies", err)
	for _, r := range got {
		reapplyDone(t, s, org, "drain", r)
	}
	return got
}

// testReapplyWithPolicyChange: every committed policy change leaves the
// org's request, written with it; a refused change leaves none.
func testReapplyWithPolicyChange(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	if got := drainReapplies(t, s, o.ID, 1); len(got) != 0 {
		t.Fatalf("requests before any change: %v", got)
	}
	p := mustCreatePolicy(t, s, samplePolicy(o.ID, "sales", 10), 2)
	got := drainReapplies(t, s, o.ID, 2)
	if len(got) != 1 || got[0].User != "" || got[0].Seq != 1 || !got[0].Requested.Equal(storage.Normalize(at(2))) {
		t.Fatalf("after CreatePolicy: %+v, want one request of the org (user \"\", seq 1, requested at minute 2)", got)
	}
	p.Description = "changed"
	p, err := s.UpdatePolicy(t.Context(), p, policyEntry(o.ID, "policy.update", p.ID, 3))
	noErr(t, "UpdatePolicy", err)
	if got := drainReapplies(t, s, o.ID, 3); len(got) != 1 || got[0].User != "" {
		t.Fatalf("after UpdatePolicy: %+v, want the org's request", got)
	}
	stale := p
	stale.Version--
	_, err = s.UpdatePolicy(t.Context(), stale, policyEntry(o.ID, "policy.update", p.ID, 4))
	wantErr(t, "UpdatePolicy of a stale version", err, storage.ErrConflict)
	if got := drainReapplies(t, s, o.ID, 4); len(got) != 0 {
		t.Fatalf("a refused update left requests: %+v", got)
	}
	noErr(t, "DeletePolicy", s.DeletePolicy(t.Context(), o.ID, p.ID, p.Version, policyEntry(o.ID, "policy.delete", p.ID, 5)))
	if got := drainReapplies(t, s, o.ID, 5); len(got) != 1 || got[0].User != "" {
		t.Fatalf("after DeletePolicy: %+v, want the org's request", got)
	}
}

// testReapplyClaimOnce: of many replicas racing for the requests, each
// request goes to one.
func testReapplyClaimOnce(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	users := []string{""}
	for i := range 12 {
		users = append(users, fmt.Sprintf("user-%02d", i))
	}
	for _, u := range users {
		noErr(t, "RequestReapply", s.RequestReapply(t.Context(), o.ID, u, at(1)))
	}
	claims := make([][]string, 8)
	errs := parallel(len(claims), func(i int) error {
		for {
			got, err := s.ClaimDueReapplies(t.Context(), o.ID, at(2), fmt.Sprintf("w%d", i), at(2), at(10), 2)
			if err != nil || len(got) == 0 {
				return err
			}
			for _, r := range got {
				claims[i] = append(claims[i], r.User)
			}
		}
	})
	for _, err := range errs {
		noErr(t, "concurrent ClaimDueReapplies", err)
	}
	var all []string
	for _, c := range claims {
		all = append(all, c...)
	}
	slices.Sort(all)
	same(t, "requests claimed by concurrent claimers (each once)", all, users)

	// One request, claimed by name by racing replicas: one gets it.
	noErr(t, "RequestReapply", s.RequestReapply(t.Context(), o.ID, "late", at(3)))
	got := make([]bool, 8)
	errs = parallel(len(got), func(i int) error {
		var err error
		_, got[i], err = s.ClaimReapply(t.Context(), o.ID, "late", fmt.Sprintf("r%d", i), at(3), at(10))
		return err
	})
	n := 0
	for i, err := range errs {
		noErr(t, "concurrent ClaimReapply", err)
		if got[i] {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d of %d racing replicas claimed one request, want 1", n, len(got))
	}
}

// testReapplyRequestedAgain: a request made again while its run goes on is
// not deleted by that run's completion: it is released and runs again.
func testReapplyRequestedAgain(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	noErr(t, "RequestReapply", s.RequestReapply(t.Context(), o.ID, "", at(1)))
	r, ok := claimReapply(t, s, o.ID, "", "a", 2, 10)
	if !ok || r.Seq != 1 {
		t.Fatalf("ClaimReapply = %+v, %v; want seq 1", r, ok)
	}
	if got := claimDueReapplies(t, s, o.ID, "b", 5, 5, 10); len(got) != 0 {
		t.Fatalf("a running request was claimed again: %v", got)
	}
	noErr(t, "RequestReapply again", s.RequestReapply(t.Context(), o.ID, "", at(3)))
	if got := claimDueReapplies(t, s, o.ID, "b", 5, 5, 10); len(got) != 0 {
		t.Fatalf("a request made again while it ran was taken from its claim: %v", got)
	}
	if again, ok := claimReapply(t, s, o.ID, "", "a", 4, 12); !ok || again.Seq != 2 {
		t.Fatalf("renewal by the claim = %+v, %v; want seq 2", again, ok)
	}
	reapplyDone(t, s, o.ID, "a", r) // the run that read seq 1
	r2, ok := claimReapply(t, s, o.ID, "", "b", 5, 10)
	if !ok || r2.Seq != 2 || !r2.Requested.Equal(storage.Normalize(at(3))) {
		t.Fatalf("after the first run's completion: %+v, %v; want the request again (seq 2, requested at minute 3)", r2, ok)
	}
	reapplyDone(t, s, o.ID, "b", r2)
	if got := drainReapplies(t, s, o.ID, 20); len(got) != 0 {
		t.Fatalf("requests left after the last run: %+v", got)
	}
}

// testReapplyTakeover: the claim of a replica that died runs out and the
// request is claimed again; the dead claim's late completion changes
// nothing.
func testReapplyTakeover(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	noErr(t, "RequestReapply", s.RequestReapply(t.Context(), o.ID, "u1", at(1)))
	dead, ok := claimReapply(t, s, o.ID, "u1", "dead", 1, 3)
	if !ok {
		t.Fatal("a waiting request was not claimed")
	}
	if _, ok := claimReapply(t, s, o.ID, "u1", "alive", 2, 5); ok {
		t.Error("a request was claimed before its claim ran out")
	}
	if got := claimDueReapplies(t, s, o.ID, "alive", 2, 2, 5); len(got) != 0 {
		t.Errorf("a request was claimed before its claim ran out: %v", got)
	}
	same(t, "taken over", claimDueReapplies(t, s, o.ID, "alive", 3, 3, 5), []string{"u1"})
	reapplyDone(t, s, o.ID, "dead", dead)
	same(t, "after the dead claim's completion", claimDueReapplies(t, s, o.ID, "third", 5, 5, 6), []string{"u1"})
}

// testReapplyProgress: a run that stops part way releases the request
// with how far it got, and the next run, whoever makes it, starts there;
// the progress of a claim that no longer holds the request changes
// nothing, and a request made again starts from the first device.
func testReapplyProgress(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	ctx := t.Context()
	noErr(t, "RequestReapply", s.RequestReapply(ctx, o.ID, "", at(1)))
	r, ok := claimReapply(t, s, o.ID, "", "a", 2, 10)
	if !ok || r.After != "" {
		t.Fatalf("first claim = %+v, %v; want the request, from the first device", r, ok)
	}
	noErr(t, "ReapplyProgress(a)", s.ReapplyProgress(ctx, o.ID, "a", r, "dev-5"))
	got, err := s.ClaimDueReapplies(ctx, o.ID, at(3), "b", at(3), at(10), policy.MaxReapplyClaim)
	noErr(t, "ClaimDueReapplies(b)", err)
	if len(got) != 1 || got[0].After != "dev-5" || got[0].Seq != 1 {
		t.Fatalf("after a run stopped part way: %+v, want the request released, going on after dev-5 (seq 1)", got)
	}
	// The first claim's late word: b holds the request now.
	noErr(t, "ReapplyProgress(a, late)", s.ReapplyProgress(ctx, o.ID, "a", r, "dev-7"))
	if users := claimDueReapplies(t, s, o.ID, "c", 4, 4, 10); len(users) != 0 {
		t.Fatalf("a claim that had lost the request released it: %v", users)
	}
	noErr(t, "ReapplyProgress(b)", s.ReapplyProgress(ctx, o.ID, "b", got[0], "dev-9"))
	r, ok = claimReapply(t, s, o.ID, "", "c", 5, 10)
	if !ok || r.After != "dev-9" {
		t.Fatalf("after the second run: %+v, %v; want it going on after dev-9", r, ok)
	}
	// Made again while c runs: c's progress releases it, from the start.
	noErr(t, "RequestReapply again", s.RequestReapply(ctx, o.ID, "", at(6)))
	noErr(t, "ReapplyProgress(c)", s.ReapplyProgress(ctx, o.ID, "c", r, "dev-12"))
	r, ok = claimReapply(t, s, o.ID, "", "d", 7, 10)
	if !ok || r.After != "" || r.Seq != 2 {
		t.Fatalf("a request made again during a run: %+v, %v; want seq 2 from the first device", r, ok)
	}
	reapplyDone(t, s, o.ID, "d", r)
	if got := drainReapplies(t, s, o.ID, 20); len(got) != 0 {
		t.Fatalf("requests left after the last run: %+v", got)
	}
}

// testReapplyRequestedBy: requests newer than requestedBy wait (the
// replica that made the change runs its own first).
func testReapplyRequestedBy(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	noErr(t, "RequestReapply", s.RequestReapply(t.Context(), o.ID, "u1", at(5)))
	if got := claimDueReapplies(t, s, o.ID, "w", 4, 6, 7); len(got) != 0 {
		t.Errorf("a request made at minute 5 was claimed as requested by minute 4: %v", got)
	}
	same(t, "requested by minute 5", claimDueReapplies(t, s, o.ID, "w", 5, 6, 7), []string{"u1"})
	if _, ok := claimReapply(t, s, o.ID, "nobody", "w", 6, 7); ok {
		t.Error("ClaimReapply of a request never made reported one")
	}
}

// testReapplyTenants: another org's requests are neither claimed nor
// completed.
func testReapplyTenants(t testing.TB, s Store) {
	acme := mustCreateOrg(t, s, "acme")
	globex := mustCreateOrg(t, s, "globex")
	noErr(t, "RequestReapply", s.RequestReapply(t.Context(), acme.ID, "u1", at(1)))
	if got := claimDueReapplies(t, s, globex.ID, "w", 2, 2, 5); len(got) != 0 {
		t.Fatalf("another org's requests were claimed: %v", got)
	}
	if _, ok := claimReapply(t, s, globex.ID, "u1", "w", 2, 5); ok {
		t.Fatal("another org's request was claimed by name")
	}
	r, ok := claimReapply(t, s, acme.ID, "u1", "w", 2, 5)
	if !ok {
		t.Fatal("the org's own request was not claimed")
	}
	reapplyDone(t, s, globex.ID, "w", r)
	noErr(t, "ReapplyProgress(other org)", s.ReapplyProgress(t.Context(), globex.ID, "w", r, "dev-1"))
	if got := claimDueReapplies(t, s, acme.ID, "w2", 4, 4, 7); len(got) != 0 {
		t.Fatalf("progress in another org released the request: %v", got)
	}
	got, err := s.ClaimDueReapplies(t.Context(), acme.ID, at(6), "w2", at(6), at(7), policy.MaxReapplyClaim)
	noErr(t, "ClaimDueReapplies", err)
	if len(got) != 1 || got[0].User != "u1" || got[0].After != "" {
		t.Fatalf("after a completion and a progress in another org: %+v, want u1's request, untouched", got)
	}
}

// testReapplyInvalid: bad arguments are ErrInvalid and change nothing; an
// unknown org ErrNotFound.
func testReapplyInvalid(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	ctx := t.Context()
	long := strings.Repeat("u", storage.MaxIDLen+1)
	wantErr(t, "RequestReapply(bad org)", s.RequestReapply(ctx, "", "u", at(1)), storage.ErrInvalid)
	wantErr(t, "RequestReapply(long user)", s.RequestReapply(ctx, o.ID, long, at(1)), storage.ErrInvalid)
	wantErr(t, "RequestReapply(bad UTF-8)", s.RequestReapply(ctx, o.ID, "\xff", at(1)), storage.ErrInvalid)
	wantErr(t, "RequestReapply(unknown org)", s.RequestReapply(ctx, storage.NewOrgID(), "u", at(1)), storage.ErrNotFound)
	_, _, err := s.ClaimReapply(ctx, o.ID, "u", "", at(1), at(2))
	wantErr(t, "ClaimReapply(no claim)", err, storage.ErrInvalid)
	_, _, err = s.ClaimReapply(ctx, o.ID, "u", "w", at(2), at(1))
	wantErr(t, "ClaimReapply(until before now)", err, storage.ErrInvalid)
	for _, limit := range []int{0, -1, policy.MaxReapplyClaim + 1} {
		_, err = s.ClaimDueReapplies(ctx, o.ID, at(1), "w", at(1), at(2), limit)
		wantErr(t, fmt.Sprintf("ClaimDueReapplies(limit %d)", limit), err, storage.ErrInvalid)
	}
	wantErr(t, "ReapplyDone(no claim)", s.ReapplyDone(ctx, o.ID, "", policy.ReapplyRequest{}), storage.ErrInvalid)
	wantErr(t, "ReapplyProgress(no claim)", s.ReapplyProgress(ctx, o.ID, "", policy.ReapplyRequest{}, "dev-1"), storage.ErrInvalid)
	wantErr(t, "ReapplyProgress(no device)", s.ReapplyProgress(ctx, o.ID, "w", policy.ReapplyRequest{}, ""), storage.ErrInvalid)
	wantErr(t, "ReapplyProgress(long device)", s.ReapplyProgress(ctx, o.ID, "w", policy.ReapplyRequest{}, long), storage.ErrInvalid)
	if got := drainReapplies(t, s, o.ID, 10); len(got) != 0 {
		t.Fatalf("refused requests were stored: %+v", got)
	}
}
