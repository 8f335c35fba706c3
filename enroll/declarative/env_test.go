package declarative_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/micromdm/plist"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/enroll/declarative"
	"github.com/openomm/omm/internal/cms"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

var (
	quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
	start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
)

const topic = "com.apple.mgmt.External.declarative-test"

// source is a fixed declarative.Source whose decision a test may change.
type source struct {
	mu      sync.Mutex
	dec     map[storage.OrgID]policy.Decision
	apps    []declarative.App
	profile string
}

func (s *source) Decide(_ context.Context, d inventory.Device, _ string) (policy.Decision, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dec[d.Org], nil
}

func (s *source) Apps(context.Context, inventory.Device) ([]declarative.App, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]declarative.App(nil), s.apps...), nil
}

func (s *source) CommandProfile(context.Context, inventory.Device) (string, error) {
	return s.profile, nil
}

func (s *source) set(org storage.OrgID, edit func(*policy.Decision)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dec[org]
	edit(&d)
	s.dec[org] = d
}

// profiles serves a stand-in settings profile.
type profiles struct{}

func (profiles) SettingsFingerprint(req policy.Requirements) string {
	ds := req.DataSeparation
	if !ds.BlockManagedToUnmanaged && !ds.BlockUnmanagedToManaged {
		return ""
	}
	return fmt.Sprintf("fp-%t-%t", ds.BlockManagedToUnmanaged, ds.BlockUnmanagedToManaged)
}

func (p profiles) SettingsProfile(_ context.Context, org storage.OrgID, req policy.Requirements) ([]byte, error) {
	return []byte("signed settings profile of " + string(org) + " " + p.SettingsFingerprint(req)), nil
}

// staff is the decision the test orgs start with.
func staff() policy.Decision {
	return policy.Decision{Outcome: policy.Enroll, Policy: "pol_staff", Platform: policy.IOS, Requirements: policy.Requirements{
		Passcode:       policy.Passcode{Required: true, MinLength: 6, MaxFailedAttempts: 10},
		OSUpdate:       policy.OSUpdate{TargetVersion: "17.5", Deadline: "2026-03-31T18:00:00"},
		DataSeparation: policy.DataSeparation{BlockManagedToUnmanaged: true},
	}}
}

// env is the check-in service with the declarative service behind it,
// over the memory backend, with two orgs.
type env struct {
	t      testing.TB
	store  *memory.Store
	inv    *inventory.Service
	ddm    *declarative.Service
	mdm    *checkin.Service
	srv    *httptest.Server
	src    *source
	cas    map[storage.OrgID]ca
	orgA   storage.OrgID
	orgB   storage.OrgID
	mu     sync.Mutex
	now    time.Time
	woken  []string
	events []declarative.Event
	// decided is Result.Declarative of each device's latest
	// DeviceInformation answer, by UDID.
	decided map[string]bool
}

type ca struct {
	cert *x509.Certificate
	key  crypto.Signer
}

type roots map[storage.OrgID]*x509.Certificate

func (r roots) CACertificate(_ context.Context, org storage.OrgID) (*x509.Certificate, error) {
	if c, ok := r[org]; ok {
		return c, nil
	}
	return nil, storage.ErrNotFound
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith is newEnv with the declarative service's source wrapped by
// wrap, when not nil.
func newEnvWith(t testing.TB, wrap func(*source) declarative.Source) *env {
	t.Helper()
	e := &env{t: t, now: start, orgA: "org_acme", orgB: "org_beta", cas: map[storage.OrgID]ca{}, store: memory.New(), decided: map[string]bool{},
		src: &source{dec: map[storage.OrgID]policy.Decision{}, profile: "com.openomm.enroll.policy"}}
	rs := roots{}
	for _, o := range []storage.OrgID{e.orgA, e.orgB} {
		if _, err := e.store.CreateOrg(t.Context(), storage.Org{ID: o, Name: string(o[4:]), DisplayName: string(o)},
			storage.AuditEntry{Org: o, Time: start, Actor: "system", Action: "org.create"}); err != nil {
			t.Fatal(err)
		}
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: string(o) + " CA"},
			NotBefore: start.Add(-time.Hour), NotAfter: start.AddDate(10, 0, 0), IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		cert, _ := x509.ParseCertificate(der)
		e.cas[o] = ca{cert, key}
		rs[o] = cert
		e.src.dec[o] = staff()
	}
	e.inv = inventory.New(e.store, inventory.WithClock(e.clock), inventory.WithLogger(quiet))
	devices := checkin.Inventory{Service: e.inv, Store: e.store}
	waker := wakeFunc(func(_ context.Context, _ storage.OrgID, ds []string) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.woken = append(e.woken, ds...)
		return nil
	})
	var src declarative.Source = e.src
	if wrap != nil {
		src = wrap(e.src)
	}
	e.ddm = declarative.New(e.store, devices, e.store, src, declarative.WithClock(e.clock), declarative.WithLogger(quiet),
		declarative.WithWaker(waker), declarative.WithProfiles(profiles{}, "https://mdm.example.com/omm/"),
		declarative.WithEvents(func(_ context.Context, ev declarative.Event) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.events = append(e.events, ev)
		}))
	e.mdm = checkin.New(e.store, devices, rs, checkin.WithClock(e.clock), checkin.WithLogger(quiet), checkin.WithWaker(waker),
		checkin.WithDeclarative(e.ddm), checkin.WithResultHandler(string(inventory.AppleDeviceInformation),
			checkin.ResultHandlerFunc(func(_ context.Context, r checkin.Result) error {
				e.mu.Lock()
				defer e.mu.Unlock()
				e.decided[r.Device.Identifier] = r.Declarative
				return nil
			})))
	mux := http.NewServeMux()
	e.mdm.Mount(mux)
	mux.Handle(declarative.ProfilePattern, e.ddm.ProfileHandler())
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

type wakeFunc func(context.Context, storage.OrgID, []string) error

func (f wakeFunc) Wake(ctx context.Context, org storage.OrgID, ds []string) error {
	return f(ctx, org, ds)
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

func (e *env) pushes() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.woken...)
}

func (e *env) eventsOf(kind declarative.EventKind) []declarative.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []declarative.Event
	for _, ev := range e.events {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

// phone is a simulated Apple device.
type phone struct {
	e       *env
	org     storage.OrgID
	udid    string
	product string
	os      string
	cert    *x509.Certificate
	key     crypto.Signer
	user    string
}

// newPhone issues an identity of org's CA for a new enrollment session, as
// the SCEP service does.
func (e *env) newPhone(org storage.OrgID, udid, os string) *phone {
	e.t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: udid},
		NotBefore: start.Add(-time.Hour), NotAfter: start.AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, e.cas[org].cert, &key.PublicKey, e.cas[org].key)
	if err != nil {
		e.t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	if _, err := e.store.RecordIdentity(e.t.Context(), enroll.Identity{Org: org, Fingerprint: enroll.FingerprintOf(cert),
		Serial: cert.SerialNumber.Text(16), Session: enroll.NewSessionID(), UserID: "u_alice", Issued: start, NotAfter: cert.NotAfter, Purpose: enroll.PurposeMDM},
		storage.AuditEntry{Org: org, Time: start, Actor: "system", Action: "identity.issue"}); err != nil {
		e.t.Fatal(err)
	}
	return &phone{e: e, org: org, udid: udid, product: "iPhone15,4", os: os, cert: cert, key: key, user: "u_alice"}
}

// put sends body to path signed by signer (nil: unsigned).
func (p *phone) put(path string, body []byte, signer *phone) (int, []byte, string) {
	p.e.t.Helper()
	req, _ := http.NewRequest(http.MethodPut, p.e.srv.URL+path, bytes.NewReader(body))
	if signer != nil {
		sig, err := cms.SignDetached(body, signer.key, signer.cert, nil)
		if err != nil {
			p.e.t.Fatal(err)
		}
		req.Header.Set("Mdm-Signature", base64.StdEncoding.EncodeToString(sig))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out, resp.Header.Get("Content-Type")
}

func (p *phone) checkin(msg map[string]any) (int, []byte, string) {
	p.e.t.Helper()
	if _, ok := msg["UDID"]; !ok {
		msg["UDID"] = p.udid
	}
	b, err := plist.Marshal(msg)
	if err != nil {
		p.e.t.Fatal(err)
	}
	return p.put("/mdm/"+string(p.org)+"/checkin", b, p)
}

// enroll runs Authenticate and the first TokenUpdate.
func (p *phone) enroll() *phone {
	p.e.t.Helper()
	if st, out, _ := p.checkin(map[string]any{"MessageType": "Authenticate", "Topic": topic, "ProductName": p.product,
		"SerialNumber": "SER-" + p.udid, "OSVersion": p.os}); st != http.StatusOK {
		p.e.t.Fatalf("Authenticate: %d %s", st, out)
	}
	if st, out, _ := p.checkin(map[string]any{"MessageType": "TokenUpdate", "Topic": topic, "Token": []byte("tok-" + p.udid),
		"PushMagic": "magic"}); st != http.StatusOK {
		p.e.t.Fatalf("TokenUpdate: %d %s", st, out)
	}
	return p
}

// result sends a command result (or Idle) and returns the next command.
func (p *phone) result(msg map[string]any) (int, map[string]any) {
	p.e.t.Helper()
	msg["UDID"] = p.udid
	b, _ := plist.Marshal(msg)
	st, out, _ := p.put("/mdm/"+string(p.org)+"/server", b, p)
	if st != http.StatusOK || len(out) == 0 {
		return st, nil
	}
	var cmd map[string]any
	if err := plist.Unmarshal(out, &cmd); err != nil {
		p.e.t.Fatal(err)
	}
	return st, cmd
}

// drain answers every queued command the way a device does, reporting
// its OS version to DeviceInformation, and returns the commands by
// request type in the order they came.
func (p *phone) drain() []map[string]any {
	p.e.t.Helper()
	var got []map[string]any
	_, cmd := p.result(map[string]any{"Status": "Idle"})
	for cmd != nil {
		got = append(got, cmd)
		c := cmd["Command"].(map[string]any)
		res := map[string]any{"Status": "Acknowledged", "CommandUUID": cmd["CommandUUID"]}
		if c["RequestType"] == "DeviceInformation" {
			res["QueryResponses"] = map[string]any{"OSVersion": p.os, "SerialNumber": "SER-" + p.udid, "ProductName": p.product,
				"DeviceName": "Alice's iPhone"}
		}
		_, cmd = p.result(res)
	}
	return got
}

// commandOf returns the first command of type typ among cmds.
func commandOf(cmds []map[string]any, typ string) map[string]any {
	for _, c := range cmds {
		if c["Command"].(map[string]any)["RequestType"] == typ {
			return c["Command"].(map[string]any)
		}
	}
	return nil
}

func requestTypes(cmds []map[string]any) []string {
	var out []string
	for _, c := range cmds {
		out = append(out, c["Command"].(map[string]any)["RequestType"].(string))
	}
	return out
}

// ddm sends a DeclarativeManagement message.
func (p *phone) ddm(endpoint string, data []byte) (int, []byte, string) {
	p.e.t.Helper()
	msg := map[string]any{"MessageType": "DeclarativeManagement", "Endpoint": endpoint}
	if data != nil {
		msg["Data"] = data
	}
	return p.checkin(msg)
}

// tokens fetches the synchronisation tokens.
func (p *phone) tokens() declarative.SyncTokens {
	p.e.t.Helper()
	st, out, ct := p.ddm("tokens", nil)
	if st != http.StatusOK || ct != "application/json" {
		p.e.t.Fatalf("tokens: %d %s %s", st, ct, out)
	}
	var r declarative.TokensResponse
	if err := json.Unmarshal(out, &r); err != nil {
		p.e.t.Fatal(err)
	}
	return r.SyncTokens
}

// sync fetches the declaration items and every declaration, as a device
// does after a token change.
func (p *phone) sync() map[string]declarative.Declaration {
	p.e.t.Helper()
	st, out, _ := p.ddm("declaration-items", nil)
	if st != http.StatusOK {
		p.e.t.Fatalf("declaration-items: %d %s", st, out)
	}
	var items declarative.ItemsResponse
	if err := json.Unmarshal(out, &items); err != nil {
		p.e.t.Fatal(err)
	}
	got := map[string]declarative.Declaration{}
	for kind, list := range map[string][]declarative.Item{"activation": items.Declarations.Activations,
		"configuration": items.Declarations.Configurations, "asset": items.Declarations.Assets, "management": items.Declarations.Management} {
		for _, it := range list {
			st, out, _ := p.ddm("declaration/"+kind+"/"+it.Identifier, nil)
			if st != http.StatusOK {
				p.e.t.Fatalf("declaration %s/%s: %d %s", kind, it.Identifier, st, out)
			}
			var d declarative.Declaration
			if err := json.Unmarshal(out, &d); err != nil {
				p.e.t.Fatal(err)
			}
			if d.ServerToken != it.ServerToken || d.Identifier != it.Identifier {
				p.e.t.Fatalf("declaration %s: %+v does not match its item %+v", it.Identifier, d, it)
			}
			got[it.Identifier] = d
		}
	}
	return got
}

// statusOf is the management.declarations status of decls, all applied,
// valid and active unless edited.
func statusOf(decls map[string]declarative.Declaration, edit func(id string, e map[string]any)) map[string]any {
	out := map[string]any{"activations": []any{}, "configurations": []any{}, "assets": []any{}, "management": []any{}}
	for id, d := range decls {
		e := map[string]any{"identifier": id, "server-token": d.ServerToken, "active": true, "valid": "valid"}
		if edit != nil {
			edit(id, e)
		}
		k := string(d.Type.Kind()) + "s"
		out[k] = append(out[k].([]any), e)
	}
	return out
}

// report sends a status report of the given items (nested by the caller).
func (p *phone) report(items map[string]any) int {
	p.e.t.Helper()
	b, err := json.Marshal(map[string]any{"StatusItems": items, "Errors": []any{}})
	if err != nil {
		p.e.t.Fatal(err)
	}
	st, out, _ := p.ddm("status", b)
	if st != http.StatusOK && st != http.StatusBadRequest {
		p.e.t.Fatalf("status: %d %s", st, out)
	}
	return st
}

// record is the device's inventory record.
func (p *phone) record() inventory.Device {
	p.e.t.Helper()
	d, err := p.e.store.DeviceByIdentifier(p.e.t.Context(), p.org, p.udid)
	if err != nil {
		p.e.t.Fatal(err)
	}
	return d
}

// values are the device's stored inventory values.
func (p *phone) values() map[inventory.Key]string {
	p.e.t.Helper()
	vals, err := p.e.store.DeviceValues(p.e.t.Context(), p.org, p.record().ID)
	if err != nil {
		p.e.t.Fatal(err)
	}
	out := map[inventory.Key]string{}
	for _, v := range vals {
		out[v.Key] = v.Value
	}
	return out
}

// get fetches a URL of the test server.
func (e *env) get(u string) (int, []byte) {
	e.t.Helper()
	u = strings.Replace(u, "https://mdm.example.com/omm", e.srv.URL, 1)
	resp, err := http.Get(u)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func plistBody(t testing.TB, m map[string]any) []byte {
	t.Helper()
	b, err := plist.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
