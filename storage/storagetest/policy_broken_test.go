package storagetest

import (
	"context"

	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// Broken policy backends, each breaking one rule of policy.Store; see
// TestSuiteCatchesBrokenBackends.

// leakyPolicies lists every org's policies, ignoring tenancy.
type leakyPolicies struct{ *memory.Store }

func (s leakyPolicies) ListPolicies(ctx context.Context, org storage.OrgID) ([]policy.Policy, error) {
	orgs, _ := s.ListOrgs(ctx)
	var all []policy.Policy
	for _, o := range orgs {
		ps, err := s.Store.ListPolicies(ctx, o.ID)
		if err != nil {
			return nil, err
		}
		all = append(all, ps...)
	}
	return all, nil
}

// staleRevision never moves the revision, so caches never notice changes.
type staleRevision struct{ *memory.Store }

func (s staleRevision) PolicyRevision(context.Context, storage.OrgID) (int64, error) { return 0, nil }

// blindDelete deletes whatever version the caller read.
type blindDelete struct{ *memory.Store }

func (s blindDelete) DeletePolicy(ctx context.Context, org storage.OrgID, id policy.ID, _ int64, e storage.AuditEntry) error {
	p, err := s.Policy(ctx, org, id)
	if err != nil {
		return err
	}
	return s.Store.DeletePolicy(ctx, org, id, p.Version, e)
}
