package enroll_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
)

func TestChallenge(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	id := enroll.NewSessionID()
	challenge, hash := enroll.NewChallenge(id)
	sess := enroll.Session{ID: id, Phase: enroll.PhaseServiceSent, ChallengeHash: hash, Expires: now.Add(time.Minute)}
	if got, err := enroll.ChallengeSession(challenge); err != nil || got != id {
		t.Fatalf("ChallengeSession = %q, %v", got, err)
	}
	if _, secret, _ := strings.Cut(challenge, "."); len(secret) < 43 {
		t.Errorf("secret %q carries fewer than 256 bits", secret)
	}
	other, _ := enroll.NewChallenge(id)
	foreign, _ := enroll.NewChallenge(enroll.NewSessionID())
	for _, tc := range []struct {
		name, challenge string
		phase           enroll.Phase
		at              time.Time
		ok              bool
	}{
		{"right", challenge, enroll.PhaseServiceSent, now, true},
		{"other secret", other, enroll.PhaseServiceSent, now, false},
		{"other session", foreign, enroll.PhaseServiceSent, now, false},
		{"wrong phase", challenge, enroll.PhaseAttributesReceived, now, false},
		{"expired", challenge, enroll.PhaseServiceSent, now.Add(time.Minute), false},
		{"empty", "", enroll.PhaseServiceSent, now, false},
		{"garbage", "x.y", enroll.PhaseServiceSent, now, false},
		{"truncated", challenge[:len(challenge)-1], enroll.PhaseServiceSent, now, false},
	} {
		err := sess.CheckChallenge(tc.challenge, tc.phase, tc.at)
		if tc.ok != (err == nil) || err != nil && !errors.Is(err, enroll.ErrChallenge) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// No outstanding challenge: nothing matches.
	sess.ChallengeHash = nil
	if err := sess.CheckChallenge(challenge, enroll.PhaseServiceSent, now); !errors.Is(err, enroll.ErrChallenge) {
		t.Errorf("without a hash: %v", err)
	}
}

func TestCheckPhase(t *testing.T) {
	ota, direct := enroll.KindOTA, enroll.KindDirect
	for _, tc := range []struct {
		kind     enroll.SessionKind
		from, to enroll.Phase
		ok       bool
	}{
		{ota, enroll.PhaseCreated, enroll.PhaseServiceSent, true},
		{ota, enroll.PhaseServiceSent, enroll.PhaseAttributesReceived, true},
		{ota, enroll.PhaseAttributesReceived, enroll.PhaseOTAIdentity, true},
		{ota, enroll.PhaseOTAIdentity, enroll.PhaseProfileSent, true},
		{ota, enroll.PhaseProfileSent, enroll.PhaseEnrolled, true},
		{direct, enroll.PhaseCreated, enroll.PhaseProfileSent, true},
		{direct, enroll.PhaseProfileSent, enroll.PhaseEnrolled, true},
		{ota, enroll.PhaseCreated, enroll.PhaseProfileSent, false},
		{direct, enroll.PhaseCreated, enroll.PhaseServiceSent, false},
		{ota, enroll.PhaseServiceSent, enroll.PhaseServiceSent, false},
		{ota, enroll.PhaseEnrolled, enroll.PhaseCreated, false},
		{ota, enroll.PhaseServiceSent, enroll.PhaseOTAIdentity, false},
	} {
		err := enroll.CheckPhase(tc.kind, tc.from, tc.to)
		if tc.ok != (err == nil) || err != nil && (!errors.Is(err, enroll.ErrPhase) || !errors.Is(err, storage.ErrConflict)) {
			t.Errorf("%s %s → %s: %v", tc.kind, tc.from, tc.to, err)
		}
	}
}
