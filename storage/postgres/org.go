package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
)

const orgColumns = "id, name, display_name, version, created, updated"

func scanOrg(row pgx.Row) (storage.Org, error) {
	var o storage.Org
	if err := row.Scan(&o.ID, &o.Name, &o.DisplayName, &o.Version, &o.Created, &o.Updated); err != nil {
		return storage.Org{}, err
	}
	o.Created, o.Updated = o.Created.UTC(), o.Updated.UTC()
	return o, nil
}

// CreateOrg implements storage.OrgStore.
func (s *Store) CreateOrg(ctx context.Context, o storage.Org, e storage.AuditEntry) (storage.Org, error) {
	o, e, err := rules.NewOrg(o, e)
	if err != nil {
		return storage.Org{}, err
	}
	err = s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO orgs ("+orgColumns+") VALUES ($1, $2, $3, $4, $5, $6)",
			o.ID, o.Name, o.DisplayName, o.Version, o.Created, o.Updated)
		if pe := violation(err, uniqueViolation); pe != nil {
			if pe.ConstraintName == "orgs_name_key" {
				return fmt.Errorf("create org: name %q: %w", o.Name, storage.ErrAlreadyExists)
			}
			return fmt.Errorf("create org: id %q: %w", o.ID, storage.ErrAlreadyExists)
		}
		if err != nil {
			return fmt.Errorf("postgres: create org: %w", err)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return storage.Org{}, err
	}
	return o, nil
}

// Org implements storage.OrgStore.
func (s *Store) Org(ctx context.Context, id storage.OrgID) (storage.Org, error) {
	o, err := scanOrg(s.pool.QueryRow(ctx, "SELECT "+orgColumns+" FROM orgs WHERE id = $1", id))
	if err != nil {
		return storage.Org{}, notFound(err, "org %q", id)
	}
	return o, nil
}

// OrgByName implements storage.OrgStore.
func (s *Store) OrgByName(ctx context.Context, name string) (storage.Org, error) {
	o, err := scanOrg(s.pool.QueryRow(ctx, "SELECT "+orgColumns+" FROM orgs WHERE name = $1", name))
	if err != nil {
		return storage.Org{}, notFound(err, "org named %q", name)
	}
	return o, nil
}

// ListOrgs implements storage.OrgStore.
func (s *Store) ListOrgs(ctx context.Context) ([]storage.Org, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+orgColumns+" FROM orgs ORDER BY name COLLATE \"C\"")
	if err != nil {
		return nil, fmt.Errorf("postgres: list orgs: %w", err)
	}
	orgs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.Org, error) { return scanOrg(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list orgs: %w", err)
	}
	if orgs == nil {
		orgs = []storage.Org{}
	}
	return orgs, nil
}

// UpdateOrg implements storage.OrgStore.
func (s *Store) UpdateOrg(ctx context.Context, o storage.Org, e storage.AuditEntry) (storage.Org, error) {
	e, err := rules.CheckOrgUpdate(o, e)
	if err != nil {
		return storage.Org{}, err
	}
	err = s.write(ctx, func(tx pgx.Tx) error {
		stored, err := scanOrg(tx.QueryRow(ctx, "SELECT "+orgColumns+" FROM orgs WHERE id = $1 FOR UPDATE", o.ID))
		if err != nil {
			return notFound(err, "update org %q", o.ID)
		}
		if o, e, err = rules.UpdatedOrg(stored, o, e); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "UPDATE orgs SET name = $1, display_name = $2, version = $3, updated = $4 WHERE id = $5",
			o.Name, o.DisplayName, o.Version, o.Updated, o.ID)
		if violation(err, uniqueViolation) != nil {
			return fmt.Errorf("update org %q: name %q: %w", o.ID, o.Name, storage.ErrAlreadyExists)
		}
		if err != nil {
			return fmt.Errorf("postgres: update org: %w", err)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return storage.Org{}, err
	}
	return o, nil
}
