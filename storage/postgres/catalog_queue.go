package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/internal/rules"
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
	in.Updated = e.Time
	err = s.write(ctx, func(tx pgx.Tx) error {
		if err := startInstallTx(ctx, tx, in, prevCommand, e); err != nil {
			return err
		}
		return enqueueTx(ctx, tx, in.Org, []string{in.Device}, cmd, qe)
	})
	if err != nil {
		return catalog.Install{}, err
	}
	return in, nil
}

// startInstallTx is StartInstall's transaction, validated arguments given.
func startInstallTx(ctx context.Context, tx pgx.Tx, in catalog.Install, prevCommand string, e storage.AuditEntry) error {
	var one int
	if err := tx.QueryRow(ctx, "SELECT 1 FROM catalog_apps WHERE org_id = $1 AND id = $2", in.Org, in.AppID).Scan(&one); err != nil {
		return notFound(err, "install app %q", in.AppID)
	}
	args := []any{in.Org, in.Device, in.AppID, in.Command, in.Progress, in.Reason, in.TakeOver, in.BundleVersion, in.Updated}
	var q string
	if prevCommand == "" {
		q = "INSERT INTO catalog_installs (" + catalogInstallColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (org_id, device_id, app_id) DO NOTHING`
	} else {
		q = `UPDATE catalog_installs SET command = $4, progress = $5, reason = $6, take_over = $7, bundle_version = $8, updated = $9
			WHERE org_id = $1 AND device_id = $2 AND app_id = $3 AND command = $10`
		args = append(args, prevCommand)
	}
	tag, err := tx.Exec(ctx, q, args...)
	switch {
	case violation(err, foreignKeyViolation) != nil:
		return fmt.Errorf("install app %q: %w", in.AppID, storage.ErrNotFound)
	case violation(err, uniqueViolation) != nil:
		return fmt.Errorf("install app %q on %q: command %q: %w", in.AppID, in.Device, in.Command, storage.ErrAlreadyExists)
	case err != nil:
		return fmt.Errorf("postgres: start install: %w", err)
	case tag.RowsAffected() == 0:
		return fmt.Errorf("install app %q on %q: the latest request is not %q: %w", in.AppID, in.Device, prevCommand, storage.ErrConflict)
	}
	_, err = appendAudit(ctx, tx, e)
	return err
}

// enqueueTx is EnqueueCommand's transaction, validated arguments given.
func enqueueTx(ctx context.Context, tx pgx.Tx, org storage.OrgID, devices []string, cmd enroll.Command, e storage.AuditEntry) error {
	// The audit entry goes first: its foreign key reports an unknown org.
	if _, err := appendAudit(ctx, tx, e); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, "INSERT INTO enroll_commands (org_id, uuid, request_type, body, queued) VALUES ($1, $2, $3, $4, $5)",
		org, cmd.UUID, cmd.RequestType, cmd.Body, e.Time)
	if violation(err, uniqueViolation) != nil {
		return fmt.Errorf("enqueue command %s: %w", cmd.UUID, storage.ErrAlreadyExists)
	}
	if err != nil {
		return fmt.Errorf("postgres: enqueue command: %w", err)
	}
	// One statement for the whole fan-out.
	_, err = tx.Exec(ctx, `INSERT INTO enroll_queue (org_id, device, uuid, status, updated)
		SELECT $1, d, $2, $3, $4 FROM unnest($5::text[]) AS d`, org, cmd.UUID, enroll.StatusPending, e.Time, devices)
	if err != nil {
		return fmt.Errorf("postgres: enqueue command: %w", err)
	}
	return nil
}
