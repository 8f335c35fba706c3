package checkin_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/apns"
	"github.com/openomm/omm/enroll/apns/apnstest"
	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/storage"
)

// TestOutboxPushesWhatADeadServerLeft: a command committed by a server
// that died before its push is pushed by the next drain, of any server,
// once; and a wake afterwards finds nothing left to push.
func TestOutboxPushesWhatADeadServerLeft(t *testing.T) {
	fake := apnstest.NewServer()
	defer fake.Close()
	e := newEnv(t)
	d := e.newDevice(e.orgA, "UDID-O", "alice").enroll().record()
	// The server that enrolled the device had no waker: its commands'
	// pushes are waiting in the outbox, as after a crash.
	if err := e.store.EnqueueCommand(t.Context(), e.orgA, []string{d.ID}, enroll.Command{UUID: "cmd-1", RequestType: "DeviceLock",
		Body: []byte("<plist/>")}, entry(e.orgA, "device.lock")); err != nil {
		t.Fatal(err)
	}
	other := testOutbox(t, e, fake)
	n, err := other.Drain(t.Context(), e.orgA)
	if err != nil || n != 1 {
		t.Fatalf("Drain = %d, %v; want 1 device", n, err)
	}
	pushes := fake.Pushes()
	if len(pushes) != 1 || pushes[0].Token != hex.EncodeToString([]byte("token-UDID-O")) {
		t.Fatalf("pushes %+v, want one to the device", pushes)
	}
	if n, err := other.Drain(t.Context(), e.orgA); err != nil || n != 0 {
		t.Errorf("second Drain = %d, %v; want nothing left", n, err)
	}
	if n, err := other.Drain(t.Context(), e.orgB); err != nil || n != 0 {
		t.Errorf("Drain of the other org = %d, %v", n, err)
	}
}

// TestOutboxClaimRunsOut: a pusher that claimed devices and died leaves
// them to another once its claim runs out, not before.
func TestOutboxClaimRunsOut(t *testing.T) {
	fake := apnstest.NewServer()
	defer fake.Close()
	e := newEnv(t)
	d := e.newDevice(e.orgA, "UDID-C", "alice").enroll().record()
	if err := e.store.QueuePushes(t.Context(), e.orgA, []string{d.ID}, e.clock()); err != nil {
		t.Fatal(err)
	}
	// The dead pusher's claim.
	if got, err := e.store.ClaimPushes(t.Context(), e.orgA, nil, "dead", e.clock(), e.clock().Add(time.Minute), 10); err != nil || len(got) != 1 {
		t.Fatalf("claim = %v, %v", got, err)
	}
	o := testOutbox(t, e, fake)
	if n, _ := o.Drain(t.Context(), e.orgA); n != 0 {
		t.Errorf("drained %d devices under another's running claim", n)
	}
	e.advance(time.Minute)
	if n, err := o.Drain(t.Context(), e.orgA); n != 1 || err != nil {
		t.Errorf("Drain after the claim ran out = %d, %v", n, err)
	}
	if len(fake.Pushes()) != 1 {
		t.Errorf("%d pushes, want 1", len(fake.Pushes()))
	}
}

// TestOutboxSharesAFanOut: a fan-out woken on one server while another
// drains is pushed once per device, by one or the other.
func TestOutboxSharesAFanOut(t *testing.T) {
	fakeA, fakeB := apnstest.NewServer(), apnstest.NewServer()
	defer fakeA.Close()
	defer fakeB.Close()
	e := newEnv(t)
	var ids []string
	for i := range 60 {
		ids = append(ids, e.newDevice(e.orgA, fmt.Sprintf("UDID-F%02d", i), "alice").enroll().record().ID)
	}
	if err := e.store.EnqueueCommand(t.Context(), e.orgA, ids, enroll.Command{UUID: "fan-out", RequestType: "DeviceInformation",
		Body: []byte("<plist/>")}, entry(e.orgA, "device.info")); err != nil {
		t.Fatal(err)
	}
	replica := func(fake *apnstest.Server) *checkin.Outbox {
		return checkin.NewOutbox(e.store, checkin.NewPusher(e.store, apnsClient(t, fake), checkin.WithPushLogger(quiet),
			checkin.WithPushClock(e.clock, noSleep)), checkin.WithOutboxBatch(7), checkin.WithOutboxClock(e.clock), checkin.WithOutboxLogger(quiet))
	}
	a, b := replica(fakeA), replica(fakeB)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := a.WakeQueued(t.Context(), e.orgA, ids); err != nil {
			t.Error(err)
		}
	})
	wg.Go(func() {
		if _, err := b.Drain(t.Context(), e.orgA); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()
	var tokens []string
	for _, p := range append(fakeA.Pushes(), fakeB.Pushes()...) {
		tokens = append(tokens, p.Token)
	}
	slices.Sort(tokens)
	var want []string
	for i := range 60 {
		want = append(want, hex.EncodeToString(fmt.Appendf(nil, "token-UDID-F%02d", i)))
	}
	slices.Sort(want)
	if !slices.Equal(tokens, want) {
		t.Errorf("pushed tokens (%d) are not each device once (%d)", len(tokens), len(want))
	}
	t.Logf("replica A pushed %d, replica B %d", len(fakeA.Pushes()), len(fakeB.Pushes()))
}

// TestOutboxWakeQueuedAfterAnotherReplicaPushed: a command's wake on one
// replica after another replica has already pushed the device for it
// pushes nothing more (Wake would record the device anew and push it a
// second time); a command queued after that is pushed.
func TestOutboxWakeQueuedAfterAnotherReplicaPushed(t *testing.T) {
	fakeA, fakeB := apnstest.NewServer(), apnstest.NewServer()
	defer fakeA.Close()
	defer fakeB.Close()
	e := newEnv(t)
	d := e.newDevice(e.orgA, "UDID-Q", "alice").enroll().record()
	replica := func(fake *apnstest.Server) *checkin.Outbox {
		return testOutbox(t, e, fake)
	}
	a, b := replica(fakeA), replica(fakeB)
	enqueue := func(uuid string) {
		t.Helper()
		if err := e.store.EnqueueCommand(t.Context(), e.orgA, []string{d.ID}, enroll.Command{UUID: uuid, RequestType: "DeviceInformation",
			Body: []byte("<plist/>")}, entry(e.orgA, "device.info")); err != nil {
			t.Fatal(err)
		}
	}
	enqueue("cmd-1")
	if n, err := b.Drain(t.Context(), e.orgA); err != nil || n != 1 {
		t.Fatalf("replica B's drain = %d, %v", n, err)
	}
	if err := a.WakeQueued(t.Context(), e.orgA, []string{d.ID}); err != nil {
		t.Fatal(err)
	}
	if n := len(fakeA.Pushes()); n != 0 {
		t.Errorf("replica A pushed the device B had pushed for the same command (%d pushes)", n)
	}
	enqueue("cmd-2")
	if err := a.WakeQueued(t.Context(), e.orgA, []string{d.ID}); err != nil {
		t.Fatal(err)
	}
	if n := len(fakeA.Pushes()); n != 1 {
		t.Errorf("replica A pushed %d times for a new command, want 1", n)
	}
	// A wake not made by queueing a command records the device itself
	// (after the pusher's coalescing window).
	e.advance(10 * time.Second)
	if err := a.Wake(t.Context(), e.orgA, []string{d.ID}); err != nil {
		t.Fatal(err)
	}
	if n := len(fakeA.Pushes()); n != 2 {
		t.Errorf("Wake pushed %d times in all, want 2", n)
	}
}

// TestOutboxCoalescedWakeIsPushedWhenTheWindowEnds: a command queued
// moments after the device was pushed for another — which it may have
// fetched already — is not pushed at once (coalesced), nor lost: the
// device stays in the outbox and the first drain after the window pushes
// it, once.
func TestOutboxCoalescedWakeIsPushedWhenTheWindowEnds(t *testing.T) {
	fake := apnstest.NewServer()
	defer fake.Close()
	e := newEnv(t)
	d := e.newDevice(e.orgA, "UDID-W", "alice").enroll().record()
	o := testOutbox(t, e, fake, checkin.WithCoalesce(5*time.Second))
	queue := func(uuid string) {
		t.Helper()
		if err := e.store.EnqueueCommand(t.Context(), e.orgA, []string{d.ID}, enroll.Command{UUID: uuid, RequestType: "DeviceLock",
			Body: []byte("<plist/>")}, entry(e.orgA, "device.lock")); err != nil {
			t.Fatal(err)
		}
		if err := o.WakeQueued(t.Context(), e.orgA, []string{d.ID}); err != nil {
			t.Fatal(err)
		}
	}
	queue("cmd-1")
	e.advance(time.Second) // the device checks in and fetches cmd-1
	queue("cmd-2")
	if n := len(fake.Pushes()); n != 1 {
		t.Fatalf("%d pushes after the second command, want 1 (coalesced)", n)
	}
	if n, err := o.Drain(t.Context(), e.orgA); err != nil || n != 0 {
		t.Errorf("drain inside the window = %d, %v; want nothing claimable", n, err)
	}
	e.advance(4 * time.Second)
	if n, err := o.Drain(t.Context(), e.orgA); err != nil || n != 1 {
		t.Errorf("drain after the window = %d, %v; want the coalesced device", n, err)
	}
	if n := len(fake.Pushes()); n != 2 {
		t.Errorf("%d pushes in all, want 2", n)
	}
	if n, err := o.Drain(t.Context(), e.orgA); err != nil || n != 0 {
		t.Errorf("a further drain = %d, %v; want nothing left", n, err)
	}
}

// plainWaker records its wakes.
type plainWaker struct{ woken []string }

func (w *plainWaker) Wake(_ context.Context, _ storage.OrgID, devices []string) error {
	w.woken = append(w.woken, devices...)
	return nil
}

// TestWakeQueuedFallsBackToWake: a waker without WakeQueued is woken with
// Wake.
func TestWakeQueuedFallsBackToWake(t *testing.T) {
	w := &plainWaker{}
	if err := checkin.WakeQueued(t.Context(), w, "org", []string{"d1", "d2"}); err != nil || !slices.Equal(w.woken, []string{"d1", "d2"}) {
		t.Errorf("woken %v, %v", w.woken, err)
	}
}

func entry(org storage.OrgID, action string) storage.AuditEntry {
	return storage.AuditEntry{Org: org, Time: now, Actor: "admin:it", Action: action}
}

// TestOutboxDrainDoesNotCoalesceAWake: a device the drain pushed (for a
// command queued earlier) is pushed again by the Wake of a command queued
// right after: the drain's push may have reached it before that command.
func TestOutboxDrainDoesNotCoalesceAWake(t *testing.T) {
	fake := apnstest.NewServer()
	defer fake.Close()
	e := newEnv(t)
	d := e.newDevice(e.orgA, "UDID-W", "alice").enroll().record()
	o := testOutbox(t, e, fake)
	if n, err := o.Drain(t.Context(), e.orgA); n != 1 || err != nil {
		t.Fatalf("Drain = %d, %v", n, err)
	}
	if err := e.store.EnqueueCommand(t.Context(), e.orgA, []string{d.ID}, enroll.Command{UUID: "lock", RequestType: "DeviceLock",
		Body: []byte("<plist/>")}, entry(e.orgA, "device.lock")); err != nil {
		t.Fatal(err)
	}
	if err := o.Wake(t.Context(), e.orgA, []string{d.ID}); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.Pushes()); n != 2 {
		t.Errorf("%d pushes, want 2 (the drain's, then the wake's)", n)
	}
}

// renewals reports the times of the outbox's claim renewals.
type renewals struct {
	enroll.PushOutbox
	at chan time.Time
}

func (r renewals) RenewPushes(ctx context.Context, org storage.OrgID, claim string, devices []string, now, until time.Time) (int, error) {
	n, err := r.PushOutbox.RenewPushes(ctx, org, claim, devices, now, until)
	select {
	case r.at <- now:
	default:
	}
	return n, err
}

// TestOutboxRenewsItsClaimWhilePushing: a pusher whose batch takes longer
// than its claim keeps its devices: another replica draining meanwhile
// finds nothing to push, and each device is pushed once.
func TestOutboxRenewsItsClaimWhilePushing(t *testing.T) {
	fake := apnstest.NewServer()
	defer fake.Close()
	e := newEnv(t)
	d := e.newDevice(e.orgA, "UDID-R", "alice").enroll().record()
	if err := e.store.QueuePushes(t.Context(), e.orgA, []string{d.ID}, e.clock()); err != nil {
		t.Fatal(err)
	}
	store := renewals{PushOutbox: e.store, at: make(chan time.Time, 1)}
	const claim = 30 * time.Millisecond
	o := checkin.NewOutbox(store, checkin.NewPusher(e.store, apnsClient(t, fake), checkin.WithPushLogger(quiet),
		checkin.WithPushClock(e.clock, noSleep)), checkin.WithOutboxClaim(claim), checkin.WithOutboxClock(e.clock),
		checkin.WithOutboxLogger(quiet))
	fake.Hold()
	drained := make(chan error, 1)
	go func() {
		n, err := o.Drain(t.Context(), e.orgA)
		if err == nil && n != 1 {
			err = fmt.Errorf("drained %d devices, want 1", n)
		}
		drained <- err
	}()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		if now, _ := fake.InFlight(); now > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the push never reached APNs")
		}
	}
	// The claim's first end passes while the push is held; the pusher
	// renews it.
	e.advance(time.Hour)
	late := e.clock()
	for renewed := false; !renewed; {
		select {
		case at := <-store.at:
			renewed = !at.Before(late)
		case <-time.After(time.Minute):
			t.Fatal("the claim was not renewed while its push was held")
		}
	}
	if got, err := e.store.ClaimPushes(t.Context(), e.orgA, nil, "other", e.clock(), e.clock().Add(time.Minute), 10); err != nil || len(got) != 0 {
		t.Errorf("another replica claimed %v (%v) while the device was being pushed", got, err)
	}
	fake.Release()
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	if n := len(fake.Pushes()); n != 1 {
		t.Errorf("%d pushes, want 1", n)
	}
	e.advance(time.Hour)
	if got, err := e.store.ClaimPushes(t.Context(), e.orgA, nil, "after", e.clock(), e.clock().Add(time.Minute), 10); err != nil || len(got) != 0 {
		t.Errorf("left in the outbox after the push: %v, %v", got, err)
	}
}

// panicky is an APNs client that panics.
type panicky struct{}

func (panicky) PushAll(context.Context, []apns.Target) []apns.Result { panic("APNs client bug") }

// TestOutboxPanicStopsRenewal: a push that panics (recovered by the HTTP
// server that called Wake) leaves no renewal behind: its claim runs out
// and another replica pushes the devices.
func TestOutboxPanicStopsRenewal(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(e.orgA, "UDID-P", "alice").enroll().record()
	o := checkin.NewOutbox(e.store, checkin.NewPusher(e.store, panicky{}, checkin.WithPushLogger(quiet),
		checkin.WithPushClock(e.clock, noSleep)), checkin.WithOutboxClaim(3*time.Millisecond), checkin.WithOutboxClock(e.clock),
		checkin.WithOutboxLogger(quiet))
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the push did not panic")
			}
		}()
		o.Wake(t.Context(), e.orgA, []string{d.ID}) //nolint:errcheck // it panics
	}()
	// A renewal left running would keep taking the claim a claim time
	// past the clock: give one every chance to run.
	for range 5 {
		e.advance(time.Hour)
		time.Sleep(5 * time.Millisecond)
		if got, err := e.store.ClaimPushes(t.Context(), e.orgA, nil, fmt.Sprint("other-", e.clock().Unix()), e.clock(),
			e.clock().Add(time.Millisecond), 10); err != nil || len(got) != 1 {
			t.Fatalf("another replica's claim after the panicked push's claim ran out: %v, %v", got, err)
		}
	}
}

// testOutbox is an outbox over e's store pushing to fake, on e's clock,
// with the pusher's options opts.
func testOutbox(t *testing.T, e *env, fake *apnstest.Server, opts ...checkin.PushOption) *checkin.Outbox {
	opts = append([]checkin.PushOption{checkin.WithPushLogger(quiet), checkin.WithPushClock(e.clock, noSleep)}, opts...)
	return checkin.NewOutbox(e.store, checkin.NewPusher(e.store, apnsClient(t, fake), opts...), checkin.WithOutboxClock(e.clock), checkin.WithOutboxLogger(quiet))
}
