package omm

import (
	"context"
	"errors"
	"fmt"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/storage"
)

// Multi-factor authentication as a rule of the SDK: when a user must pass
// it at sign-in (of the agent app and of a host's web portal alike, both
// through auth.Service), and how an administrator recovers a user who lost
// their authenticator.

// MFAFactorEnabled is why MFA is asked of a user no rule requires it of:
// they set up an authenticator app, and having one must never be weaker
// than having none.
const MFAFactorEnabled = "you set up an authenticator app"

// mfaRequirement is the SDK's auth.MFARequirement, beside the org's
// sign-on rule: the policy deciding for the user requires MFA
// (policy.Policy.RequireMFA), or the user set up an authenticator app.
func (s *SDK) mfaRequirement(ctx context.Context, u auth.User) (string, error) {
	pu, err := s.policyUser(ctx, u.Org, u.ID)
	if err != nil {
		return "", err
	}
	set, err := s.Policy.Set(ctx, u.Org)
	if err != nil {
		return "", err
	}
	if p, _ := set.Match(pu.Groups); p.RequireMFA {
		return fmt.Sprintf("the policy %q requires it", p.Name), nil
	}
	f, err := s.Store.TOTP(ctx, u.Org, u.ID)
	switch {
	case err == nil && f.Confirmed:
		return MFAFactorEnabled, nil
	case err != nil && !errors.Is(err, storage.ErrNotFound):
		return "", err
	}
	return "", nil
}

// MFAStatus is what a user and their administrator see of the user's
// second factors.
type MFAStatus struct {
	// Required says why MFA is asked at sign-in; "" when it is not.
	Required string
	// Authenticator: a confirmed authenticator app (TOTP) is set up.
	Authenticator bool
	// Phone is the directory's number codes go to when the SDK has an
	// SMS/voice sender; "" when codes cannot be sent.
	Phone string
}

// MFA returns the user's MFA status. It needs the SDK's own sign-in
// (ErrNotPermitted without it).
func (s *SDK) MFA(ctx context.Context, org storage.OrgID, userID string) (MFAStatus, error) {
	if s.Auth == nil {
		return MFAStatus{}, fmt.Errorf("%w: the SDK does not run the sign-in", ErrNotPermitted)
	}
	u, err := s.Directory.User(ctx, org, userID)
	if err != nil {
		return MFAStatus{}, err
	}
	var st MFAStatus
	if st.Required, err = s.Auth.MFARequired(ctx, u); err != nil {
		return MFAStatus{}, err
	}
	f, err := s.Store.TOTP(ctx, org, userID)
	switch {
	case err == nil:
		st.Authenticator = f.Confirmed
	case !errors.Is(err, storage.ErrNotFound):
		return MFAStatus{}, err
	}
	if s.smsSender {
		st.Phone = u.Phone
	}
	return st, nil
}

// ResetMFA removes the user's authenticator app, for a user who lost the
// device holding it, audited with actor ("auth.mfa.totp_remove"). Their
// next sign-in where MFA is required offers to set up a new one (or an
// SMS/voice code to the directory's number). A user without one yields
// storage.ErrNotFound.
func (s *SDK) ResetMFA(ctx context.Context, org storage.OrgID, userID, actor string) error {
	if s.Auth == nil {
		return fmt.Errorf("%w: the SDK does not run the sign-in", ErrNotPermitted)
	}
	if _, err := s.Directory.User(ctx, org, userID); err != nil {
		return err
	}
	return s.Auth.RemoveTOTP(ctx, org, userID, actor)
}
