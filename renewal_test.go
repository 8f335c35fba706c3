package omm_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/micromdm/plist"

	"github.com/openomm/omm"
	"github.com/openomm/omm/auth/authtest"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/ota"
	"github.com/openomm/omm/enroll/scep/sceptest"
	"github.com/openomm/omm/events"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/profile"
	"github.com/openomm/omm/storage"
)

// testClock is an injectable clock a test moves forward.
type testClock struct{ at atomic.Int64 }

func newTestClock(t time.Time) *testClock {
	c := &testClock{}
	c.at.Store(t.UnixMicro())
	return c
}

func (c *testClock) Now() time.Time          { return time.UnixMicro(c.at.Load()).UTC() }
func (c *testClock) Set(t time.Time)         { c.at.Store(t.UnixMicro()) }
func (c *testClock) Advance(d time.Duration) { c.at.Add(d.Microseconds()) }
func renewalConfig(c *testClock) func(*omm.Config) {
	return func(cfg *omm.Config) { cfg.Clock = c.Now }
}

// renewalWorld is an SDK with an injected clock and one enrolled iPhone
// whose queue is drained.
func renewalWorld(t *testing.T, store omm.Store, clock *testClock) (*lcWorld, *iPhone) {
	t.Helper()
	w := newWorldConfig(t, store, &authtest.Directory{}, nil, "", nil, renewalConfig(clock))
	d := w.enrolledIPhone("alice", "00008110-00AA11BB22CC33", 0)
	d.drain()
	return w, d
}

// command is one MDM command a device received.
type command struct {
	UUID        string
	RequestType string
	Identifier  string
	Payload     []byte
}

// commands answers every command the device is sent (Acknowledged) and
// returns them.
func (d *iPhone) commands() []command {
	d.w.t.Helper()
	var out []command
	msg := map[string]any{"UDID": d.udid, "Status": "Idle"}
	for range 100 {
		st, body := d.put(d.serverURL, msg)
		if st != http.StatusOK {
			d.w.t.Fatalf("server: %d %s", st, body)
		}
		if len(body) == 0 {
			return out
		}
		var cmd struct {
			CommandUUID string
			Command     struct {
				RequestType string
				Identifier  string
				Payload     []byte
			}
		}
		if err := plist.Unmarshal(body, &cmd); err != nil {
			d.w.t.Fatal(err)
		}
		out = append(out, command{cmd.CommandUUID, cmd.Command.RequestType, cmd.Command.Identifier, cmd.Command.Payload})
		msg = map[string]any{"UDID": d.udid, "Status": "Acknowledged", "CommandUUID": cmd.CommandUUID}
	}
	d.w.t.Fatal("the queue never drained")
	return nil
}

// renewalProfiles are the MDM enrollment profiles among cmds, decoded.
func (w *lcWorld) renewalProfiles(cmds []command) []*profile.Profile {
	w.t.Helper()
	var out []*profile.Profile
	for _, c := range cmds {
		if c.RequestType != "InstallProfile" {
			continue
		}
		p, err := profile.Decode(w.verified(c.Payload))
		if err != nil {
			w.t.Fatal(err)
		}
		if p.Identifier == enroll.MDMProfileIdentifier(w.org) {
			out = append(out, p)
		}
	}
	return out
}

// payloads returns the SCEP and MDM payloads of an enrollment profile.
func payloads(t *testing.T, p *profile.Profile) (*profile.SCEP, *profile.MDM) {
	t.Helper()
	var sc *profile.SCEP
	var m *profile.MDM
	for _, pl := range p.Payloads {
		switch pl := pl.(type) {
		case *profile.SCEP:
			sc = pl
		case *profile.MDM:
			m = pl
		}
	}
	if sc == nil || m == nil {
		t.Fatalf("enrollment profile without SCEP or MDM payload: %+v", p.Payloads)
	}
	return sc, m
}

// renew installs a renewal profile on the device: it enrolls a new
// identity (with key) over SCEP and switches to it, as an iPhone does.
func (d *iPhone) renew(p *profile.Profile, key int) {
	d.w.t.Helper()
	sc, m := payloads(d.w.t, p)
	if m.ServerURL != d.serverURL {
		d.w.t.Fatalf("the renewal profile moves the server from %s to %s", d.serverURL, m.ServerURL)
	}
	d.cert = d.w.scep(sc.Challenge, lcKey(key))
	d.key = lcKey(key)
}

// identityOf returns the stored identity of the device's certificate.
func (d *iPhone) identity() enroll.Identity {
	d.w.t.Helper()
	id, err := d.w.store.Identity(context.Background(), d.w.org, enroll.FingerprintOf(d.cert))
	if err != nil {
		d.w.t.Fatal(err)
	}
	return id
}

// TestIdentityRenewal: on every backend, with an injected clock, an
// enrolled iPhone gets nothing until its identity enters the renewal
// window; then exactly one renewal profile is queued however often the
// renewal job runs or the device checks in. The profile is the device's
// MDM enrollment profile again (same identifier, topic, URLs, access
// rights and consent); the device enrolls a new identity with its
// challenge, authenticates with it and keeps its record, inventory,
// policy and queue — nothing of enrollment is repeated. The old identity
// is accepted until its own expiry and refused after; a second renewal a
// year later works the same way.
func TestIdentityRenewal(t *testing.T) {
	for _, b := range lcBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			store, _ := b.open(t)
			clock := newTestClock(time.Now())
			w, d := renewalWorld(t, store, clock)
			first := d.identity()
			before, err := w.store.Device(ctx, w.org, d.id)
			if err != nil {
				t.Fatal(err)
			}
			values, _ := w.store.DeviceValues(ctx, w.org, d.id)
			applied, _ := w.store.AppliedPolicy(ctx, w.org, d.id)

			if r, err := w.sdk.RenewIdentities(ctx, w.org); err != nil || r != (ota.RenewalRound{}) {
				t.Fatalf("a fresh identity: %+v, %v; want nothing to renew", r, err)
			}
			clock.Set(first.NotAfter.Add(-enroll.DefaultRenewalWindow - time.Minute))
			if r, _ := w.sdk.RenewIdentities(ctx, w.org); r.Queued != 0 {
				t.Fatalf("a minute before the window: %+v", r)
			}
			clock.Advance(2 * time.Minute)
			if r, err := w.sdk.RenewIdentities(ctx, w.org); err != nil || r.Queued != 1 {
				t.Fatalf("in the window: %+v, %v; want one renewal queued", r, err)
			}
			for range 3 {
				if r, _ := w.sdk.RenewIdentities(ctx, w.org); r != (ota.RenewalRound{}) {
					t.Fatalf("the job ran again: %+v; want nothing more", r)
				}
			}
			cmds := d.commands()
			profiles := w.renewalProfiles(cmds)
			if len(profiles) != 1 || len(cmds) != 1 {
				t.Fatalf("the device got %+v; want one renewal profile", cmds)
			}
			if again := d.commands(); len(again) != 0 {
				t.Fatalf("checking in again: %+v", again)
			}
			sc, m := payloads(t, profiles[0])
			orig := w.directProfile()
			osc, om := payloads(t, orig)
			if m.Topic != om.Topic || m.ServerURL != om.ServerURL || m.CheckInURL != om.CheckInURL || m.AccessRights != om.AccessRights ||
				m.Identifier != om.Identifier || profiles[0].Identifier != orig.Identifier || sc.URL != osc.URL ||
				profiles[0].ConsentText["default"] != orig.ConsentText["default"] {
				t.Errorf("the renewal profile differs from the enrollment profile:\n%+v\n%+v", m, om)
			}

			// The device installs it and switches to the new identity.
			oldCert := d.cert
			d.renew(profiles[0], 1)
			if st := d.authenticate(); st != http.StatusOK {
				t.Fatalf("Authenticate with the renewed identity: %d", st)
			}
			if st := d.tokenUpdate(); st != http.StatusOK {
				t.Fatalf("TokenUpdate with the renewed identity: %d", st)
			}
			if again := d.commands(); len(again) != 0 {
				t.Errorf("after the renewal the device got %+v; want nothing (enrollment is not repeated)", again)
			}
			second := d.identity()
			if second.Device != d.id || second.Renews != first.Fingerprint || second.Purpose != enroll.PurposeMDM || second.Platform != first.Platform {
				t.Errorf("renewed identity %+v; want bound to %s, renewing %s", second, d.id, first.Fingerprint)
			}
			after, err := w.store.Device(ctx, w.org, d.id)
			if err != nil || after.State != before.State || after.UserID != before.UserID || after.Identifier != before.Identifier {
				t.Errorf("device after the renewal: %+v, %v; before %+v", after, err, before)
			}
			if v, _ := w.store.DeviceValues(ctx, w.org, d.id); len(v) != len(values) {
				t.Errorf("inventory: %d values after, %d before", len(v), len(values))
			}
			if a, _ := w.store.AppliedPolicy(ctx, w.org, d.id); a != applied {
				t.Errorf("applied policy %+v after, %+v before", a, applied)
			}
			if rn, err := w.store.Renewal(ctx, w.org, first.Fingerprint); err != nil || rn.Completed.IsZero() || rn.Successor != second.Fingerprint {
				t.Errorf("renewal record: %+v, %v", rn, err)
			}
			if list, _ := w.sdk.IdentityRenewals(ctx, w.org, 0); len(list) != 0 {
				t.Errorf("unfinished renewals after completion: %+v", list)
			}
			kinds := eventKinds(t, w, d.id)
			if countKind(kinds, events.IdentityRenewalQueued) != 1 || countKind(kinds, events.IdentityRenewed) != 1 ||
				countKind(kinds, events.EnrollmentCompleted) != 1 {
				t.Errorf("events of the device: %v", kinds)
			}

			// The old identity works until its NotAfter, then is refused.
			old := *d
			old.cert, old.key = oldCert, lcKey(0)
			if st, _ := old.put(old.serverURL, map[string]any{"UDID": d.udid, "Status": "Idle"}); st != http.StatusOK {
				t.Errorf("old identity before its expiry: %d", st)
			}
			clock.Set(first.NotAfter.Add(time.Second))
			if st, _ := old.put(old.serverURL, map[string]any{"UDID": d.udid, "Status": "Idle"}); st != http.StatusForbidden {
				t.Errorf("old identity after its expiry: %d; want 403", st)
			}
			if cmds := d.commands(); len(cmds) != 0 {
				t.Errorf("new identity after the old one's expiry: %+v", cmds)
			}
			if r, _ := w.sdk.RenewIdentities(ctx, w.org); r != (ota.RenewalRound{}) {
				t.Errorf("after the renewal: %+v", r)
			}

			// A year later, the second renewal.
			clock.Set(second.NotAfter.Add(-enroll.DefaultRenewalWindow + time.Hour))
			if r, _ := w.sdk.RenewIdentities(ctx, w.org); r.Queued != 1 {
				t.Fatalf("second window: %+v", r)
			}
			profiles = w.renewalProfiles(d.commands())
			if len(profiles) != 1 {
				t.Fatalf("second renewal: %d profiles", len(profiles))
			}
			d.renew(profiles[0], 2)
			if st := d.authenticate(); st != http.StatusOK {
				t.Fatalf("Authenticate after the second renewal: %d", st)
			}
			if third := d.identity(); third.Device != d.id || third.Renews != second.Fingerprint {
				t.Errorf("third identity %+v", third)
			}
		})
	}
}

// directProfile is the MDM enrollment profile a direct enrollment of bob
// gets now: what a renewal profile must equal but for its challenge.
func (w *lcWorld) directProfile() *profile.Profile {
	w.t.Helper()
	enr, err := w.sdk.BeginAppleEnrollment(context.Background(), w.org, "bob", omm.Facts{Platform: "ios", OSVersion: "17.4"}, enroll.KindDirect)
	if err != nil {
		w.t.Fatal(err)
	}
	st, signed := w.get(enr.URL)
	if st != http.StatusOK {
		w.t.Fatalf("direct profile: %d %s", st, signed)
	}
	p, err := profile.Decode(w.verified(signed))
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

func eventKinds(t *testing.T, w *lcWorld, device string) []events.Kind {
	t.Helper()
	page, err := w.sdk.Events(context.Background(), w.org, events.Query{Device: device, Limit: events.MaxPage})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []events.Kind
	for _, e := range page.Events {
		kinds = append(kinds, e.Kind)
	}
	return kinds
}

func countKind(kinds []events.Kind, k events.Kind) int {
	n := 0
	for _, x := range kinds {
		if x == k {
			n++
		}
	}
	return n
}

// TestIdentityRenewalOffline: a device that stays offline through its
// whole renewal window gets one renewal profile in its queue and is woken
// again with back-off (never more often than enroll.RenewalBackoff), is
// listed for the admin, at risk in the last part of the window, lapsed
// after its expiry, and then left alone. The profile still in its queue
// renews it when it comes back before the expiry.
func TestIdentityRenewalOffline(t *testing.T) {
	for _, b := range lcBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			store, _ := b.open(t)
			clock := newTestClock(time.Now())
			w, d := renewalWorld(t, store, clock)
			first := d.identity()
			start := first.NotAfter.Add(-enroll.DefaultRenewalWindow)
			clock.Set(start)
			var queued, woken, atRisk int
			var wakes []time.Time
			listed := false
			// The job runs every 15 minutes through the whole window.
			for at := start; at.Before(first.NotAfter.Add(time.Hour)); at = at.Add(15 * time.Minute) {
				clock.Set(at)
				r, err := w.sdk.RenewIdentities(ctx, w.org)
				if err != nil || r.Failed != 0 {
					t.Fatalf("at %s: %+v, %v", at, r, err)
				}
				queued, woken, atRisk = queued+r.Queued, woken+r.Repushed, atRisk+r.AtRisk
				for range r.Queued + r.Repushed {
					wakes = append(wakes, at)
				}
				if left := first.NotAfter.Sub(at); !listed && left < enroll.DefaultRenewalAtRisk+time.Hour {
					listed = true
					list, err := w.sdk.IdentityRenewals(ctx, w.org, 0)
					if err != nil || len(list) != 1 || list[0].Device != d.id || list[0].AtRisk || list[0].Lapsed {
						t.Fatalf("listed before the at-risk period: %+v, %v", list, err)
					}
				}
			}
			if queued != 1 {
				t.Errorf("%d renewal profiles queued; want 1 (it waits in the queue)", queued)
			}
			// 30 days with back-off 1h, 2h, 4h, … up to a day: about 33
			// attempts, nowhere near one per round (2880).
			if woken < 25 || woken > 40 {
				t.Errorf("woken again %d times over the window", woken)
			}
			for i := 1; i < len(wakes); i++ {
				if gap := wakes[i].Sub(wakes[i-1]); gap < enroll.RenewalBackoff(i) {
					t.Errorf("attempt %d only %s after the one before; want at least %s", i+1, gap, enroll.RenewalBackoff(i))
				}
			}
			if atRisk == 0 || !listed {
				t.Errorf("no attempt was at risk (%d), or the listing was not checked (%t)", atRisk, listed)
			}
			list, err := w.sdk.IdentityRenewals(ctx, w.org, 0)
			if err != nil || len(list) != 1 || !list[0].Lapsed || !list[0].AtRisk || list[0].Attempts != queued+woken {
				t.Errorf("after the expiry: %+v, %v", list, err)
			}
			if kinds := eventKinds(t, w, d.id); countKind(kinds, events.IdentityRenewalAtRisk) == 0 {
				t.Errorf("no at-risk event: %v", kinds)
			}
		})
	}
}

// TestIdentityRenewalComesBack: a device offline for most of its window
// takes the profile that waited in its queue and renews; and a device that
// took its profile but never enrolled the new identity gets a fresh one
// (with a fresh challenge) at the next attempt, the first one's challenge
// refused from then on.
func TestIdentityRenewalComesBack(t *testing.T) {
	for _, b := range lcBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			store, _ := b.open(t)
			clock := newTestClock(time.Now())
			w, d := renewalWorld(t, store, clock)
			first := d.identity()
			clock.Set(first.NotAfter.Add(-enroll.DefaultRenewalWindow))
			if r, _ := w.sdk.RenewIdentities(ctx, w.org); r.Queued != 1 {
				t.Fatalf("%+v", r)
			}
			// The device takes the profile but fails to install it.
			lost := w.renewalProfiles(d.commands())
			if len(lost) != 1 {
				t.Fatal("no renewal profile")
			}
			clock.Advance(enroll.RenewalBackoff(1))
			if r, _ := w.sdk.RenewIdentities(ctx, w.org); r.Queued != 1 {
				t.Fatalf("the next attempt after the device took the profile: %+v; want a fresh one", r)
			}
			fresh := w.renewalProfiles(d.commands())
			if len(fresh) != 1 {
				t.Fatal("no fresh renewal profile")
			}
			lostSCEP, _ := payloads(t, lost[0])
			freshSCEP, _ := payloads(t, fresh[0])
			if lostSCEP.Challenge == freshSCEP.Challenge {
				t.Fatal("the fresh profile reuses the challenge")
			}
			msg, _, err := sceptestRequest(lostSCEP.Challenge, w)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.sdk.SCEP.PKIOperation(ctx, w.org, msg); !errors.Is(err, enroll.ErrChallenge) {
				t.Errorf("the first profile's challenge after a fresh one: %v; want ErrChallenge", err)
			}
			d.renew(fresh[0], 1)
			if cmds := d.commands(); len(cmds) != 0 { // any message binds it
				t.Errorf("first message with the renewed identity: %+v", cmds)
			}
			if id := d.identity(); id.Device != d.id {
				t.Errorf("renewed identity %+v not bound", id)
			}
			if list, _ := w.sdk.IdentityRenewals(ctx, w.org, 0); len(list) != 0 {
				t.Errorf("still listed: %+v", list)
			}
		})
	}
}

// sceptestRequest builds a SCEP request for challenge with a key of the
// test's.
func sceptestRequest(challenge string, w *lcWorld) ([]byte, *sceptest.Pending, error) {
	return sceptest.Request{Key: lcKey(3), Challenge: challenge}.Build(w.ca)
}

// TestIdentityRenewalCrash: every step of a renewal is one transaction,
// so a process that dies anywhere leaves work the next one resumes: a
// renewal claimed by a process that died before queueing is taken over
// once its lease runs out (not before: the claimer may still be at work);
// a renewal queued before a restart is completed by the device against
// the restarted SDK, whether it enrolled its new identity before or after
// the restart; nothing is queued twice.
func TestIdentityRenewalCrash(t *testing.T) {
	for _, b := range lcBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			store, reopen := b.open(t)
			clock := newTestClock(time.Now())
			w, d := renewalWorld(t, store, clock)
			first := d.identity()
			clock.Set(first.NotAfter.Add(-enroll.DefaultRenewalWindow))

			// A process claims the renewal and dies before queueing.
			claimed, err := store.ClaimRenewals(ctx, enroll.RenewalClaim{Org: w.org, Now: clock.Now(),
				Window: enroll.DefaultRenewalWindow, Lease: enroll.DefaultRenewalLease, Limit: 10})
			if err != nil || len(claimed) != 1 {
				t.Fatalf("claim: %+v, %v", claimed, err)
			}
			if r, _ := w.sdk.RenewIdentities(ctx, w.org); r != (ota.RenewalRound{}) {
				t.Fatalf("while the dead claimer's lease runs: %+v", r)
			}
			// Its late write, after another took over, is refused.
			clock.Advance(enroll.DefaultRenewalLease)
			if r, _ := w.sdk.RenewIdentities(ctx, w.org); r.Queued != 1 {
				t.Fatalf("after the lease: %+v; want the renewal taken over", r)
			}
			if _, err := store.QueueRenewal(ctx, claimed[0], nil, nil, clock.Now().Add(time.Hour),
				storage.AuditEntry{Org: w.org, Time: clock.Now(), Actor: "system:renewal", Action: enroll.ActionRenewalQueued}); !errors.Is(err, storage.ErrConflict) {
				t.Fatalf("the dead claimer's write after the takeover: %v; want ErrConflict", err)
			}

			// The device takes its profile and enrolls its new identity;
			// the SDK restarts before the device authenticates with it.
			profiles := w.renewalProfiles(d.commands())
			if len(profiles) != 1 {
				t.Fatalf("%d renewal profiles", len(profiles))
			}
			d.renew(profiles[0], 1)
			if reopen != nil {
				store = reopen(t)
			}
			w2 := newWorldConfig(t, store, w.dir, nil, w.org, nil, renewalConfig(clock))
			d.w, d.serverURL, d.checkInURL = w2, w2.srv.URL+hostPath(d.serverURL), w2.srv.URL+hostPath(d.checkInURL)
			if st := d.authenticate(); st != http.StatusOK {
				t.Fatalf("Authenticate after the restart: %d", st)
			}
			if id := d.identity(); id.Device != d.id {
				t.Fatalf("renewed identity after the restart: %+v", id)
			}
			if r, _ := w2.sdk.RenewIdentities(ctx, w.org); r != (ota.RenewalRound{}) {
				t.Errorf("after completion: %+v", r)
			}
			if kinds := eventKinds(t, w2, d.id); countKind(kinds, events.IdentityRenewalQueued) != 1 || countKind(kinds, events.IdentityRenewed) != 1 {
				t.Errorf("events: %v", kinds)
			}
		})
	}
}

// TestIdentityRenewalReplicas: two SDKs on one database run the renewal
// job at the same moment over a fleet; each device gets exactly one
// renewal profile.
func TestIdentityRenewalReplicas(t *testing.T) {
	for _, b := range lcBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			store, reopen := b.open(t)
			clock := newTestClock(time.Now())
			w, _ := renewalWorld(t, store, clock)
			phones := []*iPhone{}
			for i := range 5 {
				d := w.enrolledIPhone("carol", "00008110-00AA11BB22C"+string(rune('A'+i))+"99", i)
				d.drain()
				phones = append(phones, d)
			}
			store2 := store
			if reopen != nil {
				store2 = reopen(t)
			}
			w2 := newWorldConfig(t, store2, w.dir, nil, w.org, nil, renewalConfig(clock))
			clock.Set(phones[0].identity().NotAfter.Add(-enroll.DefaultRenewalWindow + time.Hour))
			var wg sync.WaitGroup
			rounds := make([]ota.RenewalRound, 4)
			for i := range rounds {
				sdk := w.sdk
				if i%2 == 1 {
					sdk = w2.sdk
				}
				wg.Go(func() {
					var err error
					if rounds[i], err = sdk.RenewIdentities(ctx, w.org); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			total := 0
			for _, r := range rounds {
				total += r.Queued + r.Repushed
			}
			if total != 6 { // five phones and alice's
				t.Errorf("rounds %+v: %d attempts; want 6", rounds, total)
			}
			for _, d := range phones {
				if n := len(w.renewalProfiles(d.commands())); n != 1 {
					t.Errorf("device %s got %d renewal profiles", d.udid, n)
				}
			}
		})
	}
}

// TestIdentityRenewalMisuse: a renewal challenge is good for the one
// device it was made for, in its org, once. Used by another device of the
// org, the identity it yields is refused at every message (the device's
// own UDID is not the renewed device's) and binds to nothing; presented to
// another org's CA it yields nothing; used twice it is refused; and a
// renewed identity is refused by another org's check-in. The renewal is
// then completed by the right device with the next attempt's profile.
func TestIdentityRenewalMisuse(t *testing.T) {
	for _, b := range lcBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			store, _ := b.open(t)
			clock := newTestClock(time.Now())
			w, d := renewalWorld(t, store, clock)
			other := w.enrolledIPhone("bob", "00008110-00BB22CC33DD44", 2)
			other.drain()
			beta := storage.Org{ID: storage.NewOrgID(), Name: "beta", DisplayName: "Beta"}
			if _, err := store.CreateOrg(ctx, beta, storage.AuditEntry{Org: beta.ID, Time: clock.Now(), Actor: "admin:root", Action: "org.create"}); err != nil {
				t.Fatal(err)
			}
			w2 := newWorldConfig(t, store, w.dir, nil, beta.ID, nil, renewalConfig(clock)) // another org
			first := d.identity()
			clock.Set(first.NotAfter.Add(-enroll.DefaultRenewalWindow))
			if r, _ := w.sdk.RenewIdentities(ctx, w.org); r.Queued != 2 {
				t.Fatalf("%+v", r)
			}
			profiles := w.renewalProfiles(d.commands())
			if len(profiles) != 1 {
				t.Fatal("no renewal profile")
			}
			sc, _ := payloads(t, profiles[0])

			// The other org's CA: no certificate for this org's challenge.
			msg, _, err := sceptestRequest(sc.Challenge, w2)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w2.sdk.SCEP.PKIOperation(ctx, w2.org, msg); !errors.Is(err, enroll.ErrChallenge) {
				t.Errorf("the challenge at another org's CA: %v; want ErrChallenge", err)
			}

			// Another device of the org enrolls with it...
			thief := *other
			thief.cert, thief.key = w.scep(sc.Challenge, lcKey(3)), lcKey(3)
			stolen := thief.identity()
			if stolen.Renews != first.Fingerprint {
				t.Fatalf("identity from the renewal challenge: %+v", stolen)
			}
			// ...and is refused whatever it sends, binding nothing.
			if st := thief.authenticate(); st != http.StatusForbidden {
				t.Errorf("Authenticate of another device with the renewal identity: %d; want 403", st)
			}
			if st, _ := thief.put(thief.serverURL, map[string]any{"UDID": thief.udid, "Status": "Idle"}); st != http.StatusForbidden {
				t.Errorf("Idle of another device with the renewal identity: %d; want 403", st)
			}
			if id := thief.identity(); id.Device != "" {
				t.Errorf("the renewal identity got bound to %s", id.Device)
			}
			if rn, _ := w.store.Renewal(ctx, w.org, first.Fingerprint); !rn.Completed.IsZero() {
				t.Errorf("renewal completed by another device: %+v", rn)
			}
			// The challenge is spent.
			msg, _, err = sceptestRequest(sc.Challenge, w)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.sdk.SCEP.PKIOperation(ctx, w.org, msg); !errors.Is(err, enroll.ErrChallenge) {
				t.Errorf("the challenge used twice: %v; want ErrChallenge", err)
			}

			// The next attempt gives the device a fresh profile; it renews,
			// and its renewed identity is refused by the other org.
			clock.Advance(enroll.RenewalBackoff(1))
			if r, _ := w.sdk.RenewIdentities(ctx, w.org); r.Queued != 1 {
				t.Fatalf("next attempt: %+v", r)
			}
			profiles = w.renewalProfiles(d.commands())
			if len(profiles) != 1 {
				t.Fatal("no fresh renewal profile")
			}
			d.renew(profiles[0], 1)
			if st := d.authenticate(); st != http.StatusOK {
				t.Fatalf("Authenticate with the renewed identity: %d", st)
			}
			elsewhere := *d
			elsewhere.w, elsewhere.serverURL, elsewhere.checkInURL = w2, w2.srv.URL+"/mdm-sdk/mdm/"+string(w2.org)+"/server",
				w2.srv.URL+"/mdm-sdk/mdm/"+string(w2.org)+"/checkin"
			if st := elsewhere.authenticate(); st != http.StatusForbidden {
				t.Errorf("the renewed identity at another org's check-in: %d; want 403", st)
			}
			if id := d.identity(); id.Device != d.id {
				t.Errorf("renewed identity %+v", id)
			}
		})
	}
}

// TestIdentityRenewalMac: a Mac enrolled with the direct profile renews
// the same way: the renewed identity carries the macOS platform and binds
// to the Mac when it authenticates as a Mac.
func TestIdentityRenewalMac(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock(time.Now())
	w := newWorldConfig(t, lcMemory(), &authtest.Directory{}, nil, "", nil, renewalConfig(clock))
	pols, err := w.sdk.Policy.List(ctx, w.org)
	if err != nil || len(pols) == 0 {
		t.Fatalf("policies: %v", err)
	}
	staff := pols[0]
	staff.Rules[policy.MacOS] = policy.Rule{Action: policy.Require}
	if _, err := w.sdk.UpdatePolicy(ctx, "admin:root", staff); err != nil {
		t.Fatal(err)
	}
	enr, err := w.sdk.BeginAppleEnrollment(ctx, w.org, "alice", omm.Facts{Platform: "macos", OSVersion: "14.4"}, enroll.KindDirect)
	if err != nil {
		t.Fatal(err)
	}
	st, signed := w.get(enr.URL)
	if st != http.StatusOK {
		t.Fatalf("direct profile: %d", st)
	}
	p, err := profile.Decode(w.verified(signed))
	if err != nil {
		t.Fatal(err)
	}
	sc, m := payloads(t, p)
	mac := &iPhone{w: w, udid: "00008103-00AA11BB22CCMAC", key: lcKey(0), checkInURL: m.CheckInURL, serverURL: m.ServerURL}
	mac.cert = w.scep(sc.Challenge, lcKey(0))
	authenticate := func() int {
		st, _ := mac.put(mac.checkInURL, map[string]any{"MessageType": "Authenticate", "UDID": mac.udid, "Topic": omm.DevelopmentTopic,
			"ProductName": "MacBookPro18,3", "Model": "MacBookPro18,3", "SerialNumber": "C02MAC000001", "OSVersion": "14.4"})
		return st
	}
	if st := authenticate(); st != http.StatusOK {
		t.Fatalf("Authenticate: %d", st)
	}
	if st := mac.tokenUpdate(); st != http.StatusOK {
		t.Fatalf("TokenUpdate: %d", st)
	}
	mac.drain()
	first := mac.identity()
	clock.Set(first.NotAfter.Add(-enroll.DefaultRenewalWindow))
	if r, _ := w.sdk.RenewIdentities(ctx, w.org); r.Queued != 1 {
		t.Fatalf("%+v", r)
	}
	profiles := w.renewalProfiles(mac.commands())
	if len(profiles) != 1 {
		t.Fatal("no renewal profile")
	}
	mac.renew(profiles[0], 1)
	if st := authenticate(); st != http.StatusOK {
		t.Fatalf("Authenticate with the renewed identity: %d", st)
	}
	if id := mac.identity(); id.Device != first.Device || id.Platform != policy.MacOS || id.Renews != first.Fingerprint {
		t.Errorf("renewed identity %+v (first %+v)", id, first)
	}
}
