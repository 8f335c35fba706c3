package omm_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/micromdm/plist"

	"github.com/openomm/omm"
	"github.com/openomm/omm/auth/authtest"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/ota"
	"github.com/openomm/omm/events"
	"github.com/openomm/omm/profile"
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
			if second.Device != d.id || second.Renews != first.Fingerprint {
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
