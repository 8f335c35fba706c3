package storagetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

func policyCases() []testCase {
	return []testCase{
		{"Policy/CreateAndRead", testPolicyCreateAndRead},
		{"Policy/CreateInvalid", testPolicyCreateInvalid},
		{"Policy/CreateDuplicate", testPolicyCreateDuplicate},
		{"Policy/UnknownOrg", testPolicyUnknownOrg},
		{"Policy/Update", testPolicyUpdate},
		{"Policy/UpdateRejected", testPolicyUpdateRejected},
		{"Policy/Delete", testPolicyDelete},
		{"Policy/TenantIsolation", testPolicyTenantIsolation},
		{"Policy/NoAliasing", testPolicyNoAliasing},
		{"Policy/ConcurrentUpdate", testPolicyConcurrentUpdate},
		{"Policy/ConcurrentCreateSamePriority", testPolicyConcurrentCreate},
	}
}

// samplePolicy returns a valid policy using every kind of field, so that a
// backend losing any of them on the way through fails.
func samplePolicy(org storage.OrgID, id policy.ID, priority int) policy.Policy {
	return policy.Policy{
		ID: id, Org: org, Name: "Sales — " + string(id), Description: "Phones of the sales team.\nRenewed yearly.",
		Priority:  priority,
		Groups:    []string{"cn=sales,ou=groups,dc=acme", "グループ", "g-" + string(id)},
		Agreement: "I accept that Acme manages work data on this device.\n\tIt never sees personal data.",
		Rules: map[policy.Platform]policy.Rule{
			policy.IOS: {Action: policy.Require, Requirements: policy.Requirements{
				Passcode: policy.Passcode{Required: true, MinLength: 30, RequireLetters: true, MinSymbols: 1,
					MaxAgeDays: 90, History: 5, MaxFailedAttempts: 10, AutoLockMinutes: 5, GracePeriodMinutes: 1},
				Encryption: true, MinOSVersion: "17.4.1", RefuseCompromised: true, AllowFullWipe: true,
				DataSeparation: policy.DataSeparation{BlockManagedToUnmanaged: true, BlockUnmanagedToManaged: true},
			}},
			policy.Android: {Action: policy.Allow, Requirements: policy.Requirements{
				Passcode:     policy.Passcode{Required: true, AllowSimple: true, MinLength: 4},
				MinOSVersion: "10", DataSeparation: policy.DataSeparation{BlockWorkToPersonal: true},
				Android: policy.AndroidRequirements{
					MinAPILevel:         29,
					Modes:               policy.Modes{WorkProfile: true, Knox: true},
					WorkProfilePasscode: policy.Passcode{Required: true, MinLength: 6},
				},
			}},
			policy.MacOS: {Action: policy.Deny},
		},
	}
}

func policyEntry(org storage.OrgID, action string, id policy.ID, minute int) storage.AuditEntry {
	return storage.AuditEntry{
		Org: org, Time: at(minute), Actor: "admin:root", Action: action, Target: "policy:" + string(id),
		Details: map[string]string{"policy": string(id)},
	}
}

func mustCreatePolicy(t testing.TB, s Store, p policy.Policy, minute int) policy.Policy {
	t.Helper()
	got, err := s.CreatePolicy(t.Context(), p, policyEntry(p.Org, "policy.create", p.ID, minute))
	noErr(t, fmt.Sprintf("CreatePolicy(%q)", p.ID), err)
	return got
}

// stored returns p as a store returns it after a write at minute.
func stored(p policy.Policy, version int64, created, updated int) policy.Policy {
	p = p.Normalize()
	p.Version = version
	p.Created, p.Updated = storage.Normalize(at(created)), storage.Normalize(at(updated))
	return p
}

// policySnapshot extends snapshot with every org's policies and revision.
type policySnapshot struct {
	Base      snapshot
	Policies  map[storage.OrgID][]policy.Policy
	Revisions map[storage.OrgID]int64
}

func takePolicySnapshot(t testing.TB, s Store) policySnapshot {
	t.Helper()
	snap := policySnapshot{Base: takeSnapshot(t, s), Policies: map[storage.OrgID][]policy.Policy{}, Revisions: map[storage.OrgID]int64{}}
	for _, o := range snap.Base.Orgs {
		ps, err := s.ListPolicies(t.Context(), o.ID)
		noErr(t, "ListPolicies", err)
		rev, err := s.PolicyRevision(t.Context(), o.ID)
		noErr(t, "PolicyRevision", err)
		snap.Policies[o.ID], snap.Revisions[o.ID] = ps, rev
	}
	return snap
}

func policiesUnchanged(t testing.TB, what string, s Store, before policySnapshot) {
	t.Helper()
	same(t, what+": store changed", takePolicySnapshot(t, s), before)
}

func revision(t testing.TB, s Store, org storage.OrgID) int64 {
	t.Helper()
	rev, err := s.PolicyRevision(t.Context(), org)
	noErr(t, "PolicyRevision", err)
	return rev
}

func testPolicyCreateAndRead(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	if rev := revision(t, s, o.ID); rev != 0 {
		t.Errorf("PolicyRevision before any policy = %d, want 0", rev)
	}
	late := samplePolicy(o.ID, "pol_late", 20)
	early := samplePolicy(o.ID, "pol_early", 10)
	early.Description, early.Agreement = "", ""
	early.Groups = nil
	early.Rules = nil

	e := policyEntry(o.ID, "policy.create", late.ID, 1)
	got, err := s.CreatePolicy(ctx, late, e)
	noErr(t, "CreatePolicy", err)
	wantLate := stored(late, 1, 1, 1)
	same(t, "CreatePolicy result", got, wantLate)
	rev1 := revision(t, s, o.ID)
	if rev1 <= 0 {
		t.Errorf("PolicyRevision after a creation = %d, want > 0", rev1)
	}

	gotEarly := mustCreatePolicy(t, s, early, 2)
	wantEarly := stored(early, 1, 2, 2)
	same(t, "CreatePolicy result without groups or rules", gotEarly, wantEarly)
	if rev2 := revision(t, s, o.ID); rev2 <= rev1 {
		t.Errorf("PolicyRevision did not grow: %d then %d", rev1, rev2)
	}

	read, err := s.Policy(ctx, o.ID, late.ID)
	noErr(t, "Policy", err)
	same(t, "Policy", read, wantLate)
	list, err := s.ListPolicies(ctx, o.ID)
	noErr(t, "ListPolicies", err)
	same(t, "ListPolicies (by priority)", list, []policy.Policy{wantEarly, wantLate})

	log := allAudit(t, s, o.ID)
	if len(log) != 3 {
		t.Fatalf("audit log has %d entries, want org creation and two policy creations", len(log))
	}
	wantEntry := e.Normalize()
	wantEntry.ID = log[1].ID
	same(t, "policy creation audit entry", log[1], wantEntry)

	empty, err := s.ListPolicies(ctx, "org_unknown")
	noErr(t, "ListPolicies(unknown org)", err)
	if len(empty) != 0 {
		t.Errorf("ListPolicies(unknown org) = %d policies, want none", len(empty))
	}
}

func testPolicyCreateInvalid(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	mustCreatePolicy(t, s, samplePolicy(o.ID, "pol_existing", 1), 1)

	rule := func(p *policy.Policy, platform policy.Platform, edit func(*policy.Rule)) {
		r := p.Rules[platform]
		edit(&r)
		p.Rules[platform] = r
	}
	tests := []struct {
		name  string
		edit  func(*policy.Policy, *storage.AuditEntry)
		valid bool
	}{
		{"valid control", func(*policy.Policy, *storage.AuditEntry) {}, true},
		{"empty name", func(p *policy.Policy, _ *storage.AuditEntry) { p.Name = "" }, false},
		{"name with newline", func(p *policy.Policy, _ *storage.AuditEntry) { p.Name = "a\nb" }, false},
		{"empty id", func(p *policy.Policy, _ *storage.AuditEntry) { p.ID = "" }, false},
		{"reserved default id", func(p *policy.Policy, _ *storage.AuditEntry) { p.ID = policy.DefaultID }, false},
		{"zero priority", func(p *policy.Policy, _ *storage.AuditEntry) { p.Priority = 0 }, false},
		{"negative priority", func(p *policy.Policy, _ *storage.AuditEntry) { p.Priority = -3 }, false},
		{"negative passcode length", func(p *policy.Policy, _ *storage.AuditEntry) {
			rule(p, policy.IOS, func(r *policy.Rule) { r.Requirements.Passcode.MinLength = -1 })
		}, false},
		{"unknown platform", func(p *policy.Policy, _ *storage.AuditEntry) {
			p.Rules["windows"] = policy.Rule{Action: policy.Deny}
		}, false},
		{"unknown action", func(p *policy.Policy, _ *storage.AuditEntry) {
			rule(p, policy.MacOS, func(r *policy.Rule) { r.Action = "maybe" })
		}, false},
		{"bad minimum OS version", func(p *policy.Policy, _ *storage.AuditEntry) {
			rule(p, policy.IOS, func(r *policy.Rule) { r.Requirements.MinOSVersion = "17.x" })
		}, false},
		{"android rule without modes", func(p *policy.Policy, _ *storage.AuditEntry) {
			rule(p, policy.Android, func(r *policy.Rule) { r.Requirements.Android.Modes = policy.Modes{} })
		}, false},
		{"duplicate group", func(p *policy.Policy, _ *storage.AuditEntry) { p.Groups = []string{"a", "a"} }, false},
		{"empty group", func(p *policy.Policy, _ *storage.AuditEntry) { p.Groups = []string{""} }, false},
		{"entry for another org", func(_ *policy.Policy, e *storage.AuditEntry) { e.Org = "org_elsewhere" }, false},
		{"entry without actor", func(_ *policy.Policy, e *storage.AuditEntry) { e.Actor = "" }, false},
	}
	for i, tt := range tests {
		p := samplePolicy(o.ID, policy.ID(fmt.Sprintf("pol_%d", i)), 100+i)
		e := policyEntry(o.ID, "policy.create", p.ID, 2+i)
		tt.edit(&p, &e)
		before := takePolicySnapshot(t, s)
		_, err := s.CreatePolicy(ctx, p, e)
		if tt.valid {
			if err != nil {
				t.Errorf("%s: CreatePolicy: %v", tt.name, err)
			}
			continue
		}
		wantErr(t, tt.name, err, storage.ErrInvalid)
		policiesUnchanged(t, tt.name, s, before)
	}
}

func testPolicyCreateDuplicate(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	first := mustCreatePolicy(t, s, samplePolicy(o.ID, "pol_first", 10), 1)
	before := takePolicySnapshot(t, s)

	sameID := samplePolicy(o.ID, first.ID, 11)
	_, err := s.CreatePolicy(ctx, sameID, policyEntry(o.ID, "policy.create", sameID.ID, 2))
	wantErr(t, "CreatePolicy with a used ID", err, storage.ErrAlreadyExists)
	policiesUnchanged(t, "CreatePolicy with a used ID", s, before)

	clash := samplePolicy(o.ID, "pol_clash", 10)
	_, err = s.CreatePolicy(ctx, clash, policyEntry(o.ID, "policy.create", clash.ID, 2))
	wantErr(t, "CreatePolicy with a used priority", err, storage.ErrAlreadyExists)
	policiesUnchanged(t, "CreatePolicy with a used priority", s, before)
	if err == nil || !strings.Contains(err.Error(), "10") {
		t.Errorf("priority clash error %q does not name the priority", err)
	}
}

func testPolicyUnknownOrg(t testing.TB, s Store) {
	ctx := t.Context()
	mustCreateOrg(t, s, "acme")
	before := takePolicySnapshot(t, s)
	p := samplePolicy("org_ghost", "pol_ghost", 1)
	_, err := s.CreatePolicy(ctx, p, policyEntry(p.Org, "policy.create", p.ID, 1))
	wantErr(t, "CreatePolicy in an unknown org", err, storage.ErrNotFound)
	policiesUnchanged(t, "CreatePolicy in an unknown org", s, before)
	if rev := revision(t, s, p.Org); rev != 0 {
		t.Errorf("unknown org's revision = %d after a rejected creation, want 0", rev)
	}
}

func testPolicyUpdate(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	p := mustCreatePolicy(t, s, samplePolicy(o.ID, "pol_a", 10), 1)
	rev := revision(t, s, o.ID)

	p.Name, p.Description, p.Priority = "Renamed", "", 5
	p.Groups = []string{"engineering"}
	p.Agreement = ""
	p.Rules = map[policy.Platform]policy.Rule{policy.MacOS: {Action: policy.Allow}}
	e := policyEntry(o.ID, "policy.update", p.ID, 7)
	got, err := s.UpdatePolicy(ctx, p, e)
	noErr(t, "UpdatePolicy", err)
	want := stored(p, 2, 1, 7)
	same(t, "UpdatePolicy result", got, want)
	read, err := s.Policy(ctx, o.ID, p.ID)
	noErr(t, "Policy after update", err)
	same(t, "Policy after update", read, want)
	if r := revision(t, s, o.ID); r <= rev {
		t.Errorf("PolicyRevision did not grow on update: %d then %d", rev, r)
	}

	// Keeping its own priority is no clash.
	got.Name = "Renamed again"
	again, err := s.UpdatePolicy(ctx, got, policyEntry(o.ID, "policy.update", p.ID, 8))
	noErr(t, "UpdatePolicy keeping its priority", err)
	if again.Version != 3 {
		t.Errorf("version after two updates = %d, want 3", again.Version)
	}
	log := allAudit(t, s, o.ID)
	if len(log) != 4 || log[2].Action != "policy.update" || log[3].Action != "policy.update" {
		t.Fatalf("audit log after updates = %+v, want org and policy creation then two updates", log)
	}
}

func testPolicyUpdateRejected(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	p := mustCreatePolicy(t, s, samplePolicy(o.ID, "pol_a", 10), 1)
	mustCreatePolicy(t, s, samplePolicy(o.ID, "pol_b", 20), 2)
	before := takePolicySnapshot(t, s)

	tests := []struct {
		name   string
		edit   func(*policy.Policy, *storage.AuditEntry)
		target error
	}{
		{"stale version", func(p *policy.Policy, _ *storage.AuditEntry) { p.Version = 0 }, storage.ErrConflict},
		{"future version", func(p *policy.Policy, _ *storage.AuditEntry) { p.Version = 2 }, storage.ErrConflict},
		{"priority of another policy", func(p *policy.Policy, _ *storage.AuditEntry) { p.Priority = 20 }, storage.ErrAlreadyExists},
		{"unknown policy", func(p *policy.Policy, e *storage.AuditEntry) { p.ID = "pol_missing" }, storage.ErrNotFound},
		{"empty name", func(p *policy.Policy, _ *storage.AuditEntry) { p.Name = "" }, storage.ErrInvalid},
		{"negative history", func(p *policy.Policy, _ *storage.AuditEntry) {
			r := p.Rules[policy.IOS]
			r.Requirements.Passcode.History = -2
			p.Rules[policy.IOS] = r
		}, storage.ErrInvalid},
		{"entry for another org", func(_ *policy.Policy, e *storage.AuditEntry) { e.Org = "org_other" }, storage.ErrInvalid},
	}
	for _, tt := range tests {
		u := p.Normalize()
		u.Description = "changed"
		e := policyEntry(o.ID, "policy.update", u.ID, 5)
		tt.edit(&u, &e)
		_, err := s.UpdatePolicy(ctx, u, e)
		wantErr(t, "UpdatePolicy with "+tt.name, err, tt.target)
		policiesUnchanged(t, "UpdatePolicy with "+tt.name, s, before)
	}
}

func testPolicyDelete(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	p := mustCreatePolicy(t, s, samplePolicy(o.ID, "pol_a", 10), 1)
	keep := mustCreatePolicy(t, s, samplePolicy(o.ID, "pol_b", 20), 2)
	before := takePolicySnapshot(t, s)

	err := s.DeletePolicy(ctx, o.ID, p.ID, 2, policyEntry(o.ID, "policy.delete", p.ID, 3))
	wantErr(t, "DeletePolicy with a wrong version", err, storage.ErrConflict)
	policiesUnchanged(t, "DeletePolicy with a wrong version", s, before)
	err = s.DeletePolicy(ctx, o.ID, "pol_missing", 1, policyEntry(o.ID, "policy.delete", "pol_missing", 3))
	wantErr(t, "DeletePolicy of an unknown policy", err, storage.ErrNotFound)
	policiesUnchanged(t, "DeletePolicy of an unknown policy", s, before)
	err = s.DeletePolicy(ctx, o.ID, p.ID, 1, policyEntry("org_other", "policy.delete", p.ID, 3))
	wantErr(t, "DeletePolicy with another org's entry", err, storage.ErrInvalid)
	policiesUnchanged(t, "DeletePolicy with another org's entry", s, before)

	noErr(t, "DeletePolicy", s.DeletePolicy(ctx, o.ID, p.ID, 1, policyEntry(o.ID, "policy.delete", p.ID, 4)))
	_, err = s.Policy(ctx, o.ID, p.ID)
	wantErr(t, "Policy after delete", err, storage.ErrNotFound)
	list, err := s.ListPolicies(ctx, o.ID)
	noErr(t, "ListPolicies", err)
	same(t, "ListPolicies after delete", list, []policy.Policy{keep})
	if r := revision(t, s, o.ID); r <= before.Revisions[o.ID] {
		t.Errorf("PolicyRevision did not grow on delete: %d then %d", before.Revisions[o.ID], r)
	}
	log := allAudit(t, s, o.ID)
	if last := log[len(log)-1]; last.Action != "policy.delete" {
		t.Errorf("last audit entry = %q, want policy.delete", last.Action)
	}
	// The freed priority and ID are usable again.
	mustCreatePolicy(t, s, samplePolicy(o.ID, p.ID, 10), 5)
}

func testPolicyTenantIsolation(t testing.TB, s Store) {
	ctx := t.Context()
	a := mustCreateOrg(t, s, "acme")
	b := mustCreateOrg(t, s, "beta")
	pa := mustCreatePolicy(t, s, samplePolicy(a.ID, "pol_shared", 10), 1)
	before := takePolicySnapshot(t, s)

	_, err := s.Policy(ctx, b.ID, pa.ID)
	wantErr(t, "org B reading org A's policy", err, storage.ErrNotFound)
	list, err := s.ListPolicies(ctx, b.ID)
	noErr(t, "ListPolicies(B)", err)
	if len(list) != 0 {
		t.Errorf("org B lists %d policies, want none", len(list))
	}
	stolen := pa.Normalize()
	stolen.Org, stolen.Name = b.ID, "Hijacked"
	_, err = s.UpdatePolicy(ctx, stolen, policyEntry(b.ID, "policy.update", pa.ID, 2))
	wantErr(t, "org B updating org A's policy", err, storage.ErrNotFound)
	err = s.DeletePolicy(ctx, b.ID, pa.ID, pa.Version, policyEntry(b.ID, "policy.delete", pa.ID, 2))
	wantErr(t, "org B deleting org A's policy", err, storage.ErrNotFound)
	policiesUnchanged(t, "org B's attempts on org A's policy", s, before)

	// IDs and priorities are per org: B may use the same ones.
	pb := mustCreatePolicy(t, s, samplePolicy(b.ID, pa.ID, 10), 3)
	readA, err := s.Policy(ctx, a.ID, pa.ID)
	noErr(t, "Policy(A)", err)
	same(t, "org A's policy after org B created one with its ID", readA, pa)
	readB, err := s.Policy(ctx, b.ID, pa.ID)
	noErr(t, "Policy(B)", err)
	same(t, "org B's policy", readB, pb)
	if r := revision(t, s, a.ID); r != before.Revisions[a.ID] {
		t.Errorf("org A's revision moved (%d → %d) on org B's change", before.Revisions[a.ID], r)
	}
	if n := len(allAudit(t, s, a.ID)); n != len(before.Base.Audit[a.ID]) {
		t.Errorf("org A's audit log grew to %d entries on org B's change", n)
	}
}

func testPolicyNoAliasing(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	in := samplePolicy(o.ID, "pol_a", 10)
	want := stored(in, 1, 1, 1)
	got := mustCreatePolicy(t, s, in, 1)

	in.Groups[0] = "mutated input"
	in.Rules[policy.MacOS] = policy.Rule{Action: policy.Allow}
	got.Groups[1] = "mutated result"
	delete(got.Rules, policy.IOS)

	read, err := s.Policy(ctx, o.ID, "pol_a")
	noErr(t, "Policy", err)
	same(t, "policy after mutating the caller's copies", read, want)
	read.Groups[2] = "mutated read"
	list, err := s.ListPolicies(ctx, o.ID)
	noErr(t, "ListPolicies", err)
	same(t, "listed policy after mutating a read copy", list, []policy.Policy{want})
}

func testPolicyConcurrentUpdate(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	p := mustCreatePolicy(t, s, samplePolicy(o.ID, "pol_a", 10), 1)
	const n = 8
	errs := parallel(n, func(i int) error {
		u := p.Normalize()
		u.Description = fmt.Sprintf("writer %d", i)
		_, err := s.UpdatePolicy(t.Context(), u, policyEntry(o.ID, "policy.update", p.ID, 2+i))
		return err
	})
	same(t, "concurrent UpdatePolicy outcomes", countErrs(errs, storage.ErrConflict),
		map[string]int{"nil": 1, storage.ErrConflict.Error(): n - 1})
	read, err := s.Policy(t.Context(), o.ID, p.ID)
	noErr(t, "Policy", err)
	if read.Version != 2 {
		t.Errorf("version after concurrent updates = %d, want 2", read.Version)
	}
	if log := allAudit(t, s, o.ID); len(log) != 3 {
		t.Errorf("%d audit entries after concurrent updates, want 3", len(log))
	}
}

func testPolicyConcurrentCreate(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	const n = 8
	errs := parallel(n, func(i int) error {
		p := samplePolicy(o.ID, policy.ID(fmt.Sprintf("pol_%d", i)), 7)
		_, err := s.CreatePolicy(t.Context(), p, policyEntry(o.ID, "policy.create", p.ID, i))
		return err
	})
	same(t, "concurrent CreatePolicy outcomes at one priority", countErrs(errs, storage.ErrAlreadyExists),
		map[string]int{"nil": 1, storage.ErrAlreadyExists.Error(): n - 1})
	list, err := s.ListPolicies(t.Context(), o.ID)
	noErr(t, "ListPolicies", err)
	if len(list) != 1 {
		t.Fatalf("%d policies after concurrent creation at one priority, want 1", len(list))
	}
	if log := allAudit(t, s, o.ID); len(log) != 2 {
		t.Errorf("%d audit entries after concurrent creation, want 2", len(log))
	}
}
