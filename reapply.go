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
// call that made the change, after the change is committed, and is bounded
// to maxReapplyDevices devices: the caller's answer comes once the
// devices' commands are queued, and one log line says what was done. The
// work per device is a few store reads and, where the settings changed, one
// profile signature and one transaction (record, command, audit entry).
//
// A policy change never deprovisions anyone: a device whose user is no
// longer admitted keeps its enrollment and settings, is logged, and shows
// as out of policy with the reason (SDK.Compliance). Deactivating a user
// is what deprovisions their devices.

// maxReapplyDevices bounds the devices one change re-applies to.
const maxReapplyDevices = 10_000

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
	// Truncated: more devices than one change re-applies to; the rest
	// follow at their next change or their user's.
	Truncated bool
}

func (t Reapplied) attrs() []any {
	return []any{"devices", t.Devices, "changed", t.Changed, "unchanged", t.Unchanged, "out_of_policy", t.OutOfPolicy,
		"skipped", t.Skipped, "failed", t.Failed, "truncated", t.Truncated}
}

// policyChanged is the policy service's event hook.
func (s *SDK) policyChanged(ctx context.Context, e policy.Event) {
	s.Reapply(ctx, e.Org, "", fmt.Sprintf("policy %s %s", e.Policy, e.Kind))
}

// Reapply re-evaluates the org's enrolled devices (only userID's, when
// set) and brings each to its decision, logging one line with the tally.
// A device that fails is logged and counted; the others go on. Policy
// changes through the SDK re-apply by themselves; a host calls it when
// something policy depends on changed outside the SDK.
func (s *SDK) Reapply(ctx context.Context, org storage.OrgID, userID, why string) Reapplied {
	var t Reapplied
	// The change is committed: a client going away must not leave the
	// devices half re-applied.
	ctx = context.WithoutCancel(ctx)
	start := s.now()
	users := map[string]policy.User{}
	q := inventory.DeviceQuery{UserID: userID, Limit: inventory.MaxDevicePage}
	for {
		page, err := s.Store.ListDevices(ctx, org, q)
		if err != nil {
			s.log.Error("policy re-application: list devices", "org", org, "err", err)
			t.Failed++
			break
		}
		for _, d := range page.Devices {
			if d.State != inventory.StateEnrolled {
				continue
			}
			if t.Devices == maxReapplyDevices {
				t.Truncated = true
				break
			}
			t.Devices++
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
	if t.Failed > 0 || t.Truncated {
		level = slog.LevelWarn
	}
	s.log.Log(ctx, level, "policy re-applied to enrolled devices",
		append([]any{"org", org, "why", why, "took", s.now().Sub(start).Round(time.Millisecond)}, t.attrs()...)...)
	return t
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
