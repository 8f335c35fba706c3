package sqlstore

import (
	"context"
	"fmt"

	"github.com/openomm/omm/storage"
)

const orgColumns = "id, name, display_name, version, created_us, updated_us"

func scanOrg(row rowScanner) (o storage.Org, err error) {
	return o, row.Scan(&o.ID, &o.Name, &o.DisplayName, &o.Version, us{&o.Created}, us{&o.Updated})
}

// CreateOrg implements storage.OrgStore.
func (s *Store) CreateOrg(ctx context.Context, o storage.Org, e storage.AuditEntry) (storage.Org, error) {
	e, err := checked(o.Validate(), o.ID, e)
	if err != nil {
		return storage.Org{}, err
	}
	o.Version, o.Created, o.Updated = 1, e.Time, e.Time
	err = s.write(ctx, func(tx tx) error {
		_, err := tx.exec(ctx, "INSERT INTO {orgs} ("+orgColumns+") VALUES (?, ?, ?, ?, ?, ?)",
			o.ID, o.Name, o.DisplayName, o.Version, micros(o.Created), micros(o.Updated))
		if s.unique(err) {
			return fmt.Errorf("create org: id %q or name %q: %w", o.ID, o.Name, storage.ErrAlreadyExists)
		}
		if err != nil {
			return s.fail("create org", err)
		}
		return tx.audit(ctx, e)
	})
	return done(o, err)
}

// Org implements storage.OrgStore.
func (s *Store) Org(ctx context.Context, id storage.OrgID) (storage.Org, error) {
	return get(s, scanOrg, s.queryRow(ctx, "SELECT "+orgColumns+" FROM {orgs} WHERE id = ?", id), "org %q", id)
}

// OrgByName implements storage.OrgStore.
func (s *Store) OrgByName(ctx context.Context, name string) (storage.Org, error) {
	return get(s, scanOrg, s.queryRow(ctx, "SELECT "+orgColumns+" FROM {orgs} WHERE name = ?", name), "org named %q", name)
}

// ListOrgs implements storage.OrgStore.
func (s *Store) ListOrgs(ctx context.Context) ([]storage.Org, error) {
	rows, err := s.query(ctx, "SELECT "+orgColumns+" FROM {orgs} ORDER BY name")
	return list(s, "list orgs", rows, err, scanOrg)
}

// UpdateOrg implements storage.OrgStore.
func (s *Store) UpdateOrg(ctx context.Context, o storage.Org, e storage.AuditEntry) (storage.Org, error) {
	e, err := checked(o.Validate(), o.ID, e)
	if err != nil {
		return storage.Org{}, err
	}
	err = s.write(ctx, func(tx tx) error {
		stored, err := scanOrg(tx.queryRow(ctx, "SELECT "+orgColumns+" FROM {orgs} WHERE id = ? {FOR UPDATE}", o.ID))
		if err != nil {
			return s.notFound(err, "update org %q", o.ID)
		}
		if o.Version != stored.Version {
			return fmt.Errorf("update org %q: read version %d, stored version %d: %w", o.ID, o.Version, stored.Version, storage.ErrConflict)
		}
		o.Version, o.Created, o.Updated = stored.Version+1, stored.Created, e.Time
		_, err = tx.exec(ctx, "UPDATE {orgs} SET name = ?, display_name = ?, version = ?, updated_us = ? WHERE id = ?",
			o.Name, o.DisplayName, o.Version, micros(o.Updated), o.ID)
		if s.unique(err) {
			return fmt.Errorf("update org %q: name %q: %w", o.ID, o.Name, storage.ErrAlreadyExists)
		}
		if err != nil {
			return s.fail("update org", err)
		}
		return tx.audit(ctx, e)
	})
	return done(o, err)
}
