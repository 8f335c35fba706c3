package storagetest

import (
	"fmt"
	"testing"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

// Per-user limits on open enrollment credentials, and the Android
// enrollment that spends its token only when it completes (issue 22,
// findings 11 and 14).

func limitCases() []testCase {
	return []testCase{
		{"Limits/OpenEnrollSessions", testLimitOpenSessions},
		{"Limits/OpenEnrollSessionsConcurrent", testLimitOpenSessionsConcurrent},
		{"Limits/IssuedSessionsNotCounted", testLimitIssuedNotCounted},
		{"Limits/OpenAndroidTokens", testLimitOpenTokens},
		{"Limits/OpenAndroidTokensConcurrent", testLimitOpenTokensConcurrent},
		{"Android/EnrollWhole", testAndroidEnrollWhole},
	}
}

func testLimitOpenSessions(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	capped := func(n int) enroll.Session {
		se := newSession(o.ID, n, enroll.KindOTA)
		se.MaxOpen = limitOpen
		return se
	}
	for i := range limitOpen {
		mustCreateSession(t, s, capped(i+1))
	}
	before := takeSnapshot(t, s)
	_, err := s.CreateEnrollSession(ctx, capped(100), entryFor(o.ID, "enroll.session.create", at(1)))
	wantErr(t, "a session beyond the limit", err, storage.ErrLimit)
	unchanged(t, "a session beyond the limit", s, before)
	// Another user, the same user once sessions expired, and a session
	// without a limit are not held back.
	other := capped(101)
	other.UserID = "user-2"
	mustCreateSession(t, s, other)
	later := capped(102)
	later.Expires = at(30)
	if _, err := s.CreateEnrollSession(ctx, later, entryFor(o.ID, "enroll.session.create", at(20))); err != nil {
		t.Errorf("a session after the others expired: %v", err)
	}
	mustCreateSession(t, s, newSession(o.ID, 103, enroll.KindOTA))
}

// testLimitIssuedNotCounted: sessions an administrator issued for the
// user (Session.IssuedBy) are stored with their issuer and do not count
// against the user's own cap.
func testLimitIssuedNotCounted(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	for i := range limitOpen + 2 {
		se := newSession(o.ID, i+1, enroll.KindDirect)
		se.IssuedBy = "admin:ops"
		mustCreateSession(t, s, se)
	}
	got, err := s.EnrollSession(ctx, o.ID, sessionID(1))
	noErr(t, "EnrollSession", err)
	if got.IssuedBy != "admin:ops" {
		t.Errorf("issuer read back %q", got.IssuedBy)
	}
	own := newSession(o.ID, 100, enroll.KindOTA)
	own.MaxOpen = limitOpen
	if _, err := s.CreateEnrollSession(ctx, own, entryFor(o.ID, "enroll.session.create", at(1))); err != nil {
		t.Errorf("the user's own session after %d issued ones: %v", limitOpen+2, err)
	}
}

// limitOpen is the per-user limit the limit cases set.
const limitOpen = 5

func testLimitOpenSessionsConcurrent(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	n := 4 * limitOpen
	errs := parallel(n, func(i int) error {
		se := newSession(o.ID, i+1, enroll.KindDirect)
		se.MaxOpen = limitOpen
		_, err := s.CreateEnrollSession(t.Context(), se, entryFor(o.ID, "enroll.session.create", at(1)))
		return err
	})
	same(t, "concurrent sessions of one user", countErrs(errs, storage.ErrLimit),
		map[string]int{"nil": limitOpen, storage.ErrLimit.Error(): n - limitOpen})
}

func limitToken(org storage.OrgID, i int) android.Token {
	t := sampleAndroidToken(org, fmt.Sprintf("limit-%d", i), true)
	t.MaxOpen = limitOpen
	return t
}

func testLimitOpenTokens(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	for i := range limitOpen {
		_, err := s.CreateAndroidToken(ctx, limitToken(o.ID, i), androidEntry(o.ID, "android.token.create", 1))
		noErr(t, "CreateAndroidToken", err)
	}
	n, err := s.OpenAndroidTokens(ctx, o.ID, limitToken(o.ID, 0).UserID, at(1))
	noErr(t, "OpenAndroidTokens", err)
	if n != limitOpen {
		t.Errorf("OpenAndroidTokens = %d, want %d", n, limitOpen)
	}
	before := takeSnapshot(t, s)
	_, err = s.CreateAndroidToken(ctx, limitToken(o.ID, 100), androidEntry(o.ID, "android.token.create", 1))
	wantErr(t, "a token beyond the limit", err, storage.ErrLimit)
	unchanged(t, "a token beyond the limit", s, before)
	// A used one-time token no longer counts.
	_, err = s.UseAndroidToken(ctx, o.ID, limitToken(o.ID, 0).ID, at(2), androidEntry(o.ID, "android.token.use", 2))
	noErr(t, "UseAndroidToken", err)
	if n, _ := s.OpenAndroidTokens(ctx, o.ID, limitToken(o.ID, 0).UserID, at(2)); n != limitOpen-1 {
		t.Errorf("open tokens after one was used: %d, want %d", n, limitOpen-1)
	}
	_, err = s.CreateAndroidToken(ctx, limitToken(o.ID, 101), androidEntry(o.ID, "android.token.create", 2))
	noErr(t, "CreateAndroidToken after one was used", err)
	// Expired ones do not count either.
	if n, _ := s.OpenAndroidTokens(ctx, o.ID, limitToken(o.ID, 0).UserID, at(61)); n != 0 {
		t.Errorf("open tokens after they expired: %d, want 0", n)
	}
}

func testLimitOpenTokensConcurrent(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	n := 2 * limitOpen
	errs := parallel(n, func(i int) error {
		_, err := s.CreateAndroidToken(t.Context(), limitToken(o.ID, i), androidEntry(o.ID, "android.token.create", 1))
		return err
	})
	same(t, "concurrent tokens of one user", countErrs(errs, storage.ErrLimit),
		map[string]int{"nil": limitOpen, storage.ErrLimit.Error(): n - limitOpen})
}

// enrollmentWith is an agent enrollment with token secret, of a device
// with identifier ident.
func enrollmentWith(org storage.OrgID, secret, id, ident string) android.TokenEnrollment {
	d := sampleAndroidDevice(org, id)
	d.TokenID = android.TokenID(secret)
	inv := inventory.Device{ID: id, Org: org, UserID: d.UserID, Platform: inventory.PlatformAndroid, Ownership: d.Ownership,
		EnrollmentType: d.Type, State: inventory.StateEnrolled, Identifier: ident}
	return android.TokenEnrollment{
		Token: d.TokenID, At: at(5), UseEntry: androidEntry(org, "android.token.use", 5),
		Inventory: inv, RegisterEntry: deviceEntry(org, "device.register", at(5)),
		Device: d, DeviceEntry: androidEntry(org, "android.device.enroll", 5),
	}
}

func testAndroidEnrollWhole(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	tok := sampleAndroidToken(o.ID, "whole", true)
	tok.Mode, tok.Type = enrollmentWith(o.ID, "whole", "x", "x").Device.Mode, inventory.EnrollAndroidKnox
	_, err := s.CreateAndroidToken(ctx, tok, androidEntry(o.ID, "android.token.create", 1))
	noErr(t, "CreateAndroidToken", err)
	// The identifier is in use: refused, and the token is not spent.
	taken := inventory.Device{ID: "dev_taken", Org: o.ID, UserID: "bob", Platform: inventory.PlatformAndroid,
		Ownership: inventory.OwnershipCompany, EnrollmentType: inventory.EnrollAndroidKnox, State: inventory.StateEnrolled, Identifier: "aid-1"}
	_, err = s.CreateDevice(ctx, taken, deviceEntry(o.ID, "device.register", at(2)))
	noErr(t, "CreateDevice", err)
	before := takeSnapshot(t, s)
	_, err = s.EnrollAndroidDevice(ctx, enrollmentWith(o.ID, "whole", "dev_1", "aid-1"))
	wantErr(t, "enrollment of an identifier in use", err, storage.ErrAlreadyExists)
	unchanged(t, "a refused enrollment", s, before)
	if got, _ := s.AndroidToken(ctx, o.ID, tok.ID); got.Uses != 0 {
		t.Errorf("a refused enrollment spent the token: %d uses", got.Uses)
	}
	// The enrollment that succeeds spends it, and stores both records.
	d, err := s.EnrollAndroidDevice(ctx, enrollmentWith(o.ID, "whole", "dev_2", "aid-2"))
	noErr(t, "EnrollAndroidDevice", err)
	if got, _ := s.AndroidToken(ctx, o.ID, tok.ID); got.Uses != 1 {
		t.Errorf("token after the enrollment: %d uses, want 1", got.Uses)
	}
	stored, err := s.AndroidDevice(ctx, o.ID, "dev_2")
	noErr(t, "AndroidDevice", err)
	same(t, "stored Android device", stored, d)
	inv, err := s.Device(ctx, o.ID, "dev_2")
	noErr(t, "Device", err)
	if inv.State != inventory.StateEnrolled || inv.Identifier != "aid-2" {
		t.Errorf("inventory record %+v, want enrolled as aid-2", inv)
	}
	// Spent: the next enrollment with it is refused whole.
	before = takeSnapshot(t, s)
	_, err = s.EnrollAndroidDevice(ctx, enrollmentWith(o.ID, "whole", "dev_3", "aid-3"))
	wantErr(t, "enrollment with a spent token", err, storage.ErrConflict)
	late := enrollmentWith(o.ID, "never", "dev_4", "aid-4")
	_, err = s.EnrollAndroidDevice(ctx, late)
	wantErr(t, "enrollment with an unknown token", err, storage.ErrNotFound)
	bad := enrollmentWith(o.ID, "whole", "dev_5", "aid-5")
	bad.Inventory.ID = "dev_other"
	_, err = s.EnrollAndroidDevice(ctx, bad)
	wantErr(t, "records that do not match", err, storage.ErrInvalid)
	unchanged(t, "refused enrollments", s, before)
}
