package omm

import (
	"context"
	"time"

	"github.com/openomm/omm/events"
	"github.com/openomm/omm/storage"
)

// DefaultEventRetention is how long the event stream keeps events by
// default: long enough for a consumer that was down for weeks to catch up.
const DefaultEventRetention = 90 * 24 * time.Hour

// Events returns a page of org's event stream (package events): what
// happened to its devices, users and apps, in commit order. A consumer
// keeps the last Seq it handled and asks for the events after it; see
// package events for the guarantees, and package events/webhook for
// delivery to an HTTPS endpoint.
func (s *SDK) Events(ctx context.Context, org storage.OrgID, q events.Query) (events.Page, error) {
	return s.Store.Events(ctx, org, q)
}

// purgeBatch bounds one purge transaction.
const purgeBatch = 5000

// purgeEvents deletes org's events older than the retention, in bounded
// batches; it reports how many.
func (s *SDK) purgeEvents(ctx context.Context, org storage.OrgID) (int, error) {
	if s.retention < 0 {
		return 0, nil
	}
	before := s.now().Add(-s.retention)
	total := 0
	for {
		n, err := s.Store.PurgeEvents(ctx, org, before, purgeBatch)
		total += n
		if err != nil || n < purgeBatch || ctx.Err() != nil {
			return total, err
		}
	}
}
