package checkin_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/auth/authtest"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

// An identity issued to a user who has since left enrolls nothing: its
// Authenticate, or the TokenUpdate that would complete the enrollment, is
// refused. A device already enrolled keeps talking, since its removal
// commands must reach it.
func TestInactiveUserRefused(t *testing.T) {
	dir := &authtest.Directory{}
	e := newEnv(t, checkin.WithUsers(dir))
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		dir.AddUser(auth.User{Org: e.orgA, ID: u, Username: u})
	}
	leave := func(user string) {
		t.Helper()
		if err := dir.SetStatus(e.orgA, user, auth.StatusDeactivated); err != nil {
			t.Fatal(err)
		}
	}
	noDevice := func(d *device) {
		t.Helper()
		if _, err := e.store.DeviceByIdentifier(t.Context(), d.org, d.udid); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("device %s recorded after a refused Authenticate: %v", d.udid, err)
		}
	}

	// An identity not yet used, its user deactivated or deleted.
	bob := e.newDevice(e.orgA, "UDID-BOB", "bob")
	leave("bob")
	if st := bob.authenticate(); st != http.StatusForbidden {
		t.Errorf("Authenticate for a deactivated user: %d, want 403", st)
	}
	noDevice(bob)
	dir.Remove(e.orgA, "bob")
	if st := bob.authenticate(); st != http.StatusForbidden {
		t.Errorf("Authenticate for a deleted user: %d, want 403", st)
	}

	// A revoked identity stays refused after the user is reactivated.
	carol := e.newDevice(e.orgA, "UDID-CAROL", "carol")
	at := e.clock()
	_, n, err := e.store.(enroll.RevocationStore).RevokeUserEnrollments(t.Context(), e.orgA, "carol", at,
		storage.AuditEntry{Org: e.orgA, Time: at, Actor: "admin:root", Action: "user.credentials.revoke", Target: "user:carol"})
	if err != nil || n != 1 {
		t.Fatalf("revoke: %d identities, %v", n, err)
	}
	if st := carol.authenticate(); st != http.StatusForbidden {
		t.Errorf("Authenticate with a revoked identity: %d, want 403", st)
	}
	noDevice(carol)

	// Authenticated, then the user leaves before the TokenUpdate.
	dave := e.newDevice(e.orgA, "UDID-DAVE", "dave")
	if st := dave.authenticate(); st != http.StatusOK {
		t.Fatalf("Authenticate: %d", st)
	}
	leave("dave")
	if st := dave.tokenUpdate("token-dave"); st != http.StatusForbidden {
		t.Errorf("TokenUpdate completing a deactivated user's enrollment: %d, want 403", st)
	}
	if r := dave.record(); r.State != inventory.StatePending {
		t.Errorf("device of a deactivated user is %s, want still pending", r.State)
	}

	// Enrolled, then the user leaves: the device still checks in and
	// renews its push token.
	alice := e.newDevice(e.orgA, "UDID-ALICE", "alice").enroll()
	leave("alice")
	if st := alice.tokenUpdate("token-alice-2"); st != http.StatusOK {
		t.Errorf("TokenUpdate of an enrolled device after its user left: %d, want 200", st)
	}
	if st, _ := alice.connect("Idle", "", nil); st != http.StatusOK {
		t.Errorf("Idle of an enrolled device after its user left: %d", st)
	}
}
