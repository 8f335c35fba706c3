package storagetest

import (
	"strings"
	"testing"
	"time"

	"github.com/openomm/omm/storage"
)

func orgCases() []testCase {
	return []testCase{
		{"Org/CreateAndRead", testOrgCreateAndRead},
		{"Org/CreateDuplicate", testOrgCreateDuplicate},
		{"Org/CreateInvalid", testOrgCreateInvalid},
		{"Org/NotFound", testOrgNotFound},
		{"Org/Update", testOrgUpdate},
		{"Org/UpdateRejected", testOrgUpdateRejected},
		{"Org/ConcurrentCreate", testOrgConcurrentCreate},
		{"Org/ConcurrentUpdate", testOrgConcurrentUpdate},
	}
}

func testOrgCreateAndRead(t testing.TB, s Store) {
	ctx := t.Context()
	o := newOrg("acme")
	o.DisplayName = "Acme — Société Générale 株式会社"
	e := entryFor(o.ID, "org.create", at(0))
	got, err := s.CreateOrg(ctx, o, e)
	noErr(t, "CreateOrg", err)

	want := o
	want.Version = 1
	want.Created = storage.Normalize(e.Time)
	want.Updated = want.Created
	same(t, "CreateOrg result", got, want)

	byID, err := s.Org(ctx, o.ID)
	noErr(t, "Org", err)
	same(t, "Org", byID, want)
	byName, err := s.OrgByName(ctx, "acme")
	noErr(t, "OrgByName", err)
	same(t, "OrgByName", byName, want)

	other := mustCreateOrg(t, s, "beta")
	list, err := s.ListOrgs(ctx)
	noErr(t, "ListOrgs", err)
	same(t, "ListOrgs", list, []storage.Org{want, other})

	// The creation is in the org's audit log, written with it.
	log := allAudit(t, s, o.ID)
	if len(log) != 1 {
		t.Fatalf("audit log has %d entries after CreateOrg, want 1", len(log))
	}
	wantEntry := e.Normalize()
	wantEntry.ID = log[0].ID
	same(t, "creation audit entry", log[0], wantEntry)
	if log[0].ID <= 0 {
		t.Errorf("audit entry ID = %d, want > 0", log[0].ID)
	}
}

func testOrgCreateDuplicate(t testing.TB, s Store) {
	ctx := t.Context()
	first := mustCreateOrg(t, s, "acme")
	before := takeSnapshot(t, s)

	sameID := newOrg("other")
	sameID.ID = first.ID
	_, err := s.CreateOrg(ctx, sameID, entryFor(sameID.ID, "org.create", at(1)))
	wantErr(t, "CreateOrg with a used ID", err, storage.ErrAlreadyExists)
	// The rejected creation's audit entry names the existing org: it must
	// not have been appended on its own.
	unchanged(t, "CreateOrg with a used ID", s, before)

	sameName := newOrg("acme")
	_, err = s.CreateOrg(ctx, sameName, entryFor(sameName.ID, "org.create", at(1)))
	wantErr(t, "CreateOrg with a used name", err, storage.ErrAlreadyExists)
	unchanged(t, "CreateOrg with a used name", s, before)
	if _, err := s.Org(ctx, sameName.ID); err == nil {
		t.Errorf("org with a duplicate name was stored under its own ID")
	}
}

func testOrgCreateInvalid(t testing.TB, s Store) {
	ctx := t.Context()
	mustCreateOrg(t, s, "existing")
	before := takeSnapshot(t, s)

	tests := []struct {
		name  string
		edit  func(*storage.Org, *storage.AuditEntry)
		valid bool
	}{
		{"valid control", func(*storage.Org, *storage.AuditEntry) {}, true},
		{"empty id", func(o *storage.Org, e *storage.AuditEntry) { o.ID, e.Org = "", "" }, false},
		{"id with space", func(o *storage.Org, e *storage.AuditEntry) { o.ID, e.Org = "a b", "a b" }, false},
		{"id too long", func(o *storage.Org, e *storage.AuditEntry) {
			id := storage.OrgID(strings.Repeat("x", storage.MaxOrgIDLen+1))
			o.ID, e.Org = id, id
		}, false},
		{"empty name", func(o *storage.Org, _ *storage.AuditEntry) { o.Name = "" }, false},
		{"uppercase name", func(o *storage.Org, _ *storage.AuditEntry) { o.Name = "Acme" }, false},
		{"name with dot", func(o *storage.Org, _ *storage.AuditEntry) { o.Name = "acme.example.com" }, false},
		{"name with leading hyphen", func(o *storage.Org, _ *storage.AuditEntry) { o.Name = "-acme" }, false},
		{"name too long", func(o *storage.Org, _ *storage.AuditEntry) { o.Name = strings.Repeat("a", storage.MaxOrgNameLen+1) }, false},
		{"name at limit", func(o *storage.Org, _ *storage.AuditEntry) { o.Name = strings.Repeat("b", storage.MaxOrgNameLen) }, true},
		{"empty display name", func(o *storage.Org, _ *storage.AuditEntry) { o.DisplayName = "" }, false},
		{"display name too long", func(o *storage.Org, _ *storage.AuditEntry) {
			o.DisplayName = strings.Repeat("é", storage.MaxDisplayNameLen+1)
		}, false},
		{"display name with newline", func(o *storage.Org, _ *storage.AuditEntry) { o.DisplayName = "Acme\nInc" }, false},
		{"display name not UTF-8", func(o *storage.Org, _ *storage.AuditEntry) { o.DisplayName = "Acme \xff" }, false},
		{"entry for another org", func(_ *storage.Org, e *storage.AuditEntry) { e.Org = "org_elsewhere" }, false},
		{"entry without time", func(_ *storage.Org, e *storage.AuditEntry) { e.Time = time.Time{} }, false},
		{"entry without actor", func(_ *storage.Org, e *storage.AuditEntry) { e.Actor = "" }, false},
		{"entry without action", func(_ *storage.Org, e *storage.AuditEntry) { e.Action = "" }, false},
		{"entry with bad action", func(_ *storage.Org, e *storage.AuditEntry) { e.Action = "Org Create" }, false},
		{"entry with oversize detail", func(_ *storage.Org, e *storage.AuditEntry) {
			e.Details = map[string]string{"k": strings.Repeat("v", storage.MaxDetailValueLen+1)}
		}, false},
	}
	for i, tt := range tests {
		o := newOrg("valid" + string(rune('a'+i)))
		e := entryFor(o.ID, "org.create", at(i))
		tt.edit(&o, &e)
		snap := takeSnapshot(t, s)
		_, err := s.CreateOrg(ctx, o, e)
		if tt.valid {
			if err != nil {
				t.Errorf("%s: CreateOrg: %v", tt.name, err)
			}
			continue
		}
		wantErr(t, tt.name, err, storage.ErrInvalid)
		unchanged(t, tt.name, s, snap)
	}
	if orgs, _ := s.ListOrgs(ctx); len(orgs) != len(before.Orgs)+2 {
		t.Errorf("after the invalid creations there are %d orgs, want %d", len(orgs), len(before.Orgs)+2)
	}
}

func testOrgNotFound(t testing.TB, s Store) {
	ctx := t.Context()
	mustCreateOrg(t, s, "acme")
	_, err := s.Org(ctx, "org_missing")
	wantErr(t, "Org(unknown)", err, storage.ErrNotFound)
	_, err = s.OrgByName(ctx, "missing")
	wantErr(t, "OrgByName(unknown)", err, storage.ErrNotFound)
	_, err = s.OrgByName(ctx, "ACME")
	wantErr(t, "OrgByName is exact: OrgByName(ACME)", err, storage.ErrNotFound)

	before := takeSnapshot(t, s)
	ghost := newOrg("ghost")
	ghost.Version = 1
	_, err = s.UpdateOrg(ctx, ghost, entryFor(ghost.ID, "org.update", at(1)))
	wantErr(t, "UpdateOrg(unknown)", err, storage.ErrNotFound)
	unchanged(t, "UpdateOrg(unknown)", s, before)
}

func testOrgUpdate(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	other := mustCreateOrg(t, s, "beta")

	o.Name, o.DisplayName = "acme-corp", "Acme Corporation"
	e := entryFor(o.ID, "org.update", at(5))
	got, err := s.UpdateOrg(ctx, o, e)
	noErr(t, "UpdateOrg", err)
	want := o
	want.Version = 2
	want.Updated = storage.Normalize(e.Time)
	same(t, "UpdateOrg result", got, want)

	read, err := s.Org(ctx, o.ID)
	noErr(t, "Org", err)
	same(t, "Org after update", read, want)
	_, err = s.OrgByName(ctx, "acme")
	wantErr(t, "the old name after a rename", err, storage.ErrNotFound)
	byName, err := s.OrgByName(ctx, "acme-corp")
	noErr(t, "OrgByName(new name)", err)
	same(t, "OrgByName(new name)", byName, want)

	// The freed name is usable again.
	mustCreateOrg(t, s, "acme")

	log := allAudit(t, s, o.ID)
	if len(log) != 2 || log[1].Action != "org.update" {
		t.Fatalf("audit log after update = %+v, want creation then update", log)
	}
	if log[1].ID <= log[0].ID {
		t.Errorf("audit IDs not increasing: %d then %d", log[0].ID, log[1].ID)
	}
	if n := len(allAudit(t, s, other.ID)); n != 1 {
		t.Errorf("other org has %d audit entries, want 1", n)
	}
}

func testOrgUpdateRejected(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	mustCreateOrg(t, s, "beta")
	before := takeSnapshot(t, s)

	stale := o
	stale.Version = 0
	stale.DisplayName = "Stale"
	_, err := s.UpdateOrg(ctx, stale, entryFor(o.ID, "org.update", at(1)))
	wantErr(t, "UpdateOrg with a stale version", err, storage.ErrConflict)
	unchanged(t, "UpdateOrg with a stale version", s, before)

	taken := o
	taken.Name = "beta"
	_, err = s.UpdateOrg(ctx, taken, entryFor(o.ID, "org.update", at(1)))
	wantErr(t, "UpdateOrg to a used name", err, storage.ErrAlreadyExists)
	unchanged(t, "UpdateOrg to a used name", s, before)

	bad := o
	bad.DisplayName = ""
	_, err = s.UpdateOrg(ctx, bad, entryFor(o.ID, "org.update", at(1)))
	wantErr(t, "UpdateOrg with an empty display name", err, storage.ErrInvalid)
	unchanged(t, "UpdateOrg with an empty display name", s, before)

	wrongEntry := o
	wrongEntry.DisplayName = "Fine"
	_, err = s.UpdateOrg(ctx, wrongEntry, entryFor("org_other", "org.update", at(1)))
	wantErr(t, "UpdateOrg with another org's audit entry", err, storage.ErrInvalid)
	unchanged(t, "UpdateOrg with another org's audit entry", s, before)
}

func testOrgConcurrentCreate(t testing.TB, s Store) {
	const n = 8
	errs := parallel(n, func(i int) error {
		o := newOrg("race")
		_, err := s.CreateOrg(t.Context(), o, entryFor(o.ID, "org.create", at(i)))
		return err
	})
	same(t, "concurrent CreateOrg outcomes", countErrs(errs, storage.ErrAlreadyExists),
		map[string]int{"nil": 1, storage.ErrAlreadyExists.Error(): n - 1})
	orgs, err := s.ListOrgs(t.Context())
	noErr(t, "ListOrgs", err)
	if len(orgs) != 1 {
		t.Fatalf("%d orgs after concurrent creation, want 1", len(orgs))
	}
	if log := allAudit(t, s, orgs[0].ID); len(log) != 1 {
		t.Errorf("winner has %d audit entries, want 1", len(log))
	}
}

func testOrgConcurrentUpdate(t testing.TB, s Store) {
	const n = 8
	o := mustCreateOrg(t, s, "acme")
	errs := parallel(n, func(i int) error {
		u := o
		u.DisplayName = "Writer " + string(rune('A'+i))
		_, err := s.UpdateOrg(t.Context(), u, entryFor(o.ID, "org.update", at(i+1)))
		return err
	})
	same(t, "concurrent UpdateOrg outcomes", countErrs(errs, storage.ErrConflict),
		map[string]int{"nil": 1, storage.ErrConflict.Error(): n - 1})
	got, err := s.Org(t.Context(), o.ID)
	noErr(t, "Org", err)
	if got.Version != 2 {
		t.Errorf("version after concurrent updates = %d, want 2", got.Version)
	}
	if log := allAudit(t, s, o.ID); len(log) != 2 {
		t.Errorf("%d audit entries after one successful update, want 2", len(log))
	}
}
