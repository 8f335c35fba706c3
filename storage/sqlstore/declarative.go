package sqlstore

import (
	"context"
	"fmt"

	"github.com/openomm/omm/events"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/declarative"
	"github.com/openomm/omm/storage"
)

const declarativeColumns = `enrollment_us, enabled_us, inputs, profile_secret, token, token_us, version, updated_us,
	status, status_version`

// DeclarativeState implements declarative.Store.
func (s *Store) DeclarativeState(ctx context.Context, org storage.OrgID, device string) (declarative.State, error) {
	return s.scanDeclarative(s.queryRow(ctx, declarativeSelect, org, device), org, device)
}

const declarativeSelect = `SELECT ` + declarativeColumns + ` FROM {declarative_devices} WHERE org_id = ? AND device = ?`

func (s *Store) scanDeclarative(row rowScanner, org storage.OrgID, device string) (declarative.State, error) {
	st := declarative.State{Org: org, Device: device}
	var inputs, status string
	err := row.Scan(us{&st.Enrollment}, us{&st.Enabled}, &inputs, &st.ProfileSecret, &st.Token, us{&st.TokenChanged}, &st.Version,
		us{&st.Updated}, &status, &st.StatusVersion)
	if err != nil {
		return declarative.State{}, s.notFound(err, "declarative state of device %q", device)
	}
	if err := st.UnmarshalInputs([]byte(inputs)); err != nil {
		return declarative.State{}, s.fail("read declarative state", err)
	}
	if err := st.UnmarshalStatus([]byte(status)); err != nil {
		return declarative.State{}, s.fail("read declarative state", err)
	}
	return st.Normalize(), nil
}

// SaveDeclarativeState implements declarative.Store.
func (s *Store) SaveDeclarativeState(ctx context.Context, st declarative.State, cmds []enroll.Command, e storage.AuditEntry) (declarative.State, error) {
	e, err := checked(st.Validate(), st.Org, e)
	if err != nil {
		return declarative.State{}, err
	}
	for _, c := range cmds {
		if err := c.Validate(); err != nil {
			return declarative.State{}, err
		}
	}
	inputs, _ := st.MarshalInputs() // Validate encoded it
	status, err := st.MarshalStatus()
	if err != nil {
		return declarative.State{}, err
	}
	stored := st
	stored.Version, stored.StatusVersion, stored.Updated = st.Version+1, st.StatusVersion+1, e.Time
	stored = stored.Normalize()
	err = s.write(ctx, func(tx tx) error {
		// The audit entry goes first: its foreign key reports an unknown org.
		if _, err := tx.appendAudit(ctx, e); err != nil {
			return err
		}
		for _, c := range cmds {
			if err := tx.insertCommand(ctx, st.Org, []string{st.Device}, c, e.Time); err != nil {
				return err
			}
		}
		if st.Version == 0 {
			_, err := tx.exec(ctx, `INSERT INTO {declarative_devices} (org_id, device, `+declarativeColumns+`)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)`, st.Org, st.Device, optMicros(stored.Enrollment), optMicros(stored.Enabled),
				string(inputs), st.ProfileSecret, st.Token, optMicros(stored.TokenChanged), micros(stored.Updated), string(status),
				stored.StatusVersion)
			if s.unique(err) {
				return fmt.Errorf("declarative state of device %q: already stored: %w", st.Device, storage.ErrConflict)
			}
			if err != nil {
				return s.fail("store declarative state", err)
			}
			return nil
		}
		n, err := tx.affected(ctx, `UPDATE {declarative_devices} SET enrollment_us = ?, enabled_us = ?, inputs = ?, profile_secret = ?,
			token = ?, token_us = ?, version = version + 1, updated_us = ?, status = ?, status_version = status_version + 1
			WHERE org_id = ? AND device = ? AND version = ? AND status_version = ?`,
			optMicros(stored.Enrollment), optMicros(stored.Enabled), string(inputs), st.ProfileSecret, st.Token,
			optMicros(stored.TokenChanged), micros(stored.Updated), string(status), st.Org, st.Device, st.Version, st.StatusVersion)
		if err != nil {
			return s.fail("store declarative state", err)
		}
		if n == 0 {
			return fmt.Errorf("declarative state of device %q: version %d/%d is not the stored one: %w",
				st.Device, st.Version, st.StatusVersion, storage.ErrConflict)
		}
		return nil
	})
	return done(stored, err)
}

// SaveDeclarativeStatus implements declarative.Store.
func (s *Store) SaveDeclarativeStatus(ctx context.Context, org storage.OrgID, device string, status declarative.Status, version int64, evs ...events.Event) (declarative.State, error) {
	probe := declarative.State{Org: org, Device: device, Status: status}
	if err := probe.Validate(); err != nil {
		return declarative.State{}, err
	}
	doc, err := probe.MarshalStatus()
	if err != nil {
		return declarative.State{}, err
	}
	var stored declarative.State
	err = s.write(ctx, func(tx tx) error {
		n, err := tx.affected(ctx, `UPDATE {declarative_devices} SET status = ?, status_version = status_version + 1
			WHERE org_id = ? AND device = ? AND status_version = ?`, string(doc), org, device, version)
		if err != nil {
			return s.fail("store declarative status", err)
		}
		stored, err = s.scanDeclarative(tx.queryRow(ctx, declarativeSelect, org, device), org, device)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("declarative status of device %q: version %d is not the stored %d: %w",
				device, version, stored.StatusVersion, storage.ErrConflict)
		}
		tx.emit(evs...)
		return nil
	})
	return done(stored, err)
}
