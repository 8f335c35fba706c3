package storagetest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/scep"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// otaStore is what the OTA profile service and the SCEP CA store.
type otaStore interface {
	enroll.SessionStore
	enroll.IdentityStore
	enroll.BindingStore
	scep.CAStore
}

func enrollOTACases() []testCase {
	return []testCase{
		{"EnrollSession/CreateAndRead", testSessionCreateAndRead},
		{"EnrollSession/Duplicate", testSessionDuplicate},
		{"EnrollSession/Invalid", testSessionInvalid},
		{"EnrollSession/Advance", testSessionAdvance},
		{"EnrollSession/AdvanceRejected", testSessionAdvanceRejected},
		{"EnrollSession/IssueAtomic", testSessionIssueAtomic},
		{"EnrollSession/ConcurrentAdvance", testSessionConcurrentAdvance},
		{"EnrollSession/TenantIsolation", testSessionTenantIsolation},
		{"Identity/RecordAndBind", testIdentityRecordAndBind},
		{"Identity/Invalid", testIdentityInvalid},
		{"Identity/TenantIsolation", testIdentityTenantIsolation},
		{"Identity/ConcurrentBind", testIdentityConcurrentBind},
		{"Identity/Binding", testIdentityBinding},
		{"SCEPCA/CreateOnce", testSCEPCACreateOnce},
		{"SCEPCA/Reseal", testSCEPCAReseal},
	}
}

func sessionID(n int) string { return fmt.Sprintf("%032x", n) }

func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func newSession(org storage.OrgID, n int, kind enroll.SessionKind) enroll.Session {
	return enroll.Session{
		Org: org, ID: sessionID(n), Kind: kind, UserID: "user-1", Policy: policy.ID("pol-1"),
		Requirements: policy.Requirements{
			Passcode:       policy.Passcode{Required: true, MinLength: 6, MaxFailedAttempts: 10},
			Encryption:     true,
			DataSeparation: policy.DataSeparation{BlockManagedToUnmanaged: true},
			AllowFullWipe:  true,
		},
		Platform: policy.IOS, Phase: enroll.PhaseCreated, ChallengeHash: hashOf("token"), Expires: at(10),
	}
}

func mustCreateSession(t testing.TB, s Store, se enroll.Session) enroll.Session {
	t.Helper()
	got, err := s.CreateEnrollSession(t.Context(), se, entryFor(se.Org, "enroll.session.create", at(1)))
	noErr(t, "CreateEnrollSession", err)
	return got
}

func fingerprint(n int) enroll.Fingerprint {
	return enroll.Fingerprint(fmt.Sprintf("%064x", n))
}

func newIdentity(org storage.OrgID, n int) enroll.Identity {
	return enroll.Identity{
		Org: org, Fingerprint: fingerprint(n), Serial: fmt.Sprintf("%x", 1000+n), Session: sessionID(n),
		Purpose: enroll.PurposeMDM, AttestedUDID: fmt.Sprintf("UDID-%d", n), Platform: policy.IOS,
		UserID: "user-1", Policy: "pol-1", Issued: at(2), NotAfter: at(60 * 24 * 365),
	}
}

func testSessionCreateAndRead(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	se := newSession(o.ID, 1, enroll.KindOTA)
	got := mustCreateSession(t, s, se)
	want := se
	want.Version, want.Created, want.Updated = 1, storage.Normalize(at(1)), storage.Normalize(at(1))
	want.Expires = storage.Normalize(se.Expires)
	same(t, "created session", got, want)
	read, err := s.EnrollSession(t.Context(), o.ID, se.ID)
	noErr(t, "EnrollSession", err)
	same(t, "read session", read, want)
	if n := len(allAudit(t, s, o.ID)); n != 2 {
		t.Errorf("%d audit entries after creating the org and a session, want 2", n)
	}
	_, err = s.EnrollSession(t.Context(), o.ID, sessionID(2))
	wantErr(t, "EnrollSession(unknown)", err, storage.ErrNotFound)
}

func testSessionDuplicate(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	mustCreateSession(t, s, newSession(o.ID, 1, enroll.KindOTA))
	before := takeSnapshot(t, s)
	_, err := s.CreateEnrollSession(t.Context(), newSession(o.ID, 1, enroll.KindDirect), entryFor(o.ID, "enroll.session.create", at(2)))
	wantErr(t, "duplicate session", err, storage.ErrAlreadyExists)
	unchanged(t, "duplicate session", s, before)
	got, err := s.EnrollSession(t.Context(), o.ID, sessionID(1))
	noErr(t, "EnrollSession", err)
	if got.Kind != enroll.KindOTA {
		t.Errorf("duplicate overwrote the session: kind %q", got.Kind)
	}
}

func testSessionInvalid(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	before := takeSnapshot(t, s)
	for name, mutate := range map[string]func(*enroll.Session){
		"bad id":       func(se *enroll.Session) { se.ID = "not-hex" },
		"bad kind":     func(se *enroll.Session) { se.Kind = "usb" },
		"no user":      func(se *enroll.Session) { se.UserID = "" },
		"long user":    func(se *enroll.Session) { se.UserID = strings.Repeat("u", enroll.MaxUserID+1) },
		"bad phase":    func(se *enroll.Session) { se.Phase = "done" },
		"short hash":   func(se *enroll.Session) { se.ChallengeHash = []byte{1, 2} },
		"no expiry":    func(se *enroll.Session) { se.Expires = time.Time{} },
		"bad policy":   func(se *enroll.Session) { se.Policy = "" },
		"bad identity": func(se *enroll.Session) { se.Identity = "xyz" },
		"long attribute": func(se *enroll.Session) {
			se.Attributes = map[string]string{"k": strings.Repeat("v", enroll.MaxAttributeValue+1)}
		},
	} {
		se := newSession(o.ID, 1, enroll.KindOTA)
		mutate(&se)
		_, err := s.CreateEnrollSession(t.Context(), se, entryFor(o.ID, "enroll.session.create", at(1)))
		wantErr(t, name, err, storage.ErrInvalid)
	}
	// An entry of another org, and an unknown org.
	other := newOrg("other")
	_, err := s.CreateEnrollSession(t.Context(), newSession(o.ID, 1, enroll.KindOTA), entryFor(other.ID, "enroll.session.create", at(1)))
	wantErr(t, "entry of another org", err, storage.ErrInvalid)
	_, err = s.CreateEnrollSession(t.Context(), newSession(other.ID, 1, enroll.KindOTA), entryFor(other.ID, "enroll.session.create", at(1)))
	wantErr(t, "unknown org", err, storage.ErrNotFound)
	unchanged(t, "invalid sessions", s, before)
}

func advance(t testing.TB, s Store, se enroll.Session, to enroll.Phase, issued *enroll.Identity) enroll.Session {
	t.Helper()
	se.Phase = to
	got, err := s.AdvanceEnrollSession(t.Context(), se, issued, entryFor(se.Org, "enroll.session.advance", at(3)))
	noErr(t, fmt.Sprintf("AdvanceEnrollSession(%s)", to), err)
	return got
}

func testSessionAdvance(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	se := mustCreateSession(t, s, newSession(o.ID, 1, enroll.KindOTA))
	se.ChallengeHash = hashOf("phase 2")
	se = advance(t, s, se, enroll.PhaseServiceSent, nil)
	se.ChallengeHash, se.UDID = hashOf("scep"), "00008101-0019"
	se.Attributes = map[string]string{"serial_number": "F2LXYZ", "os_build": "21A5"}
	se = advance(t, s, se, enroll.PhaseAttributesReceived, nil)
	id := newIdentity(o.ID, 1)
	se.ChallengeHash, se.Identity = nil, id.Fingerprint
	se = advance(t, s, se, enroll.PhaseOTAIdentity, &id)
	if se.Version != 4 || !se.Updated.Equal(storage.Normalize(at(3))) || !se.Created.Equal(storage.Normalize(at(1))) {
		t.Errorf("after three steps: version %d, created %v, updated %v", se.Version, se.Created, se.Updated)
	}
	read, err := s.EnrollSession(t.Context(), o.ID, se.ID)
	noErr(t, "EnrollSession", err)
	same(t, "advanced session", read, se)
	if read.ChallengeHash != nil || read.UDID != "00008101-0019" || read.Attributes["serial_number"] != "F2LXYZ" || read.Identity != id.Fingerprint {
		t.Errorf("advanced session holds %+v", read)
	}
	got, err := s.Identity(t.Context(), o.ID, id.Fingerprint)
	noErr(t, "Identity", err)
	want := id
	want.Issued, want.NotAfter = storage.Normalize(id.Issued), storage.Normalize(id.NotAfter)
	same(t, "identity issued with the step", got, want)
	// Direct sessions go from created straight to profile sent.
	d := mustCreateSession(t, s, newSession(o.ID, 2, enroll.KindDirect))
	d = advance(t, s, d, enroll.PhaseProfileSent, nil)
	id2 := newIdentity(o.ID, 2)
	d.ChallengeHash, d.Identity = nil, id2.Fingerprint
	d = advance(t, s, d, enroll.PhaseEnrolled, &id2)
	if d.Phase != enroll.PhaseEnrolled || d.Version != 3 {
		t.Errorf("direct session ended at %s, version %d", d.Phase, d.Version)
	}
	if n := len(allAudit(t, s, o.ID)); n != 1+2+3+2 {
		t.Errorf("%d audit entries, want 8", n)
	}
}

func testSessionAdvanceRejected(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	se := mustCreateSession(t, s, newSession(o.ID, 1, enroll.KindOTA))
	d := mustCreateSession(t, s, newSession(o.ID, 2, enroll.KindDirect))
	before := takeSnapshot(t, s)
	try := func(name string, se enroll.Session, to enroll.Phase, target error) {
		t.Helper()
		se.Phase = to
		_, err := s.AdvanceEnrollSession(t.Context(), se, nil, entryFor(se.Org, "enroll.session.advance", at(3)))
		wantErr(t, name, err, target)
	}
	try("skipping a phase", se, enroll.PhaseAttributesReceived, enroll.ErrPhase)
	try("skipping a phase is a conflict", se, enroll.PhaseAttributesReceived, storage.ErrConflict)
	try("OTA session without phase 1", se, enroll.PhaseProfileSent, enroll.ErrPhase)
	try("direct session into OTA phase 1", d, enroll.PhaseServiceSent, enroll.ErrPhase)
	stale := se
	stale.Version = 7
	try("stale version", stale, enroll.PhaseServiceSent, storage.ErrConflict)
	unknown := se
	unknown.ID = sessionID(9)
	try("unknown session", unknown, enroll.PhaseServiceSent, storage.ErrNotFound)
	bad := se
	bad.ChallengeHash = []byte{1}
	try("invalid session", bad, enroll.PhaseServiceSent, storage.ErrInvalid)
	unchanged(t, "rejected steps", s, before)
	read, err := s.EnrollSession(t.Context(), o.ID, se.ID)
	noErr(t, "EnrollSession", err)
	same(t, "session after rejected steps", read, se)
	// The step that consumed a challenge cannot be taken twice.
	advance(t, s, se, enroll.PhaseServiceSent, nil)
	try("replayed step", se, enroll.PhaseServiceSent, storage.ErrConflict)
}

func testSessionIssueAtomic(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	id := newIdentity(o.ID, 1)
	_, err := s.RecordIdentity(t.Context(), id, entryFor(o.ID, "enroll.identity.record", at(2)))
	noErr(t, "RecordIdentity", err)
	se := mustCreateSession(t, s, newSession(o.ID, 1, enroll.KindDirect))
	se = advance(t, s, se, enroll.PhaseProfileSent, nil)
	before := takeSnapshot(t, s)
	// The same fingerprint again: neither the identity nor the step.
	next := se
	next.Phase, next.ChallengeHash, next.Identity = enroll.PhaseEnrolled, nil, id.Fingerprint
	_, err = s.AdvanceEnrollSession(t.Context(), next, &id, entryFor(o.ID, "enroll.scep.issue", at(4)))
	wantErr(t, "step with a duplicate identity", err, storage.ErrAlreadyExists)
	bound := newIdentity(o.ID, 2)
	bound.Device = "dev-1"
	_, err = s.AdvanceEnrollSession(t.Context(), next, &bound, entryFor(o.ID, "enroll.scep.issue", at(4)))
	wantErr(t, "step with a pre-bound identity", err, storage.ErrInvalid)
	// A stale step: the identity must not be recorded either.
	stale := next
	stale.Version = se.Version - 1
	fresh := newIdentity(o.ID, 3)
	_, err = s.AdvanceEnrollSession(t.Context(), stale, &fresh, entryFor(o.ID, "enroll.scep.issue", at(4)))
	wantErr(t, "stale step with an identity", err, storage.ErrConflict)
	_, err = s.Identity(t.Context(), o.ID, fresh.Fingerprint)
	wantErr(t, "identity of the stale step", err, storage.ErrNotFound)
	unchanged(t, "failed issue", s, before)
	read, err := s.EnrollSession(t.Context(), o.ID, se.ID)
	noErr(t, "EnrollSession", err)
	same(t, "session after failed issue", read, se)
	_, err = s.Identity(t.Context(), o.ID, bound.Fingerprint)
	wantErr(t, "identity of the failed step", err, storage.ErrNotFound)
}

func testSessionConcurrentAdvance(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	se := mustCreateSession(t, s, newSession(o.ID, 1, enroll.KindOTA))
	errs := parallel(8, func(i int) error {
		next := se
		next.Phase, next.ChallengeHash = enroll.PhaseServiceSent, hashOf(fmt.Sprint(i))
		_, err := s.AdvanceEnrollSession(t.Context(), next, nil, entryFor(o.ID, "enroll.session.advance", at(3)))
		return err
	})
	n := countErrs(errs, storage.ErrConflict)
	if n["nil"] != 1 || n[storage.ErrConflict.Error()] != 7 {
		t.Errorf("8 concurrent uses of one challenge: %v; want exactly one success", n)
	}
	read, err := s.EnrollSession(t.Context(), o.ID, se.ID)
	noErr(t, "EnrollSession", err)
	if read.Version != 2 || read.Phase != enroll.PhaseServiceSent {
		t.Errorf("session after the race: version %d phase %s", read.Version, read.Phase)
	}
	if got := len(allAudit(t, s, o.ID)); got != 3 {
		t.Errorf("%d audit entries, want 3 (org, session, one step)", got)
	}
}

func testSessionTenantIsolation(t testing.TB, s Store) {
	a, b := mustCreateOrg(t, s, "acme"), mustCreateOrg(t, s, "bolt")
	se := mustCreateSession(t, s, newSession(a.ID, 1, enroll.KindOTA))
	_, err := s.EnrollSession(t.Context(), b.ID, se.ID)
	wantErr(t, "org B reads org A's session", err, storage.ErrNotFound)
	before := takeSnapshot(t, s)
	steal := se
	steal.Org, steal.Phase = b.ID, enroll.PhaseServiceSent
	_, err = s.AdvanceEnrollSession(t.Context(), steal, nil, entryFor(b.ID, "enroll.session.advance", at(3)))
	wantErr(t, "org B advances org A's session", err, storage.ErrNotFound)
	unchanged(t, "cross-tenant step", s, before)
	// The same ID in org B is a different session.
	mustCreateSession(t, s, newSession(b.ID, 1, enroll.KindDirect))
	read, err := s.EnrollSession(t.Context(), a.ID, se.ID)
	noErr(t, "EnrollSession", err)
	if read.Kind != enroll.KindOTA {
		t.Errorf("org A's session changed kind to %q", read.Kind)
	}
}

func testIdentityRecordAndBind(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	id := newIdentity(o.ID, 1)
	got, err := s.RecordIdentity(t.Context(), id, entryFor(o.ID, "enroll.identity.record", at(2)))
	noErr(t, "RecordIdentity", err)
	want := id
	want.Issued, want.NotAfter = storage.Normalize(id.Issued), storage.Normalize(id.NotAfter)
	same(t, "recorded identity", got, want)
	before := takeSnapshot(t, s)
	_, err = s.RecordIdentity(t.Context(), id, entryFor(o.ID, "enroll.identity.record", at(2)))
	wantErr(t, "duplicate fingerprint", err, storage.ErrAlreadyExists)
	_, err = s.BindIdentity(t.Context(), o.ID, fingerprint(9), "dev-1", entryFor(o.ID, "enroll.identity.bind", at(3)))
	wantErr(t, "bind unknown identity", err, storage.ErrNotFound)
	_, err = s.BindIdentity(t.Context(), o.ID, id.Fingerprint, "", entryFor(o.ID, "enroll.identity.bind", at(3)))
	wantErr(t, "bind to no device", err, storage.ErrInvalid)
	unchanged(t, "rejected identity calls", s, before)

	bound, err := s.BindIdentity(t.Context(), o.ID, id.Fingerprint, "dev-1", entryFor(o.ID, "enroll.identity.bind", at(3)))
	noErr(t, "BindIdentity", err)
	want.Device = "dev-1"
	same(t, "bound identity", bound, want)
	afterBind := takeSnapshot(t, s)
	again, err := s.BindIdentity(t.Context(), o.ID, id.Fingerprint, "dev-1", entryFor(o.ID, "enroll.identity.bind", at(4)))
	noErr(t, "BindIdentity again", err)
	same(t, "rebound identity", again, want)
	unchanged(t, "binding to the same device is a no-op", s, afterBind)
	_, err = s.BindIdentity(t.Context(), o.ID, id.Fingerprint, "dev-2", entryFor(o.ID, "enroll.identity.bind", at(4)))
	wantErr(t, "bind to another device", err, storage.ErrConflict)
	unchanged(t, "refused rebinding", s, afterBind)
	read, err := s.Identity(t.Context(), o.ID, id.Fingerprint)
	noErr(t, "Identity", err)
	same(t, "identity after refused rebinding", read, want)

	// Each identity keeps what it was issued for.
	otaID := newIdentity(o.ID, 3)
	otaID.Purpose, otaID.AttestedUDID, otaID.Platform = enroll.PurposeOTA, "", policy.MacOS
	got, err = s.RecordIdentity(t.Context(), otaID, entryFor(o.ID, "enroll.identity.record", at(2)))
	noErr(t, "RecordIdentity(OTA)", err)
	read, err = s.Identity(t.Context(), o.ID, otaID.Fingerprint)
	noErr(t, "Identity(OTA)", err)
	if read.Purpose != enroll.PurposeOTA || read.AttestedUDID != "" || read.Platform != policy.MacOS || got.Purpose != enroll.PurposeOTA {
		t.Errorf("OTA identity read back as %+v", read)
	}

	renewal := newIdentity(o.ID, 2)
	renewal.Renews = id.Fingerprint
	got, err = s.RecordIdentity(t.Context(), renewal, entryFor(o.ID, "enroll.scep.renew", at(5)))
	noErr(t, "RecordIdentity(renewal)", err)
	if got.Renews != id.Fingerprint || got.Device != "" {
		t.Errorf("renewal recorded as %+v", got)
	}
}

func testIdentityInvalid(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	before := takeSnapshot(t, s)
	for name, mutate := range map[string]func(*enroll.Identity){
		"bad fingerprint": func(id *enroll.Identity) { id.Fingerprint = "ABC" },
		"no serial":       func(id *enroll.Identity) { id.Serial = "" },
		"serial not hex":  func(id *enroll.Identity) { id.Serial = "xyz" },
		"bad session":     func(id *enroll.Identity) { id.Session = "s" },
		"no user":         func(id *enroll.Identity) { id.UserID = "" },
		"already bound":   func(id *enroll.Identity) { id.Device = "dev-1" },
		"expires early":   func(id *enroll.Identity) { id.NotAfter = id.Issued },
		"bad renews":      func(id *enroll.Identity) { id.Renews = "nope" },
		"no purpose":      func(id *enroll.Identity) { id.Purpose = "" },
		"bad purpose":     func(id *enroll.Identity) { id.Purpose = "tls" },
		"bad platform":    func(id *enroll.Identity) { id.Platform = "windows" },
		"long UDID":       func(id *enroll.Identity) { id.AttestedUDID = strings.Repeat("u", enroll.MaxAttributeValue+1) },
	} {
		id := newIdentity(o.ID, 1)
		mutate(&id)
		_, err := s.RecordIdentity(t.Context(), id, entryFor(o.ID, "enroll.identity.record", at(2)))
		wantErr(t, name, err, storage.ErrInvalid)
	}
	other := newOrg("other")
	_, err := s.RecordIdentity(t.Context(), newIdentity(other.ID, 1), entryFor(other.ID, "enroll.identity.record", at(2)))
	wantErr(t, "unknown org", err, storage.ErrNotFound)
	_, err = s.RecordIdentity(t.Context(), newIdentity(o.ID, 1), entryFor(other.ID, "enroll.identity.record", at(2)))
	wantErr(t, "entry of another org", err, storage.ErrInvalid)
	unchanged(t, "invalid identities", s, before)
}

func testIdentityTenantIsolation(t testing.TB, s Store) {
	a, b := mustCreateOrg(t, s, "acme"), mustCreateOrg(t, s, "bolt")
	id := newIdentity(a.ID, 1)
	_, err := s.RecordIdentity(t.Context(), id, entryFor(a.ID, "enroll.identity.record", at(2)))
	noErr(t, "RecordIdentity", err)
	_, err = s.Identity(t.Context(), b.ID, id.Fingerprint)
	wantErr(t, "org B reads org A's identity", err, storage.ErrNotFound)
	before := takeSnapshot(t, s)
	_, err = s.BindIdentity(t.Context(), b.ID, id.Fingerprint, "dev-b", entryFor(b.ID, "enroll.identity.bind", at(3)))
	wantErr(t, "org B binds org A's identity", err, storage.ErrNotFound)
	unchanged(t, "cross-tenant bind", s, before)
	// The same fingerprint may exist in both orgs independently.
	idB := newIdentity(b.ID, 1)
	_, err = s.RecordIdentity(t.Context(), idB, entryFor(b.ID, "enroll.identity.record", at(2)))
	noErr(t, "RecordIdentity in org B", err)
	_, err = s.BindIdentity(t.Context(), b.ID, idB.Fingerprint, "dev-b", entryFor(b.ID, "enroll.identity.bind", at(3)))
	noErr(t, "BindIdentity in org B", err)
	read, err := s.Identity(t.Context(), a.ID, id.Fingerprint)
	noErr(t, "Identity", err)
	if read.Device != "" {
		t.Errorf("org A's identity bound to %q by org B", read.Device)
	}
}

func testIdentityConcurrentBind(t testing.TB, s Store) {
	o := mustCreateOrg(t, s, "acme")
	id := newIdentity(o.ID, 1)
	_, err := s.RecordIdentity(t.Context(), id, entryFor(o.ID, "enroll.identity.record", at(2)))
	noErr(t, "RecordIdentity", err)
	errs := parallel(8, func(i int) error {
		_, err := s.BindIdentity(t.Context(), o.ID, id.Fingerprint, fmt.Sprintf("dev-%d", i), entryFor(o.ID, "enroll.identity.bind", at(3)))
		return err
	})
	n := countErrs(errs, storage.ErrConflict)
	if n["nil"] != 1 || n[storage.ErrConflict.Error()] != 7 {
		t.Errorf("8 devices binding one identity: %v; want exactly one", n)
	}
}

func testCA(t testing.TB) ([]byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	noErr(t, "generate key", err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"},
		NotBefore: at(0), NotAfter: at(60 * 24), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	noErr(t, "create certificate", err)
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	noErr(t, "marshal key", err)
	return der, pk
}

func testSCEPCACreateOnce(t testing.TB, s Store) {
	a, b := mustCreateOrg(t, s, "acme"), mustCreateOrg(t, s, "bolt")
	cert, key := testCA(t)
	_, err := s.SCEPCA(t.Context(), a.ID)
	wantErr(t, "SCEPCA before creation", err, storage.ErrNotFound)
	got, err := s.CreateSCEPCA(t.Context(), scep.StoredCA{Org: a.ID, Certificate: cert, Key: key}, entryFor(a.ID, "enroll.scep.ca.create", at(1)))
	noErr(t, "CreateSCEPCA", err)
	want := scep.StoredCA{Org: a.ID, Certificate: cert, Key: key, Created: storage.Normalize(at(1))}
	same(t, "created CA", got, want)
	read, err := s.SCEPCA(t.Context(), a.ID)
	noErr(t, "SCEPCA", err)
	same(t, "read CA", read, want)

	before := takeSnapshot(t, s)
	cert2, key2 := testCA(t)
	_, err = s.CreateSCEPCA(t.Context(), scep.StoredCA{Org: a.ID, Certificate: cert2, Key: key2}, entryFor(a.ID, "enroll.scep.ca.create", at(2)))
	wantErr(t, "second CA", err, storage.ErrAlreadyExists)
	_, err = s.CreateSCEPCA(t.Context(), scep.StoredCA{Org: a.ID, Certificate: []byte("junk"), Key: key2}, entryFor(a.ID, "enroll.scep.ca.create", at(2)))
	wantErr(t, "junk certificate", err, storage.ErrInvalid)
	_, err = s.CreateSCEPCA(t.Context(), scep.StoredCA{Org: a.ID, Certificate: cert2, Key: []byte("junk")}, entryFor(a.ID, "enroll.scep.ca.create", at(2)))
	wantErr(t, "junk key", err, storage.ErrInvalid)
	other := newOrg("other")
	_, err = s.CreateSCEPCA(t.Context(), scep.StoredCA{Org: other.ID, Certificate: cert2, Key: key2}, entryFor(other.ID, "enroll.scep.ca.create", at(2)))
	wantErr(t, "unknown org", err, storage.ErrNotFound)
	unchanged(t, "rejected CAs", s, before)
	read, err = s.SCEPCA(t.Context(), a.ID)
	noErr(t, "SCEPCA", err)
	same(t, "CA after rejected calls", read, want)

	_, err = s.SCEPCA(t.Context(), b.ID)
	wantErr(t, "org B reads org A's CA", err, storage.ErrNotFound)
	errs := parallel(4, func(int) error {
		_, err := s.CreateSCEPCA(t.Context(), scep.StoredCA{Org: b.ID, Certificate: cert2, Key: key2}, entryFor(b.ID, "enroll.scep.ca.create", at(3)))
		return err
	})
	if n := countErrs(errs, storage.ErrAlreadyExists); n["nil"] != 1 || n[storage.ErrAlreadyExists.Error()] != 3 {
		t.Errorf("4 concurrent first CAs: %v; want exactly one", n)
	}
}

// testSCEPCAReseal: a key stored in plain text is replaced by its sealed
// form once, and only while it is still the plain one.
func testSCEPCAReseal(t testing.TB, s Store) {
	ctx := t.Context()
	a, b := mustCreateOrg(t, s, "acme"), mustCreateOrg(t, s, "bolt")
	cert, key := testCA(t)
	_, err := s.CreateSCEPCA(ctx, scep.StoredCA{Org: a.ID, Certificate: cert, Key: key}, entryFor(a.ID, "enroll.scep.ca.create", at(1)))
	noErr(t, "CreateSCEPCA", err)
	sealed := append([]byte("omm-sealed-v1:"), bytes.Repeat([]byte{7}, 64)...)
	before := takeSnapshot(t, s)
	wantErr(t, "ResealSCEPCA of another org's CA", s.ResealSCEPCA(ctx, b.ID, key, sealed, entryFor(b.ID, "enroll.scep.ca.seal", at(2))), storage.ErrNotFound)
	wantErr(t, "ResealSCEPCA from a key it is not", s.ResealSCEPCA(ctx, a.ID, []byte("other"), sealed, entryFor(a.ID, "enroll.scep.ca.seal", at(2))), storage.ErrConflict)
	wantErr(t, "ResealSCEPCA to nothing", s.ResealSCEPCA(ctx, a.ID, key, nil, entryFor(a.ID, "enroll.scep.ca.seal", at(2))), storage.ErrInvalid)
	unchanged(t, "refused reseals", s, before)
	noErr(t, "ResealSCEPCA", s.ResealSCEPCA(ctx, a.ID, key, sealed, entryFor(a.ID, "enroll.scep.ca.seal", at(2))))
	got, err := s.SCEPCA(ctx, a.ID)
	noErr(t, "SCEPCA", err)
	if !bytes.Equal(got.Key, sealed) || !bytes.Equal(got.Certificate, cert) {
		t.Errorf("after the reseal the CA's key is %x", got.Key)
	}
	wantErr(t, "ResealSCEPCA again", s.ResealSCEPCA(ctx, a.ID, key, sealed, entryFor(a.ID, "enroll.scep.ca.seal", at(3))), storage.ErrConflict)
}

// testIdentityBinding: Binding reads in one query what Identity, Device and
// NextCommand's probe read one after the other, only for an identity bound
// to a device that exists, and never across orgs.
func testIdentityBinding(t testing.TB, s Store) {
	ctx := t.Context()
	a, b := mustCreateOrg(t, s, "acme"), mustCreateOrg(t, s, "bolt")
	id := newIdentity(a.ID, 1)
	recordIdentity(t, s, id)
	_, err := s.Binding(ctx, a.ID, id.Fingerprint)
	wantErr(t, "Binding of an identity bound to no device", err, storage.ErrNotFound)
	_, err = s.Binding(ctx, a.ID, fingerprint(9))
	wantErr(t, "Binding of an unknown fingerprint", err, storage.ErrNotFound)

	auth := authentication(a.ID, 1, id.Fingerprint)
	_, err = s.Authenticate(ctx, auth)
	noErr(t, "Authenticate", err)
	dev := auth.Register.ID
	check := func(what string, open bool) {
		t.Helper()
		got, err := s.Binding(ctx, a.ID, id.Fingerprint)
		noErr(t, "Binding: "+what, err)
		wantID, err := s.Identity(ctx, a.ID, id.Fingerprint)
		noErr(t, "Identity", err)
		wantDev, err := s.Device(ctx, a.ID, dev)
		noErr(t, "Device", err)
		same(t, what+": identity", got.Identity, wantID)
		same(t, what+": device", got.Device, wantDev)
		if got.Open != open {
			t.Errorf("%s: Open = %v, want %v", what, got.Open, open)
		}
	}
	check("bound, nothing queued", false)

	// Org B has the same fingerprint and the same device ID, bound there,
	// with a command queued: none of it is org A's.
	idB := newIdentity(b.ID, 1)
	recordIdentity(t, s, idB)
	authB := authentication(b.ID, 1, idB.Fingerprint)
	_, err = s.Authenticate(ctx, authB)
	noErr(t, "Authenticate in org B", err)
	enqueue(t, s, b.ID, "cb", authB.Register.ID)
	check("a command of org B's device with the same ID", false)
	onlyA := newIdentity(a.ID, 2)
	recordIdentity(t, s, onlyA)
	_, err = s.BindIdentity(ctx, a.ID, onlyA.Fingerprint, dev, entryFor(a.ID, "enroll.identity.bind", at(6)))
	noErr(t, "BindIdentity", err)
	_, err = s.Binding(ctx, b.ID, onlyA.Fingerprint)
	wantErr(t, "org B reads org A's binding", err, storage.ErrNotFound)

	// Open follows the device's queue: Pending and NotNow commands are
	// open, answered ones are not.
	enqueue(t, s, a.ID, "c1", dev)
	check("a command queued", true)
	wantNext(t, s, a.ID, dev, false, "c1", 1)
	check("a command delivered, not answered", true)
	answer(t, s, a.ID, dev, "c1", enroll.StatusNotNow)
	check("a command answered NotNow", true)
	answer(t, s, a.ID, dev, "c1", enroll.StatusAcknowledged)
	check("every command answered", false)

	// The device is read as stored, whatever its state: the caller
	// refuses an ended enrollment.
	_, err = s.UpdateDeviceState(ctx, a.ID, dev, inventory.StateDeprovisioned, deviceEntry(a.ID, "device.state", at(7)))
	noErr(t, "UpdateDeviceState", err)
	check("an ended enrollment", false)

	// An identity bound to a device the registry does not have.
	stray := newIdentity(a.ID, 3)
	recordIdentity(t, s, stray)
	_, err = s.BindIdentity(ctx, a.ID, stray.Fingerprint, "dev_missing", entryFor(a.ID, "enroll.identity.bind", at(8)))
	noErr(t, "BindIdentity to a missing device", err)
	_, err = s.Binding(ctx, a.ID, stray.Fingerprint)
	wantErr(t, "Binding of an identity whose device is missing", err, storage.ErrNotFound)
}
