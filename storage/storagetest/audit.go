package storagetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openomm/omm/storage"
)

func auditCases() []testCase {
	return []testCase{
		{"Audit/AppendAndList", testAuditAppendAndList},
		{"Audit/Paging", testAuditPaging},
		{"Audit/NewestFirst", testAuditNewestFirst},
		{"Audit/Filters", testAuditFilters},
		{"Audit/FilterInvalid", testAuditFilterInvalid},
		{"Audit/TenantIsolation", testAuditTenantIsolation},
		{"Audit/Invalid", testAuditInvalid},
		{"Audit/NoAliasing", testAuditNoAliasing},
		{"Audit/ConcurrentAppend", testAuditConcurrentAppend},
		{"Audit/IDsPerOrg", testAuditIDsPerOrg},
	}
}

func testAuditAppendAndList(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	in := storage.AuditEntry{
		Org: o.ID, Time: at(3), Actor: "user:alice@acme", Action: "auth.signin.failure",
		Target: "user:alice", Details: map[string]string{"reason": "bad password", "attempt": "3", "note": "naïve ✓"},
	}
	got, err := s.AppendAudit(ctx, in)
	noErr(t, "AppendAudit", err)
	want := in.Normalize()
	want.ID = got.ID
	same(t, "AppendAudit result", got, want)

	noDetails, err := s.AppendAudit(ctx, storage.AuditEntry{Org: o.ID, Time: at(4), Actor: "system", Action: "org.check"})
	noErr(t, "AppendAudit without details", err)
	if noDetails.Details == nil || len(noDetails.Details) != 0 {
		t.Errorf("entry without details came back with %#v, want an empty map", noDetails.Details)
	}

	log := allAudit(t, s, o.ID)
	if len(log) != 3 {
		t.Fatalf("audit log has %d entries, want 3 (creation and two appends)", len(log))
	}
	same(t, "listed entry", log[1], want)
	same(t, "listed entry without details", log[2], noDetails)
	if !(log[0].ID < log[1].ID && log[1].ID < log[2].ID) {
		t.Errorf("IDs not increasing: %d, %d, %d", log[0].ID, log[1].ID, log[2].ID)
	}
}

func testAuditPaging(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	const n = 25
	for i := range n {
		_, err := s.AppendAudit(ctx, entryFor(o.ID, "test.event", at(i)))
		noErr(t, "AppendAudit", err)
	}
	want := allAudit(t, s, o.ID) // creation + n
	if len(want) != n+1 {
		t.Fatalf("audit log has %d entries, want %d", len(want), n+1)
	}

	var got []storage.AuditEntry
	q := storage.AuditQuery{Limit: 7}
	pages := 0
	for {
		p, err := s.ListAudit(ctx, o.ID, q)
		noErr(t, "ListAudit", err)
		pages++
		if len(p.Entries) > 7 {
			t.Fatalf("page of %d entries with limit 7", len(p.Entries))
		}
		got = append(got, p.Entries...)
		if p.Next == 0 {
			break
		}
		if p.Next != p.Entries[len(p.Entries)-1].ID {
			t.Fatalf("Next = %d, want the last entry's ID %d", p.Next, p.Entries[len(p.Entries)-1].ID)
		}
		if pages > n {
			t.Fatalf("paging does not end")
		}
		q.After = p.Next
	}
	same(t, "entries read in pages of 7", got, want)
	if pages != 4 {
		t.Errorf("read %d pages of 7 for %d entries, want 4", pages, len(want))
	}

	// An exact fit ends without an empty trailing page.
	p, err := s.ListAudit(ctx, o.ID, storage.AuditQuery{Limit: n + 1})
	noErr(t, "ListAudit exact", err)
	if len(p.Entries) != n+1 || p.Next != 0 {
		t.Errorf("exact page: %d entries, Next %d; want %d and 0", len(p.Entries), p.Next, n+1)
	}
	// Zero limit means the default; the default covers all 26.
	p, err = s.ListAudit(ctx, o.ID, storage.AuditQuery{})
	noErr(t, "ListAudit default", err)
	if len(p.Entries) != n+1 {
		t.Errorf("default page has %d entries, want %d", len(p.Entries), n+1)
	}
	// Past the end is empty.
	p, err = s.ListAudit(ctx, o.ID, storage.AuditQuery{After: want[len(want)-1].ID})
	noErr(t, "ListAudit past the end", err)
	if len(p.Entries) != 0 || p.Next != 0 {
		t.Errorf("past the end: %d entries, Next %d; want none", len(p.Entries), p.Next)
	}
	_, err = s.ListAudit(ctx, o.ID, storage.AuditQuery{Limit: -1})
	wantErr(t, "negative limit", err, storage.ErrInvalid)
	_, err = s.ListAudit(ctx, o.ID, storage.AuditQuery{After: -5})
	wantErr(t, "negative cursor", err, storage.ErrInvalid)
}

func testAuditTenantIsolation(t testing.TB, s Store) {
	ctx := t.Context()
	a := mustCreateOrg(t, s, "alpha")
	b := mustCreateOrg(t, s, "bravo")
	for i := range 5 {
		_, err := s.AppendAudit(ctx, entryFor(a.ID, "alpha.secret", at(i)))
		noErr(t, "AppendAudit A", err)
		_, err = s.AppendAudit(ctx, entryFor(b.ID, "bravo.event", at(i)))
		noErr(t, "AppendAudit B", err)
	}
	for _, e := range allAudit(t, s, b.ID) {
		if e.Org != b.ID || strings.HasPrefix(e.Action, "alpha") {
			t.Errorf("org B's log holds %+v", e)
		}
	}
	if n := len(allAudit(t, s, b.ID)); n != 6 {
		t.Errorf("org B's log has %d entries, want 6", n)
	}
	// Paging from a cursor inside A's range still shows only B's entries.
	aLog := allAudit(t, s, a.ID)
	p, err := s.ListAudit(ctx, b.ID, storage.AuditQuery{After: aLog[0].ID, Limit: 2})
	noErr(t, "ListAudit B from A's cursor", err)
	for _, e := range p.Entries {
		if e.Org != b.ID {
			t.Errorf("org B's page from A's cursor holds %+v", e)
		}
	}
	p, err = s.ListAudit(ctx, "org_unknown", storage.AuditQuery{})
	noErr(t, "ListAudit(unknown org)", err)
	if len(p.Entries) != 0 {
		t.Errorf("unknown org's log has %d entries, want none", len(p.Entries))
	}
}

func testAuditInvalid(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	before := takeSnapshot(t, s)

	_, err := s.AppendAudit(ctx, entryFor("org_unknown", "test.event", at(1)))
	wantErr(t, "AppendAudit to an unknown org", err, storage.ErrNotFound)
	unchanged(t, "AppendAudit to an unknown org", s, before)

	manyDetails := map[string]string{}
	for i := range storage.MaxDetails + 1 {
		manyDetails[fmt.Sprintf("k%d", i)] = "v"
	}
	tests := []struct {
		name string
		edit func(*storage.AuditEntry)
	}{
		{"empty org", func(e *storage.AuditEntry) { e.Org = "" }},
		{"zero time", func(e *storage.AuditEntry) { e.Time = time.Time{} }},
		{"empty actor", func(e *storage.AuditEntry) { e.Actor = "" }},
		{"oversize actor", func(e *storage.AuditEntry) { e.Actor = strings.Repeat("a", storage.MaxActorLen+1) }},
		{"actor with control character", func(e *storage.AuditEntry) { e.Actor = "user:\x00" }},
		{"empty action", func(e *storage.AuditEntry) { e.Action = "" }},
		{"oversize action", func(e *storage.AuditEntry) { e.Action = strings.Repeat("a", storage.MaxActionLen+1) }},
		{"action with spaces", func(e *storage.AuditEntry) { e.Action = "sign in" }},
		{"oversize target", func(e *storage.AuditEntry) { e.Target = strings.Repeat("t", storage.MaxTargetLen+1) }},
		{"too many details", func(e *storage.AuditEntry) { e.Details = manyDetails }},
		{"empty detail key", func(e *storage.AuditEntry) { e.Details = map[string]string{"": "v"} }},
		{"oversize detail key", func(e *storage.AuditEntry) {
			e.Details = map[string]string{strings.Repeat("k", storage.MaxDetailKeyLen+1): "v"}
		}},
		{"detail value not UTF-8", func(e *storage.AuditEntry) { e.Details = map[string]string{"k": "\xc3\x28"} }},
	}
	for _, tt := range tests {
		e := entryFor(o.ID, "test.event", at(2))
		tt.edit(&e)
		_, err := s.AppendAudit(ctx, e)
		wantErr(t, tt.name, err, storage.ErrInvalid)
	}
	unchanged(t, "invalid appends", s, before)
}

func testAuditNoAliasing(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	details := map[string]string{"k": "original"}
	got, err := s.AppendAudit(ctx, storage.AuditEntry{Org: o.ID, Time: at(1), Actor: "system", Action: "test.event", Details: details})
	noErr(t, "AppendAudit", err)
	details["k"] = "changed by caller"
	got.Details["k"] = "changed through result"
	p, err := s.ListAudit(ctx, o.ID, storage.AuditQuery{})
	noErr(t, "ListAudit", err)
	p.Entries[1].Details["k"] = "changed through listing"
	log := allAudit(t, s, o.ID)
	if v := log[1].Details["k"]; v != "original" {
		t.Errorf("stored detail = %q, want %q: the store shares maps with callers", v, "original")
	}
}

func testAuditConcurrentAppend(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	const n = 64
	errs := parallel(n, func(i int) error {
		_, err := s.AppendAudit(t.Context(), entryFor(o.ID, "test.event", at(i)))
		return err
	})
	same(t, "concurrent appends", countErrs(errs), map[string]int{"nil": n})
	log := allAudit(t, s, o.ID)
	if len(log) != n+1 {
		t.Fatalf("%d entries after %d concurrent appends, want %d", len(log), n, n+1)
	}
	seen := map[int64]bool{}
	for i, e := range log {
		if seen[e.ID] {
			t.Errorf("ID %d listed twice", e.ID)
		}
		seen[e.ID] = true
		if i > 0 && e.ID <= log[i-1].ID {
			t.Errorf("IDs out of order: %d after %d", e.ID, log[i-1].ID)
		}
	}
}

// readAudit reads every page of q, following the cursor in q's order.
func readAudit(t testing.TB, s Store, org storage.OrgID, q storage.AuditQuery) ([]storage.AuditEntry, int) {
	t.Helper()
	var all []storage.AuditEntry
	pages := 0
	for {
		p, err := s.ListAudit(t.Context(), org, q)
		noErr(t, "ListAudit", err)
		pages++
		if q.Limit > 0 && len(p.Entries) > q.Limit {
			t.Fatalf("page of %d entries with limit %d", len(p.Entries), q.Limit)
		}
		all = append(all, p.Entries...)
		if p.Next == 0 {
			return all, pages
		}
		if len(p.Entries) == 0 || p.Next != p.Entries[len(p.Entries)-1].ID {
			t.Fatalf("Next = %d, want the last entry's ID", p.Next)
		}
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
		if q.Newest {
			q.Before = p.Next
		} else {
			q.After = p.Next
		}
	}
}

func reversed(es []storage.AuditEntry) []storage.AuditEntry {
	out := slices.Clone(es)
	slices.Reverse(out)
	return out
}

func testAuditNewestFirst(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	other := mustCreateOrg(t, s, "other")
	const n = 25
	for i := range n {
		_, err := s.AppendAudit(ctx, entryFor(o.ID, "test.event", at(i)))
		noErr(t, "AppendAudit", err)
		_, err = s.AppendAudit(ctx, entryFor(other.ID, "test.event", at(i)))
		noErr(t, "AppendAudit other", err)
	}
	oldest := allAudit(t, s, o.ID)
	got, pages := readAudit(t, s, o.ID, storage.AuditQuery{Newest: true, Limit: 7})
	same(t, "newest first in pages of 7", got, reversed(oldest))
	if pages != 4 {
		t.Errorf("read %d pages of 7 for %d entries, want 4", pages, len(oldest))
	}
	p, err := s.ListAudit(ctx, o.ID, storage.AuditQuery{Newest: true, Limit: 1})
	noErr(t, "ListAudit newest", err)
	if len(p.Entries) != 1 || p.Entries[0].ID != oldest[len(oldest)-1].ID {
		t.Errorf("first page newest first = %+v, want the last entry appended", p.Entries)
	}
	// Both bounds: the entries strictly between, in either order.
	lo, hi := oldest[5].ID, oldest[15].ID
	between, _ := readAudit(t, s, o.ID, storage.AuditQuery{After: lo, Before: hi, Limit: 3})
	same(t, "entries between two IDs", between, oldest[6:15])
	between, _ = readAudit(t, s, o.ID, storage.AuditQuery{After: lo, Before: hi, Newest: true, Limit: 4})
	same(t, "entries between two IDs, newest first", between, reversed(oldest[6:15]))
	// Before the first entry: nothing.
	p, err = s.ListAudit(ctx, o.ID, storage.AuditQuery{Newest: true, Before: oldest[0].ID})
	noErr(t, "ListAudit before the first", err)
	if len(p.Entries) != 0 || p.Next != 0 {
		t.Errorf("before the first entry: %d entries, Next %d; want none", len(p.Entries), p.Next)
	}
}

func testAuditFilters(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	other := mustCreateOrg(t, s, "other")
	type ev struct {
		actor, action, target string
		minute                int
	}
	events := []ev{
		{"admin:ann", "device.lock", "device:d1", 1},
		{"user:u1", "device.state.deprovisioning", "device:d1", 2},
		{"admin:ann", "device.erase", "device:d2", 3},
		{"user:u1", "auth.signin.success", "user:u1", 4},
		{"admin:ann", "auth.mfa.totp_remove", "user:u1", 5},
		{"user:u2", "auth.signin.success", "user:u2", 6},
		{"admin:ann", "devicex.lock", "device:d1", 7}, // "device." must not match it
		{"system", "device_lock", "device:d1", 8},     // nor a LIKE wildcard
		{"admin:ann", "device.lock", "device:d1", 9},
	}
	for _, e := range events {
		for _, org := range []storage.OrgID{o.ID, other.ID} {
			_, err := s.AppendAudit(ctx, storage.AuditEntry{Org: org, Time: at(e.minute), Actor: e.actor, Action: e.action, Target: e.target})
			noErr(t, "AppendAudit", err)
		}
	}
	all := allAudit(t, s, o.ID) // with the org's creation, at minute 0
	// Bounds are compared as stored: to the microsecond.
	before := func(e storage.AuditEntry, minute int) bool { return e.Time.Before(storage.Normalize(at(minute))) }
	pick := func(keep func(storage.AuditEntry) bool) []storage.AuditEntry {
		var out []storage.AuditEntry
		for _, e := range all {
			if keep(e) {
				out = append(out, e)
			}
		}
		return out
	}
	tests := []struct {
		name string
		q    storage.AuditQuery
		want []storage.AuditEntry
	}{
		{"actor", storage.AuditQuery{Actor: "admin:ann"}, pick(func(e storage.AuditEntry) bool { return e.Actor == "admin:ann" })},
		{"target", storage.AuditQuery{Target: "device:d1"}, pick(func(e storage.AuditEntry) bool { return e.Target == "device:d1" })},
		{"subject", storage.AuditQuery{Subject: "user:u1"}, pick(func(e storage.AuditEntry) bool { return e.Actor == "user:u1" || e.Target == "user:u1" })},
		{"action", storage.AuditQuery{Action: "device.lock"}, pick(func(e storage.AuditEntry) bool { return e.Action == "device.lock" })},
		{"action prefix", storage.AuditQuery{Action: "device."}, pick(func(e storage.AuditEntry) bool { return strings.HasPrefix(e.Action, "device.") })},
		{"action prefix of two words", storage.AuditQuery{Action: "device.state."}, pick(func(e storage.AuditEntry) bool { return strings.HasPrefix(e.Action, "device.state.") })},
		{"since and until", storage.AuditQuery{Since: at(3), Until: at(6)}, pick(func(e storage.AuditEntry) bool {
			return !before(e, 3) && before(e, 6)
		})},
		{"since", storage.AuditQuery{Since: at(8)}, pick(func(e storage.AuditEntry) bool { return !before(e, 8) })},
		{"until", storage.AuditQuery{Until: at(2)}, pick(func(e storage.AuditEntry) bool { return before(e, 2) })},
		{"combined", storage.AuditQuery{Target: "device:d1", Action: "device.", Actor: "admin:ann", Until: at(9)},
			pick(func(e storage.AuditEntry) bool {
				return e.Target == "device:d1" && strings.HasPrefix(e.Action, "device.") && e.Actor == "admin:ann" && before(e, 9)
			})},
		{"nothing matches", storage.AuditQuery{Subject: "user:nobody"}, nil},
	}
	for _, tt := range tests {
		if tt.name != "nothing matches" && len(tt.want) == 0 {
			t.Fatalf("%s: the case selects nothing", tt.name)
		}
		q := tt.q
		q.Limit = 2
		got, _ := readAudit(t, s, o.ID, q)
		same(t, tt.name+", oldest first", got, tt.want)
		q.Newest = true
		got, _ = readAudit(t, s, o.ID, q)
		same(t, tt.name+", newest first", got, reversed(tt.want))
		for _, e := range got {
			if e.Org != o.ID {
				t.Errorf("%s: another org's entry %+v", tt.name, e)
			}
		}
	}
}

func testAuditFilterInvalid(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	for _, tt := range []struct {
		name string
		q    storage.AuditQuery
	}{
		{"negative before", storage.AuditQuery{Before: -1}},
		{"action with spaces", storage.AuditQuery{Action: "device lock"}},
		{"action of a dot", storage.AuditQuery{Action: "."}},
		{"oversize action", storage.AuditQuery{Action: strings.Repeat("a", storage.MaxActionLen+1)}},
		{"oversize actor", storage.AuditQuery{Actor: strings.Repeat("a", storage.MaxActorLen+1)}},
		{"target with control character", storage.AuditQuery{Target: "device:\x00"}},
		{"subject not UTF-8", storage.AuditQuery{Subject: "user:\xc3\x28"}},
		{"since after until", storage.AuditQuery{Since: at(5), Until: at(4)}},
		{"since equal to until", storage.AuditQuery{Since: at(5), Until: at(5)}},
	} {
		_, err := s.ListAudit(ctx, o.ID, tt.q)
		wantErr(t, tt.name, err, storage.ErrInvalid)
	}
}

// testAuditIDsPerOrg: an org's entry IDs count its own entries only, so
// that their gaps reveal nothing of other orgs' activity (SECURITY.md,
// audit IDs), also while both orgs write at once.
func testAuditIDsPerOrg(t testing.TB, s Store) {
	ctx := t.Context()
	a := mustCreateOrg(t, s, "alpha")
	b := mustCreateOrg(t, s, "bravo")
	const n = 24
	errs := parallel(2*n, func(i int) error {
		org := a.ID
		if i%2 == 1 {
			org = b.ID
		}
		_, err := s.AppendAudit(ctx, entryFor(org, "test.event", at(i)))
		return err
	})
	same(t, "concurrent appends to two orgs", countErrs(errs), map[string]int{"nil": 2 * n})
	for i := range 5 { // one org busy, the other quiet
		_, err := s.AppendAudit(ctx, entryFor(a.ID, "alpha.busy", at(100+i)))
		noErr(t, "AppendAudit A", err)
	}
	last, err := s.AppendAudit(ctx, entryFor(b.ID, "bravo.event", at(200)))
	noErr(t, "AppendAudit B", err)
	for _, org := range []storage.OrgID{a.ID, b.ID} {
		log := allAudit(t, s, org)
		for i, e := range log {
			if e.ID != log[0].ID+int64(i) {
				t.Fatalf("org %s: entry %d has ID %d after %d: IDs of one org must follow each other without gaps", org, i, e.ID, log[max(i-1, 0)].ID)
			}
		}
	}
	bLog := allAudit(t, s, b.ID)
	if last.ID != bLog[len(bLog)-1].ID || last.ID != bLog[0].ID+int64(n+1) {
		t.Errorf("org B's latest entry has ID %d, want %d: another org's entries moved it", last.ID, bLog[0].ID+int64(n+1))
	}
}
