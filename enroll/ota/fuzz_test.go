package ota_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/ota"
	"github.com/openomm/omm/internal/cms"
	"github.com/openomm/omm/inventory"
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

// FuzzVerifyPhase2 verifies arbitrary bodies as captures: a refusal is one
// of the documented errors, and whatever passes (the seeds) carries only
// the contract's attributes, a printable UDID and the test chain.
func FuzzVerifyPhase2(f *testing.F) {
	chain, err := ota.NewAppleChain(appleChain(f).PEM)
	if err != nil {
		f.Fatal(err)
	}
	dev := newDevice(f, "00008110-000A1D2E3F40801E")
	for _, challenge := range []string{"", "spent"} {
		good, err := dev.Phase2(challenge, attrs)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(good)
		f.Add(good[:len(good)-3])
	}
	f.Add([]byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0x00, 0x00})
	requested := inventory.OTADeviceAttributes()
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ota.VerifyPhase2(body, ota.Phase2Options{Chain: chain, Now: t0})
		if err != nil {
			if !errors.Is(err, ota.ErrBody) && !errors.Is(err, ota.ErrSignature) {
				t.Fatalf("undocumented error: %v", err)
			}
			return
		}
		if p.UDID == "" || strings.ContainsFunc(p.UDID, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("accepted UDID %q", p.UDID)
		}
		for k := range p.Attributes {
			if a, ok := inventory.AttributeFor(k); !ok || !slices.Contains(requested, a.OTA) {
				t.Fatalf("kept attribute %s, which the contract does not request", k)
			}
		}
		if len(p.Chain) != 4 || !p.Chain[1].Equal(chain.DeviceCA()) {
			t.Fatalf("accepted a signer outside the test chain: %v", p.Chain)
		}
	})
}
