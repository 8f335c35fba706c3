package checkin_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/micromdm/plist"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

func TestEnrollmentFlow(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(e.orgA, "UDID-1", "alice")
	if st := d.authenticate(); st != http.StatusOK {
		t.Fatalf("Authenticate: %d", st)
	}
	rec := d.record()
	if rec.State != inventory.StatePending || rec.UserID != "alice" || rec.Platform != inventory.PlatformIOS ||
		rec.Ownership != inventory.OwnershipPersonal || rec.SerialNumber != "SER-UDID-1" {
		t.Fatalf("after Authenticate: %+v", rec)
	}
	id, _ := e.store.Identity(t.Context(), e.orgA, enroll.FingerprintOf(d.cert))
	if id.Device != rec.ID {
		t.Fatalf("identity bound to %q, want %q", id.Device, rec.ID)
	}
	if len(e.events) != 0 {
		t.Errorf("events before the first TokenUpdate: %v", e.events)
	}
	if st := d.tokenUpdate("tok-1"); st != http.StatusOK {
		t.Fatalf("TokenUpdate: %d", st)
	}
	rec = d.record()
	if rec.State != inventory.StateEnrolled {
		t.Fatalf("state after the first TokenUpdate: %s", rec.State)
	}
	if len(e.events) != 1 || e.events[0].Kind != checkin.Enrolled || e.events[0].UserID != "alice" {
		t.Errorf("events: %+v", e.events)
	}
	if !slices.Contains(e.woken, rec.ID) {
		t.Errorf("the enrolled device was not woken to fetch its inventory commands")
	}
	en, err := e.store.Enrollment(t.Context(), e.orgA, rec.ID)
	if err != nil || string(en.Token) != "tok-1" || en.PushMagic != "magic-tok-1" || string(en.UnlockToken) != "unlock-UDID-1" {
		t.Fatalf("enrollment %+v, %v", en, err)
	}
	// A second TokenUpdate overwrites the token and is not a new enrollment.
	if st := d.tokenUpdate("tok-2"); st != http.StatusOK {
		t.Fatalf("second TokenUpdate: %d", st)
	}
	en, _ = e.store.Enrollment(t.Context(), e.orgA, rec.ID)
	if string(en.Token) != "tok-2" || len(e.events) != 1 {
		t.Errorf("after the second TokenUpdate: token %q, %d events", en.Token, len(e.events))
	}

	// The device fetches the inventory commands the contract derives.
	var got []string
	st, cmd := d.connect("Idle", "", nil)
	for cmd != nil && st == http.StatusOK {
		got = append(got, requestType(cmd))
		extra := map[string]any{}
		if requestType(cmd) == "DeviceInformation" {
			extra["QueryResponses"] = map[string]any{"DeviceName": "Alice's iPhone", "IMEI": "35 209900 176148 1", "OSVersion": "18.1"}
		}
		st, cmd = d.connect("Acknowledged", commandUUID(cmd), extra)
	}
	var want []string
	for _, q := range inventory.AppleRefresh(rec.Platform) {
		want = append(want, string(q.RequestType))
	}
	if !slices.Equal(got, want) {
		t.Errorf("commands delivered %v, want %v", got, want)
	}
	values, err := e.store.DeviceValues(t.Context(), e.orgA, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	var name string
	for _, v := range values {
		if v.Key == inventory.KeyDeviceName {
			name = v.Value
		}
		if v.Value == "35 209900 176148 1" {
			t.Errorf("the IMEI was stored as %s", v.Key)
		}
	}
	if name != "Alice's iPhone" {
		t.Errorf("device name stored %q", name)
	}
}

func TestQueueBehaviour(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(e.orgA, "UDID-Q", "alice").enroll()
	rec := d.record()
	// Drain the inventory commands first.
	for _, cmd := range drain(t, d) {
		_ = cmd
	}
	if err := e.svc.Lock(t.Context(), e.orgA, rec.ID, "admin:bob", "Call IT", "+1 555 0100"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RefreshInventory(t.Context(), e.orgA, rec.ID, "admin:bob"); err != nil {
		t.Fatal(err)
	}
	_, lock := d.connect("Idle", "", nil)
	if requestType(lock) != "DeviceLock" {
		t.Fatalf("first command %s, want DeviceLock", requestType(lock))
	}
	// NotNow: the next command comes instead, and the lock is not resent on
	// this connection.
	_, next := d.connect("NotNow", commandUUID(lock), nil)
	if requestType(next) == "DeviceLock" || next == nil {
		t.Fatalf("after NotNow got %v", requestType(next))
	}
	for next != nil {
		if requestType(next) == "DeviceLock" {
			t.Fatal("the NotNow command was resent on the same connection")
		}
		_, next = d.connect("Error", commandUUID(next), map[string]any{"ErrorChain": []any{map[string]any{
			"ErrorCode": 12021, "ErrorDomain": "MCMDMErrorDomain", "USEnglishDescription": "Busy"}}})
	}
	// A later connection gets the lock again.
	_, again := d.connect("Idle", "", nil)
	if commandUUID(again) != commandUUID(lock) {
		t.Fatalf("later check-in got %v, want the NotNow command", requestType(again))
	}
	_, none := d.connect("Acknowledged", commandUUID(lock), nil)
	if none != nil {
		t.Errorf("queue not empty: %v", requestType(none))
	}
	// A replayed result changes nothing.
	if st, _ := d.connect("Error", commandUUID(lock), nil); st != http.StatusOK {
		t.Errorf("replayed result: %d", st)
	}
	actions, err := e.svc.Actions(t.Context(), e.orgA, rec.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	errored := 0
	for _, a := range actions {
		switch {
		case a.UUID == commandUUID(lock) && (a.Status != enroll.StatusAcknowledged || a.Deliveries != 2):
			t.Errorf("lock: %+v", a)
		case a.Status == enroll.StatusError:
			errored++
			if a.Detail != "MCMDMErrorDomain 12021: Busy" {
				t.Errorf("error detail %q", a.Detail)
			}
		}
	}
	if errored != len(inventory.AppleRefresh(inventory.PlatformIOS)) {
		t.Errorf("%d commands in Error, want %d", errored, len(inventory.AppleRefresh(inventory.PlatformIOS)))
	}
	// An unknown command's result does not block the device.
	if st, _ := d.connect("Acknowledged", "no-such-command", nil); st != http.StatusOK {
		t.Errorf("result for an unknown command: %d", st)
	}
	// An undecodable result is refused, and the command it answered is
	// abandoned after a few deliveries rather than blocking the queue.
	if err := e.svc.Lock(t.Context(), e.orgA, rec.ID, "admin:bob", "again", ""); err != nil {
		t.Fatal(err)
	}
	for range enroll.DefaultMaxDeliveries {
		if _, c := d.connect("Idle", "", nil); requestType(c) != "DeviceLock" {
			t.Fatalf("expected the lock again, got %v", requestType(c))
		}
		if st, _ := d.put("/mdm/org_acme/server", []byte("garbage"), d); st != http.StatusBadRequest {
			t.Fatalf("undecodable result: %d", st)
		}
	}
	if _, c := d.connect("Idle", "", nil); c != nil {
		t.Errorf("the unanswerable command still blocks the queue: %v", requestType(c))
	}
}

func drain(t *testing.T, d *device) []string {
	t.Helper()
	var got []string
	_, cmd := d.connect("Idle", "", nil)
	for cmd != nil {
		got = append(got, requestType(cmd))
		_, cmd = d.connect("Acknowledged", commandUUID(cmd), nil)
	}
	return got
}

func TestCommandExpiry(t *testing.T) {
	e := newEnv(t, checkin.WithCommandTTL(24*time.Hour))
	d := e.newDevice(e.orgA, "UDID-X", "alice").enroll()
	drain(t, d)
	if err := e.svc.Lock(t.Context(), e.orgA, d.record().ID, "admin:bob", "", ""); err != nil {
		t.Fatal(err)
	}
	e.advance(25 * time.Hour)
	if _, c := d.connect("Idle", "", nil); c != nil {
		t.Errorf("an expired command was delivered: %v", requestType(c))
	}
	acts, _ := e.svc.Actions(t.Context(), e.orgA, d.record().ID, 1)
	if acts[0].Status != enroll.StatusAbandoned || acts[0].Detail != enroll.ExpiredDetail {
		t.Errorf("expired command: %+v", acts[0])
	}
}

// TestImpersonation: every path refuses a missing certificate, another
// device's certificate, another org's certificate — with 400 or 403, never
// 401.
func TestImpersonation(t *testing.T) {
	e := newEnv(t)
	alice := e.newDevice(e.orgA, "UDID-A", "alice").enroll()
	bob := e.newDevice(e.orgA, "UDID-B", "bob").enroll()
	other := e.newDevice(e.orgB, "UDID-O", "olga").enroll()
	unrecordedCert, unrecordedKey := e.cas[e.orgA].issue(t, "stray")
	stray := &device{e: e, org: e.orgA, udid: "UDID-S", cert: unrecordedCert, key: unrecordedKey}

	messages := map[string]map[string]any{
		"TokenUpdate":  {"MessageType": "TokenUpdate", "Topic": topic, "Token": []byte("evil"), "PushMagic": "evil"},
		"CheckOut":     {"MessageType": "CheckOut", "Topic": topic},
		"Authenticate": {"MessageType": "Authenticate", "Topic": topic},
		"Result":       nil,
	}
	tests := []struct {
		name   string
		signer *device
		org    string
		want   int
	}{
		{"no certificate", nil, "org_acme", http.StatusBadRequest},
		{"another device's certificate", bob, "org_acme", http.StatusForbidden},
		{"another org's certificate", other, "org_acme", http.StatusForbidden},
		{"a certificate of our CA that no enrollment recorded", stray, "org_acme", http.StatusForbidden},
		{"our own certificate at another org's endpoint", alice, "org_beta", http.StatusForbidden},
	}
	for _, tt := range tests {
		for kind, msg := range messages {
			var path string
			var body []byte
			if msg == nil {
				path = "/mdm/" + tt.org + "/server"
				body = plistBody(t, map[string]any{"UDID": alice.udid, "Status": "Idle"})
			} else {
				m := map[string]any{"UDID": alice.udid}
				for k, v := range msg {
					m[k] = v
				}
				path = "/mdm/" + tt.org + "/checkin"
				body = plistBody(t, m)
			}
			st, _ := alice.put(path, body, tt.signer)
			if st != tt.want {
				t.Errorf("%s, %s: status %d, want %d", tt.name, kind, st, tt.want)
			}
		}
	}
	// Nothing changed for alice.
	rec := alice.record()
	en, _ := e.store.Enrollment(t.Context(), e.orgA, rec.ID)
	if rec.State != inventory.StateEnrolled || string(en.Token) != "token-UDID-A" {
		t.Errorf("alice changed by refused requests: %s, token %q", rec.State, en.Token)
	}
	// A signature over another body is refused.
	body := plistBody(t, map[string]any{"UDID": alice.udid, "Status": "Idle"})
	signedOther := plistBody(t, map[string]any{"UDID": alice.udid, "Status": "Idle", "X": "y"})
	req, _ := http.NewRequest(http.MethodPut, e.srv.URL+"/mdm/org_acme/server", bytesReader(body))
	req.Header.Set("Mdm-Signature", signature(t, alice, signedOther))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("signature over another body: %v %v", resp.StatusCode, err)
	}
}

func TestTLSClientCertificate(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(e.orgA, "UDID-T", "alice").enroll()
	other := e.newDevice(e.orgB, "UDID-O", "olga")
	srv := tlsServer(t, e)
	body := plistBody(t, map[string]any{"UDID": d.udid, "Status": "Idle"})
	if st := tlsPut(t, srv, d, "/mdm/org_acme/server", body); st != http.StatusOK {
		t.Errorf("own TLS certificate: %d", st)
	}
	if st := tlsPut(t, srv, other, "/mdm/org_acme/server", body); st != http.StatusForbidden {
		t.Errorf("another org's TLS certificate: %d", st)
	}
	if st := tlsPut(t, srv, nil, "/mdm/org_acme/server", body); st != http.StatusBadRequest {
		t.Errorf("no TLS certificate: %d", st)
	}
}

func TestDeclinedAndUnsupported(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(e.orgA, "UDID-U", "alice").enroll()
	if st, _ := d.checkin(map[string]any{"MessageType": "UserAuthenticate", "UserID": "u1", "DigestResponse": ""}); st != http.StatusGone {
		t.Errorf("UserAuthenticate: %d, want 410", st)
	}
	if st, _ := d.checkin(map[string]any{"MessageType": "DeclarativeManagement", "Endpoint": "tokens"}); st != http.StatusNotFound {
		t.Errorf("DeclarativeManagement: %d, want 404", st)
	}
	if st, _ := d.checkin(map[string]any{"MessageType": "Frobnicate"}); st != http.StatusBadRequest {
		t.Errorf("unknown message: %d, want 400", st)
	}
	if st, _ := d.put("/mdm/org_acme/checkin", []byte("<plist"), d); st != http.StatusBadRequest {
		t.Errorf("malformed body: %d, want 400", st)
	}
}

func TestBootstrapToken(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(e.orgA, "UDID-BT", "alice").enroll()
	if st, _ := d.checkin(map[string]any{"MessageType": "SetBootstrapToken", "BootstrapToken": []byte("secret")}); st != http.StatusOK {
		t.Fatalf("SetBootstrapToken: %d", st)
	}
	st, out := d.checkin(map[string]any{"MessageType": "GetBootstrapToken"})
	var got struct{ BootstrapToken []byte }
	if st != http.StatusOK || plist.Unmarshal(out, &got) != nil || string(got.BootstrapToken) != "secret" {
		t.Errorf("GetBootstrapToken: %d %q", st, out)
	}
}

func TestReenrollmentSupersedes(t *testing.T) {
	e := newEnv(t)
	first := e.newDevice(e.orgA, "UDID-R", "alice").enroll()
	old := first.record()
	if err := e.svc.Lock(t.Context(), e.orgA, old.ID, "admin:bob", "", ""); err != nil {
		t.Fatal(err)
	}
	second := e.newDevice(e.orgA, "UDID-R", "alice").enroll()
	cur := second.record()
	if cur.ID == old.ID {
		t.Fatal("re-enrollment reused the old record")
	}
	prev, _ := e.store.Device(t.Context(), e.orgA, old.ID)
	if prev.State != inventory.StateDeprovisioned {
		t.Errorf("old enrollment is %s", prev.State)
	}
	acts, _ := e.svc.Actions(t.Context(), e.orgA, old.ID, 0)
	for _, a := range acts {
		if a.Status.Open() {
			t.Errorf("stale command %s still open", a.RequestType)
		}
	}
	// The old identity no longer works for the device: it is told to
	// remove its enrollment (401), so that a phone still holding it drops
	// the org's data.
	st, _ := first.connect("Idle", "", nil)
	if st != http.StatusUnauthorized {
		t.Errorf("old identity after re-enrollment: %d, want 401", st)
	}
	// The re-enrollment is recorded as such, naming the old record.
	p, err := e.store.ListAudit(t.Context(), e.orgA, storage.AuditQuery{Limit: storage.MaxAuditPage})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range p.Entries {
		found = found || a.Action == checkin.ActionReenroll && a.Target == "device:"+old.ID && a.Details["user"] == "alice"
	}
	if !found {
		t.Errorf("no %s entry for the superseded record %s", checkin.ActionReenroll, old.ID)
	}
}

// TestUDIDOfAnotherUserRefused (issue 22, finding 2): a user of the org
// who sent Authenticate with a colleague's UDID made the colleague's record
// deprovisioned, with no removal commands, so that the real phone got 403
// from then on and kept the org's data, and the log blamed its device. Now
// the claim is refused and changes nothing: the colleague's device stays
// enrolled and keeps working.
func TestUDIDOfAnotherUserRefused(t *testing.T) {
	e := newEnv(t)
	victim := e.newDevice(e.orgA, "UDID-VICTIM", "alice").enroll()
	rec := victim.record()
	before, err := e.store.ListAudit(t.Context(), e.orgA, storage.AuditQuery{Limit: storage.MaxAuditPage})
	if err != nil {
		t.Fatal(err)
	}
	attacker := e.newDevice(e.orgA, "UDID-VICTIM", "mallory") // mallory's own identity, alice's UDID
	if st := attacker.authenticate(); st != http.StatusForbidden {
		t.Errorf("Authenticate with another user's UDID: %d, want 403", st)
	}
	if st := attacker.tokenUpdate("stolen"); st == http.StatusOK {
		t.Errorf("TokenUpdate after the refused claim: %d", st)
	}
	after, err := e.store.Device(t.Context(), e.orgA, rec.ID)
	if err != nil || after.State != inventory.StateEnrolled || after.UserID != "alice" {
		t.Errorf("victim's record after the claim: %+v, %v; want it enrolled and alice's", after, err)
	}
	if cur := victim.record(); cur.ID != rec.ID {
		t.Errorf("the UDID now names record %s, not the victim's %s", cur.ID, rec.ID)
	}
	if st, _ := victim.connect("Idle", "", nil); st != http.StatusOK {
		t.Errorf("victim's device after the claim: %d, want 200", st)
	}
	now, err := e.store.ListAudit(t.Context(), e.orgA, storage.AuditQuery{Limit: storage.MaxAuditPage})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range now.Entries[len(before.Entries):] {
		if a.Target == "device:"+rec.ID {
			t.Errorf("the refused claim wrote %+v about the victim's device", a)
		}
	}
}

func TestRenewedIdentityRebinds(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(e.orgA, "UDID-N", "alice").enroll()
	cert, key := e.cas[e.orgA].issue(t, "renewed")
	old, _ := e.store.Identity(t.Context(), e.orgA, enroll.FingerprintOf(d.cert))
	if _, err := e.store.RecordIdentity(t.Context(), enroll.Identity{Org: e.orgA, Fingerprint: enroll.FingerprintOf(cert),
		Serial: cert.SerialNumber.Text(16), Session: old.Session, UserID: "alice", Issued: now, NotAfter: cert.NotAfter,
		Renews: old.Fingerprint, Purpose: enroll.PurposeMDM}, storage.AuditEntry{Org: e.orgA, Time: now, Actor: "system", Action: "identity.renew"}); err != nil {
		t.Fatal(err)
	}
	renewed := &device{e: e, org: e.orgA, udid: d.udid, cert: cert, key: key}
	if st, _ := renewed.connect("Idle", "", nil); st != http.StatusOK {
		t.Fatalf("renewed identity: %d", st)
	}
	id, _ := e.store.Identity(t.Context(), e.orgA, enroll.FingerprintOf(cert))
	if id.Device != d.record().ID {
		t.Errorf("renewed identity bound to %q", id.Device)
	}
}

func TestDeviceActions(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(e.orgA, "UDID-D", "alice").enroll()
	drain(t, d)
	rec := d.record()
	// Personal device: erase refused whatever the policy says.
	for _, allow := range []bool{true, false} {
		if err := e.svc.Erase(t.Context(), e.orgA, rec.ID, "admin:bob", allow); !errors.Is(err, checkin.ErrNotPermitted) {
			t.Errorf("erase of a personal device (policy allows %v): %v", allow, err)
		}
	}
	if err := e.svc.ClearPasscode(t.Context(), e.orgA, rec.ID, "admin:bob"); err != nil {
		t.Fatal(err)
	}
	_, c := d.connect("Idle", "", nil)
	cmd, _ := c["Command"].(map[string]any)
	if requestType(c) != "ClearPasscode" || string(cmd["UnlockToken"].([]byte)) != "unlock-UDID-D" {
		t.Fatalf("clear passcode command: %v", c)
	}
	d.connect("Acknowledged", commandUUID(c), nil)

	// Deprovision: the managed content, then the MDM profile.
	if err := e.svc.Deprovision(t.Context(), e.orgA, rec.ID, "admin:bob", "left the company"); err != nil {
		t.Fatal(err)
	}
	if got := d.record().State; got != inventory.StateDeprovisioning {
		t.Errorf("state %s after deprovision, want deprovisioning until the device checks out", got)
	}
	cmds := drain(t, d)
	if len(cmds) == 0 || cmds[len(cmds)-1] != "RemoveProfile" {
		t.Errorf("deprovision commands %v", cmds)
	}
	if st, _ := d.checkin(map[string]any{"MessageType": "CheckOut", "Topic": topic}); st != http.StatusOK {
		t.Fatalf("CheckOut: %d", st)
	}
	final, _ := e.store.Device(t.Context(), e.orgA, rec.ID)
	if final.State != inventory.StateDeprovisioned {
		t.Errorf("state after CheckOut: %s", final.State)
	}
	if err := e.svc.Lock(t.Context(), e.orgA, rec.ID, "admin:bob", "", ""); !errors.Is(err, checkin.ErrNotPermitted) {
		t.Errorf("lock of a deprovisioned device: %v", err)
	}
}

func TestEraseCompanyDevice(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(e.orgA, "UDID-C", "alice").enroll()
	drain(t, d)
	rec := d.record()
	// A company device record (as automated enrollment would create).
	company := rec
	company.ID, company.Identifier, company.Ownership = "", "UDID-C2", inventory.OwnershipCompany
	c2 := e.newDevice(e.orgA, "UDID-C2", "alice")
	reg, err := e.inv.Register(t.Context(), company, "system")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.BindIdentity(t.Context(), e.orgA, enroll.FingerprintOf(c2.cert), reg.ID,
		storage.AuditEntry{Org: e.orgA, Time: now, Actor: "system", Action: "device.identity.bind"}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Erase(t.Context(), e.orgA, reg.ID, "admin:bob", false); !errors.Is(err, checkin.ErrNotPermitted) {
		t.Errorf("erase against the policy: %v", err)
	}
	if err := e.svc.Erase(t.Context(), e.orgA, reg.ID, "admin:bob", true); err != nil {
		t.Fatal(err)
	}
	_, c := c2.connect("Idle", "", nil)
	if requestType(c) != "EraseDevice" {
		t.Fatalf("got %v", requestType(c))
	}
	c2.connect("Acknowledged", commandUUID(c), nil)
	wiped, _ := e.store.Device(t.Context(), e.orgA, reg.ID)
	if wiped.State != inventory.StateWiped {
		t.Errorf("state after acknowledged erase: %s", wiped.State)
	}
}

func TestResultRouting(t *testing.T) {
	var got []checkin.Result
	e := newEnv(t, checkin.WithResultHandler("DeviceLock", checkin.ResultHandlerFunc(func(_ context.Context, r checkin.Result) error {
		got = append(got, r)
		return errors.New("consumer failure must not block the device")
	})))
	d := e.newDevice(e.orgA, "UDID-RR", "alice").enroll()
	drain(t, d)
	if err := e.svc.Lock(t.Context(), e.orgA, d.record().ID, "admin:bob", "", ""); err != nil {
		t.Fatal(err)
	}
	_, c := d.connect("Idle", "", nil)
	if st, _ := d.connect("Acknowledged", commandUUID(c), nil); st != http.StatusOK {
		t.Fatalf("ack: %d", st)
	}
	d.connect("Acknowledged", commandUUID(c), nil) // replayed: not routed again
	if len(got) != 1 || got[0].Command.UUID != commandUUID(c) || got[0].Status != "Acknowledged" || got[0].Device.ID != d.record().ID {
		t.Errorf("routed results %+v", got)
	}
}

type profileSource map[string][]byte

func (p profileSource) SignedPolicyProfile(_ context.Context, _ storage.OrgID, session string) ([]byte, error) {
	return p[session], nil
}

func TestPolicyProfileInstalledAtEnrollment(t *testing.T) {
	src := profileSource{}
	e := newEnv(t, checkin.WithProfiles(src))
	d := e.newDevice(e.orgA, "UDID-PP", "alice")
	src[d.session] = []byte("signed policy profile")
	d.enroll()
	_, c := d.connect("Idle", "", nil)
	cmd, _ := c["Command"].(map[string]any)
	if requestType(c) != "InstallProfile" || string(cmd["Payload"].([]byte)) != "signed policy profile" {
		t.Fatalf("first command after enrollment: %v", c)
	}
}

// TestHandlerQueuesBeforeNext: a command a result handler queues while
// handling an answer is handed out on the same connection, as the answer's
// next command, when nothing else is queued (the queue is looked at again
// after the handler); without a handler, the answer and the next command
// go together and the queue's order holds.
func TestHandlerQueuesBeforeNext(t *testing.T) {
	_, d := lockedWithRefreshHandler(t, "UDID-HQ", nil)
	_, c := d.connect("Idle", "", nil)
	if requestType(c) != "DeviceLock" {
		t.Fatalf("first command %s, want DeviceLock", requestType(c))
	}
	_, next := d.connect("Acknowledged", commandUUID(c), nil)
	if want := string(inventory.AppleRefresh(inventory.PlatformIOS)[0].RequestType); requestType(next) != want {
		t.Fatalf("after the lock's answer got %q, want %s, which its handler queued", requestType(next), want)
	}
	got := acknowledgeAll(d, next)
	var want []string
	for _, q := range inventory.AppleRefresh(inventory.PlatformIOS) {
		want = append(want, string(q.RequestType))
	}
	if !slices.Equal(got, want) {
		t.Errorf("handed out %q, want the refresh in order %q", got, want)
	}
}

// TestHandlerQueuesAfterQueued: when a command is queued already, the
// answer's next command is chosen with the answer, in its transaction (no
// NextCommand of its own), and what the answer's handler queues follows
// the queued commands, on the same connection.
func TestHandlerQueuesAfterQueued(t *testing.T) {
	var lookups atomic.Int32
	e, d := lockedWithRefreshHandler(t, "UDID-HQA", func(st checkin.Store) checkin.Store { return countingLookups{st, &lookups} })
	if err := e.svc.RefreshInventory(t.Context(), e.orgA, d.record().ID, "admin:bob"); err != nil {
		t.Fatal(err)
	}
	_, c := d.connect("Idle", "", nil)
	if requestType(c) != "DeviceLock" {
		t.Fatalf("first command %s, want DeviceLock", requestType(c))
	}
	lookups.Store(0)
	_, next := d.connect("Acknowledged", commandUUID(c), nil)
	if n := lookups.Load(); n != 0 {
		t.Errorf("the lock's answer looked the next command up %d times on its own, want it chosen with the answer", n)
	}
	got := acknowledgeAll(d, next)
	var want []string
	for range 2 { // the refresh queued before the answer, then the handler's
		for _, q := range inventory.AppleRefresh(inventory.PlatformIOS) {
			want = append(want, string(q.RequestType))
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("handed out %q, want two refreshes in order %q", got, want)
	}
}

// lockedWithRefreshHandler returns a service (its store wrapped by wrap,
// nil: not) whose result handler queues an inventory refresh for each
// answered DeviceLock, and an enrolled device udid, its enrollment's
// commands answered, with a lock queued.
func lockedWithRefreshHandler(t *testing.T, udid string, wrap func(checkin.Store) checkin.Store) (*env, *device) {
	t.Helper()
	var e *env
	var dev string
	e = newEnvWrapped(t, wrap, checkin.WithResultHandler("DeviceLock", checkin.ResultHandlerFunc(func(ctx context.Context, r checkin.Result) error {
		return e.svc.RefreshInventory(ctx, e.orgA, dev, "admin:bob")
	})))
	d := e.newDevice(e.orgA, udid, "alice").enroll()
	dev = d.record().ID
	drain(t, d)
	if err := e.svc.Lock(t.Context(), e.orgA, dev, "admin:bob", "", ""); err != nil {
		t.Fatal(err)
	}
	return e, d
}

// acknowledgeAll acknowledges next and every command handed out after it
// on the connection, and returns their request types in that order.
func acknowledgeAll(d *device, next map[string]any) []string {
	got := []string{requestType(next)}
	for next != nil {
		_, next = d.connect("Acknowledged", commandUUID(next), nil)
		if next != nil {
			got = append(got, requestType(next))
		}
	}
	return got
}

// countingLookups counts the service's own NextCommand calls.
type countingLookups struct {
	checkin.Store
	n *atomic.Int32
}

func (s countingLookups) NextCommand(ctx context.Context, org storage.OrgID, device string, opt enroll.NextOptions) (enroll.QueuedCommand, error) {
	s.n.Add(1)
	return s.Store.NextCommand(ctx, org, device, opt)
}

func (s countingLookups) RecordOutcomeNext(ctx context.Context, org storage.OrgID, device string, o enroll.Outcome, opt enroll.NextOptions,
	hold func(string) bool) (enroll.Answer, error) {
	return s.Store.(enroll.AnswerQueue).RecordOutcomeNext(ctx, org, device, o, opt, hold)
}

func (s countingLookups) RecordOutcomeInventory(ctx context.Context, org storage.OrgID, device string, o enroll.Outcome, opt enroll.NextOptions,
	hold func(string) bool, inv enroll.InventoryAnswer) (enroll.Answer, error) {
	return s.Store.(enroll.InventoryAnswerQueue).RecordOutcomeInventory(ctx, org, device, o, opt, hold, inv)
}
