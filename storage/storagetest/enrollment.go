package storagetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
)

func enrollmentCases() []testCase {
	return []testCase{
		{"Enrollment/StartAndRead", testEnrollmentStartAndRead},
		{"Enrollment/TokenUpdate", testEnrollmentTokenUpdate},
		{"Enrollment/Restart", testEnrollmentRestart},
		{"Enrollment/TokenDead", testEnrollmentTokenDead},
		{"Enrollment/BootstrapAndCheckOut", testEnrollmentBootstrapAndCheckOut},
		{"Enrollment/Batch", testEnrollmentBatch},
		{"Enrollment/Invalid", testEnrollmentInvalid},
		{"Enrollment/TenantIsolation", testEnrollmentTenantIsolation},
	}
}

func startEnrollment(t testing.TB, s Store, org storage.OrgID, device string) enroll.Enrollment {
	t.Helper()
	e, err := s.StartEnrollment(t.Context(), enroll.Enrollment{Org: org, Device: device, Channel: "UDID-" + device,
		Topic: "com.apple.mgmt.External.test", Updated: at(1)})
	noErr(t, "StartEnrollment", err)
	return e
}

func tokenUpdate(token string, unlock []byte, when time.Time) enroll.TokenUpdate {
	return enroll.TokenUpdate{Topic: "com.apple.mgmt.External.test", Token: []byte(token), PushMagic: "magic-" + token, UnlockToken: unlock, At: when}
}

func testEnrollmentStartAndRead(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	in := enroll.Enrollment{Org: o.ID, Device: "d1", Channel: "E-1", UserEnrollment: true, Topic: "topic",
		Token: []byte("ignored"), Enrolled: at(0), Updated: at(1)}
	got, err := s.StartEnrollment(t.Context(), in)
	noErr(t, "StartEnrollment", err)
	want := enroll.Enrollment{Org: o.ID, Device: "d1", Channel: "E-1", UserEnrollment: true, Topic: "topic", Updated: storage.Normalize(at(1))}
	same(t, "started enrollment (tokens and times start empty)", got, want)
	read, err := s.Enrollment(t.Context(), o.ID, "d1")
	noErr(t, "Enrollment", err)
	same(t, "read enrollment", read, want)
	_, err = s.Enrollment(t.Context(), o.ID, "d2")
	wantErr(t, "Enrollment(unknown)", err, storage.ErrNotFound)
}

func testEnrollmentTokenUpdate(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	startEnrollment(t, s, o.ID, "d1")
	e, first, err := s.UpdateToken(t.Context(), o.ID, "d1", tokenUpdate("t1", []byte("unlock-1"), at(2)))
	noErr(t, "first UpdateToken", err)
	if !first || !e.Enrolled.Equal(storage.Normalize(at(2))) || string(e.Token) != "t1" || e.PushMagic != "magic-t1" || string(e.UnlockToken) != "unlock-1" {
		t.Errorf("after the first TokenUpdate: first=%v %+v", first, e)
	}
	e, first, err = s.UpdateToken(t.Context(), o.ID, "d1", tokenUpdate("t2", nil, at(3)))
	noErr(t, "second UpdateToken", err)
	if first || !e.Enrolled.Equal(storage.Normalize(at(2))) || string(e.Token) != "t2" || e.PushMagic != "magic-t2" {
		t.Errorf("after the second TokenUpdate: first=%v %+v", first, e)
	}
	if string(e.UnlockToken) != "unlock-1" {
		t.Errorf("a TokenUpdate without unlock token dropped the escrowed one: %q", e.UnlockToken)
	}
	e, _, err = s.UpdateToken(t.Context(), o.ID, "d1", tokenUpdate("t3", []byte("unlock-2"), at(4)))
	noErr(t, "third UpdateToken", err)
	read, err := s.Enrollment(t.Context(), o.ID, "d1")
	noErr(t, "Enrollment", err)
	same(t, "stored after three TokenUpdates", read, e)
	if string(read.UnlockToken) != "unlock-2" || !read.Updated.Equal(storage.Normalize(at(4))) {
		t.Errorf("unlock token not replaced: %+v", read)
	}
	_, _, err = s.UpdateToken(t.Context(), o.ID, "unknown", tokenUpdate("t", nil, at(4)))
	wantErr(t, "UpdateToken(unknown device)", err, storage.ErrNotFound)
}

func testEnrollmentRestart(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	startEnrollment(t, s, o.ID, "d1")
	s.UpdateToken(t.Context(), o.ID, "d1", tokenUpdate("t1", []byte("u"), at(2))) //nolint:errcheck // checked by the read below
	noErr(t, "SetBootstrapToken", s.SetBootstrapToken(t.Context(), o.ID, "d1", []byte("boot"), at(3)))
	again := startEnrollment(t, s, o.ID, "d1")
	if again.Token != nil || again.UnlockToken != nil || again.BootstrapToken != nil || !again.Enrolled.IsZero() || again.PushMagic != "" {
		t.Errorf("a new Authenticate kept the old enrollment's state: %+v", again)
	}
	_, first, err := s.UpdateToken(t.Context(), o.ID, "d1", tokenUpdate("t2", nil, at(5)))
	noErr(t, "UpdateToken after restart", err)
	if !first {
		t.Error("the first TokenUpdate after a new Authenticate is not reported as first")
	}
}

func testEnrollmentTokenDead(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	startEnrollment(t, s, o.ID, "d1")
	s.UpdateToken(t.Context(), o.ID, "d1", tokenUpdate("t1", nil, at(2))) //nolint:errcheck // checked below
	noErr(t, "MarkTokenDead(old token)", s.MarkTokenDead(t.Context(), o.ID, "d1", []byte("t0"), at(3)))
	if e, _ := s.Enrollment(t.Context(), o.ID, "d1"); e.TokenDead {
		t.Error("a dead report for an older token killed the current one")
	}
	noErr(t, "MarkTokenDead", s.MarkTokenDead(t.Context(), o.ID, "d1", []byte("t1"), at(3)))
	if e, _ := s.Enrollment(t.Context(), o.ID, "d1"); !e.TokenDead {
		t.Error("token not marked dead")
	}
	e, _, err := s.UpdateToken(t.Context(), o.ID, "d1", tokenUpdate("t2", nil, at(4)))
	noErr(t, "UpdateToken", err)
	if e.TokenDead {
		t.Error("a new token is still marked dead")
	}
}

func testEnrollmentBootstrapAndCheckOut(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	startEnrollment(t, s, o.ID, "d1")
	noErr(t, "SetBootstrapToken", s.SetBootstrapToken(t.Context(), o.ID, "d1", []byte("boot"), at(2)))
	if e, _ := s.Enrollment(t.Context(), o.ID, "d1"); string(e.BootstrapToken) != "boot" {
		t.Errorf("bootstrap token not escrowed: %q", e.BootstrapToken)
	}
	noErr(t, "clear bootstrap token", s.SetBootstrapToken(t.Context(), o.ID, "d1", nil, at(3)))
	if e, _ := s.Enrollment(t.Context(), o.ID, "d1"); e.BootstrapToken != nil {
		t.Errorf("bootstrap token not cleared: %q", e.BootstrapToken)
	}
	noErr(t, "SetBootstrapToken again", s.SetBootstrapToken(t.Context(), o.ID, "d1", []byte("boot"), at(4)))
	_, _, err := s.UpdateToken(t.Context(), o.ID, "d1", enroll.TokenUpdate{Token: []byte("t"), PushMagic: "m", UnlockToken: []byte("unlock"), At: at(4)})
	noErr(t, "UpdateToken", err)
	// Checking out forgets the escrowed tokens, and escrows no more: an
	// identity of a device that left gets nothing back (SECURITY.md).
	noErr(t, "CheckOut", s.CheckOut(t.Context(), o.ID, "d1", at(5)))
	e, err := s.Enrollment(t.Context(), o.ID, "d1")
	noErr(t, "Enrollment", err)
	if e.BootstrapToken != nil || e.UnlockToken != nil || !e.CheckedOut.Equal(storage.Normalize(at(5))) {
		t.Errorf("after check-out: bootstrap %q, unlock %q, checked out %v; want both tokens gone", e.BootstrapToken, e.UnlockToken, e.CheckedOut)
	}
	wantErr(t, "SetBootstrapToken after check-out", s.SetBootstrapToken(t.Context(), o.ID, "d1", []byte("again"), at(6)), storage.ErrConflict)
	if e, _ := s.Enrollment(t.Context(), o.ID, "d1"); e.BootstrapToken != nil {
		t.Errorf("bootstrap token escrowed after check-out: %q", e.BootstrapToken)
	}
	wantErr(t, "CheckOut(unknown)", s.CheckOut(t.Context(), o.ID, "nope", at(3)), storage.ErrNotFound)
	wantErr(t, "SetBootstrapToken(unknown)", s.SetBootstrapToken(t.Context(), o.ID, "nope", nil, at(3)), storage.ErrNotFound)
}

func testEnrollmentBatch(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	for _, d := range []string{"d1", "d2", "d3"} {
		startEnrollment(t, s, o.ID, d)
	}
	got, err := s.Enrollments(t.Context(), o.ID, []string{"d3", "d1", "missing"})
	noErr(t, "Enrollments", err)
	var devices []string
	for _, e := range got {
		devices = append(devices, e.Device)
	}
	slices.Sort(devices)
	same(t, "batch", devices, []string{"d1", "d3"})
	none, err := s.Enrollments(t.Context(), o.ID, nil)
	noErr(t, "Enrollments(none)", err)
	if len(none) != 0 {
		t.Errorf("Enrollments(nil) = %v", none)
	}
}

func testEnrollmentInvalid(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	startEnrollment(t, s, o.ID, "d1")
	before, _ := s.Enrollment(t.Context(), o.ID, "d1")
	for name, e := range map[string]enroll.Enrollment{
		"no device":      {Org: o.ID, Channel: "c", Updated: at(1)},
		"no channel":     {Org: o.ID, Device: "d2", Updated: at(1)},
		"bad org":        {Org: "a b", Device: "d2", Channel: "c", Updated: at(1)},
		"oversize topic": {Org: o.ID, Device: "d2", Channel: "c", Topic: strings.Repeat("t", enroll.MaxTopic+1), Updated: at(1)},
	} {
		_, err := s.StartEnrollment(t.Context(), e)
		wantErr(t, name, err, storage.ErrInvalid)
	}
	_, err := s.StartEnrollment(t.Context(), enroll.Enrollment{Org: "org_unknown", Device: "d2", Channel: "c", Updated: at(1)})
	wantErr(t, "StartEnrollment(unknown org)", err, storage.ErrNotFound)
	for name, u := range map[string]enroll.TokenUpdate{
		"no token":         {PushMagic: "m", At: at(2)},
		"no magic":         {Token: []byte("t"), At: at(2)},
		"no time":          {Token: []byte("t"), PushMagic: "m"},
		"oversize token":   {Token: make([]byte, enroll.MaxPushToken+1), PushMagic: "m", At: at(2)},
		"oversize unlock":  {Token: []byte("t"), PushMagic: "m", UnlockToken: make([]byte, enroll.MaxUnlockToken+1), At: at(2)},
		"oversize magic":   {Token: []byte("t"), PushMagic: strings.Repeat("m", enroll.MaxPushMagic+1), At: at(2)},
		"oversize topic 2": {Token: []byte("t"), PushMagic: "m", Topic: strings.Repeat("t", enroll.MaxTopic+1), At: at(2)},
	} {
		_, _, err := s.UpdateToken(t.Context(), o.ID, "d1", u)
		wantErr(t, name, err, storage.ErrInvalid)
	}
	err = s.SetBootstrapToken(t.Context(), o.ID, "d1", make([]byte, enroll.MaxBootstrapToken+1), at(2))
	wantErr(t, "oversize bootstrap token", err, storage.ErrInvalid)
	after, _ := s.Enrollment(t.Context(), o.ID, "d1")
	same(t, "enrollment after rejected calls", after, before)
}

func testEnrollmentTenantIsolation(t testing.TB, s Store) {
	a := mustCreateOrg(t, s, "alpha")
	b := mustCreateOrg(t, s, "bravo")
	startEnrollment(t, s, a.ID, "d1")
	_, err := s.Enrollment(t.Context(), b.ID, "d1")
	wantErr(t, "org B reading org A's enrollment", err, storage.ErrNotFound)
	_, _, err = s.UpdateToken(t.Context(), b.ID, "d1", tokenUpdate("evil", nil, at(2)))
	wantErr(t, "org B updating org A's token", err, storage.ErrNotFound)
	wantErr(t, "org B checking out org A's device", s.CheckOut(t.Context(), b.ID, "d1", at(2)), storage.ErrNotFound)
	wantErr(t, "org B killing org A's token", s.MarkTokenDead(t.Context(), b.ID, "d1", nil, at(2)), storage.ErrNotFound)
	got, err := s.Enrollments(t.Context(), b.ID, []string{"d1"})
	noErr(t, "Enrollments in org B", err)
	if len(got) != 0 {
		t.Errorf("org B sees %v", got)
	}
	e, err := s.Enrollment(t.Context(), a.ID, "d1")
	noErr(t, "Enrollment in org A", err)
	if e.Token != nil || !e.CheckedOut.IsZero() {
		t.Errorf("org A's enrollment changed through org B: %+v", e)
	}
}
