package ota_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"log/slog"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/ota"
	"github.com/openomm/omm/enroll/ota/otatest"
	"github.com/openomm/omm/enroll/scep"
	"github.com/openomm/omm/enroll/scep/sceptest"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/profile"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// quiet drops the services' logs, which would interleave with benchmark
// output.
var quiet = slog.New(slog.DiscardHandler)

const (
	publicURL = "https://mdm.example.com"
	topic     = "com.apple.mgmt.External.2f1b0c4e-6a4f-4e34-9c7a-000000000001"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

var (
	chainOnce sync.Once
	testChain *otatest.Chain
	rsaOnce   sync.Once
	rsaKeys   []*rsa.PrivateKey
)

// appleChain is the stand-in Apple chain, made once per test binary.
func appleChain(t testing.TB) *otatest.Chain {
	t.Helper()
	chainOnce.Do(func() {
		c, err := otatest.NewChain()
		if err != nil {
			panic(err)
		}
		testChain = c
	})
	return testChain
}

// deviceKey returns one of a few RSA-2048 keys for SCEP identities.
func deviceKey(t testing.TB, i int) *rsa.PrivateKey {
	t.Helper()
	rsaOnce.Do(func() {
		for range 4 {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaKeys = append(rsaKeys, k)
		}
	})
	return rsaKeys[i]
}

type fixture struct {
	store *memory.Store
	clock *clock
	cas   *scep.GeneratedCAs
	scep  *scep.Service
	ota   *ota.Service
	org   storage.OrgID
	ca    *x509.Certificate
}

func newFixture(t testing.TB, opts ...ota.Option) *fixture {
	t.Helper()
	f := &fixture{store: memory.New(), clock: &clock{now: t0}}
	f.org = createOrg(t, f.store, "acme", "Acme Corp")
	f.cas = scep.NewGeneratedCAs(f.store, f.clock.Now)
	var err error
	if f.scep, err = scep.New(f.store, scep.WithAuthorities(f.cas), scep.WithClock(f.clock.Now), scep.WithLogger(quiet)); err != nil {
		t.Fatal(err)
	}
	chain, err := ota.NewAppleChain(appleChain(t).PEM)
	if err != nil {
		t.Fatal(err)
	}
	all := append([]ota.Option{ota.WithClock(f.clock.Now), ota.WithAppleChain(chain), ota.WithLogger(quiet)}, opts...)
	if f.ota, err = ota.New(f.store, f.cas, ota.Config{PublicURL: publicURL, Topic: topic}, all...); err != nil {
		t.Fatal(err)
	}
	if f.ca, err = f.scep.CACertificate(t.Context(), f.org); err != nil {
		t.Fatal(err)
	}
	return f
}

func createOrg(t testing.TB, s *memory.Store, name, display string) storage.OrgID {
	t.Helper()
	o := storage.Org{ID: storage.NewOrgID(), Name: name, DisplayName: display}
	if _, err := s.CreateOrg(t.Context(), o, storage.AuditEntry{Org: o.ID, Time: t0, Actor: "admin:root", Action: "org.create"}); err != nil {
		t.Fatal(err)
	}
	return o.ID
}

func decision(allowWipe bool) policy.Decision {
	return policy.Decision{Outcome: policy.Enroll, Policy: "pol-ios", PolicyName: "Phones", Platform: policy.IOS,
		Requirements: policy.Requirements{
			Passcode:       policy.Passcode{Required: true, MinLength: 6, MaxFailedAttempts: 10},
			DataSeparation: policy.DataSeparation{BlockManagedToUnmanaged: true, BlockUnmanagedToManaged: true},
			AllowFullWipe:  allowWipe,
		}}
}

// attrs is what a test device reports besides UDID and CHALLENGE; IMEI is
// asked for by nobody and must be dropped.
var attrs = map[string]string{
	"SERIAL": "F2LXK0ABCDEF", "PRODUCT": "iPhone15,2", "VERSION": "21A329",
	"DEVICE_NAME": "Alice's iPhone", "IMEI": "35 123456 789012 3",
}

// verified checks a signed profile from the org CA and returns its content.
func (f *fixture) verified(t testing.TB, signed []byte) []byte {
	t.Helper()
	content, _, err := profile.Verify(signed, profile.VerifyOptions{Signer: f.ca})
	if err != nil {
		t.Fatalf("profile not signed by the org CA: %v", err)
	}
	return content
}

// phase1 fetches the Profile Service document and returns it with the
// session its URL names.
func (f *fixture) phase1(t testing.TB, user string) (*profile.Service, string) {
	t.Helper()
	ticket, err := f.ota.Begin(t.Context(), f.org, user, decision(false), enroll.KindOTA)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := f.ota.ServiceProfile(t.Context(), f.org, ticket.Token)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := profile.DecodeService(f.verified(t, signed))
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(svc.URL)
	if err != nil {
		t.Fatal(err)
	}
	return svc, u.Query().Get("session")
}

// scepPayload returns the profile's SCEP payload.
func scepPayload(t testing.TB, p *profile.Profile) *profile.SCEP {
	t.Helper()
	for _, pl := range p.Payloads {
		if s, ok := pl.(*profile.SCEP); ok {
			return s
		}
	}
	t.Fatalf("no SCEP payload in %s", p.Identifier)
	return nil
}

// scepRequest builds a device's SCEP request for challenge.
func scepRequest(t testing.TB, f *fixture, challenge string, key *rsa.PrivateKey) ([]byte, *sceptest.Pending) {
	t.Helper()
	msg, pending, err := sceptest.Request{Key: key, Challenge: challenge}.Build(f.ca)
	if err != nil {
		t.Fatal(err)
	}
	return msg, pending
}

// getCert runs SCEP for the payload's challenge with key.
func (f *fixture) getCert(t testing.TB, challenge string, key *rsa.PrivateKey) *x509.Certificate {
	t.Helper()
	msg, pending := scepRequest(t, f, challenge, key)
	reply, err := f.scep.PKIOperation(t.Context(), f.org, msg)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pending.Read(reply, f.ca)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// toIdentity plays phases 1 and 2 and SCEP, leaving the session awaiting
// phase 3; it returns the session and the OTA identity.
func (f *fixture) toIdentity(t testing.TB, dev *otatest.Device, user string, key *rsa.PrivateKey) (string, *x509.Certificate) {
	t.Helper()
	svc, session := f.phase1(t, user)
	body, err := dev.Phase2(svc.Challenge, attrs)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := f.ota.Post(t.Context(), f.org, session, body)
	if err != nil {
		t.Fatal(err)
	}
	p, err := profile.Decode(f.verified(t, resp))
	if err != nil {
		t.Fatal(err)
	}
	return session, f.getCert(t, scepPayload(t, p).Challenge, key)
}

func newDevice(t testing.TB, udid string) *otatest.Device {
	t.Helper()
	d, err := appleChain(t).NewDevice(udid)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// phase3Body is the phase 3 post: the attributes signed by identity.
func phase3Body(t testing.TB, dev *otatest.Device, cert *x509.Certificate, key *rsa.PrivateKey) []byte {
	t.Helper()
	body, err := otatest.SignBER(dev.Attributes("", attrs), key, cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	return body
}
