package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
)

// QueueInstall implements catalog.InstallQueuer: the install record and
// its command commit together.
func (s *Store) QueueInstall(ctx context.Context, in catalog.Install, prevCommand string, cmd enroll.Command, e, qe storage.AuditEntry) (catalog.Install, error) {
	if err := catalog.ValidateStart(in, prevCommand); err != nil {
		return catalog.Install{}, err
	}
	e, err := checked(cmd.Validate(), in.Org, e)
	if err != nil {
		return catalog.Install{}, err
	}
	if qe, err = changeEntry(in.Org, qe); err != nil {
		return catalog.Install{}, err
	}
	in.Updated = e.Time
	err = s.write(ctx, func(tx tx) error {
		if err := tx.startInstall(ctx, in, prevCommand, e); err != nil {
			return err
		}
		return tx.enqueue(ctx, in.Org, []string{in.Device}, cmd, qe)
	})
	return done(in, err)
}

// startInstall is StartInstall's transaction, validated arguments given. A
// first install inserts, a later one replaces the request named by
// prevCommand: either finds the row as the caller last read it or changes
// nothing (ErrConflict), however many requests race.
func (tx tx) startInstall(ctx context.Context, in catalog.Install, prevCommand string, e storage.AuditEntry) error {
	var one int
	if err := tx.queryRow(ctx, "SELECT 1 FROM {catalog_apps} WHERE org_id = ? AND id = ?", in.Org, in.AppID).Scan(&one); err != nil {
		return tx.s.notFound(err, "install app %q", in.AppID)
	}
	args := []any{in.Org, in.Device, in.AppID, in.Command, in.Progress, in.Reason, in.TakeOver, in.BundleVersion, micros(in.Updated)}
	q := "INSERT INTO {catalog_installs} (" + catalogInstallColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (org_id, device_id, app_id) DO NOTHING`
	if prevCommand != "" {
		q = `UPDATE {catalog_installs} SET org_id = ?, device_id = ?, app_id = ?, command = ?, progress = ?, reason = ?, take_over = ?,
			bundle_version = ?, updated_us = ? WHERE org_id = ? AND device_id = ? AND app_id = ? AND command = ?`
		args = append(args, in.Org, in.Device, in.AppID, prevCommand)
	}
	n, err := tx.affected(ctx, q, args...)
	switch {
	case tx.s.foreignKey(err):
		return fmt.Errorf("install app %q: %w", in.AppID, storage.ErrNotFound)
	case tx.s.unique(err):
		return fmt.Errorf("install app %q on %q: command %q: %w", in.AppID, in.Device, in.Command, storage.ErrAlreadyExists)
	case err != nil:
		return tx.s.fail("start install", err)
	case n == 0:
		return fmt.Errorf("install app %q on %q: the latest request is not %q: %w", in.AppID, in.Device, prevCommand, storage.ErrConflict)
	}
	return tx.audit(ctx, e)
}

// enqueue is EnqueueCommand's transaction, validated arguments given.
func (tx tx) enqueue(ctx context.Context, org storage.OrgID, devices []string, cmd enroll.Command, e storage.AuditEntry) error {
	// The audit entry goes first: its foreign key reports an unknown org.
	if _, err := tx.appendAudit(ctx, e); err != nil {
		return err
	}
	return tx.insertCommand(ctx, org, devices, cmd, e.Time)
}

// valuesRows is the VALUES list of a multi-row INSERT: row n times.
func valuesRows(row string, n int) string {
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// maxCommandRows bounds the rows of one insertActionCommands statement
// (five parameters each).
const maxCommandRows = 100

// insertActionCommands queues a device action's commands for device, in
// order, without its push-outbox row: the bodies in one statement and the
// queue rows in another, as many commands as an enrollment queues (each
// command's own pair had been a third of the completing transaction).
func (tx tx) insertActionCommands(ctx context.Context, org storage.OrgID, device string, cmds []enroll.ActionCommand) error {
	for len(cmds) > 0 {
		n := min(len(cmds), maxCommandRows)
		rows := valuesRows("(?, ?, ?, ?, ?)", n)
		bodies := make([]any, 0, 5*n)
		queue := make([]any, 0, 5*n)
		for _, c := range cmds[:n] {
			at := micros(c.Entry.Time)
			bodies = append(bodies, org, c.Command.UUID, c.Command.RequestType, c.Command.Body, at)
			queue = append(queue, org, device, c.Command.UUID, enroll.StatusPending, at)
		}
		_, err := tx.exec(ctx, "INSERT INTO {enroll_commands} (org_id, uuid, request_type, body, queued_us) VALUES "+rows, bodies...)
		if tx.s.unique(err) {
			return fmt.Errorf("enqueue commands for %q: %w", device, storage.ErrAlreadyExists)
		}
		if err != nil {
			return tx.s.fail("enqueue commands", err)
		}
		// One statement inserts its rows in order: the queue keeps the
		// action's order.
		if _, err := tx.exec(ctx, "INSERT INTO {enroll_queue} (org_id, device, uuid, status, updated_us) VALUES "+rows, queue...); err != nil {
			return tx.s.fail("enqueue commands", err)
		}
		cmds = cmds[n:]
	}
	return nil
}

// insertCommand queues cmd for devices: the body once, and one queue row
// per device in one statement, however many devices; and the devices'
// push-outbox rows.
func (tx tx) insertCommand(ctx context.Context, org storage.OrgID, devices []string, cmd enroll.Command, at time.Time) error {
	_, err := tx.exec(ctx, "INSERT INTO {enroll_commands} (org_id, uuid, request_type, body, queued_us) VALUES (?, ?, ?, ?, ?)",
		org, cmd.UUID, cmd.RequestType, cmd.Body, micros(at))
	if tx.s.unique(err) {
		return fmt.Errorf("enqueue command %s: %w", cmd.UUID, storage.ErrAlreadyExists)
	}
	if err != nil {
		return tx.s.fail("enqueue command", err)
	}
	_, err = tx.exec(ctx, `INSERT INTO {enroll_queue} (org_id, device, uuid, status, updated_us)
		SELECT ?, d.value, ?, ?, ? FROM {values d}`, org, cmd.UUID, enroll.StatusPending, micros(at), tx.s.strings(devices))
	if err != nil {
		return tx.s.fail("enqueue command", err)
	}
	return tx.queuePushes(ctx, org, devices, at)
}
