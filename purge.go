package omm

import (
	"context"
	"errors"
	"time"

	"github.com/openomm/omm/storage"
)

// The purge sweep: what expired and is of no further use leaves the
// database, a bounded batch at a time, so that nothing anyone can create
// (a sign-in, an enrollment session, an Android token, a throttle counter
// for a made-up username) piles up for good.

// Retention of expired records before [SDK.Purge] removes them, and how
// many of each kind one call removes per org at most.
const (
	// SessionRetention keeps a sign-in session this long after its
	// absolute expiry: a client presenting its old token is still known
	// to the throttle (auth.Client.PreviousToken) meanwhile.
	SessionRetention = 30 * 24 * time.Hour
	// EnrollmentRetention keeps an expired enrollment session or token a
	// day, for whoever looks into a failed enrollment.
	EnrollmentRetention = 24 * time.Hour
	// FailureRetention keeps a throttle counter a day after its latest
	// failure; no throttle looks further back.
	FailureRetention = 24 * time.Hour
	// PurgeBatch bounds each kind of record one call removes per org.
	PurgeBatch = 500
)

// Audit actions of the sweep.
const (
	ActionSessionPurge       = "auth.session.purge"
	ActionEnrollSessionPurge = "enroll.session.purge"
	ActionAndroidTokenPurge  = "android.token.purge"
)

// Purged counts what one [SDK.Purge] removed.
type Purged struct {
	Sessions       int // sign-in sessions
	Failures       int // throttle counters
	EnrollSessions int // enrollment sessions and expired OTA identities
	AndroidTokens  int
}

// Purge removes, in every org, the records past their retention: at most
// PurgeBatch of each kind per org, so that one call's work is bounded
// ([SDK.Run] calls it every round). Each removal of sessions or tokens is
// audited as system work; throttle counters are not audited.
func (s *SDK) Purge(ctx context.Context) (Purged, error) {
	orgs, err := s.Store.ListOrgs(ctx)
	if err != nil {
		return Purged{}, err
	}
	var p Purged
	var errs []error
	now := s.now()
	for _, o := range orgs {
		if ctx.Err() != nil {
			return p, ctx.Err()
		}
		entry := func(action string) storage.AuditEntry {
			return storage.AuditEntry{Org: o.ID, Time: now, Actor: "system", Action: action, Target: "org:" + string(o.ID)}
		}
		n, err := s.Store.PurgeSessions(ctx, o.ID, now.Add(-SessionRetention), PurgeBatch, entry(ActionSessionPurge))
		p.Sessions += n
		errs = append(errs, err)
		n, err = s.Store.PurgeFailures(ctx, o.ID, now.Add(-FailureRetention), PurgeBatch)
		p.Failures += n
		errs = append(errs, err)
		n, err = s.Store.PurgeEnrollSessions(ctx, o.ID, now.Add(-EnrollmentRetention), PurgeBatch, entry(ActionEnrollSessionPurge))
		p.EnrollSessions += n
		errs = append(errs, err)
		n, err = s.Store.PurgeAndroidTokens(ctx, o.ID, now.Add(-EnrollmentRetention), PurgeBatch, entry(ActionAndroidTokenPurge))
		p.AndroidTokens += n
		errs = append(errs, err)
	}
	return p, errors.Join(errs...)
}
