package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
)

const catalogAppColumns = `org_id, id, kind, identifier, store_id, manifest_url, bundle_version, name, icon_url,
	description, config, keep_on_unenroll, allow_backup, version, created, updated`

// catalogAppDest returns the scan destinations of catalogAppColumns.
func catalogAppDest(a *catalog.App, config *[]byte) []any {
	return []any{&a.Org, &a.ID, &a.Kind, &a.Identifier, &a.StoreID, &a.ManifestURL, &a.BundleVersion, &a.Name, &a.IconURL,
		&a.Description, config, &a.KeepOnUnenroll, &a.AllowBackup, &a.Version, &a.Created, &a.Updated}
}

func finishCatalogApp(a *catalog.App, config []byte) error {
	if err := a.UnmarshalConfig(config); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	a.Created, a.Updated = a.Created.UTC(), a.Updated.UTC()
	return nil
}

func scanCatalogApp(row pgx.Row) (catalog.App, error) {
	var a catalog.App
	var config []byte
	if err := row.Scan(catalogAppDest(&a, &config)...); err != nil {
		return catalog.App{}, err
	}
	return a, finishCatalogApp(&a, config)
}

func catalogCollect[T any](rows pgx.Rows, what string, scan func(pgx.Row) (T, error)) ([]T, error) {
	all, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) { return scan(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	if all == nil {
		all = []T{}
	}
	return all, nil
}

// checkCatalogApp validates the caller-supplied part of an app write and
// encodes its configuration.
func checkCatalogApp(a catalog.App, e storage.AuditEntry) (catalog.App, storage.AuditEntry, string, error) {
	if err := a.Validate(); err != nil {
		return a, e, "", err
	}
	e, err := rules.ChangeEntry(a.Org, e)
	if err != nil {
		return a, e, "", err
	}
	config, err := a.MarshalConfig()
	if err != nil {
		return a, e, "", fmt.Errorf("%w: %w", storage.ErrInvalid, err)
	}
	return a.Normalize(), e, string(config), nil
}

// CreateApp implements catalog.Store.
func (s *Store) CreateApp(ctx context.Context, a catalog.App, e storage.AuditEntry) (catalog.App, error) {
	a, e, config, err := checkCatalogApp(a, e)
	if err != nil {
		return catalog.App{}, err
	}
	a.Version = 1
	a.Created, a.Updated = e.Time, e.Time
	err = s.write(ctx, func(tx pgx.Tx) error {
		var other string
		err := tx.QueryRow(ctx, "SELECT id FROM catalog_apps WHERE org_id = $1 AND family = $2 AND identifier = $3",
			a.Org, a.Kind.Family(), a.Identifier).Scan(&other)
		switch {
		case err == nil:
			return fmt.Errorf("create app: identifier %q is used by app %q: %w", a.Identifier, other, storage.ErrAlreadyExists)
		case !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("postgres: check app identifier: %w", err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO catalog_apps (`+catalogAppColumns+`, family)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
			a.Org, a.ID, a.Kind, a.Identifier, a.StoreID, a.ManifestURL, a.BundleVersion, a.Name, a.IconURL,
			a.Description, config, a.KeepOnUnenroll, a.AllowBackup, a.Version, a.Created, a.Updated, a.Kind.Family())
		if err := insertError(err, "create app", a.Org, fmt.Sprintf("id %q or identifier %q", a.ID, a.Identifier)); err != nil {
			return err
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return catalog.App{}, err
	}
	return a, nil
}

// App implements catalog.Store.
func (s *Store) App(ctx context.Context, org storage.OrgID, id string) (catalog.App, error) {
	a, err := scanCatalogApp(s.pool.QueryRow(ctx, "SELECT "+catalogAppColumns+" FROM catalog_apps WHERE org_id = $1 AND id = $2", org, id))
	if err != nil {
		return catalog.App{}, notFound(err, "app %q", id)
	}
	return a, nil
}

// ListApps implements catalog.Store.
func (s *Store) ListApps(ctx context.Context, org storage.OrgID) ([]catalog.App, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+catalogAppColumns+` FROM catalog_apps WHERE org_id = $1 ORDER BY name COLLATE "C", id COLLATE "C"`, org)
	if err != nil {
		return nil, fmt.Errorf("postgres: list apps: %w", err)
	}
	return catalogCollect(rows, "list apps", scanCatalogApp)
}

// UpdateApp implements catalog.Store.
func (s *Store) UpdateApp(ctx context.Context, a catalog.App, e storage.AuditEntry) (catalog.App, error) {
	a, e, config, err := checkCatalogApp(a, e)
	if err != nil {
		return catalog.App{}, err
	}
	err = s.write(ctx, func(tx pgx.Tx) error {
		stored, err := scanCatalogApp(tx.QueryRow(ctx, "SELECT "+catalogAppColumns+" FROM catalog_apps WHERE org_id = $1 AND id = $2 FOR UPDATE", a.Org, a.ID))
		if err != nil {
			return notFound(err, "update app %q", a.ID)
		}
		if a.Version != stored.Version {
			return fmt.Errorf("update app %q: read version %d, stored version %d: %w", a.ID, a.Version, stored.Version, storage.ErrConflict)
		}
		if err := catalog.CheckUpdate(stored, a); err != nil {
			return err
		}
		a.Version = stored.Version + 1
		a.Created, a.Updated = stored.Created, e.Time
		_, err = tx.Exec(ctx, `UPDATE catalog_apps SET store_id = $1, manifest_url = $2, bundle_version = $3, name = $4, icon_url = $5,
			description = $6, config = $7, keep_on_unenroll = $8, allow_backup = $9, version = $10, updated = $11
			WHERE org_id = $12 AND id = $13`,
			a.StoreID, a.ManifestURL, a.BundleVersion, a.Name, a.IconURL, a.Description, config, a.KeepOnUnenroll, a.AllowBackup,
			a.Version, a.Updated, a.Org, a.ID)
		if err != nil {
			return fmt.Errorf("postgres: update app: %w", err)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return catalog.App{}, err
	}
	return a, nil
}

// DeleteApp implements catalog.Store. The row lock orders it against
// concurrent assignments: an assignment inserted first makes it fail with
// ErrConflict, one inserted after finds the app gone.
func (s *Store) DeleteApp(ctx context.Context, org storage.OrgID, id string, version int64, e storage.AuditEntry) error {
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx pgx.Tx) error {
		var stored int64
		err := tx.QueryRow(ctx, "SELECT version FROM catalog_apps WHERE org_id = $1 AND id = $2 FOR UPDATE", org, id).Scan(&stored)
		if err != nil {
			return notFound(err, "delete app %q", id)
		}
		if version != stored {
			return fmt.Errorf("delete app %q: read version %d, stored version %d: %w", id, version, stored, storage.ErrConflict)
		}
		var group string
		err = tx.QueryRow(ctx, `SELECT group_id FROM catalog_assignments WHERE org_id = $1 AND app_id = $2 ORDER BY group_id COLLATE "C" LIMIT 1`, org, id).Scan(&group)
		switch {
		case err == nil:
			return fmt.Errorf("delete app %q: still assigned to group %q: %w", id, group, storage.ErrConflict)
		case !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("postgres: delete app: %w", err)
		}
		_, err = tx.Exec(ctx, "DELETE FROM catalog_apps WHERE org_id = $1 AND id = $2", org, id)
		if violation(err, foreignKeyViolation) != nil {
			return fmt.Errorf("delete app %q: assigned concurrently: %w", id, storage.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("postgres: delete app: %w", err)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
}

const catalogAssignmentColumns = "org_id, app_id, group_id, mode, version, created, updated"

func scanCatalogAssignment(row pgx.Row) (catalog.Assignment, error) {
	var a catalog.Assignment
	if err := row.Scan(&a.Org, &a.AppID, &a.Group, &a.Mode, &a.Version, &a.Created, &a.Updated); err != nil {
		return catalog.Assignment{}, err
	}
	a.Created, a.Updated = a.Created.UTC(), a.Updated.UTC()
	return a, nil
}

func checkCatalogAssignment(a catalog.Assignment, e storage.AuditEntry) (catalog.Assignment, storage.AuditEntry, error) {
	if err := a.Validate(); err != nil {
		return a, e, err
	}
	e, err := rules.ChangeEntry(a.Org, e)
	return a.Normalize(), e, err
}

// CreateAssignment implements catalog.Store.
func (s *Store) CreateAssignment(ctx context.Context, a catalog.Assignment, e storage.AuditEntry) (catalog.Assignment, error) {
	a, e, err := checkCatalogAssignment(a, e)
	if err != nil {
		return catalog.Assignment{}, err
	}
	a.Version = 1
	a.Created, a.Updated = e.Time, e.Time
	err = s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO catalog_assignments ("+catalogAssignmentColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7)",
			a.Org, a.AppID, a.Group, a.Mode, a.Version, a.Created, a.Updated)
		switch {
		case violation(err, foreignKeyViolation) != nil:
			return fmt.Errorf("assign app %q: %w", a.AppID, storage.ErrNotFound)
		case violation(err, uniqueViolation) != nil:
			return fmt.Errorf("assign app %q to group %q: %w", a.AppID, a.Group, storage.ErrAlreadyExists)
		case err != nil:
			return fmt.Errorf("postgres: create assignment: %w", err)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return catalog.Assignment{}, err
	}
	return a, nil
}

// UpdateAssignment implements catalog.Store.
func (s *Store) UpdateAssignment(ctx context.Context, a catalog.Assignment, e storage.AuditEntry) (catalog.Assignment, error) {
	a, e, err := checkCatalogAssignment(a, e)
	if err != nil {
		return catalog.Assignment{}, err
	}
	err = s.write(ctx, func(tx pgx.Tx) error {
		stored, err := scanCatalogAssignment(tx.QueryRow(ctx, "SELECT "+catalogAssignmentColumns+
			" FROM catalog_assignments WHERE org_id = $1 AND app_id = $2 AND group_id = $3 FOR UPDATE", a.Org, a.AppID, a.Group))
		if err != nil {
			return notFound(err, "update assignment of app %q to group %q", a.AppID, a.Group)
		}
		if a.Version != stored.Version {
			return fmt.Errorf("update assignment of app %q to group %q: read version %d, stored version %d: %w", a.AppID, a.Group, a.Version, stored.Version, storage.ErrConflict)
		}
		a.Version = stored.Version + 1
		a.Created, a.Updated = stored.Created, e.Time
		_, err = tx.Exec(ctx, "UPDATE catalog_assignments SET mode = $1, version = $2, updated = $3 WHERE org_id = $4 AND app_id = $5 AND group_id = $6",
			a.Mode, a.Version, a.Updated, a.Org, a.AppID, a.Group)
		if err != nil {
			return fmt.Errorf("postgres: update assignment: %w", err)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return catalog.Assignment{}, err
	}
	return a, nil
}

// DeleteAssignment implements catalog.Store.
func (s *Store) DeleteAssignment(ctx context.Context, org storage.OrgID, appID, group string, e storage.AuditEntry) (catalog.Assignment, error) {
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return catalog.Assignment{}, err
	}
	var stored catalog.Assignment
	err = s.write(ctx, func(tx pgx.Tx) error {
		stored, err = scanCatalogAssignment(tx.QueryRow(ctx, "DELETE FROM catalog_assignments WHERE org_id = $1 AND app_id = $2 AND group_id = $3 RETURNING "+
			catalogAssignmentColumns, org, appID, group))
		if err != nil {
			return notFound(err, "unassign app %q from group %q", appID, group)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return catalog.Assignment{}, err
	}
	return stored, nil
}

// ListAssignments implements catalog.Store.
func (s *Store) ListAssignments(ctx context.Context, org storage.OrgID, appID string) ([]catalog.Assignment, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+catalogAssignmentColumns+` FROM catalog_assignments WHERE org_id = $1 AND app_id = $2 ORDER BY group_id COLLATE "C"`, org, appID)
	if err != nil {
		return nil, fmt.Errorf("postgres: list assignments: %w", err)
	}
	return catalogCollect(rows, "list assignments", scanCatalogAssignment)
}

// AssignedApps implements catalog.Store: one query joins the groups'
// assignments with their apps, rows grouped by app in store order.
func (s *Store) AssignedApps(ctx context.Context, org storage.OrgID, groups []string) ([]catalog.AssignedApp, error) {
	if len(groups) > catalog.MaxGroupsQuery {
		return nil, fmt.Errorf("%w: %d groups, at most %d per query", storage.ErrInvalid, len(groups), catalog.MaxGroupsQuery)
	}
	if len(groups) == 0 {
		return []catalog.AssignedApp{}, nil
	}
	cols := "a." + strings.ReplaceAll(strings.ReplaceAll(catalogAppColumns, "\n\t", " "), ", ", ", a.")
	rows, err := s.pool.Query(ctx, "SELECT "+cols+`, s.group_id, s.mode, s.version, s.created, s.updated
		FROM catalog_assignments s JOIN catalog_apps a ON a.org_id = s.org_id AND a.id = s.app_id
		WHERE s.org_id = $1 AND s.group_id = ANY($2)
		ORDER BY a.name COLLATE "C", a.id COLLATE "C", s.group_id COLLATE "C"`, org, groups)
	if err != nil {
		return nil, fmt.Errorf("postgres: assigned apps: %w", err)
	}
	defer rows.Close()
	out := []catalog.AssignedApp{}
	for rows.Next() {
		var a catalog.App
		var as catalog.Assignment
		var config []byte
		dest := append(catalogAppDest(&a, &config), &as.Group, &as.Mode, &as.Version, &as.Created, &as.Updated)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("postgres: assigned apps: %w", err)
		}
		as.Org, as.AppID = a.Org, a.ID
		as.Created, as.Updated = as.Created.UTC(), as.Updated.UTC()
		if n := len(out); n > 0 && out[n-1].App.ID == a.ID {
			out[n-1].Assignments = append(out[n-1].Assignments, as)
			continue
		}
		if err := finishCatalogApp(&a, config); err != nil {
			return nil, err
		}
		out = append(out, catalog.AssignedApp{App: a, Assignments: []catalog.Assignment{as}})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: assigned apps: %w", err)
	}
	return out, nil
}

const catalogInstallColumns = "org_id, device_id, app_id, command, progress, reason, take_over, bundle_version, updated"

func scanCatalogInstall(row pgx.Row) (catalog.Install, error) {
	var in catalog.Install
	if err := row.Scan(&in.Org, &in.Device, &in.AppID, &in.Command, &in.Progress, &in.Reason, &in.TakeOver, &in.BundleVersion, &in.Updated); err != nil {
		return catalog.Install{}, err
	}
	in.Updated = in.Updated.UTC()
	return in, nil
}

// StartInstall implements catalog.Store. The compare-and-set on the
// previous command is one statement, so concurrent requests cannot both
// pass it: a first request inserts (a competitor's insert finds the row
// and does nothing), a later one updates only the row it read.
func (s *Store) StartInstall(ctx context.Context, in catalog.Install, prevCommand string, e storage.AuditEntry) (catalog.Install, error) {
	if err := catalog.ValidateStart(in, prevCommand); err != nil {
		return catalog.Install{}, err
	}
	e, err := rules.ChangeEntry(in.Org, e)
	if err != nil {
		return catalog.Install{}, err
	}
	in.Updated = e.Time
	err = s.write(ctx, func(tx pgx.Tx) error { return startInstallTx(ctx, tx, in, prevCommand, e) })
	if err != nil {
		return catalog.Install{}, err
	}
	return in, nil
}

// FinishInstall implements catalog.Store.
func (s *Store) FinishInstall(ctx context.Context, org storage.OrgID, device, command string, to catalog.Progress, reason string, e storage.AuditEntry) (catalog.Install, error) {
	if err := catalog.ValidateFinish(command, to, reason); err != nil {
		return catalog.Install{}, err
	}
	e, err := rules.ChangeEntry(org, e)
	if err != nil {
		return catalog.Install{}, err
	}
	var rec catalog.Install
	err = s.write(ctx, func(tx pgx.Tx) error {
		rec, err = scanCatalogInstall(tx.QueryRow(ctx, "SELECT "+catalogInstallColumns+
			" FROM catalog_installs WHERE org_id = $1 AND device_id = $2 AND command = $3 FOR UPDATE", org, device, command))
		if err != nil {
			return notFound(err, "install command %q on %q", command, device)
		}
		if !rec.Progress.Open() {
			return nil
		}
		if err := catalog.CheckFinish(rec.Progress, to); err != nil {
			return err
		}
		rec.Progress, rec.Reason, rec.Updated = to, reason, e.Time
		_, err = tx.Exec(ctx, "UPDATE catalog_installs SET progress = $1, reason = $2, updated = $3 WHERE org_id = $4 AND device_id = $5 AND app_id = $6",
			rec.Progress, rec.Reason, rec.Updated, org, device, rec.AppID)
		if err != nil {
			return fmt.Errorf("postgres: finish install: %w", err)
		}
		_, err = appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return catalog.Install{}, err
	}
	return rec, nil
}

// DeviceInstalls implements catalog.Store.
func (s *Store) DeviceInstalls(ctx context.Context, org storage.OrgID, device string) ([]catalog.Install, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+catalogInstallColumns+` FROM catalog_installs WHERE org_id = $1 AND device_id = $2 ORDER BY app_id COLLATE "C" LIMIT $3`,
		org, device, catalog.MaxInstallsPage)
	if err != nil {
		return nil, fmt.Errorf("postgres: device installs: %w", err)
	}
	return catalogCollect(rows, "device installs", scanCatalogInstall)
}
