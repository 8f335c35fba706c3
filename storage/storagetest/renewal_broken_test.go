package storagetest

import (
	"context"
	"testing"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// Backends that each break one rule of the renewal contract; the suite
// must catch every one.

// leaseIgnored claims renewals another worker holds.
type leaseIgnored struct{ *memory.Store }

func (s leaseIgnored) ClaimRenewals(ctx context.Context, c enroll.RenewalClaim) ([]enroll.Renewal, error) {
	c.Now = c.Now.Add(c.Lease)
	return s.Store.ClaimRenewals(ctx, c)
}

// unfenced lets a claim write after another took the renewal over.
type unfenced struct{ *memory.Store }

func (s unfenced) QueueRenewal(ctx context.Context, r enroll.Renewal, sess *enroll.Session, cmd *enroll.Command, next time.Time, e storage.AuditEntry) (enroll.Renewal, error) {
	if cur, err := s.Store.Renewal(ctx, r.Org, r.Identity); err == nil {
		r.Attempts, r.LeaseUntil = cur.Attempts, cur.LeaseUntil
	}
	return s.Store.QueueRenewal(ctx, r, sess, cmd, next, e)
}

// splitRenewal queues the command in a write of its own, before the
// renewal: a refused attempt leaves the command queued.
type splitRenewal struct{ *memory.Store }

func (s splitRenewal) QueueRenewal(ctx context.Context, r enroll.Renewal, sess *enroll.Session, cmd *enroll.Command, next time.Time, e storage.AuditEntry) (enroll.Renewal, error) {
	if cmd != nil && r.Org.Validate() == nil {
		if err := s.Store.EnqueueCommand(ctx, r.Org, []string{r.Device}, *cmd, e); err != nil {
			return enroll.Renewal{}, err
		}
	}
	return s.Store.QueueRenewal(ctx, r, sess, cmd, next, e)
}

// leakyRenewals claims and reads renewals of every org.
type leakyRenewals struct{ *memory.Store }

func (s leakyRenewals) ClaimRenewals(ctx context.Context, c enroll.RenewalClaim) ([]enroll.Renewal, error) {
	orgs, _ := s.ListOrgs(ctx)
	var all []enroll.Renewal
	for _, o := range orgs {
		c.Org = o.ID
		got, err := s.Store.ClaimRenewals(ctx, c)
		if err != nil {
			return nil, err
		}
		all = append(all, got...)
	}
	return all, nil
}

// neverRetried returns only first claims: a renewal is never
// retried.
type neverRetried struct{ *memory.Store }

func (s neverRetried) ClaimRenewals(ctx context.Context, c enroll.RenewalClaim) ([]enroll.Renewal, error) {
	got, err := s.Store.ClaimRenewals(ctx, c)
	var out []enroll.Renewal
	for _, r := range got {
		if r.Attempts == 1 {
			out = append(out, r)
		}
	}
	return out, err
}

func TestSuiteCatchesBrokenRenewalBackends(t *testing.T) {
	broken := map[string]func() Store{
		"lease ignored":                     func() Store { return leaseIgnored{memory.New()} },
		"stale claim written":               func() Store { return unfenced{memory.New()} },
		"command queued without renewal":    func() Store { return splitRenewal{memory.New()} },
		"renewals claimed across orgs":      func() Store { return leakyRenewals{memory.New()} },
		"renewal claimed only at its start": func() Store { return neverRetried{memory.New()} },
	}
	expectCaught(t, broken, "Renewal/")
}
