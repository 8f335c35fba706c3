package memory

import (
	"context"
	"fmt"
	"slices"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
)

// queueData is the command queue's state; guarded by Store.mu.
type queueData struct {
	uuids  map[storage.OrgID]map[string]struct{}
	queues map[deviceKey]*deviceQueue
}

// deviceQueue is one device's commands. A device's history only grows, so
// the answered head is skipped by index and commands are found by UUID
// through a map: a check-in costs the same after a thousand commands.
type deviceQueue struct {
	cmds      []*enroll.QueuedCommand // in queue order
	firstOpen int                     // cmds[:firstOpen] are all final
	byUUID    map[string]*enroll.QueuedCommand
}

// advance moves firstOpen past the final commands at the head.
func (q *deviceQueue) advance() {
	for q.firstOpen < len(q.cmds) && !q.cmds[q.firstOpen].Status.Open() {
		q.firstOpen++
	}
}

type deviceKey struct {
	org    storage.OrgID
	device string
}

func newQueueData() queueData {
	return queueData{uuids: map[storage.OrgID]map[string]struct{}{}, queues: map[deviceKey]*deviceQueue{}}
}

// copyCommand returns a copy a caller may keep.
func copyCommand(q *enroll.QueuedCommand) enroll.QueuedCommand {
	c := *q
	c.Body = slices.Clone(q.Body)
	return c
}

// EnqueueCommand implements enroll.CommandQueue.
func (s *Store) EnqueueCommand(ctx context.Context, org storage.OrgID, devices []string, cmd enroll.Command, e storage.AuditEntry) error {
	if err := cmd.Validate(); err != nil {
		return err
	}
	if err := enroll.ValidateDevices(devices); err != nil {
		return err
	}
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enqueueLocked(org, devices, cmd, e)
}

// NextCommand implements enroll.CommandQueue.
func (s *Store) NextCommand(ctx context.Context, org storage.OrgID, device string, opt enroll.NextOptions) (enroll.QueuedCommand, error) {
	opt = opt.Normalize()
	s.mu.Lock()
	defer s.mu.Unlock()
	dq := s.queue.queues[deviceKey{org, device}]
	if dq == nil {
		return enroll.QueuedCommand{}, fmt.Errorf("next command for %q: %w", device, storage.ErrNotFound)
	}
	defer dq.advance()
	for _, q := range dq.cmds[dq.firstOpen:] {
		if !q.Status.Open() || opt.SkipNotNow && q.Status == enroll.StatusNotNow {
			continue
		}
		if why := opt.AbandonReason(*q); why != "" {
			q.Status, q.Detail, q.Updated = enroll.StatusAbandoned, why, opt.Now
			continue
		}
		q.Deliveries++
		q.Updated = opt.Now
		return copyCommand(q), nil
	}
	return enroll.QueuedCommand{}, fmt.Errorf("next command for %q: %w", device, storage.ErrNotFound)
}

// RecordOutcome implements enroll.CommandQueue.
func (s *Store) RecordOutcome(ctx context.Context, org storage.OrgID, device string, o enroll.Outcome) (enroll.QueuedCommand, bool, error) {
	if err := o.Validate(); err != nil {
		return enroll.QueuedCommand{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dq := s.queue.queues[deviceKey{org, device}]
	var q *enroll.QueuedCommand
	if dq != nil {
		q = dq.byUUID[o.UUID]
	}
	if q == nil {
		return enroll.QueuedCommand{}, false, fmt.Errorf("command %s for %q: %w", o.UUID, device, storage.ErrNotFound)
	}
	if !q.Status.Open() {
		return copyCommand(q), false, nil
	}
	q.Status, q.Detail, q.Updated = o.Status, o.Detail, storage.Normalize(o.Time)
	dq.advance()
	return copyCommand(q), true, nil
}

// ClearQueue implements enroll.CommandQueue.
func (s *Store) ClearQueue(ctx context.Context, org storage.OrgID, device string, e storage.AuditEntry) (int, error) {
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orgs[org]; !ok {
		return 0, fmt.Errorf("clear queue: org %q: %w", org, storage.ErrNotFound)
	}
	n := 0
	if dq := s.queue.queues[deviceKey{org, device}]; dq != nil {
		for _, q := range dq.cmds[dq.firstOpen:] {
			if q.Status.Open() {
				q.Status, q.Detail, q.Updated = enroll.StatusAbandoned, enroll.ClearedDetail, e.Time
				n++
			}
		}
		dq.advance()
	}
	s.appendLocked(e)
	return n, nil
}

// Commands implements enroll.CommandQueue.
func (s *Store) Commands(ctx context.Context, org storage.OrgID, device string, limit int) ([]enroll.QueuedCommand, error) {
	limit, err := enroll.ListLimit(limit)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []enroll.QueuedCommand{}
	if dq := s.queue.queues[deviceKey{org, device}]; dq != nil {
		for i := len(dq.cmds) - 1; i >= 0 && len(out) < limit; i-- {
			out = append(out, copyCommand(dq.cmds[i]))
		}
	}
	return out, nil
}
