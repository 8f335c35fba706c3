package enroll

import (
	"context"
	"time"

	"github.com/openomm/omm/storage"
)

// PushOutbox is the durable record of the devices to wake: a row per
// device, written in the same transaction as every command queued for it
// ([CommandQueue.EnqueueCommand] and every other store method that queues
// a command), so that a server that dies right after the commit leaves the
// push to whichever replica drains the outbox next.
//
// A row is claimed (leased) by one pusher at a time and deleted once the
// push is done; a claim whose pusher died expires and the row is claimed
// again. Queueing a command for a device whose row is claimed releases
// the claim, so that the new command gets a push of its own.
type PushOutbox interface {
	// QueuePushes records that devices are to be woken, at, for wakes not
	// made by queueing a command. A device already waiting keeps its row.
	QueuePushes(ctx context.Context, org storage.OrgID, devices []string, at time.Time) error
	// ClaimPushes claims, for claim until until, at most limit devices of
	// org waiting to be woken and not claimed by anyone at now (never
	// claimed, or the claim expired), oldest first — only among devices
	// when it is not nil — and returns them. Two concurrent calls never
	// claim the same device.
	ClaimPushes(ctx context.Context, org storage.OrgID, devices []string, claim string, now, until time.Time, limit int) ([]string, error)
	// PushesDone deletes the rows of devices that claim still holds; a row
	// released meanwhile (a new command) or claimed by another stays.
	PushesDone(ctx context.Context, org storage.OrgID, claim string, devices []string) error
	// RenewPushes extends to until claim's hold on those of devices it
	// still holds — not released by a new command, nor claimed by another
	// once it ran out — and returns how many those are. A pusher renews
	// its claim while it pushes, so that the claim of a living pusher
	// never runs out, however long its batch takes.
	RenewPushes(ctx context.Context, org storage.OrgID, claim string, devices []string, now, until time.Time) (int, error)
}

// MaxPushClaim bounds the devices one ClaimPushes returns.
const MaxPushClaim = 5000
