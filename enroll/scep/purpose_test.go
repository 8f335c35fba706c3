package scep_test

import (
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/scep"
	"github.com/openomm/omm/enroll/scep/sceptest"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// TestIdentityPurpose (issue 22, finding 1): every issued identity records
// what it is for. The OTA identity of phase 2 is recorded as such, lives
// only as long as phase 3 may take and is never renewed; the MDM identity
// at the end of an OTA enrollment names the device Apple attested and the
// platform of the policy decision.
func TestIdentityPurpose(t *testing.T) {
	f := newFixture(t)
	id := enroll.NewSessionID()
	_, hash := enroll.NewChallenge(id)
	sess, err := f.store.CreateEnrollSession(t.Context(), enroll.Session{
		Org: f.org, ID: id, Kind: enroll.KindOTA, UserID: "alice", Policy: "pol-1", Platform: policy.IOS,
		Phase: enroll.PhaseCreated, ChallengeHash: hash, Expires: t0.Add(time.Minute),
	}, storage.AuditEntry{Org: f.org, Time: t0, Actor: "user:alice", Action: "enroll.session.create"})
	if err != nil {
		t.Fatal(err)
	}
	step := func(to enroll.Phase, udid string) string {
		t.Helper()
		challenge, hash := enroll.NewChallenge(id)
		sess.Phase, sess.ChallengeHash, sess.Expires = to, hash, t0.Add(10*time.Minute)
		if udid != "" {
			sess.UDID = udid
		}
		if sess, err = f.store.AdvanceEnrollSession(t.Context(), sess, nil, storage.AuditEntry{Org: f.org, Time: t0, Actor: "user:alice", Action: "enroll.ota.step"}); err != nil {
			t.Fatal(err)
		}
		return challenge
	}
	issue := func(challenge string, k int) (*x509.Certificate, enroll.Identity) {
		t.Helper()
		msg, p := f.request(t, f.org, sceptest.Request{Key: key(t, k), Challenge: challenge})
		reply, err := f.svc.PKIOperation(t.Context(), f.org, msg)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := p.Read(reply, f.ca)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := f.store.Identity(t.Context(), f.org, enroll.FingerprintOf(cert))
		if err != nil {
			t.Fatal(err)
		}
		if !rec.NotAfter.Equal(storage.Normalize(cert.NotAfter)) {
			t.Errorf("recorded NotAfter %v, certificate's %v", rec.NotAfter, cert.NotAfter)
		}
		return cert, rec
	}
	step(enroll.PhaseServiceSent, "")
	otaChallenge := step(enroll.PhaseAttributesReceived, "UDID-ATTESTED")
	otaCert, otaID := issue(otaChallenge, 0)
	if otaID.Purpose != enroll.PurposeOTA || otaID.AttestedUDID != "" {
		t.Errorf("phase 2 identity recorded as %+v, want an OTA identity", otaID)
	}
	if d := otaID.NotAfter.Sub(t0); d > scep.DefaultPhase3TTL+2*time.Hour {
		t.Errorf("the OTA identity is valid for %v, want about the phase 3 TTL", d)
	}
	if sess, err = f.store.EnrollSession(t.Context(), f.org, id); err != nil {
		t.Fatal(err)
	}
	mdmChallenge := step(enroll.PhaseProfileSent, "")
	_, mdmID := issue(mdmChallenge, 1)
	if mdmID.Purpose != enroll.PurposeMDM || mdmID.AttestedUDID != "UDID-ATTESTED" || mdmID.Platform != policy.IOS {
		t.Errorf("MDM identity recorded as %+v, want purpose mdm, the attested UDID and platform ios", mdmID)
	}
	if d := mdmID.NotAfter.Sub(t0); d < scep.DefaultValidity-time.Hour {
		t.Errorf("the MDM identity is valid for %v, want %v", d, scep.DefaultValidity)
	}

	// The OTA identity renews into nothing, although its short life puts
	// it in the renewal window at once.
	msg, _ := f.request(t, f.org, sceptest.Request{Key: key(t, 2), Signer: otaCert, SignerKey: key(t, 0), MessageType: "17"})
	if _, err := f.svc.PKIOperation(t.Context(), f.org, msg); !errors.Is(err, scep.ErrRenewal) {
		t.Errorf("renewal of the OTA identity: %v, want ErrRenewal", err)
	}
}
