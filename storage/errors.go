package storage

import "errors"

// Sentinel errors returned (wrapped) by every store. Check them with
// errors.Is; the wrapping message says which record and why.
var (
	// ErrNotFound: no such record in this org. A record that exists in
	// another org is reported the same way.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a record with the same identifier or unique name
	// exists.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict: the record changed since it was read (its Version no
	// longer matches); re-read and retry.
	ErrConflict = errors.New("conflict: record changed concurrently")
	// ErrInvalid: the input breaks a documented rule (empty, malformed or
	// oversize field). Nothing was stored.
	ErrInvalid = errors.New("invalid input")
	// ErrLimit: a limit on how many open records one user may hold (see
	// the store method's contract) is reached. Nothing was stored.
	ErrLimit = errors.New("limit reached")
)
