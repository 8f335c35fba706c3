package ota

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/openomm/omm/events"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/mdm"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// ReapplyStore is what a [Reapplier] needs from storage. storage/memory,
// storage/sqlite and storage/postgres implement it; every method is safe
// for concurrent use and another org's record is ErrNotFound.
type ReapplyStore interface {
	// AppliedPolicy returns what the device last got from its policy, or
	// ErrNotFound when nothing was recorded for it yet.
	AppliedPolicy(ctx context.Context, org storage.OrgID, device string) (policy.Applied, error)
	// ApplyPolicy stores a as the device's record and, when cmd is not nil,
	// queues cmd for a.Device (as enroll.CommandQueue.EnqueueCommand does),
	// appending entry, all in one transaction. a.Version must be the stored
	// version (0 when there is none), else ErrConflict: of concurrent
	// writers from one version exactly one succeeds. A command UUID already
	// used in the org yields ErrAlreadyExists, bad input ErrInvalid, an
	// unknown org ErrNotFound; on any error nothing changes. It returns the
	// record as stored (Version incremented, Updated = entry.Time).
	ApplyPolicy(ctx context.Context, a policy.Applied, cmd *enroll.Command, entry storage.AuditEntry) (policy.Applied, error)
	// DeviceEnrollSession returns the enrollment session of an identity
	// bound to device: the decision the device enrolled under. A device
	// without a bound identity yields ErrNotFound.
	DeviceEnrollSession(ctx context.Context, org storage.OrgID, device string) (enroll.Session, error)
}

// Waker wakes devices so that they fetch their commands;
// checkin.Pusher implements it.
type Waker interface {
	Wake(ctx context.Context, org storage.OrgID, devices []string) error
}

// queuedWaker is a Waker that can wake devices for commands just queued
// without recording their push again (checkin.QueuedWaker).
type queuedWaker interface {
	WakeQueued(ctx context.Context, org storage.OrgID, devices []string) error
}

// Change says what a re-application did to a device.
type Change string

const (
	// Unchanged: the device already has what the decision requires;
	// nothing was queued.
	Unchanged Change = "unchanged"
	// Installed: a new policy profile was queued (InstallProfile replaces
	// the one with the same identifier).
	Installed Change = "installed"
	// Removed: the decision needs no policy profile any more; RemoveProfile
	// was queued.
	Removed Change = "removed"
	// OutOfPolicy: the decision no longer admits the device. It keeps its
	// enrollment and its settings; the record says why.
	OutOfPolicy Change = "out_of_policy"
	// Skipped: the device is not enrolled (pending, deprovisioning or
	// gone); enrollment or deprovisioning decides its profiles.
	Skipped Change = "skipped"
)

// Reapplier brings enrolled Apple devices to a changed policy decision:
// when the settings the policy profile carries changed, it queues the new
// signed profile (same identifier, so the device replaces the old one) or
// RemoveProfile when none is needed any more, records a fingerprint of what
// the device was sent and wakes it. A decision that changes nothing the
// profile carries queues nothing.
//
// A policy change never deprovisions anyone: a device whose decision is now
// Denied (its user no longer targeted, or a raised OS minimum) keeps its
// enrollment and the settings it has, and is recorded as out of policy
// with the decision's reason, for an administrator to act on.
type Reapplier struct {
	svc   *Service
	store ReapplyStore
	waker Waker
	log   *slog.Logger
	now   func() time.Time
}

// ReapplyOption configures [NewReapplier].
type ReapplyOption func(*Reapplier)

// WithReapplyWaker wakes devices after a command is queued (default: they
// fetch it at their next check-in).
func WithReapplyWaker(w Waker) ReapplyOption { return func(r *Reapplier) { r.waker = w } }

// NewReapplier returns a reapplier that builds and signs profiles with svc
// (so they are the very profiles enrollment installs), with svc's logger
// and clock.
func NewReapplier(svc *Service, store ReapplyStore, opts ...ReapplyOption) *Reapplier {
	r := &Reapplier{svc: svc, store: store, log: svc.log, now: svc.now}
	for _, o := range opts {
		o(r)
	}
	return r
}

// ErrNotApple reports a device the Reapplier cannot manage.
var ErrNotApple = errors.New("ota: not an Apple device")

// Apply brings d to the decision dec (of d's user on d, see
// policy.Set.Reevaluate), on behalf of actor. Each change is one store
// transaction: the record, the queued command and the audit entry. When a
// concurrent re-application of the same device wrote first, Apply changes
// nothing and returns an error wrapping storage.ErrConflict: the caller
// decides again (its decision may be older than the other's) and retries.
func (r *Reapplier) Apply(ctx context.Context, d inventory.Device, dec policy.Decision, actor string) (Change, error) {
	if !d.Platform.Apple() {
		return "", fmt.Errorf("%w: device %s is %s", ErrNotApple, d.ID, d.Platform)
	}
	if d.State != inventory.StateEnrolled {
		return Skipped, nil
	}
	return r.apply(ctx, d, dec, actor)
}

func (r *Reapplier) apply(ctx context.Context, d inventory.Device, dec policy.Decision, actor string) (Change, error) {
	prev, err := r.applied(ctx, d)
	if err != nil {
		return "", err
	}
	next := prev
	if dec.Outcome == policy.Denied {
		next.OutOfPolicy = policy.OutOfPolicyReason(dec)
		if prev.Version > 0 && next == prev {
			return OutOfPolicy, nil
		}
		if _, err := r.store.ApplyPolicy(ctx, next, nil, r.entry(d, actor, ActionPolicyOutOfPolicy,
			map[string]string{"policy": string(dec.Policy), "reason": next.OutOfPolicy})); err != nil {
			return "", err
		}
		r.log.WarnContext(ctx, "ota: device is out of policy; it keeps its enrollment and settings",
			"org", d.Org, "device", d.ID, "user", d.UserID, "reason", next.OutOfPolicy)
		return OutOfPolicy, nil
	}
	next.Policy, next.OutOfPolicy, next.Fingerprint = dec.Policy, "", ProfileFingerprint(dec.Requirements)
	if next.Fingerprint == prev.Fingerprint {
		if prev.Version > 0 && next == prev {
			return Unchanged, nil
		}
		// Nothing to send; the record learns the policy (or that the
		// device is back in policy).
		_, err := r.store.ApplyPolicy(ctx, next, nil, r.entry(d, actor, ActionPolicyRecorded,
			map[string]string{"policy": string(dec.Policy), "fingerprint": next.Fingerprint}))
		return Unchanged, err
	}
	cmd, change, err := r.command(ctx, d.Org, dec.Requirements)
	if err != nil {
		return "", err
	}
	body, err := cmd.Encode()
	if err != nil {
		return "", err
	}
	entry := r.entry(d, actor, ActionPolicyReapply, map[string]string{
		"policy": string(dec.Policy), "command": cmd.RequestType, "uuid": cmd.UUID, "fingerprint": next.Fingerprint,
	})
	entry.Event = events.PolicyApplied
	if _, err := r.store.ApplyPolicy(ctx, next, &enroll.Command{UUID: cmd.UUID, RequestType: cmd.RequestType, Body: body}, entry); err != nil {
		return "", err
	}
	r.log.InfoContext(ctx, "ota: policy re-applied", "org", d.Org, "device", d.ID, "policy", dec.Policy, "command", cmd.RequestType)
	if r.waker != nil {
		// The re-application queued the command and recorded its push:
		// a waker that can (checkin.Outbox) does not record it again.
		wake := r.waker.Wake
		if q, ok := r.waker.(queuedWaker); ok {
			wake = q.WakeQueued
		}
		if err := wake(ctx, d.Org, []string{d.ID}); err != nil {
			r.log.WarnContext(ctx, "ota: wake device after re-applying its policy", "device", d.ID, "err", err)
		}
	}
	return change, nil
}

// applied returns the device's record, or for a device without one the
// baseline its enrollment installed: the session's requirements.
func (r *Reapplier) applied(ctx context.Context, d inventory.Device) (policy.Applied, error) {
	a, err := r.store.AppliedPolicy(ctx, d.Org, d.ID)
	if err == nil || !errors.Is(err, storage.ErrNotFound) {
		return a, err
	}
	a = policy.Applied{Org: d.Org, Device: d.ID}
	sess, err := r.store.DeviceEnrollSession(ctx, d.Org, d.ID)
	switch {
	case err == nil:
		a.Policy, a.Fingerprint = sess.Policy, ProfileFingerprint(sess.Requirements)
	case errors.Is(err, storage.ErrNotFound):
		// Enrolled some other way: nothing known to be installed.
		a.Policy = policy.DefaultID
	default:
		return a, err
	}
	return a, nil
}

// command is the command that brings the device's policy profile to req.
func (r *Reapplier) command(ctx context.Context, org storage.OrgID, req policy.Requirements) (mdm.Command, Change, error) {
	name, err := r.svc.orgName(ctx, org)
	if err != nil {
		return mdm.Command{}, "", err
	}
	p := r.svc.PolicyProfile(org, name, req)
	if p == nil {
		return mdm.RemoveProfile(r.svc.PolicyProfileIdentifier(org)), Removed, nil
	}
	signed, err := r.svc.signPolicy(ctx, org, p)
	if err != nil {
		return mdm.Command{}, "", err
	}
	return mdm.InstallProfile(signed), Installed, nil
}

func (r *Reapplier) entry(d inventory.Device, actor, action string, details map[string]string) storage.AuditEntry {
	return storage.AuditEntry{Org: d.Org, Time: r.now(), Actor: actor, Action: action, Target: "device:" + d.ID, Details: details}
}

// PolicyProfileIdentifier is the PayloadIdentifier of org's policy
// profile: fixed, so that a new version replaces the installed one and
// RemoveProfile finds it.
func (s *Service) PolicyProfileIdentifier(org storage.OrgID) string {
	return s.identifier(org, "policy")
}

// ProfileFingerprint identifies what the policy profile built from req
// enforces (see [Service.PolicyProfile]): the passcode rule and the
// managed/unmanaged data separation, nothing else the requirements hold.
// It is empty when req needs no profile.
func ProfileFingerprint(req policy.Requirements) string {
	ds := req.DataSeparation
	if !req.Passcode.Required && !ds.BlockManagedToUnmanaged && !ds.BlockUnmanagedToManaged {
		return ""
	}
	// %+v of plain values is deterministic; v1 versions the encoding.
	b := fmt.Appendf(nil, "v1 %+v m2u=%t u2m=%t", req.Passcode, ds.BlockManagedToUnmanaged, ds.BlockUnmanagedToManaged)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// AppleFacts describes an enrolled Apple device to policy re-evaluation
// (policy.Set.Reevaluate): its platform, ownership and the OS version it
// reported (empty when it has not yet).
func AppleFacts(d inventory.Device, osVersion string) policy.Device {
	p := policy.IOS
	if d.Platform == inventory.PlatformMacOS {
		p = policy.MacOS
	}
	f := policy.Device{Platform: p, Ownership: policy.OwnershipPersonal}
	if d.Ownership == inventory.OwnershipCompany {
		f.Ownership = policy.OwnershipCompany
	}
	if _, err := policy.ParseVersion(osVersion); err == nil {
		f.OSVersion = osVersion
	}
	return f
}
