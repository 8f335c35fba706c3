package storagetest

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

func androidCases() []testCase {
	return []testCase{
		{"Android/TokenCreateAndRead", testAndroidTokenCreate},
		{"Android/TokenUse", testAndroidTokenUse},
		{"Android/TokenConcurrentOneTimeUse", testAndroidTokenConcurrentUse},
		{"Android/DeviceCreateAndRead", testAndroidDevice},
		{"Android/DeviceCredential", testAndroidCredential},
		{"Android/Commands", testAndroidCommands},
		{"Android/CommandConcurrentFinish", testAndroidCommandConcurrentFinish},
		{"Android/WipeStart", testAndroidWipeStart},
		{"Android/TenantIsolation", testAndroidTenantIsolation},
	}
}

// sampleAndroidToken uses every field, so that a backend losing one fails.
func sampleAndroidToken(org storage.OrgID, secret string, oneTime bool) android.Token {
	return android.Token{
		ID: android.TokenID(secret), Org: org, UserID: "bob@acme — ü", Policy: "pol_android",
		Mode: policy.ModeWorkProfile, Type: inventory.EnrollAndroidWorkProfile, Ownership: inventory.OwnershipPersonal,
		Requirements: policy.Requirements{
			Passcode: policy.Passcode{Required: true, MinLength: 6, MaxFailedAttempts: 10}, Encryption: true,
			DataSeparation: policy.DataSeparation{BlockWorkToPersonal: true},
			Android:        policy.AndroidRequirements{MinAPILevel: 26, Modes: policy.Modes{WorkProfile: true}, WorkProfilePasscode: policy.Passcode{Required: true, MinLength: 4}},
		},
		OneTime: oneTime, Uses: 7 /* ignored: a new token has none */, Expires: at(60),
		ProviderPolicy: "enterprises/LC01/policies/omm-" + secret, Created: at(-100), /* ignored */
	}
}

func sampleAndroidDevice(org storage.OrgID, id string) android.Device {
	h := sha256.Sum256([]byte("credential of " + id))
	return android.Device{
		ID: id, Org: org, UserID: "bob", Policy: "pol_android", Mode: policy.ModeKnox, Type: inventory.EnrollAndroidKnox,
		Ownership: inventory.OwnershipCompany, TokenID: android.TokenID("s1"),
		Requirements:   policy.Requirements{AllowFullWipe: true, Passcode: policy.Passcode{Required: true, MinLength: 8}},
		CredentialHash: h[:],
	}
}

func androidEntry(org storage.OrgID, action string, minute int) storage.AuditEntry {
	return storage.AuditEntry{Org: org, Time: at(minute), Actor: "admin:root", Action: action, Target: "android",
		Details: map[string]string{"minute": fmt.Sprint(minute)}}
}

func storedToken(t android.Token, uses, minute int) android.Token {
	t.Uses, t.Created = uses, at(minute)
	return t.Normalize()
}

func testAndroidTokenCreate(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	tok := sampleAndroidToken(o.ID, "secret-1", true)
	got, err := s.CreateAndroidToken(ctx, tok, androidEntry(o.ID, "android.token.create", 1))
	noErr(t, "CreateAndroidToken", err)
	same(t, "created token", got, storedToken(tok, 0, 1))
	read, err := s.AndroidToken(ctx, o.ID, tok.ID)
	noErr(t, "AndroidToken", err)
	same(t, "read token", read, storedToken(tok, 0, 1))
	if n := len(allAudit(t, s, o.ID)); n != 2 {
		t.Errorf("audit has %d entries, want the org's and the token's", n)
	}

	before := takeSnapshot(t, s)
	_, err = s.CreateAndroidToken(ctx, tok, androidEntry(o.ID, "android.token.create", 2))
	wantErr(t, "duplicate token", err, storage.ErrAlreadyExists)
	bad := tok
	bad.ID = "not-a-hash"
	_, err = s.CreateAndroidToken(ctx, bad, androidEntry(o.ID, "android.token.create", 2))
	wantErr(t, "bad token id", err, storage.ErrInvalid)
	bad = sampleAndroidToken(o.ID, "secret-2", false)
	bad.Type = inventory.EnrollAndroidKnox // does not go with the work-profile mode
	_, err = s.CreateAndroidToken(ctx, bad, androidEntry(o.ID, "android.token.create", 2))
	wantErr(t, "mode and type mismatch", err, storage.ErrInvalid)
	_, err = s.CreateAndroidToken(ctx, sampleAndroidToken(o.ID, "secret-3", false), androidEntry("org_other", "android.token.create", 2))
	wantErr(t, "entry of another org", err, storage.ErrInvalid)
	_, err = s.CreateAndroidToken(ctx, sampleAndroidToken("org_missing", "secret-4", false), androidEntry("org_missing", "android.token.create", 2))
	wantErr(t, "unknown org", err, storage.ErrNotFound)
	_, err = s.AndroidToken(ctx, o.ID, android.TokenID("never issued"))
	wantErr(t, "unknown token", err, storage.ErrNotFound)
	unchanged(t, "rejected token creations", s, before)
}

func testAndroidTokenUse(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	once := sampleAndroidToken(o.ID, "once", true)
	multi := sampleAndroidToken(o.ID, "multi", false)
	for _, tok := range []android.Token{once, multi} {
		_, err := s.CreateAndroidToken(ctx, tok, androidEntry(o.ID, "android.token.create", 1))
		noErr(t, "CreateAndroidToken", err)
	}
	got, err := s.UseAndroidToken(ctx, o.ID, once.ID, at(2), androidEntry(o.ID, "android.token.use", 2))
	noErr(t, "first use", err)
	same(t, "used token", got, storedToken(once, 1, 1))

	before := takeSnapshot(t, s)
	_, err = s.UseAndroidToken(ctx, o.ID, once.ID, at(3), androidEntry(o.ID, "android.token.use", 3))
	wantErr(t, "second use of a one-time token", err, storage.ErrConflict)
	_, err = s.UseAndroidToken(ctx, o.ID, multi.ID, at(60), androidEntry(o.ID, "android.token.use", 60))
	wantErr(t, "use at expiry", err, storage.ErrConflict)
	_, err = s.UseAndroidToken(ctx, o.ID, android.TokenID("unknown"), at(3), androidEntry(o.ID, "android.token.use", 3))
	wantErr(t, "unknown token", err, storage.ErrNotFound)
	_, err = s.UseAndroidToken(ctx, o.ID, multi.ID, time.Time{}, androidEntry(o.ID, "android.token.use", 3))
	wantErr(t, "zero time", err, storage.ErrInvalid)
	unchanged(t, "rejected uses", s, before)
	read, _ := s.AndroidToken(ctx, o.ID, once.ID)
	same(t, "one-time token after the refused use", read.Uses, 1)

	for i := range 3 {
		got, err := s.UseAndroidToken(ctx, o.ID, multi.ID, at(10+i), androidEntry(o.ID, "android.token.use", 10+i))
		noErr(t, "multi-use", err)
		same(t, "uses", got.Uses, i+1)
	}
}

func testAndroidTokenConcurrentUse(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	tok := sampleAndroidToken(o.ID, "race", true)
	_, err := s.CreateAndroidToken(ctx, tok, androidEntry(o.ID, "android.token.create", 1))
	noErr(t, "CreateAndroidToken", err)
	errs := parallel(8, func(i int) error {
		_, err := s.UseAndroidToken(ctx, o.ID, tok.ID, at(2), androidEntry(o.ID, "android.token.use", 2))
		return err
	})
	same(t, "concurrent one-time uses", countErrs(errs, storage.ErrConflict), map[string]int{"nil": 1, storage.ErrConflict.Error(): 7})
	if n := len(allAudit(t, s, o.ID)); n != 3 {
		t.Errorf("audit has %d entries, want 3 (org, token, one use)", n)
	}
}

func testAndroidDevice(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	d := sampleAndroidDevice(o.ID, "dev_1")
	got, err := s.CreateAndroidDevice(ctx, d, androidEntry(o.ID, "android.device.enroll", 1))
	noErr(t, "CreateAndroidDevice", err)
	want := d
	want.Created = at(1)
	want = want.Normalize()
	same(t, "created device", got, want)
	read, err := s.AndroidDevice(ctx, o.ID, d.ID)
	noErr(t, "AndroidDevice", err)
	same(t, "read device", read, want)
	read.CredentialHash[0] ^= 0xff // the caller's copy
	again, _ := s.AndroidDevice(ctx, o.ID, d.ID)
	if !bytes.Equal(again.CredentialHash, d.CredentialHash) {
		t.Error("a caller changed the stored credential hash through a returned slice")
	}

	managed := sampleAndroidDevice(o.ID, "dev_2")
	managed.Mode, managed.Type, managed.Ownership = policy.ModeWorkProfile, inventory.EnrollAndroidWorkProfile, inventory.OwnershipPersonal
	managed.CredentialHash, managed.ProviderName, managed.ProviderPolicy = nil, "enterprises/LC01/devices/abc", "enterprises/LC01/policies/p1"
	got, err = s.CreateAndroidDevice(ctx, managed, androidEntry(o.ID, "android.device.enroll", 2))
	noErr(t, "CreateAndroidDevice(managed)", err)
	same(t, "managed device provider name", got.ProviderName, managed.ProviderName)
	same(t, "managed device hash", got.CredentialHash, []byte(nil))

	before := takeSnapshot(t, s)
	_, err = s.CreateAndroidDevice(ctx, d, androidEntry(o.ID, "android.device.enroll", 3))
	wantErr(t, "duplicate device", err, storage.ErrAlreadyExists)
	bad := sampleAndroidDevice(o.ID, "dev_3")
	bad.CredentialHash = []byte("short")
	_, err = s.CreateAndroidDevice(ctx, bad, androidEntry(o.ID, "android.device.enroll", 3))
	wantErr(t, "short credential hash", err, storage.ErrInvalid)
	bad = sampleAndroidDevice(o.ID, "dev_4")
	bad.Type, bad.Mode, bad.Ownership = inventory.EnrollAndroidFullyManaged, policy.ModeWorkProfile, inventory.OwnershipPersonal
	_, err = s.CreateAndroidDevice(ctx, bad, androidEntry(o.ID, "android.device.enroll", 3))
	wantErr(t, "personal fully managed device", err, storage.ErrInvalid)
	_, err = s.CreateAndroidDevice(ctx, sampleAndroidDevice("org_missing", "dev_5"), androidEntry("org_missing", "android.device.enroll", 3))
	wantErr(t, "unknown org", err, storage.ErrNotFound)
	_, err = s.AndroidDevice(ctx, o.ID, "dev_missing")
	wantErr(t, "unknown device", err, storage.ErrNotFound)
	unchanged(t, "rejected devices", s, before)
}

func newAndroidCommand(org storage.OrgID, id, device string, kind android.CommandKind) android.Command {
	c := android.Command{ID: id, Org: org, DeviceID: device, Kind: kind, Status: android.StatusPending}
	if kind == android.CommandWipe {
		c.Wipe = android.WipeFactoryReset
	}
	return c
}

func testAndroidCommands(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	_, err := s.CreateAndroidDevice(ctx, sampleAndroidDevice(o.ID, "dev_1"), androidEntry(o.ID, "android.device.enroll", 1))
	noErr(t, "CreateAndroidDevice", err)
	_, err = s.CreateAndroidDevice(ctx, sampleAndroidDevice(o.ID, "dev_2"), androidEntry(o.ID, "android.device.enroll", 1))
	noErr(t, "CreateAndroidDevice", err)

	// Created out of ID order; pending lists by time, then ID.
	specs := []struct {
		id     string
		kind   android.CommandKind
		minute int
	}{{"cmd_c", android.CommandLock, 2}, {"cmd_b", android.CommandResetPasscode, 3}, {"cmd_a", android.CommandWipe, 3}}
	var created []android.Command
	for _, sp := range specs {
		c, err := s.CreateAndroidCommand(ctx, newAndroidCommand(o.ID, sp.id, "dev_1", sp.kind), androidEntry(o.ID, "android.command.create", sp.minute))
		noErr(t, "CreateAndroidCommand", err)
		want := newAndroidCommand(o.ID, sp.id, "dev_1", sp.kind)
		want.Created, want.Updated = at(sp.minute), at(sp.minute)
		same(t, "created command", c, want.Normalize())
		created = append(created, c)
	}
	pending, err := s.PendingAndroidCommands(ctx, o.ID, "dev_1")
	noErr(t, "PendingAndroidCommands", err)
	same(t, "pending order", pending, []android.Command{created[0], created[2], created[1]})
	none, err := s.PendingAndroidCommands(ctx, o.ID, "dev_2")
	noErr(t, "PendingAndroidCommands(dev_2)", err)
	same(t, "another device's pending", len(none), 0)

	done, err := s.FinishAndroidCommand(ctx, o.ID, "cmd_a", android.StatusDone, "wiped — ok", androidEntry(o.ID, "android.command.done", 5))
	noErr(t, "FinishAndroidCommand", err)
	want := created[2]
	want.Status, want.Detail, want.Updated = android.StatusDone, "wiped — ok", storage.Normalize(at(5))
	same(t, "finished command", done, want)
	read, _ := s.AndroidCommand(ctx, o.ID, "cmd_a")
	same(t, "read finished command", read, want)
	pending, _ = s.PendingAndroidCommands(ctx, o.ID, "dev_1")
	same(t, "pending after finish", len(pending), 2)

	before := takeSnapshot(t, s)
	_, err = s.FinishAndroidCommand(ctx, o.ID, "cmd_a", android.StatusFailed, "", androidEntry(o.ID, "android.command.failed", 6))
	wantErr(t, "finishing a finished command", err, storage.ErrConflict)
	_, err = s.FinishAndroidCommand(ctx, o.ID, "cmd_b", android.StatusPending, "", androidEntry(o.ID, "android.command.x", 6))
	wantErr(t, "finish as pending", err, storage.ErrInvalid)
	_, err = s.FinishAndroidCommand(ctx, o.ID, "cmd_missing", android.StatusDone, "", androidEntry(o.ID, "android.command.done", 6))
	wantErr(t, "unknown command", err, storage.ErrNotFound)
	_, err = s.CreateAndroidCommand(ctx, newAndroidCommand(o.ID, "cmd_x", "dev_missing", android.CommandLock), androidEntry(o.ID, "android.command.create", 6))
	wantErr(t, "command for an unknown device", err, storage.ErrNotFound)
	_, err = s.CreateAndroidCommand(ctx, newAndroidCommand(o.ID, "cmd_c", "dev_1", android.CommandLock), androidEntry(o.ID, "android.command.create", 6))
	wantErr(t, "duplicate command", err, storage.ErrAlreadyExists)
	bad := newAndroidCommand(o.ID, "cmd_y", "dev_1", android.CommandLock)
	bad.Wipe = android.WipeWorkData
	_, err = s.CreateAndroidCommand(ctx, bad, androidEntry(o.ID, "android.command.create", 6))
	wantErr(t, "lock with a wipe kind", err, storage.ErrInvalid)
	unchanged(t, "rejected command calls", s, before)
	still, _ := s.AndroidCommand(ctx, o.ID, "cmd_a")
	same(t, "finished command after rejections", still, want)
}

func testAndroidCommandConcurrentFinish(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	_, err := s.CreateAndroidDevice(ctx, sampleAndroidDevice(o.ID, "dev_1"), androidEntry(o.ID, "android.device.enroll", 1))
	noErr(t, "CreateAndroidDevice", err)
	_, err = s.CreateAndroidCommand(ctx, newAndroidCommand(o.ID, "cmd_1", "dev_1", android.CommandWipe), androidEntry(o.ID, "android.command.create", 2))
	noErr(t, "CreateAndroidCommand", err)
	errs := parallel(8, func(i int) error {
		st := android.StatusDone
		if i%2 == 1 {
			st = android.StatusFailed
		}
		_, err := s.FinishAndroidCommand(ctx, o.ID, "cmd_1", st, fmt.Sprint(i), androidEntry(o.ID, "android.command.finish", 3))
		return err
	})
	same(t, "concurrent finishes", countErrs(errs, storage.ErrConflict), map[string]int{"nil": 1, storage.ErrConflict.Error(): 7})
}

func testAndroidTenantIsolation(t testing.TB, s Store) {
	ctx := t.Context()
	a, b := mustCreateOrg(t, s, "acme"), mustCreateOrg(t, s, "globex")
	tok := sampleAndroidToken(a.ID, "iso", false)
	_, err := s.CreateAndroidToken(ctx, tok, androidEntry(a.ID, "android.token.create", 1))
	noErr(t, "CreateAndroidToken", err)
	_, err = s.CreateAndroidDevice(ctx, sampleAndroidDevice(a.ID, "dev_1"), androidEntry(a.ID, "android.device.enroll", 1))
	noErr(t, "CreateAndroidDevice", err)
	_, err = s.CreateAndroidCommand(ctx, newAndroidCommand(a.ID, "cmd_1", "dev_1", android.CommandLock), androidEntry(a.ID, "android.command.create", 2))
	noErr(t, "CreateAndroidCommand", err)

	before := takeSnapshot(t, s)
	_, err = s.AndroidToken(ctx, b.ID, tok.ID)
	wantErr(t, "other org's token", err, storage.ErrNotFound)
	_, err = s.UseAndroidToken(ctx, b.ID, tok.ID, at(3), androidEntry(b.ID, "android.token.use", 3))
	wantErr(t, "use other org's token", err, storage.ErrNotFound)
	_, err = s.AndroidDevice(ctx, b.ID, "dev_1")
	wantErr(t, "other org's device", err, storage.ErrNotFound)
	_, err = s.CreateAndroidCommand(ctx, newAndroidCommand(b.ID, "cmd_2", "dev_1", android.CommandLock), androidEntry(b.ID, "android.command.create", 3))
	wantErr(t, "command for other org's device", err, storage.ErrNotFound)
	_, err = s.AndroidCommand(ctx, b.ID, "cmd_1")
	wantErr(t, "other org's command", err, storage.ErrNotFound)
	_, err = s.FinishAndroidCommand(ctx, b.ID, "cmd_1", android.StatusDone, "", androidEntry(b.ID, "android.command.done", 3))
	wantErr(t, "finish other org's command", err, storage.ErrNotFound)
	pending, err := s.PendingAndroidCommands(ctx, b.ID, "dev_1")
	noErr(t, "PendingAndroidCommands(other org)", err)
	same(t, "other org's pending", len(pending), 0)
	unchanged(t, "cross-org calls", s, before)
	// The same IDs are free in the other org.
	_, err = s.CreateAndroidDevice(ctx, sampleAndroidDevice(b.ID, "dev_1"), androidEntry(b.ID, "android.device.enroll", 4))
	noErr(t, "same device ID in another org", err)
	_, err = s.CreateAndroidToken(ctx, sampleAndroidToken(b.ID, "iso", false), androidEntry(b.ID, "android.token.create", 4))
	noErr(t, "same token ID in another org", err)
}

func testAndroidCredential(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	other := mustCreateOrg(t, s, "globex")
	managed := sampleAndroidDevice(o.ID, "dev_1")
	managed.Mode, managed.Type, managed.Ownership = policy.ModeWorkProfile, inventory.EnrollAndroidWorkProfile, inventory.OwnershipPersonal
	managed.CredentialHash, managed.ProviderName = nil, "enterprises/LC01/devices/abc"
	_, err := s.CreateAndroidDevice(ctx, managed, androidEntry(o.ID, "android.device.enroll", 1))
	noErr(t, "CreateAndroidDevice", err)
	h := sha256.Sum256([]byte("new credential"))
	got, err := s.SetAndroidCredential(ctx, o.ID, "dev_1", h[:], androidEntry(o.ID, "android.device.credential", 2))
	noErr(t, "SetAndroidCredential", err)
	want := managed
	want.CredentialHash, want.Created = h[:], at(1)
	want = want.Normalize()
	same(t, "device with credential", got, want)
	read, _ := s.AndroidDevice(ctx, o.ID, "dev_1")
	same(t, "read device with credential", read, want)
	h2 := sha256.Sum256([]byte("rotated"))
	got, err = s.SetAndroidCredential(ctx, o.ID, "dev_1", h2[:], androidEntry(o.ID, "android.device.credential", 3))
	noErr(t, "rotate credential", err)
	same(t, "rotated hash", got.CredentialHash, h2[:])

	before := takeSnapshot(t, s)
	_, err = s.SetAndroidCredential(ctx, o.ID, "dev_1", []byte("short"), androidEntry(o.ID, "android.device.credential", 4))
	wantErr(t, "short hash", err, storage.ErrInvalid)
	_, err = s.SetAndroidCredential(ctx, o.ID, "dev_missing", h[:], androidEntry(o.ID, "android.device.credential", 4))
	wantErr(t, "unknown device", err, storage.ErrNotFound)
	_, err = s.SetAndroidCredential(ctx, other.ID, "dev_1", h[:], androidEntry(other.ID, "android.device.credential", 4))
	wantErr(t, "other org's device", err, storage.ErrNotFound)
	unchanged(t, "rejected credential changes", s, before)
	read, _ = s.AndroidDevice(ctx, o.ID, "dev_1")
	same(t, "hash after rejections", read.CredentialHash, h2[:])
}

// testAndroidWipeStart: a wipe and the device's move to deprovisioning are
// stored together, or neither is.
func testAndroidWipeStart(t testing.TB, s Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	d := mustCreateDevice(t, s, newDevice(o.ID, 1), at(1))
	_, err := s.CreateAndroidDevice(ctx, sampleAndroidDevice(o.ID, d.ID), androidEntry(o.ID, "android.device.enroll", 1))
	noErr(t, "CreateAndroidDevice", err)
	wipe := func(id string) android.Command {
		c := newAndroidCommand(o.ID, id, d.ID, android.CommandWipe)
		c.Wipe = android.WipeWorkData
		return c
	}
	state := deviceEntry(o.ID, "device.state.deprovisioning", at(2))
	n := len(allAudit(t, s, o.ID))
	c, err := s.StartAndroidWipe(ctx, wipe("cmd_1"), androidEntry(o.ID, "android.command.create", 2), state)
	noErr(t, "StartAndroidWipe", err)
	want := wipe("cmd_1")
	want.Created, want.Updated = at(2), at(2)
	same(t, "started wipe", c, want.Normalize())
	stored, err := s.Device(ctx, o.ID, d.ID)
	noErr(t, "Device", err)
	wantDev := d
	wantDev.State, wantDev.Version, wantDev.Updated = inventory.StateDeprovisioning, d.Version+1, storage.Normalize(at(2))
	same(t, "device after the wipe started", stored, wantDev)
	same(t, "audit entries of a started wipe", len(allAudit(t, s, o.ID))-n, 2)

	// A retry on a device already deprovisioning: the command only.
	n = len(allAudit(t, s, o.ID))
	_, err = s.StartAndroidWipe(ctx, wipe("cmd_2"), androidEntry(o.ID, "android.command.create", 3), deviceEntry(o.ID, "device.state.deprovisioning", at(3)))
	noErr(t, "StartAndroidWipe(retry)", err)
	stored, _ = s.Device(ctx, o.ID, d.ID)
	same(t, "device after a retried wipe", stored, wantDev)
	same(t, "audit entries of a retried wipe", len(allAudit(t, s, o.ID))-n, 1)
	pending, err := s.PendingAndroidCommands(ctx, o.ID, d.ID)
	noErr(t, "PendingAndroidCommands", err)
	same(t, "pending wipes", len(pending), 2)

	// Refusals store nothing.
	gone := mustCreateDevice(t, s, newDevice(o.ID, 2), at(1))
	_, err = s.CreateAndroidDevice(ctx, sampleAndroidDevice(o.ID, gone.ID), androidEntry(o.ID, "android.device.enroll", 1))
	noErr(t, "CreateAndroidDevice", err)
	_, err = s.UpdateDeviceState(ctx, o.ID, gone.ID, inventory.StateDeprovisioning, deviceEntry(o.ID, "device.state.deprovisioning", at(2)))
	noErr(t, "UpdateDeviceState", err)
	gone, err = s.UpdateDeviceState(ctx, o.ID, gone.ID, inventory.StateDeprovisioned, deviceEntry(o.ID, "device.state.deprovisioned", at(3)))
	noErr(t, "UpdateDeviceState", err)
	noAndroid := mustCreateDevice(t, s, newDevice(o.ID, 3), at(1))
	before := takeSnapshot(t, s)
	lock := newAndroidCommand(o.ID, "cmd_3", d.ID, android.CommandLock)
	_, err = s.StartAndroidWipe(ctx, lock, androidEntry(o.ID, "android.command.create", 4), state)
	wantErr(t, "StartAndroidWipe(a lock)", err, storage.ErrInvalid)
	c = wipe("cmd_4")
	c.DeviceID = gone.ID
	_, err = s.StartAndroidWipe(ctx, c, androidEntry(o.ID, "android.command.create", 4), state)
	wantErr(t, "StartAndroidWipe(deprovisioned device)", err, inventory.ErrTransition)
	c.DeviceID = noAndroid.ID
	_, err = s.StartAndroidWipe(ctx, c, androidEntry(o.ID, "android.command.create", 4), state)
	wantErr(t, "StartAndroidWipe(no Android record)", err, storage.ErrNotFound)
	c.DeviceID = "dev_missing"
	_, err = s.StartAndroidWipe(ctx, c, androidEntry(o.ID, "android.command.create", 4), state)
	wantErr(t, "StartAndroidWipe(unknown device)", err, storage.ErrNotFound)
	c.DeviceID = d.ID
	_, err = s.StartAndroidWipe(ctx, c, androidEntry(o.ID, "android.command.create", 4), deviceEntry("org_other", "device.state.deprovisioning", at(4)))
	wantErr(t, "StartAndroidWipe(state entry of another org)", err, storage.ErrInvalid)
	_, err = s.StartAndroidWipe(ctx, wipe("cmd_1"), androidEntry(o.ID, "android.command.create", 4), state)
	wantErr(t, "StartAndroidWipe(used ID)", err, storage.ErrAlreadyExists)
	other := mustCreateOrg(t, s, "globex")
	c.Org = other.ID
	_, err = s.StartAndroidWipe(ctx, c, androidEntry(other.ID, "android.command.create", 4), deviceEntry(other.ID, "device.state.deprovisioning", at(4)))
	wantErr(t, "StartAndroidWipe(another org's device)", err, storage.ErrNotFound)
	delete(before.Audit, other.ID)
	after := takeSnapshot(t, s)
	delete(after.Audit, other.ID)
	after.Orgs = before.Orgs
	same(t, "refused wipes: store changed", after, before)
	for _, id := range []string{gone.ID, noAndroid.ID} {
		p, err := s.PendingAndroidCommands(ctx, o.ID, id)
		noErr(t, "PendingAndroidCommands", err)
		same(t, "commands of a refused wipe", len(p), 0)
	}
	stored, _ = s.Device(ctx, o.ID, d.ID)
	same(t, "device after refused wipes", stored, wantDev)
}
