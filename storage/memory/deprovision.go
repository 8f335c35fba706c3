package memory

import (
	"context"
	"fmt"

	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
)

// QueueDeviceAction implements checkin.ActionStore: everything that could
// refuse the action is checked under the lock before anything changes.
func (s *Store) QueueDeviceAction(ctx context.Context, a checkin.DeviceAction) (inventory.Device, error) {
	a, err := actionEntries(a)
	if err != nil {
		return inventory.Device{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.invDeviceLocked(a.Org, a.Device)
	if !ok {
		return inventory.Device{}, fmt.Errorf("device action on %q: %w", a.Device, storage.ErrNotFound)
	}
	if err := a.CheckState(r.d.State); err != nil {
		return inventory.Device{}, err
	}
	for _, c := range a.Commands {
		if _, dup := s.queue.uuids[a.Org][c.Command.UUID]; dup {
			return inventory.Device{}, fmt.Errorf("enqueue command %s: %w", c.Command.UUID, storage.ErrAlreadyExists)
		}
	}
	if a.To != "" && a.To != r.d.State {
		r.d.State = a.To
		r.d.Version++
		r.d.Updated = a.StateEntry.Time
		if a.To.Terminal() {
			r.values = map[inventory.Key]inventory.Value{}
			r.apps = nil
		}
		s.appendLocked(a.StateEntry)
	}
	for _, c := range a.Commands {
		if err := s.enqueueLocked(a.Org, []string{a.Device}, c.Command, c.Entry); err != nil {
			return inventory.Device{}, fmt.Errorf("memory: device action: %w", err) // checked above: unreachable
		}
	}
	return r.d, nil
}

// actionEntries validates a and returns it with its audit entries as
// stored.
func actionEntries(a checkin.DeviceAction) (checkin.DeviceAction, error) {
	if err := a.Validate(); err != nil {
		return a, err
	}
	var err error
	if a.To != "" {
		if a.StateEntry, err = rules.ChangeEntry(a.Org, a.StateEntry); err != nil {
			return a, err
		}
	}
	cmds := make([]checkin.ActionCommand, len(a.Commands))
	for i, c := range a.Commands {
		if c.Entry, err = rules.ChangeEntry(a.Org, c.Entry); err != nil {
			return a, err
		}
		cmds[i] = c
	}
	a.Commands = cmds
	return a, nil
}
