package android

import "errors"

var (
	// ErrDenied: the policy decision refuses enrollment; the error text
	// carries the decision's reasons.
	ErrDenied = errors.New("android: enrollment denied by policy")
	// ErrToken: the enrollment token is unknown, expired or used up. The
	// three are not told apart, so that a guesser learns nothing.
	ErrToken = errors.New("android: enrollment token not valid")
	// ErrCredential: the device credential is malformed, unknown or does
	// not match; also for a device that is no longer enrolled.
	ErrCredential = errors.New("android: device credential not valid")
	// ErrNotPermitted: the command is not possible for this device (its
	// state or enrollment channel).
	ErrNotPermitted = errors.New("android: not permitted for this device")
	// ErrNoProvider: a work-profile or fully managed enrollment needs an
	// Android Management API provider and none was configured.
	ErrNoProvider = errors.New("android: no Android Management API provider configured")
)
