package memory

import (
	"context"
	"fmt"
	"slices"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
)

// appliedData holds policy.Applied records; guarded by Store.mu. The zero
// value is ready.
type appliedData struct {
	records map[deviceKey]policy.Applied
}

// AppliedPolicy implements ota.ReapplyStore and android.ReapplyStore.
func (s *Store) AppliedPolicy(ctx context.Context, org storage.OrgID, device string) (policy.Applied, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.applied.records[deviceKey{org, device}]
	if !ok {
		return policy.Applied{}, fmt.Errorf("applied policy of device %q: %w", device, storage.ErrNotFound)
	}
	return a, nil
}

// ApplyPolicy implements ota.ReapplyStore.
func (s *Store) ApplyPolicy(ctx context.Context, a policy.Applied, cmd *enroll.Command, e storage.AuditEntry) (policy.Applied, error) {
	if cmd != nil {
		if err := cmd.Validate(); err != nil {
			return policy.Applied{}, err
		}
	}
	return s.writeApplied(a, e, func(e storage.AuditEntry) (func(), error) {
		if cmd == nil {
			return func() {}, nil
		}
		if _, dup := s.queue.uuids[a.Org][cmd.UUID]; dup {
			return nil, fmt.Errorf("enqueue command %s: %w", cmd.UUID, storage.ErrAlreadyExists)
		}
		return func() {
			if s.queue.uuids[a.Org] == nil {
				s.queue.uuids[a.Org] = map[string]struct{}{}
			}
			s.queue.uuids[a.Org][cmd.UUID] = struct{}{}
			k := deviceKey{a.Org, a.Device}
			q := s.queue.queues[k]
			if q == nil {
				q = &deviceQueue{byUUID: map[string]*enroll.QueuedCommand{}}
				s.queue.queues[k] = q
			}
			c := &enroll.QueuedCommand{
				Org: a.Org, Device: a.Device, UUID: cmd.UUID, RequestType: cmd.RequestType, Body: slices.Clone(cmd.Body),
				Status: enroll.StatusPending, Queued: e.Time, Updated: e.Time,
			}
			q.cmds = append(q.cmds, c)
			q.byUUID[cmd.UUID] = c
		}, nil
	})
}

// ReapplyAndroidDevice implements android.ReapplyStore.
func (s *Store) ReapplyAndroidDevice(ctx context.Context, a policy.Applied, req *policy.Requirements, e storage.AuditEntry) (policy.Applied, error) {
	return s.writeApplied(a, e, func(storage.AuditEntry) (func(), error) {
		if req == nil {
			return func() {}, nil
		}
		d, ok := s.android.devices[a.Org][a.Device]
		if !ok {
			return nil, fmt.Errorf("android device %q: %w", a.Device, storage.ErrNotFound)
		}
		return func() {
			d.Policy, d.Requirements = a.Policy, *req
			s.android.devices[a.Org][a.Device] = d
		}, nil
	})
}

// writeApplied checks everything, then makes the platform's change (what
// check returns), the record and the audit entry under one lock.
func (s *Store) writeApplied(a policy.Applied, e storage.AuditEntry, check func(storage.AuditEntry) (func(), error)) (policy.Applied, error) {
	if err := a.Validate(); err != nil {
		return policy.Applied{}, err
	}
	e, err := rules.ChangeEntry(a.Org, e)
	if err != nil {
		return policy.Applied{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orgs[a.Org]; !ok {
		return policy.Applied{}, fmt.Errorf("applied policy: org %q: %w", a.Org, storage.ErrNotFound)
	}
	k := deviceKey{a.Org, a.Device}
	if cur := s.applied.records[k]; cur.Version != a.Version {
		return policy.Applied{}, fmt.Errorf("applied policy of device %q: version %d is not the stored one: %w", a.Device, a.Version, storage.ErrConflict)
	}
	apply, err := check(e)
	if err != nil {
		return policy.Applied{}, err
	}
	apply()
	a.Version, a.Updated = a.Version+1, e.Time
	a = a.Normalize()
	if s.applied.records == nil {
		s.applied.records = map[deviceKey]policy.Applied{}
	}
	s.applied.records[k] = a
	s.appendLocked(e)
	return a, nil
}

// DeviceEnrollSession implements ota.ReapplyStore.
func (s *Store) DeviceEnrollSession(ctx context.Context, org storage.OrgID, device string) (enroll.Session, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var first *enroll.Identity
	if device != "" { // unbound identities have no device
		for _, id := range s.ota.identities[org] {
			if id.Device == device && (first == nil || id.Issued.Before(first.Issued)) {
				first = &id
			}
		}
	}
	if first == nil {
		return enroll.Session{}, fmt.Errorf("identity of device %q: %w", device, storage.ErrNotFound)
	}
	se, ok := s.ota.sessions[org][first.Session]
	if !ok {
		return enroll.Session{}, fmt.Errorf("enrollment session %q: %w", first.Session, storage.ErrNotFound)
	}
	return copySession(se), nil
}
