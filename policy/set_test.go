package policy_test

import (
	"errors"
	"testing"

	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

func TestNewSetRejects(t *testing.T) {
	clash := clone(interns)
	clash.ID, clash.Priority = "pol_clash", staff.Priority
	sameID := clone(interns)
	sameID.ID, sameID.Priority = staff.ID, 99
	foreign := clone(interns)
	foreign.Org = "org_other"
	broken := clone(interns)
	broken.Name = ""
	tests := []struct {
		name     string
		org      storage.OrgID
		policies []policy.Policy
	}{
		{"priority clash", org, []policy.Policy{staff, clash}},
		{"duplicate id", org, []policy.Policy{staff, sameID}},
		{"policy of another org", org, []policy.Policy{staff, foreign}},
		{"invalid policy", org, []policy.Policy{broken}},
		{"the built-in default", org, []policy.Policy{policy.Default(org)}},
		{"bad org", "", nil},
	}
	for _, tt := range tests {
		if _, err := policy.NewSet(tt.org, tt.policies); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("%s: NewSet = %v, want ErrInvalid", tt.name, err)
		}
	}
}

func TestSetMatch(t *testing.T) {
	set := fixtureSet(t)
	tests := []struct {
		groups []string
		want   policy.ID
		group  string
	}{
		{nil, policy.DefaultID, ""},
		{[]string{"nobody"}, policy.DefaultID, ""},
		{[]string{"lab", "interns"}, "pol_interns", "interns"},
		{[]string{"interns", "lab"}, "pol_interns", "interns"},
		{[]string{"partners", "lab", "staff", "execs"}, "pol_exec", "execs"},
		// "staff" is targeted by Staff (20) and Interns (30): Staff wins.
		{[]string{"staff"}, "pol_staff", "staff"},
		// Both groups lead to Staff: the first listed is reported.
		{[]string{"staff", "contractors"}, "pol_staff", "staff"},
		{[]string{"contractors", "staff"}, "pol_staff", "contractors"},
		{[]string{"Execs"}, policy.DefaultID, ""}, // group IDs match exactly
	}
	for _, tt := range tests {
		p, g := set.Match(tt.groups)
		if p.ID != tt.want || g != tt.group {
			t.Errorf("Match(%q) = %s via %q, want %s via %q", tt.groups, p.ID, g, tt.want, tt.group)
		}
	}
}

func TestSetPoliciesOrderAndIsolation(t *testing.T) {
	in := fixtures()
	set, err := policy.NewSet(org, in)
	if err != nil {
		t.Fatal(err)
	}
	// Changing the caller's policies after compiling changes nothing.
	in[0].Groups[0] = "changed"
	in[1].Rules[policy.IOS] = policy.Rule{Action: policy.Deny}

	got := set.Policies()
	wantIDs := []policy.ID{"pol_exec", "pol_staff", "pol_interns", "pol_lab", "pol_partners", policy.DefaultID}
	if len(got) != len(wantIDs) {
		t.Fatalf("Policies() has %d policies, want %d", len(got), len(wantIDs))
	}
	for i, p := range got {
		if p.ID != wantIDs[i] {
			t.Errorf("Policies()[%d] = %s, want %s", i, p.ID, wantIDs[i])
		}
	}
	if p, _ := set.Match([]string{"lab"}); p.Groups[0] != "lab" {
		t.Errorf("compiled set follows the caller's slice: groups %q", p.Groups)
	}
	d, err := set.Evaluate(user("staff"), iphone("17.5"))
	if err != nil || d.Outcome != policy.NotRequired {
		t.Errorf("compiled set follows the caller's map: %s, %v", d.Outcome, err)
	}
	// Nor does changing what the Set returned.
	got[0].Groups[0] = "changed"
	if p, _ := set.Match([]string{"execs"}); p.ID != "pol_exec" {
		t.Errorf("Policies() result aliases the Set")
	}
	if set.Org() != org {
		t.Errorf("Org() = %s", set.Org())
	}
}

func TestEmptySetDeniesEveryone(t *testing.T) {
	set, err := policy.NewSet(org, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []policy.Device{iphone("17.5"), mac(), pixel("14", 34)} {
		dec, err := set.Evaluate(user("execs"), d)
		if err != nil {
			t.Fatal(err)
		}
		if dec.Outcome != policy.Denied || dec.Policy != policy.DefaultID {
			t.Errorf("%s: %s by %s, want denied by the default", d.Platform, dec.Outcome, dec.Policy)
		}
	}
}
