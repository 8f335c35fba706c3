package amapitest_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openomm/omm/android/amapi"
	"github.com/openomm/omm/android/amapi/amapitest"
)

const enterprise = "enterprises/LOCAL1"

type env struct {
	srv   *amapitest.Server
	now   time.Time
	mu    sync.Mutex
	notes []amapitest.Notification
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{now: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
	srv, err := amapitest.New(enterprise, amapitest.WithClock(func() time.Time { return e.now }),
		amapitest.WithNotifier(func(_ context.Context, n amapitest.Notification) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.notes = append(e.notes, n)
		}))
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	return e
}

// workPolicy is what the SDK compiles for a work profile, in short.
var workPolicy = amapi.Policy{
	Applications: []amapi.ApplicationPolicy{{PackageName: "com.example.mail", InstallType: amapi.ForceInstalled},
		{PackageName: "com.example.chat", InstallType: amapi.Available}},
	PlayStoreMode:        amapi.PlayStoreAllowList,
	CrossProfilePolicies: &amapi.CrossProfilePolicies{CrossProfileDataSharing: amapi.DataSharingWorkToPersonalBlock},
	StatusReportingSettings: &amapi.StatusReportingSettings{ApplicationReportsEnabled: true, SoftwareInfoEnabled: true,
		MemoryInfoEnabled: true, DeviceSettingsEnabled: true},
}

// enroll patches a policy, creates a token and enrolls a device with it.
func (e *env) enroll(t *testing.T, how amapitest.Provisioning, p amapi.Policy) (amapitest.Enrolled, string) {
	t.Helper()
	ctx := context.Background()
	pol, err := e.srv.PatchPolicy(ctx, enterprise, "p1", p)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.srv.CreateEnrollmentToken(ctx, enterprise, amapi.EnrollmentTokenRequest{PolicyName: pol, AdditionalData: "ours-1"})
	if err != nil {
		t.Fatal(err)
	}
	en, err := e.srv.Enroll(ctx, amapitest.Enrollment{Token: tok.Value, Provisioning: how, APILevel: 34, AndroidVersion: "14",
		StorageBytes: 128e9, Hardware: amapitest.Hardware{Brand: "google", Manufacturer: "Google", Model: "Pixel 8", SerialNumber: "SER1"},
		Apps: []amapitest.App{{PackageName: "org.personal.diary", DisplayName: "Diary", VersionName: "3.0"}}})
	if err != nil {
		t.Fatal(err)
	}
	return en, tok.Value
}

func resource(t *testing.T, srv *amapitest.Server, name string) map[string]any {
	t.Helper()
	raw, err := srv.Device(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPolicyValidatedAgainstGoogleSchema(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tests := []struct {
		name string
		p    amapi.Policy
		ok   bool
	}{
		{"work profile policy", workPolicy, true},
		{"empty policy", amapi.Policy{}, true},
		{"unknown enum value", amapi.Policy{PlayStoreMode: "EVERYTHING"}, false},
		{"unspecified value", amapi.Policy{EncryptionPolicy: "ENCRYPTION_POLICY_UNSPECIFIED"}, false},
		{"wrong duration format", amapi.Policy{PasswordPolicies: []amapi.PasswordRequirements{{PasswordExpirationTimeout: "90 days"}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, err := e.srv.PatchPolicy(ctx, enterprise, "p_"+strings.ReplaceAll(tt.name, " ", "_"), tt.p)
			if tt.ok != (err == nil) || (!tt.ok && !errors.Is(err, amapi.ErrInvalid)) {
				t.Fatalf("PatchPolicy = %q, %v; want ok %v", name, err, tt.ok)
			}
			if _, stored := e.srv.Policy(enterprise + "/policies/p_" + strings.ReplaceAll(tt.name, " ", "_")); stored != tt.ok {
				t.Errorf("stored = %v after ok %v", stored, tt.ok)
			}
		})
	}
	if _, err := e.srv.PatchPolicy(ctx, "enterprises/OTHER", "p", amapi.Policy{}); !errors.Is(err, amapi.ErrNotFound) {
		t.Errorf("another enterprise: %v", err)
	}
	if _, err := e.srv.PatchPolicy(ctx, enterprise, "a/b", amapi.Policy{}); !errors.Is(err, amapi.ErrInvalid) {
		t.Errorf("bad policy id: %v", err)
	}
}

func TestEnrollmentTokens(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	pol, err := e.srv.PatchPolicy(ctx, enterprise, "p", workPolicy)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(r amapi.EnrollmentTokenRequest) string {
		t.Helper()
		r.PolicyName = pol
		tok, err := e.srv.CreateEnrollmentToken(ctx, enterprise, r)
		if err != nil {
			t.Fatal(err)
		}
		return tok.Value
	}
	oneTime := mk(amapi.EnrollmentTokenRequest{OneTimeOnly: true})
	short := mk(amapi.EnrollmentTokenRequest{Duration: 2 * time.Minute})
	multi := mk(amapi.EnrollmentTokenRequest{})
	enroll := func(tok string) error {
		_, err := e.srv.Enroll(ctx, amapitest.Enrollment{Token: tok, Provisioning: amapitest.ProvisionLink, APILevel: 33})
		return err
	}
	if err := enroll(oneTime); err != nil {
		t.Fatal(err)
	}
	if err := enroll(oneTime); !errors.Is(err, amapi.ErrInvalid) {
		t.Errorf("one-time token reused: %v", err)
	}
	if err := enroll(multi); err != nil {
		t.Fatal(err)
	}
	if err := enroll(multi); err != nil {
		t.Errorf("multi-use token second use: %v", err)
	}
	e.now = e.now.Add(3 * time.Minute)
	if err := enroll(short); !errors.Is(err, amapi.ErrInvalid) {
		t.Errorf("expired token: %v", err)
	}
	if err := enroll("NOSUCHTOKEN"); !errors.Is(err, amapi.ErrNotFound) {
		t.Errorf("unknown token: %v", err)
	}
	bad := []amapi.EnrollmentTokenRequest{
		{PolicyName: enterprise + "/policies/nope"},
		{PolicyName: pol, Duration: time.Second},
		{PolicyName: pol, AdditionalData: strings.Repeat("x", amapitest.MaxAdditionalData+1)},
	}
	for _, r := range bad {
		if _, err := e.srv.CreateEnrollmentToken(ctx, enterprise, r); err == nil {
			t.Errorf("token %+v created", r)
		}
	}
	if n := len(e.notes); n != 3 {
		t.Errorf("%d notifications, want 3 ENROLLMENT", n)
	}
}

// TestDeviceResource: the resource carries the token data, the mode the
// provisioning implies, and only the sections the policy switches on; a
// work profile reports its own apps only.
func TestDeviceResource(t *testing.T) {
	tests := []struct {
		how        amapitest.Provisioning
		mode, own  string
		personalIn bool
	}{
		{amapitest.ProvisionLink, amapitest.ProfileOwner, amapitest.PersonallyOwned, false},
		{amapitest.ProvisionQR, amapitest.DeviceOwner, amapitest.CompanyOwned, true},
	}
	for _, tt := range tests {
		t.Run(string(tt.how), func(t *testing.T) {
			e := newEnv(t)
			en, _ := e.enroll(t, tt.how, workPolicy)
			r := resource(t, e.srv, en.Name)
			if r["managementMode"] != tt.mode || r["ownership"] != tt.own || r["enrollmentTokenData"] != "ours-1" {
				t.Errorf("resource %v", r)
			}
			if _, ok := r["networkInfo"]; ok {
				t.Error("network info reported though the policy never asks for it")
			}
			var pkgs []string
			for _, a := range r["applicationReports"].([]any) {
				pkgs = append(pkgs, a.(map[string]any)["packageName"].(string))
			}
			if !slices.Contains(pkgs, "com.example.mail") || slices.Contains(pkgs, "com.example.chat") ||
				slices.Contains(pkgs, "org.personal.diary") != tt.personalIn {
				t.Errorf("apps %v", pkgs)
			}

			quiet := newEnv(t)
			en, _ = quiet.enroll(t, tt.how, amapi.Policy{})
			for _, k := range []string{"applicationReports", "softwareInfo", "memoryInfo", "deviceSettings"} {
				if _, ok := resource(t, quiet.srv, en.Name)[k]; ok {
					t.Errorf("%s reported without statusReportingSettings", k)
				}
			}
		})
	}
}

// TestWipeSemantics is Google's: WIPE and delete by ownership and mode,
// relinquishing only for company-owned work profiles, and a gone device
// answers not found.
func TestWipeSemantics(t *testing.T) {
	tests := []struct {
		name   string
		how    amapitest.Provisioning
		act    func(ctx context.Context, s *amapitest.Server, name string) error
		effect amapitest.Effect
		fails  bool
	}{
		{"WIPE on a work profile", amapitest.ProvisionLink, issue(amapi.CommandWipe), amapitest.EffectWorkProfileRemoved, false},
		{"WIPE on a fully managed device", amapitest.ProvisionQR, issue(amapi.CommandWipe), amapitest.EffectFactoryReset, false},
		{"delete a work profile", amapitest.ProvisionLink, del, amapitest.EffectWorkProfileRemoved, false},
		{"delete a fully managed device", amapitest.ProvisionQR, del, amapitest.EffectFactoryReset, false},
		{"relinquish a fully managed device", amapitest.ProvisionQR, issue("RELINQUISH_OWNERSHIP"), "", true},
		{"relinquish a personal work profile", amapitest.ProvisionLink, issue("RELINQUISH_OWNERSHIP"), "", true},
		{"reboot a work profile", amapitest.ProvisionLink, issue("REBOOT"), "", true},
		{"lock", amapitest.ProvisionLink, issue(amapi.CommandLock), "", false},
		{"unspecified command", amapitest.ProvisionQR, issue("COMMAND_TYPE_UNSPECIFIED"), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t)
			en, _ := e.enroll(t, tt.how, workPolicy)
			err := tt.act(ctx, e.srv, en.Name)
			if tt.fails != (err != nil) {
				t.Fatalf("act = %v, want failure %v", err, tt.fails)
			}
			if tt.fails && !errors.Is(err, amapi.ErrInvalid) {
				t.Errorf("refusal %v does not wrap ErrInvalid", err)
			}
			v, err := e.srv.DeviceView(en.Secret)
			if err != nil {
				t.Fatal(err)
			}
			if v.Wiped != tt.effect {
				t.Errorf("effect %q, want %q", v.Wiped, tt.effect)
			}
			_, gerr := e.srv.Device(ctx, en.Name)
			if gone := errors.Is(gerr, amapi.ErrNotFound); gone != (tt.effect != "") {
				t.Errorf("Device after = %v", gerr)
			}
			keeps := len(v.PersonalApps) == 1
			if keeps == (tt.effect == amapitest.EffectFactoryReset) {
				t.Errorf("personal apps %v after %q", v.PersonalApps, tt.effect)
			}
			if tt.effect != "" {
				if _, err := e.srv.IssueCommand(ctx, en.Name, amapi.Command{Type: amapi.CommandLock}); !errors.Is(err, amapi.ErrNotFound) {
					t.Errorf("lock after wipe: %v", err)
				}
				if v.Policy != nil {
					t.Error("a wiped device still shows its policy")
				}
			}
		})
	}
}

func issue(c amapi.CommandType) func(context.Context, *amapitest.Server, string) error {
	return func(ctx context.Context, s *amapitest.Server, name string) error {
		_, err := s.IssueCommand(ctx, name, amapi.Command{Type: c})
		return err
	}
}

func del(ctx context.Context, s *amapitest.Server, name string) error {
	return s.DeleteDevice(ctx, name)
}

// TestPolicyChangeReachesDevice: a patched policy is what the device
// applies next.
func TestPolicyChangeReachesDevice(t *testing.T) {
	e := newEnv(t)
	en, _ := e.enroll(t, amapitest.ProvisionLink, workPolicy)
	changed := workPolicy
	changed.CrossProfilePolicies = &amapi.CrossProfilePolicies{CrossProfileDataSharing: amapi.DataSharingAllowed}
	if _, err := e.srv.PatchPolicy(context.Background(), enterprise, "p1", changed); err != nil {
		t.Fatal(err)
	}
	v, err := e.srv.DeviceView(en.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if v.Policy == nil || v.Policy.CrossProfilePolicies.CrossProfileDataSharing != amapi.DataSharingAllowed {
		t.Errorf("device applies %+v", v.Policy)
	}
	if _, err := e.srv.DeviceView("wrong"); !errors.Is(err, amapi.ErrNotFound) {
		t.Errorf("view with a wrong secret: %v", err)
	}
}

func TestReport(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	en, _ := e.enroll(t, amapitest.ProvisionQR, workPolicy)
	e.now = e.now.Add(time.Hour)
	if err := e.srv.Report(ctx, en.Secret, []amapitest.App{{PackageName: "org.personal.game"}}); err != nil {
		t.Fatal(err)
	}
	r := resource(t, e.srv, en.Name)
	if r["lastStatusReportTime"] != "2026-11-27T10:00:00Z" || !strings.Contains(mustJSON(t, r), "org.personal.game") {
		t.Errorf("after report %v", r)
	}
	if e.notes[len(e.notes)-1] != (amapitest.Notification{Type: amapitest.NotifyStatusReport, Device: en.Name}) {
		t.Errorf("notifications %v", e.notes)
	}
	if err := e.srv.Report(ctx, en.Secret, []amapitest.App{{PackageName: ""}}); !errors.Is(err, amapi.ErrInvalid) {
		t.Errorf("report of a nameless app: %v", err)
	}
	if err := e.srv.Report(ctx, "nope", nil); !errors.Is(err, amapi.ErrNotFound) {
		t.Errorf("report with a wrong secret: %v", err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The fake satisfies the SDK's Provider interface.
var _ amapi.Provider = (*amapitest.Server)(nil)
