package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/openomm/omm/storage"
)

// Throttle is the backoff after consecutive failures counted under one key.
// The first Free failures cost nothing; after that each attempt must wait
// Base, doubled for every further failure, at most Max, counted from the
// latest failure. A success clears the count; with Forget set, failures
// whose latest is older than Forget no longer count either.
type Throttle struct {
	Free int
	Base time.Duration
	Max  time.Duration
	// Forget lets failures lapse after this quiet time (0: never), for
	// counters no success clears (a client address's).
	Forget time.Duration
}

// DefaultThrottle allows 5 free failures, then waits 30 s, 1 min, 2 min …
// up to 15 min. Sign-in applies it per account and client address, MFA per
// account.
func DefaultThrottle() Throttle {
	return Throttle{Free: 5, Base: 30 * time.Second, Max: 15 * time.Minute}
}

// DefaultAccountThrottle is the sign-in backoff of an account over every
// client that has not signed in to it before: it stops guessing spread
// over many addresses, and leaves the account's own clients alone (see
// [Service.SignInFrom]).
func DefaultAccountThrottle() Throttle {
	return Throttle{Free: 20, Base: 30 * time.Second, Max: 15 * time.Minute}
}

// DefaultSourceThrottle is the sign-in backoff of one client address over
// every account of an org: it stops one address trying a password on many
// usernames. Its failures lapse after an hour without any.
func DefaultSourceThrottle() Throttle {
	return Throttle{Free: 50, Base: 30 * time.Second, Max: 15 * time.Minute, Forget: time.Hour}
}

// current returns the failures that still count at now.
func (t Throttle) current(f Failures, now time.Time) Failures {
	if t.Forget > 0 && !f.Last.IsZero() && now.Sub(f.Last) >= t.Forget {
		return Failures{}
	}
	return f
}

// Wait returns how long an attempt at now must still wait after f.
func (t Throttle) Wait(f Failures, now time.Time) time.Duration {
	f = t.current(f, now)
	if f.Count < t.Free {
		return 0
	}
	d := t.Max
	if shift := f.Count - t.Free; shift < 30 {
		d = min(t.Base<<shift, t.Max)
	}
	return max(f.Last.Add(d).Sub(now), 0)
}

// Next returns f after one more attempt at now: what a store keeps when it
// reserves the attempt (see [Store.ReserveAuthAttempt]).
func (t Throttle) Next(f Failures, now time.Time) Failures {
	f = t.current(f, now)
	return Failures{Count: f.Count + 1, Last: now}
}

// AttemptRule is one counter an attempt is reserved under, and its
// backoff.
type AttemptRule struct {
	Key      string
	Throttle Throttle
}

// reserve reserves an attempt under rules at now, before the (expensive)
// check it is for, so that parallel guesses cannot outrun the counters: a
// *ThrottledError when one of them says wait, else the counts with this
// attempt included.
func (s *Service) reserve(ctx context.Context, org storage.OrgID, now time.Time, rules ...AttemptRule) ([]Failures, error) {
	fs, wait, err := s.store.ReserveAuthAttempt(ctx, org, now, rules)
	if err != nil {
		return nil, fmt.Errorf("throttle: %w", err)
	}
	if wait > 0 {
		return nil, &ThrottledError{RetryAfter: wait}
	}
	return fs, nil
}

// clear forgets the failures of keys after a success.
func (s *Service) clear(ctx context.Context, org storage.OrgID, keys ...string) error {
	for _, k := range keys {
		if err := s.store.ClearAuthFailures(ctx, org, k); err != nil {
			return fmt.Errorf("throttle: %w", err)
		}
	}
	return nil
}

// hashKey shortens what a counter key is made of, whatever was typed.
func hashKey(prefix, s string) string {
	h := sha256.Sum256([]byte(s))
	return prefix + hex.EncodeToString(h[:16])
}
