package policy_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

const (
	benchPolicies = 1000
	benchGroups   = 10_000
	groupsPer     = 20 // target groups per policy: every group is targeted by two policies
)

func benchGroup(i int) string { return fmt.Sprintf("cn=group-%05d,ou=groups,dc=acme", i%benchGroups) }

// benchPolicySet returns 1,000 policies over 10,000 groups, each with
// full iOS and Android rules.
func benchPolicySet() []policy.Policy {
	ps := make([]policy.Policy, benchPolicies)
	for i := range ps {
		groups := make([]string, groupsPer)
		for k := range groups {
			groups[k] = benchGroup(i*benchGroups/benchPolicies + k)
		}
		p := clone(executives)
		p.ID = policy.ID(fmt.Sprintf("pol_%04d", i))
		p.Name = fmt.Sprintf("Policy %d", i)
		p.Priority = i + 1
		p.Groups = groups
		ps[benchPolicies-1-i] = p // out of priority order, as a caller may pass them
	}
	return ps
}

// userGroups returns n groups spread over the upper half of the range
// (all of it for n = benchGroups), so that the deciding policy has priority
// about 500: a naive scan walks half the policies to find it.
func userGroups(n int) []string {
	if n >= benchGroups {
		g := make([]string, benchGroups)
		for i := range g {
			g[i] = benchGroup(benchGroups - 1 - i)
		}
		return g
	}
	g := make([]string, n)
	for i := range g {
		g[i] = benchGroup(benchGroups/2 + i*(benchGroups/2/n))
	}
	return g
}

func BenchmarkEvaluate(b *testing.B) {
	set, err := policy.NewSet(org, benchPolicySet())
	if err != nil {
		b.Fatal(err)
	}
	device := samsung("12", 31, true)
	for _, tc := range []struct {
		name   string
		groups []string
	}{
		{"user-in-50-groups", userGroups(50)},
		{"user-in-10000-groups", userGroups(benchGroups)},
		{"user-in-no-targeted-group", []string{"cn=nobody", "cn=everyone"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			u := policy.User{ID: "bob", Groups: tc.groups}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := set.Evaluate(u, device); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// The baseline the index replaces: walk the policies by priority and
	// test each target group against the user's groups.
	b.Run("naive-scan-user-in-50-groups", func(b *testing.B) {
		sorted := benchPolicySet()
		slices.SortFunc(sorted, func(a, b policy.Policy) int { return a.Priority - b.Priority })
		groups := userGroups(50)
		b.ReportAllocs()
		for b.Loop() {
			in := make(map[string]bool, len(groups))
			for _, g := range groups {
				in[g] = true
			}
			found := false
			for _, p := range sorted {
				if slices.ContainsFunc(p.Groups, func(g string) bool { return in[g] }) {
					found = true
					break
				}
			}
			if !found {
				b.Fatal("no match")
			}
		}
	})
}

func BenchmarkNewSet(b *testing.B) {
	ps := benchPolicySet()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := policy.NewSet(org, ps); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkServiceEvaluate is the full path with a warm cache: the revision
// check on the store, then the compiled Set.
func BenchmarkServiceEvaluate(b *testing.B) {
	store := memory.New()
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	if _, err := store.CreateOrg(b.Context(), storage.Org{ID: org, Name: "acme", DisplayName: "Acme"},
		storage.AuditEntry{Org: org, Time: now, Actor: "system", Action: "org.create"}); err != nil {
		b.Fatal(err)
	}
	for _, p := range benchPolicySet() {
		if _, err := store.CreatePolicy(b.Context(), p, storage.AuditEntry{Org: org, Time: now, Actor: "system", Action: "policy.create"}); err != nil {
			b.Fatal(err)
		}
	}
	svc := policy.New(store)
	u := policy.User{ID: "bob", Groups: userGroups(50)}
	device := iphone("17.5")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.Evaluate(b.Context(), org, u, device); err != nil {
			b.Fatal(err)
		}
	}
}
