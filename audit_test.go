package omm_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/openomm/omm"
	"github.com/openomm/omm/storage"
)

func TestParseAuditQuery(t *testing.T) {
	day := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in   string
		want storage.AuditQuery
	}{
		{"", storage.AuditQuery{}},
		{"order=newest&before=40&limit=10", storage.AuditQuery{Newest: true, Before: 40, Limit: 10}},
		{"device=dev_1&action=device.", storage.AuditQuery{Target: "device:dev_1", Action: "device."}},
		{"user=u_1&actor=admin:ann", storage.AuditQuery{Subject: "user:u_1", Actor: "admin:ann"}},
		{"since=2026-03-14&until=2026-03-14", storage.AuditQuery{Since: day, Until: day.AddDate(0, 0, 1)}},
		{"since=2026-03-14T10:00:00Z", storage.AuditQuery{Since: day.Add(10 * time.Hour)}},
		{"device=+&user=&action=", storage.AuditQuery{}},
	} {
		v, _ := url.ParseQuery(tt.in)
		got, err := omm.ParseAuditQuery(v)
		if err != nil || !got.Since.Equal(tt.want.Since) || !got.Until.Equal(tt.want.Until) {
			t.Errorf("%q = %+v, %v; want %+v", tt.in, got, err, tt.want)
			continue
		}
		got.Since, got.Until, tt.want.Since, tt.want.Until = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if got != tt.want {
			t.Errorf("%q = %+v; want %+v", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{"order=sideways", "after=-1", "limit=5000", "limit=x", "since=yesterday",
		"action=device+lock", "since=2026-03-15&until=2026-03-14", "device=d1&target=user:u1"} {
		v, _ := url.ParseQuery(bad)
		if _, err := omm.ParseAuditQuery(v); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestAdminAuditNewestFirstFiltered reads the admin API's audit log newest
// first, a page at a time, filtered by user and by action, with the names
// of what the entries name.
func TestAdminAuditNewestFirstFiltered(t *testing.T) {
	e := newEnv(t, "")
	admin := []string{"X-Admin-Org", string(e.org)}
	alice := e.users["alice"]
	// Things happen to alice and carol.
	for _, u := range []string{alice, e.users["carol"], alice} {
		if _, err := e.sdk.Store.AppendAudit(t.Context(), storage.AuditEntry{Org: e.org, Time: time.Now(), Actor: "admin:test",
			Action: "test.poke", Target: "user:" + u}); err != nil {
			t.Fatal(err)
		}
	}
	type page struct {
		Entries []omm.AuditView
		Next    int64
	}
	read := func(q string) page {
		t.Helper()
		status, body := e.do(t, "GET", "/admin/audit?"+q, nil, admin...)
		if status != 200 {
			t.Fatalf("audit ?%s = %d %s", q, status, body)
		}
		var p page
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := read("order=newest&limit=2&action=test.poke")
	if len(p.Entries) != 2 || p.Next == 0 || p.Entries[0].ID < p.Entries[1].ID {
		t.Fatalf("newest first = %+v", p)
	}
	if p.Entries[0].TargetName != "alice" || p.Entries[1].TargetName != "carol" {
		t.Errorf("names %q, %q; want alice, carol", p.Entries[0].TargetName, p.Entries[1].TargetName)
	}
	rest := read("order=newest&limit=2&action=test.poke&before=" + jsonNum(p.Next))
	if len(rest.Entries) != 1 || rest.Next != 0 || rest.Entries[0].TargetName != "alice" {
		t.Errorf("second page = %+v", rest)
	}
	// Everything about alice: her creation, her membership, the pokes; no
	// entry about anyone else.
	all := read("user=" + alice + "&limit=100")
	if len(all.Entries) < 3 {
		t.Fatalf("alice's entries: %+v", all.Entries)
	}
	for _, en := range all.Entries {
		if en.Actor != "user:"+alice && en.Target != "user:"+alice {
			t.Errorf("alice's log holds %+v", en)
		}
	}
	// Bad filters are refused with a reason; another org's user yields
	// nothing of that org.
	if status, body := e.do(t, "GET", "/admin/audit?order=sideways", nil, admin...); status != 400 || !strings.Contains(string(body), "order") {
		t.Errorf("bad order = %d %s", status, body)
	}
	if other := read("user=" + e.users["olga"]); len(other.Entries) != 0 {
		t.Errorf("another org's user: %+v", other.Entries)
	}
}

func jsonNum(n int64) string { b, _ := json.Marshal(n); return string(b) }

// FuzzParseAuditQuery: whatever the query string, the parser either
// refuses it with ErrBadRequest or returns a query the store accepts.
func FuzzParseAuditQuery(f *testing.F) {
	for _, seed := range []string{"", "order=newest&before=40&limit=10", "device=dev_1&action=device.", "user=u_1&actor=admin:ann",
		"since=2026-03-14&until=2026-03-15", "since=2026-03-14T10:00:00Z", "limit=-1", "action=..", "until=9999-12-31", "target=%00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := omm.ParseAuditQuery(v)
		if err != nil {
			if !errors.Is(err, omm.ErrBadRequest) {
				t.Fatalf("%q: %v is not ErrBadRequest", raw, err)
			}
			return
		}
		if _, err := q.Normalize(); err != nil {
			t.Fatalf("%q: parsed into %+v, which the store refuses: %v", raw, q, err)
		}
	})
}
