package policy

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/openomm/omm/storage"
)

// ReapplyQueue keeps the re-applications of policies still to be done, so
// that one cut short — its process died after the change committed — is
// taken over by another process within seconds rather than at the next
// periodic reconcile. A request names an org and a user: the devices of
// that user, or every device of the org when the user is "". The store's
// CreatePolicy, UpdatePolicy and DeletePolicy request the org's in their
// own transaction, so a committed change always leaves its request.
//
// A request is claimed, like a lease, by one process at a time; it is
// deleted when its claimant reports it done, unless it was requested again
// meanwhile (its Seq grew): then it is released and runs again, since the
// run may have read the state from before the new change.
type ReapplyQueue interface {
	// RequestReapply records that the org's devices (user's only, when
	// user is not "") are to be re-evaluated, requested at at. A request
	// already waiting gets Seq+1 and Requested at; its claim is kept.
	RequestReapply(ctx context.Context, org storage.OrgID, user string, at time.Time) error
	// ClaimReapply claims the request of (org, user) for claim until
	// until, and returns it, when nobody else holds it at now (never
	// claimed, claim expired, or claim's own: a renewal). ok is false
	// when there is no such request or another claim runs.
	ClaimReapply(ctx context.Context, org storage.OrgID, user, claim string, now, until time.Time) (r ReapplyRequest, ok bool, err error)
	// ClaimDueReapplies claims for claim until until at most limit of the
	// org's requests made at or before requestedBy that nobody holds at
	// now, oldest first, and returns them. Two concurrent calls never
	// claim the same request.
	ClaimDueReapplies(ctx context.Context, org storage.OrgID, requestedBy time.Time, claim string, now, until time.Time, limit int) ([]ReapplyRequest, error)
	// ReapplyDone ends the claim's run of r: the request is deleted if
	// claim still holds it at r.Seq; if it was requested again it is
	// released for another run; held by another claim, it stays as it is.
	ReapplyDone(ctx context.Context, org storage.OrgID, claim string, r ReapplyRequest) error
	// ReapplyProgress ends the claim's run of r part way, its devices
	// re-applied up to device ID after (a run is bounded; devices go in
	// ID order): the request is released with After set, for the next
	// run to go on from there. If it was requested again meanwhile, it
	// is released as it is (the next run starts from the first device);
	// held by another claim, it stays as it is.
	ReapplyProgress(ctx context.Context, org storage.OrgID, claim string, r ReapplyRequest, after string) error
}

// ReapplyRequest is one waiting re-application.
type ReapplyRequest struct {
	// User is whose devices to re-evaluate; "" for every device of the org.
	User string
	// Seq counts the requests made for (org, User) since it last ran.
	Seq int64
	// Requested is when it was last requested.
	Requested time.Time
	// After is the device ID an earlier run of this request reached (see
	// ReapplyQueue.ReapplyProgress): the next run starts after it. It is
	// "" until then, and again whenever the request is made again.
	After string
}

// MaxReapplyClaim bounds the requests one ClaimDueReapplies returns.
const MaxReapplyClaim = 100

// CheckReapply validates a re-application request's org and user (""
// or 1 to storage.MaxIDLen bytes of UTF-8).
func CheckReapply(org storage.OrgID, user string) error {
	if err := org.Validate(); err != nil {
		return err
	}
	if len(user) > storage.MaxIDLen || !utf8.ValidString(user) {
		return fmt.Errorf("%w: re-application of user %q: at most %d bytes of UTF-8", storage.ErrInvalid, user, storage.MaxIDLen)
	}
	return nil
}
