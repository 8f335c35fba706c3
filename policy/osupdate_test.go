package policy_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// TestOSUpdateRule checks the enforced OS update of an Apple rule: what is
// accepted, what is refused and why, and that it survives the stored body.
func TestOSUpdateRule(t *testing.T) {
	good := policy.OSUpdate{TargetVersion: "17.5.1", TargetBuild: "21F90", Deadline: "2026-03-31T18:00:00",
		DetailsURL: "https://it.example.com/ios-17-5"}
	bad := []struct {
		name string
		u    policy.OSUpdate
		msg  string
	}{
		{"no target", policy.OSUpdate{Deadline: good.Deadline}, "needs a target version"},
		{"target not a version", policy.OSUpdate{TargetVersion: "17.5 beta", Deadline: good.Deadline}, "OS update target"},
		{"no deadline", policy.OSUpdate{TargetVersion: "17.5"}, "OS update deadline"},
		{"deadline with a zone", policy.OSUpdate{TargetVersion: "17.5", Deadline: "2026-03-31T18:00:00Z"}, "OS update deadline"},
		{"deadline without time", policy.OSUpdate{TargetVersion: "17.5", Deadline: "2026-03-31"}, "OS update deadline"},
		{"build with a space", policy.OSUpdate{TargetVersion: "17.5", Deadline: good.Deadline, TargetBuild: "21F 90"}, "OS update build"},
		{"build too long", policy.OSUpdate{TargetVersion: "17.5", Deadline: good.Deadline, TargetBuild: strings.Repeat("A", 17)}, "OS update build"},
		{"details over http", policy.OSUpdate{TargetVersion: "17.5", Deadline: good.Deadline, DetailsURL: "http://it.example.com"}, "details URL"},
	}
	for _, c := range bad {
		p := clone(executives)
		editRule(&p, policy.IOS, func(r *policy.Requirements) { r.OSUpdate = c.u })
		err := p.Validate()
		if !errors.Is(err, storage.ErrInvalid) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: Validate = %v, want ErrInvalid saying %q", c.name, err, c.msg)
		}
	}
	p := clone(executives)
	editRule(&p, policy.Android, func(r *policy.Requirements) { r.OSUpdate = good })
	if err := p.Validate(); !errors.Is(err, storage.ErrInvalid) || !strings.Contains(err.Error(), "Apple setting") {
		t.Errorf("Android rule with an OS update: %v", err)
	}

	p = clone(executives)
	editRule(&p, policy.IOS, func(r *policy.Requirements) { r.OSUpdate = good })
	editRule(&p, policy.MacOS, func(r *policy.Requirements) {
		r.OSUpdate = policy.OSUpdate{TargetVersion: "14.6", Deadline: good.Deadline}
	})
	if err := p.Validate(); err != nil {
		t.Fatalf("valid OS updates refused: %v", err)
	}
	body, err := p.MarshalBody()
	if err != nil {
		t.Fatal(err)
	}
	var back policy.Policy
	if err := back.UnmarshalBody(body); err != nil {
		t.Fatal(err)
	}
	if got := back.Rules[policy.IOS].Requirements.OSUpdate; got != good {
		t.Errorf("OS update after the stored body = %+v, want %+v", got, good)
	}
	// A rule without one stores no key for it, so bodies written before
	// the rule existed read the same.
	if strings.Contains(string(mustBody(t, clone(staff))), "os_update") {
		t.Error("a policy without OS updates stores an os_update key")
	}
	dl, err := good.DeadlineTime(time.UTC)
	if err != nil || !dl.Equal(time.Date(2026, 3, 31, 18, 0, 0, 0, time.UTC)) {
		t.Errorf("DeadlineTime = %v, %v", dl, err)
	}
	if (policy.OSUpdate{}).Set() || !good.Set() {
		t.Error("Set is wrong")
	}

	// The decision carries it to the device's requirements.
	set, err := policy.NewSet(org, []policy.Policy{p})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := set.Evaluate(user("execs"), iphone("17.4.1"))
	if err != nil {
		t.Fatal(err)
	}
	if dec.Requirements.OSUpdate != good {
		t.Errorf("decision's OS update = %+v", dec.Requirements.OSUpdate)
	}
}

func mustBody(t *testing.T, p policy.Policy) []byte {
	t.Helper()
	b, err := p.MarshalBody()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
