package storage

import (
	"context"
	"fmt"
	"time"
)

// Leases shares periodic and long-running work between the replicas of a
// deployment (several server processes on one database) without a leader:
// whoever holds a job's lease does it; a replica that dies holding one
// loses it when the lease expires, and another takes the job over.
//
// A lease is named per org (tenant): "reconcile", "webhook:<consumer>".
type Leases interface {
	// TakeLease gives the lease name of org to holder until until, and
	// reports true, when nobody holds it at now (never taken, or expired)
	// or holder already does (a renewal, which may also shorten it); it
	// reports false, changing nothing, while another holder's lease runs.
	// An unknown org is ErrNotFound.
	TakeLease(ctx context.Context, org OrgID, name, holder string, now, until time.Time) (bool, error)
}

// MaxLeaseNameLen and MaxLeaseHolderLen bound a lease's name and holder.
const (
	MaxLeaseNameLen   = 128
	MaxLeaseHolderLen = 128
)

// CheckLease validates TakeLease's arguments: a name and a holder of 1 to
// their maximum bytes, and an until after now.
func CheckLease(org OrgID, name, holder string, now, until time.Time) error {
	if err := org.Validate(); err != nil {
		return err
	}
	switch {
	case name == "" || len(name) > MaxLeaseNameLen:
		return fmt.Errorf("%w: lease name %q: 1 to %d bytes", ErrInvalid, name, MaxLeaseNameLen)
	case holder == "" || len(holder) > MaxLeaseHolderLen:
		return fmt.Errorf("%w: lease holder %q: 1 to %d bytes", ErrInvalid, holder, MaxLeaseHolderLen)
	case !until.After(now):
		return fmt.Errorf("%w: lease %q ends (%v) before it starts (%v)", ErrInvalid, name, until, now)
	}
	return nil
}
