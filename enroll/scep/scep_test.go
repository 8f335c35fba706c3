package scep_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/scep"
	"github.com/openomm/omm/enroll/scep/sceptest"
	"github.com/openomm/omm/internal/cms"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

func TestIssue(t *testing.T) {
	for _, tc := range []struct{ sha1, des3 bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		t.Run(fmt.Sprintf("sha1=%v,des3=%v", tc.sha1, tc.des3), func(t *testing.T) {
			f := newFixture(t)
			sess, challenge := f.session(t, f.org, "alice")
			msg, p := f.request(t, f.org, sceptest.Request{Key: key(t, 0), Challenge: challenge, SHA1: tc.sha1, DES3: tc.des3,
				Subject: pkix.Name{CommonName: "whatever the device asks"}})
			reply, err := f.svc.PKIOperation(t.Context(), f.org, msg)
			if err != nil {
				t.Fatal(err)
			}
			sd, err := cms.Parse(reply, cms.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if h, _ := sd.Digest(); tc.sha1 && h.String() != "SHA-1" || !tc.sha1 && h.String() != "SHA-256" {
				t.Errorf("CertRep digest %v, want the request's", h)
			}
			cert, err := p.Read(reply, f.ca)
			if err != nil {
				t.Fatal(err)
			}
			if err := cert.CheckSignatureFrom(f.ca); err != nil {
				t.Errorf("issued certificate not from the org CA: %v", err)
			}
			if !cert.PublicKey.(*rsa.PublicKey).Equal(&key(t, 0).PublicKey) {
				t.Error("issued certificate does not certify the requested key")
			}
			if cert.Subject.CommonName != "enrollment "+sess.ID || cert.Subject.OrganizationalUnit[0] != sess.ID || cert.Subject.Organization[0] != string(f.org) {
				t.Errorf("subject %v: want the session, not what the device asked", cert.Subject)
			}
			if len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth || cert.IsCA {
				t.Errorf("usages %v, CA %v", cert.ExtKeyUsage, cert.IsCA)
			}
			if !cert.NotAfter.Equal(t0.Add(scep.DefaultValidity)) {
				t.Errorf("NotAfter %v, want a year from the clock", cert.NotAfter)
			}
			got, err := f.store.EnrollSession(t.Context(), f.org, sess.ID)
			if err != nil {
				t.Fatal(err)
			}
			fp := enroll.FingerprintOf(cert)
			if got.Phase != enroll.PhaseEnrolled || got.Identity != fp || got.ChallengeHash != nil {
				t.Errorf("session after issue: %+v", got)
			}
			id, err := f.store.Identity(t.Context(), f.org, fp)
			if err != nil {
				t.Fatal(err)
			}
			want := enroll.Identity{Org: f.org, Fingerprint: fp, Serial: fmt.Sprintf("%x", cert.SerialNumber), Session: sess.ID,
				UserID: "alice", Policy: "pol-1", Issued: storage.Normalize(t0), NotAfter: storage.Normalize(cert.NotAfter),
				Purpose: enroll.PurposeMDM}
			if d := cmp.Diff(want, id); d != "" {
				t.Errorf("recorded identity (-want +got):\n%s", d)
			}
		})
	}
}

func TestValidityOption(t *testing.T) {
	f := newFixture(t, scep.WithValidity(30*24*time.Hour))
	_, challenge := f.session(t, f.org, "alice")
	msg, p := f.request(t, f.org, sceptest.Request{Key: key(t, 0), Challenge: challenge})
	reply, err := f.svc.PKIOperation(t.Context(), f.org, msg)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := p.Read(reply, f.ca)
	if err != nil {
		t.Fatal(err)
	}
	if !cert.NotAfter.Equal(t0.Add(30 * 24 * time.Hour)) {
		t.Errorf("NotAfter %v", cert.NotAfter)
	}
}

// snapshot is what a refused request must leave alone.
type snapshot struct {
	Session enroll.Session
	Audit   int
}

func (f *fixture) snap(t testing.TB, sess enroll.Session) snapshot {
	t.Helper()
	s, err := f.store.EnrollSession(t.Context(), sess.Org, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	page, err := f.store.ListAudit(t.Context(), sess.Org, storage.AuditQuery{Limit: storage.MaxAuditPage})
	if err != nil {
		t.Fatal(err)
	}
	return snapshot{s, len(page.Entries)}
}

func TestRejections(t *testing.T) {
	for _, tc := range []struct {
		name string
		// build returns the message to send for a session awaiting
		// challenge, possibly after changing the fixture.
		build    func(t *testing.T, f *fixture, sess enroll.Session, challenge string) []byte
		want     error
		failInfo string // empty: no CertRep at all
	}{
		{"wrong challenge", func(t *testing.T, f *fixture, sess enroll.Session, _ string) []byte {
			other, _ := enroll.NewChallenge(sess.ID)
			msg, _ := f.request(t, f.org, sceptest.Request{Key: key(t, 0), Challenge: other})
			return msg
		}, enroll.ErrChallenge, "2"},
		{"no challenge", func(t *testing.T, f *fixture, _ enroll.Session, _ string) []byte {
			msg, _ := f.request(t, f.org, sceptest.Request{Key: key(t, 0)})
			return msg
		}, enroll.ErrChallenge, "2"},
		{"expired challenge", func(t *testing.T, f *fixture, _ enroll.Session, challenge string) []byte {
			f.clock.Set(t0.Add(10 * time.Minute))
			msg, _ := f.request(t, f.org, sceptest.Request{Key: key(t, 0), Challenge: challenge})
			return msg
		}, enroll.ErrChallenge, "2"},
		{"reused challenge", func(t *testing.T, f *fixture, _ enroll.Session, challenge string) []byte {
			msg, _ := f.request(t, f.org, sceptest.Request{Key: key(t, 0), Challenge: challenge})
			if _, err := f.svc.PKIOperation(t.Context(), f.org, msg); err != nil {
				t.Fatal(err)
			}
			again, _ := f.request(t, f.org, sceptest.Request{Key: key(t, 1), Challenge: challenge})
			return again
		}, enroll.ErrChallenge, "2"},
		{"challenge of another user's finished session", func(t *testing.T, f *fixture, _ enroll.Session, _ string) []byte {
			_, theirs := f.session(t, f.org, "mallory")
			// Mallory's challenge is fine for Mallory's session only; it
			// is used here, then replayed for Alice's request below.
			msg, _ := f.request(t, f.org, sceptest.Request{Key: key(t, 0), Challenge: theirs})
			if _, err := f.svc.PKIOperation(t.Context(), f.org, msg); err != nil {
				t.Fatal(err)
			}
			msg, _ = f.request(t, f.org, sceptest.Request{Key: key(t, 1), Challenge: theirs})
			return msg
		}, enroll.ErrChallenge, "2"},
		{"challenge of another org", func(t *testing.T, f *fixture, _ enroll.Session, _ string) []byte {
			other := createOrg(t, f.store, "bolt")
			_, theirs := f.session(t, other, "bob")
			msg, _ := f.request(t, f.org, sceptest.Request{Key: key(t, 0), Challenge: theirs})
			return msg
		}, enroll.ErrChallenge, "2"},
		{"signer does not hold the key", func(t *testing.T, f *fixture, _ enroll.Session, challenge string) []byte {
			// Sign with a certificate for key 1 while asking for key 0.
			donor, _ := f.request(t, f.org, sceptest.Request{Key: key(t, 1), Challenge: "x"})
			sd, err := cms.Parse(donor, cms.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			other, _ := sd.Signer()
			msg, _ := f.request(t, f.org, sceptest.Request{Key: key(t, 0), Challenge: challenge, Signer: other, SignerKey: key(t, 1)})
			return msg
		}, scep.ErrSignature, "1"},
		{"small key", func(t *testing.T, f *fixture, _ enroll.Session, challenge string) []byte {
			small, err := rsa.GenerateKey(rand.Reader, 1024)
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := f.request(t, f.org, sceptest.Request{Key: small, Challenge: challenge})
			return msg
		}, scep.ErrUnsupported, "0"},
		{"unsupported message type", func(t *testing.T, f *fixture, _ enroll.Session, challenge string) []byte {
			msg, _ := f.request(t, f.org, sceptest.Request{Key: key(t, 0), Challenge: challenge, MessageType: "20"})
			return msg
		}, scep.ErrUnsupported, "2"},
		{"not CMS", func(t *testing.T, f *fixture, _ enroll.Session, _ string) []byte {
			return []byte("hello")
		}, scep.ErrMessage, ""},
		{"deeply nested", func(t *testing.T, f *fixture, _ enroll.Session, _ string) []byte {
			return []byte(strings.Repeat("\x30\x80", 200) + strings.Repeat("\x00\x00", 200))
		}, cms.ErrTooDeep, ""},
		{"truncated", func(t *testing.T, f *fixture, _ enroll.Session, challenge string) []byte {
			msg, _ := f.request(t, f.org, sceptest.Request{Key: key(t, 0), Challenge: challenge})
			return msg[:len(msg)/2]
		}, scep.ErrMessage, ""},
		{"enveloped to another CA", func(t *testing.T, f *fixture, _ enroll.Session, challenge string) []byte {
			other := createOrg(t, f.store, "bolt")
			msg, _ := f.request(t, other, sceptest.Request{Key: key(t, 0), Challenge: challenge})
			return msg
		}, scep.ErrMessage, "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			sess, challenge := f.session(t, f.org, "alice")
			msg := tc.build(t, f, sess, challenge)
			before := f.snap(t, sess)
			reply, err := f.svc.PKIOperation(t.Context(), f.org, msg)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if tc.failInfo == "" {
				if reply != nil {
					t.Error("a CertRep for a message that cannot be answered")
				}
			} else {
				if reply == nil {
					t.Fatal("no failure CertRep")
				}
				var mt, status, info string
				sd, perr := cms.Parse(reply, cms.Limits{})
				if perr != nil {
					t.Fatal(perr)
				}
				if _, verr := sd.VerifyDetached(nil, cms.VerifyOptions{Signer: f.ca}); verr != nil {
					t.Errorf("failure CertRep not signed by the CA: %v", verr)
				}
				_ = sd.SignedAttribute(asn1OID(2), &mt)
				_ = sd.SignedAttribute(asn1OID(3), &status)
				_ = sd.SignedAttribute(asn1OID(4), &info)
				if mt != "3" || status != "2" || info != tc.failInfo {
					t.Errorf("CertRep type %q status %q failInfo %q, want 3/2/%s", mt, status, info, tc.failInfo)
				}
			}
			if d := cmp.Diff(before, f.snap(t, sess)); d != "" {
				t.Errorf("refused request changed the store (-before +after):\n%s", d)
			}
		})
	}
}

func TestRenewal(t *testing.T) {
	f := newFixture(t, scep.WithValidity(90*24*time.Hour), scep.WithRenewalWindow(30*24*time.Hour))
	sess, challenge := f.session(t, f.org, "alice")
	msg, p := f.request(t, f.org, sceptest.Request{Key: key(t, 0), Challenge: challenge})
	reply, err := f.svc.PKIOperation(t.Context(), f.org, msg)
	if err != nil {
		t.Fatal(err)
	}
	old, err := p.Read(reply, f.ca)
	if err != nil {
		t.Fatal(err)
	}
	renew := func() (*x509.Certificate, error) {
		msg, p := f.request(t, f.org, sceptest.Request{Key: key(t, 1), Signer: old, SignerKey: key(t, 0), MessageType: "17"})
		reply, err := f.svc.PKIOperation(t.Context(), f.org, msg)
		if err != nil {
			return nil, err
		}
		return p.Read(reply, f.ca)
	}
	if _, err := renew(); !errors.Is(err, scep.ErrRenewal) {
		t.Errorf("renewal long before expiry: %v, want ErrRenewal", err)
	}
	f.clock.Set(t0.Add(70 * 24 * time.Hour))
	cert, err := renew()
	if err != nil {
		t.Fatal(err)
	}
	id, err := f.store.Identity(t.Context(), f.org, enroll.FingerprintOf(cert))
	if err != nil {
		t.Fatal(err)
	}
	if id.Renews != enroll.FingerprintOf(old) || id.Session != sess.ID || id.UserID != "alice" || cert.Subject.CommonName != old.Subject.CommonName {
		t.Errorf("renewed identity %+v, subject %v", id, cert.Subject)
	}
	f.clock.Set(t0.Add(91 * 24 * time.Hour))
	if _, err := renew(); !errors.Is(err, scep.ErrRenewal) {
		t.Errorf("renewal after expiry: %v, want ErrRenewal", err)
	}
}

func TestCAPerOrg(t *testing.T) {
	f := newFixture(t)
	again, err := f.svc.CACertificate(t.Context(), f.org)
	if err != nil || !again.Equal(f.ca) {
		t.Fatalf("second CACertificate: %v", err)
	}
	// A second service over the same store finds the same CA.
	svc2, err := scep.New(f.store)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := svc2.CACertificate(t.Context(), f.org); err != nil || !c.Equal(f.ca) {
		t.Errorf("CA not kept in the store: %v", err)
	}
	other := createOrg(t, f.store, "bolt")
	c2, err := f.svc.CACertificate(t.Context(), other)
	if err != nil || c2.Equal(f.ca) {
		t.Errorf("org B shares org A's CA (%v)", err)
	}
	if !f.ca.IsCA || f.ca.PublicKeyAlgorithm != x509.RSA {
		t.Errorf("CA certificate: CA %v, key %v", f.ca.IsCA, f.ca.PublicKeyAlgorithm)
	}
	if _, err := f.svc.CACertificate(t.Context(), storage.NewOrgID()); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("CA of an unknown org: %v, want ErrNotFound", err)
	}
}

// createCounter counts the CAs a store was asked to create.
type createCounter struct {
	*memory.Store
	creates atomic.Int64
}

func (c *createCounter) CreateSCEPCA(ctx context.Context, ca scep.StoredCA, e storage.AuditEntry) (scep.StoredCA, error) {
	c.creates.Add(1)
	return c.Store.CreateSCEPCA(ctx, ca, e)
}

// TestNoCAForUnknownOrgs: device-facing URLs name their org
// unauthenticated, so a made-up org must not cost a key generation (tens
// of milliseconds, under the lock first uses wait on): it is refused before
// any key is made.
func TestNoCAForUnknownOrgs(t *testing.T) {
	st := &createCounter{Store: memory.New()}
	cas := scep.NewGeneratedCAs(st, nil)
	for range 3 {
		if _, err := cas.CA(t.Context(), storage.NewOrgID()); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("CA of an unknown org: %v, want ErrNotFound", err)
		}
	}
	if n := st.creates.Load(); n != 0 {
		t.Errorf("%d CAs generated for orgs that do not exist", n)
	}
	org := createOrg(t, st.Store, "acme")
	if _, err := cas.CA(t.Context(), org); err != nil || st.creates.Load() != 1 {
		t.Errorf("CA of an existing org: %v (%d created)", err, st.creates.Load())
	}
}
