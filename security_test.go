package omm_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/openomm/omm"
	"github.com/openomm/omm/android"
	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/auth/authtest"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// Regression tests of issue 22 that need the whole SDK; SECURITY.md names
// each next to its defence.

// TestOTAIdentityIsNotAnMDMIdentity (finding 1): the certificate an OTA
// enrollment's phase 2 hands out, which only signs phase 3, passed MDM
// Authenticate, so that one OTA session enrolled two devices. Check-in
// refuses it; phase 3 and the real MDM identity still work.
func TestOTAIdentityIsNotAnMDMIdentity(t *testing.T) {
	w := newWorld(t, lcMemory(), &authtest.Directory{}, nil, "")
	const udid = "00008110-0000000000000A01"
	o := w.otaIdentity("alice", udid)
	second := &iPhone{w: w, udid: "00008110-0000000000000B02", cert: o.cert, key: lcKey(3),
		checkInURL: w.sdk.URL("/mdm/" + string(w.org) + "/checkin"), serverURL: w.sdk.URL("/mdm/" + string(w.org) + "/server")}
	for _, u := range []string{second.udid, udid} {
		second.udid = u
		if st := second.authenticate(); st != http.StatusForbidden {
			t.Errorf("Authenticate as %s with the OTA identity: %d, want 403", u, st)
		}
		if _, err := w.store.DeviceByIdentifier(context.Background(), w.org, u); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("the OTA identity registered device %s: %v", u, err)
		}
	}
	// The enrollment itself goes on: phase 3 is still signed by it.
	body, err := signPhase3(o)
	if err != nil {
		t.Fatal(err)
	}
	if st, b := w.send(http.MethodPost, o.postURL, body, nil); st != http.StatusOK {
		t.Fatalf("phase 3 with the OTA identity: %d %s", st, b)
	}
}

// TestDirectIOSProfileNeedsThePolicy (finding 5): with simulators refused,
// OTA refused a fake iPhone, yet asking for the direct profile enrolled the
// same fake iPhone. The direct profile is for Macs; an iPhone or iPad gets
// it only where its policy's iOS rule accepts it (off by default), and an
// identity from a Mac's direct profile does not enroll an iPhone.
func TestDirectIOSProfileNeedsThePolicy(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, lcMemory(), &authtest.Directory{}, nil, "")
	pols, err := w.sdk.Policy.List(ctx, w.org)
	if err != nil || len(pols) == 0 || pols[0].Name != "Staff phones" {
		t.Fatalf("policies: %v %v", pols, err)
	}
	p := pols[0]
	ios := p.Rules[policy.IOS]
	ios.Requirements.AcceptDirectProfile = false
	p.Rules[policy.IOS] = ios
	p.Rules[policy.MacOS] = policy.Rule{Action: policy.Require}
	if _, err := w.sdk.UpdatePolicy(ctx, "admin:root", p); err != nil {
		t.Fatal(err)
	}
	iosFacts := omm.Facts{Platform: "ios", OSVersion: "17.4"}
	if _, err := w.sdk.BeginAppleEnrollment(ctx, w.org, "alice", iosFacts, enroll.KindDirect); !errors.Is(err, omm.ErrNotPermitted) {
		t.Errorf("direct profile for an iPhone without the policy's consent: %v, want ErrNotPermitted", err)
	}
	if _, err := w.sdk.BeginAppleEnrollment(ctx, w.org, "alice", iosFacts, enroll.KindOTA); err != nil {
		t.Errorf("OTA for an iPhone: %v", err)
	}
	// The Mac's direct profile still works, for a Mac only.
	mac := w.macIdentity("alice", "MAC-UDID-0001")
	if st := mac.authenticate(); st != http.StatusForbidden { // authenticate says "iPhone15,4"
		t.Errorf("an iPhone authenticating with a Mac's direct identity: %d, want 403", st)
	}
	if st := mac.authenticateAs("MacBookPro18,3"); st != http.StatusOK {
		t.Errorf("a Mac authenticating with its direct identity: %d, want 200", st)
	}
}

// TestDeniedAuditNamesVerifiedPrincipals (finding 8): a forged bearer
// token naming another org wrote http.denied entries into that org's log
// (120 a minute), after which its real denials were only counted. A refusal
// goes into an org's log only for a session of that org; claims go to the
// fallback (operator's) org, bounded per client address.
func TestDeniedAuditNamesVerifiedPrincipals(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "/sdk", omm.WithDeniedAudit("org_acme", nil))
	real, err := e.sdk.Auth.SignIn(ctx, "other", "olga", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	count := func(org storage.OrgID) (n int, claimed int) {
		t.Helper()
		q := storage.AuditQuery{Limit: storage.MaxAuditPage}
		for {
			p, err := e.sdk.Store.ListAudit(ctx, org, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range p.Entries {
				if a.Action == omm.DeniedAction {
					n++
					if a.Details["claimed_org"] == "org_other" {
						claimed++
					}
				}
			}
			if p.Next == 0 {
				return n, claimed
			}
			q.After = p.Next
		}
	}
	secret := make([]byte, 32)
	forged := "omm1." + base64.RawURLEncoding.EncodeToString([]byte("org_other")) + "." + base64.RawURLEncoding.EncodeToString(secret)
	for range 150 {
		if st, _ := e.do(t, "GET", "/sdk/api/agent/devices", nil, "Authorization", "Bearer "+forged); st != http.StatusUnauthorized {
			t.Fatalf("forged token: %d, want 401", st)
		}
	}
	for range 5 { // a device path naming the org, no credentials
		e.do(t, "PUT", "/sdk/mdm/org_other/checkin", []byte("<plist/>"))
	}
	if n, _ := count("org_other"); n != 0 {
		t.Errorf("claims naming org_other wrote %d entries into its log, want none", n)
	}
	if _, claimed := count("org_acme"); claimed == 0 || claimed > 40 {
		t.Errorf("the fallback org recorded %d claims of org_other, want some and at most the per-address bound", claimed)
	}
	// A real session of the org is recorded there, whatever came before.
	if st, _ := e.do(t, "GET", "/sdk/api/agent/devices", nil, "Authorization", "Bearer "+real.Token); st != http.StatusForbidden {
		t.Fatalf("a session still in PIN setup: %d, want 403", st)
	}
	if n, _ := count("org_other"); n != 1 {
		t.Errorf("the refusal of org_other's own session: %d entries in its log, want 1", n)
	}
}

// TestPerUserCaps (finding 11): one user created 200 enrollment sessions
// and 200 Android tokens in 11.5 s. A user holds at most a few open ones of
// each; the others are refused until one is used or expires.
func TestPerUserCaps(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, lcMemory(), &authtest.Directory{}, nil, "")
	apple, androidTokens := 0, 0
	for range 50 {
		if _, err := w.sdk.BeginAppleEnrollment(ctx, w.org, "alice", omm.Facts{Platform: "ios", OSVersion: "17.4"}, enroll.KindOTA); err == nil {
			apple++
		}
		if _, err := w.sdk.BeginAndroidEnrollment(ctx, w.org, "alice", "user:alice", androidFacts(policy.ModeKnox)); err == nil {
			androidTokens++
		}
	}
	if apple > 10 || androidTokens > 10 {
		t.Errorf("one user opened %d enrollment sessions and %d Android tokens, want at most 10 of each", apple, androidTokens)
	}
	// Another user is not held back.
	if _, err := w.sdk.BeginAppleEnrollment(ctx, w.org, "bob", omm.Facts{Platform: "ios", OSVersion: "17.4"}, enroll.KindOTA); err != nil {
		t.Errorf("another user's enrollment: %v", err)
	}
}

// TestFailedAndroidEnrollmentKeepsToken (finding 14): an Android
// enrollment that failed (409, the device enrolled already) still spent
// its one-time token. The token is spent only with an enrollment that
// completes, in the same transaction.
func TestFailedAndroidEnrollmentKeepsToken(t *testing.T) {
	w := newWorld(t, lcMemory(), &authtest.Directory{}, nil, "")
	w.enrolledAndroid("alice", policy.ModeKnox, 1)
	iss := w.androidToken("alice", policy.ModeKnox)
	if _, err := w.useToken(iss, 1); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("enrolling a device enrolled already: %v, want ErrAlreadyExists", err)
	}
	if _, err := w.useToken(iss, 2); err != nil {
		t.Errorf("the one-time token after a failed enrollment: %v, want it still usable", err)
	}
	if _, err := w.useToken(iss, 3); err == nil {
		t.Error("the one-time token worked twice")
	}
}

// TestExpiredRecordsArePurged (finding 14): expired sessions, enrollment
// sessions and tokens were never removed. The background round (SDK.Run)
// purges them, a bounded batch at a time, and keeps what is still valid.
func TestExpiredRecordsArePurged(t *testing.T) {
	ctx := context.Background()
	st := lcMemory()
	long := time.Now().Add(-400 * 24 * time.Hour)
	org := storage.OrgID("org_purge")
	entry := func(action string, at time.Time) storage.AuditEntry {
		return storage.AuditEntry{Org: org, Time: at, Actor: "test", Action: action}
	}
	if _, err := st.CreateOrg(ctx, storage.Org{ID: org, Name: "purge", DisplayName: "Purge"}, entry("org.create", long)); err != nil {
		t.Fatal(err)
	}
	oldHash, newHash := sha256.Sum256([]byte("old session")), sha256.Sum256([]byte("new session"))
	for _, s := range []auth.Session{
		{Org: org, ID: "ses_old", TokenHash: oldHash[:], UserID: "alice", State: auth.StateMFA, Created: long, LastUsed: long, Expires: long.Add(time.Hour)},
		{Org: org, ID: "ses_new", TokenHash: newHash[:], UserID: "alice", State: auth.StateMFA, Created: time.Now(), LastUsed: time.Now(), Expires: time.Now().Add(time.Hour)},
	} {
		if _, err := st.CreateSession(ctx, s, entry("auth.signin.success", s.Created)); err != nil {
			t.Fatal(err)
		}
	}
	sessID := enroll.NewSessionID()
	_, hash := enroll.NewChallenge(sessID)
	if _, err := st.CreateEnrollSession(ctx, enroll.Session{Org: org, ID: sessID, Kind: enroll.KindOTA, UserID: "alice", Policy: "pol-1",
		Phase: enroll.PhaseCreated, ChallengeHash: hash, Expires: long.Add(time.Hour)}, entry("enroll.session.create", long)); err != nil {
		t.Fatal(err)
	}
	tok := android.Token{ID: android.TokenID("old token"), Org: org, UserID: "alice", Policy: "pol-1", Mode: policy.ModeDeviceAdmin,
		Type: inventory.EnrollAndroidDeviceAdmin, Ownership: inventory.OwnershipCompany, OneTime: true, Expires: long.Add(time.Hour)}
	if _, err := st.CreateAndroidToken(ctx, tok, entry("android.token.create", long)); err != nil {
		t.Fatal(err)
	}
	sdk, err := omm.New(ctx, omm.Config{Store: st, Directory: &authtest.Directory{}, PublicURL: "https://mdm.example.com", Logger: lcQuiet})
	if err != nil {
		t.Fatal(err)
	}
	run, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); sdk.Run(run, time.Hour) }()
	defer func() { stop(); <-done }()
	gone := func() bool {
		_, e1 := st.SessionByToken(ctx, org, oldHash[:])
		_, e2 := st.EnrollSession(ctx, org, sessID)
		_, e3 := st.AndroidToken(ctx, org, tok.ID)
		return errors.Is(e1, storage.ErrNotFound) && errors.Is(e2, storage.ErrNotFound) && errors.Is(e3, storage.ErrNotFound)
	}
	for deadline := time.Now().Add(20 * time.Second); !gone(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the expired session, enrollment session and token are still stored after the background round")
		}
	}
	if _, err := st.SessionByToken(ctx, org, newHash[:]); err != nil {
		t.Errorf("the valid session was purged: %v", err)
	}
}
