package storagetest

import (
	"slices"
	"testing"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
)

// revocationStore is what the user lifecycle stores: the enrollment
// credentials a user who left has not used are ended.
type revocationStore interface {
	enroll.RevocationStore
	android.TokenRevoker
}

func revocationCases() []testCase {
	return []testCase{
		{"Revocation/Enrollments", testRevokeEnrollments},
		{"Revocation/AndroidTokens", testRevokeAndroidTokens},
		{"Revocation/Invalid", testRevokeInvalid},
		{"Revocation/OneSession", testRevokeOneSession},
	}
}

// testRevokeEnrollments: the user's open sessions expire and lose their
// challenge, unbound identities are revoked and bind to nothing; bound
// identities, finished sessions, other users and other orgs are untouched;
// a second call changes nothing and appends nothing.
func testRevokeEnrollments(t testing.TB, s Store) {
	ctx := t.Context()
	o, other := mustCreateOrg(t, s, "acme"), mustCreateOrg(t, s, "bolt")
	open := mustCreateSession(t, s, newSession(o.ID, 1, enroll.KindOTA))
	theirs := newSession(o.ID, 2, enroll.KindDirect)
	theirs.UserID = "user-2"
	mustCreateSession(t, s, theirs)
	elsewhere := mustCreateSession(t, s, newSession(other.ID, 3, enroll.KindOTA))
	for i, id := range []enroll.Identity{newIdentity(o.ID, 1), newIdentity(o.ID, 4), newIdentity(other.ID, 5)} {
		_, err := s.RecordIdentity(ctx, id, entryFor(id.Org, "enroll.scep.issue", at(2)))
		noErr(t, "RecordIdentity", err)
		if i == 1 {
			_, err = s.BindIdentity(ctx, o.ID, id.Fingerprint, "dev-1", entryFor(o.ID, "device.identity.bind", at(2)))
			noErr(t, "BindIdentity", err)
		}
	}
	users, err := s.EnrollmentUsers(ctx, o.ID, at(3))
	noErr(t, "EnrollmentUsers", err)
	same(t, "users with open enrollments", users, []string{"user-1", "user-2"})

	n := len(allAudit(t, s, o.ID))
	sessions, identities, err := s.RevokeUserEnrollments(ctx, o.ID, "user-1", at(4), entryFor(o.ID, "user.credentials.revoke", at(4)))
	noErr(t, "RevokeUserEnrollments", err)
	if sessions != 1 || identities != 1 {
		t.Errorf("revoked %d sessions and %d identities, want 1 and 1", sessions, identities)
	}
	if got := len(allAudit(t, s, o.ID)); got != n+1 {
		t.Errorf("%d audit entries appended, want 1", got-n)
	}
	got, err := s.EnrollSession(ctx, o.ID, open.ID)
	noErr(t, "EnrollSession", err)
	if got.ChallengeHash != nil || !got.Expires.Equal(storage.Normalize(at(4))) || got.Version != open.Version+1 {
		t.Errorf("revoked session: challenge %x, expires %v, version %d", got.ChallengeHash, got.Expires, got.Version)
	}
	if err := got.CheckChallenge("token", enroll.PhaseCreated, at(5)); err == nil {
		t.Error("a revoked session's challenge still passes")
	}
	id, err := s.Identity(ctx, o.ID, fingerprint(1))
	noErr(t, "Identity", err)
	if !id.Revoked.Equal(storage.Normalize(at(4))) {
		t.Errorf("unbound identity after revocation: %+v", id)
	}
	_, err = s.BindIdentity(ctx, o.ID, fingerprint(1), "dev-9", entryFor(o.ID, "device.identity.bind", at(5)))
	wantErr(t, "BindIdentity(revoked)", err, storage.ErrConflict)
	if bound, _ := s.Identity(ctx, o.ID, fingerprint(4)); !bound.Revoked.IsZero() || bound.Device != "dev-1" {
		t.Errorf("a bound identity was revoked: %+v", bound)
	}
	for _, c := range []struct {
		org storage.OrgID
		se  enroll.Session
	}{{o.ID, theirs}, {other.ID, elsewhere}} {
		got, err := s.EnrollSession(ctx, c.org, c.se.ID)
		noErr(t, "EnrollSession", err)
		if got.ChallengeHash == nil || got.Version != 1 {
			t.Errorf("another user's or org's session changed: %+v", got)
		}
	}
	if id, _ := s.Identity(ctx, other.ID, fingerprint(5)); !id.Revoked.IsZero() {
		t.Error("another org's identity was revoked")
	}
	users, err = s.EnrollmentUsers(ctx, o.ID, at(5))
	noErr(t, "EnrollmentUsers", err)
	same(t, "users with open enrollments after the revocation", users, []string{"user-2"})

	before := takeSnapshot(t, s)
	sessions, identities, err = s.RevokeUserEnrollments(ctx, o.ID, "user-1", at(6), entryFor(o.ID, "user.credentials.revoke", at(6)))
	noErr(t, "RevokeUserEnrollments again", err)
	if sessions != 0 || identities != 0 {
		t.Errorf("a second revocation ended %d sessions and %d identities", sessions, identities)
	}
	unchanged(t, "a second revocation", s, before)
}

func testRevokeAndroidTokens(t testing.TB, s Store) {
	ctx := t.Context()
	o, other := mustCreateOrg(t, s, "acme"), mustCreateOrg(t, s, "bolt")
	tokens := []android.Token{sampleAndroidToken(o.ID, "open", true), sampleAndroidToken(o.ID, "multi", false),
		sampleAndroidToken(o.ID, "spent", true), sampleAndroidToken(o.ID, "theirs", true), sampleAndroidToken(other.ID, "elsewhere", true)}
	tokens[3].UserID = "someone else"
	for _, tk := range tokens {
		_, err := s.CreateAndroidToken(ctx, tk, androidEntry(tk.Org, "android.token.create", 1))
		noErr(t, "CreateAndroidToken", err)
	}
	_, err := s.UseAndroidToken(ctx, o.ID, android.TokenID("spent"), at(2), androidEntry(o.ID, "android.token.use", 2))
	noErr(t, "UseAndroidToken", err)
	users, err := s.TokenUsers(ctx, o.ID, at(3))
	noErr(t, "TokenUsers", err)
	want := []string{tokens[0].UserID, "someone else"}
	slices.Sort(want)
	same(t, "token users", users, want)

	n, err := s.RevokeUserTokens(ctx, o.ID, tokens[0].UserID, at(3), androidEntry(o.ID, "user.credentials.revoke", 3))
	noErr(t, "RevokeUserTokens", err)
	if n != 2 {
		t.Errorf("revoked %d tokens, want the open and the multi-use one", n)
	}
	for _, secret := range []string{"open", "multi"} {
		_, err := s.UseAndroidToken(ctx, o.ID, android.TokenID(secret), at(4), androidEntry(o.ID, "android.token.use", 4))
		wantErr(t, "UseAndroidToken(revoked "+secret+")", err, storage.ErrConflict)
	}
	if _, err := s.UseAndroidToken(ctx, o.ID, android.TokenID("theirs"), at(4), androidEntry(o.ID, "android.token.use", 4)); err != nil {
		t.Errorf("another user's token: %v", err)
	}
	if _, err := s.UseAndroidToken(ctx, other.ID, android.TokenID("elsewhere"), at(4), androidEntry(other.ID, "android.token.use", 4)); err != nil {
		t.Errorf("another org's token: %v", err)
	}
	before := takeSnapshot(t, s)
	n, err = s.RevokeUserTokens(ctx, o.ID, tokens[0].UserID, at(5), androidEntry(o.ID, "user.credentials.revoke", 5))
	noErr(t, "RevokeUserTokens again", err)
	if n != 0 {
		t.Errorf("a second revocation ended %d tokens", n)
	}
	unchanged(t, "a second revocation", s, before)
}

func testRevokeInvalid(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	mustCreateSession(t, s, newSession(o.ID, 1, enroll.KindOTA))
	before := takeSnapshot(t, s)
	_, _, err := s.RevokeUserEnrollments(ctx, o.ID, "", at(2), entryFor(o.ID, "user.credentials.revoke", at(2)))
	wantErr(t, "RevokeUserEnrollments(no user)", err, storage.ErrInvalid)
	_, _, err = s.RevokeUserEnrollments(ctx, o.ID, "user-1", at(2), entryFor("org_other", "user.credentials.revoke", at(2)))
	wantErr(t, "RevokeUserEnrollments(entry of another org)", err, storage.ErrInvalid)
	_, err = s.RevokeUserTokens(ctx, o.ID, "user-1", at(2), androidEntry("org_other", "user.credentials.revoke", 2))
	wantErr(t, "RevokeUserTokens(entry of another org)", err, storage.ErrInvalid)
	unchanged(t, "refused revocations", s, before)
}

// testRevokeOneSession: one open session loses its challenge and expires,
// with one audit entry; a used, expired, unknown or other org's session
// is refused and nothing changes.
func testRevokeOneSession(t testing.TB, s Store) {
	ctx := t.Context()
	o, other := mustCreateOrg(t, s, "acme"), mustCreateOrg(t, s, "bolt")
	open := mustCreateSession(t, s, newSession(o.ID, 1, enroll.KindDirect))
	used := mustCreateSession(t, s, newSession(o.ID, 2, enroll.KindDirect))
	used = advance(t, s, used, enroll.PhaseProfileSent, nil)
	id2 := newIdentity(o.ID, 2)
	used = advance(t, s, used, enroll.PhaseEnrolled, &id2)
	theirs := mustCreateSession(t, s, newSession(other.ID, 3, enroll.KindDirect))

	before := takeSnapshot(t, s)
	for what, c := range map[string]struct {
		org  storage.OrgID
		id   string
		want error
	}{
		"used session":            {o.ID, used.ID, storage.ErrConflict},
		"unknown session":         {o.ID, sessionID(9), storage.ErrNotFound},
		"other org's session":     {o.ID, theirs.ID, storage.ErrNotFound},
		"session through its org": {other.ID, open.ID, storage.ErrNotFound},
	} {
		err := s.RevokeEnrollSession(ctx, c.org, c.id, at(3), entryFor(c.org, "enroll.session.revoke", at(3)))
		wantErr(t, what, err, c.want)
	}
	unchanged(t, "refused revocations", s, before)

	noErr(t, "RevokeEnrollSession", s.RevokeEnrollSession(ctx, o.ID, open.ID, at(3), entryFor(o.ID, "enroll.session.revoke", at(3))))
	got, err := s.EnrollSession(ctx, o.ID, open.ID)
	noErr(t, "EnrollSession", err)
	if got.ChallengeHash != nil || !got.Expires.Equal(storage.Normalize(at(3))) {
		t.Errorf("revoked session: %+v", got)
	}
	if n := len(allAudit(t, s, o.ID)) - len(before.Audit[o.ID]); n != 1 {
		t.Errorf("%d audit entries appended, want 1", n)
	}
	err = s.RevokeEnrollSession(ctx, o.ID, open.ID, at(4), entryFor(o.ID, "enroll.session.revoke", at(4)))
	wantErr(t, "revoked twice", err, storage.ErrConflict)
	if got, _ := s.EnrollSession(ctx, other.ID, theirs.ID); got.ChallengeHash == nil {
		t.Error("the other org's session lost its challenge")
	}
}
