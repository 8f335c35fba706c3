package scep_test

import (
	"errors"

	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/auth/authtest"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/scep"
	"github.com/openomm/omm/enroll/scep/sceptest"
	"github.com/openomm/omm/storage"
)

// A user who left gets no identity, whatever challenge or certificate the
// request carries; nothing is stored for the attempt.
func TestInactiveUserRefused(t *testing.T) {
	dir := &authtest.Directory{}
	f := newFixture(t, scep.WithUsers(dir), scep.WithValidity(90*24*time.Hour), scep.WithRenewalWindow(30*24*time.Hour))
	dir.AddUser(auth.User{Org: f.org, ID: "alice", Username: "alice"})
	dir.AddUser(auth.User{Org: f.org, ID: "bob", Username: "bob"})

	// Issuance: bob is deactivated between his challenge and his request.
	sess, challenge := f.session(t, f.org, "bob")
	if err := dir.SetStatus(f.org, "bob", auth.StatusDeactivated); err != nil {
		t.Fatal(err)
	}
	before := f.snap(t, sess)
	msg, _ := f.request(t, f.org, sceptest.Request{Key: key(t, 0), Challenge: challenge})
	if _, err := f.svc.PKIOperation(t.Context(), f.org, msg); !errors.Is(err, auth.ErrUserInactive) {
		t.Fatalf("issuance to a deactivated user: %v, want ErrUserInactive", err)
	}
	if d := cmp.Diff(before, f.snap(t, sess)); d != "" {
		t.Errorf("a refused issuance changed the store (-before +after):\n%s", d)
	}
	// A user the directory no longer knows at all is refused the same way.
	dir.Remove(f.org, "bob")
	if _, err := f.svc.PKIOperation(t.Context(), f.org, msg); !errors.Is(err, auth.ErrUserInactive) {
		t.Fatalf("issuance to a deleted user: %v, want ErrUserInactive", err)
	}

	// Renewal: alice enrolled, then left before her identity's window.
	_, challenge = f.session(t, f.org, "alice")
	msg, p := f.request(t, f.org, sceptest.Request{Key: key(t, 0), Challenge: challenge})
	reply, err := f.svc.PKIOperation(t.Context(), f.org, msg)
	if err != nil {
		t.Fatal(err)
	}
	old, err := p.Read(reply, f.ca)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Set(t0.Add(70 * 24 * time.Hour))
	if err := dir.SetStatus(f.org, "alice", auth.StatusDeactivated); err != nil {
		t.Fatal(err)
	}
	renew, _ := f.request(t, f.org, sceptest.Request{Key: key(t, 1), Signer: old, SignerKey: key(t, 0), MessageType: "17"})
	if _, err := f.svc.PKIOperation(t.Context(), f.org, renew); !errors.Is(err, auth.ErrUserInactive) {
		t.Fatalf("renewal for a deactivated user: %v, want ErrUserInactive", err)
	}
	page, err := f.store.ListAudit(t.Context(), f.org, storage.AuditQuery{Limit: storage.MaxAuditPage})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range page.Entries {
		if e.Time.After(t0) {
			t.Errorf("refused renewal left %+v", e)
		}
	}
}

// A session whose user's enrollments were revoked has no challenge left:
// reactivating the user does not bring it back.
func TestRevokedSessionRefused(t *testing.T) {
	dir := &authtest.Directory{}
	f := newFixture(t, scep.WithUsers(dir))
	dir.AddUser(auth.User{Org: f.org, ID: "bob", Username: "bob"})
	sess, challenge := f.session(t, f.org, "bob")
	n, _, err := f.store.RevokeUserEnrollments(t.Context(), f.org, "bob", f.clock.Now(),
		storage.AuditEntry{Org: f.org, Time: f.clock.Now(), Actor: "admin:root", Action: "user.credentials.revoke", Target: "user:bob"})
	if err != nil || n != 1 {
		t.Fatalf("revoke: %d, %v", n, err)
	}
	msg, _ := f.request(t, f.org, sceptest.Request{Key: key(t, 0), Challenge: challenge})
	if _, err := f.svc.PKIOperation(t.Context(), f.org, msg); !errors.Is(err, enroll.ErrChallenge) {
		t.Errorf("issuance on a revoked session: %v, want ErrChallenge", err)
	}
	if got, err := f.store.EnrollSession(t.Context(), f.org, sess.ID); err != nil || got.Identity != "" {
		t.Errorf("revoked session after the attempt: %+v, %v", got, err)
	}
}
