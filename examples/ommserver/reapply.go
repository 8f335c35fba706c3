package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/enroll/ota"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// Re-application of changed policies to enrolled devices.
//
// After a policy is created, updated or deleted (the policy service's event
// hook) every enrolled device of the org is re-evaluated; after a user
// joins a group, that user's devices are. It runs in the request that made
// the change, after the change is committed, and is bounded to
// maxReapplyDevices devices: the administrator's answer comes once the
// devices' commands are queued, and one log line says what was done. The
// work per device is a few store reads and, where the settings changed, one
// profile signature and one transaction (record, command, audit entry).
//
// A policy change never deprovisions anyone: a device whose user is no
// longer admitted keeps its enrollment and settings, is logged, and shows
// "in_policy": false with the reason in the admin device view
// (GET /api/admin/devices/{id}, field "policy"). Deactivating a user is
// what deprovisions their devices.

// maxReapplyDevices bounds the devices one change re-applies to.
const maxReapplyDevices = 10_000

// maxReapplyTries bounds the attempts per device when concurrent
// re-applications of one device collide.
const maxReapplyTries = 3

// reapplyActor is the audit actor of re-applications after a policy change
// (the change itself is audited with its administrator).
const reapplyActor = "system:policy-reapply"

// reapplier holds the SDK's reapplier of each platform.
type reapplier struct {
	store   store
	apple   *ota.Reapplier
	android *android.Reapplier
}

// newReapplier returns the server's reapplier.
func newReapplier(srv *server, waker checkin.Waker) *reapplier {
	rs := srv.store
	var opts []ota.ReapplyOption
	if waker != nil {
		opts = append(opts, ota.WithReapplyWaker(waker))
	}
	return &reapplier{store: rs, apple: ota.NewReapplier(srv.ota, rs, opts...), android: android.NewReapplier(srv.android, rs)}
}

// reapplyTally counts what a re-application did.
type reapplyTally struct {
	devices, changed, unchanged, outOfPolicy, skipped, failed int
	truncated                                                 bool
}

func (t reapplyTally) attrs() []any {
	return []any{"devices", t.devices, "changed", t.changed, "unchanged", t.unchanged, "out_of_policy", t.outOfPolicy,
		"skipped", t.skipped, "failed", t.failed, "truncated", t.truncated}
}

// policyChanged is the policy service's event hook.
func (s *server) policyChanged(ctx context.Context, e policy.Event) {
	s.reapply(ctx, e.Org, "", reapplyActor, fmt.Sprintf("policy %s %s", e.Policy, e.Kind))
}

// reapplyUser re-applies the policy to userID's devices, after their
// groups changed.
func (s *server) reapplyUser(ctx context.Context, org storage.OrgID, userID, actor string) {
	s.reapply(ctx, org, userID, actor, "group membership of user "+userID+" changed")
}

// reapply re-evaluates the org's enrolled devices (only userID's, when
// set) and brings each to its decision, logging one line with the tally.
// A device that fails is logged and counted; the others go on.
func (s *server) reapply(ctx context.Context, org storage.OrgID, userID, actor, why string) reapplyTally {
	var t reapplyTally
	if s.reapplier == nil {
		return t
	}
	// The change is committed: a client going away must not leave the
	// devices half re-applied.
	ctx = context.WithoutCancel(ctx)
	start := time.Now()
	users := map[string]policy.User{}
	q := inventory.DeviceQuery{UserID: userID, Limit: inventory.MaxDevicePage}
	for {
		page, err := s.store.ListDevices(ctx, org, q)
		if err != nil {
			s.log.Error("policy re-application: list devices", "org", org, "err", err)
			t.failed++
			break
		}
		for _, d := range page.Devices {
			if d.State != inventory.StateEnrolled {
				continue
			}
			if t.devices == maxReapplyDevices {
				t.truncated = true
				break
			}
			t.devices++
			change, err := s.reapplyDevice(ctx, d, users, actor)
			for try := 1; errors.Is(err, storage.ErrConflict) && try < maxReapplyTries; try++ {
				// Another re-application of the device won: decide again.
				change, err = s.reapplyDevice(ctx, d, users, actor)
			}
			switch {
			case err != nil:
				t.failed++
				s.log.Error("policy re-application failed", "org", org, "device", d.ID, "err", err)
			case change == string(ota.Installed) || change == string(ota.Removed) || change == string(android.ReapplyUpdated):
				t.changed++
			case change == string(ota.OutOfPolicy):
				t.outOfPolicy++
			case change == string(ota.Skipped):
				t.skipped++
			default:
				t.unchanged++
			}
		}
		if page.Next == "" || t.truncated {
			break
		}
		q.After = page.Next
	}
	level := slog.LevelInfo
	if t.failed > 0 || t.truncated {
		level = slog.LevelWarn
	}
	s.log.Log(ctx, level, "policy re-applied to enrolled devices",
		append([]any{"org", org, "why", why, "took", time.Since(start).Round(time.Millisecond)}, t.attrs()...)...)
	return t
}

// reapplyDevice re-evaluates one enrolled device and applies the decision.
func (s *server) reapplyDevice(ctx context.Context, d inventory.Device, users map[string]policy.User, actor string) (string, error) {
	u, ok := users[d.UserID]
	if !ok {
		var err error
		if u, err = s.policyUser(ctx, d.Org, d.UserID); err != nil {
			return "", fmt.Errorf("user %s: %w", d.UserID, err)
		}
		users[d.UserID] = u
	}
	switch {
	case d.Platform.Apple():
		dec, err := s.policy.Reevaluate(ctx, d.Org, u, ota.AppleFacts(d, s.reportedOSVersion(ctx, d)))
		if err != nil {
			return "", err
		}
		c, err := s.reapplier.apple.Apply(ctx, d, dec, actor)
		return string(c), err
	case d.Platform == inventory.PlatformAndroid:
		ad, err := s.store.AndroidDevice(ctx, d.Org, d.ID)
		if errors.Is(err, storage.ErrNotFound) { // registered, never enrolled through the channel
			return string(android.ReapplySkipped), nil
		}
		if err != nil {
			return "", err
		}
		dec, err := s.policy.Reevaluate(ctx, d.Org, u, android.ReapplyFacts(ad))
		if err != nil {
			return "", err
		}
		c, err := s.reapplier.android.Apply(ctx, d.Org, d.ID, dec, actor)
		return string(c), err
	}
	return string(ota.Skipped), nil
}

// reportedOSVersion is the OS version the device reported, or "".
func (s *server) reportedOSVersion(ctx context.Context, d inventory.Device) string {
	vals, err := s.store.DeviceValues(ctx, d.Org, d.ID)
	if err != nil {
		return ""
	}
	for _, v := range vals {
		if v.Key == inventory.KeyOSVersion {
			return v.Value
		}
	}
	return ""
}

// appliedView is what the admin device view shows of the policy a device
// last got.
type appliedView struct {
	Policy      policy.ID `json:"policy"`
	InPolicy    bool      `json:"in_policy"`
	OutOfPolicy string    `json:"out_of_policy,omitempty"`
	Fingerprint string    `json:"settings_fingerprint,omitempty"`
	Updated     time.Time `json:"updated"`
}

// devicePolicy returns the device's applied-policy view, nil before any
// re-application recorded one.
func (s *server) devicePolicy(ctx context.Context, d inventory.Device) (*appliedView, error) {
	if s.reapplier == nil {
		return nil, nil
	}
	a, err := s.reapplier.store.AppliedPolicy(ctx, d.Org, d.ID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &appliedView{Policy: a.Policy, InPolicy: a.OutOfPolicy == "", OutOfPolicy: a.OutOfPolicy,
		Fingerprint: a.Fingerprint, Updated: a.Updated}, nil
}
