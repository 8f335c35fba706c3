package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
	sqlite3 "modernc.org/sqlite/lib"
)

// QueueInstall implements catalog.InstallQueuer: the install record and
// its command commit together.
func (s *Store) QueueInstall(ctx context.Context, in catalog.Install, prevCommand string, cmd enroll.Command, e, qe storage.AuditEntry) (catalog.Install, error) {
	if err := catalog.ValidateStart(in, prevCommand); err != nil {
		return catalog.Install{}, err
	}
	if err := cmd.Validate(); err != nil {
		return catalog.Install{}, err
	}
	e, err := rules.ChangeEntry(in.Org, e)
	if err != nil {
		return catalog.Install{}, err
	}
	if qe, err = rules.ChangeEntry(in.Org, qe); err != nil {
		return catalog.Install{}, err
	}
	list, err := json.Marshal([]string{in.Device})
	if err != nil {
		return catalog.Install{}, err
	}
	in.Updated = e.Time
	err = s.write(ctx, func(tx *sql.Tx) error {
		if err := startInstallTx(ctx, tx, in, prevCommand, e); err != nil {
			return err
		}
		return enqueueTx(ctx, tx, in.Org, list, cmd, qe)
	})
	if err != nil {
		return catalog.Install{}, err
	}
	return in, nil
}

// startInstallTx is StartInstall's transaction, validated arguments given.
func startInstallTx(ctx context.Context, tx *sql.Tx, in catalog.Install, prevCommand string, e storage.AuditEntry) error {
	var one int
	err := tx.QueryRowContext(ctx, "SELECT 1 FROM catalog_apps WHERE org_id = ? AND id = ?", in.Org, in.AppID).Scan(&one)
	if err != nil {
		return notFound(err, "install app %q", in.AppID)
	}
	var stored string
	err = tx.QueryRowContext(ctx, "SELECT command FROM catalog_installs WHERE org_id = ? AND device_id = ? AND app_id = ?",
		in.Org, in.Device, in.AppID).Scan(&stored)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: start install: %w", err)
	}
	if stored != prevCommand {
		return fmt.Errorf("install app %q on %q: the latest request is %q, not %q: %w", in.AppID, in.Device, stored, prevCommand, storage.ErrConflict)
	}
	_, err = tx.ExecContext(ctx, "INSERT INTO catalog_installs ("+catalogInstallColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (org_id, device_id, app_id) DO UPDATE SET command = excluded.command, progress = excluded.progress,
		reason = excluded.reason, take_over = excluded.take_over, bundle_version = excluded.bundle_version, updated_us = excluded.updated_us`,
		in.Org, in.Device, in.AppID, in.Command, in.Progress, in.Reason, in.TakeOver, in.BundleVersion, micros(in.Updated))
	switch c := constraint(err); {
	case c == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return fmt.Errorf("install app %q: %w", in.AppID, storage.ErrNotFound)
	case c != 0:
		return fmt.Errorf("install app %q on %q: command %q: %w", in.AppID, in.Device, in.Command, storage.ErrAlreadyExists)
	case err != nil:
		return fmt.Errorf("sqlite: start install: %w", err)
	}
	_, err = appendAudit(ctx, tx, e)
	return err
}

// enqueueTx is EnqueueCommand's transaction, validated arguments given
// (list: the devices as a JSON array).
func enqueueTx(ctx context.Context, tx *sql.Tx, org storage.OrgID, list []byte, cmd enroll.Command, e storage.AuditEntry) error {
	// The audit entry goes first: its foreign key reports an unknown org.
	if _, err := appendAudit(ctx, tx, e); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, "INSERT INTO enroll_commands (org_id, uuid, request_type, body, queued_us) VALUES (?, ?, ?, ?, ?)",
		org, cmd.UUID, cmd.RequestType, cmd.Body, micros(e.Time))
	if constraint(err) != 0 {
		return fmt.Errorf("enqueue command %s: %w", cmd.UUID, storage.ErrAlreadyExists)
	}
	if err != nil {
		return fmt.Errorf("sqlite: enqueue command: %w", err)
	}
	// One statement for the whole fan-out.
	_, err = tx.ExecContext(ctx, `INSERT INTO enroll_queue (org_id, device, uuid, status, updated_us)
		SELECT ?, value, ?, ?, ? FROM json_each(?)`, org, cmd.UUID, enroll.StatusPending, micros(e.Time), string(list))
	if err != nil {
		return fmt.Errorf("sqlite: enqueue command: %w", err)
	}
	return nil
}
