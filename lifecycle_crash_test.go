//go:build unix

package omm_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openomm/omm"
	"github.com/openomm/omm/android"
	"github.com/openomm/omm/android/amapi/amapitest"
	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/auth/authtest"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

// TestDeactivationCrash kills (SIGKILL) a process midway through a user's
// deactivation — right after the credentials are revoked, after the
// second device, and between a work-profile wipe being stored and sent
// to the Android Management API — then starts the SDK again on the same
// database and lets its first reconcile (what SDK.Run does at start)
// finish the work. Every device ends deprovisioned exactly once (no
// command twice), the work profile is deleted at the provider, and every
// credential stays refused.
func TestDeactivationCrash(t *testing.T) {
	if os.Getenv("OMM_LC_CHILD") != "" {
		t.Skip("the child process runs TestDeactivationCrashChild only")
	}
	for _, b := range lcBackends(t) {
		if b.env == nil {
			continue // the memory store does not outlive its process
		}
		for _, kill := range []struct {
			name  string
			after int // device commits before the kill; 0: after the credentials; -1: at the provider
		}{{"after the credentials", 0}, {"after two devices", 2}, {"before the provider call", -1}} {
			t.Run(b.name+"/"+kill.name, func(t *testing.T) {
				ctx := context.Background()
				store, reopen := b.open(t)
				dir := &authtest.Directory{}
				w1 := newWorld(t, store, dir, nil, "")
				h, bob, _ := aliceHolds(t, w1)
				if err := dir.SetStatus(w1.org, "alice", auth.StatusDeactivated); err != nil {
					t.Fatal(err)
				}

				cmd := exec.Command(os.Args[0], "-test.run=^TestDeactivationCrashChild$", "-test.count=1")
				cmd.Env = append(os.Environ(), append(b.env(), "OMM_LC_CHILD=1", "OMM_LC_ORG="+string(w1.org),
					"OMM_LC_KILL="+strconv.Itoa(kill.after))...)
				out, err := cmd.CombinedOutput()
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
					t.Fatalf("the child was not killed (%v):\n%s", err, out)
				}

				// Started again: the first reconcile completes the work.
				w2 := newWorld(t, reopen(t), dir, w1.fake, w1.org)
				h.moveTo(w1, w2)
				bob.moveTo(w1, w2)
				w2.sdk.ReconcileAll(ctx)
				n := w2.auditCount()
				w2.sdk.ReconcileAll(ctx)
				if w2.auditCount() != n {
					t.Errorf("a second reconcile appended %d audit entries", w2.auditCount()-n)
				}

				h.refused(t, w2, "after the restart")
				mdmProfile := "RemoveProfile " + enroll.MDMProfileIdentifier(w2.org)
				for _, d := range h.iphones {
					got := d.drain()
					if count(got, mdmProfile) != 1 {
						t.Errorf("iPhone %s got %v, want the MDM profile's removal once", d.udid, got)
					}
					if st := d.checkOut(); st != http.StatusOK {
						t.Errorf("CheckOut: %d", st)
					}
				}
				for _, p := range []lcPhone{h.knox, h.admin} {
					ad, err := w2.store.AndroidDevice(ctx, w2.org, p.id)
					if err != nil {
						t.Fatal(err)
					}
					cmds, err := w2.sdk.Android.Commands(ctx, ad)
					if err != nil || len(cmds) != 1 || cmds[0].Wipe != android.WipeWorkData {
						t.Fatalf("%s device's commands after the restart: %+v, %v; want one work-data removal", p.mode, cmds, err)
					}
					if _, err := w2.sdk.Android.Acknowledge(ctx, ad, cmds[0].ID, android.StatusDone, ""); err != nil {
						t.Fatal(err)
					}
				}
				if v, err := w2.fake.DeviceView(h.wp.secret); err != nil || v.Wiped != amapitest.EffectWorkProfileRemoved {
					t.Errorf("work profile at the provider after the restart: %+v, %v", v, err)
				}
				for _, id := range []string{h.iphones[0].id, h.iphones[1].id, h.knox.id, h.admin.id, h.wp.id} {
					if d, _ := w2.store.Device(ctx, w2.org, id); d.State != inventory.StateDeprovisioned {
						t.Errorf("device %s ends %s, want deprovisioned", id, d.State)
					}
				}
				if d, _ := w2.store.Device(ctx, w2.org, bob.id); d.State != inventory.StateEnrolled {
					t.Errorf("bob's iPhone is %s", d.State)
				}
			})
		}
	}
}

func count(xs []string, x string) int {
	n := 0
	for _, y := range xs {
		if y == x {
			n++
		}
	}
	return n
}

// moveTo points the held URLs at w2's server.
func (h *held) moveTo(w1, w2 *lcWorld) {
	for _, d := range append(h.iphones, h.unbound) {
		d.moveTo(w1, w2)
	}
	for _, u := range []*string{&h.otaLink, &h.directLink, &h.phase3URL} {
		*u = strings.Replace(*u, w1.srv.URL, w2.srv.URL, 1)
	}
}

func (d *iPhone) moveTo(w1, w2 *lcWorld) {
	d.w = w2
	d.checkInURL = strings.Replace(d.checkInURL, w1.srv.URL, w2.srv.URL, 1)
	d.serverURL = strings.Replace(d.serverURL, w1.srv.URL, w2.srv.URL, 1)
}

// TestDeactivationCrashChild is the process TestDeactivationCrash kills:
// it deactivates alice over the database it is given and SIGKILLs itself
// at OMM_LC_KILL.
func TestDeactivationCrashChild(t *testing.T) {
	if os.Getenv("OMM_LC_CHILD") == "" {
		t.Skip("run by TestDeactivationCrash")
	}
	after, err := strconv.Atoi(os.Getenv("OMM_LC_KILL"))
	if err != nil {
		t.Fatal(err)
	}
	var store omm.Store
	switch {
	case os.Getenv("OMM_LC_SQLITE") != "":
		store = lcOpenSQLite(t, os.Getenv("OMM_LC_SQLITE"))
	default:
		store = lcOpenPostgres(t, os.Getenv("OMM_TEST_POSTGRES_DSN"), os.Getenv("OMM_LC_POSTGRES_SCHEMA"))
	}
	org := storage.OrgID(os.Getenv("OMM_LC_ORG"))
	dir := &authtest.Directory{}
	dir.AddGroup(auth.Group{Org: org, ID: "grp_staff", Name: "Staff"})
	for _, u := range lcUsers {
		dir.AddUser(auth.User{Org: org, ID: u, Username: u})
		dir.Join(org, "grp_staff", u)
	}
	if err := dir.SetStatus(org, "alice", auth.StatusDeactivated); err != nil {
		t.Fatal(err)
	}
	k := &killer{Store: store, after: after}
	fake, err := amapitest.New("enterprises/LC")
	if err != nil {
		t.Fatal(err)
	}
	w := newWorldWith(t, k, dir, fake, org, killingProvider{fake})
	_, err = w.sdk.UserDeactivated(context.Background(), org, "alice", "admin:root")
	fmt.Printf("deactivation finished without the kill (%d device commits, err %v)\n", k.devices, err)
}

// killer SIGKILLs its process once the deactivation reaches its point.
type killer struct {
	omm.Store
	after   int
	mu      sync.Mutex
	devices int
}

func die() { _ = syscall.Kill(os.Getpid(), syscall.SIGKILL); select {} }

func (k *killer) device() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.devices++
	if k.devices == k.after {
		die()
	}
}

func (k *killer) RevokeUserTokens(ctx context.Context, org storage.OrgID, user string, at time.Time, e storage.AuditEntry) (int, error) {
	n, err := k.Store.RevokeUserTokens(ctx, org, user, at, e)
	if err == nil && k.after == 0 {
		die()
	}
	return n, err
}

func (k *killer) QueueDeviceAction(ctx context.Context, a enroll.DeviceAction) (inventory.Device, error) {
	d, err := k.Store.QueueDeviceAction(ctx, a)
	if err == nil {
		k.device()
	}
	return d, err
}

func (k *killer) StartAndroidWipe(ctx context.Context, c android.Command, e, state storage.AuditEntry) (android.Command, error) {
	c, err := k.Store.StartAndroidWipe(ctx, c, e, state)
	if err == nil {
		k.device()
	}
	return c, err
}

// killingProvider dies where the provider would be asked to delete a
// device: the wipe is stored, and never sent.
type killingProvider struct{ *amapitest.Server }

func (killingProvider) DeleteDevice(context.Context, string) error { die(); return nil }
