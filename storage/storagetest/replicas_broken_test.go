package storagetest

import (
	"context"
	"testing"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// stolenLease takes a lease as if the holder's had run out.
type stolenLease struct{ *memory.Store }

func (s stolenLease) TakeLease(ctx context.Context, org storage.OrgID, name, holder string, now, until time.Time) (bool, error) {
	return s.Store.TakeLease(ctx, org, name, holder, until.Add(-time.Microsecond), until)
}

// claimIgnoresClaims claims devices whoever holds them.
type claimIgnoresClaims struct{ *memory.Store }

func (s claimIgnoresClaims) ClaimPushes(ctx context.Context, org storage.OrgID, devices []string, claim string, now, until time.Time, limit int) ([]string, error) {
	return s.Store.ClaimPushes(ctx, org, devices, claim, until.Add(-time.Microsecond), until, limit)
}

// pushAfterCommit queues a command and leaves no durable push: a server
// that dies after the commit never wakes the devices.
type pushAfterCommit struct{ *memory.Store }

func (s pushAfterCommit) EnqueueCommand(ctx context.Context, org storage.OrgID, devices []string, cmd enroll.Command, e storage.AuditEntry) error {
	if err := s.Store.EnqueueCommand(ctx, org, devices, cmd, e); err != nil {
		return err
	}
	got, err := s.Store.ClaimPushes(ctx, org, devices, "gone", e.Time, e.Time.Add(time.Hour), enroll.MaxPushClaim)
	if err != nil {
		return err
	}
	return s.Store.PushesDone(ctx, org, "gone", got)
}

// doneForAnyClaim deletes devices whoever claimed them.
type doneForAnyClaim struct{ *memory.Store }

func (s doneForAnyClaim) PushesDone(ctx context.Context, org storage.OrgID, claim string, devices []string) error {
	now := time.Now().Add(1000 * time.Hour)
	got, err := s.Store.ClaimPushes(ctx, org, devices, claim, now, now.Add(time.Hour), enroll.MaxPushClaim)
	if err != nil {
		return err
	}
	return s.Store.PushesDone(ctx, org, claim, append(got, devices...))
}

// renewalIgnored reports a renewal it never made.
type renewalIgnored struct{ *memory.Store }

func (s renewalIgnored) RenewPushes(ctx context.Context, org storage.OrgID, claim string, devices []string, now, until time.Time) (int, error) {
	if err := storage.CheckLease(org, "push", claim, now, until); err != nil {
		return 0, err
	}
	return len(devices), enroll.ValidateDevices(devices)
}

// renewalTakesBack renews whoever holds the devices.
type renewalTakesBack struct{ *memory.Store }

func (s renewalTakesBack) RenewPushes(ctx context.Context, org storage.OrgID, claim string, devices []string, now, until time.Time) (int, error) {
	got, err := s.Store.ClaimPushes(ctx, org, devices, claim, until.Add(-time.Microsecond), until, enroll.MaxPushClaim)
	return len(got), err
}

func TestSuiteCatchesBrokenReplicaBackends(t *testing.T) {
	broken := map[string]func() Store{
		"lease taken while held":     func() Store { return stolenLease{memory.New()} },
		"push claimed twice":         func() Store { return claimIgnoresClaims{memory.New()} },
		"push not durable":           func() Store { return pushAfterCommit{memory.New()} },
		"push done by another claim": func() Store { return doneForAnyClaim{memory.New()} },
		"push claim not renewed":     func() Store { return renewalIgnored{memory.New()} },
		"push renewal takes back":    func() Store { return renewalTakesBack{memory.New()} },
	}
	expectCaught(t, broken, "Leases/", "Pushes/")
}
