package storagetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// Broken auth backends, each breaking one rule of auth.Store that the
// sign-in security depends on; the suite must catch every one.

// replayableTOTP accepts the last used time step once more.
type replayableTOTP struct{ *memory.Store }

func (s replayableTOTP) UseTOTPStep(ctx context.Context, org storage.OrgID, userID string, step int64, e storage.AuditEntry) error {
	if f, err := s.TOTP(ctx, org, userID); err == nil && f.LastStep == step {
		return nil
	}
	return s.Store.UseTOTPStep(ctx, org, userID, step, e)
}

// reusableCode checks a phone code but never removes it.
type reusableCode struct{ *memory.Store }

func (s reusableCode) ConsumePhoneCode(ctx context.Context, org storage.OrgID, sessionID string, hash []byte, now time.Time, e storage.AuditEntry) error {
	c, err := s.PhoneCode(ctx, org, sessionID)
	if err != nil || !bytes.Equal(c.Hash, hash) || !now.Before(c.Expires) {
		return storage.ErrNotFound
	}
	_, err = s.AppendAudit(ctx, e)
	return err
}

// crossOrgSessions finds a token's session in whatever org holds it.
type crossOrgSessions struct{ *memory.Store }

func (s crossOrgSessions) SessionByToken(ctx context.Context, org storage.OrgID, hash []byte) (auth.Session, error) {
	orgs, _ := s.ListOrgs(ctx)
	for _, o := range orgs {
		if se, err := s.Store.SessionByToken(ctx, o.ID, hash); err == nil {
			return se, nil
		}
	}
	return auth.Session{}, storage.ErrNotFound
}

// deactivationKeepsSessions deactivates users without revoking their
// sessions.
type deactivationKeepsSessions struct{ *memory.Store }

func (s deactivationKeepsSessions) UpdateUser(ctx context.Context, u auth.UserRecord, e storage.AuditEntry) (auth.UserRecord, error) {
	if u.Status != auth.StatusDeactivated {
		return s.Store.UpdateUser(ctx, u, e)
	}
	u.Status = auth.StatusActive
	got, err := s.Store.UpdateUser(ctx, u, e)
	got.Status = auth.StatusDeactivated
	return got, err
}

// lostFailures counts failures with a read and a separate write, so
// concurrent failures overwrite each other.
type lostFailures struct{ *memory.Store }

func (s lostFailures) RecordAuthFailure(ctx context.Context, org storage.OrgID, key string, at time.Time, e storage.AuditEntry) (auth.Failures, error) {
	before, _ := s.AuthFailures(ctx, org, key)
	time.Sleep(time.Millisecond) // widen the window
	if err := s.ClearAuthFailures(ctx, org, key); err != nil {
		return auth.Failures{}, err
	}
	var f auth.Failures
	var err error
	for range before.Count + 1 {
		if f, err = s.Store.RecordAuthFailure(ctx, org, key, at, e); err != nil {
			return f, err
		}
	}
	return f, nil
}

// confirmedOverwrite replaces even a confirmed TOTP factor.
type confirmedOverwrite struct{ *memory.Store }

func (s confirmedOverwrite) PutTOTP(ctx context.Context, f auth.TOTPFactor, e storage.AuditEntry) (auth.TOTPFactor, error) {
	s.DeleteTOTP(ctx, f.Org, f.UserID, e) //nolint:errcheck // the breakage under test
	return s.Store.PutTOTP(ctx, f, e)
}

func TestSuiteCatchesBrokenAuthBackends(t *testing.T) {
	broken := map[string]func() Store{
		"replayable TOTP":             func() Store { return replayableTOTP{memory.New()} },
		"reusable phone code":         func() Store { return reusableCode{memory.New()} },
		"cross-org sessions":          func() Store { return crossOrgSessions{memory.New()} },
		"deactivation keeps sessions": func() Store { return deactivationKeepsSessions{memory.New()} },
		"lost failure counts":         func() Store { return lostFailures{memory.New()} },
		"confirmed TOTP overwritten":  func() Store { return confirmedOverwrite{memory.New()} },
	}
	expectCaught(t, broken, "Auth/")
}
