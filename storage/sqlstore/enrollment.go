package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
)

const enrollmentColumns = `org_id, device, channel, user_enrollment, topic, token, push_magic, unlock_token,
	bootstrap_token, token_dead, enrolled_us, checked_out_us, updated_us`

func scanEnrollment(row rowScanner) (enroll.Enrollment, error) {
	var e enroll.Enrollment
	err := row.Scan(&e.Org, &e.Device, &e.Channel, &e.UserEnrollment, &e.Topic, &e.Token, &e.PushMagic, &e.UnlockToken,
		&e.BootstrapToken, &e.TokenDead, us{&e.Enrolled}, us{&e.CheckedOut}, us{&e.Updated})
	return e.Normalize(), err
}

// StartEnrollment implements enroll.EnrollmentStore.
func (s *Store) StartEnrollment(ctx context.Context, e enroll.Enrollment) (enroll.Enrollment, error) {
	if err := e.Validate(); err != nil {
		return enroll.Enrollment{}, err
	}
	e = startedEnrollment(e)
	err := s.write(ctx, func(tx tx) error { return tx.startEnrollment(ctx, e) })
	return e, err
}

// startEnrollment stores e, as StartEnrollment has reduced it, inside tx.
func (tx tx) startEnrollment(ctx context.Context, e enroll.Enrollment) error {
	_, err := tx.exec(ctx, `INSERT INTO {enroll_enrollments} (`+enrollmentColumns+`)
		VALUES (?, ?, ?, ?, ?, NULL, '', NULL, NULL, false, 0, 0, ?)
		ON CONFLICT (org_id, device) DO UPDATE SET channel = excluded.channel, user_enrollment = excluded.user_enrollment,
		topic = excluded.topic, token = NULL, push_magic = '', unlock_token = NULL, bootstrap_token = NULL,
		token_dead = false, enrolled_us = 0, checked_out_us = 0, updated_us = excluded.updated_us`,
		e.Org, e.Device, e.Channel, e.UserEnrollment, e.Topic, micros(e.Updated))
	if tx.s.foreignKey(err) {
		return fmt.Errorf("start enrollment: org %q: %w", e.Org, storage.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: start enrollment: %w", err)
	}
	return nil
}

// startedEnrollment is e reduced to what StartEnrollment stores.
func startedEnrollment(e enroll.Enrollment) enroll.Enrollment {
	return enroll.Enrollment{Org: e.Org, Device: e.Device, Channel: e.Channel, UserEnrollment: e.UserEnrollment,
		Topic: e.Topic, Updated: e.Updated}.Normalize()
}

// Enrollment implements enroll.EnrollmentStore.
func (s *Store) Enrollment(ctx context.Context, org storage.OrgID, device string) (enroll.Enrollment, error) {
	return get(s, scanEnrollment, s.queryRow(ctx, "SELECT "+enrollmentColumns+" FROM {enroll_enrollments} WHERE org_id = ? AND device = ?", org, device), "enrollment of %q", device)
}

// changeEnrollment reads the enrollment in a write transaction, lets fn
// change it, and stores the result.
func (s *Store) changeEnrollment(ctx context.Context, org storage.OrgID, device string, fn func(*enroll.Enrollment) error) (enroll.Enrollment, error) {
	var e enroll.Enrollment
	err := s.write(ctx, func(tx tx) error {
		var err error
		e, err = tx.changeEnrollment(ctx, org, device, fn)
		return err
	})
	return e, err
}

// changeEnrollment is Store.changeEnrollment inside tx.
func (tx tx) changeEnrollment(ctx context.Context, org storage.OrgID, device string, fn func(*enroll.Enrollment) error) (enroll.Enrollment, error) {
	e, err := scanEnrollment(tx.queryRow(ctx, "SELECT "+enrollmentColumns+" FROM {enroll_enrollments} WHERE org_id = ? AND device = ? {FOR UPDATE}", org, device))
	if err != nil {
		return e, tx.s.notFound(err, "enrollment of %q", device)
	}
	if err := fn(&e); err != nil {
		return e, err
	}
	e = e.Normalize()
	_, err = tx.exec(ctx, `UPDATE {enroll_enrollments} SET topic = ?, token = ?, push_magic = ?, unlock_token = ?,
		bootstrap_token = ?, token_dead = ?, enrolled_us = ?, checked_out_us = ?, updated_us = ? WHERE org_id = ? AND device = ?`,
		e.Topic, e.Token, e.PushMagic, e.UnlockToken, e.BootstrapToken, e.TokenDead,
		optMicros(e.Enrolled), optMicros(e.CheckedOut), micros(e.Updated), org, device)
	if err != nil {
		return e, fmt.Errorf("sqlstore: update enrollment: %w", err)
	}
	return e, nil
}

// UpdateToken implements enroll.EnrollmentStore.
func (s *Store) UpdateToken(ctx context.Context, org storage.OrgID, device string, u enroll.TokenUpdate) (enroll.Enrollment, bool, error) {
	if err := u.Validate(); err != nil {
		return enroll.Enrollment{}, false, err
	}
	first := false
	e, err := s.changeEnrollment(ctx, org, device, func(e *enroll.Enrollment) error { first = u.Apply(e); return nil })
	return e, first, err
}

// SetBootstrapToken implements enroll.EnrollmentStore.
func (s *Store) SetBootstrapToken(ctx context.Context, org storage.OrgID, device string, token []byte, at time.Time) error {
	if len(token) > enroll.MaxBootstrapToken {
		return fmt.Errorf("%w: bootstrap token longer than %d bytes", storage.ErrInvalid, enroll.MaxBootstrapToken)
	}
	_, err := s.changeEnrollment(ctx, org, device, func(e *enroll.Enrollment) error {
		if !e.CheckedOut.IsZero() {
			return fmt.Errorf("set bootstrap token of %q: the device checked out: %w", device, storage.ErrConflict)
		}
		e.BootstrapToken, e.Updated = token, at
		return nil
	})
	return err
}

// CheckOut implements enroll.EnrollmentStore.
func (s *Store) CheckOut(ctx context.Context, org storage.OrgID, device string, at time.Time) error {
	_, err := s.changeEnrollment(ctx, org, device, func(e *enroll.Enrollment) error {
		e.CheckedOut, e.Updated, e.BootstrapToken, e.UnlockToken = at, at, nil, nil
		return nil
	})
	return err
}

// MarkTokenDead implements enroll.EnrollmentStore.
func (s *Store) MarkTokenDead(ctx context.Context, org storage.OrgID, device string, token []byte, at time.Time) error {
	_, err := s.changeEnrollment(ctx, org, device, func(e *enroll.Enrollment) error {
		if string(e.Token) == string(token) {
			e.TokenDead, e.Updated = true, at
		}
		return nil
	})
	return err
}

// Enrollments implements enroll.EnrollmentStore.
func (s *Store) Enrollments(ctx context.Context, org storage.OrgID, devices []string) ([]enroll.Enrollment, error) {
	rows, err := s.query(ctx, "SELECT "+enrollmentColumns+` FROM {enroll_enrollments}
		WHERE org_id = ? AND device IN (SELECT d.value FROM {values d})`, org, s.strings(devices))
	return list(s, "list enrollments", rows, err, scanEnrollment)
}

// Authenticate implements enroll.AuthenticateStore: the writes of
// CreateDevice, BindIdentity, ClearQueue and StartEnrollment in one
// transaction, so one commit instead of four, and a failure in any of them
// rolls back the others.
func (s *Store) Authenticate(ctx context.Context, a enroll.Authentication) (enroll.Identity, error) {
	if err := a.Enrollment.Validate(); err != nil {
		return enroll.Identity{}, err
	}
	org, device := a.Enrollment.Org, a.Enrollment.Device
	var err error
	if a.Register != nil {
		d := *a.Register
		if d.Org != org || d.ID != device {
			return enroll.Identity{}, fmt.Errorf("%w: authenticate: the new device is not the enrollment's", storage.ErrInvalid)
		}
		if a.RegisterEntry, err = checked(d.Validate(), org, a.RegisterEntry); err != nil {
			return enroll.Identity{}, err
		}
	}
	if a.Identity != "" {
		if a.BindEntry, err = changeEntry(org, a.BindEntry); err != nil {
			return enroll.Identity{}, err
		}
	}
	if a.ClearEntry, err = changeEntry(org, a.ClearEntry); err != nil {
		return enroll.Identity{}, err
	}
	e := startedEnrollment(a.Enrollment)
	var id enroll.Identity
	err = s.write(ctx, func(tx tx) error {
		if a.Register != nil {
			if _, err := tx.insertDevice(ctx, *a.Register, a.RegisterEntry); err != nil {
				return err
			}
		}
		if a.Identity != "" {
			var err error
			if id, err = tx.bindIdentity(ctx, org, a.Identity, device, a.BindEntry); err != nil {
				return err
			}
		}
		if _, err := tx.clearQueue(ctx, org, device, a.ClearEntry); err != nil {
			return err
		}
		return tx.startEnrollment(ctx, e)
	})
	return done(id, err)
}
