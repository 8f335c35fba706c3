package catalog

import (
	"context"
	"reflect"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
)

// InstallQueuer is implemented by a Store that also holds the MDM command
// queue (every backend of this module does). Recording an install and
// queueing its command in two transactions would let a crash between them
// leave a record waiting for a command nobody queued: the store would show
// the app installing forever and refuse to install it again.
type InstallQueuer interface {
	// QueueInstall does [Store.StartInstall] of in and EnqueueCommand of
	// cmd for in.Device in one transaction: both happen, each with its
	// audit entry, or neither does. Its errors are theirs: ErrConflict for
	// a stale prevCommand, ErrAlreadyExists for a command UUID queued or
	// recorded before, ErrNotFound for an unknown app or org, ErrInvalid
	// for bad input.
	QueueInstall(ctx context.Context, in Install, prevCommand string, cmd enroll.Command, entry, queueEntry storage.AuditEntry) (Install, error)
}

// installQueuer returns the store as an InstallQueuer when it is also the
// service's command queue, so that the command lands where devices fetch
// them; otherwise nil.
func (s *Service) installQueuer() InstallQueuer {
	iq, ok := s.store.(InstallQueuer)
	if !ok || s.queue == nil {
		return nil
	}
	a, b := reflect.ValueOf(s.store), reflect.ValueOf(s.queue)
	if a.Type() != b.Type() || !a.Comparable() || !a.Equal(b) {
		return nil
	}
	return iq
}
