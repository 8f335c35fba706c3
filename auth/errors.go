package auth

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors of the sign-in flow. Check them with errors.Is; the HTTP
// adapter maps each to a stable error code (in brackets).
var (
	// ErrUnknownSite: the site name names no org [unknown_site].
	ErrUnknownSite = errors.New("unknown site")
	// ErrInvalidCredentials: wrong username or password, or a user who may
	// not sign in. The same error for every such case, so that it does not
	// reveal whether the user exists [invalid_credentials].
	ErrInvalidCredentials = errors.New("invalid username or password")
	// ErrThrottled: too many recent failures; the error is a
	// *[ThrottledError] that says when to retry [throttled].
	ErrThrottled = errors.New("too many failed attempts")
	// ErrInvalidSession: missing, malformed, unknown, expired or revoked
	// session token; sign in again [invalid_session].
	ErrInvalidSession = errors.New("invalid or expired session")
	// ErrMFARequired: the session must pass MFA first [mfa_required].
	ErrMFARequired = errors.New("multi-factor authentication required")
	// ErrInvalidCode: a wrong, expired or already used MFA code
	// [invalid_code].
	ErrInvalidCode = errors.New("invalid or expired code")
	// ErrNoFactor: the user has no factor of the requested kind (no phone
	// number, no confirmed TOTP) [factor_unavailable].
	ErrNoFactor = errors.New("factor not available")
	// ErrFactorExists: the user already has a confirmed TOTP factor
	// [factor_exists].
	ErrFactorExists = errors.New("factor already enrolled")
	// ErrPINSetupRequired: the session must set its agent PIN first
	// [pin_setup_required].
	ErrPINSetupRequired = errors.New("agent PIN must be set")
	// ErrPINRequired: the app was idle; verify the agent PIN [pin_required].
	ErrPINRequired = errors.New("agent PIN required")
	// ErrPINExpired: the agent PIN is older than the policy allows; set a
	// new one [pin_expired].
	ErrPINExpired = errors.New("agent PIN expired")
	// ErrInvalidPIN: wrong PIN [invalid_pin].
	ErrInvalidPIN = errors.New("wrong PIN")
	// ErrPINLocked: too many wrong PINs; the session is revoked, sign in
	// again with password (and MFA) [pin_locked].
	ErrPINLocked = errors.New("agent PIN locked")
	// ErrPINRejected: the new PIN breaks the org's PIN policy, or does not
	// match its confirmation [pin_rejected].
	ErrPINRejected = errors.New("PIN not acceptable")
	// ErrWrongState: the call does not fit the session's state (setting a
	// PIN before MFA, say) [wrong_state].
	ErrWrongState = errors.New("not allowed in this session state")
	// ErrBadRequest: malformed input [invalid_request].
	ErrBadRequest = errors.New("invalid request")
	// ErrUserInactive: the user is deactivated, or unknown to the
	// directory: no enrollment step proceeds for them, whatever credential
	// they hold.
	ErrUserInactive = errors.New("user is not active")
)

// ThrottledError says how long to wait before the next attempt. It matches
// ErrThrottled with errors.Is.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("%v: retry in %v", ErrThrottled, e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrThrottled) true.
func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }
