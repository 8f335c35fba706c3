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

// racyReservation checks the throttle and counts the attempt in separate
// steps, so that parallel attempts all pass the check (the race of issue
// 22, finding 3).
type racyReservation struct{ *memory.Store }

func (s racyReservation) ReserveAuthAttempt(ctx context.Context, org storage.OrgID, at time.Time, rules []auth.AttemptRule) ([]auth.Failures, time.Duration, error) {
	var wait time.Duration
	for _, r := range rules {
		f, err := s.AuthFailures(ctx, org, r.Key)
		if err != nil {
			return nil, 0, err
		}
		wait = max(wait, r.Throttle.Wait(f, at))
	}
	if wait > 0 {
		return nil, wait, nil
	}
	time.Sleep(time.Millisecond) // the argon2id check would be here
	count := make([]auth.AttemptRule, len(rules))
	for i, r := range rules {
		count[i] = auth.AttemptRule{Key: r.Key, Throttle: auth.Throttle{Free: 1 << 30, Base: time.Second, Max: time.Second}}
	}
	return s.Store.ReserveAuthAttempt(ctx, org, at, count)
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
		"throttle reservation raced":  func() Store { return racyReservation{memory.New()} },
		"confirmed TOTP overwritten":  func() Store { return confirmedOverwrite{memory.New()} },
	}
	expectCaught(t, broken, "Auth/")
}
