package storagetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/openomm/omm/storage"
)

// baseTime has nanoseconds and a non-UTC zone on purpose: stores must return
// it normalized (UTC, microseconds).
var baseTime = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.FixedZone("CET", 3600))

func at(minutes int) time.Time { return baseTime.Add(time.Duration(minutes) * time.Minute) }

func newOrg(name string) storage.Org {
	return storage.Org{ID: storage.NewOrgID(), Name: name, DisplayName: strings.ToUpper(name[:1]) + name[1:] + " Inc."}
}

func entryFor(org storage.OrgID, action string, when time.Time) storage.AuditEntry {
	return storage.AuditEntry{
		Org: org, Time: when, Actor: "admin:root", Action: action, Target: "org:" + string(org),
		Details: map[string]string{"reason": "conformance", "when": when.Format(time.RFC3339Nano)},
	}
}

// mustCreateOrg creates an org named name, failing the case on error.
func mustCreateOrg(t testing.TB, s Store, name string) storage.Org {
	t.Helper()
	o := newOrg(name)
	got, err := s.CreateOrg(t.Context(), o, entryFor(o.ID, "org.create", at(0)))
	if err != nil {
		t.Fatalf("CreateOrg(%q): %v", name, err)
	}
	return got
}

// wantErr fails unless err matches target with errors.Is.
func wantErr(t testing.TB, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error = %v, want %v", what, err, target)
	}
}

// noErr fails the case when err is not nil.
func noErr(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// same fails with a diff when got and want differ.
func same(t testing.TB, what string, got, want any) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

// allAudit reads an org's whole audit log page by page.
func allAudit(t testing.TB, s Store, org storage.OrgID) []storage.AuditEntry {
	t.Helper()
	var all []storage.AuditEntry
	q := storage.AuditQuery{Limit: storage.MaxAuditPage}
	for {
		p, err := s.ListAudit(t.Context(), org, q)
		noErr(t, "ListAudit", err)
		all = append(all, p.Entries...)
		if p.Next == 0 {
			return all
		}
		q.After = p.Next
	}
}

// snapshot captures everything a store holds that the suite can see, to
// prove that a rejected call changed nothing.
type snapshot struct {
	Orgs  []storage.Org
	Audit map[storage.OrgID][]storage.AuditEntry
}

func takeSnapshot(t testing.TB, s Store) snapshot {
	t.Helper()
	orgs, err := s.ListOrgs(t.Context())
	noErr(t, "ListOrgs", err)
	snap := snapshot{Orgs: orgs, Audit: map[storage.OrgID][]storage.AuditEntry{}}
	for _, o := range orgs {
		snap.Audit[o.ID] = allAudit(t, s, o.ID)
	}
	return snap
}

// unchanged fails when the store no longer matches before.
func unchanged(t testing.TB, what string, s Store, before snapshot) {
	t.Helper()
	same(t, what+": store changed", takeSnapshot(t, s), before)
}

// parallel runs fn n times concurrently and returns the errors, in no
// particular order. Cases check results on their own goroutine, since a
// test may not fail from another.
func parallel(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = fn(i) })
	}
	wg.Wait()
	return errs
}

// countErrs tallies errors by sentinel: nil, each target, and "other".
func countErrs(errs []error, targets ...error) map[string]int {
	n := map[string]int{}
	for _, err := range errs {
		key := "other"
		if err == nil {
			key = "nil"
		}
		for _, tg := range targets {
			if errors.Is(err, tg) {
				key = tg.Error()
			}
		}
		if key == "other" {
			key = fmt.Sprintf("other: %v", err)
		}
		n[key]++
	}
	return n
}
