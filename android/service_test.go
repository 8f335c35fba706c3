package android_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/android/amapi"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

type env struct {
	store *memory.Store
	svc   *android.Service
	fake  *amapi.Fake
	flaky *flakyProvider
	now   time.Time
}

// flakyProvider is the fake whose device deletions fail with deleteErr
// when set.
type flakyProvider struct {
	*amapi.Fake
	deleteErr error
}

func (p *flakyProvider) DeleteDevice(ctx context.Context, name string) error {
	if p.deleteErr != nil {
		return p.deleteErr
	}
	return p.Fake.DeleteDevice(ctx, name)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{store: memory.New(), fake: amapi.NewFake(), now: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
	o := storage.Org{ID: "org_acme", Name: "acme", DisplayName: "Acme"}
	if _, err := e.store.CreateOrg(context.Background(), o, storage.AuditEntry{Org: o.ID, Time: e.now, Actor: "system", Action: "org.create"}); err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return e.now }
	e.flaky = &flakyProvider{Fake: e.fake}
	e.svc = android.New(e.store, inventory.New(e.store, inventory.WithClock(clock)), e.store, android.WithClock(clock),
		android.WithAgentURL("https://mdm.example.com/enroll"),
		android.WithProvider(e.flaky, "enterprises/E1", android.GoogleDPC(android.EncodeChecksum([32]byte{1}))))
	return e
}

func (e *env) decision(t *testing.T, modes policy.Modes, d policy.Device) policy.Decision {
	t.Helper()
	set, err := policy.NewSet("org_acme", []policy.Policy{{
		ID: "pol_a", Org: "org_acme", Name: "A", Priority: 1, Groups: []string{"staff"},
		Rules: map[policy.Platform]policy.Rule{policy.Android: {Action: policy.Require,
			Requirements: policy.Requirements{Android: policy.AndroidRequirements{Modes: modes}}}},
	}})
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

func (e *env) token(t *testing.T, dec policy.Decision, oneTime bool, ttl time.Duration) android.Issued {
	t.Helper()
	iss, err := e.svc.CreateToken(context.Background(), "user:bob", android.TokenRequest{
		Org: "org_acme", UserID: "bob", Decision: dec, Ownership: inventory.OwnershipPersonal, OneTime: oneTime, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

func TestTokenRules(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	legacy := e.decision(t, policy.Modes{DeviceAdmin: true}, policy.Device{OSVersion: "9", APILevel: 28})
	managed := e.decision(t, policy.Modes{WorkProfile: true}, policy.Device{OSVersion: "14", APILevel: 34, WorkProfile: true})

	expiring := e.token(t, legacy, false, time.Minute)
	wp := e.token(t, managed, false, 0)
	multi := e.token(t, legacy, false, 0)
	tests := []struct {
		name  string
		token string
		after time.Duration
	}{
		{"expired", expiring.Value, 2 * time.Minute},
		{"a work-profile token on the agent channel", wp.Value, 0},
		{"garbage", "not-a-token", 0},
		{"right secret, wrong org", "b3JnX290aGVy." + multi.Value[len("b3JnX2FjbWU."):], 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.now = e.now.Add(tc.after)
			defer func() { e.now = e.now.Add(-tc.after) }()
			_, err := e.svc.Enroll(ctx, android.EnrollRequest{Token: tc.token, Identifier: "x"})
			if !errors.Is(err, android.ErrToken) {
				t.Errorf("Enroll = %v, want ErrToken", err)
			}
		})
	}
	for i := range 2 { // a multi-use token enrolls two devices
		if _, err := e.svc.Enroll(ctx, android.EnrollRequest{Token: multi.Value, Identifier: "dev" + string(rune('a'+i))}); err != nil {
			t.Fatalf("multi-use enrollment %d: %v", i, err)
		}
	}

	denied := e.decision(t, policy.Modes{DeviceAdmin: true}, policy.Device{OSVersion: "11", APILevel: 30})
	if _, err := e.svc.CreateToken(ctx, "user:bob", android.TokenRequest{Org: "org_acme", UserID: "bob", Decision: denied}); !errors.Is(err, android.ErrDenied) {
		t.Errorf("token for a denied decision: %v", err)
	}
	knox := e.decision(t, policy.Modes{Knox: true}, policy.Device{OSVersion: "9", APILevel: 28, Knox: true})
	if _, err := e.svc.CreateToken(ctx, "user:bob", android.TokenRequest{Org: "org_acme", UserID: "bob", Decision: knox}); err == nil {
		t.Error("a Knox token without a license source was issued")
	}
}

// TestProviderFailure: a command the provider refuses is failed, honestly,
// and the device stays where it was.
func TestProviderFailure(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	managed := e.decision(t, policy.Modes{WorkProfile: true}, policy.Device{OSVersion: "14", APILevel: 34, WorkProfile: true})
	iss := e.token(t, managed, true, 0)
	name := "enterprises/E1/devices/d1"
	e.fake.SetDevice(name, []byte(`{"enrollmentTokenData":"`+iss.Token.ID+`"}`))
	d, err := e.svc.EnrollManaged(ctx, "org_acme", name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.EnrollManaged(ctx, "org_acme", name); !errors.Is(err, android.ErrToken) {
		t.Errorf("second enrollment with a one-time token: %v", err)
	}
	_ = e.fake.DeleteDevice(ctx, name) // Google no longer knows the device
	c, err := e.svc.Lock(ctx, "admin:alice", "org_acme", d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != android.StatusFailed || c.Detail == "" {
		t.Errorf("lock = %+v, want failed with the provider's reason", c)
	}
	e.flaky.deleteErr = errors.New("provider unavailable")
	c, err = e.svc.Wipe(ctx, "admin:alice", "org_acme", d.ID)
	if err != nil || c.Status != android.StatusFailed || c.Wipe != android.WipeWorkData {
		t.Fatalf("wipe = %+v, %v; want a failed work-data wipe", c, err)
	}
	inv, _ := e.store.Device(ctx, "org_acme", d.ID)
	if inv.State != inventory.StateDeprovisioning {
		t.Errorf("state %s, want deprovisioning (the wipe is not done)", inv.State)
	}
	if _, err := e.svc.Lock(ctx, "admin:alice", "org_acme", d.ID); !errors.Is(err, android.ErrNotPermitted) {
		t.Errorf("lock of a deprovisioning device: %v", err)
	}
	if _, err := e.svc.Lock(ctx, "admin:alice", "org_other", d.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("lock from another org: %v", err)
	}
	// Retried once the provider is back: the device, which Google no
	// longer knows, has nothing of ours left.
	e.flaky.deleteErr = nil
	if c, err = e.svc.Wipe(ctx, "admin:alice", "org_acme", d.ID); err != nil || c.Status != android.StatusDone {
		t.Fatalf("retried wipe = %+v, %v; want done", c, err)
	}
	if inv, _ := e.store.Device(ctx, "org_acme", d.ID); inv.State != inventory.StateDeprovisioned {
		t.Errorf("state after the retried wipe %s, want deprovisioned", inv.State)
	}
}
