package auth_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/storage/seal"
)

// TestTOTPSealedAtRest (issue 22, finding 6): with a keeper, a TOTP secret
// is stored sealed, and one stored in plain text before is sealed at its
// next use; codes work the same.
func TestTOTPSealedAtRest(t *testing.T) {
	k, err := seal.NewAESKeeper(bytes.Repeat([]byte{3}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, auth.WithSecrets(k))
	ctx := t.Context()
	e.requireMFA()
	// bob's factor was stored in plain text (by newEnv, as before sealing).
	if f, _ := e.store.TOTP(ctx, e.acme.ID, e.bob.ID); f.Secret != totpSecret {
		t.Fatalf("setup: bob's secret is %q", f.Secret)
	}
	tok := e.signIn("acme", "bob", bobPassword).Token
	if _, err := e.svc.VerifyMFA(ctx, tok, auth.MethodTOTP, e.code(0)); err != nil {
		t.Fatal(err)
	}
	f, _ := e.store.TOTP(ctx, e.acme.ID, e.bob.ID)
	if !seal.IsSealedString(f.Secret) || f.Secret == totpSecret {
		t.Fatalf("bob's secret after its use: %q, want it sealed", f.Secret)
	}
	e.clock.Advance(30 * time.Second)
	tok = e.signIn("acme", "bob", bobPassword).Token
	if _, err := e.svc.VerifyMFA(ctx, tok, auth.MethodTOTP, e.code(0)); err != nil {
		t.Errorf("a code after sealing: %v", err)
	}
	// A new authenticator is stored sealed from the start.
	carol := e.mustCreateUser(e.acme.ID, "carol", "carol-password", "")
	res := e.signIn("acme", "carol", "carol-password")
	enr, err := e.svc.EnrollTOTP(ctx, res.Token)
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := e.store.TOTP(ctx, e.acme.ID, carol.ID); !seal.IsSealedString(f.Secret) || f.Secret == enr.Secret {
		t.Errorf("a new secret is stored as %q, want it sealed", f.Secret)
	}
	code, _ := totpCode(enr.Secret, e.clock.Now())
	if _, err := e.svc.ConfirmTOTP(ctx, res.Token, code); err != nil {
		t.Errorf("confirming the sealed factor: %v", err)
	}
}
