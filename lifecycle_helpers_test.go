package omm_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/micromdm/plist"

	"github.com/openomm/omm"
	"github.com/openomm/omm/android"
	"github.com/openomm/omm/android/amapi"
	"github.com/openomm/omm/android/amapi/amapitest"
	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/auth/authtest"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/ota/otatest"
	"github.com/openomm/omm/enroll/scep/sceptest"
	"github.com/openomm/omm/internal/cms"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/profile"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
	"github.com/openomm/omm/storage/postgres"
	"github.com/openomm/omm/storage/seal"
	"github.com/openomm/omm/storage/sqlite"
)

// The user-lifecycle tests' world: one org whose directory is the test's
// (authtest), a policy that enrolls iPhones and Android devices in every
// mode, the SDK's handler over TLS, and the Android Management API's
// stand-in.

var lcQuiet = slog.New(slog.DiscardHandler)

// lcBackend opens a store; reopen opens the same data again (nil for the
// memory store, which a process does not outlive).
type lcBackend struct {
	name string
	open func(t *testing.T) (omm.Store, func(t *testing.T) omm.Store)
	// env is what a child process needs to open the same data.
	env func() []string
}

// lcBackends: memory and SQLite always, PostgreSQL when
// OMM_TEST_POSTGRES_DSN is set (in a schema of its own, dropped after).
func lcBackends(t *testing.T) []lcBackend {
	bs := []lcBackend{
		{name: "memory", open: func(*testing.T) (omm.Store, func(*testing.T) omm.Store) { return memory.New(), nil }},
	}
	var path string
	bs = append(bs, lcBackend{name: "sqlite",
		open: func(t *testing.T) (omm.Store, func(*testing.T) omm.Store) {
			path = filepath.Join(t.TempDir(), "omm.db")
			open := func(t *testing.T) omm.Store { return lcOpenSQLite(t, path) }
			return open(t), open
		},
		env: func() []string { return []string{"OMM_LC_SQLITE=" + path} },
	})
	if dsn := os.Getenv("OMM_TEST_POSTGRES_DSN"); dsn != "" {
		var schema string
		bs = append(bs, lcBackend{name: "postgres",
			open: func(t *testing.T) (omm.Store, func(*testing.T) omm.Store) {
				schema = "omm_lifecycle_" + strings.ToLower(string(storage.NewOrgID()))
				t.Cleanup(func() {
					if conn, err := pgx.Connect(context.Background(), dsn); err == nil {
						conn.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE") //nolint:errcheck // best effort
						conn.Close(context.Background())
					}
				})
				open := func(t *testing.T) omm.Store { return lcOpenPostgres(t, dsn, schema) }
				return open(t), open
			},
			env: func() []string { return []string{"OMM_LC_POSTGRES_SCHEMA=" + schema} },
		})
	}
	return bs
}

func lcOpenPostgres(t testing.TB, dsn, schema string) omm.Store {
	s, err := postgres.Open(context.Background(), dsn, postgres.WithSchema(schema), postgres.WithLogger(lcQuiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// lcKeeper seals the worlds' secrets; the same key across restarts.
var lcKeeper, _ = seal.NewAESKeeper(bytes.Repeat([]byte{0x4c}, seal.KeySize))

type lcKnox struct{}

func (lcKnox) KnoxLicense(context.Context, storage.OrgID) (string, error) { return "KNOX-LICENSE", nil }

// lcWorld is the SDK serving one org.
type lcWorld struct {
	t     *testing.T
	sdk   *omm.SDK
	store omm.Store
	dir   *authtest.Directory
	fake  *amapitest.Server
	srv   *httptest.Server
	org   storage.OrgID
	ca    *x509.Certificate
	chain *otatest.Chain

	mu       sync.Mutex
	notified error // the last ENROLLMENT notification's result
	handler  http.Handler
	// notify is the world the fake's notifications reach: the latest one
	// built on it.
	notify *lcNotify
}

type lcNotify struct {
	mu sync.Mutex
	w  *lcWorld
}

// fakes remembers the world each fake notifies.
var fakes sync.Map // *amapitest.Server → *lcNotify

// lcUsers are the org's users; all are staff.
var lcUsers = []string{"alice", "bob", "carol"}

// newWorld composes the SDK over store with a new org, or over the org
// already in store when org is set (a restart).
func newWorld(t *testing.T, store omm.Store, dir *authtest.Directory, fake *amapitest.Server, org storage.OrgID) *lcWorld {
	t.Helper()
	return newWorldWith(t, store, dir, fake, org, nil)
}

// newWorldWith is newWorld with the SDK's Android Management API replaced
// by provider (nil: the fake).
func newWorldWith(t *testing.T, store omm.Store, dir *authtest.Directory, fake *amapitest.Server, org storage.OrgID, provider amapi.Provider) *lcWorld {
	t.Helper()
	return newWorldConfig(t, store, dir, fake, org, provider, nil)
}

// newWorldConfig is newWorldWith with the SDK's Config changed by
// configure (nil: as it is), for a clock or identity validity of a test's
// own.
func newWorldConfig(t *testing.T, store omm.Store, dir *authtest.Directory, fake *amapitest.Server, org storage.OrgID,
	provider amapi.Provider, configure func(*omm.Config)) *lcWorld {
	t.Helper()
	ctx := context.Background()
	w := &lcWorld{t: t, store: store, dir: dir, fake: fake, org: org}
	w.srv = httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		h := w.handler
		w.mu.Unlock()
		h.ServeHTTP(rw, r)
	}))
	t.Cleanup(w.srv.Close)
	if w.fake == nil {
		route := &lcNotify{}
		var err error
		w.fake, err = amapitest.New("enterprises/LC", amapitest.WithNotifier(func(ctx context.Context, n amapitest.Notification) {
			route.mu.Lock()
			to := route.w
			route.mu.Unlock()
			if n.Type == amapitest.NotifyEnrollment && to != nil {
				_, err := to.sdk.Android.EnrollNotified(ctx, n.Device)
				to.mu.Lock()
				to.notified = err
				to.mu.Unlock()
			}
		}))
		if err != nil {
			t.Fatal(err)
		}
		fakes.Store(w.fake, route)
	}
	if route, ok := fakes.Load(w.fake); ok {
		w.notify = route.(*lcNotify)
		w.notify.mu.Lock()
		w.notify.w = w
		w.notify.mu.Unlock()
	}
	if provider == nil {
		provider = w.fake
	}
	cfg := omm.Config{
		Store: store, Directory: dir, PublicURL: w.srv.URL + "/mdm-sdk", AllowSimulators: true, Logger: lcQuiet, Secrets: lcKeeper,
		Android: omm.AndroidConfig{Provider: provider, Enterprise: w.fake.Enterprise(),
			DPC: android.GoogleDPC(android.EncodeChecksum([32]byte{9})), Knox: lcKnox{}},
	}
	if configure != nil {
		configure(&cfg)
	}
	var err error
	w.sdk, err = omm.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	w.handler = w.sdk.Handler()
	w.mu.Unlock()
	if org == "" {
		o := storage.Org{ID: storage.NewOrgID(), Name: "acme", DisplayName: "Acme"}
		if _, err := store.CreateOrg(ctx, o, storage.AuditEntry{Org: o.ID, Time: cfgNow(cfg), Actor: "admin:root", Action: "org.create"}); err != nil {
			t.Fatal(err)
		}
		w.org = o.ID
		dir.AddGroup(auth.Group{Org: w.org, ID: "grp_staff", Name: "Staff"})
		for _, u := range lcUsers {
			dir.AddUser(auth.User{Org: w.org, ID: u, Username: u, DisplayName: strings.ToUpper(u[:1]) + u[1:]})
			dir.Join(w.org, "grp_staff", u)
		}
		passcode := policy.Passcode{Required: true, MinLength: 6}
		if _, err := w.sdk.CreatePolicy(ctx, "admin:root", policy.Policy{Org: w.org, Name: "Staff phones", Priority: 1, Groups: []string{"grp_staff"},
			Rules: map[policy.Platform]policy.Rule{
				policy.IOS: {Action: policy.Require, Requirements: policy.Requirements{Passcode: passcode, AcceptDirectProfile: true}},
				policy.Android: {Action: policy.Require, Requirements: policy.Requirements{Passcode: passcode,
					Android: policy.AndroidRequirements{Modes: policy.Modes{WorkProfile: true, Knox: true, DeviceAdmin: true}}}},
			}}); err != nil {
			t.Fatal(err)
		}
	}
	if w.ca, err = w.sdk.SCEP.CACertificate(ctx, w.org); err != nil {
		t.Fatal(err)
	}
	return w
}

// cfgNow is the time of cfg's clock.
func cfgNow(cfg omm.Config) time.Time {
	if cfg.Clock != nil {
		return cfg.Clock()
	}
	return time.Now()
}

// get fetches u from the SDK and returns status and body.
func (w *lcWorld) get(u string) (int, []byte) {
	w.t.Helper()
	resp, err := w.srv.Client().Get(u)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (w *lcWorld) send(method, u string, body []byte, header http.Header) (int, []byte) {
	w.t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := w.srv.Client().Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// verified checks a profile's signature by the org CA and decodes it.
func (w *lcWorld) verified(signed []byte) []byte {
	w.t.Helper()
	content, _, err := profile.Verify(signed, profile.VerifyOptions{Signer: w.ca})
	if err != nil {
		w.t.Fatalf("profile not signed by the org CA: %v", err)
	}
	return content
}

var (
	lcKeyOnce sync.Once
	lcKeys    []*rsa.PrivateKey
)

func lcKey(i int) *rsa.PrivateKey {
	lcKeyOnce.Do(func() {
		for range 4 {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			lcKeys = append(lcKeys, k)
		}
	})
	return lcKeys[i%len(lcKeys)]
}

// iPhone is a simulated Apple device with its MDM identity.
type iPhone struct {
	w          *lcWorld
	udid       string
	cert       *x509.Certificate
	key        crypto.Signer
	checkInURL string
	serverURL  string
	id         string // the inventory ID, once enrolled
}

// identity runs a direct enrollment up to its SCEP identity: the device
// has fetched the profile and got its certificate, and has not yet
// called the MDM server.
func (w *lcWorld) identity(user, udid string, key int) *iPhone {
	w.t.Helper()
	return w.directIdentity(user, udid, key, omm.Facts{Platform: "ios", OSVersion: "17.4"})
}

// macIdentity is identity for a Mac.
func (w *lcWorld) macIdentity(user, udid string) *iPhone {
	w.t.Helper()
	return w.directIdentity(user, udid, 0, omm.Facts{Platform: "macos", OSVersion: "14.4"})
}

func (w *lcWorld) directIdentity(user, udid string, key int, f omm.Facts) *iPhone {
	w.t.Helper()
	enr, err := w.sdk.BeginAppleEnrollment(context.Background(), w.org, user, f, enroll.KindDirect)
	if err != nil {
		w.t.Fatal(err)
	}
	st, signed := w.get(enr.URL)
	if st != http.StatusOK {
		w.t.Fatalf("direct profile: %d %s", st, signed)
	}
	p, err := profile.Decode(w.verified(signed))
	if err != nil {
		w.t.Fatal(err)
	}
	d := &iPhone{w: w, udid: udid, key: lcKey(key)}
	for _, pl := range p.Payloads {
		switch pl := pl.(type) {
		case *profile.SCEP:
			d.cert = w.scep(pl.Challenge, lcKey(key))
		case *profile.MDM:
			d.checkInURL, d.serverURL = pl.CheckInURL, pl.ServerURL
			if d.checkInURL == "" {
				d.checkInURL = pl.ServerURL
			}
		}
	}
	if d.cert == nil || d.serverURL == "" {
		w.t.Fatalf("direct profile without SCEP or MDM payload: %+v", p.Payloads)
	}
	return d
}

// scep gets a certificate for challenge.
func (w *lcWorld) scep(challenge string, key *rsa.PrivateKey) *x509.Certificate {
	w.t.Helper()
	msg, pending, err := sceptest.Request{Key: key, Challenge: challenge}.Build(w.ca)
	if err != nil {
		w.t.Fatal(err)
	}
	reply, err := w.sdk.SCEP.PKIOperation(context.Background(), w.org, msg)
	if err != nil {
		w.t.Fatalf("SCEP: %v", err)
	}
	cert, err := pending.Read(reply, w.ca)
	if err != nil {
		w.t.Fatal(err)
	}
	return cert
}

// enrolledIPhone enrolls an iPhone of user through the MDM check-in.
func (w *lcWorld) enrolledIPhone(user, udid string, key int) *iPhone {
	w.t.Helper()
	d := w.identity(user, udid, key)
	if st := d.authenticate(); st != http.StatusOK {
		w.t.Fatalf("Authenticate: %d", st)
	}
	if st := d.tokenUpdate(); st != http.StatusOK {
		w.t.Fatalf("TokenUpdate: %d", st)
	}
	inv, err := w.store.DeviceByIdentifier(context.Background(), w.org, udid)
	if err != nil {
		w.t.Fatal(err)
	}
	d.id = inv.ID
	return d
}

// put sends a signed plist to u.
func (d *iPhone) put(u string, msg map[string]any) (int, []byte) {
	d.w.t.Helper()
	body, err := plist.Marshal(msg)
	if err != nil {
		d.w.t.Fatal(err)
	}
	sig, err := cms.SignDetached(body, d.key, d.cert, nil)
	if err != nil {
		d.w.t.Fatal(err)
	}
	return d.w.send(http.MethodPut, u, body, http.Header{"Mdm-Signature": {base64.StdEncoding.EncodeToString(sig)}})
}

func (d *iPhone) authenticate() int { return d.authenticateAs("iPhone15,4") }

// authenticateAs sends Authenticate naming the product (model) given.
func (d *iPhone) authenticateAs(product string) int {
	st, _ := d.put(d.checkInURL, map[string]any{"MessageType": "Authenticate", "UDID": d.udid, "Topic": omm.DevelopmentTopic,
		"ProductName": product, "SerialNumber": "SER" + d.udid[len(d.udid)-6:], "OSVersion": "17.4", "BuildVersion": "21E219"})
	return st
}

func (d *iPhone) tokenUpdate() int {
	st, _ := d.put(d.checkInURL, map[string]any{"MessageType": "TokenUpdate", "UDID": d.udid, "Topic": omm.DevelopmentTopic,
		"Token": []byte("token-" + d.udid), "PushMagic": "magic-" + d.udid})
	return st
}

// drain answers every command the server sends (Acknowledged) and
// returns their request types, in order.
func (d *iPhone) drain() []string {
	d.w.t.Helper()
	return d.drainAnswering(nil)
}

// drainAnswering is drain with each answer's extra keys from answer (nil:
// none), given the command's request type.
func (d *iPhone) drainAnswering(answer func(requestType string) map[string]any) []string {
	d.w.t.Helper()
	var types []string
	msg := map[string]any{"UDID": d.udid, "Status": "Idle"}
	for range 100 {
		st, body := d.put(d.serverURL, msg)
		if st != http.StatusOK {
			d.w.t.Fatalf("server: %d %s", st, body)
		}
		if len(body) == 0 {
			return types
		}
		var cmd struct {
			CommandUUID string
			Command     map[string]any
		}
		if err := plist.Unmarshal(body, &cmd); err != nil {
			d.w.t.Fatal(err)
		}
		rt, _ := cmd.Command["RequestType"].(string)
		if id, ok := cmd.Command["Identifier"].(string); ok {
			rt += " " + id
		}
		types = append(types, rt)
		msg = map[string]any{"UDID": d.udid, "Status": "Acknowledged", "CommandUUID": cmd.CommandUUID}
		if answer != nil {
			for k, v := range answer(strings.Fields(rt)[0]) {
				msg[k] = v
			}
		}
	}
	d.w.t.Fatal("the queue never drained")
	return nil
}

func (d *iPhone) checkOut() int {
	st, _ := d.put(d.checkInURL, map[string]any{"MessageType": "CheckOut", "UDID": d.udid, "Topic": omm.DevelopmentTopic})
	return st
}

// androidFacts are the facts of a device that enrolls in mode.
func androidFacts(mode policy.Mode) omm.Facts {
	f := omm.Facts{Platform: "android", OSVersion: "9", APILevel: 28, Ownership: "personal"}
	switch mode {
	case policy.ModeKnox:
		f.Knox, f.Manufacturer = true, "samsung"
	case policy.ModeWorkProfile:
		f.OSVersion, f.APILevel, f.WorkProfile = "14", 34, true
	}
	return f
}

// androidToken issues user's token for a device of mode.
func (w *lcWorld) androidToken(user string, mode policy.Mode) android.Issued {
	w.t.Helper()
	enr, err := w.sdk.BeginAndroidEnrollment(context.Background(), w.org, user, "user:"+user, androidFacts(mode))
	if err != nil {
		w.t.Fatal(err)
	}
	if enr.Issued.Plan.Mode != mode {
		w.t.Fatalf("plan %s, want %s", enr.Issued.Plan.Mode, mode)
	}
	return enr.Issued
}

// lcPhone is an enrolled Android device.
type lcPhone struct {
	id     string
	mode   policy.Mode
	secret string // the fake's secret of a work-profile device
}

// useToken enrolls a device with the token, through the agent or the
// Android Management API (whose notification reaches the SDK).
func (w *lcWorld) useToken(iss android.Issued, n int) (lcPhone, error) {
	w.t.Helper()
	ctx := context.Background()
	if iss.Plan.Channel == android.ChannelAgent {
		enr, err := w.sdk.Android.Enroll(ctx, android.EnrollRequest{Token: iss.Value, Identifier: fmt.Sprintf("aid-%s-%d", iss.Plan.Mode, n)})
		return lcPhone{id: enr.Device.ID, mode: iss.Plan.Mode}, err
	}
	how := amapitest.ProvisionLink
	if iss.QR != nil {
		how = amapitest.ProvisionQR
	}
	w.mu.Lock()
	w.notified = nil
	w.mu.Unlock()
	en, err := w.fake.Enroll(ctx, amapitest.Enrollment{Token: iss.Value, Provisioning: how, APILevel: 34,
		Hardware: amapitest.Hardware{SerialNumber: fmt.Sprintf("WP%04d", n)},
	})
	if err != nil {
		return lcPhone{}, err // Google refused the token
	}
	w.mu.Lock()
	err = w.notified
	w.mu.Unlock()
	p := lcPhone{mode: iss.Plan.Mode, secret: en.Secret}
	if err == nil {
		inv, lerr := w.store.DeviceByIdentifier(ctx, w.org, en.Name[strings.LastIndex(en.Name, "/")+1:])
		if lerr != nil {
			w.t.Fatal(lerr)
		}
		p.id = inv.ID
	}
	return p, err
}

func (w *lcWorld) enrolledAndroid(user string, mode policy.Mode, n int) lcPhone {
	w.t.Helper()
	p, err := w.useToken(w.androidToken(user, mode), n)
	if err != nil {
		w.t.Fatalf("%s enrollment: %v", mode, err)
	}
	return p
}

// otaPhase3 plays OTA phases 1 and 2 and SCEP for user, and returns the
// phase 3 post (signed by the OTA identity) without sending it.
func (w *lcWorld) otaPhase3(user, udid string) (postURL string, body []byte) {
	w.t.Helper()
	o := w.otaIdentity(user, udid)
	body, err := signPhase3(o)
	if err != nil {
		w.t.Fatal(err)
	}
	return o.postURL, body
}

// signPhase3 is the phase 3 post of o's device, signed by its OTA identity.
func signPhase3(o otaStep) ([]byte, error) {
	return otatest.SignBER(o.dev.Attributes("", o.attrs), lcKey(3), o.cert, nil)
}

// otaStep is an OTA enrollment after phase 2 and its SCEP request: the
// device holds the OTA identity (cert, with lcKey(3)) that signs phase 3.
type otaStep struct {
	postURL string
	cert    *x509.Certificate
	dev     *otatest.Device
	attrs   map[string]string
}

// otaIdentity plays OTA phases 1 and 2 and SCEP for user's device udid.
func (w *lcWorld) otaIdentity(user, udid string) otaStep {
	w.t.Helper()
	enr, err := w.sdk.BeginAppleEnrollment(context.Background(), w.org, user, omm.Facts{Platform: "ios", OSVersion: "17.4"}, enroll.KindOTA)
	if err != nil {
		w.t.Fatal(err)
	}
	st, signed := w.get(enr.URL)
	if st != http.StatusOK {
		w.t.Fatalf("phase 1: %d", st)
	}
	svc, err := profile.DecodeService(w.verified(signed))
	if err != nil {
		w.t.Fatal(err)
	}
	if w.chain == nil {
		if w.chain, err = otatest.NewChain(); err != nil {
			w.t.Fatal(err)
		}
	}
	dev, err := w.chain.NewDevice(udid)
	if err != nil {
		w.t.Fatal(err)
	}
	attrs := map[string]string{"SERIAL": "OTA" + udid[len(udid)-6:], "PRODUCT": "iPhone15,4", "VERSION": "21E219"}
	p2, err := dev.Phase2(svc.Challenge, attrs)
	if err != nil {
		w.t.Fatal(err)
	}
	st, signed = w.send(http.MethodPost, svc.URL, p2, nil)
	if st != http.StatusOK {
		w.t.Fatalf("phase 2: %d %s", st, signed)
	}
	p, err := profile.Decode(w.verified(signed))
	if err != nil {
		w.t.Fatal(err)
	}
	var cert *x509.Certificate
	for _, pl := range p.Payloads {
		if s, ok := pl.(*profile.SCEP); ok {
			cert = w.scep(s.Challenge, lcKey(3))
		}
	}
	if cert == nil {
		w.t.Fatal("phase 2 profile without SCEP payload")
	}
	return otaStep{postURL: svc.URL, cert: cert, dev: dev, attrs: attrs}
}

// auditCount is the number of the org's audit entries.
func (w *lcWorld) auditCount() int {
	w.t.Helper()
	n := 0
	q := storage.AuditQuery{Limit: storage.MaxAuditPage}
	for {
		p, err := w.store.ListAudit(context.Background(), w.org, q)
		if err != nil {
			w.t.Fatal(err)
		}
		n += len(p.Entries)
		if p.Next == 0 {
			return n
		}
		q.After = p.Next
	}
}

// hostPath returns u's path and query, for messages.
func hostPath(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.RequestURI()
}

func lcMemory() omm.Store { return memory.New() }

func lcOpenSQLite(t testing.TB, path string) omm.Store {
	s, err := sqlite.Open(context.Background(), path, sqlite.WithLogger(lcQuiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
