package auth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/openomm/omm/auth"
)

// TestMFARequirement: the embedder's requirement sends a sign-in through
// MFA even where the org's rule does not, with its reason; the org's rule
// wins when it requires MFA itself; a failing requirement fails the
// sign-in rather than skipping MFA.
func TestMFARequirement(t *testing.T) {
	var fail error
	var acme auth.User
	e := newEnv(t, auth.WithMFARequirement(func(_ context.Context, u auth.User) (string, error) {
		if fail != nil {
			return "", fail
		}
		if u.ID == acme.ID {
			return "policy \"Staff\" requires it", nil
		}
		return "", nil
	}))
	ctx := t.Context()
	acme = e.bob
	res := e.signIn("acme", "bob", bobPassword)
	if res.Session.State != auth.StateMFA {
		t.Errorf("bob signs in to %s, want %s", res.Session.State, auth.StateMFA)
	}
	if why, err := e.svc.MFARequired(ctx, res.User); err != nil || why != "policy \"Staff\" requires it" {
		t.Errorf("why = %q, %v", why, err)
	}
	if res := e.signIn("beta", "bob", betaPassword); res.Session.State == auth.StateMFA {
		t.Error("a user the requirement does not name is asked for MFA")
	}
	e.requireMFA()
	if why, err := e.svc.MFARequired(ctx, res.User); err != nil || why != auth.MFAOrgRequires {
		t.Errorf("with the org's rule: why = %q, %v", why, err)
	}
	fail = errors.New("directory down")
	if _, err := e.svc.SignIn(ctx, "beta", "bob", betaPassword); err == nil {
		t.Error("a failing requirement let the sign-in through")
	}
}
