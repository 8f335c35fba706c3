package storagetest

import (
	"context"
	"testing"
	"time"

	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// revokesEveryone ends the open enrollments of the org's other users too.
type revokesEveryone struct{ *memory.Store }

func (s revokesEveryone) RevokeUserEnrollments(ctx context.Context, org storage.OrgID, user string, at time.Time, e storage.AuditEntry) (int, int, error) {
	users, err := s.EnrollmentUsers(ctx, org, at)
	if err != nil {
		return 0, 0, err
	}
	var sessions, identities int
	for _, u := range users {
		n, m, err := s.Store.RevokeUserEnrollments(ctx, org, u, at, e)
		if err != nil {
			return 0, 0, err
		}
		if u == user {
			sessions, identities = n, m
		}
	}
	return sessions, identities, nil
}

// keepsTokens reports revocations it never stores.
type keepsTokens struct{ *memory.Store }

func (s keepsTokens) RevokeUserTokens(ctx context.Context, org storage.OrgID, user string, at time.Time, e storage.AuditEntry) (int, error) {
	users, err := s.TokenUsers(ctx, org, at)
	n := 0
	for _, u := range users {
		if u == user {
			n = 2
		}
	}
	return n, err
}

func TestSuiteCatchesBrokenRevocation(t *testing.T) {
	expectCaught(t, map[string]func() Store{
		"revokes every user's enrollments": func() Store { return revokesEveryone{memory.New()} },
		"keeps revoked tokens usable":      func() Store { return keepsTokens{memory.New()} },
	}, "Revocation/")
}
