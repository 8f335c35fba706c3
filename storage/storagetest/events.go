package storagetest

import (
	"fmt"
	"testing"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/events"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

func eventCases() []testCase {
	return []testCase{
		{"Events/WithTheirChange", testEventsWithChange},
		{"Events/Paging", testEventsPaging},
		{"Events/TenantIsolation", testEventsTenants},
		{"Events/ConcurrentSeq", testEventsConcurrent},
		{"Events/Cursor", testEventCursor},
		{"Events/Purge", testEventsPurge},
		{"Events/Invalid", testEventsInvalid},
		{"Events/CommandsAndInventory", testEventsCommands},
		{"Events/ManyInOneChange", testEventsManyInOneChange},
	}
}

// allEvents reads every event of org, oldest first.
func allEvents(t testing.TB, s Store, org storage.OrgID) []events.Event {
	t.Helper()
	var all []events.Event
	q := events.Query{Limit: events.MaxPage}
	for {
		p, err := s.Events(t.Context(), org, q)
		noErr(t, "Events", err)
		all = append(all, p.Events...)
		if p.Next == 0 {
			return all
		}
		q.After = p.Next
	}
}

func kindsOf(evs []events.Event) []events.Kind {
	out := []events.Kind{}
	for _, e := range evs {
		out = append(out, e.Kind)
	}
	return out
}

// wantSeqs checks that evs are numbered 1, 2, 3 … in order.
func wantSeqs(t testing.TB, what string, evs []events.Event) {
	t.Helper()
	for i, e := range evs {
		if e.Seq != int64(i+1) {
			t.Errorf("%s: event %d has seq %d, want %d (seqs: no gaps, in order)", what, i, e.Seq, i+1)
			return
		}
	}
}

// testEventsWithChange: an audit entry naming an event emits it with its
// change; a change that fails emits nothing.
func testEventsWithChange(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	d := mustCreateDevice(t, s, newDevice(o.ID, 1), at(1))
	if evs := allEvents(t, s, o.ID); len(evs) != 0 {
		t.Fatalf("events without any change naming one: %+v", evs)
	}
	e := deviceEntry(o.ID, "device.state.deprovisioning", at(2))
	e.Target, e.Event, e.Details = "device:"+d.ID, events.DeprovisionRequested, map[string]string{"reason": "left", "secret": "kept in the audit log"}
	_, err := s.UpdateDeviceState(ctx, o.ID, d.ID, inventory.StateDeprovisioning, e)
	noErr(t, "UpdateDeviceState", err)
	evs := allEvents(t, s, o.ID)
	if len(evs) != 1 {
		t.Fatalf("%d events after one change, want 1", len(evs))
	}
	got := evs[0]
	if got.Seq != 1 || got.ID == "" || got.Kind != events.DeprovisionRequested || got.Device != d.ID || got.User != d.UserID ||
		got.Actor != e.Actor || !got.Time.Equal(storage.Normalize(at(2))) || got.Org != o.ID {
		t.Errorf("event %+v", got)
	}
	same(t, "event data (documented keys only)", got.Data, map[string]string{"reason": "left"})

	// A refused change emits nothing: an impossible transition, and a
	// change whose audit entry cannot be written.
	bad := e
	bad.Event = events.WipeCompleted
	_, err = s.UpdateDeviceState(ctx, o.ID, d.ID, inventory.StateEnrolled, bad)
	wantErr(t, "deprovisioning → enrolled", err, inventory.ErrTransition)
	bad.Actor = ""
	_, err = s.UpdateDeviceState(ctx, o.ID, d.ID, inventory.StateWiped, bad)
	wantErr(t, "entry without actor", err, storage.ErrInvalid)
	same(t, "events after refused changes", kindsOf(allEvents(t, s, o.ID)), []events.Kind{events.DeprovisionRequested})

	// A standalone audit entry emits its event too; the seq goes on.
	a := entryFor(o.ID, "http.denied", at(3))
	a.Event, a.Details = events.SecurityDenied, map[string]string{"method": "GET", "path": "/x", "status": "401"}
	_, err = s.AppendAudit(ctx, a)
	noErr(t, "AppendAudit", err)
	evs = allEvents(t, s, o.ID)
	same(t, "kinds", kindsOf(evs), []events.Kind{events.DeprovisionRequested, events.SecurityDenied})
	wantSeqs(t, "after two changes", evs)
	if len(evs) == 2 && evs[0].ID == evs[1].ID {
		t.Error("two events share an ID")
	}
	again := allEvents(t, s, o.ID)
	same(t, "events read twice (IDs stable)", again, evs)
}

// appendN appends n standalone events about device (or none).
func appendN(t testing.TB, s Store, org storage.OrgID, device string, n int, minute int) []events.Event {
	t.Helper()
	var out []events.Event
	for i := range n {
		e, err := s.AppendEvent(t.Context(), events.Event{ID: events.NewID(), Org: org, Kind: events.EnrollmentFailed,
			Time: at(minute), Device: device, Actor: "system", Data: map[string]string{"reason": fmt.Sprint(i)}})
		noErr(t, "AppendEvent", err)
		out = append(out, e)
	}
	return out
}

// testEventsPaging: pages in seq order, by device, newest first.
func testEventsPaging(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	a, b := mustCreateDevice(t, s, newDevice(o.ID, 1), at(1)), mustCreateDevice(t, s, newDevice(o.ID, 2), at(1))
	var all []events.Event
	for i := range 5 {
		all = append(all, appendN(t, s, o.ID, a.ID, 1, 2+i)...)
		all = append(all, appendN(t, s, o.ID, b.ID, 1, 2+i)...)
	}
	wantSeqs(t, "appended", all)
	if all[0].User != a.UserID {
		t.Errorf("event of device %s has user %q, want the device's %q", a.ID, all[0].User, a.UserID)
	}
	p, err := s.Events(ctx, o.ID, events.Query{Limit: 4})
	noErr(t, "Events", err)
	same(t, "first page", p.Events, all[:4])
	same(t, "next", p.Next, int64(4))
	p, err = s.Events(ctx, o.ID, events.Query{After: 8, Limit: 4})
	noErr(t, "Events", err)
	same(t, "last page", p.Events, all[8:])
	same(t, "no next", p.Next, int64(0))
	p, err = s.Events(ctx, o.ID, events.Query{Device: b.ID, After: 2, Limit: 2})
	noErr(t, "Events(device)", err)
	same(t, "device page", p.Events, []events.Event{all[3], all[5]})
	p, err = s.Events(ctx, o.ID, events.Query{Newest: true, Limit: 3})
	noErr(t, "Events(newest)", err)
	same(t, "newest first", p.Events, []events.Event{all[9], all[8], all[7]})
	p, err = s.Events(ctx, o.ID, events.Query{Newest: true, After: p.Next, Limit: 3})
	noErr(t, "Events(newest, next)", err)
	same(t, "newest, second page", p.Events, []events.Event{all[6], all[5], all[4]})
	for _, q := range []events.Query{{After: -1}, {Limit: events.MaxPage + 1}, {Limit: -1}} {
		_, err := s.Events(ctx, o.ID, q)
		wantErr(t, fmt.Sprintf("Events(%+v)", q), err, storage.ErrInvalid)
	}
}

// testEventsTenants: each org has its own stream and cursor numbering.
func testEventsTenants(t testing.TB, s Store) {
	a, b := mustCreateOrg(t, s, "acme"), mustCreateOrg(t, s, "bolt")
	appendN(t, s, a.ID, "", 3, 1)
	appendN(t, s, b.ID, "", 2, 1)
	ea, eb := allEvents(t, s, a.ID), allEvents(t, s, b.ID)
	wantSeqs(t, "org a", ea)
	wantSeqs(t, "org b", eb)
	if len(ea) != 3 || len(eb) != 2 || eb[0].Org != b.ID {
		t.Errorf("org a has %d events, org b %d (%+v)", len(ea), len(eb), eb)
	}
	_, err := s.AppendEvent(t.Context(), events.Event{ID: events.NewID(), Org: "org_missing", Kind: events.EnrollmentFailed, Time: at(1)})
	wantErr(t, "event of an unknown org", err, storage.ErrNotFound)
}

// testEventsConcurrent: concurrent writers get distinct seqs with no gap.
func testEventsConcurrent(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	errs := parallel(16, func(i int) error {
		_, err := s.AppendEvent(t.Context(), events.Event{ID: events.NewID(), Org: o.ID, Kind: events.EnrollmentFailed, Time: at(i)})
		return err
	})
	for _, err := range errs {
		noErr(t, "concurrent AppendEvent", err)
	}
	evs := allEvents(t, s, o.ID)
	if len(evs) != 16 {
		t.Fatalf("%d events, want 16", len(evs))
	}
	wantSeqs(t, "concurrent", evs)
}

// testEventCursor: a consumer's cursor per org, never moving back.
func testEventCursor(t testing.TB, s Store) {
	ctx := t.Context()
	a, b := mustCreateOrg(t, s, "acme"), mustCreateOrg(t, s, "bolt")
	c, err := s.EventCursor(ctx, a.ID, "webhook")
	noErr(t, "EventCursor", err)
	same(t, "fresh cursor", c, int64(0))
	noErr(t, "SetEventCursor", s.SetEventCursor(ctx, a.ID, "webhook", 7))
	noErr(t, "SetEventCursor back", s.SetEventCursor(ctx, a.ID, "webhook", 3))
	c, _ = s.EventCursor(ctx, a.ID, "webhook")
	same(t, "cursor (never back)", c, int64(7))
	noErr(t, "SetEventCursor", s.SetEventCursor(ctx, a.ID, "webhook", 9))
	c, _ = s.EventCursor(ctx, a.ID, "webhook")
	same(t, "cursor moved on", c, int64(9))
	c, _ = s.EventCursor(ctx, b.ID, "webhook")
	same(t, "other org's cursor", c, int64(0))
	c, _ = s.EventCursor(ctx, a.ID, "audit-copy")
	same(t, "other consumer's cursor", c, int64(0))
	wantErr(t, "empty consumer", s.SetEventCursor(ctx, a.ID, "", 1), storage.ErrInvalid)
	wantErr(t, "negative cursor", s.SetEventCursor(ctx, a.ID, "webhook", -1), storage.ErrInvalid)
	wantErr(t, "unknown org", s.SetEventCursor(ctx, "org_missing", "webhook", 1), storage.ErrNotFound)
}

// testEventsPurge: old events go, oldest first and bounded; the cursor
// numbering goes on.
func testEventsPurge(t testing.TB, s Store) {
	ctx := t.Context()
	o, other := mustCreateOrg(t, s, "acme"), mustCreateOrg(t, s, "bolt")
	appendN(t, s, o.ID, "", 3, 1)
	appendN(t, s, o.ID, "", 2, 10)
	appendN(t, s, other.ID, "", 2, 1)
	n, err := s.PurgeEvents(ctx, o.ID, at(5), 2)
	noErr(t, "PurgeEvents", err)
	same(t, "purged (bounded)", n, 2)
	n, err = s.PurgeEvents(ctx, o.ID, at(5), 100)
	noErr(t, "PurgeEvents", err)
	same(t, "purged the rest", n, 1)
	evs := allEvents(t, s, o.ID)
	if len(evs) != 2 || evs[0].Seq != 4 {
		t.Fatalf("after the purge: %+v, want seqs 4 and 5", evs)
	}
	more := appendN(t, s, o.ID, "", 1, 11)
	same(t, "seq after a purge", more[0].Seq, int64(6))
	same(t, "other org untouched", len(allEvents(t, s, other.ID)), 2)
	_, err = s.PurgeEvents(ctx, o.ID, at(5), 0)
	wantErr(t, "purge of 0", err, storage.ErrInvalid)
}

// testEventsInvalid: invalid events are refused and store nothing.
func testEventsInvalid(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	long := make([]byte, events.MaxDataValue+1)
	for i := range long {
		long[i] = 'x'
	}
	for name, e := range map[string]events.Event{
		"no ID":       {Org: o.ID, Kind: events.EnrollmentFailed, Time: at(1)},
		"no kind":     {ID: events.NewID(), Org: o.ID, Time: at(1)},
		"no time":     {ID: events.NewID(), Org: o.ID, Kind: events.EnrollmentFailed},
		"long value":  {ID: events.NewID(), Org: o.ID, Kind: events.EnrollmentFailed, Time: at(1), Data: map[string]string{"reason": string(long)}},
		"invalid org": {ID: events.NewID(), Org: "", Kind: events.EnrollmentFailed, Time: at(1)},
	} {
		_, err := s.AppendEvent(t.Context(), e)
		wantErr(t, "AppendEvent("+name+")", err, storage.ErrInvalid)
	}
	same(t, "events after refusals", len(allEvents(t, s, o.ID)), 0)
}

// testEventsCommands: a command's answer, its expiry and an inventory
// change each emit their event with the change; a replayed answer and an
// unchanged inventory emit nothing.
func testEventsCommands(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	d := mustCreateDevice(t, s, newDevice(o.ID, 1), at(1))
	enqueue(t, s, o.ID, "cmd-lock", d.ID)
	next(t, s, o.ID, d.ID, false)
	out := enroll.Outcome{UUID: "cmd-lock", Status: enroll.StatusAcknowledged, Time: at(3)}
	_, _, err := s.RecordOutcome(ctx, o.ID, d.ID, out)
	noErr(t, "RecordOutcome", err)
	_, _, err = s.RecordOutcome(ctx, o.ID, d.ID, out)
	noErr(t, "RecordOutcome (replay)", err)
	evs := allEvents(t, s, o.ID)
	same(t, "after an answer and its replay", kindsOf(evs), []events.Kind{events.CommandAcknowledged})
	if len(evs) > 0 {
		same(t, "answer data", evs[0].Data["uuid"], "cmd-lock")
	}

	enqueue(t, s, o.ID, "cmd-old", d.ID)
	_, err = s.NextCommand(ctx, o.ID, d.ID, enroll.NextOptions{QueuedAfter: at(100), Now: at(101)})
	wantErr(t, "NextCommand (expired)", err, storage.ErrNotFound)
	evs = allEvents(t, s, o.ID)
	same(t, "after an expiry", kindsOf(evs), []events.Kind{events.CommandAcknowledged, events.CommandExpired})

	u := inventory.Update{Values: []inventory.Value{{Key: inventory.KeyOSVersion, Value: "17.4", Source: inventory.SourceDevice, Collected: at(4)}}, At: at(4)}
	d, err = s.SaveInventory(ctx, o.ID, d.ID, d.Version, u)
	noErr(t, "SaveInventory", err)
	u.At = at(5)
	d, err = s.SaveInventory(ctx, o.ID, d.ID, d.Version, u)
	noErr(t, "SaveInventory (unchanged)", err)
	evs = allEvents(t, s, o.ID)
	same(t, "after two saves, one of them a change", kindsOf(evs), []events.Kind{events.CommandAcknowledged, events.CommandExpired, events.InventoryChanged})
	if len(evs) == 3 {
		same(t, "inventory data", evs[2].Data, map[string]string{"value." + string(inventory.KeyOSVersion): "17.4"})
	}
	wantSeqs(t, "commands and inventory", evs)
}

// testEventsManyInOneChange: a change emitting more events than a store
// may write in one statement (here 120 commands expiring at once) numbers
// them in order, without gaps, each with its own data.
func testEventsManyInOneChange(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	d := mustCreateDevice(t, s, newDevice(o.ID, 1), at(1))
	const n = 120
	for i := range n {
		enqueue(t, s, o.ID, fmt.Sprintf("cmd-%03d", i), d.ID)
	}
	_, err := s.NextCommand(ctx, o.ID, d.ID, enroll.NextOptions{QueuedAfter: at(100), Now: at(101)})
	wantErr(t, "NextCommand (all expired)", err, storage.ErrNotFound)
	evs := allEvents(t, s, o.ID)
	if len(evs) != n {
		t.Fatalf("%d events after %d commands expired, want %d", len(evs), n, n)
	}
	wantSeqs(t, "expired commands", evs)
	for i, e := range evs {
		if want := fmt.Sprintf("cmd-%03d", i); e.Kind != events.CommandExpired || e.Data["uuid"] != want || e.Device != d.ID || e.User != d.UserID {
			t.Errorf("event %d: %s %v for %s/%s, want %s of %s for %s/%s", i, e.Kind, e.Data, e.Device, e.User, events.CommandExpired, want, d.ID, d.UserID)
			break
		}
	}
}
