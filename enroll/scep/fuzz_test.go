package scep_test

import (
	"errors"
	"testing"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/scep"
	"github.com/openomm/omm/enroll/scep/sceptest"
	"github.com/openomm/omm/internal/cms"
	"github.com/openomm/omm/storage"
)

// FuzzPKIOperation feeds arbitrary messages to the CA: it must never panic,
// every error must be one of the documented kinds, and nothing may be
// issued without a valid challenge.
func FuzzPKIOperation(f *testing.F) {
	fx := newFixture(f)
	_, challenge := fx.session(f, fx.org, "alice")
	valid, _ := fx.request(f, fx.org, sceptest.Request{Key: key(f, 0), Challenge: challenge})
	noChallenge, _ := fx.request(f, fx.org, sceptest.Request{Key: key(f, 1), SHA1: true, DES3: true})
	f.Add(valid)
	f.Add(noChallenge)
	f.Add(valid[:len(valid)/3])
	f.Add([]byte{0x30, 0x80, 0x30, 0x80, 0x00, 0x00, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, msg []byte) {
		reply, err := fx.svc.PKIOperation(t.Context(), fx.org, msg)
		if err == nil {
			if reply == nil {
				t.Fatal("success without a reply")
			}
			return
		}
		if !isOneOf(err, scep.ErrMessage, scep.ErrSignature, scep.ErrUnsupported, scep.ErrRenewal,
			enroll.ErrChallenge, cms.ErrTooDeep, cms.ErrTooLarge, storage.ErrConflict) {
			t.Fatalf("undocumented error: %v", err)
		}
	})
}

func isOneOf(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
