package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
)

// The purge sweep's store methods (issue 22, finding 14): expired records
// go, at most limit per call, the rest stay, and other orgs are untouched.

func purgeCases() []testCase {
	return []testCase{
		{"Purge/Sessions", testPurgeSessions},
		{"Purge/Failures", testPurgeFailures},
		{"Purge/EnrollSessions", testPurgeEnrollSessions},
		{"Purge/AndroidTokens", testPurgeAndroidTokens},
	}
}

// purgeEntry counts the audit entries of action in org's log and returns
// the last one's "purged" detail.
func purgeEntries(t testing.TB, s Store, org storage.OrgID, action string) (int, string) {
	t.Helper()
	n, last := 0, ""
	for _, e := range allAudit(t, s, org) {
		if e.Action == action {
			n++
			last = e.Details["purged"]
		}
	}
	return n, last
}

func testPurgeSessions(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	other := mustCreateOrg(t, s, "other")
	bob := mustCreateAuthUser(t, s, o.ID, "bob")
	ob := mustCreateAuthUser(t, s, other.ID, "bob")
	for i := range 5 { // expire at(2)+1h
		mustCreateAuthSession(t, s, o.ID, bob.ID, fmt.Sprintf("ses_old%d", i))
		mustCreateAuthSession(t, s, other.ID, ob.ID, fmt.Sprintf("ses_old%d", i))
	}
	code := newAuthPhoneCode(o.ID, "ses_old0", 'a')
	_, err := s.PutPhoneCode(ctx, code, entryFor(o.ID, "auth.mfa.code_sent", at(3)))
	noErr(t, "PutPhoneCode", err)
	young := newAuthSession(o.ID, bob.ID, "ses_young", at(600))
	_, err = s.CreateSession(ctx, young, entryFor(o.ID, "auth.signin.success", at(600)))
	noErr(t, "CreateSession", err)

	cutoff := at(2).Add(2 * time.Hour)
	n, err := s.PurgeSessions(ctx, o.ID, cutoff, 3, entryFor(o.ID, "auth.session.purge", at(700)))
	noErr(t, "PurgeSessions", err)
	if n != 3 {
		t.Errorf("first purge removed %d sessions, want the limit, 3", n)
	}
	n, err = s.PurgeSessions(ctx, o.ID, cutoff, 3, entryFor(o.ID, "auth.session.purge", at(701)))
	noErr(t, "PurgeSessions again", err)
	if n != 2 {
		t.Errorf("second purge removed %d sessions, want the 2 left", n)
	}
	before := takeSnapshot(t, s)
	n, err = s.PurgeSessions(ctx, o.ID, cutoff, 3, entryFor(o.ID, "auth.session.purge", at(702)))
	noErr(t, "PurgeSessions with nothing left", err)
	if n != 0 {
		t.Errorf("third purge removed %d, want none", n)
	}
	unchanged(t, "a purge with nothing to remove", s, before)
	if _, err := s.SessionByToken(ctx, o.ID, young.TokenHash); err != nil {
		t.Errorf("the unexpired session was purged: %v", err)
	}
	if _, err := s.PhoneCode(ctx, o.ID, "ses_old0"); err == nil {
		t.Error("a purged session's phone code is still there")
	}
	if entries, last := purgeEntries(t, s, o.ID, "auth.session.purge"); entries != 2 || last != "2" {
		t.Errorf("purge audit: %d entries, last counting %q; want 2, the last counting 2", entries, last)
	}
	old := newAuthSession(other.ID, ob.ID, "ses_old0", at(2))
	if _, err := s.SessionByToken(ctx, other.ID, old.TokenHash); err != nil {
		t.Errorf("org A's purge removed org B's session: %v", err)
	}
	_, err = s.PurgeSessions(ctx, o.ID, cutoff, 0, entryFor(o.ID, "auth.session.purge", at(703)))
	wantErr(t, "PurgeSessions without a limit", err, storage.ErrInvalid)
	_, err = s.PurgeSessions(ctx, o.ID, cutoff, 3, entryFor(other.ID, "auth.session.purge", at(703)))
	wantErr(t, "PurgeSessions with another org's entry", err, storage.ErrInvalid)
}

func testPurgeFailures(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	other := mustCreateOrg(t, s, "other")
	th := auth.DefaultThrottle()
	for i := range 4 {
		for _, org := range []storage.OrgID{o.ID, other.ID} {
			_, _, err := s.ReserveAuthAttempt(ctx, org, at(i), []auth.AttemptRule{{Key: fmt.Sprintf("signin:nobody%d", i), Throttle: th}})
			noErr(t, "ReserveAuthAttempt", err)
		}
	}
	_, _, err := s.ReserveAuthAttempt(ctx, o.ID, at(100), []auth.AttemptRule{{Key: "signin:recent", Throttle: th}})
	noErr(t, "ReserveAuthAttempt", err)
	n, err := s.PurgeFailures(ctx, o.ID, at(50), 10)
	noErr(t, "PurgeFailures", err)
	if n != 4 {
		t.Errorf("purged %d counters, want the 4 old ones", n)
	}
	if f, _ := s.AuthFailures(ctx, o.ID, "signin:recent"); f.Count != 1 {
		t.Errorf("the recent counter: %+v, want it kept", f)
	}
	if f, _ := s.AuthFailures(ctx, other.ID, "signin:nobody0"); f.Count != 1 {
		t.Errorf("org B's counter after org A's purge: %+v", f)
	}
}

func testPurgeEnrollSessions(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	for i := range 3 { // expire at(10)
		mustCreateSession(t, s, newSession(o.ID, i+1, enroll.KindOTA))
	}
	done := mustCreateSession(t, s, newSession(o.ID, 9, enroll.KindDirect))
	done = advance(t, s, done, enroll.PhaseProfileSent, nil)
	id := newIdentity(o.ID, 9)
	done = advance(t, s, done, enroll.PhaseEnrolled, &id)
	ota := newIdentity(o.ID, 20)
	ota.Purpose, ota.NotAfter = enroll.PurposeOTA, at(11)
	_, err := s.RecordIdentity(ctx, ota, entryFor(o.ID, "enroll.scep.issue", at(2)))
	noErr(t, "RecordIdentity", err)
	open := newSession(o.ID, 30, enroll.KindOTA)
	open.Expires = at(60 * 24 * 500)
	open = mustCreateSession(t, s, open)
	newOTA := newIdentity(o.ID, 31)
	newOTA.Purpose, newOTA.NotAfter = enroll.PurposeOTA, at(60*24*500)
	_, err = s.RecordIdentity(ctx, newOTA, entryFor(o.ID, "enroll.scep.issue", at(2)))
	noErr(t, "RecordIdentity", err)

	n, err := s.PurgeEnrollSessions(ctx, o.ID, at(60*24*400), 10, entryFor(o.ID, "enroll.session.purge", at(100)))
	noErr(t, "PurgeEnrollSessions", err)
	if n != 4 {
		t.Errorf("purged %d, want the 3 expired sessions and the expired OTA identity", n)
	}
	if _, err := s.EnrollSession(ctx, o.ID, done.ID); err != nil {
		t.Errorf("the enrolled session was purged: %v", err)
	}
	if _, err := s.Identity(ctx, o.ID, id.Fingerprint); err != nil {
		t.Errorf("the MDM identity was purged: %v", err)
	}
	if _, err := s.Identity(ctx, o.ID, ota.Fingerprint); err == nil {
		t.Error("the expired OTA identity is still there")
	}
	if _, err := s.EnrollSession(ctx, o.ID, sessionID(1)); err == nil {
		t.Error("an expired session is still there")
	}
	if _, err := s.EnrollSession(ctx, o.ID, open.ID); err != nil {
		t.Errorf("an unexpired session was purged: %v", err)
	}
	if _, err := s.Identity(ctx, o.ID, newOTA.Fingerprint); err != nil {
		t.Errorf("an unexpired OTA identity was purged: %v", err)
	}
}

func testPurgeAndroidTokens(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	for i := range 3 { // expire at(60)
		_, err := s.CreateAndroidToken(ctx, sampleAndroidToken(o.ID, fmt.Sprintf("purge-%d", i), true), androidEntry(o.ID, "android.token.create", 1))
		noErr(t, "CreateAndroidToken", err)
	}
	young := sampleAndroidToken(o.ID, "young", true)
	young.Expires = at(600)
	_, err := s.CreateAndroidToken(ctx, young, androidEntry(o.ID, "android.token.create", 1))
	noErr(t, "CreateAndroidToken", err)
	n, err := s.PurgeAndroidTokens(ctx, o.ID, at(100), 2, entryFor(o.ID, "android.token.purge", at(100)))
	noErr(t, "PurgeAndroidTokens", err)
	if n != 2 {
		t.Errorf("purged %d tokens, want the limit, 2", n)
	}
	n, err = s.PurgeAndroidTokens(ctx, o.ID, at(100), 2, entryFor(o.ID, "android.token.purge", at(101)))
	noErr(t, "PurgeAndroidTokens again", err)
	if n != 1 {
		t.Errorf("purged %d tokens, want the 1 expired left", n)
	}
	if _, err := s.AndroidToken(ctx, o.ID, young.ID); err != nil {
		t.Errorf("the unexpired token was purged: %v", err)
	}
}
