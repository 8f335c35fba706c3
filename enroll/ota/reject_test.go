package ota_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/ota"
	"github.com/openomm/omm/enroll/ota/otatest"
	"github.com/openomm/omm/internal/cms"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// state is what a refused request must leave unchanged.
type state struct {
	Session enroll.Session
	Audit   []storage.AuditEntry
}

func (f *fixture) state(t testing.TB, session string) state {
	t.Helper()
	s, err := f.store.EnrollSession(t.Context(), f.org, session)
	if err != nil {
		t.Fatal(err)
	}
	page, err := f.store.ListAudit(t.Context(), f.org, storage.AuditQuery{Limit: storage.MaxAuditPage})
	if err != nil {
		t.Fatal(err)
	}
	return state{s, page.Entries}
}

// selfIssued returns a certificate and key that no trusted CA issued.
func selfIssued(t testing.TB, name string) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	key := deviceKey(t, 3)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(77), Subject: pkix.Name{CommonName: name},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

func TestPhase2Rejections(t *testing.T) {
	for _, tc := range []struct {
		name string
		// body builds the phase 2 post for the session (whose phase 1
		// challenge is challenge); it may change the fixture first.
		body func(t *testing.T, f *fixture, dev *otatest.Device, challenge string) []byte
		// org and session, when set, replace where it is posted.
		org  func(t *testing.T, f *fixture) storage.OrgID
		want error
	}{
		{name: "wrong challenge", body: func(t *testing.T, f *fixture, dev *otatest.Device, challenge string) []byte {
			id, _ := enroll.ChallengeSession(challenge)
			other, _ := enroll.NewChallenge(id)
			b, _ := dev.Phase2(other, attrs)
			return b
		}, want: enroll.ErrChallenge},
		{name: "no challenge", body: func(t *testing.T, f *fixture, dev *otatest.Device, _ string) []byte {
			b, _ := dev.Phase2("", attrs)
			return b
		}, want: enroll.ErrChallenge},
		{name: "expired challenge", body: func(t *testing.T, f *fixture, dev *otatest.Device, challenge string) []byte {
			f.clock.Add(ota.DefaultChallengeTTL)
			b, _ := dev.Phase2(challenge, attrs)
			return b
		}, want: enroll.ErrChallenge},
		{name: "challenge of another user", body: func(t *testing.T, f *fixture, dev *otatest.Device, _ string) []byte {
			theirs, _ := f.phase1(t, "mallory")
			b, _ := dev.Phase2(theirs.Challenge, attrs)
			return b
		}, want: enroll.ErrChallenge},
		{name: "challenge of another org", org: func(t *testing.T, f *fixture) storage.OrgID { return createOrg(t, f.store, "bolt", "Bolt") },
			body: func(t *testing.T, f *fixture, dev *otatest.Device, challenge string) []byte {
				b, _ := dev.Phase2(challenge, attrs)
				return b
			}, want: enroll.ErrChallenge},
		{name: "signer not in the Apple chain", body: func(t *testing.T, f *fixture, dev *otatest.Device, challenge string) []byte {
			cert, key := selfIssued(t, dev.UDID)
			b, err := otatest.SignBER(dev.Attributes(challenge, attrs), key, cert, dev.Chain)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}, want: ota.ErrSignature},
		{name: "signer from another Apple-like chain", body: func(t *testing.T, f *fixture, dev *otatest.Device, challenge string) []byte {
			other, err := otatest.NewChain()
			if err != nil {
				t.Fatal(err)
			}
			d2, err := other.NewDevice(dev.UDID)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := d2.Phase2(challenge, attrs)
			return b
		}, want: ota.ErrSignature},
		{name: "signature over different content", body: func(t *testing.T, f *fixture, dev *otatest.Device, challenge string) []byte {
			content := dev.Attributes(challenge, attrs)
			der, err := cms.SignAttached(content, dev.Key, dev.Cert, dev.Chain)
			if err != nil {
				t.Fatal(err)
			}
			i := bytes.Index(der, []byte("Alice's iPhone"))
			der[i] = 'M' // "Mlice's iPhone": same length, other content
			b, _ := otatest.ToBER(der)
			return b
		}, want: ota.ErrSignature},
		{name: "first certificate not the signer", body: func(t *testing.T, f *fixture, dev *otatest.Device, challenge string) []byte {
			// Signed by an untrusted key, with the genuine device
			// certificate placed first in the bundle.
			cert, key := selfIssued(t, dev.UDID)
			der, err := cms.SignAttached(dev.Attributes(challenge, attrs), key, cert, []*x509.Certificate{dev.Cert})
			if err != nil {
				t.Fatal(err)
			}
			pair := append(append([]byte{}, cert.Raw...), dev.Cert.Raw...)
			i := bytes.Index(der, pair)
			if i < 0 {
				t.Fatal("certificates not adjacent")
			}
			copy(der[i:], append(append([]byte{}, dev.Cert.Raw...), cert.Raw...))
			b, _ := otatest.ToBER(der)
			return b
		}, want: ota.ErrSignature},
		{name: "device certificate expired", body: func(t *testing.T, f *fixture, dev *otatest.Device, challenge string) []byte {
			// Issued by the right CA, for the right device, but its own
			// validity ended a year before the post (t0).
			old, err := appleChain(t).NewDeviceValid(dev.UDID, t0.AddDate(-11, 0, 0), t0.AddDate(-1, 0, 0))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := old.Phase2(challenge, attrs)
			return b
		}, want: ota.ErrDeviceCertificateValidity},
		{name: "device certificate not yet valid", body: func(t *testing.T, f *fixture, dev *otatest.Device, challenge string) []byte {
			early, err := appleChain(t).NewDeviceValid(dev.UDID, t0.Add(time.Hour), t0.AddDate(10, 0, 0))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := early.Phase2(challenge, attrs)
			return b
		}, want: ota.ErrDeviceCertificateValidity},
		{name: "truncated BER", body: func(t *testing.T, f *fixture, dev *otatest.Device, challenge string) []byte {
			b, _ := dev.Phase2(challenge, attrs)
			return b[:len(b)-40]
		}, want: ota.ErrBody},
		{name: "deeply nested BER", body: func(t *testing.T, f *fixture, dev *otatest.Device, _ string) []byte {
			return []byte(strings.Repeat("\x30\x80", 5000) + strings.Repeat("\x00\x00", 5000))
		}, want: cms.ErrTooDeep},
		{name: "oversized body", body: func(t *testing.T, f *fixture, dev *otatest.Device, _ string) []byte {
			return make([]byte, ota.MaxBodySize+1)
		}, want: cms.ErrTooLarge},
		{name: "no UDID", body: func(t *testing.T, f *fixture, dev *otatest.Device, challenge string) []byte {
			d := *dev
			d.UDID = ""
			b, _ := d.Phase2(challenge, attrs)
			return b
		}, want: ota.ErrBody},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			dev := newDevice(t, "00008110-000A1D2E3F40801E")
			svc, session := f.phase1(t, "alice")
			org := f.org
			if tc.org != nil {
				org = tc.org(t, f)
			}
			body := tc.body(t, f, dev, svc.Challenge)
			before := f.state(t, session)
			_, err := f.ota.Post(t.Context(), org, session, body)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if d := cmp.Diff(before, f.state(t, session)); d != "" {
				t.Errorf("refused post changed the store (-before +after):\n%s", d)
			}
			// The genuine post still works afterwards, unless the
			// challenge expired.
			if tc.name != "expired challenge" {
				good, _ := dev.Phase2(svc.Challenge, attrs)
				if _, err := f.ota.Post(t.Context(), f.org, session, good); err != nil {
					t.Errorf("genuine post after a refused one: %v", err)
				}
			}
		})
	}
}

func TestReplays(t *testing.T) {
	f := newFixture(t)
	dev := newDevice(t, "00008110-000A1D2E3F40801E")
	ticket, err := f.ota.Begin(t.Context(), f.org, "alice", decision(false), enroll.KindOTA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ota.ServiceProfile(t.Context(), f.org, ticket.Token); err != nil {
		t.Fatal(err)
	}
	before := f.state(t, ticket.Session)
	if _, err := f.ota.ServiceProfile(t.Context(), f.org, ticket.Token); !errors.Is(err, enroll.ErrChallenge) {
		t.Errorf("token used twice: %v, want ErrChallenge", err)
	}
	if _, err := f.ota.DirectProfile(t.Context(), f.org, ticket.Token); !errors.Is(err, enroll.ErrChallenge) {
		t.Errorf("OTA token for the direct profile: %v, want ErrChallenge", err)
	}
	if d := cmp.Diff(before, f.state(t, ticket.Session)); d != "" {
		t.Errorf("replayed token changed the store:\n%s", d)
	}

	svc, session := f.phase1(t, "alice")
	body, _ := dev.Phase2(svc.Challenge, attrs)
	if _, err := f.ota.Post(t.Context(), f.org, session, body); err != nil {
		t.Fatal(err)
	}
	before = f.state(t, session)
	if _, err := f.ota.Post(t.Context(), f.org, session, body); !errors.Is(err, enroll.ErrPhase) {
		t.Errorf("phase 2 replayed: %v, want ErrPhase", err)
	}
	if d := cmp.Diff(before, f.state(t, session)); d != "" {
		t.Errorf("replayed phase 2 changed the store:\n%s", d)
	}

	// Not eligible: no session at all.
	d := decision(false)
	d.Outcome = policy.NotRequired
	if _, err := f.ota.Begin(t.Context(), f.org, "alice", d, enroll.KindOTA); !errors.Is(err, ota.ErrNotEligible) {
		t.Errorf("Begin for NotRequired: %v, want ErrNotEligible", err)
	}
}

func TestPhase3Rejections(t *testing.T) {
	for _, tc := range []struct {
		name string
		body func(t *testing.T, f *fixture, dev *otatest.Device, own *x509.Certificate) []byte
		want error
	}{
		{"signed by another session's certificate", func(t *testing.T, f *fixture, dev *otatest.Device, _ *x509.Certificate) []byte {
			_, theirs := f.toIdentity(t, newDevice(t, "00008110-BBBB"), "bob", deviceKey(t, 1))
			return phase3Body(t, dev, theirs, deviceKey(t, 1))
		}, ota.ErrSignature},
		{"signed by the Apple device identity", func(t *testing.T, f *fixture, dev *otatest.Device, _ *x509.Certificate) []byte {
			b, _ := dev.Phase2("", attrs)
			return b
		}, ota.ErrSignature},
		{"signed by a look-alike of our certificate", func(t *testing.T, f *fixture, dev *otatest.Device, own *x509.Certificate) []byte {
			cert, key := selfIssued(t, own.Subject.CommonName)
			return phase3Body(t, dev, cert, key)
		}, ota.ErrSignature},
		{"another device's attributes", func(t *testing.T, f *fixture, dev *otatest.Device, own *x509.Certificate) []byte {
			other := *dev
			other.UDID = "00008110-CCCC"
			return phase3Body(t, &other, own, deviceKey(t, 0))
		}, ota.ErrSignature},
		{"too late", func(t *testing.T, f *fixture, dev *otatest.Device, own *x509.Certificate) []byte {
			f.clock.Add(time.Hour)
			return phase3Body(t, dev, own, deviceKey(t, 0))
		}, ota.ErrSession},
		{"deeply nested", func(t *testing.T, f *fixture, dev *otatest.Device, _ *x509.Certificate) []byte {
			return []byte(strings.Repeat("\x30\x80", 100) + strings.Repeat("\x00\x00", 100))
		}, cms.ErrTooDeep},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			dev := newDevice(t, "00008110-000A1D2E3F40801E")
			session, own := f.toIdentity(t, dev, "alice", deviceKey(t, 0))
			body := tc.body(t, f, dev, own)
			before := f.state(t, session)
			if _, err := f.ota.Post(t.Context(), f.org, session, body); !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if d := cmp.Diff(before, f.state(t, session)); d != "" {
				t.Errorf("refused phase 3 changed the store:\n%s", d)
			}
		})
	}
}
