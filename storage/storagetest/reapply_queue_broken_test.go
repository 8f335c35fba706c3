package storagetest

import (
	"context"
	"testing"
	"time"

	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// reapplyAfterCommit changes policies and leaves no durable request: a
// server that dies after the commit never re-applies the change.
type reapplyAfterCommit struct{ *memory.Store }

func (s reapplyAfterCommit) forget(ctx context.Context, org storage.OrgID, at time.Time) error {
	got, err := s.Store.ClaimDueReapplies(ctx, org, at.Add(time.Hour), "gone", at, at.Add(time.Hour), policy.MaxReapplyClaim)
	for _, r := range got {
		err = s.Store.ReapplyDone(ctx, org, "gone", r)
	}
	return err
}

func (s reapplyAfterCommit) CreatePolicy(ctx context.Context, p policy.Policy, e storage.AuditEntry) (policy.Policy, error) {
	got, err := s.Store.CreatePolicy(ctx, p, e)
	if err != nil {
		return got, err
	}
	return got, s.forget(ctx, p.Org, e.Time)
}

// reapplyClaimedTwice claims requests whoever holds them.
type reapplyClaimedTwice struct{ *memory.Store }

func (s reapplyClaimedTwice) ClaimDueReapplies(ctx context.Context, org storage.OrgID, requestedBy time.Time, claim string, now, until time.Time, limit int) ([]policy.ReapplyRequest, error) {
	return s.Store.ClaimDueReapplies(ctx, org, requestedBy, claim, until.Add(-time.Microsecond), until, limit)
}

// reapplyDoneAnyway deletes a request its run completes even when it was
// requested again meanwhile.
type reapplyDoneAnyway struct{ *memory.Store }

func (s reapplyDoneAnyway) ReapplyDone(ctx context.Context, org storage.OrgID, claim string, r policy.ReapplyRequest) error {
	if cur, ok, err := s.Store.ClaimReapply(ctx, org, r.User, claim, time.Now(), time.Now().Add(time.Minute)); err == nil && ok {
		r.Seq = cur.Seq
	}
	return s.Store.ReapplyDone(ctx, org, claim, r)
}

// reapplyProgressAnyway keeps a run's progress even when the request was
// made again meanwhile: the devices before it would miss the new change.
type reapplyProgressAnyway struct{ *memory.Store }

func (s reapplyProgressAnyway) ReapplyProgress(ctx context.Context, org storage.OrgID, claim string, r policy.ReapplyRequest, after string) error {
	if cur, ok, err := s.Store.ClaimReapply(ctx, org, r.User, claim, time.Now(), time.Now().Add(time.Minute)); err == nil && ok {
		r.Seq = cur.Seq
	}
	return s.Store.ReapplyProgress(ctx, org, claim, r, after)
}

// reapplyProgressLost releases a run's request without its progress:
// every run starts from the first device and a large org is never done.
type reapplyProgressLost struct{ *memory.Store }

func (s reapplyProgressLost) ReapplyProgress(ctx context.Context, org storage.OrgID, claim string, r policy.ReapplyRequest, after string) error {
	r.Seq = -1
	return s.Store.ReapplyProgress(ctx, org, claim, r, after)
}

func TestSuiteCatchesBrokenReapplyQueues(t *testing.T) {
	broken := map[string]func() Store{
		"request not written with the change": func() Store { return reapplyAfterCommit{memory.New()} },
		"request claimed twice":               func() Store { return reapplyClaimedTwice{memory.New()} },
		"request deleted though asked again":  func() Store { return reapplyDoneAnyway{memory.New()} },
		"progress kept though asked again":    func() Store { return reapplyProgressAnyway{memory.New()} },
		"progress lost":                       func() Store { return reapplyProgressLost{memory.New()} },
	}
	expectCaught(t, broken, "ReapplyQueue/")
}
