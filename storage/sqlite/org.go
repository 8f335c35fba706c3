package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
)

const orgColumns = "id, name, display_name, version, created_us, updated_us"

type rowScanner interface{ Scan(dest ...any) error }

func scanOrg(row rowScanner) (storage.Org, error) {
	var o storage.Org
	var created, updated int64
	if err := row.Scan(&o.ID, &o.Name, &o.DisplayName, &o.Version, &created, &updated); err != nil {
		return storage.Org{}, err
	}
	o.Created, o.Updated = fromMicros(created), fromMicros(updated)
	return o, nil
}

// CreateOrg implements storage.OrgStore.
func (s *Store) CreateOrg(ctx context.Context, o storage.Org, e storage.AuditEntry) (storage.Org, error) {
	o, e, err := rules.NewOrg(o, e)
	if err != nil {
		return storage.Org{}, err
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO orgs ("+orgColumns+") VALUES (?, ?, ?, ?, ?, ?)",
			o.ID, o.Name, o.DisplayName, o.Version, micros(o.Created), micros(o.Updated))
		if constraint(err) != 0 {
			return fmt.Errorf("create org: id %q or name %q: %w", o.ID, o.Name, storage.ErrAlreadyExists)
		}
		if err != nil {
			return fmt.Errorf("sqlite: create org: %w", err)
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
	o, err := scanOrg(s.r.QueryRowContext(ctx, "SELECT "+orgColumns+" FROM orgs WHERE id = ?", id))
	if err != nil {
		return storage.Org{}, notFound(err, "org %q", id)
	}
	return o, nil
}

// OrgByName implements storage.OrgStore.
func (s *Store) OrgByName(ctx context.Context, name string) (storage.Org, error) {
	o, err := scanOrg(s.r.QueryRowContext(ctx, "SELECT "+orgColumns+" FROM orgs WHERE name = ?", name))
	if err != nil {
		return storage.Org{}, notFound(err, "org named %q", name)
	}
	return o, nil
}

// ListOrgs implements storage.OrgStore.
func (s *Store) ListOrgs(ctx context.Context) ([]storage.Org, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+orgColumns+" FROM orgs ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("sqlite: list orgs: %w", err)
	}
	defer rows.Close()
	orgs := []storage.Org{}
	for rows.Next() {
		o, err := scanOrg(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list orgs: %w", err)
		}
		orgs = append(orgs, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list orgs: %w", err)
	}
	return orgs, nil
}

// UpdateOrg implements storage.OrgStore.
func (s *Store) UpdateOrg(ctx context.Context, o storage.Org, e storage.AuditEntry) (storage.Org, error) {
	e, err := rules.CheckOrgUpdate(o, e)
	if err != nil {
		return storage.Org{}, err
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		stored, err := scanOrg(tx.QueryRowContext(ctx, "SELECT "+orgColumns+" FROM orgs WHERE id = ?", o.ID))
		if err != nil {
			return notFound(err, "update org %q", o.ID)
		}
		if o, e, err = rules.UpdatedOrg(stored, o, e); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "UPDATE orgs SET name = ?, display_name = ?, version = ?, updated_us = ? WHERE id = ?",
			o.Name, o.DisplayName, o.Version, micros(o.Updated), o.ID)
		if constraint(err) != 0 {
			return fmt.Errorf("update org %q: name %q: %w", o.ID, o.Name, storage.ErrAlreadyExists)
		}
		if err != nil {
			return fmt.Errorf("sqlite: update org: %w", err)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return storage.Org{}, err
	}
	return o, nil
}
