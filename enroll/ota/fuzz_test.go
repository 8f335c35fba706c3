package ota_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/ota"
	"github.com/openomm/omm/internal/cms"
	"github.com/openomm/omm/storage"
)

// postErrors are the documented ways a post can be refused.
var postErrors = []error{ota.ErrBody, ota.ErrSignature, ota.ErrSession, enroll.ErrChallenge, enroll.ErrPhase,
	cms.ErrTooDeep, cms.ErrTooLarge, storage.ErrConflict}

func checkPostError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, e := range postErrors {
		if errors.Is(err, e) {
			return
		}
	}
	t.Fatalf("undocumented error: %v", err)
}

// FuzzPhase2 posts arbitrary bodies to a session awaiting phase 2.
func FuzzPhase2(f *testing.F) {
	fx := newFixture(f)
	dev := newDevice(f, "00008110-000A1D2E3F40801E")
	svc, session := fx.phase1(f, "alice")
	good, err := dev.Phase2(svc.Challenge, attrs)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good[:len(good)-1])
	f.Add(good[:len(good)/2])
	f.Add([]byte(strings.Repeat("\x30\x80", 80) + strings.Repeat("\x00\x00", 80)))
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := fx.ota.Post(t.Context(), fx.org, session, body)
		checkPostError(t, err)
		if err == nil {
			t.Fatal("a body the fuzzer made passed phase 2")
		}
	})
}

// FuzzPhase3 posts arbitrary bodies to a session awaiting phase 3.
func FuzzPhase3(f *testing.F) {
	fx := newFixture(f)
	dev := newDevice(f, "00008110-000A1D2E3F40801E")
	session, cert := fx.toIdentity(f, dev, "alice", deviceKey(f, 0))
	good := phase3Body(f, dev, cert, deviceKey(f, 0))
	f.Add(good[:len(good)-2])
	f.Add(good[10:])
	f.Add([]byte{0x30, 0x80, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := fx.ota.Post(t.Context(), fx.org, session, body)
		checkPostError(t, err)
		if err == nil {
			t.Fatal("a body the fuzzer made passed phase 3")
		}
	})
}
