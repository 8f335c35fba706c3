package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/openomm/omm/storage"
)

// Throttle is the backoff after consecutive failures of one account (its
// sign-ins; separately, its MFA codes). The first Free failures cost
// nothing; after that each attempt must wait Base, doubled for every
// further failure, at most Max, counted from the latest failure. A success
// clears the count.
//
// The count is kept per org and account, not per IP address: an attacker
// spreading guesses over many addresses gains nothing. It is kept for
// usernames that do not exist too, so that throttling answers alike for
// every username and reveals nothing.
type Throttle struct {
	Free int
	Base time.Duration
	Max  time.Duration
}

// DefaultThrottle allows 5 free failures, then waits 30 s, 1 min, 2 min …
// up to 15 min.
func DefaultThrottle() Throttle {
	return Throttle{Free: 5, Base: 30 * time.Second, Max: 15 * time.Minute}
}

// Wait returns how long an attempt at now must still wait after f.
func (t Throttle) Wait(f Failures, now time.Time) time.Duration {
	if f.Count < t.Free {
		return 0
	}
	d := t.Max
	if shift := f.Count - t.Free; shift < 30 {
		d = min(t.Base<<shift, t.Max)
	}
	return max(f.Last.Add(d).Sub(now), 0)
}

// checkThrottle returns a *ThrottledError when key must still wait.
func (s *Service) checkThrottle(ctx context.Context, org storage.OrgID, key string, now time.Time) error {
	f, err := s.store.AuthFailures(ctx, org, key)
	if err != nil {
		return fmt.Errorf("throttle: %w", err)
	}
	if wait := s.cfg.throttle.Wait(f, now); wait > 0 {
		return &ThrottledError{RetryAfter: wait}
	}
	return nil
}
