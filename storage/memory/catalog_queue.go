package memory

import (
	"context"
	"fmt"
	"slices"

	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
)

// QueueInstall implements catalog.InstallQueuer: the install record and
// its command change together, or neither does.
func (s *Store) QueueInstall(ctx context.Context, in catalog.Install, prevCommand string, cmd enroll.Command, e, qe storage.AuditEntry) (catalog.Install, error) {
	if err := catalog.ValidateStart(in, prevCommand); err != nil {
		return catalog.Install{}, err
	}
	if err := cmd.Validate(); err != nil {
		return catalog.Install{}, err
	}
	e, err := rules.ChangeEntry(in.Org, e)
	if err != nil {
		return catalog.Install{}, err
	}
	if qe, err = rules.ChangeEntry(in.Org, qe); err != nil {
		return catalog.Install{}, err
	}
	in.Updated = e.Time
	s.mu.Lock()
	defer s.mu.Unlock()
	// What could refuse the command is checked before the record changes.
	if _, ok := s.orgs[in.Org]; !ok {
		return catalog.Install{}, fmt.Errorf("enqueue command: org %q: %w", in.Org, storage.ErrNotFound)
	}
	if _, dup := s.queue.uuids[in.Org][cmd.UUID]; dup {
		return catalog.Install{}, fmt.Errorf("enqueue command %s: %w", cmd.UUID, storage.ErrAlreadyExists)
	}
	if err := s.startInstallLocked(in, prevCommand, e); err != nil {
		return catalog.Install{}, err
	}
	if err := s.enqueueLocked(in.Org, []string{in.Device}, cmd, qe); err != nil {
		return catalog.Install{}, fmt.Errorf("memory: queue install: %w", err) // checked above: unreachable
	}
	return in, nil
}

// startInstallLocked is StartInstall under s.mu, validated arguments given.
func (s *Store) startInstallLocked(in catalog.Install, prevCommand string, e storage.AuditEntry) error {
	if _, ok := s.catalog.apps[in.Org][in.AppID]; !ok {
		return fmt.Errorf("install app %q: %w", in.AppID, storage.ErrNotFound)
	}
	byApp := s.catalog.installs[in.Org][in.Device]
	if stored := byApp[in.AppID]; stored.Command != prevCommand {
		return fmt.Errorf("install app %q on %q: the latest request is %q, not %q: %w", in.AppID, in.Device, stored.Command, prevCommand, storage.ErrConflict)
	}
	for _, r := range byApp {
		if r.Command == in.Command {
			return fmt.Errorf("install app %q on %q: command %q: %w", in.AppID, in.Device, in.Command, storage.ErrAlreadyExists)
		}
	}
	if byApp == nil {
		byApp = map[string]catalog.Install{}
		s.catalog.installs[in.Org][in.Device] = byApp
	}
	byApp[in.AppID] = in
	s.appendLocked(e)
	return nil
}

// enqueueLocked is EnqueueCommand under s.mu, validated arguments given.
func (s *Store) enqueueLocked(org storage.OrgID, devices []string, cmd enroll.Command, e storage.AuditEntry) error {
	if _, ok := s.orgs[org]; !ok {
		return fmt.Errorf("enqueue command: org %q: %w", org, storage.ErrNotFound)
	}
	if _, dup := s.queue.uuids[org][cmd.UUID]; dup {
		return fmt.Errorf("enqueue command %s: %w", cmd.UUID, storage.ErrAlreadyExists)
	}
	if s.queue.uuids[org] == nil {
		s.queue.uuids[org] = map[string]struct{}{}
	}
	s.queue.uuids[org][cmd.UUID] = struct{}{}
	body := slices.Clone(cmd.Body) // shared by the fan-out, never handed out
	for _, d := range devices {
		k := deviceKey{org, d}
		q := s.queue.queues[k]
		if q == nil {
			q = &deviceQueue{byUUID: map[string]*enroll.QueuedCommand{}}
			s.queue.queues[k] = q
		}
		c := &enroll.QueuedCommand{
			Org: org, Device: d, UUID: cmd.UUID, RequestType: cmd.RequestType, Body: body,
			Status: enroll.StatusPending, Queued: e.Time, Updated: e.Time,
		}
		q.cmds = append(q.cmds, c)
		q.byUUID[cmd.UUID] = c
	}
	s.appendLocked(e)
	return nil
}
