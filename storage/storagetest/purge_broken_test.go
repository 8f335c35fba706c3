package storagetest

import (
	"context"
	"testing"
	"time"

	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// unboundedPurge ignores the purge's limit: one call's work is no longer
// bounded.
type unboundedPurge struct{ *memory.Store }

func (s unboundedPurge) PurgeSessions(ctx context.Context, org storage.OrgID, before time.Time, _ int, e storage.AuditEntry) (int, error) {
	return s.Store.PurgeSessions(ctx, org, before, 1<<30, e)
}

func (s unboundedPurge) PurgeAndroidTokens(ctx context.Context, org storage.OrgID, before time.Time, _ int, e storage.AuditEntry) (int, error) {
	return s.Store.PurgeAndroidTokens(ctx, org, before, 1<<30, e)
}

// eagerPurge purges what has not expired yet.
type eagerPurge struct{ *memory.Store }

func (s eagerPurge) PurgeEnrollSessions(ctx context.Context, org storage.OrgID, before time.Time, limit int, e storage.AuditEntry) (int, error) {
	return s.Store.PurgeEnrollSessions(ctx, org, before.Add(100*365*24*time.Hour), limit, e)
}

func TestSuiteCatchesBrokenPurge(t *testing.T) {
	expectCaught(t, map[string]func() Store{
		"purge ignores its limit": func() Store { return unboundedPurge{memory.New()} },
		"purge of what is in use": func() Store { return eagerPurge{memory.New()} },
	}, "Purge/")
}
