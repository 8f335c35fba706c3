package ota_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/auth/authtest"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/ota"
	"github.com/openomm/omm/storage"
)

// Every step refuses a user the directory no longer knows as active,
// whatever token or challenge the request carries, and stores nothing.
func TestInactiveUserRefused(t *testing.T) {
	type step struct {
		name string
		// prepare plays the journey up to the step, as an active user, and
		// returns the session and the step to try once the user has left.
		prepare func(t *testing.T, f *fixture) (session string, try func() error)
	}
	for _, tc := range []step{
		{"iOS enrollment link (phase 1)", func(t *testing.T, f *fixture) (string, func() error) {
			ticket, err := f.ota.Begin(t.Context(), f.org, "bob", decision(false), enroll.KindOTA)
			if err != nil {
				t.Fatal(err)
			}
			return ticket.Session, func() error {
				_, err := f.ota.ServiceProfile(t.Context(), f.org, ticket.Token)
				return err
			}
		}},
		{"direct enrollment link", func(t *testing.T, f *fixture) (string, func() error) {
			ticket, err := f.ota.Begin(t.Context(), f.org, "bob", decision(false), enroll.KindDirect)
			if err != nil {
				t.Fatal(err)
			}
			return ticket.Session, func() error {
				_, err := f.ota.DirectProfile(t.Context(), f.org, ticket.Token)
				return err
			}
		}},
		{"phase 2", func(t *testing.T, f *fixture) (string, func() error) {
			svc, session := f.phase1(t, "bob")
			body, err := newDevice(t, "00008110-0000000000000B0B").Phase2(svc.Challenge, attrs)
			if err != nil {
				t.Fatal(err)
			}
			return session, func() error {
				_, err := f.ota.Post(t.Context(), f.org, session, body)
				return err
			}
		}},
		{"phase 3", func(t *testing.T, f *fixture) (string, func() error) {
			dev := newDevice(t, "00008110-0000000000000B0B")
			session, cert := f.toIdentity(t, dev, "bob", deviceKey(t, 0))
			body := phase3Body(t, dev, cert, deviceKey(t, 0))
			return session, func() error {
				_, err := f.ota.Post(t.Context(), f.org, session, body)
				return err
			}
		}},
		{"policy profile", func(t *testing.T, f *fixture) (string, func() error) {
			ticket, err := f.ota.Begin(t.Context(), f.org, "bob", decision(false), enroll.KindOTA)
			if err != nil {
				t.Fatal(err)
			}
			return ticket.Session, func() error {
				_, err := f.ota.SignedPolicyProfile(t.Context(), f.org, ticket.Session)
				return err
			}
		}},
	} {
		for _, leave := range []string{"deactivated", "deleted"} {
			t.Run(tc.name+"/"+leave, func(t *testing.T) {
				dir := &authtest.Directory{}
				f := newFixture(t, ota.WithUsers(dir))
				dir.AddUser(auth.User{Org: f.org, ID: "bob", Username: "bob"})
				session, try := tc.prepare(t, f)
				if leave == "deleted" {
					dir.Remove(f.org, "bob")
				} else if err := dir.SetStatus(f.org, "bob", auth.StatusDeactivated); err != nil {
					t.Fatal(err)
				}
				before := f.state(t, session)
				if err := try(); !errors.Is(err, auth.ErrUserInactive) {
					t.Fatalf("error %v, want ErrUserInactive", err)
				}
				if d := cmp.Diff(before, f.state(t, session)); d != "" {
					t.Errorf("a refused step changed the store:\n%s", d)
				}
			})
		}
	}

	t.Run("new session", func(t *testing.T) {
		dir := &authtest.Directory{}
		f := newFixture(t, ota.WithUsers(dir))
		dir.AddUser(auth.User{Org: f.org, ID: "bob", Username: "bob", Status: auth.StatusDeactivated})
		audit := func() int {
			page, err := f.store.ListAudit(t.Context(), f.org, storage.AuditQuery{Limit: storage.MaxAuditPage})
			if err != nil {
				t.Fatal(err)
			}
			return len(page.Entries)
		}
		before := audit()
		if _, err := f.ota.Begin(t.Context(), f.org, "bob", decision(false), enroll.KindOTA); !errors.Is(err, auth.ErrUserInactive) {
			t.Errorf("Begin for a deactivated user: %v", err)
		}
		if _, err := f.ota.Begin(t.Context(), f.org, "nobody", decision(false), enroll.KindOTA); !errors.Is(err, auth.ErrUserInactive) {
			t.Errorf("Begin for an unknown user: %v", err)
		}
		if n := audit(); n != before {
			t.Errorf("refused sessions left %d audit entries", n-before)
		}
	})

	t.Run("HTTP", func(t *testing.T) {
		dir := &authtest.Directory{}
		f := newFixture(t, ota.WithUsers(dir))
		dir.AddUser(auth.User{Org: f.org, ID: "bob", Username: "bob"})
		mux := http.NewServeMux()
		mux.Handle("GET /enroll/{org}/profile", f.ota.ProfileHandler())
		srv := httptest.NewServer(mux)
		defer srv.Close()
		ticket, err := f.ota.Begin(t.Context(), f.org, "bob", decision(false), enroll.KindOTA)
		if err != nil {
			t.Fatal(err)
		}
		if err := dir.SetStatus(f.org, "bob", auth.StatusDeactivated); err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(strings.Replace(ticket.URL, publicURL, srv.URL, 1))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("link of a deactivated user: %d, want 403", resp.StatusCode)
		}
	})
}
