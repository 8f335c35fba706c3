package android_test

import (
	"context"
	"errors"
	"testing"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/auth/authtest"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// An unused token of a user who has left enrolls nothing, on either
// channel: refused before it is spent, no device registered, no Knox
// licence or policy handed out; a work profile Google already created is
// deleted there. No new token is issued to such a user either.
func TestInactiveUserRefused(t *testing.T) {
	for _, mode := range []policy.Mode{policy.ModeDeviceAdmin, policy.ModeKnox, policy.ModeWorkProfile} {
		for _, leave := range []string{"deactivated", "deleted"} {
			t.Run(string(mode)+"/"+leave, func(t *testing.T) {
				dir := &authtest.Directory{}
				dir.AddUser(auth.User{Org: "org_acme", ID: "bob", Username: "bob"})
				e := newWipeEnv(t, android.WithUsers(dir))
				iss, err := e.issue(t, "org_acme", mode, inventory.OwnershipPersonal, false)
				if err != nil {
					t.Fatal(err)
				}
				if leave == "deleted" {
					dir.Remove("org_acme", "bob")
				} else if err := dir.SetStatus("org_acme", "bob", auth.StatusDeactivated); err != nil {
					t.Fatal(err)
				}
				_, err = e.use(t, iss, mode, inventory.OwnershipPersonal)
				if !errors.Is(err, android.ErrToken) || !errors.Is(err, auth.ErrUserInactive) {
					t.Fatalf("enrollment of a user who left: %v, want ErrToken and ErrUserInactive", err)
				}
				tok, err := e.store.AndroidToken(context.Background(), "org_acme", iss.Token.ID)
				if err != nil || tok.Uses != 0 {
					t.Errorf("token after the refusal: %d uses, %v", tok.Uses, err)
				}
				page, err := e.store.ListDevices(context.Background(), "org_acme", inventory.DeviceQuery{Limit: 10})
				if err != nil || len(page.Devices) != 0 {
					t.Errorf("refused enrollment registered %d devices (%v)", len(page.Devices), err)
				}
				if iss.Plan.Channel == android.ChannelAMAPI {
					v, err := e.fake.DeviceView(e.secret)
					if err != nil {
						t.Fatal(err)
					}
					if v.Policy != nil {
						t.Errorf("the refused work profile keeps the org's policy at the provider: %+v", v)
					}
				}
				if _, err := e.issue(t, "org_acme", mode, inventory.OwnershipPersonal, false); !errors.Is(err, auth.ErrUserInactive) {
					t.Errorf("a new token for a user who left: %v", err)
				}
			})
		}
	}
}

// A token revoked when its user left stays refused should the user come
// back: they enroll with a new one.
func TestRevokedTokenRefused(t *testing.T) {
	for _, mode := range []policy.Mode{policy.ModeKnox, policy.ModeWorkProfile} {
		t.Run(string(mode), func(t *testing.T) {
			dir := &authtest.Directory{}
			dir.AddUser(auth.User{Org: "org_acme", ID: "bob", Username: "bob"})
			e := newWipeEnv(t, android.WithUsers(dir))
			iss, err := e.issue(t, "org_acme", mode, inventory.OwnershipPersonal, false)
			if err != nil {
				t.Fatal(err)
			}
			n, err := e.store.RevokeUserTokens(context.Background(), "org_acme", "bob", e.now,
				storage.AuditEntry{Org: "org_acme", Time: e.now, Actor: "admin:root", Action: "user.credentials.revoke", Target: "user:bob"})
			if err != nil || n != 1 {
				t.Fatalf("revoke: %d, %v", n, err)
			}
			if _, err := e.use(t, iss, mode, inventory.OwnershipPersonal); !errors.Is(err, android.ErrToken) {
				t.Errorf("enrollment with a revoked token: %v, want ErrToken", err)
			}
			if iss.Plan.Channel == android.ChannelAMAPI {
				if v, err := e.fake.DeviceView(e.secret); err != nil || v.Policy != nil {
					t.Errorf("a work profile enrolled with a revoked token keeps the org's policy: %+v, %v", v, err)
				}
			}
			if _, err := e.use(t, must(e.issue(t, "org_acme", mode, inventory.OwnershipPersonal, false)), mode, inventory.OwnershipPersonal); err != nil {
				t.Errorf("enrollment with a new token: %v", err)
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// A repeated ENROLLMENT notification of a device we registered is refused
// (its one-time token is spent) without touching the device.
func TestRepeatedNotificationKeepsDevice(t *testing.T) {
	e := newWipeEnv(t)
	d := e.enroll(t, "org_acme", policy.ModeWorkProfile, inventory.OwnershipPersonal, false)
	if _, err := e.svc.EnrollNotified(context.Background(), d.ProviderName); !errors.Is(err, android.ErrToken) {
		t.Fatalf("repeated notification: %v, want ErrToken", err)
	}
	if v, err := e.fake.DeviceView(e.secret); err != nil || v.Policy == nil || v.Wiped != "" {
		t.Errorf("a repeated notification touched the enrolled device: %+v, %v", v, err)
	}
}
