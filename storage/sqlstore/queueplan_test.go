package sqlstore

import (
	"context"
	"strings"
	"testing"
)

// TestOpenCommandsPlan: on SQLite, the next-command query and its probe
// read the index of open commands, not the index of all of a device's
// commands (which would walk its answered history).
func TestOpenCommandsPlan(t *testing.T) {
	ctx := context.Background()
	s, db := newSQLiteFile(t)
	for name, q := range map[string]struct {
		query string
		args  []any
	}{
		"probe":   {openProbeQuery, []any{"org", "dev", true}},
		"next":    {nextQuery, []any{"org", "dev", 0, true}},
		"binding": {bindingQuery, []any{"org", "org", "org", "fp"}},
		"clear":   {clearQuery, []any{"Abandoned", "", 0, "org", "dev"}},
	} {
		rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+s.q(q.query), q.args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		if p := strings.Join(plan, "; "); !strings.Contains(p, "INDEX omm_enroll_queue_open ") {
			t.Errorf("%s: plan %q does not read the index of open commands", name, p)
		}
	}
}
