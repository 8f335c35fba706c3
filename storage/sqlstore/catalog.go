package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/storage"
)

const catalogAppColumns = `org_id, id, kind, identifier, store_id, manifest_url, bundle_version, name, icon_url,
	description, config, keep_on_unenroll, allow_backup, version, created_us, updated_us`

func scanCatalogApp(row rowScanner) (catalog.App, error) {
	var a catalog.App
	var config string
	err := row.Scan(&a.Org, &a.ID, &a.Kind, &a.Identifier, &a.StoreID, &a.ManifestURL, &a.BundleVersion, &a.Name, &a.IconURL,
		&a.Description, &config, &a.KeepOnUnenroll, &a.AllowBackup, &a.Version, us{&a.Created}, us{&a.Updated})
	if err != nil {
		return catalog.App{}, err
	}
	if err := a.UnmarshalConfig([]byte(config)); err != nil {
		return catalog.App{}, fmt.Errorf("sqlstore: %w", err)
	}
	return a, nil
}

// checkCatalogApp validates the caller-supplied part of an app write and
// encodes its configuration.
func checkCatalogApp(a catalog.App, e storage.AuditEntry) (catalog.App, storage.AuditEntry, string, error) {
	if err := a.Validate(); err != nil {
		return a, e, "", err
	}
	e, err := changeEntry(a.Org, e)
	if err != nil {
		return a, e, "", err
	}
	config, err := a.MarshalConfig()
	if err != nil {
		return a, e, "", fmt.Errorf("%w: %w", storage.ErrInvalid, err)
	}
	return a.Normalize(), e, string(config), nil
}

// catalogIdentifierTaken fails with ErrAlreadyExists, naming the app, when
// another app of a's org and family holds a's identifier.
func catalogIdentifierTaken(ctx context.Context, tx tx, a catalog.App) error {
	var other string
	err := tx.queryRow(ctx, "SELECT id FROM {catalog_apps} WHERE org_id = ? AND family = ? AND identifier = ? AND id <> ?",
		a.Org, a.Kind.Family(), a.Identifier, a.ID).Scan(&other)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("sqlstore: check app identifier: %w", err)
	}
	return fmt.Errorf("identifier %q is used by app %q: %w", a.Identifier, other, storage.ErrAlreadyExists)
}

// CreateApp implements catalog.Store.
func (s *Store) CreateApp(ctx context.Context, a catalog.App, e storage.AuditEntry) (catalog.App, error) {
	a, e, config, err := checkCatalogApp(a, e)
	if err != nil {
		return catalog.App{}, err
	}
	a.Version = 1
	a.Created, a.Updated = e.Time, e.Time
	err = s.write(ctx, func(tx tx) error {
		if err := catalogIdentifierTaken(ctx, tx, a); err != nil {
			return fmt.Errorf("create app: %w", err)
		}
		_, err := tx.exec(ctx, `INSERT INTO {catalog_apps} (`+catalogAppColumns+`, family)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.Org, a.ID, a.Kind, a.Identifier, a.StoreID, a.ManifestURL, a.BundleVersion, a.Name, a.IconURL,
			a.Description, config, a.KeepOnUnenroll, a.AllowBackup, a.Version, micros(a.Created), micros(a.Updated), a.Kind.Family())
		if err := s.inserted(err, "create app", a.Org, fmt.Sprintf("id %q or identifier %q", a.ID, a.Identifier)); err != nil {
			return err
		}
		return tx.audit(ctx, e)
	})
	return done(a, err)
}

// App implements catalog.Store.
func (s *Store) App(ctx context.Context, org storage.OrgID, id string) (catalog.App, error) {
	return get(s, scanCatalogApp, s.queryRow(ctx, "SELECT "+catalogAppColumns+" FROM {catalog_apps} WHERE org_id = ? AND id = ?", org, id), "app %q", id)
}

// ListApps implements catalog.Store.
func (s *Store) ListApps(ctx context.Context, org storage.OrgID) ([]catalog.App, error) {
	rows, err := s.query(ctx, "SELECT "+catalogAppColumns+" FROM {catalog_apps} WHERE org_id = ? ORDER BY name, id", org)
	return list(s, "list apps", rows, err, scanCatalogApp)
}

// UpdateApp implements catalog.Store.
func (s *Store) UpdateApp(ctx context.Context, a catalog.App, e storage.AuditEntry) (catalog.App, error) {
	a, e, config, err := checkCatalogApp(a, e)
	if err != nil {
		return catalog.App{}, err
	}
	err = s.write(ctx, func(tx tx) error {
		stored, err := scanCatalogApp(tx.queryRow(ctx, "SELECT "+catalogAppColumns+" FROM {catalog_apps} WHERE org_id = ? AND id = ? {FOR UPDATE}", a.Org, a.ID))
		if err != nil {
			return s.notFound(err, "update app %q", a.ID)
		}
		if a.Version != stored.Version {
			return fmt.Errorf("update app %q: read version %d, stored version %d: %w", a.ID, a.Version, stored.Version, storage.ErrConflict)
		}
		if err := catalog.CheckUpdate(stored, a); err != nil {
			return err
		}
		a.Version = stored.Version + 1
		a.Created, a.Updated = stored.Created, e.Time
		_, err = tx.exec(ctx, `UPDATE {catalog_apps} SET store_id = ?, manifest_url = ?, bundle_version = ?, name = ?, icon_url = ?,
			description = ?, config = ?, keep_on_unenroll = ?, allow_backup = ?, version = ?, updated_us = ?
			WHERE org_id = ? AND id = ?`,
			a.StoreID, a.ManifestURL, a.BundleVersion, a.Name, a.IconURL, a.Description, config, a.KeepOnUnenroll, a.AllowBackup,
			a.Version, micros(a.Updated), a.Org, a.ID)
		if err != nil {
			return fmt.Errorf("sqlstore: update app: %w", err)
		}
		return tx.audit(ctx, e)
	})
	return done(a, err)
}

// DeleteApp implements catalog.Store.
func (s *Store) DeleteApp(ctx context.Context, org storage.OrgID, id string, version int64, e storage.AuditEntry) error {
	e, err := changeEntry(org, e)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx tx) error {
		var stored int64
		err := tx.queryRow(ctx, "SELECT version FROM {catalog_apps} WHERE org_id = ? AND id = ? {FOR UPDATE}", org, id).Scan(&stored)
		if err != nil {
			return s.notFound(err, "delete app %q", id)
		}
		if version != stored {
			return fmt.Errorf("delete app %q: read version %d, stored version %d: %w", id, version, stored, storage.ErrConflict)
		}
		var group string
		err = tx.queryRow(ctx, "SELECT group_id FROM {catalog_assignments} WHERE org_id = ? AND app_id = ? ORDER BY group_id LIMIT 1", org, id).Scan(&group)
		switch {
		case err == nil:
			return fmt.Errorf("delete app %q: still assigned to group %q: %w", id, group, storage.ErrConflict)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("sqlstore: delete app: %w", err)
		}
		if _, err := tx.exec(ctx, "DELETE FROM {catalog_apps} WHERE org_id = ? AND id = ?", org, id); err != nil {
			return fmt.Errorf("sqlstore: delete app: %w", err)
		}
		return tx.audit(ctx, e)
	})
}

const catalogAssignmentColumns = "org_id, app_id, group_id, mode, version, created_us, updated_us"

func scanCatalogAssignment(row rowScanner) (catalog.Assignment, error) {
	var a catalog.Assignment
	if err := row.Scan(&a.Org, &a.AppID, &a.Group, &a.Mode, &a.Version, us{&a.Created}, us{&a.Updated}); err != nil {
		return catalog.Assignment{}, err
	}
	return a, nil
}

func checkCatalogAssignment(a catalog.Assignment, e storage.AuditEntry) (catalog.Assignment, storage.AuditEntry, error) {
	if err := a.Validate(); err != nil {
		return a, e, err
	}
	e, err := changeEntry(a.Org, e)
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
	err = s.write(ctx, func(tx tx) error {
		_, err := tx.exec(ctx, "INSERT INTO {catalog_assignments} ("+catalogAssignmentColumns+") VALUES (?, ?, ?, ?, ?, ?, ?)",
			a.Org, a.AppID, a.Group, a.Mode, a.Version, micros(a.Created), micros(a.Updated))
		switch {
		case s.foreignKey(err):
			return fmt.Errorf("assign app %q: %w", a.AppID, storage.ErrNotFound)
		case s.unique(err):
			return fmt.Errorf("assign app %q to group %q: %w", a.AppID, a.Group, storage.ErrAlreadyExists)
		case err != nil:
			return fmt.Errorf("sqlstore: create assignment: %w", err)
		}
		return tx.audit(ctx, e)
	})
	return done(a, err)
}

// UpdateAssignment implements catalog.Store.
func (s *Store) UpdateAssignment(ctx context.Context, a catalog.Assignment, e storage.AuditEntry) (catalog.Assignment, error) {
	a, e, err := checkCatalogAssignment(a, e)
	if err != nil {
		return catalog.Assignment{}, err
	}
	err = s.write(ctx, func(tx tx) error {
		stored, err := scanCatalogAssignment(tx.queryRow(ctx, "SELECT "+catalogAssignmentColumns+
			" FROM {catalog_assignments} WHERE org_id = ? AND app_id = ? AND group_id = ? {FOR UPDATE}", a.Org, a.AppID, a.Group))
		if err != nil {
			return s.notFound(err, "update assignment of app %q to group %q", a.AppID, a.Group)
		}
		if a.Version != stored.Version {
			return fmt.Errorf("update assignment of app %q to group %q: read version %d, stored version %d: %w", a.AppID, a.Group, a.Version, stored.Version, storage.ErrConflict)
		}
		a.Version = stored.Version + 1
		a.Created, a.Updated = stored.Created, e.Time
		_, err = tx.exec(ctx, "UPDATE {catalog_assignments} SET mode = ?, version = ?, updated_us = ? WHERE org_id = ? AND app_id = ? AND group_id = ?",
			a.Mode, a.Version, micros(a.Updated), a.Org, a.AppID, a.Group)
		if err != nil {
			return fmt.Errorf("sqlstore: update assignment: %w", err)
		}
		return tx.audit(ctx, e)
	})
	return done(a, err)
}

// DeleteAssignment implements catalog.Store.
func (s *Store) DeleteAssignment(ctx context.Context, org storage.OrgID, appID, group string, e storage.AuditEntry) (catalog.Assignment, error) {
	e, err := changeEntry(org, e)
	if err != nil {
		return catalog.Assignment{}, err
	}
	var stored catalog.Assignment
	err = s.write(ctx, func(tx tx) error {
		stored, err = scanCatalogAssignment(tx.queryRow(ctx, "SELECT "+catalogAssignmentColumns+
			" FROM {catalog_assignments} WHERE org_id = ? AND app_id = ? AND group_id = ? {FOR UPDATE}", org, appID, group))
		if err != nil {
			return s.notFound(err, "unassign app %q from group %q", appID, group)
		}
		if _, err := tx.exec(ctx, "DELETE FROM {catalog_assignments} WHERE org_id = ? AND app_id = ? AND group_id = ?", org, appID, group); err != nil {
			return fmt.Errorf("sqlstore: delete assignment: %w", err)
		}
		return tx.audit(ctx, e)
	})
	return done(stored, err)
}

// ListAssignments implements catalog.Store.
func (s *Store) ListAssignments(ctx context.Context, org storage.OrgID, appID string) ([]catalog.Assignment, error) {
	rows, err := s.query(ctx, "SELECT "+catalogAssignmentColumns+" FROM {catalog_assignments} WHERE org_id = ? AND app_id = ? ORDER BY group_id", org, appID)
	return list(s, "list assignments", rows, err, scanCatalogAssignment)
}

// AssignedApps implements catalog.Store. One query joins the assignments
// of the groups with their apps; rows come grouped by app in store order.
func (s *Store) AssignedApps(ctx context.Context, org storage.OrgID, groups []string) ([]catalog.AssignedApp, error) {
	if len(groups) > catalog.MaxGroupsQuery {
		return nil, fmt.Errorf("%w: %d groups, at most %d per query", storage.ErrInvalid, len(groups), catalog.MaxGroupsQuery)
	}
	if len(groups) == 0 {
		return []catalog.AssignedApp{}, nil
	}
	cols := "a." + strings.ReplaceAll(strings.ReplaceAll(catalogAppColumns, "\n\t", " "), ", ", ", a.")
	q := "SELECT " + cols + `, s.group_id, s.mode, s.version, s.created_us, s.updated_us
		FROM {catalog_assignments} s JOIN {catalog_apps} a ON a.org_id = s.org_id AND a.id = s.app_id
		WHERE s.org_id = ? AND s.group_id IN (SELECT g.value FROM {values g})
		ORDER BY a.name, a.id, s.group_id`
	rows, err := s.query(ctx, q, org, s.strings(groups))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: assigned apps: %w", err)
	}
	defer rows.Close()
	out := []catalog.AssignedApp{}
	for rows.Next() {
		var a catalog.App
		var as catalog.Assignment
		var config string
		err := rows.Scan(&a.Org, &a.ID, &a.Kind, &a.Identifier, &a.StoreID, &a.ManifestURL, &a.BundleVersion, &a.Name, &a.IconURL,
			&a.Description, &config, &a.KeepOnUnenroll, &a.AllowBackup, &a.Version, us{&a.Created}, us{&a.Updated},
			&as.Group, &as.Mode, &as.Version, us{&as.Created}, us{&as.Updated})
		if err != nil {
			return nil, fmt.Errorf("sqlstore: assigned apps: %w", err)
		}
		as.Org, as.AppID = a.Org, a.ID
		if n := len(out); n > 0 && out[n-1].App.ID == a.ID {
			out[n-1].Assignments = append(out[n-1].Assignments, as)
			continue
		}
		if err := a.UnmarshalConfig([]byte(config)); err != nil {
			return nil, fmt.Errorf("sqlstore: %w", err)
		}
		out = append(out, catalog.AssignedApp{App: a, Assignments: []catalog.Assignment{as}})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: assigned apps: %w", err)
	}
	return out, nil
}

const catalogInstallColumns = "org_id, device_id, app_id, command, progress, reason, take_over, bundle_version, updated_us"

func scanCatalogInstall(row rowScanner) (catalog.Install, error) {
	var in catalog.Install
	if err := row.Scan(&in.Org, &in.Device, &in.AppID, &in.Command, &in.Progress, &in.Reason, &in.TakeOver, &in.BundleVersion, us{&in.Updated}); err != nil {
		return catalog.Install{}, err
	}
	return in, nil
}

// StartInstall implements catalog.Store.
func (s *Store) StartInstall(ctx context.Context, in catalog.Install, prevCommand string, e storage.AuditEntry) (catalog.Install, error) {
	if err := catalog.ValidateStart(in, prevCommand); err != nil {
		return catalog.Install{}, err
	}
	e, err := changeEntry(in.Org, e)
	if err != nil {
		return catalog.Install{}, err
	}
	in.Updated = e.Time
	err = s.write(ctx, func(tx tx) error { return tx.startInstall(ctx, in, prevCommand, e) })
	return done(in, err)
}

// FinishInstall implements catalog.Store.
func (s *Store) FinishInstall(ctx context.Context, org storage.OrgID, device, command string, to catalog.Progress, reason string, e storage.AuditEntry) (catalog.Install, error) {
	if err := catalog.ValidateFinish(command, to, reason); err != nil {
		return catalog.Install{}, err
	}
	e, err := changeEntry(org, e)
	if err != nil {
		return catalog.Install{}, err
	}
	var rec catalog.Install
	err = s.write(ctx, func(tx tx) error {
		rec, err = scanCatalogInstall(tx.queryRow(ctx, "SELECT "+catalogInstallColumns+
			" FROM {catalog_installs} WHERE org_id = ? AND device_id = ? AND command = ? {FOR UPDATE}", org, device, command))
		if err != nil {
			return s.notFound(err, "install command %q on %q", command, device)
		}
		if !rec.Progress.Open() {
			return nil
		}
		if err := catalog.CheckFinish(rec.Progress, to); err != nil {
			return err
		}
		rec.Progress, rec.Reason, rec.Updated = to, reason, e.Time
		_, err = tx.exec(ctx, "UPDATE {catalog_installs} SET progress = ?, reason = ?, updated_us = ? WHERE org_id = ? AND device_id = ? AND app_id = ?",
			rec.Progress, rec.Reason, micros(rec.Updated), org, device, rec.AppID)
		if err != nil {
			return fmt.Errorf("sqlstore: finish install: %w", err)
		}
		return tx.audit(ctx, e)
	})
	return done(rec, err)
}

// DeviceInstalls implements catalog.Store.
func (s *Store) DeviceInstalls(ctx context.Context, org storage.OrgID, device string) ([]catalog.Install, error) {
	rows, err := s.query(ctx, "SELECT "+catalogInstallColumns+" FROM {catalog_installs} WHERE org_id = ? AND device_id = ? ORDER BY app_id LIMIT ?",
		org, device, catalog.MaxInstallsPage)
	return list(s, "device installs", rows, err, scanCatalogInstall)
}
