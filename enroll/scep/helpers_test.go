package scep_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"sync"
	"testing"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/scep"
	"github.com/openomm/omm/enroll/scep/sceptest"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

type fixture struct {
	store *memory.Store
	svc   *scep.Service
	clock *clock
	org   storage.OrgID
	ca    *x509.Certificate
}

func newFixture(t testing.TB, opts ...scep.Option) *fixture {
	t.Helper()
	f := &fixture{store: memory.New(), clock: &clock{now: t0}}
	f.org = createOrg(t, f.store, "acme")
	svc, err := scep.New(f.store, append([]scep.Option{scep.WithClock(f.clock.Now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	if f.ca, err = svc.CACertificate(t.Context(), f.org); err != nil {
		t.Fatal(err)
	}
	return f
}

func createOrg(t testing.TB, s *memory.Store, name string) storage.OrgID {
	t.Helper()
	o := storage.Org{ID: storage.NewOrgID(), Name: name, DisplayName: name}
	if _, err := s.CreateOrg(t.Context(), o, storage.AuditEntry{Org: o.ID, Time: t0, Actor: "admin:root", Action: "org.create"}); err != nil {
		t.Fatal(err)
	}
	return o.ID
}

// session creates a direct session awaiting its MDM identity and returns
// it with its SCEP challenge.
func (f *fixture) session(t testing.TB, org storage.OrgID, user string) (enroll.Session, string) {
	t.Helper()
	id := enroll.NewSessionID()
	_, hash := enroll.NewChallenge(id)
	se, err := f.store.CreateEnrollSession(t.Context(), enroll.Session{
		Org: org, ID: id, Kind: enroll.KindDirect, UserID: user, Policy: "pol-1",
		Phase: enroll.PhaseCreated, ChallengeHash: hash, Expires: f.clock.Now().Add(time.Minute),
	}, storage.AuditEntry{Org: org, Time: f.clock.Now(), Actor: "user:" + user, Action: "enroll.session.create"})
	if err != nil {
		t.Fatal(err)
	}
	challenge, hash := enroll.NewChallenge(id)
	se.Phase, se.ChallengeHash, se.Expires = enroll.PhaseProfileSent, hash, f.clock.Now().Add(10*time.Minute)
	se, err = f.store.AdvanceEnrollSession(t.Context(), se, nil, storage.AuditEntry{Org: org, Time: f.clock.Now(), Actor: "user:" + user, Action: "enroll.direct.profile"})
	if err != nil {
		t.Fatal(err)
	}
	return se, challenge
}

var (
	keyOnce sync.Once
	keys    []*rsa.PrivateKey
)

// key returns one of a few RSA keys made once per test binary.
func key(t testing.TB, i int) *rsa.PrivateKey {
	t.Helper()
	keyOnce.Do(func() {
		for range 4 {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			keys = append(keys, k)
		}
	})
	return keys[i]
}

func (f *fixture) request(t testing.TB, org storage.OrgID, r sceptest.Request) ([]byte, *sceptest.Pending) {
	t.Helper()
	ca, err := f.svc.CACertificate(t.Context(), org)
	if err != nil {
		t.Fatal(err)
	}
	msg, p, err := r.Build(ca)
	if err != nil {
		t.Fatal(err)
	}
	return msg, p
}

func asn1OID(n int) []int { return []int{2, 16, 840, 1, 113733, 1, 9, n} }
