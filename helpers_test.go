package omm_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/micromdm/plist"

	"github.com/openomm/omm"
	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/mdm/mdmtest"
	"github.com/openomm/omm/enroll/scep/sceptest"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/profile"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// env is an SDK served by an HTTPS test server: its handler under prefix
// (the agent API authenticated by headerAuth unless the test passes its
// own options), its admin API under /admin behind headerAdmin, two orgs
// with a staff group, users and a policy requiring enrollment of staff.
type env struct {
	sdk    *omm.SDK
	ts     *httptest.Server
	prefix string
	dir    *auth.LocalDirectory
	// org and other are the two orgs; staff the staff group of each.
	org, other storage.OrgID
	staff      map[storage.OrgID]string
	// users are user IDs by username: alice and carol in org, olga in
	// other; alice and olga are staff.
	users map[string]string
	// policies are the staff policies by org.
	policies map[storage.OrgID]policy.Policy
	log      *syncBuffer
}

// staffPasscode is what the staff policies require at first.
var staffPasscode = policy.Passcode{Required: true, MinLength: 6, MaxFailedAttempts: 10, AutoLockMinutes: 5}

// headerAuth is the agent API's principal from test headers: the host's
// "sign-in" in these tests.
func headerAuth(r *http.Request) (omm.Principal, error) {
	if r.Header.Get("X-User") == "" {
		return omm.Principal{}, errors.New("no user")
	}
	return omm.Principal{Org: storage.OrgID(r.Header.Get("X-Org")), UserID: r.Header.Get("X-User")}, nil
}

// headerAdmin is the admin API's administrator from a test header.
func headerAdmin(r *http.Request) (omm.Admin, error) {
	org := r.Header.Get("X-Admin-Org")
	if org == "" {
		return omm.Admin{}, errors.New("no admin")
	}
	return omm.Admin{Org: storage.OrgID(org), Actor: "admin:test"}, nil
}

func newEnv(t *testing.T, prefix string, opts ...omm.HandlerOption) *env {
	t.Helper()
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	return newEnvStore(t, prefix, st, opts...)
}

// newEnvStore is newEnv on st.
func newEnvStore(t *testing.T, prefix string, st omm.Store, opts ...omm.HandlerOption) *env {
	t.Helper()
	ctx := t.Context()
	var handler http.Handler = http.NotFoundHandler()
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	e := &env{ts: ts, prefix: prefix, staff: map[storage.OrgID]string{}, users: map[string]string{},
		policies: map[storage.OrgID]policy.Policy{}, log: &syncBuffer{}}
	var err error
	e.sdk, err = omm.New(ctx, omm.Config{Store: st, PublicURL: ts.URL + prefix, AllowSimulators: true,
		Logger: slog.New(slog.NewTextHandler(e.log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	e.dir = e.sdk.Directory.(*auth.LocalDirectory)
	for i, name := range []string{"acme", "other"} {
		o, err := st.CreateOrg(ctx, storage.Org{ID: storage.OrgID("org_" + name), Name: name, DisplayName: name},
			storage.AuditEntry{Org: storage.OrgID("org_" + name), Time: time.Now(), Actor: "test", Action: "org.create"})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			e.org = o.ID
		} else {
			e.other = o.ID
		}
		g, err := e.dir.CreateGroup(ctx, o.ID, "Staff", "test")
		if err != nil {
			t.Fatal(err)
		}
		e.staff[o.ID] = g.ID
		p, err := e.sdk.CreatePolicy(ctx, "test", policy.Policy{Org: o.ID, Name: "Staff", Priority: 10, Groups: []string{g.ID},
			Rules: map[policy.Platform]policy.Rule{
				policy.IOS: {Action: policy.Require, Requirements: policy.Requirements{Passcode: staffPasscode, AcceptDirectProfile: true}},
				policy.Android: {Action: policy.Require, Requirements: policy.Requirements{Passcode: staffPasscode, AllowFullWipe: true,
					Android: policy.AndroidRequirements{Modes: policy.Modes{DeviceAdmin: true}}}},
			}})
		if err != nil {
			t.Fatal(err)
		}
		e.policies[o.ID] = p
	}
	for _, u := range []struct {
		org   storage.OrgID
		name  string
		staff bool
	}{{e.org, "alice", true}, {e.org, "carol", false}, {e.other, "olga", true}} {
		created, err := e.dir.CreateUser(ctx, auth.User{Org: u.org, Username: u.name, DisplayName: u.name}, "correct horse battery", "test")
		if err != nil {
			t.Fatal(err)
		}
		e.users[u.name] = created.ID
		if u.staff {
			if err := e.dir.AddMember(ctx, u.org, e.staff[u.org], created.ID, "test"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if opts == nil {
		opts = []omm.HandlerOption{omm.WithAgentAuth(headerAuth)}
	}
	mux := http.NewServeMux()
	mux.Handle(prefix+"/", e.sdk.Handler(opts...))
	mux.Handle("/admin/", e.sdk.AdminHandler("/admin", headerAdmin))
	handler = mux
	return e
}

// syncBuffer is a bytes buffer safe for the SDK's concurrent logging.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// do sends a request (body JSON-encoded unless it is []byte) with
// headers, and returns the status and body.
func (e *env) do(t *testing.T, method, url string, body any, headers ...string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	if strings.HasPrefix(url, "/") {
		url = e.ts.URL + url
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

// as is the test headers of a user of org for the agent API.
func as(org storage.OrgID, userID string) []string {
	return []string{"X-Org", string(org), "X-User", userID}
}

// appleDevice is a simulated iPhone enrolled with the exported device-side
// helpers (sceptest for its identity, mdmtest for signing and reading
// commands), proving its identity with Mdm-Signature.
type appleDevice struct {
	e                 *env
	id, udid          string
	org               storage.OrgID
	key               *rsa.PrivateKey
	cert, ca          *x509.Certificate
	checkIn, server   string
	enrollmentProfile *profile.Profile
}

// enrollApple enrolls an iPhone of userID in org through the handler
// (direct enrollment profile, SCEP, Authenticate and TokenUpdate).
func (e *env) enrollApple(t *testing.T, org storage.OrgID, userID string) *appleDevice {
	t.Helper()
	ctx := t.Context()
	before, err := e.sdk.UserDevices(ctx, org, userID)
	if err != nil {
		t.Fatal(err)
	}
	en, err := e.sdk.BeginAppleEnrollment(ctx, org, userID, omm.Facts{Platform: "ios", OSVersion: "17.4"}, enroll.KindDirect)
	if err != nil {
		t.Fatal(err)
	}
	st, signed := e.do(t, "GET", en.URL, nil)
	if st != 200 {
		t.Fatalf("enrollment profile = %d %s", st, signed)
	}
	d := &appleDevice{e: e, org: org, udid: "0000" + strings.ToUpper(rand.Text()[:16])}
	if d.ca, err = e.sdk.SCEP.CACertificate(ctx, org); err != nil {
		t.Fatal(err)
	}
	content, _, err := profile.Verify(signed, profile.VerifyOptions{Signer: d.ca})
	if err != nil {
		t.Fatal(err)
	}
	if d.enrollmentProfile, err = profile.Decode(content); err != nil {
		t.Fatal(err)
	}
	var scepP *profile.SCEP
	for _, pl := range d.enrollmentProfile.Payloads {
		switch pl := pl.(type) {
		case *profile.SCEP:
			scepP = pl
		case *profile.MDM:
			d.checkIn, d.server = pl.CheckInURL, pl.ServerURL
		}
	}
	if scepP == nil || d.server == "" {
		t.Fatalf("enrollment profile payloads %T", d.enrollmentProfile.Payloads)
	}
	if d.key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	msg, pending, err := sceptest.Request{Key: d.key, Challenge: scepP.Challenge, Subject: pkix.Name{CommonName: d.udid}}.Build(d.ca)
	if err != nil {
		t.Fatal(err)
	}
	st, reply := e.do(t, "POST", scepP.URL+"?operation=PKIOperation", msg, "Content-Type", "application/x-pki-message")
	if d.cert, err = pending.Read(reply, d.ca); err != nil {
		t.Fatalf("SCEP (status %d): %v", st, err)
	}
	if d.checkIn == "" {
		d.checkIn = d.server
	}
	d.put(t, d.checkIn, map[string]any{"MessageType": "Authenticate", "Topic": omm.DevelopmentTopic, "SerialNumber": "SN" + d.udid[4:12]})
	d.put(t, d.checkIn, map[string]any{"MessageType": "TokenUpdate", "Topic": omm.DevelopmentTopic, "Token": []byte{1, 2, 3}, "PushMagic": "magic"})
	after, err := e.sdk.UserDevices(ctx, org, userID)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range after {
		if !containsDevice(before, a.ID) {
			d.id = a.ID
		}
	}
	if d.id == "" {
		t.Fatal("the enrolled iPhone is not among the user's devices")
	}
	return d
}

func containsDevice(list []inventory.Device, id string) bool {
	return slices.ContainsFunc(list, func(d inventory.Device) bool { return d.ID == id })
}

// put sends a message signed with the device's identity and returns the
// answer, failing the test on anything but 200.
func (d *appleDevice) put(t *testing.T, url string, m map[string]any) []byte {
	t.Helper()
	st, out := d.send(t, url, m)
	if st != 200 {
		t.Fatalf("PUT %s = %d %s", url, st, out)
	}
	return out
}

// send is put without judging the answer.
func (d *appleDevice) send(t *testing.T, url string, m map[string]any) (int, []byte) {
	t.Helper()
	m["UDID"] = d.udid
	body, err := plist.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := mdmtest.Signature(body, d.key, d.cert)
	if err != nil {
		t.Fatal(err)
	}
	return d.e.do(t, "PUT", url, body, mdmtest.SignatureHeader, sig, "Content-Type", "application/x-apple-aspen-mdm")
}

// poll sends result (Idle when nil) and returns the next command, ok
// false when there is none.
func (d *appleDevice) poll(t *testing.T, result map[string]any) (mdmtest.Command, bool) {
	t.Helper()
	if result == nil {
		result = map[string]any{"Status": "Idle"}
	}
	out := d.put(t, d.server, result)
	if len(bytes.TrimSpace(out)) == 0 {
		return mdmtest.Command{}, false
	}
	c, err := mdmtest.DecodeCommand(out, mdmtest.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return c, true
}

// drain answers every queued command (with answer's result when it gives
// one, else Acknowledged) and returns them.
func (d *appleDevice) drain(t *testing.T, answer func(mdmtest.Command) map[string]any) []mdmtest.Command {
	t.Helper()
	var seen []mdmtest.Command
	c, ok := d.poll(t, nil)
	for ok {
		if seen = append(seen, c); len(seen) > 100 {
			t.Fatal("the queue does not drain")
		}
		var res map[string]any
		if answer != nil {
			res = answer(c)
		}
		if res == nil {
			res = map[string]any{"Status": "Acknowledged"}
		}
		res["CommandUUID"] = c.UUID
		c, ok = d.poll(t, res)
	}
	return seen
}

// policyProfile returns the passcode payload of an InstallProfile
// command's profile, checked to be signed by the org's CA (nil when the
// profile has none).
func (d *appleDevice) policyProfile(t *testing.T, c mdmtest.Command) *profile.Passcode {
	t.Helper()
	payload, _ := c.Body["Payload"].([]byte)
	content, _, err := profile.Verify(payload, profile.VerifyOptions{Signer: d.ca})
	if err != nil {
		t.Fatalf("%s payload: %v", c.RequestType, err)
	}
	p, err := profile.Decode(content)
	if err != nil {
		t.Fatal(err)
	}
	for _, pl := range p.Payloads {
		if pc, ok := pl.(*profile.Passcode); ok {
			return pc
		}
	}
	return nil
}

// androidPhone is a phone enrolled on the agent channel (native device
// admin, Android 9) through the handler.
type androidPhone struct {
	id, credential string
}

// enrollAndroid enrolls a company phone of userID through the agent API
// and the agent protocol.
func (e *env) enrollAndroid(t *testing.T, org storage.OrgID, userID string) androidPhone {
	t.Helper()
	var en struct{ Token, Link string }
	facts := omm.Facts{Platform: "android", OSVersion: "9", APILevel: 28, Model: "Nokia 6.1", Manufacturer: "HMD Global", Ownership: "company"}
	st, out := e.do(t, "POST", e.prefix+"/api/agent/android/enroll", facts, as(org, userID)...)
	if st != 200 || json.Unmarshal(out, &en) != nil || en.Token == "" {
		t.Fatalf("Android enrollment code = %d %s", st, out)
	}
	if !strings.HasPrefix(en.Link, e.ts.URL+e.prefix+omm.AgentPath) {
		t.Errorf("enrollment link %s is not under %s", en.Link, e.ts.URL+e.prefix+omm.AgentPath)
	}
	var p androidPhone
	var enr struct {
		DeviceID   string `json:"device_id"`
		Credential string `json:"credential"`
	}
	st, out = e.do(t, "POST", e.prefix+omm.AgentPath+"/enroll", map[string]string{"token": en.Token, "identifier": strings.ToLower(rand.Text()[:16])})
	if st != 200 || json.Unmarshal(out, &enr) != nil || enr.Credential == "" {
		t.Fatalf("agent enrollment = %d %s", st, out)
	}
	p.id, p.credential = enr.DeviceID, enr.Credential
	return p
}

// policyCalls returns the device-admin calls of the phone's policy, as
// "method(value)".
func (e *env) policyCalls(t *testing.T, p androidPhone) []string {
	t.Helper()
	var pol struct {
		Calls []struct {
			Method string
			Value  int64
		}
	}
	st, out := e.do(t, "GET", e.prefix+omm.AgentPath+"/policy?api_level=28", nil, "Authorization", "Bearer "+p.credential)
	if st != 200 || json.Unmarshal(out, &pol) != nil {
		t.Fatalf("agent policy = %d %s", st, out)
	}
	var calls []string
	for _, c := range pol.Calls {
		calls = append(calls, c.Method+"("+strconv.FormatInt(c.Value, 10)+")")
	}
	return calls
}
