package ota

import (
	"crypto/x509"
	"fmt"
	"time"

	"github.com/openomm/omm/internal/cms"
	"github.com/openomm/omm/inventory"
)

// parseBody reads a phase 2 or 3 post within MaxBodySize and the nesting
// limit.
func parseBody(body []byte) (*cms.SignedData, error) {
	sd, err := cms.Parse(body, cms.Limits{MaxSize: MaxBodySize, MaxDepth: maxBodyDepth})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBody, err)
	}
	return sd, nil
}

// verifyPhase2 checks a phase 2 post the way Post does, short of the
// session: the signature, the signer against chain at now (a nil chain
// accepts any signer: simulators only), and the attributes through the
// privacy filter.
func verifyPhase2(sd *cms.SignedData, chain *AppleChain, now time.Time) (posted, *x509.Certificate, error) {
	opts := cms.VerifyOptions{VerifyChain: func(*x509.Certificate, []*x509.Certificate) error { return nil }}
	if chain != nil {
		opts.VerifyChain = func(leaf *x509.Certificate, carried []*x509.Certificate) error {
			return chain.VerifyAt(now, leaf, carried)
		}
	}
	signer, err := sd.Verify(opts)
	if err != nil {
		return posted{}, nil, fmt.Errorf("%w: phase 2: %w", ErrSignature, err)
	}
	p, err := parseAttributes(sd.Content(), otaKeys())
	if err != nil {
		return posted{}, nil, err
	}
	return p, signer, nil
}

// Phase2Options says how VerifyPhase2 checks a body.
type Phase2Options struct {
	// Chain is the device CA chain the signer must chain to; nil means
	// Apple's (DefaultAppleChain).
	Chain *AppleChain
	// Now is the time the device certificate must be valid at; zero means
	// the current time. A capture checked long after it was made needs the
	// time it was made.
	Now time.Time
}

// Phase2 is what a verified phase 2 body holds, as the SDK records it.
type Phase2 struct {
	// UDID identifies the device; the SDK keeps it on the enrollment.
	UDID string
	// Attributes are the device attributes the SDK records, after the
	// privacy filter, by inventory key: only what the privacy contract
	// requests over the air (inventory.OTADeviceAttributes).
	Attributes map[inventory.Key]string
	// Dropped counts the attributes the filter dropped: ones the contract
	// does not let the organization keep (an IMEI, a MAC address) and
	// ones that are not short strings.
	Dropped int
	// HasChallenge says whether the body carries the challenge of phase 1.
	// A session compares it; a capture's is long spent, so it is not
	// returned.
	HasChallenge bool
	// Signer is the device certificate that signed.
	Signer *x509.Certificate
	// Chain is the path the signer was verified along: Signer, then the
	// pinned chain from the device CA up to the root (never the
	// certificates the device sent along).
	Chain []*x509.Certificate
	// SignatureAlgorithm is the algorithm of the device's signature over
	// the attributes (x509.SHA1WithRSA for the devices seen so far).
	SignatureAlgorithm x509.SignatureAlgorithm
}

// VerifyPhase2 verifies a captured OTA phase 2 body (the PKCS #7 a device
// posts to the profile service) outside an enrollment session, exactly as
// Post does in phase 2 apart from the challenge: within MaxBodySize and the
// nesting limit, the signature must verify, the signer must be the
// certificate the SignerInfo names, issued by the device CA of opts.Chain
// and valid at opts.Now (see AppleChain), and the content must be a plist
// of attributes with a UDID. It returns what the SDK would record.
//
// A body that cannot be read yields ErrBody; a signature or signer that
// is not accepted yields ErrSignature (with ErrAppleChain, and
// ErrDeviceCertificateValidity for a device certificate out of its
// validity period). Integrators use it to test their own captures.
func VerifyPhase2(body []byte, opts Phase2Options) (Phase2, error) {
	chain := opts.Chain
	if chain == nil {
		chain = DefaultAppleChain()
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	sd, err := parseBody(body)
	if err != nil {
		return Phase2{}, err
	}
	p, signer, err := verifyPhase2(sd, chain, now)
	if err != nil {
		return Phase2{}, err
	}
	alg, err := sd.SignatureAlgorithm()
	if err != nil {
		return Phase2{}, fmt.Errorf("%w: %w", ErrSignature, err)
	}
	out := Phase2{UDID: p.udid, Attributes: map[inventory.Key]string{}, Dropped: p.dropped, HasChallenge: p.challenge != "",
		Signer: signer, Chain: append([]*x509.Certificate{signer}, chain.Chain()...), SignatureAlgorithm: alg}
	for k, v := range p.values {
		out.Attributes[inventory.Key(k)] = v
	}
	return out, nil
}
