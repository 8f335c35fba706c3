package omm

import (
	"context"
	"errors"
	"fmt"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

// The user lifecycle: the one entry point for changes the directory makes
// (a host IAM calls it; the built-in directory's admin API does too).

// UserChanged brings the SDK in line with the directory's view of the
// user after a change there (attributes, group membership, status): their
// enrolled devices are re-evaluated against the policies, their app
// assignments synchronized, and a user who is no longer active loses
// every device and session ([SDK.UserDeactivated]). actor names who made
// the change in the audit log.
func (s *SDK) UserChanged(ctx context.Context, org storage.OrgID, userID, actor string) error {
	u, err := s.Directory.User(ctx, org, userID)
	if errors.Is(err, storage.ErrNotFound) || err == nil && u.Status != auth.StatusActive {
		_, err := s.UserDeactivated(ctx, org, userID, actor)
		return err
	}
	if err != nil {
		return err
	}
	s.Reapply(ctx, org, userID, "directory change of user "+userID)
	if err := s.Catalog.SyncUser(ctx, org, userID, actor); err != nil {
		return fmt.Errorf("omm: app assignments of user %q: %w", userID, err)
	}
	return nil
}

// UserDeactivated takes the organization's data back from a user who is
// no longer active (deactivated or deleted in the directory): every
// device of theirs is deprovisioned — work data only, on both platforms —
// and their sessions end. It returns how many devices it started
// deprovisioning; devices already being deprovisioned or gone are left
// alone, so that calling it again is harmless.
func (s *SDK) UserDeactivated(ctx context.Context, org storage.OrgID, userID, actor string) (int, error) {
	var errs []error
	if s.Auth != nil {
		if _, err := s.Auth.RevokeUserSessions(ctx, org, userID, actor); err != nil {
			errs = append(errs, fmt.Errorf("sessions: %w", err))
		}
	}
	n := 0
	q := inventory.DeviceQuery{UserID: userID, Limit: inventory.MaxDevicePage}
	for {
		page, err := s.Store.ListDevices(ctx, org, q)
		if err != nil {
			return n, errors.Join(append(errs, err)...)
		}
		for _, d := range page.Devices {
			if d.State.Terminal() || d.State == inventory.StateDeprovisioning {
				continue
			}
			err := s.Act(ctx, d, ActionDeprovision, actor)
			switch {
			case errors.Is(err, inventory.ErrTransition), errors.Is(err, checkin.ErrNotPermitted), errors.Is(err, android.ErrNotPermitted):
				// Deprovisioned, checked out or wiped since the page was
				// read, or never enrolled through its channel.
			case err != nil:
				errs = append(errs, fmt.Errorf("device %s: %w", d.ID, err))
			default:
				n++
			}
		}
		if page.Next == "" {
			break
		}
		q.After = page.Next
	}
	s.log.Info("user deactivated: devices deprovisioning", "org", org, "user", userID, "devices", n, "failed", len(errs))
	return n, errors.Join(errs...)
}
