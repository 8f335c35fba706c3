package android_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/android/amapi"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
	"github.com/openomm/omm/storage/postgres"
	"github.com/openomm/omm/storage/sqlite"
)

// reapplyBackend is every store the re-application scenarios touch.
type reapplyBackend interface {
	storage.OrgStore
	storage.AuditLog
	android.Store
	android.ReapplyStore
	inventory.Store
}

// reapplyBackends returns memory and SQLite always, PostgreSQL when
// OMM_TEST_POSTGRES_DSN is set (a schema of its own, dropped afterwards).
func reapplyBackends() map[string]func(t *testing.T) reapplyBackend {
	m := map[string]func(t *testing.T) reapplyBackend{
		"memory": func(*testing.T) reapplyBackend { return memory.New() },
		"sqlite": func(t *testing.T) reapplyBackend {
			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "omm.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
	if dsn := os.Getenv("OMM_TEST_POSTGRES_DSN"); dsn != "" {
		m["postgres"] = func(t *testing.T) reapplyBackend {
			schema := "omm_android_reapply_" + strings.ToLower(string(storage.NewOrgID()))
			s, err := postgres.Open(t.Context(), dsn, postgres.WithSchema(schema))
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

// countingProvider counts policy patches.
type countingProvider struct {
	*amapi.Fake
	mu      sync.Mutex
	patches int
}

func (p *countingProvider) PatchPolicy(ctx context.Context, enterprise, id string, pol amapi.Policy) (string, error) {
	p.mu.Lock()
	p.patches++
	p.mu.Unlock()
	return p.Fake.PatchPolicy(ctx, enterprise, id, pol)
}

func (p *countingProvider) count() int { p.mu.Lock(); defer p.mu.Unlock(); return p.patches }

// reapplyEnv: org A with a work-profile device (Android Management API)
// and a native device admin device (agent), org B with an agent device.
type reapplyEnv struct {
	store     reapplyBackend
	svc       *android.Service
	reapplier *android.Reapplier
	provider  *countingProvider
	orgA      storage.OrgID
	orgB      storage.OrgID
	managed   android.Device
	legacy    android.Device
	other     android.Device
}

var reapplyNow = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

// baseRequirements is what the devices enroll under.
var baseRequirements = policy.Requirements{
	Passcode: policy.Passcode{Required: true, MinLength: 6},
	Android:  policy.AndroidRequirements{Modes: policy.Modes{WorkProfile: true, DeviceAdmin: true}},
}

// reevaluate decides for d's user under a one-policy org requiring req, as
// a re-application after a policy change does.
func reevaluate(t *testing.T, org storage.OrgID, req policy.Requirements, d android.Device) policy.Decision {
	t.Helper()
	set, err := policy.NewSet(org, []policy.Policy{{
		ID: "pol_android", Org: org, Name: "Staff", Priority: 1, Groups: []string{"staff"},
		Rules: map[policy.Platform]policy.Rule{policy.Android: {Action: policy.Require, Requirements: req}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := set.Reevaluate(policy.User{ID: d.UserID, Groups: []string{"staff"}}, android.ReapplyFacts(d))
	if err != nil {
		t.Fatal(err)
	}
	return dec
}

func newReapplyEnv(t *testing.T, store reapplyBackend) *reapplyEnv {
	t.Helper()
	ctx := t.Context()
	e := &reapplyEnv{store: store, provider: &countingProvider{Fake: amapi.NewFake()}}
	clock := func() time.Time { return reapplyNow }
	e.svc = android.New(store, inventory.New(store, inventory.WithClock(clock)), store, android.WithClock(clock),
		android.WithAgentURL("https://mdm.example.com/enroll"),
		android.WithProvider(e.provider, "enterprises/E1", android.GoogleDPC(android.EncodeChecksum([32]byte{1}))))
	e.reapplier = android.NewReapplier(e.svc, store)
	for i, o := range []*storage.OrgID{&e.orgA, &e.orgB} {
		*o = storage.NewOrgID()
		if _, err := store.CreateOrg(ctx, storage.Org{ID: *o, Name: fmt.Sprintf("org-%d", i), DisplayName: "Acme"},
			storage.AuditEntry{Org: *o, Time: reapplyNow, Actor: "system", Action: "org.create"}); err != nil {
			t.Fatal(err)
		}
	}
	decide := func(org storage.OrgID, d policy.Device) policy.Decision {
		set, err := policy.NewSet(org, []policy.Policy{{ID: "pol_android", Org: org, Name: "Staff", Priority: 1, Groups: []string{"staff"},
			Rules: map[policy.Platform]policy.Rule{policy.Android: {Action: policy.Require, Requirements: baseRequirements}}}})
		if err != nil {
			t.Fatal(err)
		}
		d.Platform = policy.Android
		dec, err := set.Evaluate(policy.User{ID: "bob", Groups: []string{"staff"}}, d)
		if err != nil {
			t.Fatal(err)
		}
		return dec
	}
	token := func(org storage.OrgID, dec policy.Decision) android.Issued {
		iss, err := e.svc.CreateToken(ctx, "user:bob", android.TokenRequest{Org: org, UserID: "bob", Decision: dec, Ownership: inventory.OwnershipPersonal})
		if err != nil {
			t.Fatal(err)
		}
		return iss
	}
	// The work-profile device enrolls through Google.
	iss := token(e.orgA, decide(e.orgA, policy.Device{OSVersion: "14", APILevel: 34, WorkProfile: true}))
	name := "enterprises/E1/devices/d1"
	e.provider.SetDevice(name, []byte(`{"enrollmentTokenData":"`+iss.Token.ID+`"}`))
	var err error
	if e.managed, err = e.svc.EnrollManaged(ctx, e.orgA, name); err != nil {
		t.Fatal(err)
	}
	// The legacy devices enroll through the agent.
	agent := func(org storage.OrgID, ident string) android.Device {
		iss := token(org, decide(org, policy.Device{OSVersion: "9", APILevel: 28}))
		en, err := e.svc.Enroll(ctx, android.EnrollRequest{Token: iss.Value, Identifier: ident})
		if err != nil {
			t.Fatal(err)
		}
		return en.Device
	}
	e.legacy = agent(e.orgA, "android-legacy-1")
	e.other = agent(e.orgB, "android-legacy-2")
	return e
}

func (e *reapplyEnv) providerPolicy(t *testing.T) amapi.Policy {
	t.Helper()
	p, ok := e.provider.Policy(e.managed.ProviderPolicy)
	if !ok {
		t.Fatalf("no provider policy %s", e.managed.ProviderPolicy)
	}
	return p
}

func sharing(p amapi.Policy) amapi.CrossProfileDataSharing {
	if p.CrossProfilePolicies == nil {
		return ""
	}
	return p.CrossProfilePolicies.CrossProfileDataSharing
}

func minLengthCall(t *testing.T, ap android.AgentPolicy) int64 {
	t.Helper()
	for _, c := range ap.Calls {
		if c.Method == "setPasswordMinimumLength" {
			return c.Value
		}
	}
	t.Fatalf("agent policy %+v sets no minimum length", ap)
	return 0
}

func TestReapplyAndroid(t *testing.T) {
	for name, open := range reapplyBackends() {
		t.Run(name, func(t *testing.T) {
			t.Run("WorkProfileSharingToggled", func(t *testing.T) {
				e := newReapplyEnv(t, open(t))
				if got := sharing(e.providerPolicy(t)); got != amapi.DataSharingAllowed {
					t.Fatalf("enrolled with sharing %q", got)
				}
				before := e.provider.count()
				blocked := baseRequirements
				blocked.DataSeparation.BlockWorkToPersonal = true
				got, err := e.reapplier.Apply(t.Context(), e.orgA, e.managed.ID, reevaluate(t, e.orgA, blocked, e.managed), "admin:test")
				if err != nil || got != android.ReapplyUpdated {
					t.Fatalf("Apply = %q, %v", got, err)
				}
				if got := sharing(e.providerPolicy(t)); got != amapi.DataSharingWorkToPersonalBlock {
					t.Errorf("provider policy sharing %q after blocking, want %q", got, amapi.DataSharingWorkToPersonalBlock)
				}
				if n := e.provider.count() - before; n != 1 {
					t.Errorf("%d patches, want 1", n)
				}
				d, err := e.store.AndroidDevice(t.Context(), e.orgA, e.managed.ID)
				if err != nil || !d.Requirements.DataSeparation.BlockWorkToPersonal {
					t.Errorf("stored requirements %+v, %v", d.Requirements, err)
				}
				// Unchanged: nothing patched, nothing written.
				audit := auditCount(t, e.store, e.orgA)
				got, err = e.reapplier.Apply(t.Context(), e.orgA, e.managed.ID, reevaluate(t, e.orgA, blocked, e.managed), "admin:test")
				if err != nil || got != android.ReapplyUnchanged {
					t.Fatalf("second Apply = %q, %v", got, err)
				}
				if n := e.provider.count() - before; n != 1 {
					t.Errorf("unchanged decision patched: %d patches", n)
				}
				if n := auditCount(t, e.store, e.orgA); n != audit {
					t.Errorf("unchanged decision wrote %d audit entries", n-audit)
				}
				// And back.
				if got, err := e.reapplier.Apply(t.Context(), e.orgA, e.managed.ID, reevaluate(t, e.orgA, baseRequirements, e.managed), "admin:test"); err != nil || got != android.ReapplyUpdated {
					t.Fatalf("Apply(allowed again) = %q, %v", got, err)
				}
				if got := sharing(e.providerPolicy(t)); got != amapi.DataSharingAllowed {
					t.Errorf("provider policy sharing %q after allowing again", got)
				}
			})
			t.Run("LegacyNextPoll", func(t *testing.T) {
				e := newReapplyEnv(t, open(t))
				raised := baseRequirements
				raised.Passcode.MinLength = 10
				before := e.provider.count()
				got, err := e.reapplier.Apply(t.Context(), e.orgA, e.legacy.ID, reevaluate(t, e.orgA, raised, e.legacy), "admin:test")
				if err != nil || got != android.ReapplyUpdated {
					t.Fatalf("Apply = %q, %v", got, err)
				}
				if e.provider.count() != before {
					t.Error("an agent device's policy went to the provider")
				}
				// The agent's next poll authenticates and compiles from the store.
				d, err := e.store.AndroidDevice(t.Context(), e.orgA, e.legacy.ID)
				if err != nil {
					t.Fatal(err)
				}
				ap, err := e.svc.AgentPolicy(t.Context(), d, 28)
				if err != nil {
					t.Fatal(err)
				}
				if n := minLengthCall(t, ap); n != 10 {
					t.Errorf("next poll sets minimum length %d, want 10", n)
				}
				// Org B's device, same user, is untouched.
				other, err := e.store.AndroidDevice(t.Context(), e.orgB, e.other.ID)
				if err != nil || other.Requirements != e.other.Requirements {
					t.Errorf("org B's device requirements %+v, %v", other.Requirements, err)
				}
				if _, err := e.store.AppliedPolicy(t.Context(), e.orgB, e.other.ID); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("org B's device has a record: %v", err)
				}
				if _, err := e.reapplier.Apply(t.Context(), e.orgB, e.legacy.ID, reevaluate(t, e.orgB, raised, e.legacy), "admin:test"); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("org B re-applied org A's device: %v", err)
				}
			})
			t.Run("OutOfPolicy", func(t *testing.T) {
				e := newReapplyEnv(t, open(t))
				// The work profile mode is switched off: the device cannot
				// change mode, so it stays as it is and is marked.
				noWorkProfile := baseRequirements
				noWorkProfile.Android.Modes = policy.Modes{DeviceAdmin: true}
				noWorkProfile.Passcode.MinLength = 12
				got, err := e.reapplier.Apply(t.Context(), e.orgA, e.managed.ID, reevaluate(t, e.orgA, noWorkProfile, e.managed), "admin:test")
				if err != nil || got != android.ReapplyOutOfPolicy {
					t.Fatalf("Apply(mode off) = %q, %v", got, err)
				}
				// The user is no longer targeted.
				denied := policy.Decision{Outcome: policy.Denied, Policy: policy.DefaultID, Reasons: []string{"the built-in default policy denies Android devices"}}
				got, err = e.reapplier.Apply(t.Context(), e.orgA, e.legacy.ID, denied, "admin:test")
				if err != nil || got != android.ReapplyOutOfPolicy {
					t.Fatalf("Apply(denied) = %q, %v", got, err)
				}
				for _, d := range []android.Device{e.managed, e.legacy} {
					rec, err := e.store.AppliedPolicy(t.Context(), e.orgA, d.ID)
					if err != nil || rec.OutOfPolicy == "" {
						t.Errorf("record of %s: %+v, %v; want out of policy", d.Mode, rec, err)
					}
					stored, _ := e.store.AndroidDevice(t.Context(), e.orgA, d.ID)
					if stored.Requirements != d.Requirements {
						t.Errorf("%s device's requirements changed while out of policy", d.Mode)
					}
					inv, _ := e.store.Device(t.Context(), e.orgA, d.ID)
					if inv.State != inventory.StateEnrolled {
						t.Errorf("%s device is %s, want still enrolled", d.Mode, inv.State)
					}
				}
			})
		})
	}
}

func auditCount(t *testing.T, s reapplyBackend, org storage.OrgID) int {
	t.Helper()
	page, err := s.ListAudit(t.Context(), org, storage.AuditQuery{Limit: storage.MaxAuditPage})
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Entries)
}
