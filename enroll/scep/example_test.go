package scep_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/scep"
	"github.com/openomm/omm/enroll/scep/sceptest"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// A device presents the challenge of its enrollment session and gets a
// client certificate from its org's CA, generated on first use.
func Example() {
	ctx := context.Background()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	store := memory.New()
	org := storage.Org{ID: storage.NewOrgID(), Name: "acme", DisplayName: "Acme"}
	entry := storage.AuditEntry{Org: org.ID, Time: now, Actor: "admin:root", Action: "org.create"}
	if _, err := store.CreateOrg(ctx, org, entry); err != nil {
		panic(err)
	}
	// The OTA service normally creates the session and hands the
	// challenge to the device in a SCEP payload.
	id := enroll.NewSessionID()
	challenge, hash := enroll.NewChallenge(id)
	sess := enroll.Session{Org: org.ID, ID: id, Kind: enroll.KindDirect, UserID: "alice", Policy: "pol-1",
		Phase: enroll.PhaseCreated, Expires: now.Add(time.Hour)}
	sess, _ = store.CreateEnrollSession(ctx, sess, entry)
	sess.Phase, sess.ChallengeHash = enroll.PhaseProfileSent, hash
	if _, err := store.AdvanceEnrollSession(ctx, sess, nil, entry); err != nil {
		panic(err)
	}

	ca, err := scep.New(store, scep.WithClock(func() time.Time { return now }))
	if err != nil {
		panic(err)
	}
	caCert, _ := ca.CACertificate(ctx, org.ID)

	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	msg, pending, _ := sceptest.Request{Key: key, Challenge: challenge}.Build(caCert)
	reply, err := ca.PKIOperation(ctx, org.ID, msg)
	if err != nil {
		panic(err)
	}
	cert, err := pending.Read(reply, caCert)
	if err != nil {
		panic(err)
	}
	fmt.Println("issued by the org CA:", cert.CheckSignatureFrom(caCert) == nil)
	fmt.Println("valid until:", cert.NotAfter.Format(time.DateOnly))

	// The challenge was single-use.
	again, pending2, _ := sceptest.Request{Key: key, Challenge: challenge}.Build(caCert)
	reply, err = ca.PKIOperation(ctx, org.ID, again)
	_, readErr := pending2.Read(reply, caCert)
	fmt.Println("replay refused:", err != nil, readErr != nil)
	// Output:
	// issued by the org CA: true
	// valid until: 2027-05-01
	// replay refused: true true
}
