package auth

import (
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/openomm/omm/storage"
)

// PIN policy bounds.
const (
	MinPINLength = 4
	MaxPINLength = 16
	// MaxPINFailures is how many consecutive wrong PINs lock the PIN; the
	// session is then revoked and the user signs in again with password
	// (and MFA).
	MaxPINFailures = 10
	maxPINDuration = 5 * 365 * 24 * time.Hour
)

// PINPolicy is an org's rule for the agent PIN.
type PINPolicy struct {
	// Length is the minimum PIN length, 4–16.
	Length int
	// Alphanumeric allows letters besides digits; otherwise the PIN is
	// numeric.
	Alphanumeric bool
	// AllowSimple allows trivial PINs (1111, 1234, 4321, 1212 …).
	AllowSimple bool
	// IdleTimeout is how long the app may be idle before the PIN is asked
	// again; 0 asks only at sign-in.
	IdleTimeout time.Duration
	// MaxAge is how long a PIN lasts before a new one must be set; 0 is
	// forever.
	MaxAge time.Duration
}

// DefaultPINPolicy is 4 numeric digits, no simple PINs, asked again after
// 15 idle minutes, never expiring.
func DefaultPINPolicy() PINPolicy {
	return PINPolicy{Length: 4, IdleTimeout: 15 * time.Minute}
}

// Validate checks the policy's bounds. Durations are kept in whole seconds.
func (p PINPolicy) Validate() error {
	switch {
	case p.Length < MinPINLength || p.Length > MaxPINLength:
		return fmt.Errorf("%w: PIN length %d, want %d–%d", storage.ErrInvalid, p.Length, MinPINLength, MaxPINLength)
	case p.IdleTimeout < 0 || p.IdleTimeout > maxPINDuration || p.IdleTimeout%time.Second != 0:
		return fmt.Errorf("%w: PIN idle timeout %v, want whole seconds up to 5 years", storage.ErrInvalid, p.IdleTimeout)
	case p.MaxAge < 0 || p.MaxAge > maxPINDuration || p.MaxAge%time.Second != 0:
		return fmt.Errorf("%w: PIN maximum age %v, want whole seconds up to 5 years", storage.ErrInvalid, p.MaxAge)
	}
	return nil
}

// Check reports whether pin is acceptable under the policy, wrapping
// ErrPINRejected with the reason when it is not.
func (p PINPolicy) Check(pin string) error {
	n := utf8.RuneCountInString(pin)
	if n < p.Length || n > MaxPINLength {
		return fmt.Errorf("%w: use %d–%d characters", ErrPINRejected, p.Length, MaxPINLength)
	}
	for _, c := range []byte(pin) {
		digit := c >= '0' && c <= '9'
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !digit && !(p.Alphanumeric && letter) {
			if p.Alphanumeric {
				return fmt.Errorf("%w: use only letters and digits", ErrPINRejected)
			}
			return fmt.Errorf("%w: use only digits", ErrPINRejected)
		}
	}
	if !p.AllowSimple && trivialPIN(pin) {
		return fmt.Errorf("%w: too simple (repeated, sequential or patterned)", ErrPINRejected)
	}
	return nil
}

// trivialPIN reports whether pin (ASCII, at least 2 characters) is one of
// the patterns guessed first: one repeated character (0000), a run up or
// down by one (1234, 4321, abcd), or a repeated pair (1212).
func trivialPIN(pin string) bool {
	if len(pin) < 2 {
		return true
	}
	step := int(pin[1]) - int(pin[0])
	run := step >= -1 && step <= 1
	pair := len(pin) > 2 && pin[0] != pin[1]
	for i := 2; i < len(pin); i++ {
		if int(pin[i])-int(pin[i-1]) != step {
			run = false
		}
		if pin[i] != pin[i-2] {
			pair = false
		}
	}
	return run || pair
}
