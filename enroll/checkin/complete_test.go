package checkin_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// actionRecorder records every device action and fails the next fail of
// them before they reach the store.
type actionRecorder struct {
	checkin.Store
	mu      sync.Mutex
	fail    int
	actions []enroll.DeviceAction
	// before, when set, runs once before the next action reaches the
	// store: another request's write landing first.
	before func(context.Context, enroll.DeviceAction)
}

func (r *actionRecorder) QueueDeviceAction(ctx context.Context, a enroll.DeviceAction) (inventory.Device, error) {
	r.mu.Lock()
	r.actions = append(r.actions, a)
	fail := r.fail > 0
	r.fail--
	before := r.before
	r.before = nil
	r.mu.Unlock()
	if fail {
		return inventory.Device{}, errors.New("injected failure")
	}
	if before != nil {
		before(ctx, a)
	}
	return r.Store.QueueDeviceAction(ctx, a)
}

// TestEnrollmentCompletesInOneAction: the first TokenUpdate moves the
// device to enrolled and queues the policy profile and the first inventory
// in one device action (one transaction), so a failure leaves nothing
// half-done, and a retried TokenUpdate completes the enrollment.
func TestEnrollmentCompletesInOneAction(t *testing.T) {
	rec := &actionRecorder{fail: 1}
	src := profileSource{}
	e := newEnvWrapped(t, func(s checkin.Store) checkin.Store { rec.Store = s; return rec }, checkin.WithProfiles(src))
	d := e.newDevice(e.orgA, "UDID-ONE", "alice")
	src[d.session] = []byte("signed policy profile")
	if st := d.authenticate(); st != http.StatusOK {
		t.Fatalf("Authenticate: %d", st)
	}

	// The action fails: nothing of the enrollment's completion is stored.
	if st := d.tokenUpdate("token-1"); st != http.StatusInternalServerError {
		t.Fatalf("TokenUpdate with a failing store: %d, want 500", st)
	}
	if got := d.record().State; got != inventory.StatePending {
		t.Fatalf("after a failed completion the device is %s, want pending", got)
	}
	if st, c := d.connect("Idle", "", nil); st != http.StatusOK || c != nil {
		t.Fatalf("after a failed completion: %d %v, want an empty queue", st, c)
	}
	for _, ev := range e.events {
		if ev.Kind == checkin.Enrolled {
			t.Fatalf("Enrolled emitted although the completion failed")
		}
	}

	// The device retries: the enrollment completes, in one action.
	if st := d.tokenUpdate("token-1"); st != http.StatusOK {
		t.Fatalf("retried TokenUpdate: %d", st)
	}
	if got := d.record().State; got != inventory.StateEnrolled {
		t.Fatalf("after the retry the device is %s, want enrolled", got)
	}
	if len(rec.actions) != 2 {
		t.Fatalf("%d device actions, want 2 (the failed one and the retry)", len(rec.actions))
	}
	a := rec.actions[1]
	if a.To != inventory.StateEnrolled || len(a.From) != 1 || a.From[0] != inventory.StatePending {
		t.Errorf("state change %v → %s, want pending → enrolled", a.From, a.To)
	}
	if a.StateEntry.Actor != "device:UDID-ONE" || a.StateEntry.Details["reason"] != "first token update" {
		t.Errorf("state audit %+v", a.StateEntry)
	}
	want := []string{"InstallProfile", "DeviceInformation", "SecurityInfo", "ManagedApplicationList", "InstalledApplicationList", "ProfileList"}
	var got []string
	for _, c := range a.Commands {
		got = append(got, c.Command.RequestType)
	}
	if !equalSets(got, want) || got[0] != "InstallProfile" {
		t.Errorf("commands %v, want the policy profile first, then %v", got, want[1:])
	}
	drained := drain(t, d)
	if len(drained) != len(want) {
		t.Errorf("device fetched %v, want %d commands", drained, len(want))
	}

	// A later TokenUpdate (a new token) queues nothing more.
	if st := d.tokenUpdate("token-2"); st != http.StatusOK {
		t.Fatalf("later TokenUpdate: %d", st)
	}
	if len(rec.actions) != 2 {
		t.Errorf("a later TokenUpdate queued another device action")
	}
}

func equalSets(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

// TestConcurrentCompletion: when two TokenUpdates of a pending device race,
// the one whose completion is refused because the other completed first
// answers success, and the enrollment's commands are queued once.
func TestConcurrentCompletion(t *testing.T) {
	rec := &actionRecorder{fail: 1}
	e := newEnvWrapped(t, func(s checkin.Store) checkin.Store { rec.Store = s; return rec })
	d := e.newDevice(e.orgA, "UDID-RACE", "alice")
	if st := d.authenticate(); st != http.StatusOK {
		t.Fatalf("Authenticate: %d", st)
	}
	if st := d.tokenUpdate("token-1"); st != http.StatusInternalServerError {
		t.Fatalf("TokenUpdate with a failing store: %d, want 500", st)
	}
	// The retry reads the device pending; another request's completion
	// lands just before its own.
	rec.before = func(ctx context.Context, a enroll.DeviceAction) {
		if _, err := rec.Store.QueueDeviceAction(ctx, a); err != nil {
			t.Errorf("the other request's completion: %v", err)
		}
	}
	if st := d.tokenUpdate("token-1"); st != http.StatusOK {
		t.Fatalf("TokenUpdate that lost the race: %d, want 200", st)
	}
	if got := d.record().State; got != inventory.StateEnrolled {
		t.Fatalf("device is %s, want enrolled", got)
	}
	if got := drain(t, d); len(got) != 5 {
		t.Errorf("device fetched %v, want the 5 inventory commands once", got)
	}
}

// TestCompletionHook: what the WithCompletion hook adds (the device's
// policy record) goes into the action that completes the enrollment —
// stored with it, not at all when it fails — and the hook runs only for
// the completion, not for later TokenUpdates.
func TestCompletionHook(t *testing.T) {
	rec := &actionRecorder{fail: 1}
	var calls []enroll.Identity
	hook := checkin.WithCompletion(func(_ context.Context, d inventory.Device, id enroll.Identity, a *enroll.DeviceAction) {
		if d.State != inventory.StatePending {
			t.Errorf("hook called for a %s device", d.State)
		}
		calls = append(calls, id)
		a.Policy = &policy.Applied{Org: d.Org, Device: d.ID, Policy: "pol-enrolled", Fingerprint: "fp"}
		a.PolicyEntry = storage.AuditEntry{Org: d.Org, Time: now, Actor: "system:test", Action: "device.policy.recorded", Target: "device:" + d.ID}
	})
	e := newEnvWrapped(t, func(s checkin.Store) checkin.Store { rec.Store = s; return rec }, hook)
	d := e.newDevice(e.orgA, "UDID-HOOK", "alice")
	if st := d.authenticate(); st != http.StatusOK {
		t.Fatalf("Authenticate: %d", st)
	}
	if st := d.tokenUpdate("token-1"); st != http.StatusInternalServerError {
		t.Fatalf("TokenUpdate with a failing store: %d, want 500", st)
	}
	id := d.record().ID
	policies := e.store.(interface {
		AppliedPolicy(context.Context, storage.OrgID, string) (policy.Applied, error)
	})
	if _, err := policies.AppliedPolicy(t.Context(), e.orgA, id); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("policy record after a failed completion: %v, want not found", err)
	}
	if st := d.tokenUpdate("token-1"); st != http.StatusOK {
		t.Fatalf("retried TokenUpdate: %d", st)
	}
	if len(calls) != 2 || calls[1].Serial == "" {
		t.Fatalf("hook calls %+v, want one per completion attempt with the device's identity", calls)
	}
	if a := rec.actions[1]; a.Policy == nil || a.To != inventory.StateEnrolled || a.Token == nil {
		t.Errorf("completing action %+v: want the hook's record with the state change and the token", a)
	}
	got, err := policies.AppliedPolicy(t.Context(), e.orgA, id)
	if err != nil || got.Policy != "pol-enrolled" || got.Version != 1 {
		t.Fatalf("policy record after the completion: %+v, %v", got, err)
	}
	if st := d.tokenUpdate("token-2"); st != http.StatusOK {
		t.Fatalf("later TokenUpdate: %d", st)
	}
	if len(calls) != 2 {
		t.Errorf("hook called for a later TokenUpdate")
	}
}
