package ota

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"github.com/openomm/omm/profile"
	"github.com/openomm/omm/storage"
)

// A policy profile holds only what the org's rules require, so every
// device under the same rules gets the same bytes. Signing them once,
// rather than once per enrollment and once per device a policy change
// reaches, saves a CA private-key operation per device: a change that
// reaches 10,000 devices costs one signature, not 10,000.
const (
	// policyCacheTTL bounds how old a cached signature (its signing time)
	// can be when it is handed out.
	policyCacheTTL = time.Hour
	// policyCacheMax bounds the cache; an org has a few policies, and a
	// full cache is simply emptied.
	policyCacheMax = 1024
)

type policyKey struct {
	org storage.OrgID
	sum [sha256.Size]byte // of the encoded, unsigned profile
}

type policyEntry struct {
	signer *profile.Signer
	signed []byte
	at     time.Time
}

// policyCache is the signed policy profiles by org and content.
type policyCache struct {
	mu      sync.Mutex
	entries map[policyKey]policyEntry
}

// signPolicy encodes and signs p with org's signer, or returns the
// signature made earlier for the same content by the same signer within
// policyCacheTTL.
func (s *Service) signPolicy(ctx context.Context, org storage.OrgID, p *profile.Profile) ([]byte, error) {
	encoded, err := p.Encode()
	if err != nil {
		return nil, fmt.Errorf("ota: policy profile: %w", err)
	}
	signer, err := s.signer(ctx, org)
	if err != nil {
		return nil, err
	}
	key := policyKey{org: org, sum: sha256.Sum256(encoded)}
	now := s.now()
	c := &s.policies
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && e.signer == signer && now.Sub(e.at) >= 0 && now.Sub(e.at) < policyCacheTTL {
		return bytes.Clone(e.signed), nil
	}
	signed, err := signer.Sign(encoded)
	if err != nil {
		return nil, fmt.Errorf("ota: policy profile: %w", err)
	}
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= policyCacheMax {
		c.entries = make(map[policyKey]policyEntry)
	}
	c.entries[key] = policyEntry{signer: signer, signed: signed, at: now}
	c.mu.Unlock()
	return bytes.Clone(signed), nil
}
