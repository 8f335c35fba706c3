package storagetest

import (
	"context"
	"testing"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// Backends that each break one rule of the re-application contract; the
// suite must catch every one.

// leakyApplied finds a record in any org.
type leakyApplied struct{ *memory.Store }

func (s leakyApplied) AppliedPolicy(ctx context.Context, org storage.OrgID, device string) (policy.Applied, error) {
	orgs, _ := s.ListOrgs(ctx)
	for _, o := range orgs {
		if a, err := s.Store.AppliedPolicy(ctx, o.ID, device); err == nil {
			return a, nil
		}
	}
	return s.Store.AppliedPolicy(ctx, org, device)
}

// splitApply queues the command in a write of its own, before the record:
// a record that cannot be written leaves the command queued.
type splitApply struct{ *memory.Store }

func (s splitApply) ApplyPolicy(ctx context.Context, a policy.Applied, cmd *enroll.Command, e storage.AuditEntry) (policy.Applied, error) {
	if cmd != nil {
		if err := s.Store.EnqueueCommand(ctx, a.Org, []string{a.Device}, *cmd, e); err != nil {
			return policy.Applied{}, err
		}
	}
	return s.Store.ApplyPolicy(ctx, a, nil, e)
}

// blindApply ignores the version: the last writer wins.
type blindApply struct{ *memory.Store }

func (s blindApply) ApplyPolicy(ctx context.Context, a policy.Applied, cmd *enroll.Command, e storage.AuditEntry) (policy.Applied, error) {
	if cur, err := s.Store.AppliedPolicy(ctx, a.Org, a.Device); err == nil {
		a.Version = cur.Version
	}
	return s.Store.ApplyPolicy(ctx, a, cmd, e)
}

// requirementsIgnored records the re-application but leaves the Android
// device's requirements as they were.
type requirementsIgnored struct{ *memory.Store }

func (s requirementsIgnored) ReapplyAndroidDevice(ctx context.Context, a policy.Applied, _ *policy.Requirements, e storage.AuditEntry) (policy.Applied, error) {
	return s.Store.ReapplyAndroidDevice(ctx, a, nil, e)
}

func TestSuiteCatchesBrokenReapplyBackends(t *testing.T) {
	broken := map[string]func() Store{
		"record read across orgs":          func() Store { return leakyApplied{memory.New()} },
		"command queued without record":    func() Store { return splitApply{memory.New()} },
		"version ignored":                  func() Store { return blindApply{memory.New()} },
		"android requirements not updated": func() Store { return requirementsIgnored{memory.New()} },
	}
	expectCaught(t, broken, "Reapply/")
}
