package omm_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openomm/omm"
	"github.com/openomm/omm/android"
	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/auth/authtest"
	"github.com/openomm/omm/events"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// What a device over-shares: none of it may leave the SDK in an event.
const (
	overIMEI    = "35 209900 176148 1"
	overWiFi    = "a4:83:e7:12:34:56"
	overBT      = "a4:83:e7:65:43:21"
	overPhone   = "+1 555 0100"
	overICCID   = "8914800000123456789"
	personalApp = "org.example.diary"
)

// overShare answers the inventory queries with everything a phone
// knows, forbidden identifiers included.
func overShare(requestType string) map[string]any {
	switch requestType {
	case "DeviceInformation":
		return map[string]any{"QueryResponses": map[string]any{"DeviceName": "Alice's iPhone", "OSVersion": "17.4",
			"IMEI": overIMEI, "WiFiMAC": overWiFi, "BluetoothMAC": overBT, "PhoneNumber": overPhone, "ICCID": overICCID,
			"ModelName": "iPhone"}}
	case "InstalledApplicationList":
		return map[string]any{"InstalledApplicationList": []any{map[string]any{"Identifier": personalApp, "Name": "Diary", "Version": "3"}}}
	}
	return nil
}

// allEvents reads org's whole stream.
func allEvents(t *testing.T, w *lcWorld) []events.Event {
	t.Helper()
	var out []events.Event
	q := events.Query{Limit: events.MaxPage}
	for {
		p, err := w.sdk.Events(context.Background(), w.org, q)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.Events...)
		if p.Next == 0 {
			return out
		}
		q.After = p.Next
	}
}

// TestEventStream walks a user's devices through enrollment, commands,
// inventory, a policy change and the user's departure, on both platforms,
// and reads the org's event stream: every kind the walk causes is there,
// in one ordered stream with no gap, each event about the right device
// and user — and no event carries anything the privacy contract forbids,
// although the iPhone over-shares.
func TestEventStream(t *testing.T) {
	ctx := context.Background()
	dir := &authtest.Directory{}
	w := newWorld(t, lcMemory(), dir, nil, "")
	iphone := w.enrolledIPhone("alice", "00008110-00000000000E0E01", 0)
	iphone.drainAnswering(overShare)
	knox := w.enrolledAndroid("alice", policy.ModeKnox, 1)
	w.enrolledAndroid("alice", policy.ModeWorkProfile, 2)
	unused := w.identity("alice", "00008110-00000000000E0E02", 1)

	// A lock, carried out; an inventory refresh answered with an error.
	dev, err := w.sdk.OrgDevice(ctx, w.org, iphone.id)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.sdk.Act(ctx, dev, omm.ActionLock, "admin:root"); err != nil {
		t.Fatal(err)
	}
	iphone.drain()
	if err := w.sdk.Act(ctx, dev, omm.ActionRefresh, "admin:root"); err != nil {
		t.Fatal(err)
	}
	first := true
	iphone.drainAnswering(func(rt string) map[string]any {
		if first {
			first = false
			return map[string]any{"Status": "Error", "ErrorChain": []any{map[string]any{"ErrorCode": 12021, "ErrorDomain": "MCMDMErrorDomain",
				"LocalizedDescription": "busy", "USEnglishDescription": "busy"}}}
		}
		return overShare(rt)
	})
	ad, err := w.store.AndroidDevice(ctx, w.org, knox.id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.sdk.Android.Lock(ctx, "admin:root", w.org, knox.id); err != nil {
		t.Fatal(err)
	}
	cmds, _ := w.sdk.Android.Commands(ctx, ad)
	if _, err := w.sdk.Android.Acknowledge(ctx, ad, cmds[0].ID, android.StatusDone, ""); err != nil {
		t.Fatal(err)
	}

	// The policy asks for an OS the iPhone does not have: out of policy.
	pols, err := w.sdk.Policy.List(ctx, w.org)
	i := slices.IndexFunc(pols, func(p policy.Policy) bool { return p.Name == "Staff phones" })
	if err != nil || i < 0 {
		t.Fatalf("policies %+v, %v", pols, err)
	}
	p := pols[i]
	rule := p.Rules[policy.IOS]
	rule.Requirements.Passcode.MinLength = 8 // a new settings profile
	p.Rules[policy.IOS] = rule
	if p, err = w.sdk.UpdatePolicy(ctx, "admin:root", p); err != nil {
		t.Fatal(err)
	}
	iphone.drain()
	rule.Requirements.MinOSVersion = "99.0" // and now out of policy
	p.Rules[policy.IOS] = rule
	if _, err := w.sdk.UpdatePolicy(ctx, "admin:root", p); err != nil {
		t.Fatal(err)
	}

	// Alice leaves: her devices are deprovisioned, her credential refused.
	if err := dir.SetStatus(w.org, "alice", auth.StatusDeactivated); err != nil {
		t.Fatal(err)
	}
	if err := w.sdk.UserChanged(ctx, w.org, "alice", "admin:root"); err != nil {
		t.Fatal(err)
	}
	unused.authenticate()
	iphone.drain()
	iphone.checkOut()
	cmds, _ = w.sdk.Android.Commands(ctx, ad)
	if _, err := w.sdk.Android.Acknowledge(ctx, ad, cmds[0].ID, android.StatusDone, ""); err != nil {
		t.Fatal(err)
	}

	evs := allEvents(t, w)
	var kinds []events.Kind
	for i, e := range evs {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d: the stream has a gap or is out of order", i, e.Seq)
		}
		if err := e.Validate(); err != nil {
			t.Errorf("event %d: %v", e.Seq, err)
		}
		if e.Device != "" && e.User != "alice" {
			t.Errorf("event %d (%s) about device %s names user %q", e.Seq, e.Kind, e.Device, e.User)
		}
		if !slices.Contains(kinds, e.Kind) {
			kinds = append(kinds, e.Kind)
		}
		raw, _ := json.Marshal(e)
		for _, secret := range []string{overIMEI, overWiFi, overBT, overPhone, overICCID, "35209900176148"} {
			if strings.Contains(strings.ReplaceAll(string(raw), " ", ""), strings.ReplaceAll(secret, " ", "")) {
				t.Errorf("event %d (%s) carries %q, which the privacy contract forbids: %s", e.Seq, e.Kind, secret, raw)
			}
		}
	}
	for _, want := range []events.Kind{events.EnrollmentStarted, events.EnrollmentCompleted, events.EnrollmentFailed,
		events.CommandQueued, events.CommandAcknowledged, events.CommandError, events.InventoryChanged,
		events.LockRequested, events.LockAcknowledged, events.ComplianceChanged, events.PolicyApplied,
		events.DeprovisionRequested, events.DeprovisionCompleted, events.CheckedOut, events.CredentialsRevoked} {
		if !slices.Contains(kinds, want) {
			t.Errorf("no %s event; the stream has %v", want, kinds)
		}
	}
	// Per device, the order things happened in.
	var iphoneKinds []events.Kind
	for _, e := range evs {
		if e.Device == iphone.id {
			iphoneKinds = append(iphoneKinds, e.Kind)
		}
	}
	order := []events.Kind{events.EnrollmentCompleted, events.LockRequested, events.LockAcknowledged, events.PolicyApplied,
		events.ComplianceChanged, events.DeprovisionRequested, events.CheckedOut, events.DeprovisionCompleted}
	at := 0
	for _, k := range iphoneKinds {
		if at < len(order) && k == order[at] {
			at++
		}
	}
	if at != len(order) {
		t.Errorf("the iPhone's events %v are not in the order %v", iphoneKinds, order)
	}

	// A page of one device's events, newest first, as a console shows it.
	page, err := w.sdk.Events(ctx, w.org, events.Query{Device: iphone.id, Newest: true, Limit: 3})
	if err != nil || len(page.Events) != 3 || page.Events[0].Kind != events.DeprovisionCompleted || page.Events[1].Kind != events.CheckedOut {
		t.Errorf("newest of the iPhone: %+v, %v", page.Events, err)
	}
}

// TestEventRetention: the reconcile purges events older than the
// retention and keeps the rest, and their cursor numbering goes on.
func TestEventRetention(t *testing.T) {
	ctx := context.Background()
	store := lcMemory()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	sdk, err := omm.New(ctx, omm.Config{Store: store, Directory: &authtest.Directory{}, PublicURL: "https://mdm.example.com",
		Logger: lcQuiet, Clock: clock, EventRetention: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	org := storage.NewOrgID()
	if _, err := store.CreateOrg(ctx, storage.Org{ID: org, Name: "acme", DisplayName: "Acme"},
		storage.AuditEntry{Org: org, Time: now, Actor: "admin:root", Action: "org.create"}); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{now.Add(-72 * time.Hour), now.Add(-48 * time.Hour), now.Add(-time.Hour)} {
		if _, err := store.AppendEvent(ctx, events.Event{ID: events.NewID(), Org: org, Kind: events.SecurityDenied, Time: at}); err != nil {
			t.Fatal(err)
		}
	}
	sdk.ReconcileAll(ctx)
	page, err := sdk.Events(ctx, org, events.Query{})
	if err != nil || len(page.Events) != 1 || page.Events[0].Seq != 3 {
		t.Fatalf("after the purge: %+v, %v; want only the newest, seq 3", page.Events, err)
	}
}
