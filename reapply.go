package omm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/declarative"
	"github.com/openomm/omm/enroll/ota"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// Re-application of changed policies to enrolled devices.
//
// After a policy is created, updated or deleted (the policy service's event
// hook) every enrolled device of the org is re-evaluated; after a user's
// groups change (UserChanged), that user's devices are. It runs in the
// call that made the change, after the change is committed, for a batch
// of devices (Config.ReapplyBatch): the caller's answer comes once their
// commands are queued, and one log line says what was done. The devices
// go in ID order; a larger org's rest follow a batch at a time in SDK.Run
// (DrainReapplies), each run going on where the last stopped
// (policy.ReapplyQueue.ReapplyProgress). The
// work per device is a few store reads and, where the settings changed, one
// profile signature and one transaction (record, command, audit entry).
//
// The request is durable (policy.ReapplyQueue): a policy change writes it
// in its own transaction, a user change (UserChanged) before its work
// starts. The
// replica that made the change claims it and deletes it when done; if that
// replica dies on the way, any replica's SDK.Run takes the request over
// once it is ReapplyGrace old and its claim has run out, and runs it
// again from the start (re-evaluating a device that already got its
// settings changes nothing).
//
// A policy change never deprovisions anyone: a device whose user is no
// longer admitted keeps its enrollment and settings, is logged, and shows
// as out of policy with the reason (SDK.Compliance). Deactivating a user
// is what deprovisions their devices.

// defaultReapplyBatch is Config.ReapplyBatch's default.
const defaultReapplyBatch = 10_000

// maxReapplyTries bounds the attempts per device when concurrent
// re-applications of one device collide.
const maxReapplyTries = 3

// ReapplyActor is the audit actor of re-applications after a policy
// change (the change itself is audited with its administrator).
const ReapplyActor = "system:policy-reapply"

// reapplier holds the SDK's reapplier of each platform.
type reapplier struct {
	apple   *ota.Reapplier
	android *android.Reapplier
}

// Reapplied counts what a re-application did.
type Reapplied struct {
	Devices, Changed, Unchanged, OutOfPolicy, Skipped, Failed int
	// Truncated: more devices than one run re-applies to
	// (Config.ReapplyBatch); the rest follow in the background, from
	// where this run stopped (see SDK.DrainReapplies).
	Truncated bool
}

func (t Reapplied) attrs() []any {
	return []any{"devices", t.Devices, "changed", t.Changed, "unchanged", t.Unchanged, "out_of_policy", t.OutOfPolicy,
		"skipped", t.Skipped, "failed", t.Failed, "truncated", t.Truncated}
}

// ReapplyGrace is how long a re-application request is left to the
// replica that made it (which runs it at once) before any replica's
// SDK.Run takes it over.
const ReapplyGrace = 10 * time.Second

// ReapplyClaim is how long a replica's claim on a re-application request
// lasts; the replica renews it while the run goes on, so a claim outlives
// its replica by at most this.
const ReapplyClaim = 30 * time.Second

// maxReappliesPerDrain bounds the requests of one org one drain claims.
const maxReappliesPerDrain = 10

// policyChanged is the policy service's event hook. The store wrote the
// org's re-application request with the change.
func (s *SDK) policyChanged(ctx context.Context, e policy.Event) {
	s.reapplyRequested(context.WithoutCancel(ctx), e.Org, "", fmt.Sprintf("policy %s %s", e.Policy, e.Kind))
}

// Reapply re-evaluates the org's enrolled devices (only userID's, when
// set) and brings each to its decision, logging one line with the tally.
// A device that fails is logged and counted; the others go on. Policy
// changes through the SDK re-apply by themselves; a host calls it when
// something policy depends on changed outside the SDK. The request is
// recorded first (policy.ReapplyQueue), so that a replica that dies
// before the end leaves it to another.
func (s *SDK) Reapply(ctx context.Context, org storage.OrgID, userID, why string) Reapplied {
	// The change is committed: a client going away must not leave the
	// devices half re-applied.
	ctx = context.WithoutCancel(ctx)
	s.requestReapply(ctx, org, userID)
	return s.reapplyRequested(ctx, org, userID, why)
}

// requestReapply records that the devices of (org, userID) are to be
// re-evaluated; a failure is logged (the run goes on: only its takeover by
// another replica is lost).
func (s *SDK) requestReapply(ctx context.Context, org storage.OrgID, userID string) {
	if err := s.Store.RequestReapply(ctx, org, userID, s.now()); err != nil {
		s.log.Warn("policy re-application: record the request", "org", org, "user", userID, "err", err)
	}
}

// reapplyRequested runs the recorded request of (org, userID) under this
// replica's claim and deletes it when done. Another replica's running
// claim does not stop it (its answer is due now, and concurrent
// re-applications of a device are safe); the request then stays for that
// claim to finish.
func (s *SDK) reapplyRequested(ctx context.Context, org storage.OrgID, userID, why string) Reapplied {
	now := s.now()
	r, mine, err := s.Store.ClaimReapply(ctx, org, userID, s.replica, now, now.Add(ReapplyClaim))
	if err != nil {
		s.log.Warn("policy re-application: claim the request", "org", org, "user", userID, "err", err)
	}
	from := ""
	if mine {
		from = r.After // "" unless an earlier run stopped part way
	}
	t, after, err := s.reapply(ctx, org, userID, why, mine, from)
	if mine && err == nil {
		if err := s.reapplyEnded(ctx, org, r, t, after); err != nil {
			s.log.Warn("policy re-application: complete the request", "org", org, "user", userID, "err", err)
		}
	}
	return t
}

// reapplyEnded ends this replica's run of r, which went up to device
// after: the request is done, or, when the run stopped at its batch,
// released to go on from there.
func (s *SDK) reapplyEnded(ctx context.Context, org storage.OrgID, r policy.ReapplyRequest, t Reapplied, after string) error {
	if t.Truncated {
		return s.Store.ReapplyProgress(ctx, org, s.replica, r, after)
	}
	return s.Store.ReapplyDone(ctx, org, s.replica, r)
}

// DrainReapplies runs the re-application requests that their replicas
// left (what [SDK.Run] does every second): those of every org at least
// ReapplyGrace old whose claim, if any, has run out. It returns how many
// it ran.
func (s *SDK) DrainReapplies(ctx context.Context) (int, error) {
	orgs, err := s.Store.ListOrgs(ctx)
	if err != nil {
		return 0, err
	}
	ran := 0
	var errs []error
	for _, o := range orgs {
		now := s.now()
		due, err := s.Store.ClaimDueReapplies(ctx, o.ID, now.Add(-ReapplyGrace), s.replica, now, now.Add(ReapplyClaim), maxReappliesPerDrain)
		errs = append(errs, err)
		for _, r := range due {
			ran++
			who := "the org"
			if r.User != "" {
				who = "user " + r.User
			}
			why := fmt.Sprintf("re-application of %s requested at %s, taken over", who, r.Requested.Format(time.RFC3339))
			if r.After != "" {
				why += ", going on after device " + r.After
			}
			t, after, err := s.reapply(ctx, o.ID, r.User, why, true, r.After)
			if err != nil {
				errs = append(errs, err)
				continue // the claim runs out and the request is taken again
			}
			errs = append(errs, s.reapplyEnded(ctx, o.ID, r, t, after))
		}
	}
	return ran, errors.Join(errs...)
}

// runReapplies is DrainReapplies every poll until ctx ends.
func (s *SDK) runReapplies(ctx context.Context, poll time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := s.DrainReapplies(ctx)
		switch {
		case err != nil:
			s.log.Warn("policy re-applications taken over", "requests", n, "err", err)
		case n > 0:
			s.log.Info("policy re-applications taken over", "requests", n)
		}
	}
}

// reapply is Reapply's work: a batch of the devices after device ID from
// ("": from the first), in ID order; after is the last it went through.
// With claimed, it renews this replica's claim on the request of (org,
// userID) while the run goes on. err reports a run cut short (the devices
// could not be listed); per-device failures are only counted.
func (s *SDK) reapply(ctx context.Context, org storage.OrgID, userID, why string, claimed bool, from string) (Reapplied, string, error) {
	var t Reapplied
	var after string
	var listErr error
	start := s.now()
	renewed := start
	users := map[string]policy.User{}
	q := inventory.DeviceQuery{UserID: userID, Limit: inventory.MaxDevicePage, After: from}
	for {
		page, err := s.Store.ListDevices(ctx, org, q)
		if err != nil {
			s.log.Error("policy re-application: list devices", "org", org, "err", err)
			t.Failed++
			listErr = err
			break
		}
		for _, d := range page.Devices {
			if d.State != inventory.StateEnrolled {
				continue
			}
			if t.Devices == s.reapplyBatch {
				t.Truncated = true
				break
			}
			t.Devices++
			after = d.ID
			if now := s.now(); claimed && now.Sub(renewed) >= ReapplyClaim/3 {
				renewed = now
				if _, ok, err := s.Store.ClaimReapply(ctx, org, userID, s.replica, now, now.Add(ReapplyClaim)); err != nil || !ok {
					s.log.Warn("policy re-application: claim not renewed; another replica may run it too", "org", org, "user", userID, "err", err)
				}
			}
			change, err := s.reapplyRetrying(ctx, d, users)
			switch {
			case err != nil:
				t.Failed++
				s.log.Error("policy re-application failed", "org", org, "device", d.ID, "err", err)
			case change == string(ota.Installed) || change == string(ota.Removed) || change == string(android.ReapplyUpdated):
				t.Changed++
			case change == string(ota.OutOfPolicy):
				t.OutOfPolicy++
			case change == string(ota.Skipped):
				t.Skipped++
			default:
				t.Unchanged++
			}
		}
		if page.Next == "" || t.Truncated {
			break
		}
		q.After = page.Next
	}
	level := slog.LevelInfo
	if t.Failed > 0 {
		level = slog.LevelWarn
	}
	attrs := []any{"org", org, "why", why, "took", s.now().Sub(start).Round(time.Millisecond)}
	if t.Truncated {
		attrs = append(attrs, "continues_after", after)
	}
	s.log.Log(ctx, level, "policy re-applied to enrolled devices", append(attrs, t.attrs()...)...)
	return t, after, listErr
}

// reapplyRetrying is reapplyDevice, deciding again when a concurrent
// re-application of the device wrote first.
func (s *SDK) reapplyRetrying(ctx context.Context, d inventory.Device, users map[string]policy.User) (string, error) {
	change, err := s.reapplyDevice(ctx, d, users)
	for try := 1; errors.Is(err, storage.ErrConflict) && try < maxReapplyTries; try++ {
		change, err = s.reapplyDevice(ctx, d, users)
	}
	return change, err
}

// enrolledPolicy records what a newly enrolled Apple device got from its
// policy (so that its compliance shows from the start) and, when the
// policy changed while it enrolled, sends it the new settings. The record
// is usually written already, with the completion (completingPolicy):
// then it only decides again, and writes when the decision changed.
func (s *SDK) enrolledPolicy(ctx context.Context, org storage.OrgID, id string) {
	d, err := s.Store.Device(ctx, org, id)
	if err == nil {
		_, err = s.reapplyRetrying(context.WithoutCancel(ctx), d, map[string]policy.User{})
	}
	if err != nil {
		s.log.Error("policy of a newly enrolled device not recorded; the next policy change records it", "org", org, "device", id, "err", err)
	}
}

// completingPolicy is the check-in service's completion hook: the policy
// record of an Apple device completing its enrollment — the policy and the
// settings of the session it enrolled under, which the completion installs
// — written in the completion's transaction. enrolledPolicy, after the
// completion, then finds it and writes only when the policy changed while
// the device enrolled. When the session cannot be read, nothing is added
// and enrolledPolicy records the policy as before.
func (s *SDK) completingPolicy(ctx context.Context, d inventory.Device, id enroll.Identity, a *enroll.DeviceAction) {
	if !d.Platform.Apple() || id.Session == "" {
		return
	}
	sess, err := s.Store.EnrollSession(ctx, d.Org, id.Session)
	if err != nil {
		return
	}
	fp := ota.ProfileFingerprint(sess.Requirements)
	a.Policy = &policy.Applied{Org: d.Org, Device: d.ID, Policy: sess.Policy, Fingerprint: fp}
	a.PolicyEntry = storage.AuditEntry{Org: d.Org, Time: s.now(), Actor: ReapplyActor, Action: ota.ActionPolicyRecorded,
		Target: "device:" + d.ID, Details: map[string]string{"policy": string(sess.Policy), "fingerprint": fp}}
}

// reapplyDevice re-evaluates one enrolled device and applies the decision.
func (s *SDK) reapplyDevice(ctx context.Context, d inventory.Device, users map[string]policy.User) (string, error) {
	u, ok := users[d.UserID]
	if !ok {
		var err error
		if u, err = s.policyUser(ctx, d.Org, d.UserID); err != nil {
			return "", fmt.Errorf("user %s: %w", d.UserID, err)
		}
		users[d.UserID] = u
	}
	rep, err := s.reported(ctx, d)
	if err != nil {
		return "", err
	}
	switch {
	case d.Platform.Apple():
		dec, err := s.Policy.Reevaluate(ctx, d.Org, u, ota.AppleFacts(d, rep.osVersion))
		if err != nil {
			return "", err
		}
		if s.Declarative != nil {
			// A device on the declarative channel gets new declarations
			// (one command and one push when they change), not profiles.
			c, err := s.Declarative.Apply(ctx, d, dec, ReapplyActor)
			switch {
			case errors.Is(err, declarative.ErrNotDeclarative):
			case err != nil:
				return "", err
			case c == declarative.Updated:
				return string(ota.Installed), nil
			case c == declarative.OutOfPolicy:
				return string(ota.OutOfPolicy), nil
			default:
				return string(ota.Unchanged), nil
			}
		}
		c, err := s.reapplier.apple.Apply(ctx, d, dec, ReapplyActor)
		return string(c), err
	case d.Platform == inventory.PlatformAndroid:
		ad, err := s.Store.AndroidDevice(ctx, d.Org, d.ID)
		if errors.Is(err, storage.ErrNotFound) { // registered, never enrolled through the channel
			return string(android.ReapplySkipped), nil
		}
		if err != nil {
			return "", err
		}
		dec, err := s.Policy.Reevaluate(ctx, d.Org, u, androidFacts(ad, rep))
		if err != nil {
			return "", err
		}
		c, err := s.reapplier.android.Apply(ctx, d.Org, d.ID, dec, ReapplyActor)
		return string(c), err
	}
	return string(ota.Skipped), nil
}
