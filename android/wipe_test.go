package android_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/android/amapi/amapitest"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

type knoxKey string

func (k knoxKey) KnoxLicense(context.Context, storage.OrgID) (string, error) { return string(k), nil }

// wipeEnv enrolls devices on both channels: the agent's, and the Android
// Management API through the local fake, whose ENROLLMENT notification
// reaches EnrollNotified as Google's would.
type wipeEnv struct {
	store  *memory.Store
	svc    *android.Service
	fake   *amapitest.Server
	now    time.Time
	last   android.Device
	err    error
	secret string // the last fake-enrolled device's
	synced inventory.IngestResult
}

func newWipeEnv(t *testing.T, opts ...android.Option) *wipeEnv {
	t.Helper()
	e := &wipeEnv{store: memory.New(), now: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
	clock := func() time.Time { return e.now }
	for _, o := range []storage.Org{{ID: "org_acme", Name: "acme", DisplayName: "Acme"}, {ID: "org_other", Name: "other", DisplayName: "Other"}} {
		if _, err := e.store.CreateOrg(context.Background(), o, storage.AuditEntry{Org: o.ID, Time: e.now, Actor: "system", Action: "org.create"}); err != nil {
			t.Fatal(err)
		}
	}
	fake, err := amapitest.New("enterprises/LOCAL", amapitest.WithClock(clock),
		amapitest.WithNotifier(func(ctx context.Context, n amapitest.Notification) {
			switch n.Type {
			case amapitest.NotifyEnrollment:
				e.last, e.err = e.svc.EnrollNotified(ctx, n.Device)
			case amapitest.NotifyStatusReport:
				e.synced, e.err = e.svc.SyncNotified(ctx, n.Device)
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	e.fake = fake
	e.svc = android.New(e.store, inventory.New(e.store, inventory.WithClock(clock)), e.store, append([]android.Option{android.WithClock(clock),
		android.WithAgentURL("https://mdm.example.com/android/agent"), android.WithKnoxLicenses(knoxKey("KNOX-KEY")),
		android.WithProvider(fake, fake.Enterprise(), android.GoogleDPC(android.EncodeChecksum([32]byte{7})))}, opts...)...)
	return e
}

// enroll enrolls one device of the given mode and ownership under a
// policy that does or does not allow a full wipe.
func (e *wipeEnv) enroll(t *testing.T, org storage.OrgID, mode policy.Mode, own inventory.Ownership, fullWipe bool) android.Device {
	t.Helper()
	iss, err := e.issue(t, org, mode, own, fullWipe)
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.use(t, iss, mode, own)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// issue creates bob's one-time token for a device of the given mode and
// ownership.
func (e *wipeEnv) issue(t *testing.T, org storage.OrgID, mode policy.Mode, own inventory.Ownership, fullWipe bool) (android.Issued, error) {
	t.Helper()
	facts := policy.Device{Platform: policy.Android, OSVersion: "9", APILevel: 28, Ownership: policy.Ownership(own)}
	modes := policy.Modes{}
	switch mode {
	case policy.ModeWorkProfile:
		facts.OSVersion, facts.APILevel, facts.WorkProfile, modes.WorkProfile = "14", 34, true, true
	case policy.ModeKnox:
		facts.Knox, facts.Manufacturer, modes.Knox = true, "samsung", true
	default:
		modes.DeviceAdmin = true
	}
	set, err := policy.NewSet(org, []policy.Policy{{ID: "pol_a", Org: org, Name: "A", Priority: 1, Groups: []string{"staff"},
		Rules: map[policy.Platform]policy.Rule{policy.Android: {Action: policy.Require,
			Requirements: policy.Requirements{AllowFullWipe: fullWipe, Android: policy.AndroidRequirements{Modes: modes}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := set.Evaluate(policy.User{ID: "bob", Groups: []string{"staff"}}, facts)
	if err != nil {
		t.Fatal(err)
	}
	return e.svc.CreateToken(context.Background(), "user:bob", android.TokenRequest{Org: org, UserID: "bob", Decision: dec, Ownership: own, OneTime: true})
}

// use enrolls a device with the token: through the agent, or through the
// fake Android Management API, whose notification reaches EnrollNotified.
func (e *wipeEnv) use(t *testing.T, iss android.Issued, mode policy.Mode, own inventory.Ownership) (android.Device, error) {
	t.Helper()
	ctx := context.Background()
	if iss.Plan.Channel == android.ChannelAgent {
		enr, err := e.svc.Enroll(ctx, android.EnrollRequest{Token: iss.Value, Identifier: "aid-" + string(mode)})
		return enr.Device, err
	}
	how := amapitest.ProvisionLink
	if iss.QR != nil {
		how = amapitest.ProvisionQR
	}
	e.last, e.err = android.Device{}, nil
	en, err := e.fake.Enroll(ctx, amapitest.Enrollment{Token: iss.Value, Provisioning: how, APILevel: 34,
		Hardware: amapitest.Hardware{SerialNumber: "S-" + string(own)}})
	if err != nil {
		t.Fatal(err)
	}
	e.secret = en.Secret
	return e.last, e.err
}

type wipeCall struct {
	name string
	fn   func(context.Context, string, storage.OrgID, string) (android.Command, error)
	want android.WipeKind
}

// TestWipeChoices is the table of who may ask for what: the default wipe,
// work data only, and a factory reset, by enrollment mode, ownership and
// policy. A refusal stores no command and leaves the device enrolled.
func TestWipeChoices(t *testing.T) {
	const no = android.WipeKind("refused")
	tests := []struct {
		mode             policy.Mode
		own              inventory.Ownership
		fullWipe         bool
		def, work, reset android.WipeKind
	}{
		{policy.ModeKnox, inventory.OwnershipCompany, true, android.WipeFactoryReset, android.WipeWorkData, android.WipeFactoryReset},
		{policy.ModeKnox, inventory.OwnershipCompany, false, android.WipeWorkData, android.WipeWorkData, no},
		{policy.ModeDeviceAdmin, inventory.OwnershipCompany, true, android.WipeFactoryReset, android.WipeWorkData, android.WipeFactoryReset},
		{policy.ModeDeviceAdmin, inventory.OwnershipPersonal, true, android.WipeWorkData, android.WipeWorkData, no},
		{policy.ModeWorkProfile, inventory.OwnershipPersonal, true, android.WipeWorkData, android.WipeWorkData, no},
		{policy.ModeWorkProfile, inventory.OwnershipCompany, true, android.WipeFactoryReset, no, android.WipeFactoryReset},
		{policy.ModeWorkProfile, inventory.OwnershipCompany, false, no, no, no},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s/fullwipe=%v", tt.mode, tt.own, tt.fullWipe), func(t *testing.T) {
			e := newWipeEnv(t)
			calls := []wipeCall{{"Wipe", e.svc.Wipe, tt.def}, {"RemoveWorkData", e.svc.RemoveWorkData, tt.work},
				{"FactoryReset", e.svc.FactoryReset, tt.reset}}
			for _, c := range calls {
				t.Run(c.name, func(t *testing.T) {
					ctx := context.Background()
					d := e.enroll(t, "org_acme", tt.mode, tt.own, tt.fullWipe)
					if _, err := c.fn(ctx, "admin:alice", "org_other", d.ID); !errors.Is(err, storage.ErrNotFound) {
						t.Errorf("from another org: %v", err)
					}
					cmd, err := c.fn(ctx, "admin:alice", "org_acme", d.ID)
					inv, _ := e.store.Device(ctx, "org_acme", d.ID)
					if c.want == no {
						if !errors.Is(err, android.ErrNotPermitted) {
							t.Fatalf("= %+v, %v; want ErrNotPermitted", cmd, err)
						}
						if inv.State != inventory.StateEnrolled {
							t.Errorf("state %s after a refusal", inv.State)
						}
						if p, _ := e.store.PendingAndroidCommands(ctx, "org_acme", d.ID); len(p) != 0 {
							t.Errorf("a refusal stored %+v", p)
						}
						return
					}
					if err != nil || cmd.Wipe != c.want {
						t.Fatalf("= %+v, %v; want a %s wipe", cmd, err, c.want)
					}
					if d.Channel() == android.ChannelAgent {
						// The agent has not answered: pending, shown honestly.
						if cmd.Status != android.StatusPending || inv.State != inventory.StateDeprovisioning {
							t.Errorf("command %s, device %s; want pending, deprovisioning", cmd.Status, inv.State)
						}
						if cmd, err = e.svc.Acknowledge(ctx, d, cmd.ID, android.StatusDone, ""); err != nil {
							t.Fatal(err)
						}
						inv, _ = e.store.Device(ctx, "org_acme", d.ID)
					}
					want := inventory.StateDeprovisioned
					if c.want == android.WipeFactoryReset {
						want = inventory.StateWiped
					}
					if cmd.Status != android.StatusDone || inv.State != want {
						t.Errorf("command %s, device %s; want done, %s", cmd.Status, inv.State, want)
					}
					if d.Channel() == android.ChannelAMAPI {
						// What Google did to the phone matches what was asked.
						v, err := e.fake.DeviceView(e.secret)
						effect := amapitest.EffectWorkProfileRemoved
						if c.want == android.WipeFactoryReset {
							effect = amapitest.EffectFactoryReset
						}
						if err != nil || v.Wiped != effect {
							t.Errorf("on the phone: %+v, %v; want %s", v, err, effect)
						}
					}
				})
			}
		})
	}
}

// TestEnrollNotifiedTenant: the token data names the org, so a
// notification enrolls into the right org, and EnrollManaged for another
// org is refused.
func TestEnrollNotifiedTenant(t *testing.T) {
	e := newWipeEnv(t)
	d := e.enroll(t, "org_other", policy.ModeWorkProfile, inventory.OwnershipPersonal, false)
	if d.Org != "org_other" {
		t.Fatalf("enrolled into %s", d.Org)
	}
	if _, err := e.store.Device(context.Background(), "org_acme", d.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("visible to org_acme: %v", err)
	}
	// A second notification for the same device cannot enroll it again,
	// nor into another org.
	for _, org := range []storage.OrgID{"org_acme", "org_other"} {
		if _, err := e.svc.EnrollManaged(context.Background(), org, d.ProviderName); !errors.Is(err, android.ErrToken) {
			t.Errorf("EnrollManaged(%s) again: %v", org, err)
		}
	}
}

// TestSyncNotified: a STATUS_REPORT notification stores what Google
// reports of the device, through the privacy filter, in the org its token
// names; a device the service does not know is not found.
func TestSyncNotified(t *testing.T) {
	ctx := context.Background()
	e := newWipeEnv(t)
	d := e.enroll(t, "org_other", policy.ModeWorkProfile, inventory.OwnershipCompany, true)
	e.now = e.now.Add(time.Hour)
	if err := e.fake.Report(ctx, e.secret, []amapitest.App{{PackageName: "org.example.game", DisplayName: "Game"}}); err != nil {
		t.Fatal(err)
	}
	if e.err != nil || e.synced.Apps < 0 {
		t.Fatalf("sync = %+v, %v", e.synced, e.err)
	}
	apps, err := e.store.DeviceApps(ctx, "org_other", d.ID)
	if err != nil || !slices.ContainsFunc(apps, func(a inventory.App) bool { return a.Identifier == "org.example.game" }) {
		t.Errorf("apps %+v, %v; want the reported game", apps, err)
	}
	if _, err := e.svc.SyncNotified(ctx, "enterprises/LOCAL/devices/unknown"); err == nil {
		t.Error("an unknown device was synced")
	}
	// A wiped device is no longer Google's to report.
	if _, err := e.svc.FactoryReset(ctx, "admin:it", "org_other", d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SyncNotified(ctx, d.ProviderName); err == nil {
		t.Error("a wiped device was synced")
	}
}

// TestResendWipes: a wipe stored but never sent (the process stopped in
// between) reaches the provider when resent, once.
func TestResendWipes(t *testing.T) {
	ctx := context.Background()
	e := newWipeEnv(t)
	d := e.enroll(t, "org_acme", policy.ModeWorkProfile, inventory.OwnershipPersonal, false)
	c := android.Command{ID: android.NewCommandID(), Org: "org_acme", DeviceID: d.ID, Kind: android.CommandWipe,
		Wipe: android.WipeWorkData, Status: android.StatusPending}
	entry := storage.AuditEntry{Org: "org_acme", Time: e.now, Actor: "system:user-lifecycle", Action: "android.command.create", Target: "device:" + d.ID}
	state := entry
	state.Action = "device.state.deprovisioning"
	if _, err := e.store.StartAndroidWipe(ctx, c, entry, state); err != nil {
		t.Fatal(err)
	}
	if v, _ := e.fake.DeviceView(e.secret); v.Wiped != "" {
		t.Fatalf("stored wipe reached the device already: %+v", v)
	}
	n, err := e.svc.ResendWipes(ctx, "org_acme", d.ID)
	if err != nil || n != 1 {
		t.Fatalf("ResendWipes = %d, %v", n, err)
	}
	if v, _ := e.fake.DeviceView(e.secret); v.Wiped != amapitest.EffectWorkProfileRemoved {
		t.Errorf("after the resend the device is %+v", v)
	}
	inv, _ := e.store.Device(ctx, "org_acme", d.ID)
	got, _ := e.store.AndroidCommand(ctx, "org_acme", c.ID)
	if inv.State != inventory.StateDeprovisioned || got.Status != android.StatusDone {
		t.Errorf("after the resend: device %s, command %s", inv.State, got.Status)
	}
	if n, err := e.svc.ResendWipes(ctx, "org_acme", d.ID); err != nil || n != 0 {
		t.Errorf("second ResendWipes = %d, %v; want nothing left", n, err)
	}
	agent := e.enroll(t, "org_acme", policy.ModeDeviceAdmin, inventory.OwnershipPersonal, false)
	if n, err := e.svc.ResendWipes(ctx, "org_acme", agent.ID); err != nil || n != 0 {
		t.Errorf("ResendWipes of an agent device = %d, %v; the agent fetches its commands", n, err)
	}
}
