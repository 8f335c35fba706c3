package omm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/openomm/omm/events"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

// The user lifecycle: one entry point for the changes a directory makes
// (a host IAM calls it; the built-in directory's admin API does too), and
// a reconcile for directories that cannot notify.
//
// A user who is no longer active loses, in this order: their sessions,
// every enrollment credential they have not used (so that none works
// again should the user be reactivated), and the organization's data on
// every device (work data only: the personal side stays). Every
// enrollment step also refuses such a user on its own (auth.CheckActive),
// so that a credential still in flight while this runs gets nothing.
// Each device is deprovisioned in one transaction with its audit entries
// and commands; a device already deprovisioning is not asked again, except
// that a wipe stored for the Android Management API is sent to it again
// (it may not have left before a crash). So running it again resumes where
// it stopped, and [SDK.Run] reconciles at start, which is what completes
// an interrupted deactivation.

// AuditCredentialsRevoked is the audit action of revoking a user's unused
// enrollment credentials.
const AuditCredentialsRevoked = "user.credentials.revoke"

// LifecycleActor is the audit actor of what the reconcile does on its own.
const LifecycleActor = "system:user-lifecycle"

// UserChanged brings the SDK in line with the directory's view of the
// user after a change there (attributes, group membership, status): their
// enrolled devices are re-evaluated against the policies and their app
// assignments synchronized; a user the directory no longer knows as
// active is deactivated ([SDK.UserDeactivated]). actor names who made the
// change in the audit log.
func (s *SDK) UserChanged(ctx context.Context, org storage.OrgID, userID, actor string) error {
	err := auth.CheckActive(ctx, s.Directory, org, userID)
	if errors.Is(err, auth.ErrUserInactive) {
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

// Deactivated is what [SDK.UserDeactivated] did.
type Deactivated struct {
	// Sessions, EnrollSessions, Identities and AndroidTokens count the
	// credentials ended.
	Sessions, EnrollSessions, Identities, AndroidTokens int
	// Devices counts the devices whose deprovisioning started; Manual the
	// devices nothing can be done to remotely (a fully managed Android
	// device whose policy forbids a factory reset), each logged.
	Devices, Manual int
}

// UserDeactivated takes the organization's data back from a user who is
// no longer active (deactivated, or deleted from the directory), as the
// lifecycle above describes. Calling it again is harmless: what was done
// is not done twice.
func (s *SDK) UserDeactivated(ctx context.Context, org storage.OrgID, userID, actor string) (Deactivated, error) {
	// The change is the directory's, already made: a caller going away
	// must not leave it half applied.
	ctx = context.WithoutCancel(ctx)
	var out Deactivated
	var errs []error
	if s.Auth != nil {
		n, err := s.Auth.RevokeUserSessions(ctx, org, userID, actor)
		out.Sessions = n
		errs = append(errs, err)
	}
	now := s.now()
	entry := storage.AuditEntry{Org: org, Time: now, Actor: actor, Action: AuditCredentialsRevoked, Target: "user:" + userID,
		Event: events.CredentialsRevoked}
	var err error
	out.EnrollSessions, out.Identities, err = s.Store.RevokeUserEnrollments(ctx, org, userID, now, entry)
	errs = append(errs, err)
	out.AndroidTokens, err = s.Store.RevokeUserTokens(ctx, org, userID, now, entry)
	errs = append(errs, err)

	q := inventory.DeviceQuery{UserID: userID, Limit: inventory.MaxDevicePage}
	for {
		page, err := s.Store.ListDevices(ctx, org, q)
		if err != nil {
			errs = append(errs, err)
			break
		}
		for _, d := range page.Devices {
			if d.State.Terminal() {
				continue
			}
			if d.State == inventory.StateDeprovisioning {
				// Started already: its commands are stored with its state.
				// Only a wipe stored for the Android Management API may not
				// have reached it (the process stopped in between).
				if !d.Platform.Apple() {
					if _, err := s.Android.ResendWipes(ctx, d.Org, d.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
						errs = append(errs, fmt.Errorf("device %s: %w", d.ID, err))
					}
				}
				continue
			}
			done, err := s.takeBack(ctx, d, actor)
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("device %s: %w", d.ID, err))
			case done:
				out.Devices++
			default:
				out.Manual++
			}
		}
		if page.Next == "" {
			break
		}
		q.After = page.Next
	}
	err = errors.Join(errs...)
	s.log.Info("user deactivated", "org", org, "user", userID, "devices", out.Devices, "manual", out.Manual,
		"sessions", out.Sessions, "enroll_sessions", out.EnrollSessions, "identities", out.Identities,
		"android_tokens", out.AndroidTokens, "err", err)
	return out, err
}

// DeactivateUser deactivates a user of the built-in directory
// (auth.LocalDirectory) and takes the organization's data back
// ([SDK.UserDeactivated]); an unknown user is storage.ErrNotFound. A host
// with its own directory deactivates the user there and calls
// UserDeactivated, or lets [SDK.Reconcile] find it: here that is
// ErrNotPermitted.
func (s *SDK) DeactivateUser(ctx context.Context, org storage.OrgID, userID, actor string) (Deactivated, error) {
	local, ok := s.Directory.(*auth.LocalDirectory)
	if !ok {
		return Deactivated{}, fmt.Errorf("%w: users are deactivated in the host's directory", ErrNotPermitted)
	}
	if _, err := local.User(ctx, org, userID); err != nil {
		return Deactivated{}, err
	}
	if err := local.Deactivate(ctx, org, userID, actor); err != nil {
		return Deactivated{}, err
	}
	return s.UserDeactivated(ctx, org, userID, actor)
}

// takeBack removes the organization's data from a device of a user who
// left: the managed profiles and apps of an Apple device, the work profile
// (or the work data) of an Android device — on a fully managed one, all of
// it is the organization's, so a factory reset where the policy allows
// one. It reports false, with no error, where nothing can be done
// remotely, and nothing for a device that left management meanwhile.
func (s *SDK) takeBack(ctx context.Context, d inventory.Device, actor string) (bool, error) {
	var err error
	if d.Platform.Apple() {
		err = s.MDM.Deprovision(ctx, d.Org, d.ID, actor, "the user was deactivated")
	} else {
		ad, aerr := s.Store.AndroidDevice(ctx, d.Org, d.ID)
		if errors.Is(aerr, storage.ErrNotFound) {
			return false, nil // registered, never enrolled through the channel
		}
		if aerr != nil {
			return false, aerr
		}
		kinds := android.WipeKindsFor(d, ad)
		switch {
		case slices.Contains(kinds, android.WipeWorkData):
			_, err = s.Android.RemoveWorkData(ctx, actor, d.Org, d.ID)
		case slices.Contains(kinds, android.WipeFactoryReset):
			_, err = s.Android.FactoryReset(ctx, actor, d.Org, d.ID)
		default:
			s.log.Warn("user deactivated: a fully managed device whose policy forbids a factory reset stays managed; reset it by hand",
				"org", d.Org, "device", d.ID)
			return false, nil
		}
	}
	if errors.Is(err, inventory.ErrTransition) || errors.Is(err, checkin.ErrNotPermitted) || errors.Is(err, android.ErrNotPermitted) {
		return true, nil // deprovisioned, checked out or wiped since the device was read
	}
	return err == nil, err
}

// maxReconcileDeactivations is how many users one reconcile deactivates
// whatever the org's size; beyond it, at most half of the org's users.
const maxReconcileDeactivations = 10

// ErrMassDeactivation: a reconcile found more users inactive than it may
// deactivate on its own, and did nothing.
var ErrMassDeactivation = errors.New("reconcile refused: too many users inactive at once")

// Reconciled is what [SDK.Reconcile] did.
type Reconciled struct {
	// Users is how many users the SDK holds something for; Deactivated how
	// many of them the directory no longer knows as active.
	Users, Deactivated int
	// Reapplied is the policy re-application over the org's devices.
	Reapplied Reapplied
}

// Reconcile compares the directory with what the SDK holds for org, for
// directories that cannot report their changes: every user with a device,
// an unused enrollment credential or an Android token who is no longer
// active is deactivated; the others' devices get their app assignments
// synchronized, and every enrolled device is re-evaluated against the
// policies (unchanged devices get nothing). It is idempotent, and what
// completes a deactivation a crash interrupted. When the directory reports
// more users inactive than maxReconcileDeactivations (or half of the
// org's, if more), it does nothing and returns ErrMassDeactivation.
func (s *SDK) Reconcile(ctx context.Context, org storage.OrgID) (Reconciled, error) {
	var out Reconciled
	users := map[string]bool{} // user → has a device the app store serves
	q := inventory.DeviceQuery{Limit: inventory.MaxDevicePage}
	for {
		page, err := s.Store.ListDevices(ctx, org, q)
		if err != nil {
			return out, err
		}
		for _, d := range page.Devices {
			if d.UserID != "" && !d.State.Terminal() {
				users[d.UserID] = users[d.UserID] || d.State == inventory.StateEnrolled
			}
		}
		if page.Next == "" {
			break
		}
		q.After = page.Next
	}
	now := s.now()
	enrolling, err := s.Store.EnrollmentUsers(ctx, org, now)
	if err != nil {
		return out, err
	}
	tokens, err := s.Store.TokenUsers(ctx, org, now)
	if err != nil {
		return out, err
	}
	for _, u := range append(enrolling, tokens...) {
		users[u] = users[u] // held, with no device the app store serves
	}
	out.Users = len(users)
	var errs []error
	var inactive, active []string
	for _, u := range slices.Sorted(maps.Keys(users)) {
		err := auth.CheckActive(ctx, s.Directory, org, u)
		switch {
		case errors.Is(err, auth.ErrUserInactive):
			inactive = append(inactive, u)
		case err != nil:
			errs = append(errs, fmt.Errorf("user %s: %w", u, err))
		case users[u]:
			active = append(active, u)
		}
	}
	// A directory that suddenly knows most users no longer (a broken
	// adapter, the wrong tenant) must not wipe an org's devices: that
	// needs one UserDeactivated call per user.
	if len(inactive) > max(maxReconcileDeactivations, len(users)/2) {
		return out, fmt.Errorf("%w: the directory reports %d of %d users inactive", ErrMassDeactivation, len(inactive), len(users))
	}
	for _, u := range inactive {
		out.Deactivated++
		if _, err := s.UserDeactivated(ctx, org, u, LifecycleActor); err != nil {
			errs = append(errs, fmt.Errorf("user %s: %w", u, err))
		}
	}
	for _, u := range active {
		if err := s.Catalog.SyncUser(ctx, org, u, LifecycleActor); err != nil {
			errs = append(errs, fmt.Errorf("app assignments of user %s: %w", u, err))
		}
	}
	out.Reapplied = s.Reapply(ctx, org, "", "reconcile with the directory")
	return out, errors.Join(errs...)
}

// DefaultReconcileInterval is how often [SDK.Run] reconciles by default.
const DefaultReconcileInterval = 15 * time.Minute

// ReconcileLease names the lease (storage.Leases) by which one replica
// reconciles an org per interval.
const ReconcileLease = "reconcile"

// Run does the SDK's background work until ctx ends: it drains the push
// outbox of every org every second (the pushes a replica that died after
// its commit left, and the share of a large fan-out) and the policy
// re-applications a replica left ([SDK.DrainReapplies]), and reconciles every
// org with the directory ([SDK.Reconcile]), purges its old events, and
// purges what expired ([SDK.Purge]) every interval
// (DefaultReconcileInterval when not positive); failures are logged and
// retried at the next round. Start it beside the handler: the
// first round completes whatever a crash left half done.
//
// Several replicas on one database each run it, without a leader: the
// outbox's claims give each push to one of them, and an org's reconcile is
// done by the replica that holds its lease (ReconcileLease, for one
// interval), so once per interval whatever the number of replicas. A
// replica that dies holding it is replaced once the lease runs out; a
// restarted one with the same Config.ReplicaID resumes its own at once.
func (s *SDK) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultReconcileInterval
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { s.outbox.Run(ctx, s.Store.ListOrgs, checkin.DefaultOutboxPoll) })
	wg.Go(func() { s.runReapplies(ctx, checkin.DefaultOutboxPoll) })
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.reconcileAll(ctx, interval)
		// Every replica purges: deleting what expired is idempotent.
		p, err := s.Purge(ctx)
		level := slog.LevelInfo
		if err != nil {
			level = slog.LevelWarn
		}
		s.log.Log(ctx, level, "purged expired records", "sessions", p.Sessions, "failures", p.Failures,
			"enrollment_sessions", p.EnrollSessions, "android_tokens", p.AndroidTokens, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ReconcileAll reconciles every org once, renews the device identities
// due for renewal ([SDK.RenewIdentities]) and purges the events older than
// the retention (Config.EventRetention), logging what it did.
func (s *SDK) ReconcileAll(ctx context.Context) { s.reconcileAll(ctx, 0) }

// DrainPushes pushes what waits in every org's push outbox (what [SDK.Run]
// does every second) and returns how many devices it pushed.
func (s *SDK) DrainPushes(ctx context.Context) (int, error) {
	orgs, err := s.Store.ListOrgs(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	var errs []error
	for _, o := range orgs {
		n, err := s.outbox.Drain(ctx, o.ID)
		total += n
		errs = append(errs, err)
	}
	return total, errors.Join(errs...)
}

// reconcileAll is ReconcileAll; with a lease term, only of the orgs whose
// reconcile lease this replica takes for it.
func (s *SDK) reconcileAll(ctx context.Context, lease time.Duration) {
	orgs, err := s.Store.ListOrgs(ctx)
	if err != nil {
		s.log.Error("reconcile: list orgs", "err", err)
		return
	}
	done := 0
	for _, o := range orgs {
		if ctx.Err() != nil {
			return
		}
		if lease > 0 {
			now := s.now()
			mine, err := s.Store.TakeLease(ctx, o.ID, ReconcileLease, s.replica, now, now.Add(lease))
			if err != nil {
				s.log.Warn("reconcile: take the org's lease", "org", o.ID, "err", err)
				continue
			}
			if !mine {
				s.log.Debug("reconcile: another replica holds the org's lease", "org", o.ID)
				continue
			}
		}
		done++
		r, err := s.Reconcile(ctx, o.ID)
		level := slog.LevelInfo
		if err != nil {
			level = slog.LevelWarn
		}
		s.log.Log(ctx, level, "reconciled with the directory", "org", o.ID, "users", r.Users, "deactivated", r.Deactivated,
			"devices_reapplied", r.Reapplied.Devices, "err", err)
		s.renewIdentities(ctx, o.ID)
		if n, err := s.purgeEvents(ctx, o.ID); err != nil || n > 0 {
			s.log.Info("event stream: old events purged", "org", o.ID, "events", n, "retention", s.retention, "err", err)
		}
	}
	s.warnCredentials(ctx)
	s.log.Info(ReconciledMessage, "orgs", len(orgs), "reconciled", done)
}

// ReconciledMessage is the log message of the end of a reconcile round,
// which a test or an operator may wait for.
const ReconciledMessage = "reconcile round done"

// SetMember adds the user to a group of the built-in directory (member)
// or removes them from it, audited with actor, and reports the change to
// the lifecycle ([SDK.UserChanged]): the user's devices get the policy and
// apps their groups now give them. With a host's own directory, groups
// are managed there (ErrNotPermitted here). The group and the user must
// be the org's (storage.ErrNotFound otherwise).
func (s *SDK) SetMember(ctx context.Context, org storage.OrgID, groupID, userID string, member bool, actor string) error {
	local, ok := s.Directory.(*auth.LocalDirectory)
	if !ok {
		return fmt.Errorf("%w: groups are managed in the host's directory", ErrNotPermitted)
	}
	if _, err := local.User(ctx, org, userID); err != nil {
		return err
	}
	var err error
	if member {
		err = local.AddMember(ctx, org, groupID, userID, actor)
	} else {
		err = local.RemoveMember(ctx, org, groupID, userID, actor)
	}
	if err != nil {
		return err
	}
	// UserChanged records the re-application before it runs it, so that
	// a replica dying during it leaves it to another; one dying between
	// the membership's commit and that record leaves it to the next
	// reconcile. (Recording it before the change would leave a request
	// behind a change that is then refused.)
	if err := s.UserChanged(ctx, org, userID, actor); err != nil {
		// The membership is stored; the devices follow at the next change
		// or reconcile.
		s.log.Error("user change after a membership change", "org", org, "user", userID, "err", err)
	}
	return nil
}
