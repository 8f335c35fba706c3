package checkin_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/micromdm/plist"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/internal/cms"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// backend is what the tests need of a storage backend.
type backend interface {
	storage.OrgStore
	storage.AuditLog
	inventory.Store
	enroll.CommandQueue
	enroll.EnrollmentStore
	enroll.IdentityStore
	enroll.ActionStore
	enroll.AuthenticateStore
	enroll.PushOutbox
}

// ca is an org's device CA.
type ca struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func newCA(t testing.TB, name string) ca {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " device CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return ca{cert, key}
}

// issue makes a device identity certificate.
func (c ca) issue(t testing.TB, cn string) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key
}

type cas map[storage.OrgID]*x509.Certificate

func (c cas) CACertificate(_ context.Context, org storage.OrgID) (*x509.Certificate, error) {
	if cert, ok := c[org]; ok {
		return cert, nil
	}
	return nil, storage.ErrNotFound
}

var now = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

// env is a check-in service over the memory backend, with two orgs.
type env struct {
	t       testing.TB
	store   backend
	inv     *inventory.Service
	svc     *checkin.Service
	srv     *httptest.Server
	cas     map[storage.OrgID]ca
	orgA    storage.OrgID
	orgB    storage.OrgID
	events  []checkin.Event
	woken   []string
	clockMu sync.Mutex
	now     time.Time
}

// stepwise makes newEnv's service read identities, devices and queues
// one after the other (see TestStepwiseReads).
var stepwise bool

func newEnv(t testing.TB, opts ...checkin.Option) *env {
	t.Helper()
	return newEnvWrapped(t, nil, opts...)
}

// newEnvWrapped is newEnv with the service's store wrapped by wrap (nil:
// not wrapped), to inject failures.
func newEnvWrapped(t testing.TB, wrap func(checkin.Store) checkin.Store, opts ...checkin.Option) *env {
	t.Helper()
	return newEnvWrappedInv(t, wrap, nil, opts...)
}

// newEnvWrappedInv is newEnvWrapped with the inventory's store (its
// ingest's writes) wrapped by wrapInv too (nil: not wrapped).
func newEnvWrappedInv(t testing.TB, wrap func(checkin.Store) checkin.Store, wrapInv func(inventory.Store) inventory.Store, opts ...checkin.Option) *env {
	t.Helper()
	e := &env{t: t, now: now, orgA: "org_acme", orgB: "org_beta", cas: map[storage.OrgID]ca{}}
	e.store = memory.New()
	roots := cas{}
	for _, o := range []storage.OrgID{e.orgA, e.orgB} {
		if _, err := e.store.CreateOrg(t.Context(), storage.Org{ID: o, Name: string(o[4:]), DisplayName: string(o)},
			storage.AuditEntry{Org: o, Time: now, Actor: "system", Action: "org.create"}); err != nil {
			t.Fatal(err)
		}
		e.cas[o] = newCA(t, string(o))
		roots[o] = e.cas[o].cert
	}
	var invStore inventory.Store = e.store
	if wrapInv != nil {
		invStore = wrapInv(invStore)
	}
	e.inv = inventory.New(invStore, inventory.WithClock(e.clock), inventory.WithLogger(quiet))
	opts = append([]checkin.Option{
		checkin.WithClock(e.clock), checkin.WithLogger(quiet),
		checkin.WithEvents(func(_ context.Context, ev checkin.Event) { e.events = append(e.events, ev) }),
		checkin.WithWaker(wakeFunc(func(_ context.Context, _ storage.OrgID, ds []string) error {
			e.woken = append(e.woken, ds...)
			return nil
		})),
	}, opts...)
	if stepwise {
		opts = append(opts, checkin.StepwiseReads)
	}
	var st checkin.Store = e.store
	if wrap != nil {
		st = wrap(st)
	}
	e.svc = checkin.New(st, checkin.Inventory{Service: e.inv, Store: e.store}, roots, opts...)
	e.srv = httptest.NewServer(mux(e.svc))
	t.Cleanup(e.srv.Close)
	return e
}

type wakeFunc func(context.Context, storage.OrgID, []string) error

func (f wakeFunc) Wake(ctx context.Context, org storage.OrgID, ds []string) error {
	return f(ctx, org, ds)
}

func (e *env) clock() time.Time {
	e.clockMu.Lock()
	defer e.clockMu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.clockMu.Lock()
	defer e.clockMu.Unlock()
	e.now = e.now.Add(d)
}

// device is a simulated Apple device.
type device struct {
	e       *env
	org     storage.OrgID
	udid    string
	cert    *x509.Certificate
	key     crypto.Signer
	session string
}

// newDevice issues an identity for a new enrollment session of user in org
// and records it, as the SCEP service does.
func (e *env) newDevice(org storage.OrgID, udid, user string) *device {
	e.t.Helper()
	return e.newDeviceWith(org, udid, user, nil)
}

// newDeviceWith is newDevice with the recorded identity changed by edit
// (nil: none).
func (e *env) newDeviceWith(org storage.OrgID, udid, user string, edit func(*enroll.Identity)) *device {
	e.t.Helper()
	cert, key := e.cas[org].issue(e.t, udid)
	session := enroll.NewSessionID()
	id := enroll.Identity{
		Org: org, Fingerprint: enroll.FingerprintOf(cert), Serial: cert.SerialNumber.Text(16),
		Session: session, UserID: user, Issued: now, NotAfter: cert.NotAfter, Purpose: enroll.PurposeMDM,
	}
	if edit != nil {
		edit(&id)
	}
	_, err := e.store.RecordIdentity(e.t.Context(), id, storage.AuditEntry{Org: org, Time: now, Actor: "system", Action: "identity.issue"})
	if err != nil {
		e.t.Fatal(err)
	}
	return &device{e: e, org: org, udid: udid, cert: cert, key: key, session: session}
}

func plistBody(t testing.TB, m map[string]any) []byte {
	t.Helper()
	b, err := plist.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// put sends body to path, signed with the device's identity unless
// unsigned, and returns status and response body.
func (d *device) put(path string, body []byte, signer *device) (int, []byte) {
	d.e.t.Helper()
	req, _ := http.NewRequest(http.MethodPut, d.e.srv.URL+path, bytes.NewReader(body))
	if signer != nil {
		sig, err := cms.SignDetached(body, signer.key, signer.cert, nil)
		if err != nil {
			d.e.t.Fatal(err)
		}
		req.Header.Set("Mdm-Signature", base64.StdEncoding.EncodeToString(sig))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (d *device) checkin(msg map[string]any) (int, []byte) {
	d.e.t.Helper()
	if _, ok := msg["UDID"]; !ok {
		msg["UDID"] = d.udid
	}
	return d.put(fmt.Sprintf("/mdm/%s/checkin", d.org), plistBody(d.e.t, msg), d)
}

func (d *device) authenticate() int {
	d.e.t.Helper()
	st, _ := d.checkin(map[string]any{"MessageType": "Authenticate", "Topic": topic, "ProductName": "iPhone15,2",
		"SerialNumber": "SER-" + d.udid, "IMEI": "35 209900 176148 1"})
	return st
}

func (d *device) tokenUpdate(token string) int {
	d.e.t.Helper()
	st, _ := d.checkin(map[string]any{"MessageType": "TokenUpdate", "Topic": topic, "Token": []byte(token),
		"PushMagic": "magic-" + token, "UnlockToken": []byte("unlock-" + d.udid)})
	return st
}

// enroll runs Authenticate and the first TokenUpdate.
func (d *device) enroll() *device {
	d.e.t.Helper()
	if st := d.authenticate(); st != http.StatusOK {
		d.e.t.Fatalf("Authenticate: %d", st)
	}
	if st := d.tokenUpdate("token-" + d.udid); st != http.StatusOK {
		d.e.t.Fatalf("TokenUpdate: %d", st)
	}
	return d
}

// connect sends a result (or Idle) to the command endpoint and returns the
// next command, decoded, or nil.
func (d *device) connect(status, uuid string, extra map[string]any) (int, map[string]any) {
	d.e.t.Helper()
	msg := map[string]any{"UDID": d.udid, "Status": status}
	if uuid != "" {
		msg["CommandUUID"] = uuid
	}
	for k, v := range extra {
		msg[k] = v
	}
	st, out := d.put(fmt.Sprintf("/mdm/%s/server", d.org), plistBody(d.e.t, msg), d)
	if st != http.StatusOK || len(out) == 0 {
		return st, nil
	}
	var cmd map[string]any
	if err := plist.Unmarshal(out, &cmd); err != nil {
		d.e.t.Fatalf("command: %v", err)
	}
	return st, cmd
}

func requestType(cmd map[string]any) string {
	c, _ := cmd["Command"].(map[string]any)
	s, _ := c["RequestType"].(string)
	return s
}

func commandUUID(cmd map[string]any) string { s, _ := cmd["CommandUUID"].(string); return s }

const topic = "com.apple.mgmt.External.0f2e6a4c-3b1d-4d5e-8f90-1234567890ab"

// inventoryDevice returns the device's inventory record.
func (d *device) record() inventory.Device {
	d.e.t.Helper()
	rec, err := d.e.store.DeviceByIdentifier(d.e.t.Context(), d.org, d.udid)
	if err != nil {
		d.e.t.Fatalf("device %s: %v", d.udid, err)
	}
	return rec
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func signature(t testing.TB, d *device, body []byte) string {
	t.Helper()
	sig, err := cms.SignDetached(body, d.key, d.cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// mux serves svc's endpoints at their usual paths.
func mux(svc *checkin.Service) http.Handler {
	m := http.NewServeMux()
	svc.Mount(m)
	return m
}

// tlsServer serves the handler over TLS, requesting client certificates.
func tlsServer(t *testing.T, e *env) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(mux(e.svc))
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func tlsPut(t *testing.T, srv *httptest.Server, d *device, path string, body []byte) int {
	t.Helper()
	conf := &tls.Config{RootCAs: x509.NewCertPool()}
	conf.RootCAs.AddCert(srv.Certificate())
	if d != nil {
		conf.Certificates = []tls.Certificate{{Certificate: [][]byte{d.cert.Raw}, PrivateKey: d.key}}
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: conf}}
	req, _ := http.NewRequest(http.MethodPut, srv.URL+path, bytes.NewReader(body))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func plistUnmarshal(data []byte, v any) error { return plist.Unmarshal(data, v) }

// storedName is the device name the org's device id has in the inventory
// ("" when none is stored).
func storedName(t *testing.T, e *env, id string) string {
	t.Helper()
	values, err := e.store.DeviceValues(t.Context(), e.orgA, id)
	if err != nil {
		t.Fatal(err)
	}
	name := ""
	for _, v := range values {
		if v.Key == inventory.KeyDeviceName {
			name = v.Value
		}
	}
	return name
}
