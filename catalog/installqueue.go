package catalog

import (
	"context"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
)

// InstallQueuer records an install and queues its command in one
// transaction. Doing it in two would let a crash between them leave a
// record waiting for a command nobody queued: the store would show the app
// installing forever and refuse to install it again. The catalog's [Store]
// therefore also holds the MDM command queue; every backend of this module
// does.
type InstallQueuer interface {
	// QueueInstall does [Store.StartInstall] of in and EnqueueCommand of
	// cmd for in.Device in one transaction: both happen, each with its
	// audit entry, or neither does. Its errors are theirs: ErrConflict for
	// a stale prevCommand, ErrAlreadyExists for a command UUID queued or
	// recorded before, ErrNotFound for an unknown app or org, ErrInvalid
	// for bad input.
	QueueInstall(ctx context.Context, in Install, prevCommand string, cmd enroll.Command, entry, queueEntry storage.AuditEntry) (Install, error)
}
