package memory

import (
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"time"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
)

// androidData holds the android package's records, keyed by org and ID.
type androidData struct {
	tokens   map[storage.OrgID]map[string]android.Token
	devices  map[storage.OrgID]map[string]android.Device
	commands map[storage.OrgID]map[string]android.Command
}

func androidPut[T any](m *map[storage.OrgID]map[string]T, org storage.OrgID, id string, v T) {
	if *m == nil {
		*m = map[storage.OrgID]map[string]T{}
	}
	if (*m)[org] == nil {
		(*m)[org] = map[string]T{}
	}
	(*m)[org][id] = v
}

// CreateAndroidToken implements android.Store.
func (s *Store) CreateAndroidToken(ctx context.Context, t android.Token, e storage.AuditEntry) (android.Token, error) {
	if err := t.Validate(); err != nil {
		return android.Token{}, err
	}
	e, err := rules.ChangeEntry(t.Org, e)
	if err != nil {
		return android.Token{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orgs[t.Org]; !ok {
		return android.Token{}, fmt.Errorf("create android token: org %q: %w", t.Org, storage.ErrNotFound)
	}
	if _, ok := s.android.tokens[t.Org][t.ID]; ok {
		return android.Token{}, fmt.Errorf("create android token: %w", storage.ErrAlreadyExists)
	}
	t.Uses, t.Created = 0, e.Time
	t = t.Normalize()
	androidPut(&s.android.tokens, t.Org, t.ID, t)
	s.appendLocked(e)
	return t, nil
}

// AndroidToken implements android.Store.
func (s *Store) AndroidToken(ctx context.Context, org storage.OrgID, id string) (android.Token, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.android.tokens[org][id]
	if !ok {
		return android.Token{}, fmt.Errorf("android token: %w", storage.ErrNotFound)
	}
	return t, nil
}

// UseAndroidToken implements android.Store.
func (s *Store) UseAndroidToken(ctx context.Context, org storage.OrgID, id string, at time.Time, e storage.AuditEntry) (android.Token, error) {
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return android.Token{}, err
	}
	if at.IsZero() {
		return android.Token{}, fmt.Errorf("%w: use time is zero", storage.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.android.tokens[org][id]
	if !ok {
		return android.Token{}, fmt.Errorf("use android token: %w", storage.ErrNotFound)
	}
	if !storage.Normalize(at).Before(t.Expires) {
		return android.Token{}, fmt.Errorf("use android token: expired: %w", storage.ErrConflict)
	}
	if t.OneTime && t.Uses > 0 {
		return android.Token{}, fmt.Errorf("use android token: already used: %w", storage.ErrConflict)
	}
	t.Uses++
	s.android.tokens[org][id] = t
	s.appendLocked(e)
	return t, nil
}

// CreateAndroidDevice implements android.Store.
func (s *Store) CreateAndroidDevice(ctx context.Context, d android.Device, e storage.AuditEntry) (android.Device, error) {
	if err := d.Validate(); err != nil {
		return android.Device{}, err
	}
	e, err := rules.ChangeEntry(d.Org, e)
	if err != nil {
		return android.Device{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orgs[d.Org]; !ok {
		return android.Device{}, fmt.Errorf("create android device: org %q: %w", d.Org, storage.ErrNotFound)
	}
	if _, ok := s.android.devices[d.Org][d.ID]; ok {
		return android.Device{}, fmt.Errorf("create android device %q: %w", d.ID, storage.ErrAlreadyExists)
	}
	d.Created = e.Time
	d = d.Normalize()
	androidPut(&s.android.devices, d.Org, d.ID, d)
	s.appendLocked(e)
	return d.Normalize(), nil
}

// AndroidDevice implements android.Store.
func (s *Store) AndroidDevice(ctx context.Context, org storage.OrgID, id string) (android.Device, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d, ok := s.android.devices[org][id]
	if !ok {
		return android.Device{}, fmt.Errorf("android device %q: %w", id, storage.ErrNotFound)
	}
	return d.Normalize(), nil // a copy of the hash
}

// CreateAndroidCommand implements android.Store.
func (s *Store) CreateAndroidCommand(ctx context.Context, c android.Command, e storage.AuditEntry) (android.Command, error) {
	if err := c.Validate(); err != nil {
		return android.Command{}, err
	}
	e, err := rules.ChangeEntry(c.Org, e)
	if err != nil {
		return android.Command{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.android.devices[c.Org][c.DeviceID]; !ok {
		return android.Command{}, fmt.Errorf("create android command: device %q: %w", c.DeviceID, storage.ErrNotFound)
	}
	if _, ok := s.android.commands[c.Org][c.ID]; ok {
		return android.Command{}, fmt.Errorf("create android command %q: %w", c.ID, storage.ErrAlreadyExists)
	}
	c.Created, c.Updated = e.Time, e.Time
	c = c.Normalize()
	androidPut(&s.android.commands, c.Org, c.ID, c)
	s.appendLocked(e)
	return c, nil
}

// AndroidCommand implements android.Store.
func (s *Store) AndroidCommand(ctx context.Context, org storage.OrgID, id string) (android.Command, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.android.commands[org][id]
	if !ok {
		return android.Command{}, fmt.Errorf("android command %q: %w", id, storage.ErrNotFound)
	}
	return c, nil
}

// PendingAndroidCommands implements android.Store.
func (s *Store) PendingAndroidCommands(ctx context.Context, org storage.OrgID, deviceID string) ([]android.Command, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []android.Command{}
	for _, c := range s.android.commands[org] {
		if c.DeviceID == deviceID && c.Status == android.StatusPending {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b android.Command) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// FinishAndroidCommand implements android.Store.
func (s *Store) FinishAndroidCommand(ctx context.Context, org storage.OrgID, id string, status android.Status, detail string, e storage.AuditEntry) (android.Command, error) {
	if err := android.CheckFinish(status, detail); err != nil {
		return android.Command{}, err
	}
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return android.Command{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.android.commands[org][id]
	if !ok {
		return android.Command{}, fmt.Errorf("finish android command %q: %w", id, storage.ErrNotFound)
	}
	if c.Status != android.StatusPending {
		return android.Command{}, fmt.Errorf("finish android command %q: it is %s: %w", id, c.Status, storage.ErrConflict)
	}
	c.Status, c.Detail, c.Updated = status, detail, e.Time
	s.android.commands[org][id] = c
	s.appendLocked(e)
	return c, nil
}

// SetAndroidCredential implements android.Store.
func (s *Store) SetAndroidCredential(ctx context.Context, org storage.OrgID, id string, hash []byte, e storage.AuditEntry) (android.Device, error) {
	if len(hash) != sha256.Size {
		return android.Device{}, fmt.Errorf("%w: credential hash must be %d bytes", storage.ErrInvalid, sha256.Size)
	}
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return android.Device{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.android.devices[org][id]
	if !ok {
		return android.Device{}, fmt.Errorf("set android credential %q: %w", id, storage.ErrNotFound)
	}
	d.CredentialHash = append([]byte(nil), hash...)
	s.android.devices[org][id] = d
	s.appendLocked(e)
	return d.Normalize(), nil
}
