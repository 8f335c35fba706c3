package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/events"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

func enrollCases() []testCase {
	return []testCase{
		{"Queue/FanOutAndOrder", testQueueFanOutAndOrder},
		{"Queue/NotNow", testQueueNotNow},
		{"Queue/ReplayedOutcome", testQueueReplayedOutcome},
		{"Queue/Abandon", testQueueAbandon},
		{"Queue/Expire", testQueueExpire},
		{"Queue/ExpireLast", testQueueExpireLast},
		{"Queue/Clear", testQueueClear},
		{"Queue/Duplicate", testQueueDuplicate},
		{"Queue/Invalid", testQueueInvalid},
		{"Queue/TenantIsolation", testQueueTenantIsolation},
		{"Queue/ConcurrentNext", testQueueConcurrentNext},
		{"Queue/RecordOutcomeNext", testQueueRecordOutcomeNext},
		{"Queue/RecordOutcomeInventory", testQueueRecordOutcomeInventory},
	}
}

func command(uuid string) enroll.Command {
	return enroll.Command{UUID: uuid, RequestType: "DeviceInformation", Body: []byte("<plist>" + uuid + "</plist>")}
}

func enqueue(t testing.TB, s Store, org storage.OrgID, uuid string, devices ...string) {
	t.Helper()
	noErr(t, "EnqueueCommand "+uuid, s.EnqueueCommand(t.Context(), org, devices, command(uuid), entryFor(org, "command.enqueue", at(1))))
}

func next(t testing.TB, s Store, org storage.OrgID, device string, skipNotNow bool) enroll.QueuedCommand {
	t.Helper()
	q, err := s.NextCommand(t.Context(), org, device, enroll.NextOptions{SkipNotNow: skipNotNow, Now: at(2)})
	noErr(t, "NextCommand("+device+")", err)
	return q
}

func wantNext(t testing.TB, s Store, org storage.OrgID, device string, skipNotNow bool, uuid string, deliveries int) {
	t.Helper()
	q := next(t, s, org, device, skipNotNow)
	if q.UUID != uuid || q.Deliveries != deliveries || q.Device != device || q.Org != org {
		t.Errorf("NextCommand(%s) = %s (delivery %d, device %s, org %s); want %s (delivery %d)",
			device, q.UUID, q.Deliveries, q.Device, q.Org, uuid, deliveries)
	}
	if want := command(uuid); uuid != "" && (q.RequestType != want.RequestType || string(q.Body) != string(want.Body)) {
		t.Errorf("NextCommand(%s) body %q type %q", device, q.Body, q.RequestType)
	}
}

func wantNoNext(t testing.TB, s Store, org storage.OrgID, device string, skipNotNow bool) {
	t.Helper()
	q, err := s.NextCommand(t.Context(), org, device, enroll.NextOptions{SkipNotNow: skipNotNow, Now: at(2)})
	if !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("NextCommand(%s, skipNotNow=%v) = %s, %v; want ErrNotFound", device, skipNotNow, q.UUID, err)
	}
}

func answer(t testing.TB, s Store, org storage.OrgID, device, uuid string, st enroll.CommandStatus) enroll.QueuedCommand {
	t.Helper()
	q, recorded, err := s.RecordOutcome(t.Context(), org, device, enroll.Outcome{UUID: uuid, Status: st, Detail: "detail of " + string(st), Time: at(3)})
	noErr(t, fmt.Sprintf("RecordOutcome(%s, %s)", uuid, st), err)
	if !recorded {
		t.Errorf("RecordOutcome(%s, %s) of an open command reports it was not recorded", uuid, st)
	}
	return q
}

func statuses(t testing.TB, s Store, org storage.OrgID, device string) map[string]enroll.CommandStatus {
	t.Helper()
	list, err := s.Commands(t.Context(), org, device, 0)
	noErr(t, "Commands", err)
	m := map[string]enroll.CommandStatus{}
	for _, q := range list {
		m[q.UUID] = q.Status
	}
	return m
}

func testQueueFanOutAndOrder(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	enqueue(t, s, o.ID, "c1", "d1", "d2")
	enqueue(t, s, o.ID, "c2", "d1")

	wantNext(t, s, o.ID, "d1", false, "c1", 1)
	// No answer (the connection broke): delivered again, at least once.
	wantNext(t, s, o.ID, "d1", false, "c1", 2)
	got := answer(t, s, o.ID, "d1", "c1", enroll.StatusAcknowledged)
	if got.Status != enroll.StatusAcknowledged || got.Detail != "detail of Acknowledged" || !got.Updated.Equal(storage.Normalize(at(3))) {
		t.Errorf("RecordOutcome returned %+v", got)
	}
	wantNext(t, s, o.ID, "d1", false, "c2", 1)
	// d2's copy is independent of d1's.
	wantNext(t, s, o.ID, "d2", false, "c1", 1)
	answer(t, s, o.ID, "d1", "c2", enroll.StatusError)
	wantNoNext(t, s, o.ID, "d1", false)

	list, err := s.Commands(t.Context(), o.ID, "d1", 0)
	noErr(t, "Commands", err)
	if len(list) != 2 || list[0].UUID != "c2" || list[1].UUID != "c1" {
		t.Fatalf("Commands(d1) = %+v, want c2 then c1 (newest first)", list)
	}
	if !list[1].Queued.Equal(storage.Normalize(at(1))) || list[1].Deliveries != 2 {
		t.Errorf("listed c1 = %+v", list[1])
	}
	one, err := s.Commands(t.Context(), o.ID, "d1", 1)
	noErr(t, "Commands limit 1", err)
	if len(one) != 1 || one[0].UUID != "c2" {
		t.Errorf("Commands(d1, 1) = %+v", one)
	}
	if n := len(allAudit(t, s, o.ID)); n != 3 {
		t.Errorf("%d audit entries after creating the org and queueing twice, want 3", n)
	}
}

func testQueueNotNow(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	enqueue(t, s, o.ID, "c1", "d1")
	enqueue(t, s, o.ID, "c2", "d1")
	wantNext(t, s, o.ID, "d1", false, "c1", 1)
	answer(t, s, o.ID, "d1", "c1", enroll.StatusNotNow)
	// Same connection: the NotNow command is passed over.
	wantNext(t, s, o.ID, "d1", true, "c2", 1)
	answer(t, s, o.ID, "d1", "c2", enroll.StatusAcknowledged)
	wantNoNext(t, s, o.ID, "d1", true)
	// A later check-in gets it again.
	wantNext(t, s, o.ID, "d1", false, "c1", 2)
	answer(t, s, o.ID, "d1", "c1", enroll.StatusAcknowledged)
	wantNoNext(t, s, o.ID, "d1", false)
}

func testQueueReplayedOutcome(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	enqueue(t, s, o.ID, "c1", "d1")
	next(t, s, o.ID, "d1", false)
	first := answer(t, s, o.ID, "d1", "c1", enroll.StatusAcknowledged)
	again, recorded, err := s.RecordOutcome(t.Context(), o.ID, "d1", enroll.Outcome{UUID: "c1", Status: enroll.StatusError, Detail: "late", Time: at(9)})
	noErr(t, "replayed RecordOutcome", err)
	if recorded {
		t.Error("a replayed answer reports it was recorded")
	}
	replay, recorded, err := s.RecordOutcome(t.Context(), o.ID, "d1", enroll.Outcome{UUID: "c1", Status: enroll.StatusAcknowledged, Detail: "detail of Acknowledged", Time: at(3)})
	noErr(t, "identical replay", err)
	if recorded || replay.Status != enroll.StatusAcknowledged {
		t.Error("an identical replay reports it was recorded")
	}
	same(t, "replayed outcome", again, first)
	same(t, "statuses after replay", statuses(t, s, o.ID, "d1"), map[string]enroll.CommandStatus{"c1": enroll.StatusAcknowledged})

	_, _, err = s.RecordOutcome(t.Context(), o.ID, "d1", enroll.Outcome{UUID: "nope", Status: enroll.StatusAcknowledged, Time: at(9)})
	wantErr(t, "outcome of an unknown command", err, storage.ErrNotFound)
	_, _, err = s.RecordOutcome(t.Context(), o.ID, "d2", enroll.Outcome{UUID: "c1", Status: enroll.StatusAcknowledged, Time: at(9)})
	wantErr(t, "outcome from a device the command was not queued for", err, storage.ErrNotFound)
}

func testQueueAbandon(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	enqueue(t, s, o.ID, "c1", "d1")
	enqueue(t, s, o.ID, "c2", "d1")
	for want := 1; want <= 2; want++ {
		q, err := s.NextCommand(t.Context(), o.ID, "d1", enroll.NextOptions{MaxDeliveries: 2, Now: at(2)})
		noErr(t, "NextCommand", err)
		if q.UUID != "c1" || q.Deliveries != want {
			t.Fatalf("delivery %d: got %s/%d", want, q.UUID, q.Deliveries)
		}
	}
	// Two deliveries without a usable answer: c1 no longer blocks c2.
	q, err := s.NextCommand(t.Context(), o.ID, "d1", enroll.NextOptions{MaxDeliveries: 2, Now: at(2)})
	noErr(t, "NextCommand after the limit", err)
	if q.UUID != "c2" {
		t.Fatalf("after c1's limit got %s, want c2", q.UUID)
	}
	list, err := s.Commands(t.Context(), o.ID, "d1", 0)
	noErr(t, "Commands", err)
	c1 := list[len(list)-1]
	if c1.UUID != "c1" || c1.Status != enroll.StatusAbandoned || c1.Detail != enroll.AbandonedDetail {
		t.Errorf("c1 after its limit: %+v", c1)
	}
}

func testQueueExpire(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	enqueue(t, s, o.ID, "old", "d1") // queued at(1)
	err := s.EnqueueCommand(t.Context(), o.ID, []string{"d1"}, command("new"), entryFor(o.ID, "command.enqueue", at(10)))
	noErr(t, "EnqueueCommand new", err)
	// Commands queued before at(5) have expired.
	q, err := s.NextCommand(t.Context(), o.ID, "d1", enroll.NextOptions{QueuedAfter: at(5), Now: at(11)})
	noErr(t, "NextCommand", err)
	if q.UUID != "new" {
		t.Fatalf("got %s, want the unexpired command", q.UUID)
	}
	list, err := s.Commands(t.Context(), o.ID, "d1", 0)
	noErr(t, "Commands", err)
	old := list[len(list)-1]
	if old.UUID != "old" || old.Status != enroll.StatusAbandoned || old.Detail != enroll.ExpiredDetail || !old.Updated.Equal(storage.Normalize(at(11))) {
		t.Errorf("expired command: %+v", old)
	}
}

// testQueueExpireLast: a device whose every open command has expired gets
// nothing, and the expiry is recorded all the same.
func testQueueExpireLast(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	enqueue(t, s, o.ID, "old", "d1") // queued at(1)
	_, err := s.NextCommand(t.Context(), o.ID, "d1", enroll.NextOptions{QueuedAfter: at(5), Now: at(11)})
	wantErr(t, "NextCommand with only an expired command", err, storage.ErrNotFound)
	list, err := s.Commands(t.Context(), o.ID, "d1", 0)
	noErr(t, "Commands", err)
	if len(list) != 1 || list[0].Status != enroll.StatusAbandoned || list[0].Detail != enroll.ExpiredDetail {
		t.Errorf("the expired command after NextCommand: %+v", list)
	}
}

func testQueueClear(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	for _, id := range []string{"c1", "c2", "c3"} {
		enqueue(t, s, o.ID, id, "d1", "d2")
	}
	next(t, s, o.ID, "d1", false)
	answer(t, s, o.ID, "d1", "c1", enroll.StatusAcknowledged)
	n, err := s.ClearQueue(t.Context(), o.ID, "d1", entryFor(o.ID, "device.authenticate", at(4)))
	noErr(t, "ClearQueue", err)
	if n != 2 {
		t.Errorf("ClearQueue abandoned %d, want 2", n)
	}
	wantNoNext(t, s, o.ID, "d1", false)
	same(t, "statuses after clearing", statuses(t, s, o.ID, "d1"), map[string]enroll.CommandStatus{
		"c1": enroll.StatusAcknowledged, "c2": enroll.StatusAbandoned, "c3": enroll.StatusAbandoned,
	})
	// Another device's queue is untouched.
	wantNext(t, s, o.ID, "d2", false, "c1", 1)
	log := allAudit(t, s, o.ID)
	if last := log[len(log)-1]; last.Action != "device.authenticate" {
		t.Errorf("last audit entry %q, want the clearing's", last.Action)
	}
}

func testQueueDuplicate(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	enqueue(t, s, o.ID, "c1", "d1")
	before := takeSnapshot(t, s)
	err := s.EnqueueCommand(t.Context(), o.ID, []string{"d2"}, command("c1"), entryFor(o.ID, "command.enqueue", at(5)))
	wantErr(t, "EnqueueCommand with a used UUID", err, storage.ErrAlreadyExists)
	unchanged(t, "EnqueueCommand with a used UUID", s, before)
	wantNoNext(t, s, o.ID, "d2", false)
}

func testQueueInvalid(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	enqueue(t, s, o.ID, "c0", "d1")
	before := takeSnapshot(t, s)
	ok := command("c1")
	tests := []struct {
		name    string
		devices []string
		cmd     enroll.Command
		entry   storage.AuditEntry
	}{
		{"no devices", nil, ok, entryFor(o.ID, "command.enqueue", at(1))},
		{"empty device", []string{""}, ok, entryFor(o.ID, "command.enqueue", at(1))},
		{"device twice", []string{"d1", "d1"}, ok, entryFor(o.ID, "command.enqueue", at(1))},
		{"oversize device", []string{strings.Repeat("d", enroll.MaxDeviceID+1)}, ok, entryFor(o.ID, "command.enqueue", at(1))},
		{"no uuid", []string{"d1"}, enroll.Command{RequestType: "X", Body: []byte("b")}, entryFor(o.ID, "command.enqueue", at(1))},
		{"no request type", []string{"d1"}, enroll.Command{UUID: "c1", Body: []byte("b")}, entryFor(o.ID, "command.enqueue", at(1))},
		{"empty body", []string{"d1"}, enroll.Command{UUID: "c1", RequestType: "X"}, entryFor(o.ID, "command.enqueue", at(1))},
		{"oversize body", []string{"d1"}, enroll.Command{UUID: "c1", RequestType: "X", Body: make([]byte, enroll.MaxCommandBody+1)}, entryFor(o.ID, "command.enqueue", at(1))},
		{"entry of another org", []string{"d1"}, ok, entryFor("org_other", "command.enqueue", at(1))},
	}
	for _, tt := range tests {
		err := s.EnqueueCommand(t.Context(), o.ID, tt.devices, tt.cmd, tt.entry)
		wantErr(t, tt.name, err, storage.ErrInvalid)
	}
	for _, st := range []enroll.CommandStatus{enroll.StatusPending, enroll.StatusAbandoned, "Done", ""} {
		_, _, err := s.RecordOutcome(t.Context(), o.ID, "d1", enroll.Outcome{UUID: "c0", Status: st, Time: at(1)})
		wantErr(t, "outcome "+string(st), err, storage.ErrInvalid)
	}
	_, _, err := s.RecordOutcome(t.Context(), o.ID, "d1", enroll.Outcome{UUID: "c0", Status: enroll.StatusAcknowledged})
	wantErr(t, "outcome without time", err, storage.ErrInvalid)
	_, err = s.Commands(t.Context(), o.ID, "d1", -1)
	wantErr(t, "negative limit", err, storage.ErrInvalid)
	unchanged(t, "invalid queue calls", s, before)
	same(t, "queue after invalid calls", statuses(t, s, o.ID, "d1"), map[string]enroll.CommandStatus{"c0": enroll.StatusPending})

	err = s.EnqueueCommand(t.Context(), "org_unknown", []string{"d1"}, ok, entryFor("org_unknown", "command.enqueue", at(1)))
	wantErr(t, "EnqueueCommand to an unknown org", err, storage.ErrNotFound)
}

func testQueueTenantIsolation(t testing.TB, s Store) {
	a := mustCreateOrg(t, s, "alpha")
	b := mustCreateOrg(t, s, "bravo")
	enqueue(t, s, a.ID, "c1", "d1")
	wantNoNext(t, s, b.ID, "d1", false)
	_, _, err := s.RecordOutcome(t.Context(), b.ID, "d1", enroll.Outcome{UUID: "c1", Status: enroll.StatusAcknowledged, Time: at(3)})
	wantErr(t, "org B answering org A's command", err, storage.ErrNotFound)
	if got := statuses(t, s, b.ID, "d1"); len(got) != 0 {
		t.Errorf("org B sees commands %v", got)
	}
	n, err := s.ClearQueue(t.Context(), b.ID, "d1", entryFor(b.ID, "device.authenticate", at(4)))
	noErr(t, "ClearQueue in org B", err)
	if n != 0 {
		t.Errorf("org B cleared %d of org A's commands", n)
	}
	// UUIDs are per org: org B may use the same one for its own device.
	enqueue(t, s, b.ID, "c1", "d1")
	wantNext(t, s, b.ID, "d1", false, "c1", 1)
	wantNext(t, s, a.ID, "d1", false, "c1", 1)
	same(t, "org A's queue", statuses(t, s, a.ID, "d1"), map[string]enroll.CommandStatus{"c1": enroll.StatusPending})
}

func testQueueConcurrentNext(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	enqueue(t, s, o.ID, "c1", "d1")
	const n = 8
	got := make([]int, n)
	errs := parallel(n, func(i int) error {
		q, err := s.NextCommand(t.Context(), o.ID, "d1", enroll.NextOptions{MaxDeliveries: 100, Now: at(2)})
		got[i] = q.Deliveries
		return err
	})
	same(t, "concurrent NextCommand errors", countErrs(errs), map[string]int{"nil": n})
	slices.Sort(got)
	same(t, "delivery counts", got, []int{1, 2, 3, 4, 5, 6, 7, 8})
}

// testQueueRecordOutcomeNext: recording an answer and handing out the next
// command in one call does what RecordOutcome then NextCommand do (the
// NotNow rule, the delivery count, the outcome's event), except that a
// held request type leaves the next command to the caller; a replay is not
// held; an unknown command, or another org's, changes nothing.
func testQueueRecordOutcomeNext(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	other := mustCreateOrg(t, s, "other")
	for _, c := range []string{"c1", "c2", "c3", "c4"} {
		enqueue(t, s, o.ID, c, "d1")
	}
	wantNext(t, s, o.ID, "d1", false, "c1", 1)
	opt := enroll.NextOptions{SkipNotNow: true, Now: at(2)}
	never := func(string) bool { return false }
	out := func(uuid string, st enroll.CommandStatus) enroll.Outcome {
		return enroll.Outcome{UUID: uuid, Status: st, Detail: "detail of " + string(st), Time: at(3)}
	}
	a, err := s.RecordOutcomeNext(ctx, o.ID, "d1", out("c1", enroll.StatusNotNow), opt, never)
	noErr(t, "RecordOutcomeNext(c1 NotNow)", err)
	if !a.Recorded || a.Command.UUID != "c1" || a.Command.Status != enroll.StatusNotNow || !a.Looked || !a.Found ||
		a.Next.UUID != "c2" || a.Next.Deliveries != 1 || a.Next.Org != o.ID || string(a.Next.Body) != string(command("c2").Body) {
		t.Errorf("RecordOutcomeNext(c1 NotNow) = %+v; want c1 recorded and c2 handed out (delivery 1)", a)
	}
	held := ""
	a, err = s.RecordOutcomeNext(ctx, o.ID, "d1", out("c2", enroll.StatusAcknowledged), opt, func(rt string) bool { held = rt; return true })
	noErr(t, "RecordOutcomeNext(c2, held)", err)
	if !a.Recorded || a.Looked || a.Found || held != command("c2").RequestType {
		t.Errorf("RecordOutcomeNext(c2, held) = %+v (hold asked about %q); want recorded, next not looked for", a, held)
	}
	// The caller then asks itself: c3, not the NotNow c1.
	q, err := s.NextCommand(ctx, o.ID, "d1", opt)
	noErr(t, "NextCommand after a held answer", err)
	if q.UUID != "c3" || q.Deliveries != 1 {
		t.Errorf("NextCommand after a held answer = %s (delivery %d), want c3 (1)", q.UUID, q.Deliveries)
	}
	// A replay is not held: nothing runs for it.
	a, err = s.RecordOutcomeNext(ctx, o.ID, "d1", out("c2", enroll.StatusError), opt, func(string) bool { return true })
	noErr(t, "replayed RecordOutcomeNext", err)
	if a.Recorded || a.Command.Status != enroll.StatusAcknowledged || !a.Looked || !a.Found || a.Next.UUID != "c3" || a.Next.Deliveries != 2 {
		t.Errorf("replayed RecordOutcomeNext = %+v; want not recorded, c3 handed out again (delivery 2)", a)
	}
	a, err = s.RecordOutcomeNext(ctx, o.ID, "d1", out("c3", enroll.StatusAcknowledged), opt, nil)
	noErr(t, "RecordOutcomeNext(c3)", err)
	if !a.Found || a.Next.UUID != "c4" {
		t.Errorf("RecordOutcomeNext(c3) = %+v, want c4 next", a)
	}
	a, err = s.RecordOutcomeNext(ctx, o.ID, "d1", out("c4", enroll.StatusAcknowledged), opt, never)
	noErr(t, "RecordOutcomeNext(c4)", err)
	if !a.Recorded || !a.Looked || a.Found {
		t.Errorf("RecordOutcomeNext(c4) = %+v; want recorded and nothing next (c1 said NotNow on this connection)", a)
	}
	before := statuses(t, s, o.ID, "d1")
	_, err = s.RecordOutcomeNext(ctx, o.ID, "d1", out("nope", enroll.StatusAcknowledged), opt, never)
	wantErr(t, "RecordOutcomeNext of an unknown command", err, storage.ErrNotFound)
	_, err = s.RecordOutcomeNext(ctx, other.ID, "d1", out("c1", enroll.StatusAcknowledged), opt, never)
	wantErr(t, "RecordOutcomeNext in another org", err, storage.ErrNotFound)
	_, err = s.RecordOutcomeNext(ctx, o.ID, "d1", enroll.Outcome{UUID: "c1", Status: enroll.StatusAcknowledged}, opt, never)
	wantErr(t, "RecordOutcomeNext without a time", err, storage.ErrInvalid)
	same(t, "statuses after refused answers", statuses(t, s, o.ID, "d1"), before)
	wantNext(t, s, o.ID, "d1", false, "c1", 2)

	p, err := s.Events(ctx, o.ID, events.Query{Limit: 100})
	noErr(t, "Events", err)
	outcomes := map[string]string{}
	for _, e := range p.Events {
		if u := e.Data["uuid"]; u != "" && e.Kind != events.CommandQueued {
			outcomes[u] += string(e.Kind) + " "
		}
	}
	same(t, "outcome events", outcomes, map[string]string{"c1": string(events.CommandNotNow) + " ", "c2": string(events.CommandAcknowledged) + " ",
		"c3": string(events.CommandAcknowledged) + " ", "c4": string(events.CommandAcknowledged) + " "})
}

// testQueueRecordOutcomeInventory: an answer stored with its inventory
// update does what RecordOutcomeNext then SaveInventory do, in one
// transaction: the update only for an answer recorded now to a command of
// its type; a stale version or a deprovisioned device stores nothing at all
// (no outcome, no delivery counted, no event); another org's device is not
// found.
func testQueueRecordOutcomeInventory(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	other := mustCreateOrg(t, s, "other")
	d := mustCreateDevice(t, s, newDevice(o.ID, 1), at(1))
	for _, c := range []string{"c1", "c2", "c3"} {
		enqueue(t, s, o.ID, c, d.ID)
	}
	install := enroll.Command{UUID: "c4", RequestType: "InstallProfile", Body: []byte("<plist>c4</plist>")}
	noErr(t, "EnqueueCommand c4", s.EnqueueCommand(ctx, o.ID, []string{d.ID}, install, entryFor(o.ID, "command.enqueue", at(1))))
	wantNext(t, s, o.ID, d.ID, false, "c1", 1)
	opt := enroll.NextOptions{SkipNotNow: true, Now: at(2)}
	never := func(string) bool { return false }
	ack := func(uuid string, when int) enroll.Outcome {
		return enroll.Outcome{UUID: uuid, Status: enroll.StatusAcknowledged, Time: at(when)}
	}
	inv := func(version int64, serial string, when int) enroll.InventoryAnswer {
		return enroll.InventoryAnswer{RequestType: command("c1").RequestType, Version: version, Update: inventory.Update{At: at(when),
			Values: []inventory.Value{{Key: inventory.KeySerialNumber, Value: serial, Source: inventory.SourceDevice, Collected: at(when)}}}}
	}
	type state struct {
		Inv    invSnapshot
		Queue  []enroll.QueuedCommand
		Events []events.Event
	}
	take := func() state {
		q, err := s.Commands(ctx, o.ID, d.ID, 0)
		noErr(t, "Commands", err)
		p, err := s.Events(ctx, o.ID, events.Query{Limit: 100})
		noErr(t, "Events", err)
		return state{Inv: takeInvSnapshot(t, s), Queue: q, Events: p.Events}
	}

	a, err := s.RecordOutcomeInventory(ctx, o.ID, d.ID, ack("c1", 3), opt, never, inv(d.Version, "SERIAL-1", 3))
	noErr(t, "RecordOutcomeInventory(c1)", err)
	if !a.Recorded || a.Command.UUID != "c1" || a.Command.Status != enroll.StatusAcknowledged || !a.Inventoried ||
		a.Device.ID != d.ID || a.Device.Version != d.Version+1 || !a.Device.LastInventory.Equal(storage.Normalize(at(3))) ||
		!a.Looked || !a.Found || a.Next.UUID != "c2" || a.Next.Deliveries != 1 {
		t.Errorf("RecordOutcomeInventory(c1) = %+v; want c1 recorded, the update stored (version %d) and c2 handed out", a, d.Version+1)
	}
	cur, err := s.Device(ctx, o.ID, d.ID)
	noErr(t, "Device", err)
	same(t, "device after the answer", cur, a.Device)
	vals, err := s.DeviceValues(ctx, o.ID, d.ID)
	noErr(t, "DeviceValues", err)
	if len(vals) != 1 || vals[0].Value != "SERIAL-1" {
		t.Errorf("values after the answer = %+v; want the serial number SERIAL-1", vals)
	}

	// A stale version, a deprovisioned device's, another org's: nothing.
	before := take()
	_, err = s.RecordOutcomeInventory(ctx, o.ID, d.ID, ack("c2", 4), opt, never, inv(d.Version, "SERIAL-2", 4))
	wantErr(t, "RecordOutcomeInventory with a stale version", err, storage.ErrConflict)
	same(t, "after a stale version", take(), before)
	_, err = s.RecordOutcomeInventory(ctx, other.ID, d.ID, ack("c2", 4), opt, never, inv(cur.Version, "SERIAL-2", 4))
	wantErr(t, "RecordOutcomeInventory in another org", err, storage.ErrNotFound)
	same(t, "after another org's answer", take(), before)

	// The same answer with the version as stored now.
	held := ""
	a, err = s.RecordOutcomeInventory(ctx, o.ID, d.ID, ack("c2", 5), opt, func(rt string) bool { held = rt; return true }, inv(cur.Version, "SERIAL-2", 5))
	noErr(t, "RecordOutcomeInventory(c2, held)", err)
	if !a.Recorded || !a.Inventoried || a.Device.Version != cur.Version+1 || a.Looked || held != command("c2").RequestType {
		t.Errorf("RecordOutcomeInventory(c2, held) = %+v (hold asked about %q); want recorded with its update, next not looked for", a, held)
	}
	cur = a.Device

	// A replay stores no update, nor does an answer to another type.
	a, err = s.RecordOutcomeInventory(ctx, o.ID, d.ID, ack("c1", 6), opt, never, inv(cur.Version, "SERIAL-REPLAY", 6))
	noErr(t, "replayed RecordOutcomeInventory", err)
	if a.Recorded || a.Inventoried || !a.Looked || !a.Found || a.Next.UUID != "c3" {
		t.Errorf("replayed RecordOutcomeInventory = %+v; want not recorded, no update, c3 next", a)
	}
	a, err = s.RecordOutcomeInventory(ctx, o.ID, d.ID, ack("c4", 7), opt, never, inv(cur.Version, "SERIAL-OTHER", 7))
	noErr(t, "RecordOutcomeInventory(c4 InstallProfile)", err)
	if !a.Recorded || a.Inventoried || a.Command.RequestType != install.RequestType {
		t.Errorf("RecordOutcomeInventory(c4 InstallProfile) = %+v; want recorded without the update", a)
	}
	got, err := s.Device(ctx, o.ID, d.ID)
	noErr(t, "Device", err)
	same(t, "device after a replay and another type", got, cur)
	vals, err = s.DeviceValues(ctx, o.ID, d.ID)
	noErr(t, "DeviceValues", err)
	if len(vals) != 1 || vals[0].Value != "SERIAL-2" {
		t.Errorf("values after a replay and another type = %+v; want SERIAL-2", vals)
	}

	// A deprovisioned device: neither the answer nor the update.
	_, err = s.UpdateDeviceState(ctx, o.ID, d.ID, inventory.StateDeprovisioned, deviceEntry(o.ID, "device.state.deprovisioned", at(8)))
	noErr(t, "UpdateDeviceState", err)
	cur, err = s.Device(ctx, o.ID, d.ID)
	noErr(t, "Device", err)
	before = take()
	_, err = s.RecordOutcomeInventory(ctx, o.ID, d.ID, ack("c3", 9), opt, never, inv(cur.Version, "SERIAL-LATE", 9))
	wantErr(t, "RecordOutcomeInventory on a deprovisioned device", err, storage.ErrConflict)
	same(t, "after an answer of a deprovisioned device", take(), before)

	p, err := s.Events(ctx, o.ID, events.Query{Limit: 100})
	noErr(t, "Events", err)
	kinds := map[events.Kind]int{}
	for _, e := range p.Events {
		kinds[e.Kind]++
	}
	if kinds[events.InventoryChanged] != 2 || kinds[events.CommandAcknowledged] != 3 {
		t.Errorf("events: %d inventory changes, %d acknowledgements; want 2 and 3 (c1 and c2 with their updates, c4)",
			kinds[events.InventoryChanged], kinds[events.CommandAcknowledged])
	}
}
