package android

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/openomm/omm/events"

	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// ReapplyStore is what a [Reapplier] needs from storage beyond [Store].
// storage/memory, storage/sqlite and storage/postgres implement it; every
// method is safe for concurrent use and another org's record is
// ErrNotFound.
type ReapplyStore interface {
	// AppliedPolicy returns what the device last got from its policy, or
	// ErrNotFound when nothing was recorded for it yet.
	AppliedPolicy(ctx context.Context, org storage.OrgID, device string) (policy.Applied, error)
	// ReapplyAndroidDevice stores a as the device's record and, when req
	// is not nil, sets the Android device's policy to a.Policy and its
	// requirements to *req, appending entry, all in one transaction.
	// a.Version must be the stored version (0 when there is none), else
	// ErrConflict; with req, an unknown Android device yields ErrNotFound;
	// bad input ErrInvalid. On any error nothing changes. It returns the
	// record as stored (Version incremented, Updated = entry.Time).
	ReapplyAndroidDevice(ctx context.Context, a policy.Applied, req *policy.Requirements, entry storage.AuditEntry) (policy.Applied, error)
}

// Reapplied says what a re-application did to a device.
type Reapplied string

const (
	// ReapplyUnchanged: the device already has the decision's
	// requirements; nothing was changed.
	ReapplyUnchanged Reapplied = "unchanged"
	// ReapplyUpdated: the device's stored requirements changed; on the
	// Android Management API channel its provider policy was patched, on
	// the agent channel the agent gets the new policy at its next poll.
	ReapplyUpdated Reapplied = "updated"
	// ReapplyOutOfPolicy: the decision no longer admits the device (or
	// chooses a mode it is not enrolled in). It keeps its enrollment and
	// its requirements; the record says why.
	ReapplyOutOfPolicy Reapplied = "out_of_policy"
	// ReapplySkipped: the device is not enrolled (any more).
	ReapplySkipped Reapplied = "skipped"
)

// Reapplier brings enrolled Android devices to a changed policy decision.
// A policy change never deprovisions anyone: a device the decision no
// longer admits keeps its enrollment and requirements and is recorded as
// out of policy with the reason.
type Reapplier struct {
	svc   *Service
	store ReapplyStore
}

// NewReapplier returns a reapplier that compiles and delivers policies as
// svc does.
func NewReapplier(svc *Service, store ReapplyStore) *Reapplier {
	return &Reapplier{svc: svc, store: store}
}

// ReapplyFacts describes an enrolled Android device to policy
// re-evaluation (policy.Set.Reevaluate): the capability that made its mode
// possible stands in for what the device reported at enrollment, so that
// the decision keeps its mode while the policy enables it.
func ReapplyFacts(d Device) policy.Device {
	return policy.Device{
		Platform: policy.Android, Ownership: policy.Ownership(d.Ownership),
		WorkProfile: d.Mode == policy.ModeWorkProfile, Knox: d.Mode == policy.ModeKnox,
	}
}

// RequirementsFingerprint identifies a set of requirements.
func RequirementsFingerprint(req policy.Requirements) string {
	// %+v of plain values is deterministic; v1 versions the encoding.
	sum := sha256.Sum256(fmt.Appendf(nil, "v1 %+v", req))
	return hex.EncodeToString(sum[:])
}

// Apply brings device id to the decision dec, on behalf of actor. The
// provider policy is patched before the store is written, so that a failed
// patch leaves the stored requirements old and the next re-application
// tries again. When a concurrent re-application of the same device wrote
// first, the store write fails with storage.ErrConflict: the caller
// decides again and retries.
func (r *Reapplier) Apply(ctx context.Context, org storage.OrgID, id string, dec policy.Decision, actor string) (Reapplied, error) {
	d, err := r.svc.store.AndroidDevice(ctx, org, id)
	if err != nil {
		return "", err
	}
	inv, err := r.svc.reg.Device(ctx, org, id)
	if err != nil {
		return "", err
	}
	if inv.State != inventory.StateEnrolled {
		return ReapplySkipped, nil
	}
	prev, err := r.store.AppliedPolicy(ctx, org, id)
	if errors.Is(err, storage.ErrNotFound) {
		prev, err = policy.Applied{Org: org, Device: id, Policy: d.Policy, Fingerprint: RequirementsFingerprint(d.Requirements)}, nil
	}
	if err != nil {
		return "", err
	}
	next := prev
	reason := ""
	switch {
	case dec.Outcome == policy.Denied:
		reason = policy.OutOfPolicyReason(dec)
	case dec.Android != nil && dec.Android.Mode != d.Mode:
		reason = fmt.Sprintf("policy %q now chooses %s; the device stays enrolled in %s until it enrolls again", dec.PolicyName, dec.Android.Mode, d.Mode)
	}
	if reason != "" {
		next.OutOfPolicy = reason
		if prev.Version > 0 && next == prev {
			return ReapplyOutOfPolicy, nil
		}
		if _, err := r.store.ReapplyAndroidDevice(ctx, next, nil, r.svc.entry(org, actor, ActionDeviceOutOfPolicy, "device:"+id,
			map[string]string{"policy": string(dec.Policy), "reason": reason})); err != nil {
			return "", err
		}
		r.svc.log.WarnContext(ctx, "android: device is out of policy; it keeps its enrollment and requirements",
			"org", org, "device", id, "user", d.UserID, "reason", reason)
		return ReapplyOutOfPolicy, nil
	}
	req := dec.Requirements
	next.Policy, next.OutOfPolicy, next.Fingerprint = dec.Policy, "", RequirementsFingerprint(req)
	if d.Requirements == req && d.Policy == dec.Policy {
		if prev.Version > 0 && next == prev {
			return ReapplyUnchanged, nil
		}
		_, err := r.store.ReapplyAndroidDevice(ctx, next, nil, r.svc.entry(org, actor, ActionDevicePolicyRecorded, "device:"+id,
			map[string]string{"policy": string(dec.Policy)}))
		return ReapplyUnchanged, err
	}
	if d.Channel() == ChannelAMAPI {
		if err := r.patch(ctx, d, req); err != nil {
			return "", err
		}
	}
	entry := r.svc.entry(org, actor, ActionDevicePolicyReapply, "device:"+id,
		map[string]string{"policy": string(dec.Policy), "channel": string(d.Channel()), "fingerprint": next.Fingerprint})
	entry.Event = events.PolicyApplied
	if _, err := r.store.ReapplyAndroidDevice(ctx, next, &req, entry); err != nil {
		return "", err
	}
	r.svc.log.InfoContext(ctx, "android: policy re-applied", "org", org, "device", id, "policy", dec.Policy, "channel", d.Channel())
	return ReapplyUpdated, nil
}

// patch compiles req for the managed device and patches its provider
// policy.
func (r *Reapplier) patch(ctx context.Context, d Device, req policy.Requirements) error {
	if r.svc.provider == nil {
		return ErrNoProvider
	}
	apps, err := r.svc.appsFor(ctx, d.Org, d.UserID, d.ID)
	if err != nil {
		return err
	}
	c, err := Compile(req, CompileOptions{WorkProfile: d.Type == inventory.EnrollAndroidWorkProfile, Apps: apps})
	if err != nil {
		return err
	}
	name := d.ProviderPolicy[strings.LastIndex(d.ProviderPolicy, "/")+1:]
	if _, err := r.svc.provider.PatchPolicy(ctx, r.svc.enterprise, name, c.Policy); err != nil {
		return fmt.Errorf("android: patch policy: %w", err)
	}
	return nil
}
