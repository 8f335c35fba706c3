package apns

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"
)

// tokenLifetime is how long a provider token is reused. APNs refuses tokens
// older than an hour and throttles providers that renew more often than
// every 20 minutes.
const tokenLifetime = 50 * time.Minute

// WithToken authenticates with a provider token signed by key, an ECDSA
// P-256 key from Apple's developer portal (any crypto.Signer, so it may live
// in an HSM), identified by keyID and the team ID that owns it.
func WithToken(key crypto.Signer, keyID, teamID string) Option {
	return func(s *settings) error {
		pub, ok := key.Public().(*ecdsa.PublicKey)
		if !ok || pub.Curve != elliptic.P256() {
			return errors.New("apns: provider token key must be ECDSA P-256")
		}
		if keyID == "" || teamID == "" {
			return errors.New("apns: provider token needs a key ID and a team ID")
		}
		s.token = &providerToken{key: key, keyID: keyID, teamID: teamID}
		return nil
	}
}

type providerToken struct {
	key           crypto.Signer
	keyID, teamID string
	clock         func() time.Time

	mu     sync.Mutex
	jwt    string
	auth   []string // {"bearer " + jwt}: shared, read-only, by every request
	issued time.Time
}

// authorization returns the authorization header's value for the current
// token, built once per token rather than once per push.
func (p *providerToken) authorization() ([]string, error) {
	jwt, err := p.get()
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.auth) == 0 || p.auth[0][len("bearer "):] != jwt {
		p.auth = []string{"bearer " + jwt}
	}
	return p.auth, nil
}

// get returns the current token, signing a new one when it is too old.
func (p *providerToken) get() (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock()
	if p.jwt != "" && now.Sub(p.issued) < tokenLifetime && !now.Before(p.issued) {
		return p.jwt, nil
	}
	jwt, err := p.sign(now)
	if err != nil {
		return "", err
	}
	p.jwt, p.issued = jwt, now
	return jwt, nil
}

func (p *providerToken) sign(now time.Time) (string, error) {
	header, _ := json.Marshal(map[string]string{"alg": "ES256", "kid": p.keyID})
	claims, _ := json.Marshal(map[string]any{"iss": p.teamID, "iat": now.Unix()})
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	digest := sha256.Sum256([]byte(signing))
	der, err := p.key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("apns: sign provider token: %w", err)
	}
	// JWS wants r and s as two 32-byte big-endian numbers, not ASN.1.
	var sig struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &sig); err != nil {
		return "", fmt.Errorf("apns: provider token signature: %w", err)
	}
	raw := make([]byte, 64)
	sig.R.FillBytes(raw[:32])
	sig.S.FillBytes(raw[32:])
	return signing + "." + enc.EncodeToString(raw), nil
}
