package ota_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/micromdm/plist"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/ota"
	"github.com/openomm/omm/enroll/scep"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/profile"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
	"github.com/openomm/omm/storage/postgres"
	"github.com/openomm/omm/storage/sqlite"
)

// reapplyBackend is every store the re-application scenarios touch.
type reapplyBackend interface {
	storage.OrgStore
	storage.AuditLog
	ota.Store
	ota.ReapplyStore
	scep.CAStore
	inventory.Store
	enroll.CommandQueue
	enroll.IdentityStore
}

// reapplyBackends returns memory and SQLite always, PostgreSQL when
// OMM_TEST_POSTGRES_DSN is set (a schema of its own, dropped afterwards).
func reapplyBackends() map[string]func(t *testing.T) reapplyBackend {
	m := map[string]func(t *testing.T) reapplyBackend{
		"memory": func(*testing.T) reapplyBackend { return memory.New() },
		"sqlite": func(t *testing.T) reapplyBackend {
			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "omm.db"), sqlite.WithLogger(quiet))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
	if dsn := os.Getenv("OMM_TEST_POSTGRES_DSN"); dsn != "" {
		m["postgres"] = func(t *testing.T) reapplyBackend {
			schema := "omm_ota_reapply_" + strings.ToLower(string(storage.NewOrgID()))
			s, err := postgres.Open(t.Context(), dsn, postgres.WithSchema(schema), postgres.WithLogger(quiet))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				s.Close()
				if conn, err := pgx.Connect(context.Background(), dsn); err == nil {
					conn.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE") //nolint:errcheck // best effort
					conn.Close(context.Background())
				}
			})
			return s
		}
	}
	return m
}

// wakes records the devices a reapplier woke.
type wakes struct {
	mu      sync.Mutex
	devices []string
}

func (w *wakes) Wake(_ context.Context, _ storage.OrgID, devices []string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.devices = append(w.devices, devices...)
	return nil
}

// reapplyEnv is one org A with an enrolled iPhone (enrolled under
// enrolledUnder), and an org B with one of its own.
type reapplyEnv struct {
	store     reapplyBackend
	ota       *ota.Service
	reapplier *ota.Reapplier
	inv       *inventory.Service
	cas       *scep.GeneratedCAs
	wakes     *wakes
	orgA      storage.OrgID
	orgB      storage.OrgID
	devA      inventory.Device
	devB      inventory.Device
}

var enrolledUnder = decision(false)

func newReapplyEnv(t *testing.T, store reapplyBackend) *reapplyEnv {
	t.Helper()
	e := &reapplyEnv{store: store, wakes: &wakes{}}
	now := func() time.Time { return t0 }
	for i, o := range []*storage.OrgID{&e.orgA, &e.orgB} {
		*o = storage.NewOrgID()
		if _, err := store.CreateOrg(t.Context(), storage.Org{ID: *o, Name: fmt.Sprintf("org-%d", i), DisplayName: "Acme Corp"},
			storage.AuditEntry{Org: *o, Time: t0, Actor: "admin:root", Action: "org.create"}); err != nil {
			t.Fatal(err)
		}
	}
	e.cas = scep.NewGeneratedCAs(store, now)
	for _, o := range []storage.OrgID{e.orgA, e.orgB} { // as enrollment left them
		if _, err := e.cas.CA(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if e.ota, err = ota.New(store, e.cas, ota.Config{PublicURL: publicURL, Topic: topic}, ota.WithClock(now), ota.WithLogger(quiet)); err != nil {
		t.Fatal(err)
	}
	e.reapplier = ota.NewReapplier(e.ota, store, ota.WithReapplyWaker(e.wakes))
	e.inv = inventory.New(store, inventory.WithClock(now), inventory.WithLogger(quiet))
	e.devA = e.enroll(t, e.orgA, "alice", 1)
	e.devB = e.enroll(t, e.orgB, "alice", 2)
	return e
}

// enroll registers an enrolled iPhone for user whose identity comes from
// an enrollment session under enrolledUnder, as OTA and check-in leave it.
func (e *reapplyEnv) enroll(t *testing.T, org storage.OrgID, user string, n int) inventory.Device {
	t.Helper()
	ticket, err := e.ota.Begin(t.Context(), org, user, enrolledUnder, enroll.KindDirect)
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.inv.Register(t.Context(), inventory.Device{Org: org, UserID: user, Platform: inventory.PlatformIOS,
		Ownership: inventory.OwnershipPersonal, EnrollmentType: inventory.EnrollAppleDevice, Identifier: fmt.Sprintf("UDID-%d", n)}, "device:test")
	if err != nil {
		t.Fatal(err)
	}
	if d, err = e.inv.SetState(t.Context(), org, d.ID, inventory.StateEnrolled, "device:test", "first token update"); err != nil {
		t.Fatal(err)
	}
	fp := enroll.Fingerprint(fmt.Sprintf("%064x", n))
	if _, err := e.store.RecordIdentity(t.Context(), enroll.Identity{Org: org, Fingerprint: fp, Serial: "01", Session: ticket.Session, Purpose: enroll.PurposeMDM,
		UserID: user, Policy: string(enrolledUnder.Policy), Issued: t0, NotAfter: t0.Add(time.Hour)},
		storage.AuditEntry{Org: org, Time: t0, Actor: "system", Action: "enroll.identity.record"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.BindIdentity(t.Context(), org, fp, d.ID, storage.AuditEntry{Org: org, Time: t0, Actor: "system", Action: "device.identity.bind"}); err != nil {
		t.Fatal(err)
	}
	return d
}

// queued is one command as the device would receive it.
type queued struct {
	RequestType string
	Identifier  string
	Profile     *profile.Profile
}

func (e *reapplyEnv) queue(t *testing.T, org storage.OrgID, device string) []queued {
	t.Helper()
	cmds, err := e.store.Commands(t.Context(), org, device, 0)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := e.cas.CA(t.Context(), org)
	if err != nil {
		t.Fatal(err)
	}
	var out []queued
	for _, c := range cmds {
		var body struct {
			Command struct {
				RequestType string
				Identifier  string
				Payload     []byte
			}
		}
		if err := plist.Unmarshal(c.Body, &body); err != nil {
			t.Fatal(err)
		}
		q := queued{RequestType: body.Command.RequestType, Identifier: body.Command.Identifier}
		if q.RequestType == "InstallProfile" {
			content, _, err := profile.Verify(body.Command.Payload, profile.VerifyOptions{Signer: ca.Certificate})
			if err != nil {
				t.Fatalf("queued profile not signed by the org CA: %v", err)
			}
			if q.Profile, err = profile.Decode(content); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, q)
	}
	return out
}

func (e *reapplyEnv) auditActions(t *testing.T, org storage.OrgID) []string {
	t.Helper()
	page, err := e.store.ListAudit(t.Context(), org, storage.AuditQuery{Limit: storage.MaxAuditPage})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range page.Entries {
		actions = append(actions, a.Action)
	}
	return actions
}

func payloadOf[T profile.Payload](p *profile.Profile) T {
	var zero T
	for _, pl := range p.Payloads {
		if v, ok := pl.(T); ok {
			return v
		}
	}
	return zero
}

// TestReapply walks the re-application scenarios on every backend: each
// changes the decision of org A's device from the one it enrolled under.
func TestReapply(t *testing.T) {
	raised := decision(false)
	raised.Requirements.Passcode.MinLength = 10
	noSeparation := decision(false)
	noSeparation.Requirements.DataSeparation = policy.DataSeparation{}
	sameProfile := decision(true) // a full wipe and an OS minimum change nothing a profile carries
	sameProfile.Requirements.MinOSVersion = "17.0"
	nothing := decision(false)
	nothing.Requirements = policy.Requirements{}
	denied := policy.Decision{Outcome: policy.Denied, Policy: policy.DefaultID, Platform: policy.IOS,
		Reasons: []string{"no mobile policy targets any of the user's groups: the built-in default policy applies", "policy \"Default\" denies enrollment of iOS devices"}}

	cases := []struct {
		name   string
		dec    policy.Decision
		want   ota.Change
		check  func(t *testing.T, q []queued)
		action string // audit action of the re-application; "" for none
	}{
		{"PasscodeRaised", raised, ota.Installed, func(t *testing.T, q []queued) {
			pc := payloadOf[*profile.Passcode](q[0].Profile)
			if pc == nil || pc.MinLength != 10 {
				t.Errorf("queued passcode payload %+v, want minimum length 10", pc)
			}
			if payloadOf[*profile.Restrictions](q[0].Profile) == nil {
				t.Error("the data separation restrictions were dropped")
			}
		}, "device.policy.reapply"},
		{"DataSeparationOff", noSeparation, ota.Installed, func(t *testing.T, q []queued) {
			if r := payloadOf[*profile.Restrictions](q[0].Profile); r != nil {
				t.Errorf("profile still carries restrictions %+v", r)
			}
			if pc := payloadOf[*profile.Passcode](q[0].Profile); pc == nil || pc.MinLength != 6 {
				t.Errorf("passcode payload %+v, want the unchanged rule", pc)
			}
		}, "device.policy.reapply"},
		{"NoProfileNeeded", nothing, ota.Removed, func(t *testing.T, q []queued) {
			if q[0].RequestType != "RemoveProfile" {
				t.Errorf("queued %s, want RemoveProfile", q[0].RequestType)
			}
		}, "device.policy.reapply"},
		{"Unchanged", sameProfile, ota.Unchanged, nil, "device.policy.recorded"},
		{"UserNoLongerTargeted", denied, ota.OutOfPolicy, nil, "device.policy.out_of_policy"},
	}
	for name, open := range reapplyBackends() {
		t.Run(name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					e := newReapplyEnv(t, open(t))
					beforeA := len(e.auditActions(t, e.orgA))
					got, err := e.reapplier.Apply(t.Context(), e.devA, c.dec, "admin:test")
					if err != nil || got != c.want {
						t.Fatalf("Apply = %q, %v; want %q", got, err, c.want)
					}
					q := e.queue(t, e.orgA, e.devA.ID)
					wantCmds := 0
					if c.check != nil {
						wantCmds = 1
					}
					if len(q) != wantCmds {
						t.Fatalf("%d commands queued, want %d", len(q), wantCmds)
					}
					if c.check != nil {
						c.check(t, q)
						if id := e.ota.PolicyProfileIdentifier(e.orgA); q[0].Identifier != id && (q[0].Profile == nil || q[0].Profile.Identifier != id) {
							t.Errorf("command does not address the policy profile %s", id)
						}
						if !slices.Equal(e.wakes.devices, []string{e.devA.ID}) {
							t.Errorf("woke %v, want the device", e.wakes.devices)
						}
					}
					if actions := e.auditActions(t, e.orgA)[beforeA:]; !slices.Equal(actions, []string{c.action}) {
						t.Errorf("audit entries %v, want [%s]", actions, c.action)
					}
					rec, err := e.store.AppliedPolicy(t.Context(), e.orgA, e.devA.ID)
					if err != nil {
						t.Fatal(err)
					}
					if (c.want == ota.OutOfPolicy) != (rec.OutOfPolicy != "") {
						t.Errorf("record %+v after %s", rec, c.want)
					}
					if c.want != ota.OutOfPolicy && rec.Fingerprint != ota.ProfileFingerprint(c.dec.Requirements) {
						t.Errorf("record fingerprint %q, want the new decision's", rec.Fingerprint)
					}
					if d, _ := e.store.Device(t.Context(), e.orgA, e.devA.ID); d.State != inventory.StateEnrolled {
						t.Errorf("device is %s after a policy change, want still enrolled", d.State)
					}

					// The same decision again changes nothing at all.
					again, err := e.reapplier.Apply(t.Context(), e.devA, c.dec, "admin:test")
					if err != nil || (again != ota.Unchanged && again != ota.OutOfPolicy) {
						t.Errorf("second Apply = %q, %v", again, err)
					}
					if n := len(e.queue(t, e.orgA, e.devA.ID)); n != wantCmds {
						t.Errorf("second Apply queued: %d commands", n)
					}
					if n := len(e.auditActions(t, e.orgA)); n != beforeA+1 {
						t.Errorf("second Apply wrote audit entries: %d, want %d", n, beforeA+1)
					}

					// Org B's device, same user name, is untouched.
					if q := e.queue(t, e.orgB, e.devB.ID); len(q) != 0 {
						t.Errorf("org B's device got %d commands", len(q))
					}
					if _, err := e.store.AppliedPolicy(t.Context(), e.orgB, e.devB.ID); err == nil {
						t.Error("org B's device has a record")
					}
				})
			}
		})
	}
}

// TestReapplyBackInPolicy: a device out of policy that comes back gets the
// new settings, and the record forgets the reason.
func TestReapplyBackInPolicy(t *testing.T) {
	e := newReapplyEnv(t, memory.New())
	denied := policy.Decision{Outcome: policy.Denied, Policy: policy.DefaultID, Reasons: []string{"denied by default"}}
	if c, err := e.reapplier.Apply(t.Context(), e.devA, denied, "admin:test"); err != nil || c != ota.OutOfPolicy {
		t.Fatalf("Apply(denied) = %q, %v", c, err)
	}
	raised := decision(false)
	raised.Requirements.Passcode.MinLength = 8
	if c, err := e.reapplier.Apply(t.Context(), e.devA, raised, "admin:test"); err != nil || c != ota.Installed {
		t.Fatalf("Apply(raised) = %q, %v", c, err)
	}
	rec, err := e.store.AppliedPolicy(t.Context(), e.orgA, e.devA.ID)
	if err != nil || rec.OutOfPolicy != "" || rec.Version != 2 {
		t.Errorf("record %+v, %v; want back in policy at version 2", rec, err)
	}
}

// TestReapplySkips: devices not enrolled get nothing; non-Apple devices
// are refused.
func TestReapplySkips(t *testing.T) {
	e := newReapplyEnv(t, memory.New())
	raised := decision(false)
	raised.Requirements.Passcode.MinLength = 10
	for _, st := range []inventory.State{inventory.StatePending, inventory.StateDeprovisioning, inventory.StateDeprovisioned} {
		d := e.devA
		d.State = st
		if c, err := e.reapplier.Apply(t.Context(), d, raised, "admin:test"); err != nil || c != ota.Skipped {
			t.Errorf("Apply(%s device) = %q, %v; want skipped", st, c, err)
		}
	}
	if q := e.queue(t, e.orgA, e.devA.ID); len(q) != 0 {
		t.Errorf("%d commands queued for skipped devices", len(q))
	}
	d := e.devA
	d.Platform = inventory.PlatformAndroid
	if _, err := e.reapplier.Apply(t.Context(), d, raised, "admin:test"); err == nil {
		t.Error("Apply took an Android device")
	}
}

// TestReapplyConcurrent: of concurrent re-applications of one decision,
// one queues the profile; the others find it queued or lose the race with
// ErrConflict, and queue nothing.
func TestReapplyConcurrent(t *testing.T) {
	for name, open := range reapplyBackends() {
		t.Run(name, func(t *testing.T) {
			e := newReapplyEnv(t, open(t))
			raised := decision(false)
			raised.Requirements.Passcode.MinLength = 10
			const n = 4
			changes := make([]ota.Change, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { changes[i], errs[i] = e.reapplier.Apply(t.Context(), e.devA, raised, "admin:test") })
			}
			wg.Wait()
			installed := 0
			for i := range n {
				switch {
				case errs[i] != nil && !errors.Is(errs[i], storage.ErrConflict):
					t.Errorf("Apply: %v", errs[i])
				case errs[i] == nil && changes[i] == ota.Installed:
					installed++
				case errs[i] == nil && changes[i] != ota.Unchanged:
					t.Errorf("Apply = %q", changes[i])
				}
			}
			if q := e.queue(t, e.orgA, e.devA.ID); installed != 1 || len(q) != 1 {
				t.Errorf("%d installs reported, %d commands queued; want 1 and 1", installed, len(q))
			}
		})
	}
}
