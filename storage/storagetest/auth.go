package storagetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/storage"
)

func authCases() []testCase {
	return []testCase{
		{"Auth/UserCreateAndRead", testAuthUserCreateAndRead},
		{"Auth/UserDuplicate", testAuthUserDuplicate},
		{"Auth/UserInvalid", testAuthUserInvalid},
		{"Auth/UserUpdate", testAuthUserUpdate},
		{"Auth/UserDeactivateRevokesSessions", testAuthDeactivateRevokes},
		{"Auth/Groups", testAuthGroups},
		{"Auth/SignOn", testAuthSignOn},
		{"Auth/SignOnConcurrentFirstPut", testAuthSignOnConcurrent},
		{"Auth/TOTP", testAuthTOTP},
		{"Auth/TOTPConcurrentStep", testAuthTOTPConcurrent},
		{"Auth/TOTPReseal", testAuthTOTPReseal},
		{"Auth/PhoneCode", testAuthPhoneCode},
		{"Auth/PhoneCodeConcurrentConsume", testAuthPhoneCodeConcurrent},
		{"Auth/Failures", testAuthFailures},
		{"Auth/ReserveConcurrent", testAuthReserveConcurrent},
		{"Auth/Sessions", testAuthSessions},
		{"Auth/SessionConcurrentUpdate", testAuthSessionConcurrent},
		{"Auth/TenantIsolation", testAuthTenantIsolation},
	}
}

// A syntactically valid argon2id hash; the stores never check it.
const authTestHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"

func newAuthUser(org storage.OrgID, name string) auth.UserRecord {
	return auth.UserRecord{
		User: auth.User{
			Org: org, ID: "usr_" + name, Username: name, DisplayName: strings.ToUpper(name[:1]) + name[1:] + " Müller",
			Email: name + "@example.com", Phone: "+4915112345678", Status: auth.StatusActive,
		},
		PasswordHash: authTestHash,
	}
}

func mustCreateAuthUser(t testing.TB, s Store, org storage.OrgID, name string) auth.UserRecord {
	t.Helper()
	u, err := s.CreateUser(t.Context(), newAuthUser(org, name), entryFor(org, "auth.user.create", at(1)))
	noErr(t, "CreateUser "+name, err)
	return u
}

func newAuthSession(org storage.OrgID, userID, id string, when time.Time) auth.Session {
	h := sha256.Sum256([]byte(string(org) + "/" + id))
	return auth.Session{
		Org: org, ID: id, TokenHash: h[:], UserID: userID, State: auth.StateMFA,
		Created: when, LastUsed: when, Expires: when.Add(time.Hour),
	}
}

func mustCreateAuthSession(t testing.TB, s Store, org storage.OrgID, userID, id string) auth.Session {
	t.Helper()
	se, err := s.CreateSession(t.Context(), newAuthSession(org, userID, id, at(2)), entryFor(org, "auth.signin.success", at(2)))
	noErr(t, "CreateSession "+id, err)
	return se
}

func newAuthTOTP(org storage.OrgID, userID string) auth.TOTPFactor {
	return auth.TOTPFactor{Org: org, UserID: userID, Secret: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", Created: at(3)}
}

func newAuthPhoneCode(org storage.OrgID, sessionID string, fill byte) auth.PhoneCode {
	return auth.PhoneCode{
		Org: org, SessionID: sessionID, Channel: auth.ChannelSMS,
		Salt: []byte(strings.Repeat("s", 16)), Hash: []byte(strings.Repeat(string(fill), 32)),
		Sent: at(4), Expires: at(14), Sends: 1,
	}
}

// authSnapshot extends snapshot with the directory, so that rejected auth
// calls can be shown to change nothing.
type authSnapshot struct {
	Base    snapshot
	Users   map[storage.OrgID][]auth.UserRecord
	Groups  map[storage.OrgID][]auth.Group
	Members map[string][]auth.Group
	SignOn  map[storage.OrgID]string
}

func takeAuthSnapshot(t testing.TB, s Store) authSnapshot {
	t.Helper()
	snap := authSnapshot{Base: takeSnapshot(t, s), Users: map[storage.OrgID][]auth.UserRecord{},
		Groups: map[storage.OrgID][]auth.Group{}, Members: map[string][]auth.Group{}, SignOn: map[storage.OrgID]string{}}
	ctx := t.Context()
	for _, o := range snap.Base.Orgs {
		users, err := s.ListUsers(ctx, o.ID)
		noErr(t, "ListUsers", err)
		snap.Users[o.ID] = users
		groups, err := s.ListGroups(ctx, o.ID)
		noErr(t, "ListGroups", err)
		snap.Groups[o.ID] = groups
		for _, u := range users {
			gs, err := s.UserGroups(ctx, o.ID, u.ID)
			noErr(t, "UserGroups", err)
			snap.Members[string(o.ID)+"/"+u.ID] = gs
		}
		so, err := s.SignOn(ctx, o.ID)
		snap.SignOn[o.ID] = fmt.Sprintf("%+v %v", so, err != nil)
	}
	return snap
}

func authUnchanged(t testing.TB, what string, s Store, before authSnapshot) {
	t.Helper()
	same(t, what+": store changed", takeAuthSnapshot(t, s), before)
}

func testAuthUserCreateAndRead(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	in := newAuthUser(o.ID, "bob")
	e := entryFor(o.ID, "auth.user.create", at(1))
	got, err := s.CreateUser(ctx, in, e)
	noErr(t, "CreateUser", err)
	want := in
	want.Version, want.Created, want.Updated = 1, storage.Normalize(e.Time), storage.Normalize(e.Time)
	same(t, "CreateUser result", got, want)

	byID, err := s.User(ctx, o.ID, "usr_bob")
	noErr(t, "User", err)
	same(t, "User", byID, want)
	byName, err := s.UserByName(ctx, o.ID, "bob")
	noErr(t, "UserByName", err)
	same(t, "UserByName", byName, want)
	_, err = s.UserByName(ctx, o.ID, "BOB")
	wantErr(t, "UserByName is exact", err, storage.ErrNotFound)

	alice := mustCreateAuthUser(t, s, o.ID, "alice")
	list, err := s.ListUsers(ctx, o.ID)
	noErr(t, "ListUsers", err)
	same(t, "ListUsers (ordered by username)", list, []auth.UserRecord{alice, want})

	log := allAudit(t, s, o.ID)
	if len(log) != 3 || log[1].Action != "auth.user.create" {
		t.Errorf("audit log = %+v, want org creation and two user creations", log)
	}
	empty, err := s.ListUsers(ctx, "org_none")
	noErr(t, "ListUsers(unknown org)", err)
	if empty == nil || len(empty) != 0 {
		t.Errorf("ListUsers(unknown org) = %#v, want an empty slice", empty)
	}
}

func testAuthUserDuplicate(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	other := mustCreateOrg(t, s, "beta")
	mustCreateAuthUser(t, s, o.ID, "bob")
	before := takeAuthSnapshot(t, s)

	sameID := newAuthUser(o.ID, "robert")
	sameID.ID = "usr_bob"
	_, err := s.CreateUser(ctx, sameID, entryFor(o.ID, "auth.user.create", at(2)))
	wantErr(t, "CreateUser with a used ID", err, storage.ErrAlreadyExists)
	authUnchanged(t, "CreateUser with a used ID", s, before)

	sameName := newAuthUser(o.ID, "bob")
	sameName.ID = "usr_other"
	_, err = s.CreateUser(ctx, sameName, entryFor(o.ID, "auth.user.create", at(2)))
	wantErr(t, "CreateUser with a used username", err, storage.ErrAlreadyExists)
	authUnchanged(t, "CreateUser with a used username", s, before)

	// The same username and even ID in another org are another user.
	_, err = s.CreateUser(ctx, newAuthUser(other.ID, "bob"), entryFor(other.ID, "auth.user.create", at(2)))
	noErr(t, "CreateUser bob in another org", err)
}

func testAuthUserInvalid(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	mustCreateAuthUser(t, s, o.ID, "existing")
	tests := []struct {
		name string
		edit func(*auth.UserRecord, *storage.AuditEntry)
		want error
	}{
		{"empty id", func(u *auth.UserRecord, _ *storage.AuditEntry) { u.ID = "" }, storage.ErrInvalid},
		{"id with space", func(u *auth.UserRecord, _ *storage.AuditEntry) { u.ID = "a b" }, storage.ErrInvalid},
		{"empty username", func(u *auth.UserRecord, _ *storage.AuditEntry) { u.Username = "" }, storage.ErrInvalid},
		{"uppercase username", func(u *auth.UserRecord, _ *storage.AuditEntry) { u.Username = "Bob" }, storage.ErrInvalid},
		{"username with space", func(u *auth.UserRecord, _ *storage.AuditEntry) { u.Username = "bo b" }, storage.ErrInvalid},
		{"username too long", func(u *auth.UserRecord, _ *storage.AuditEntry) {
			u.Username = strings.Repeat("b", auth.MaxUsernameLen+1)
		}, storage.ErrInvalid},
		{"bad status", func(u *auth.UserRecord, _ *storage.AuditEntry) { u.Status = "suspended" }, storage.ErrInvalid},
		{"bad phone", func(u *auth.UserRecord, _ *storage.AuditEntry) { u.Phone = "0151 123" }, storage.ErrInvalid},
		{"bad email", func(u *auth.UserRecord, _ *storage.AuditEntry) { u.Email = "nobody" }, storage.ErrInvalid},
		{"display name with newline", func(u *auth.UserRecord, _ *storage.AuditEntry) { u.DisplayName = "a\nb" }, storage.ErrInvalid},
		{"oversize hash", func(u *auth.UserRecord, _ *storage.AuditEntry) {
			u.PasswordHash = strings.Repeat("h", auth.MaxHashLen+1)
		}, storage.ErrInvalid},
		{"entry for another org", func(_ *auth.UserRecord, e *storage.AuditEntry) { e.Org = "org_elsewhere" }, storage.ErrInvalid},
		{"entry without actor", func(_ *auth.UserRecord, e *storage.AuditEntry) { e.Actor = "" }, storage.ErrInvalid},
		{"unknown org", func(u *auth.UserRecord, e *storage.AuditEntry) { u.Org, e.Org = "org_none", "org_none" }, storage.ErrNotFound},
	}
	for _, tt := range tests {
		u := newAuthUser(o.ID, "newbie")
		e := entryFor(o.ID, "auth.user.create", at(2))
		tt.edit(&u, &e)
		before := takeAuthSnapshot(t, s)
		_, err := s.CreateUser(ctx, u, e)
		wantErr(t, tt.name, err, tt.want)
		authUnchanged(t, tt.name, s, before)
	}
}

func testAuthUserUpdate(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	bob := mustCreateAuthUser(t, s, o.ID, "bob")
	mustCreateAuthUser(t, s, o.ID, "carol")

	u := bob
	u.Username, u.DisplayName, u.Phone, u.PasswordHash = "robert", "Robert", "", authTestHash+"x"
	e := entryFor(o.ID, "auth.user.update", at(5))
	got, err := s.UpdateUser(ctx, u, e)
	noErr(t, "UpdateUser", err)
	want := u
	want.Version, want.Updated = 2, storage.Normalize(e.Time)
	same(t, "UpdateUser result", got, want)
	read, err := s.User(ctx, o.ID, bob.ID)
	noErr(t, "User", err)
	same(t, "User after update", read, want)
	_, err = s.UserByName(ctx, o.ID, "bob")
	wantErr(t, "old username after rename", err, storage.ErrNotFound)
	reuse := newAuthUser(o.ID, "bob")
	reuse.ID = "usr_bob2"
	_, err = s.CreateUser(ctx, reuse, entryFor(o.ID, "auth.user.create", at(5)))
	noErr(t, "CreateUser with the freed username", err)

	before := takeAuthSnapshot(t, s)
	stale := got
	stale.Version = 1
	stale.DisplayName = "Stale"
	_, err = s.UpdateUser(ctx, stale, entryFor(o.ID, "auth.user.update", at(6)))
	wantErr(t, "UpdateUser with a stale version", err, storage.ErrConflict)
	authUnchanged(t, "UpdateUser with a stale version", s, before)

	taken := got
	taken.Username = "carol"
	_, err = s.UpdateUser(ctx, taken, entryFor(o.ID, "auth.user.update", at(6)))
	wantErr(t, "UpdateUser to a used username", err, storage.ErrAlreadyExists)
	authUnchanged(t, "UpdateUser to a used username", s, before)

	bad := got
	bad.Status = ""
	_, err = s.UpdateUser(ctx, bad, entryFor(o.ID, "auth.user.update", at(6)))
	wantErr(t, "UpdateUser with no status", err, storage.ErrInvalid)
	authUnchanged(t, "UpdateUser with no status", s, before)

	ghost := newAuthUser(o.ID, "ghost")
	ghost.Version = 1
	_, err = s.UpdateUser(ctx, ghost, entryFor(o.ID, "auth.user.update", at(6)))
	wantErr(t, "UpdateUser(unknown)", err, storage.ErrNotFound)
	authUnchanged(t, "UpdateUser(unknown)", s, before)
}

func testAuthDeactivateRevokes(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	bob := mustCreateAuthUser(t, s, o.ID, "bob")
	carol := mustCreateAuthUser(t, s, o.ID, "carol")
	b1 := mustCreateAuthSession(t, s, o.ID, bob.ID, "ses_b1")
	b2 := mustCreateAuthSession(t, s, o.ID, bob.ID, "ses_b2")
	c1 := mustCreateAuthSession(t, s, o.ID, carol.ID, "ses_c1")
	_, err := s.PutPhoneCode(ctx, newAuthPhoneCode(o.ID, b1.ID, 'h'), entryFor(o.ID, "auth.mfa.code_sent", at(4)))
	noErr(t, "PutPhoneCode", err)

	bob.Status = auth.StatusDeactivated
	_, err = s.UpdateUser(ctx, bob, entryFor(o.ID, "auth.user.deactivate", at(5)))
	noErr(t, "UpdateUser(deactivate)", err)
	for _, tc := range []struct {
		se      auth.Session
		revoked bool
	}{{b1, true}, {b2, true}, {c1, false}} {
		got, err := s.SessionByToken(ctx, o.ID, tc.se.TokenHash)
		noErr(t, "SessionByToken", err)
		if got.Revoked != tc.revoked {
			t.Errorf("session %s revoked = %v after deactivating bob, want %v", tc.se.ID, got.Revoked, tc.revoked)
		}
	}
	_, err = s.PhoneCode(ctx, o.ID, b1.ID)
	wantErr(t, "phone code of a revoked session", err, storage.ErrNotFound)
}

func testAuthGroups(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	bob := mustCreateAuthUser(t, s, o.ID, "bob")
	carol := mustCreateAuthUser(t, s, o.ID, "carol")
	sales, err := s.CreateGroup(ctx, auth.Group{Org: o.ID, ID: "grp_sales", Name: "Sales"}, entryFor(o.ID, "auth.group.create", at(2)))
	noErr(t, "CreateGroup", err)
	eng, err := s.CreateGroup(ctx, auth.Group{Org: o.ID, ID: "grp_eng", Name: "Engineering"}, entryFor(o.ID, "auth.group.create", at(2)))
	noErr(t, "CreateGroup", err)
	got, err := s.Group(ctx, o.ID, "grp_sales")
	noErr(t, "Group", err)
	same(t, "Group", got, sales)
	list, err := s.ListGroups(ctx, o.ID)
	noErr(t, "ListGroups", err)
	same(t, "ListGroups (ordered by name)", list, []auth.Group{eng, sales})

	before := takeAuthSnapshot(t, s)
	_, err = s.CreateGroup(ctx, auth.Group{Org: o.ID, ID: "grp_x", Name: "Sales"}, entryFor(o.ID, "auth.group.create", at(3)))
	wantErr(t, "CreateGroup with a used name", err, storage.ErrAlreadyExists)
	_, err = s.CreateGroup(ctx, auth.Group{Org: o.ID, ID: "grp_sales", Name: "Other"}, entryFor(o.ID, "auth.group.create", at(3)))
	wantErr(t, "CreateGroup with a used ID", err, storage.ErrAlreadyExists)
	_, err = s.CreateGroup(ctx, auth.Group{Org: o.ID, ID: "grp_y", Name: ""}, entryFor(o.ID, "auth.group.create", at(3)))
	wantErr(t, "CreateGroup without a name", err, storage.ErrInvalid)
	err = s.AddGroupMember(ctx, o.ID, "grp_none", bob.ID, entryFor(o.ID, "auth.group.member.add", at(3)))
	wantErr(t, "AddGroupMember(unknown group)", err, storage.ErrNotFound)
	err = s.AddGroupMember(ctx, o.ID, sales.ID, "usr_none", entryFor(o.ID, "auth.group.member.add", at(3)))
	wantErr(t, "AddGroupMember(unknown user)", err, storage.ErrNotFound)
	err = s.RemoveGroupMember(ctx, o.ID, sales.ID, bob.ID, entryFor(o.ID, "auth.group.member.remove", at(3)))
	wantErr(t, "RemoveGroupMember(not a member)", err, storage.ErrNotFound)
	authUnchanged(t, "rejected group calls", s, before)

	for _, m := range [][2]string{{sales.ID, bob.ID}, {eng.ID, bob.ID}, {sales.ID, carol.ID}} {
		noErr(t, "AddGroupMember", s.AddGroupMember(ctx, o.ID, m[0], m[1], entryFor(o.ID, "auth.group.member.add", at(4))))
	}
	err = s.AddGroupMember(ctx, o.ID, sales.ID, bob.ID, entryFor(o.ID, "auth.group.member.add", at(4)))
	wantErr(t, "AddGroupMember twice", err, storage.ErrAlreadyExists)
	gs, err := s.UserGroups(ctx, o.ID, bob.ID)
	noErr(t, "UserGroups", err)
	same(t, "bob's groups", gs, []auth.Group{eng, sales})
	members, err := s.GroupMembers(ctx, o.ID, sales.ID)
	noErr(t, "GroupMembers", err)
	same(t, "sales members", members, []string{bob.ID, carol.ID})
	_, err = s.GroupMembers(ctx, o.ID, "grp_none")
	wantErr(t, "GroupMembers(unknown group)", err, storage.ErrNotFound)
	none, err := s.UserGroups(ctx, o.ID, "usr_none")
	noErr(t, "UserGroups(unknown user)", err)
	if len(none) != 0 || none == nil {
		t.Errorf("UserGroups(unknown user) = %#v, want an empty slice", none)
	}

	noErr(t, "RemoveGroupMember", s.RemoveGroupMember(ctx, o.ID, sales.ID, bob.ID, entryFor(o.ID, "auth.group.member.remove", at(5))))
	gs, err = s.UserGroups(ctx, o.ID, bob.ID)
	noErr(t, "UserGroups", err)
	same(t, "bob's groups after removal", gs, []auth.Group{eng})
	if n := len(allAudit(t, s, o.ID)); n != 1+2+2+3+1 {
		t.Errorf("%d audit entries, want %d", n, 1+2+2+3+1)
	}
}

func testAuthSignOn(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	_, err := s.SignOn(ctx, o.ID)
	wantErr(t, "SignOn before any put", err, storage.ErrNotFound)

	rule := auth.DefaultSignOn(o.ID)
	rule.MFARequired = true
	rule.PIN = auth.PINPolicy{Length: 6, Alphanumeric: true, AllowSimple: true, IdleTimeout: 5 * time.Minute, MaxAge: 90 * 24 * time.Hour}
	e := entryFor(o.ID, "auth.signon.update", at(1))
	got, err := s.PutSignOn(ctx, rule, e)
	noErr(t, "PutSignOn", err)
	want := rule
	want.Version, want.Updated = 1, storage.Normalize(e.Time)
	same(t, "PutSignOn result", got, want)
	read, err := s.SignOn(ctx, o.ID)
	noErr(t, "SignOn", err)
	same(t, "SignOn", read, want)

	before := takeAuthSnapshot(t, s)
	_, err = s.PutSignOn(ctx, rule, entryFor(o.ID, "auth.signon.update", at(2))) // still version 0
	wantErr(t, "PutSignOn with a stale version", err, storage.ErrConflict)
	bad := got
	bad.PIN.Length = 3
	_, err = s.PutSignOn(ctx, bad, entryFor(o.ID, "auth.signon.update", at(2)))
	wantErr(t, "PutSignOn with a 3-digit PIN", err, storage.ErrInvalid)
	bad = got
	bad.PIN.IdleTimeout = 1500 * time.Millisecond
	_, err = s.PutSignOn(ctx, bad, entryFor(o.ID, "auth.signon.update", at(2)))
	wantErr(t, "PutSignOn with a fractional timeout", err, storage.ErrInvalid)
	ghost := auth.DefaultSignOn("org_none")
	_, err = s.PutSignOn(ctx, ghost, entryFor("org_none", "auth.signon.update", at(2)))
	wantErr(t, "PutSignOn(unknown org)", err, storage.ErrNotFound)
	authUnchanged(t, "rejected PutSignOn", s, before)

	next := got
	next.MFARequired = false
	got, err = s.PutSignOn(ctx, next, entryFor(o.ID, "auth.signon.update", at(3)))
	noErr(t, "PutSignOn (authErrOf)", err)
	if got.Version != 2 || got.MFARequired {
		t.Errorf("authErrOf PutSignOn = %+v, want version 2 without MFA", got)
	}
}

func testAuthSignOnConcurrent(t testing.TB, s Store) {
	const n = 8
	o := mustCreateOrg(t, s, "acme")
	errs := parallel(n, func(i int) error {
		rule := auth.DefaultSignOn(o.ID)
		rule.PIN.Length = 4 + i
		_, err := s.PutSignOn(t.Context(), rule, entryFor(o.ID, "auth.signon.update", at(i)))
		return err
	})
	same(t, "concurrent first PutSignOn outcomes", countErrs(errs, storage.ErrConflict),
		map[string]int{"nil": 1, storage.ErrConflict.Error(): n - 1})
	if log := allAudit(t, s, o.ID); len(log) != 2 {
		t.Errorf("%d audit entries after one successful put, want 2", len(log))
	}
}

func testAuthTOTP(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	bob := mustCreateAuthUser(t, s, o.ID, "bob")
	_, err := s.TOTP(ctx, o.ID, bob.ID)
	wantErr(t, "TOTP before enrollment", err, storage.ErrNotFound)
	err = s.UseTOTPStep(ctx, o.ID, bob.ID, 5, entryFor(o.ID, "auth.mfa.totp_used", at(3)))
	wantErr(t, "UseTOTPStep without a factor", err, storage.ErrNotFound)

	f := newAuthTOTP(o.ID, bob.ID)
	f.Confirmed, f.LastStep = true, 99 // ignored: a new factor starts unconfirmed
	got, err := s.PutTOTP(ctx, f, entryFor(o.ID, "auth.mfa.totp_enroll", at(3)))
	noErr(t, "PutTOTP", err)
	want := f.Normalize()
	want.Confirmed, want.LastStep = false, 0
	same(t, "PutTOTP result", got, want)
	read, err := s.TOTP(ctx, o.ID, bob.ID)
	noErr(t, "TOTP", err)
	same(t, "TOTP", read, want)

	// An unconfirmed factor may be replaced.
	f2 := newAuthTOTP(o.ID, bob.ID)
	f2.Secret = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"
	_, err = s.PutTOTP(ctx, f2, entryFor(o.ID, "auth.mfa.totp_enroll", at(3)))
	noErr(t, "PutTOTP replacing an unconfirmed factor", err)

	for _, tc := range []struct {
		step int64
		want error
	}{{100, nil}, {100, storage.ErrConflict}, {99, storage.ErrConflict}, {101, nil}, {101, storage.ErrConflict}} {
		err := s.UseTOTPStep(ctx, o.ID, bob.ID, tc.step, entryFor(o.ID, "auth.mfa.totp_used", at(4)))
		if tc.want == nil {
			noErr(t, fmt.Sprintf("UseTOTPStep(%d)", tc.step), err)
		} else {
			wantErr(t, fmt.Sprintf("UseTOTPStep(%d) again", tc.step), err, tc.want)
		}
	}
	read, err = s.TOTP(ctx, o.ID, bob.ID)
	noErr(t, "TOTP", err)
	if !read.Confirmed || read.LastStep != 101 || read.Secret != f2.Secret {
		t.Errorf("factor after use = %v (secret replaced: %v), want confirmed at step 101", read, read.Secret == f2.Secret)
	}
	before := takeAuthSnapshot(t, s)
	_, err = s.PutTOTP(ctx, newAuthTOTP(o.ID, bob.ID), entryFor(o.ID, "auth.mfa.totp_enroll", at(5)))
	wantErr(t, "PutTOTP over a confirmed factor", err, storage.ErrAlreadyExists)
	bad := newAuthTOTP(o.ID, bob.ID)
	bad.Secret = "not base32!"
	_, err = s.PutTOTP(ctx, bad, entryFor(o.ID, "auth.mfa.totp_enroll", at(5)))
	wantErr(t, "PutTOTP with a bad secret", err, storage.ErrInvalid)
	authUnchanged(t, "rejected PutTOTP", s, before)
	if again, _ := s.TOTP(ctx, o.ID, bob.ID); again.LastStep != 101 {
		t.Errorf("rejected PutTOTP changed the factor: %v", again)
	}

	noErr(t, "DeleteTOTP", s.DeleteTOTP(ctx, o.ID, bob.ID, entryFor(o.ID, "auth.mfa.totp_remove", at(6))))
	wantErr(t, "DeleteTOTP again", s.DeleteTOTP(ctx, o.ID, bob.ID, entryFor(o.ID, "auth.mfa.totp_remove", at(6))), storage.ErrNotFound)
	_, err = s.TOTP(ctx, o.ID, bob.ID)
	wantErr(t, "TOTP after delete", err, storage.ErrNotFound)
}

func testAuthTOTPConcurrent(t testing.TB, s Store) {
	const n = 8
	o := mustCreateOrg(t, s, "acme")
	bob := mustCreateAuthUser(t, s, o.ID, "bob")
	_, err := s.PutTOTP(t.Context(), newAuthTOTP(o.ID, bob.ID), entryFor(o.ID, "auth.mfa.totp_enroll", at(3)))
	noErr(t, "PutTOTP", err)
	before := len(allAudit(t, s, o.ID))
	errs := parallel(n, func(i int) error {
		return s.UseTOTPStep(t.Context(), o.ID, bob.ID, 1000, entryFor(o.ID, "auth.mfa.totp_used", at(4)))
	})
	same(t, "concurrent UseTOTPStep outcomes", countErrs(errs, storage.ErrConflict),
		map[string]int{"nil": 1, storage.ErrConflict.Error(): n - 1})
	if got := len(allAudit(t, s, o.ID)); got != before+1 {
		t.Errorf("%d audit entries added by one accepted step, want 1", got-before)
	}
}

func testAuthPhoneCode(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	bob := mustCreateAuthUser(t, s, o.ID, "bob")
	se := mustCreateAuthSession(t, s, o.ID, bob.ID, "ses_1")

	_, err := s.PutPhoneCode(ctx, newAuthPhoneCode(o.ID, "ses_none", 'a'), entryFor(o.ID, "auth.mfa.code_sent", at(4)))
	wantErr(t, "PutPhoneCode for an unknown session", err, storage.ErrNotFound)
	bad := newAuthPhoneCode(o.ID, se.ID, 'a')
	bad.Channel = "fax"
	_, err = s.PutPhoneCode(ctx, bad, entryFor(o.ID, "auth.mfa.code_sent", at(4)))
	wantErr(t, "PutPhoneCode by fax", err, storage.ErrInvalid)
	_, err = s.PhoneCode(ctx, o.ID, se.ID)
	wantErr(t, "PhoneCode before any send", err, storage.ErrNotFound)

	c := newAuthPhoneCode(o.ID, se.ID, 'a')
	got, err := s.PutPhoneCode(ctx, c, entryFor(o.ID, "auth.mfa.code_sent", at(4)))
	noErr(t, "PutPhoneCode", err)
	same(t, "PutPhoneCode result", got, c.Normalize())
	read, err := s.PhoneCode(ctx, o.ID, se.ID)
	noErr(t, "PhoneCode", err)
	same(t, "PhoneCode", read, c.Normalize())

	// A resend replaces the code: the first no longer works.
	c2 := newAuthPhoneCode(o.ID, se.ID, 'b')
	c2.Channel, c2.Sends = auth.ChannelVoice, 2
	_, err = s.PutPhoneCode(ctx, c2, entryFor(o.ID, "auth.mfa.code_sent", at(5)))
	noErr(t, "PutPhoneCode (resend)", err)
	entry := entryFor(o.ID, "auth.mfa.code_used", at(6))
	wantErr(t, "ConsumePhoneCode with the replaced code", s.ConsumePhoneCode(ctx, o.ID, se.ID, c.Hash, at(6), entry), storage.ErrNotFound)
	wantErr(t, "ConsumePhoneCode at expiry", s.ConsumePhoneCode(ctx, o.ID, se.ID, c2.Hash, c2.Expires, entry), storage.ErrNotFound)
	logBefore := len(allAudit(t, s, o.ID))
	noErr(t, "ConsumePhoneCode", s.ConsumePhoneCode(ctx, o.ID, se.ID, c2.Hash, at(6), entry))
	if n := len(allAudit(t, s, o.ID)); n != logBefore+1 {
		t.Errorf("ConsumePhoneCode appended %d entries, want 1", n-logBefore)
	}
	wantErr(t, "ConsumePhoneCode twice", s.ConsumePhoneCode(ctx, o.ID, se.ID, c2.Hash, at(6), entry), storage.ErrNotFound)
	_, err = s.PhoneCode(ctx, o.ID, se.ID)
	wantErr(t, "PhoneCode after use", err, storage.ErrNotFound)
}

func testAuthPhoneCodeConcurrent(t testing.TB, s Store) {
	const n = 8
	o := mustCreateOrg(t, s, "acme")
	bob := mustCreateAuthUser(t, s, o.ID, "bob")
	se := mustCreateAuthSession(t, s, o.ID, bob.ID, "ses_1")
	c := newAuthPhoneCode(o.ID, se.ID, 'a')
	_, err := s.PutPhoneCode(t.Context(), c, entryFor(o.ID, "auth.mfa.code_sent", at(4)))
	noErr(t, "PutPhoneCode", err)
	errs := parallel(n, func(i int) error {
		return s.ConsumePhoneCode(t.Context(), o.ID, se.ID, c.Hash, at(5), entryFor(o.ID, "auth.mfa.code_used", at(5)))
	})
	same(t, "concurrent ConsumePhoneCode outcomes", countErrs(errs, storage.ErrNotFound),
		map[string]int{"nil": 1, storage.ErrNotFound.Error(): n - 1})
}

func testAuthFailures(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	f, err := s.AuthFailures(ctx, o.ID, "signin:bob")
	noErr(t, "AuthFailures", err)
	same(t, "AuthFailures before any", f, auth.Failures{})
	th := auth.Throttle{Free: 3, Base: time.Minute, Max: time.Hour}
	rule := []auth.AttemptRule{{Key: "signin:bob", Throttle: th}}
	for i := 1; i <= 3; i++ {
		fs, wait, err := s.ReserveAuthAttempt(ctx, o.ID, at(i), rule)
		noErr(t, "ReserveAuthAttempt", err)
		if wait != 0 {
			t.Fatalf("attempt %d made to wait %v", i, wait)
		}
		same(t, "ReserveAuthAttempt result", fs, []auth.Failures{{Count: i, Last: storage.Normalize(at(i))}})
	}
	read, err := s.AuthFailures(ctx, o.ID, "signin:bob")
	noErr(t, "AuthFailures", err)
	same(t, "AuthFailures", read, auth.Failures{Count: 3, Last: storage.Normalize(at(3))})
	if n := len(allAudit(t, s, o.ID)); n != 1 {
		t.Errorf("%d audit entries, want the creation only: reservations audit nothing", n)
	}
	// The fourth attempt must wait; waiting changes nothing, on any key.
	before := takeAuthSnapshot(t, s)
	fs, wait, err := s.ReserveAuthAttempt(ctx, o.ID, at(3), append(rule, auth.AttemptRule{Key: "source:x", Throttle: th}))
	noErr(t, "ReserveAuthAttempt over the limit", err)
	if wait <= 0 || fs != nil {
		t.Errorf("over the limit: %v, wait %v; want a wait and no failures", fs, wait)
	}
	_, _, err = s.ReserveAuthAttempt(ctx, o.ID, at(4), []auth.AttemptRule{{Key: "bad key", Throttle: th}})
	wantErr(t, "ReserveAuthAttempt with a space in the key", err, storage.ErrInvalid)
	_, _, err = s.ReserveAuthAttempt(ctx, "org_none", at(4), rule)
	wantErr(t, "ReserveAuthAttempt(unknown org)", err, storage.ErrNotFound)
	authUnchanged(t, "refused ReserveAuthAttempt", s, before)
	// After the backoff it goes ahead again.
	fs, wait, err = s.ReserveAuthAttempt(ctx, o.ID, at(3).Add(time.Minute), rule)
	noErr(t, "ReserveAuthAttempt after the backoff", err)
	if wait != 0 || len(fs) != 1 || fs[0].Count != 4 {
		t.Errorf("after the backoff: %v, wait %v", fs, wait)
	}
	// Forget lets old failures lapse.
	lapse := []auth.AttemptRule{{Key: "signin:bob", Throttle: auth.Throttle{Free: 3, Base: time.Minute, Max: time.Hour, Forget: time.Hour}}}
	fs, _, err = s.ReserveAuthAttempt(ctx, o.ID, at(3).Add(3*time.Hour), lapse)
	noErr(t, "ReserveAuthAttempt after Forget", err)
	same(t, "failures after Forget", fs, []auth.Failures{{Count: 1, Last: storage.Normalize(at(3).Add(3 * time.Hour))}})

	noErr(t, "ReleaseAuthAttempt", s.ReleaseAuthAttempt(ctx, o.ID, "signin:bob"))
	noErr(t, "ReleaseAuthAttempt below zero", s.ReleaseAuthAttempt(ctx, o.ID, "signin:bob"))
	noErr(t, "ReleaseAuthAttempt of an unknown key", s.ReleaseAuthAttempt(ctx, o.ID, "never"))
	if f, _ := s.AuthFailures(ctx, o.ID, "signin:bob"); f.Count != 0 {
		t.Errorf("count after releasing more than was reserved: %d, want 0", f.Count)
	}
	noErr(t, "ClearAuthFailures", s.ClearAuthFailures(ctx, o.ID, "signin:bob"))
	f, err = s.AuthFailures(ctx, o.ID, "signin:bob")
	noErr(t, "AuthFailures after clear", err)
	same(t, "AuthFailures after clear", f, auth.Failures{})
}

// testAuthReserveConcurrent: of parallel attempts under a key that allows
// k more, exactly k are reserved, and the others wait; the count is exact
// (the throttle race of issue 22, finding 3).
func testAuthReserveConcurrent(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	const n, free = 24, 10
	rules := []auth.AttemptRule{
		{Key: "pin:ses_1", Throttle: auth.Throttle{Free: free, Base: time.Hour, Max: time.Hour}},
		{Key: "source:shared", Throttle: auth.Throttle{Free: 1000, Base: time.Hour, Max: time.Hour}},
	}
	var mu sync.Mutex
	waited := 0
	errs := parallel(n, func(i int) error {
		_, wait, err := s.ReserveAuthAttempt(t.Context(), o.ID, at(10), rules)
		if wait > 0 {
			mu.Lock()
			waited++
			mu.Unlock()
		}
		return err
	})
	same(t, "concurrent ReserveAuthAttempt errors", countErrs(errs), map[string]int{"nil": n})
	if waited != n-free {
		t.Errorf("%d of %d parallel attempts were made to wait, want %d: the reservation can be raced", waited, n, n-free)
	}
	for _, r := range rules {
		f, err := s.AuthFailures(t.Context(), o.ID, r.Key)
		noErr(t, "AuthFailures", err)
		if f.Count != free {
			t.Errorf("%s: count %d after %d reservations went ahead", r.Key, f.Count, free)
		}
	}
}

func testAuthSessions(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	bob := mustCreateAuthUser(t, s, o.ID, "bob")
	in := newAuthSession(o.ID, bob.ID, "ses_1", at(2))
	in.LastUsed = at(9) // ignored: LastUsed starts at Created
	got, err := s.CreateSession(ctx, in, entryFor(o.ID, "auth.signin.success", at(2)))
	noErr(t, "CreateSession", err)
	want := in
	want.LastUsed, want.Version = in.Created, 1
	want = want.Normalize()
	same(t, "CreateSession result", got, want)
	read, err := s.SessionByToken(ctx, o.ID, in.TokenHash)
	noErr(t, "SessionByToken", err)
	same(t, "SessionByToken", read, want)
	_, err = s.SessionByToken(ctx, o.ID, make([]byte, 32))
	wantErr(t, "SessionByToken(unknown)", err, storage.ErrNotFound)

	before := takeAuthSnapshot(t, s)
	dupID := newAuthSession(o.ID, bob.ID, "ses_1", at(3))
	dupID.TokenHash = make([]byte, 32)
	_, err = s.CreateSession(ctx, dupID, entryFor(o.ID, "auth.signin.success", at(3)))
	wantErr(t, "CreateSession with a used ID", err, storage.ErrAlreadyExists)
	dupToken := newAuthSession(o.ID, bob.ID, "ses_1", at(3))
	dupToken.ID = "ses_2"
	_, err = s.CreateSession(ctx, dupToken, entryFor(o.ID, "auth.signin.success", at(3)))
	wantErr(t, "CreateSession with a used token", err, storage.ErrAlreadyExists)
	bad := newAuthSession(o.ID, bob.ID, "ses_3", at(3))
	bad.TokenHash = []byte("short")
	_, err = s.CreateSession(ctx, bad, entryFor(o.ID, "auth.signin.success", at(3)))
	wantErr(t, "CreateSession with a short token hash", err, storage.ErrInvalid)
	bad = newAuthSession(o.ID, bob.ID, "ses_3", at(3))
	bad.State = "elevated"
	_, err = s.CreateSession(ctx, bad, entryFor(o.ID, "auth.signin.success", at(3)))
	wantErr(t, "CreateSession with an unknown state", err, storage.ErrInvalid)
	authUnchanged(t, "rejected CreateSession", s, before)

	// State machine step: MFA done, PIN set.
	next := got
	next.State, next.PINHash, next.PINSet, next.Expires = auth.StateActive, authTestHash, at(7), at(600)
	updated, err := s.UpdateSession(ctx, next, entryFor(o.ID, "auth.pin.set", at(7)))
	noErr(t, "UpdateSession", err)
	wantNext := next.Normalize()
	wantNext.Version = 2
	same(t, "UpdateSession result", updated, wantNext)
	_, err = s.UpdateSession(ctx, next, entryFor(o.ID, "auth.pin.set", at(7)))
	wantErr(t, "UpdateSession with a stale version", err, storage.ErrConflict)

	// A privilege step rotates the token: the session is found by the new
	// hash only.
	rotated := updated
	newHash := sha256.Sum256([]byte("rotated token"))
	rotated.TokenHash = newHash[:]
	updated, err = s.UpdateSession(ctx, rotated, entryFor(o.ID, "auth.pin.unlock", at(8)))
	noErr(t, "UpdateSession with a new token hash", err)
	if _, err := s.SessionByToken(ctx, o.ID, in.TokenHash); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the old token still finds the session after rotation: %v", err)
	}
	wantNext.TokenHash, wantNext.Version = rotated.TokenHash, 3
	dupHash := updated
	carol := mustCreateAuthUser(t, s, o.ID, "carol")
	other := mustCreateAuthSession(t, s, o.ID, carol.ID, "ses_6")
	dupHash.TokenHash = other.TokenHash
	_, err = s.UpdateSession(ctx, dupHash, entryFor(o.ID, "auth.pin.unlock", at(8)))
	wantErr(t, "UpdateSession to another session's token hash", err, storage.ErrAlreadyExists)

	noErr(t, "TouchSession", s.TouchSession(ctx, o.ID, "ses_1", at(20)))
	noErr(t, "TouchSession with an earlier time", s.TouchSession(ctx, o.ID, "ses_1", at(10)))
	wantErr(t, "TouchSession(unknown)", s.TouchSession(ctx, o.ID, "ses_none", at(20)), storage.ErrNotFound)
	read, err = s.SessionByToken(ctx, o.ID, rotated.TokenHash)
	noErr(t, "SessionByToken", err)
	wantNext.LastUsed = storage.Normalize(at(20))
	same(t, "session after touches", read, wantNext)

	noErr(t, "RevokeSession", s.RevokeSession(ctx, o.ID, "ses_1", entryFor(o.ID, "auth.signout", at(21))))
	wantErr(t, "RevokeSession again", s.RevokeSession(ctx, o.ID, "ses_1", entryFor(o.ID, "auth.signout", at(21))), storage.ErrNotFound)
	read, err = s.SessionByToken(ctx, o.ID, rotated.TokenHash)
	noErr(t, "SessionByToken(revoked)", err)
	if !read.Revoked {
		t.Errorf("session not revoked after RevokeSession")
	}
	_, err = s.UpdateSession(ctx, read, entryFor(o.ID, "auth.pin.change", at(22)))
	wantErr(t, "UpdateSession of a revoked session", err, storage.ErrConflict)

	mustCreateAuthSession(t, s, o.ID, bob.ID, "ses_4")
	mustCreateAuthSession(t, s, o.ID, bob.ID, "ses_5")
	n, err := s.RevokeUserSessions(ctx, o.ID, bob.ID, entryFor(o.ID, "auth.session.revoke_all", at(23)))
	noErr(t, "RevokeUserSessions", err)
	if n != 2 {
		t.Errorf("RevokeUserSessions revoked %d, want 2 (one was revoked already)", n)
	}
	logBefore := len(allAudit(t, s, o.ID))
	n, err = s.RevokeUserSessions(ctx, o.ID, bob.ID, entryFor(o.ID, "auth.session.revoke_all", at(24)))
	noErr(t, "RevokeUserSessions again", err)
	if n != 0 || len(allAudit(t, s, o.ID)) != logBefore+1 {
		t.Errorf("authErrOf RevokeUserSessions revoked %d, want 0 and one audit entry", n)
	}
}

func testAuthSessionConcurrent(t testing.TB, s Store) {
	const n = 8
	o := mustCreateOrg(t, s, "acme")
	bob := mustCreateAuthUser(t, s, o.ID, "bob")
	se := mustCreateAuthSession(t, s, o.ID, bob.ID, "ses_1")
	errs := parallel(n, func(i int) error {
		next := se
		next.State = auth.StatePINSetup
		_, err := s.UpdateSession(t.Context(), next, entryFor(o.ID, "auth.mfa.success", at(3)))
		return err
	})
	same(t, "concurrent UpdateSession outcomes", countErrs(errs, storage.ErrConflict),
		map[string]int{"nil": 1, storage.ErrConflict.Error(): n - 1})
}

// testAuthTenantIsolation shows that every auth record of org A is
// invisible and untouchable through org B, even with equal IDs and names.
func testAuthTenantIsolation(t testing.TB, s Store) {
	ctx := t.Context()
	a := mustCreateOrg(t, s, "acme")
	b := mustCreateOrg(t, s, "beta")
	bob := mustCreateAuthUser(t, s, a.ID, "bob")
	_, err := s.CreateGroup(ctx, auth.Group{Org: a.ID, ID: "grp_1", Name: "Sales"}, entryFor(a.ID, "auth.group.create", at(2)))
	noErr(t, "CreateGroup", err)
	noErr(t, "AddGroupMember", s.AddGroupMember(ctx, a.ID, "grp_1", bob.ID, entryFor(a.ID, "auth.group.member.add", at(2))))
	se := mustCreateAuthSession(t, s, a.ID, bob.ID, "ses_1")
	_, err = s.PutTOTP(ctx, newAuthTOTP(a.ID, bob.ID), entryFor(a.ID, "auth.mfa.totp_enroll", at(3)))
	noErr(t, "PutTOTP", err)
	c := newAuthPhoneCode(a.ID, se.ID, 'a')
	_, err = s.PutPhoneCode(ctx, c, entryFor(a.ID, "auth.mfa.code_sent", at(4)))
	noErr(t, "PutPhoneCode", err)
	_, err = s.PutSignOn(ctx, auth.DefaultSignOn(a.ID), entryFor(a.ID, "auth.signon.update", at(4)))
	noErr(t, "PutSignOn", err)
	_, _, err = s.ReserveAuthAttempt(ctx, a.ID, at(4), []auth.AttemptRule{{Key: "signin:bob", Throttle: auth.DefaultThrottle()}})
	noErr(t, "ReserveAuthAttempt", err)
	before := takeAuthSnapshot(t, s)

	eb := func(action string) storage.AuditEntry { return entryFor(b.ID, action, at(5)) }
	checks := []struct {
		what string
		err  error
	}{
		{"User", authErrOf(s.User(ctx, b.ID, bob.ID))},
		{"UserByName", authErrOf(s.UserByName(ctx, b.ID, "bob"))},
		{"UpdateUser", authErrOf(s.UpdateUser(ctx, authUserInOrg(bob, b.ID), eb("auth.user.update")))},
		{"Group", authErrOf(s.Group(ctx, b.ID, "grp_1"))},
		{"GroupMembers", authErrOf(s.GroupMembers(ctx, b.ID, "grp_1"))},
		{"AddGroupMember", s.AddGroupMember(ctx, b.ID, "grp_1", bob.ID, eb("auth.group.member.add"))},
		{"RemoveGroupMember", s.RemoveGroupMember(ctx, b.ID, "grp_1", bob.ID, eb("auth.group.member.remove"))},
		{"SignOn", authErrOf(s.SignOn(ctx, b.ID))},
		{"TOTP", authErrOf(s.TOTP(ctx, b.ID, bob.ID))},
		{"UseTOTPStep", s.UseTOTPStep(ctx, b.ID, bob.ID, 7, eb("auth.mfa.totp_used"))},
		{"DeleteTOTP", s.DeleteTOTP(ctx, b.ID, bob.ID, eb("auth.mfa.totp_remove"))},
		{"PhoneCode", authErrOf(s.PhoneCode(ctx, b.ID, se.ID))},
		{"ConsumePhoneCode", s.ConsumePhoneCode(ctx, b.ID, se.ID, c.Hash, at(5), eb("auth.mfa.code_used"))},
		{"PutPhoneCode", authErrOf(s.PutPhoneCode(ctx, authCodeInOrg(c, b.ID), eb("auth.mfa.code_sent")))},
		{"SessionByToken", authErrOf(s.SessionByToken(ctx, b.ID, se.TokenHash))},
		{"UpdateSession", authErrOf(s.UpdateSession(ctx, authSessionInOrg(se, b.ID), eb("auth.mfa.success")))},
		{"TouchSession", s.TouchSession(ctx, b.ID, se.ID, at(5))},
		{"RevokeSession", s.RevokeSession(ctx, b.ID, se.ID, eb("auth.signout"))},
	}
	for _, c := range checks {
		wantErr(t, c.what+" through another org", c.err, storage.ErrNotFound)
	}
	users, err := s.ListUsers(ctx, b.ID)
	noErr(t, "ListUsers", err)
	groups, err := s.ListGroups(ctx, b.ID)
	noErr(t, "ListGroups", err)
	ug, err := s.UserGroups(ctx, b.ID, bob.ID)
	noErr(t, "UserGroups", err)
	f, err := s.AuthFailures(ctx, b.ID, "signin:bob")
	noErr(t, "AuthFailures", err)
	if len(users)+len(groups)+len(ug) != 0 || f.Count != 0 {
		t.Errorf("org B sees users %v, groups %v, memberships %v, failures %v of org A", users, groups, ug, f)
	}
	// Org B's audit log gains the RevokeUserSessions entry only; org A is
	// untouched.
	n, err := s.RevokeUserSessions(ctx, b.ID, bob.ID, eb("auth.session.revoke_all"))
	noErr(t, "RevokeUserSessions through another org", err)
	if n != 0 {
		t.Errorf("RevokeUserSessions through org B revoked %d of org A's sessions", n)
	}
	after := takeAuthSnapshot(t, s)
	same(t, "org A after org B's calls", after.Base.Audit[a.ID], before.Base.Audit[a.ID])
	same(t, "org A's users after org B's calls", after.Users[a.ID], before.Users[a.ID])
	got, err := s.SessionByToken(ctx, a.ID, se.TokenHash)
	noErr(t, "SessionByToken", err)
	same(t, "org A's session after org B's calls", got, se)
	if _, err := s.PhoneCode(ctx, a.ID, se.ID); err != nil {
		t.Errorf("org A's phone code after org B's calls: %v", err)
	}
	if f, _ := s.TOTP(ctx, a.ID, bob.ID); f.Confirmed || f.LastStep != 0 {
		t.Errorf("org A's TOTP factor changed through org B: %v", f)
	}
}

func authErrOf[T any](_ T, err error) error { return err }

func authUserInOrg(u auth.UserRecord, org storage.OrgID) auth.UserRecord { u.Org = org; return u }

func authCodeInOrg(c auth.PhoneCode, org storage.OrgID) auth.PhoneCode { c.Org = org; return c }

func authSessionInOrg(se auth.Session, org storage.OrgID) auth.Session { se.Org = org; return se }

// testAuthTOTPReseal: a secret stored in plain text is replaced by its
// sealed form, once, keeping the factor's state.
func testAuthTOTPReseal(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	bob := mustCreateAuthUser(t, s, o.ID, "bob")
	f := newAuthTOTP(o.ID, bob.ID)
	_, err := s.PutTOTP(ctx, f, entryFor(o.ID, "auth.mfa.totp_enroll", at(3)))
	noErr(t, "PutTOTP", err)
	noErr(t, "UseTOTPStep", s.UseTOTPStep(ctx, o.ID, bob.ID, 9, entryFor(o.ID, "auth.mfa.totp_used", at(4))))
	const sealed = "omm-sealed-v1:c2VhbGVkIHNlY3JldCBvZiBib2IgZm9yIHRoZSB0ZXN0"
	before := takeAuthSnapshot(t, s)
	wantErr(t, "ResealTOTP from a secret it is not", s.ResealTOTP(ctx, o.ID, bob.ID, "OTHERSECRETOTHERSECRET", sealed, entryFor(o.ID, "auth.mfa.totp_seal", at(5))), storage.ErrConflict)
	wantErr(t, "ResealTOTP of nobody's factor", s.ResealTOTP(ctx, o.ID, "nobody", f.Secret, sealed, entryFor(o.ID, "auth.mfa.totp_seal", at(5))), storage.ErrNotFound)
	wantErr(t, "ResealTOTP to nothing", s.ResealTOTP(ctx, o.ID, bob.ID, f.Secret, "", entryFor(o.ID, "auth.mfa.totp_seal", at(5))), storage.ErrInvalid)
	authUnchanged(t, "refused reseals", s, before)
	noErr(t, "ResealTOTP", s.ResealTOTP(ctx, o.ID, bob.ID, f.Secret, sealed, entryFor(o.ID, "auth.mfa.totp_seal", at(5))))
	got, err := s.TOTP(ctx, o.ID, bob.ID)
	noErr(t, "TOTP", err)
	if got.Secret != sealed || !got.Confirmed || got.LastStep != 9 {
		t.Errorf("after the reseal: %v (secret sealed: %v); want the sealed secret and the factor's state kept", got, got.Secret == sealed)
	}
}
