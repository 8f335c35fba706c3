package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
)

const enrollmentColumns = `org_id, device, channel, user_enrollment, topic, token, push_magic, unlock_token,
	bootstrap_token, token_dead, enrolled, checked_out, updated`

func scanEnrollment(row pgx.Row) (enroll.Enrollment, error) {
	var e enroll.Enrollment
	var enrolled, checkedOut *time.Time
	err := row.Scan(&e.Org, &e.Device, &e.Channel, &e.UserEnrollment, &e.Topic, &e.Token, &e.PushMagic, &e.UnlockToken,
		&e.BootstrapToken, &e.TokenDead, &enrolled, &checkedOut, &e.Updated)
	if enrolled != nil {
		e.Enrolled = *enrolled
	}
	if checkedOut != nil {
		e.CheckedOut = *checkedOut
	}
	return e.Normalize(), err
}

// nullTime maps the zero time to NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// StartEnrollment implements enroll.EnrollmentStore.
func (s *Store) StartEnrollment(ctx context.Context, e enroll.Enrollment) (enroll.Enrollment, error) {
	if err := e.Validate(); err != nil {
		return enroll.Enrollment{}, err
	}
	e = enroll.Enrollment{Org: e.Org, Device: e.Device, Channel: e.Channel, UserEnrollment: e.UserEnrollment,
		Topic: e.Topic, Updated: e.Updated}.Normalize()
	_, err := s.pool.Exec(ctx, `INSERT INTO enroll_enrollments (`+enrollmentColumns+`)
		VALUES ($1, $2, $3, $4, $5, NULL, '', NULL, NULL, false, NULL, NULL, $6)
		ON CONFLICT (org_id, device) DO UPDATE SET channel = excluded.channel, user_enrollment = excluded.user_enrollment,
		topic = excluded.topic, token = NULL, push_magic = '', unlock_token = NULL, bootstrap_token = NULL,
		token_dead = false, enrolled = NULL, checked_out = NULL, updated = excluded.updated`,
		e.Org, e.Device, e.Channel, e.UserEnrollment, e.Topic, e.Updated)
	if violation(err, foreignKeyViolation) != nil {
		return enroll.Enrollment{}, fmt.Errorf("start enrollment: org %q: %w", e.Org, storage.ErrNotFound)
	}
	if err != nil {
		return enroll.Enrollment{}, fmt.Errorf("postgres: start enrollment: %w", err)
	}
	return e, nil
}

// Enrollment implements enroll.EnrollmentStore.
func (s *Store) Enrollment(ctx context.Context, org storage.OrgID, device string) (enroll.Enrollment, error) {
	e, err := scanEnrollment(s.pool.QueryRow(ctx, "SELECT "+enrollmentColumns+" FROM enroll_enrollments WHERE org_id = $1 AND device = $2", org, device))
	if err != nil {
		return enroll.Enrollment{}, notFound(err, "enrollment of %q", device)
	}
	return e, nil
}

// changeEnrollment reads the enrollment for update, lets fn change it, and
// stores the result.
func (s *Store) changeEnrollment(ctx context.Context, org storage.OrgID, device string, fn func(*enroll.Enrollment)) (enroll.Enrollment, error) {
	var e enroll.Enrollment
	err := s.write(ctx, func(tx pgx.Tx) error {
		var err error
		e, err = scanEnrollment(tx.QueryRow(ctx, "SELECT "+enrollmentColumns+" FROM enroll_enrollments WHERE org_id = $1 AND device = $2 FOR UPDATE", org, device))
		if err != nil {
			return notFound(err, "enrollment of %q", device)
		}
		fn(&e)
		e = e.Normalize()
		_, err = tx.Exec(ctx, `UPDATE enroll_enrollments SET topic = $1, token = $2, push_magic = $3, unlock_token = $4,
			bootstrap_token = $5, token_dead = $6, enrolled = $7, checked_out = $8, updated = $9 WHERE org_id = $10 AND device = $11`,
			e.Topic, e.Token, e.PushMagic, e.UnlockToken, e.BootstrapToken, e.TokenDead,
			nullTime(e.Enrolled), nullTime(e.CheckedOut), e.Updated, org, device)
		if err != nil {
			return fmt.Errorf("postgres: update enrollment: %w", err)
		}
		return nil
	})
	return e, err
}

// UpdateToken implements enroll.EnrollmentStore.
func (s *Store) UpdateToken(ctx context.Context, org storage.OrgID, device string, u enroll.TokenUpdate) (enroll.Enrollment, bool, error) {
	if err := u.Validate(); err != nil {
		return enroll.Enrollment{}, false, err
	}
	first := false
	e, err := s.changeEnrollment(ctx, org, device, func(e *enroll.Enrollment) { first = u.Apply(e) })
	return e, first, err
}

// SetBootstrapToken implements enroll.EnrollmentStore.
func (s *Store) SetBootstrapToken(ctx context.Context, org storage.OrgID, device string, token []byte, at time.Time) error {
	if len(token) > enroll.MaxBootstrapToken {
		return fmt.Errorf("%w: bootstrap token longer than %d bytes", storage.ErrInvalid, enroll.MaxBootstrapToken)
	}
	_, err := s.changeEnrollment(ctx, org, device, func(e *enroll.Enrollment) { e.BootstrapToken, e.Updated = token, at })
	return err
}

// CheckOut implements enroll.EnrollmentStore.
func (s *Store) CheckOut(ctx context.Context, org storage.OrgID, device string, at time.Time) error {
	_, err := s.changeEnrollment(ctx, org, device, func(e *enroll.Enrollment) { e.CheckedOut, e.Updated = at, at })
	return err
}

// MarkTokenDead implements enroll.EnrollmentStore.
func (s *Store) MarkTokenDead(ctx context.Context, org storage.OrgID, device string, token []byte, at time.Time) error {
	_, err := s.changeEnrollment(ctx, org, device, func(e *enroll.Enrollment) {
		if string(e.Token) == string(token) {
			e.TokenDead, e.Updated = true, at
		}
	})
	return err
}

// Enrollments implements enroll.EnrollmentStore.
func (s *Store) Enrollments(ctx context.Context, org storage.OrgID, devices []string) ([]enroll.Enrollment, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+enrollmentColumns+" FROM enroll_enrollments WHERE org_id = $1 AND device = ANY($2)", org, devices)
	if err != nil {
		return nil, fmt.Errorf("postgres: list enrollments: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (enroll.Enrollment, error) { return scanEnrollment(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list enrollments: %w", err)
	}
	if out == nil {
		out = []enroll.Enrollment{}
	}
	return out, nil
}
