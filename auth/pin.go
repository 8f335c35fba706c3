package auth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/openomm/omm/events"

	"github.com/openomm/omm/storage"
)

// SetPIN sets the agent PIN of the session: pin and confirm must match and
// meet the org's [PINPolicy] (ErrPINRejected says why not). It completes
// sign-in for a session in StatePINSetup, and changes the PIN of an active
// session that is unlocked (after [Service.VerifyPIN] when idle, or when
// the PIN expired). The PIN is stored as an argon2id hash.
func (s *Service) SetPIN(ctx context.Context, token, pin, confirm string) (Session, error) {
	sess, _, rule, err := s.load(ctx, token)
	if err != nil {
		return Session{}, err
	}
	now := s.cfg.clock()
	switch sess.State {
	case StateMFA:
		return Session{}, ErrMFARequired
	case StateActive:
		if err := s.gate(sess, rule, now); err != nil && !errors.Is(err, ErrPINExpired) {
			return Session{}, err
		}
	}
	if pin != confirm {
		return Session{}, fmt.Errorf("%w: the PIN and its confirmation differ", ErrPINRejected)
	}
	if err := rule.PIN.Check(pin); err != nil {
		return Session{}, err
	}
	action := ActionPINChange
	if sess.State == StatePINSetup {
		action = ActionPINSet
		sess.Expires = sess.Created.Add(s.cfg.sessionMax)
	}
	var hash string
	if err := s.slots.run(ctx, func() { hash = s.cfg.pin.hash(pin) }); err != nil {
		return Session{}, err
	}
	sess.State, sess.PINHash, sess.PINSet = StateActive, hash, now
	updated, err := s.advance(ctx, sess, action, nil, true)
	if err != nil {
		return Session{}, err
	}
	if err := s.clear(ctx, sess.Org, pinKey(sess)); err != nil {
		return Session{}, fmt.Errorf("set PIN: %w", err)
	}
	if err := s.store.TouchSession(ctx, sess.Org, sess.ID, now); err != nil {
		return Session{}, fmt.Errorf("set PIN: %w", err)
	}
	updated.LastUsed = storage.Normalize(now)
	return updated, nil
}

// VerifyPIN unlocks an active session with its agent PIN. A wrong PIN yields
// ErrInvalidPIN; the MaxPINFailures-th consecutive one revokes the session
// and yields ErrPINLocked, after which the user signs in again with
// password (and MFA). Each attempt is counted before the PIN is checked,
// so that parallel guesses get no more than MaxPINFailures checks between
// them. The lockout is the session's own: only its holder can guess, and
// nobody else can lock it. A right PIN rotates the session's token (the
// result's Token). Every outcome is audited: auth.pin.unlock,
// auth.pin.failure, auth.pin.locked.
func (s *Service) VerifyPIN(ctx context.Context, token, pin string) (Session, error) {
	sess, _, _, err := s.load(ctx, token)
	if err != nil {
		return Session{}, err
	}
	switch sess.State {
	case StateMFA:
		return Session{}, ErrMFARequired
	case StatePINSetup:
		return Session{}, ErrPINSetupRequired
	}
	now := s.cfg.clock()
	key := pinKey(sess)
	fs, err := s.reserve(ctx, sess.Org, now, AttemptRule{Key: key, Throttle: pinThrottle})
	if errors.Is(err, ErrThrottled) { // locked, but the revocation did not land
		return Session{}, s.lockPIN(ctx, sess, MaxPINFailures)
	}
	if err != nil {
		return Session{}, fmt.Errorf("verify PIN: %w", err)
	}
	ok := false
	if len(pin) <= MaxPINLength {
		if serr := s.slots.run(ctx, func() { ok, _, err = s.cfg.pin.verify(sess.PINHash, pin) }); serr != nil {
			return Session{}, serr
		}
		if err != nil {
			return Session{}, fmt.Errorf("verify PIN: %w", err)
		}
	}
	if !ok {
		if _, err := s.store.AppendAudit(ctx, s.sessionEntry(sess, ActionPINFailure, nil)); err != nil {
			return Session{}, fmt.Errorf("verify PIN: %w", err)
		}
		if fs[0].Count >= MaxPINFailures {
			return Session{}, s.lockPIN(ctx, sess, fs[0].Count)
		}
		return Session{}, ErrInvalidPIN
	}
	// The unlock is audited in the same write as a session update, so
	// that an unlock whose record cannot be written does not happen.
	sess, err = s.advance(ctx, sess, ActionPINUnlock, nil, true)
	if err != nil {
		return Session{}, fmt.Errorf("verify PIN: %w", err)
	}
	if err := s.clear(ctx, sess.Org, key); err != nil {
		return Session{}, fmt.Errorf("verify PIN: %w", err)
	}
	// Unlocking is activity: record it now, whatever touchEvery says, so
	// that the idle timeout restarts.
	if err := s.store.TouchSession(ctx, sess.Org, sess.ID, now); err != nil {
		return Session{}, fmt.Errorf("verify PIN: %w", err)
	}
	sess.LastUsed = storage.Normalize(now)
	return sess, nil
}

// pinThrottle lets MaxPINFailures attempts through and then none: the
// session is locked (revoked) by then.
var pinThrottle = Throttle{Free: MaxPINFailures, Base: pinLocked, Max: pinLocked}

// pinLocked is "for ever" as a throttle's wait.
const pinLocked = 100 * 365 * 24 * time.Hour

// lockPIN revokes the session after too many wrong PINs.
func (s *Service) lockPIN(ctx context.Context, sess Session, failures int) error {
	e := s.sessionEntry(sess, ActionPINLocked, map[string]string{"failures": strconv.Itoa(failures)})
	e.Event = events.SecurityLockout
	err := s.store.RevokeSession(ctx, sess.Org, sess.ID, e)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("lock PIN: %w", err)
	}
	s.cfg.log.WarnContext(ctx, "auth: agent PIN locked, session revoked", "org", sess.Org, "session", sess.ID)
	return ErrPINLocked
}

func pinKey(sess Session) string { return "pin:" + sess.ID }
