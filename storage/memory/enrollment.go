package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
)

// StartEnrollment implements enroll.EnrollmentStore.
func (s *Store) StartEnrollment(ctx context.Context, e enroll.Enrollment) (enroll.Enrollment, error) {
	if err := e.Validate(); err != nil {
		return enroll.Enrollment{}, err
	}
	e = e.Normalize()
	e.Enrolled, e.CheckedOut, e.TokenDead = time.Time{}, time.Time{}, false
	e.Token, e.PushMagic, e.UnlockToken, e.BootstrapToken = nil, "", nil, nil
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orgs[e.Org]; !ok {
		return enroll.Enrollment{}, fmt.Errorf("start enrollment: org %q: %w", e.Org, storage.ErrNotFound)
	}
	if s.enrollments == nil {
		s.enrollments = map[deviceKey]enroll.Enrollment{}
	}
	s.enrollments[deviceKey{e.Org, e.Device}] = e
	return e.Normalize(), nil
}

// Enrollment implements enroll.EnrollmentStore.
func (s *Store) Enrollment(ctx context.Context, org storage.OrgID, device string) (enroll.Enrollment, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.enrollments[deviceKey{org, device}]
	if !ok {
		return enroll.Enrollment{}, fmt.Errorf("enrollment of %q: %w", device, storage.ErrNotFound)
	}
	return e.Normalize(), nil
}

// changeEnrollment applies fn to the stored enrollment under the lock.
func (s *Store) changeEnrollment(org storage.OrgID, device string, fn func(*enroll.Enrollment)) (enroll.Enrollment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := deviceKey{org, device}
	e, ok := s.enrollments[k]
	if !ok {
		return enroll.Enrollment{}, fmt.Errorf("enrollment of %q: %w", device, storage.ErrNotFound)
	}
	fn(&e)
	e = e.Normalize()
	s.enrollments[k] = e
	return e.Normalize(), nil
}

// UpdateToken implements enroll.EnrollmentStore.
func (s *Store) UpdateToken(ctx context.Context, org storage.OrgID, device string, u enroll.TokenUpdate) (enroll.Enrollment, bool, error) {
	if err := u.Validate(); err != nil {
		return enroll.Enrollment{}, false, err
	}
	first := false
	e, err := s.changeEnrollment(org, device, func(e *enroll.Enrollment) { first = u.Apply(e) })
	return e, first, err
}

// SetBootstrapToken implements enroll.EnrollmentStore.
func (s *Store) SetBootstrapToken(ctx context.Context, org storage.OrgID, device string, token []byte, at time.Time) error {
	if len(token) > enroll.MaxBootstrapToken {
		return fmt.Errorf("%w: bootstrap token longer than %d bytes", storage.ErrInvalid, enroll.MaxBootstrapToken)
	}
	_, err := s.changeEnrollment(org, device, func(e *enroll.Enrollment) { e.BootstrapToken, e.Updated = token, at })
	return err
}

// CheckOut implements enroll.EnrollmentStore.
func (s *Store) CheckOut(ctx context.Context, org storage.OrgID, device string, at time.Time) error {
	_, err := s.changeEnrollment(org, device, func(e *enroll.Enrollment) { e.CheckedOut, e.Updated = at, at })
	return err
}

// MarkTokenDead implements enroll.EnrollmentStore.
func (s *Store) MarkTokenDead(ctx context.Context, org storage.OrgID, device string, token []byte, at time.Time) error {
	_, err := s.changeEnrollment(org, device, func(e *enroll.Enrollment) {
		if slices.Equal(e.Token, token) {
			e.TokenDead, e.Updated = true, at
		}
	})
	return err
}

// Enrollments implements enroll.EnrollmentStore.
func (s *Store) Enrollments(ctx context.Context, org storage.OrgID, devices []string) ([]enroll.Enrollment, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []enroll.Enrollment{}
	for _, d := range devices {
		if e, ok := s.enrollments[deviceKey{org, d}]; ok {
			out = append(out, e.Normalize())
		}
	}
	return out, nil
}
