package checkin

import (
	"crypto/sha256"
	"crypto/x509"
	"sync"
	"time"

	"github.com/openomm/omm/storage"
)

// maxVerified bounds the verified-certificate cache; when full it starts
// afresh, so memory stays bounded whatever the number of devices.
const maxVerified = 100_000

// verifiedCerts remembers device certificates (TLS client certificates,
// forwarded ones, and Mdm-Signature signers) whose chain to an org's CA
// was verified, so that a device's every check-in does not pay the chain
// check for the same certificate; a signed message's own signature over
// its body is still checked every time. An entry is used only for the
// same org, the same CA certificate and within the leaf's validity; the
// identity itself is still looked up in the store on every request.
type verifiedCerts struct {
	mu sync.Mutex
	m  map[verifiedKey]struct{}
}

type verifiedKey struct {
	org      storage.OrgID
	ca, leaf [sha256.Size]byte
}

func newVerifiedCerts() *verifiedCerts {
	return &verifiedCerts{m: map[verifiedKey]struct{}{}}
}

func keyOf(org storage.OrgID, ca, leaf *x509.Certificate) verifiedKey {
	return verifiedKey{org: org, ca: sha256.Sum256(ca.Raw), leaf: sha256.Sum256(leaf.Raw)}
}

// known reports whether leaf was verified against ca for org and is valid
// at now.
func (v *verifiedCerts) known(k verifiedKey, leaf *x509.Certificate, now time.Time) bool {
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	_, ok := v.m[k]
	return ok
}

// add remembers a verified certificate.
func (v *verifiedCerts) add(k verifiedKey) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.m) >= maxVerified {
		clear(v.m)
	}
	v.m[k] = struct{}{}
}
