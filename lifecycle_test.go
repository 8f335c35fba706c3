package omm_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/openomm/omm"
	"github.com/openomm/omm/android"
	"github.com/openomm/omm/android/amapi"
	"github.com/openomm/omm/android/amapi/amapitest"
	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/auth/authtest"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
)

// held is what alice holds when she leaves: devices on every channel and
// one unused credential of each kind.
type held struct {
	iphones             []*iPhone
	knox, admin, wp     lcPhone
	otaLink, directLink string  // enrollment links never opened
	unbound             *iPhone // a SCEP identity no device has used
	phase3URL           string  // OTA phase 3, signed by its identity, not sent
	phase3Body          []byte
	agentToken, wpToken android.Issued
}

// aliceHolds enrolls alice's devices and hands her the credentials; bob
// gets an enrolled iPhone and an unused token of his own.
func aliceHolds(t *testing.T, w *lcWorld) (held, *iPhone, android.Issued) {
	t.Helper()
	ctx := context.Background()
	var h held
	h.iphones = []*iPhone{w.enrolledIPhone("alice", "00008110-00000000000A1CE1", 0), w.enrolledIPhone("alice", "00008110-00000000000A1CE2", 1)}
	h.knox = w.enrolledAndroid("alice", policy.ModeKnox, 1)
	h.admin = w.enrolledAndroid("alice", policy.ModeDeviceAdmin, 2)
	h.wp = w.enrolledAndroid("alice", policy.ModeWorkProfile, 3)
	bob := w.enrolledIPhone("bob", "00008110-0000000000000B0B", 2)
	for _, d := range append(slices.Clone(h.iphones), bob) {
		d.drain()
	}
	for kind, link := range map[enroll.SessionKind]*string{enroll.KindOTA: &h.otaLink, enroll.KindDirect: &h.directLink} {
		enr, err := w.sdk.BeginAppleEnrollment(ctx, w.org, "alice", omm.Facts{Platform: "ios", OSVersion: "17.4"}, kind)
		if err != nil {
			t.Fatal(err)
		}
		*link = enr.URL
	}
	h.unbound = w.identity("alice", "00008110-00000000000A1CE3", 2)
	h.phase3URL, h.phase3Body = w.otaPhase3("alice", "00008110-00000000000A1CE4")
	h.agentToken = w.androidToken("alice", policy.ModeDeviceAdmin)
	h.wpToken = w.androidToken("alice", policy.ModeWorkProfile)
	return h, bob, w.androidToken("bob", policy.ModeDeviceAdmin)
}

// refused checks that none of alice's unused credentials enrolls anything.
func (h held) refused(t *testing.T, w *lcWorld, when string) {
	t.Helper()
	for _, link := range []string{h.otaLink, h.directLink} {
		if st, _ := w.get(link); st != http.StatusForbidden {
			t.Errorf("%s: enrollment link %s: %d, want 403", when, hostPath(link), st)
		}
	}
	if st := h.unbound.authenticate(); st != http.StatusForbidden {
		t.Errorf("%s: Authenticate with an unused SCEP identity: %d, want 403", when, st)
	}
	if st, _ := w.send(http.MethodPost, h.phase3URL, h.phase3Body, nil); st != http.StatusForbidden {
		t.Errorf("%s: OTA phase 3: %d, want 403", when, st)
	}
	for i, tok := range []android.Issued{h.agentToken, h.wpToken} {
		p, err := w.useToken(tok, 10+i)
		// A one-time token Google saw used is refused there from then on.
		if !errors.Is(err, android.ErrToken) && !(tok.Plan.Channel == android.ChannelAMAPI && errors.Is(err, amapi.ErrInvalid)) {
			t.Errorf("%s: %s token: %v, want ErrToken", when, tok.Plan.Mode, err)
		}
		if p.secret != "" {
			if v, err := w.fake.DeviceView(p.secret); err != nil || v.Policy != nil {
				t.Errorf("%s: the work profile enrolled with a refused token keeps the org's policy: %+v %v", when, v, err)
			}
		}
	}
	if _, err := w.store.DeviceByIdentifier(context.Background(), w.org, h.unbound.udid); err == nil {
		t.Errorf("%s: a refused Authenticate registered a device", when)
	}
}

// TestUserDeactivated: a user who leaves loses every device (both
// platforms, every channel: work data only) and every unused credential,
// on every backend; doing it again changes nothing.
func TestUserDeactivated(t *testing.T) {
	for _, b := range lcBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			store, _ := b.open(t)
			dir := &authtest.Directory{}
			w := newWorld(t, store, dir, nil, "")
			h, bob, bobToken := aliceHolds(t, w)

			if err := dir.SetStatus(w.org, "alice", auth.StatusDeactivated); err != nil {
				t.Fatal(err)
			}
			if err := w.sdk.UserChanged(ctx, w.org, "alice", "admin:root"); err != nil {
				t.Fatalf("UserChanged: %v", err)
			}
			n := w.auditCount()
			again, err := w.sdk.UserDeactivated(ctx, w.org, "alice", "admin:root")
			if err != nil || again != (omm.Deactivated{}) {
				t.Errorf("second deactivation = %+v, %v; want nothing done", again, err)
			}
			if w.auditCount() != n {
				t.Errorf("second deactivation appended %d audit entries", w.auditCount()-n)
			}

			h.refused(t, w, "deactivated")
			dir.Remove(w.org, "alice")
			h.refused(t, w, "deleted")
			dir.AddUser(auth.User{Org: w.org, ID: "alice", Username: "alice"})
			dir.Join(w.org, "grp_staff", "alice")
			h.refused(t, w, "back in the directory") // revoked, not merely checked

			// Apple: the removal commands, the MDM profile last; then the
			// device checks out.
			for _, d := range h.iphones {
				inv, _ := store.Device(ctx, w.org, d.id)
				if inv.State != inventory.StateDeprovisioning {
					t.Errorf("iPhone %s is %s, want deprovisioning", d.udid, inv.State)
				}
				got := d.drain()
				if want := "RemoveProfile " + enroll.MDMProfileIdentifier(w.org); len(got) == 0 || got[len(got)-1] != want {
					t.Errorf("iPhone %s got %v, want the removals ending with %q", d.udid, got, want)
				}
				if slices.ContainsFunc(got, func(c string) bool { return c == "EraseDevice" }) {
					t.Errorf("iPhone %s was erased: %v", d.udid, got)
				}
				if st := d.checkOut(); st != http.StatusOK {
					t.Errorf("CheckOut: %d", st)
				}
				if inv, _ := store.Device(ctx, w.org, d.id); inv.State != inventory.StateDeprovisioned {
					t.Errorf("iPhone %s after CheckOut is %s", d.udid, inv.State)
				}
			}
			// Android, agent channel (Knox, device admin): one work-data
			// removal each, which the agent fetches and reports done.
			for _, p := range []lcPhone{h.knox, h.admin} {
				ad, err := store.AndroidDevice(ctx, w.org, p.id)
				if err != nil {
					t.Fatal(err)
				}
				cmds, err := w.sdk.Android.Commands(ctx, ad)
				if err != nil || len(cmds) != 1 || cmds[0].Kind != android.CommandWipe || cmds[0].Wipe != android.WipeWorkData {
					t.Fatalf("%s device's commands: %+v, %v; want one work-data removal", p.mode, cmds, err)
				}
				if _, err := w.sdk.Android.Acknowledge(ctx, ad, cmds[0].ID, android.StatusDone, ""); err != nil {
					t.Fatal(err)
				}
				if inv, _ := store.Device(ctx, w.org, p.id); inv.State != inventory.StateDeprovisioned {
					t.Errorf("%s device after its removal is %s", p.mode, inv.State)
				}
			}
			// Android Management API: the work profile deleted at once.
			if v, err := w.fake.DeviceView(h.wp.secret); err != nil || v.Wiped != amapitest.EffectWorkProfileRemoved {
				t.Errorf("work profile at the provider: %+v, %v", v, err)
			}
			if inv, _ := store.Device(ctx, w.org, h.wp.id); inv.State != inventory.StateDeprovisioned {
				t.Errorf("work-profile device is %s, want deprovisioned", inv.State)
			}

			// Bob is untouched.
			if inv, _ := store.Device(ctx, w.org, bob.id); inv.State != inventory.StateEnrolled {
				t.Errorf("bob's iPhone is %s", inv.State)
			}
			if got := bob.drain(); len(got) != 0 {
				t.Errorf("bob's iPhone got %v", got)
			}
			if _, err := w.useToken(bobToken, 20); err != nil {
				t.Errorf("bob's token: %v", err)
			}
		})
	}
}

// TestDeactivatedCounts: what UserDeactivated reports, and that a
// directory that refuses the device takes the user's sessions too.
func TestDeactivatedCounts(t *testing.T) {
	ctx := context.Background()
	dir := &authtest.Directory{}
	w := newWorld(t, lcMemory(), dir, nil, "")
	aliceHolds(t, w)
	if err := dir.SetStatus(w.org, "alice", auth.StatusDeactivated); err != nil {
		t.Fatal(err)
	}
	got, err := w.sdk.UserDeactivated(ctx, w.org, "alice", "admin:root")
	if err != nil {
		t.Fatal(err)
	}
	// Sessions: the two links and the OTA session awaiting phase 3.
	// Identities: the unused SCEP identity and the OTA identity.
	want := omm.Deactivated{EnrollSessions: 3, Identities: 2, AndroidTokens: 2, Devices: 5}
	if got != want {
		t.Errorf("UserDeactivated = %+v, want %+v", got, want)
	}
}

// TestReconcile: a directory that cannot notify: the reconcile finds the
// users who left (deleted or deactivated, holding a device or only a
// credential) and deactivates them; an implausible number of departures
// is refused whole.
func TestReconcile(t *testing.T) {
	ctx := context.Background()
	dir := &authtest.Directory{}
	w := newWorld(t, lcMemory(), dir, nil, "")
	alice := w.enrolledIPhone("alice", "00008110-00000000000A1CE1", 0)
	carolToken := w.androidToken("carol", policy.ModeDeviceAdmin)
	bob := w.enrolledIPhone("bob", "00008110-0000000000000B0B", 1)
	if err := dir.SetStatus(w.org, "alice", auth.StatusDeactivated); err != nil {
		t.Fatal(err)
	}
	dir.Remove(w.org, "carol")
	r, err := w.sdk.Reconcile(ctx, w.org)
	if err != nil {
		t.Fatal(err)
	}
	if r.Users != 3 || r.Deactivated != 2 {
		t.Errorf("Reconcile = %+v, want 3 users, 2 deactivated", r)
	}
	if inv, _ := w.store.Device(ctx, w.org, alice.id); inv.State != inventory.StateDeprovisioning {
		t.Errorf("alice's iPhone is %s", inv.State)
	}
	if inv, _ := w.store.Device(ctx, w.org, bob.id); inv.State != inventory.StateEnrolled {
		t.Errorf("bob's iPhone is %s", inv.State)
	}
	dir.AddUser(auth.User{Org: w.org, ID: "carol", Username: "carol"})
	dir.Join(w.org, "grp_staff", "carol")
	if _, err := w.useToken(carolToken, 1); !errors.Is(err, android.ErrToken) {
		t.Errorf("carol's token after the reconcile: %v, want revoked", err)
	}
	n := w.auditCount()
	if r, err = w.sdk.Reconcile(ctx, w.org); err != nil || r.Deactivated != 1 { // alice, still deprovisioning
		t.Errorf("second Reconcile = %+v, %v", r, err)
	}
	if w.auditCount() != n {
		t.Errorf("a second reconcile appended %d audit entries", w.auditCount()-n)
	}

	// A directory that suddenly no longer knows most users (a broken
	// adapter, the wrong tenant) deprovisions nobody.
	var tokens []android.Issued
	for i := range 12 {
		u := fmt.Sprintf("user%02d", i)
		dir.AddUser(auth.User{Org: w.org, ID: u, Username: u})
		dir.Join(w.org, "grp_staff", u)
		tokens = append(tokens, w.androidToken(u, policy.ModeDeviceAdmin))
		dir.Remove(w.org, u)
	}
	n = w.auditCount()
	if _, err := w.sdk.Reconcile(ctx, w.org); !errors.Is(err, omm.ErrMassDeactivation) {
		t.Fatalf("Reconcile with 12 users gone: %v, want ErrMassDeactivation", err)
	}
	if w.auditCount() != n {
		t.Errorf("a refused reconcile appended %d audit entries", w.auditCount()-n)
	}
	for i := range 12 {
		u := fmt.Sprintf("user%02d", i)
		dir.AddUser(auth.User{Org: w.org, ID: u, Username: u})
		dir.Join(w.org, "grp_staff", u)
	}
	if _, err := w.useToken(tokens[0], 30); err != nil {
		t.Errorf("a token the refused reconcile left alone: %v", err)
	}
}
