package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/storage"
)

// TestStateTransitions drives a session to each state of the sign-in state
// machine and applies each action to it: the action's error and the state
// the session is in afterwards are both checked.
func TestStateTransitions(t *testing.T) {
	// Each start returns a token whose session is in the named state.
	var starts map[string]func(e *env) string
	starts = map[string]func(e *env) string{
		"mfa": func(e *env) string {
			e.requireMFA()
			return e.signIn("acme", "bob", bobPassword).Token
		},
		"pin_setup": func(e *env) string { return e.signIn("acme", "bob", bobPassword).Token },
		"active": func(e *env) string {
			tok := e.signIn("acme", "bob", bobPassword).Token
			sess, err := e.svc.SetPIN(e.t.Context(), tok, "4812", "4812")
			if err != nil {
				e.t.Fatal(err)
			}
			return sess.Token
		},
		"idle": func(e *env) string {
			tok := starts["active"](e)
			e.clock.Advance(16 * time.Minute) // default idle timeout: 15 minutes
			return tok
		},
		"pin_expired": func(e *env) string {
			e.setSignOn(e.acme.ID, func(r *auth.SignOn) { r.PIN.IdleTimeout, r.PIN.MaxAge = 0, 24*time.Hour })
			tok := starts["active"](e)
			e.clock.Advance(25 * time.Hour)
			return tok
		},
		"revoked": func(e *env) string {
			tok := starts["active"](e)
			if err := e.svc.SignOut(e.t.Context(), tok); err != nil {
				e.t.Fatal(err)
			}
			return tok
		},
	}
	// Each action returns the token the client holds afterwards: a
	// privilege step hands out a new one.
	step := func(tok string) func(auth.Session, error) (string, error) {
		return func(sess auth.Session, err error) (string, error) {
			if err == nil && sess.Token != "" {
				return sess.Token, nil
			}
			return tok, err
		}
	}
	actions := map[string]func(e *env, tok string) (string, error){
		"authenticate": func(e *env, tok string) (string, error) {
			_, err := e.svc.Authenticate(e.t.Context(), tok)
			return tok, err
		},
		"totp ok": func(e *env, tok string) (string, error) {
			return step(tok)(e.svc.VerifyMFA(e.t.Context(), tok, auth.MethodTOTP, e.code(0)))
		},
		"totp wrong": func(e *env, tok string) (string, error) {
			return step(tok)(e.svc.VerifyMFA(e.t.Context(), tok, auth.MethodTOTP, "000000"))
		},
		"send sms": func(e *env, tok string) (string, error) {
			_, err := e.svc.SendCode(e.t.Context(), tok, auth.ChannelSMS)
			return tok, err
		},
		"sms ok": func(e *env, tok string) (string, error) {
			if _, err := e.svc.SendCode(e.t.Context(), tok, auth.ChannelVoice); err != nil {
				return tok, err
			}
			return step(tok)(e.svc.VerifyMFA(e.t.Context(), tok, auth.MethodVoice, e.sms.last(e.t).Code))
		},
		"set pin": func(e *env, tok string) (string, error) {
			return step(tok)(e.svc.SetPIN(e.t.Context(), tok, "7391", "7391"))
		},
		"set pin mismatch": func(e *env, tok string) (string, error) {
			return step(tok)(e.svc.SetPIN(e.t.Context(), tok, "7391", "7392"))
		},
		"set trivial pin": func(e *env, tok string) (string, error) {
			return step(tok)(e.svc.SetPIN(e.t.Context(), tok, "1234", "1234"))
		},
		"verify pin": func(e *env, tok string) (string, error) {
			return step(tok)(e.svc.VerifyPIN(e.t.Context(), tok, "4812"))
		},
		"verify wrong pin": func(e *env, tok string) (string, error) {
			return step(tok)(e.svc.VerifyPIN(e.t.Context(), tok, "4813"))
		},
		"enroll totp": func(e *env, tok string) (string, error) {
			_, err := e.svc.EnrollTOTP(e.t.Context(), tok)
			return tok, err
		},
		"sign out": func(e *env, tok string) (string, error) { return tok, e.svc.SignOut(e.t.Context(), tok) },
	}
	tests := []struct {
		from, action string
		wantErr      error
		after        string
	}{
		{"mfa", "authenticate", auth.ErrMFARequired, "mfa_required"},
		{"mfa", "totp ok", nil, "pin_setup_required"},
		{"mfa", "totp wrong", auth.ErrInvalidCode, "mfa_required"},
		{"mfa", "send sms", nil, "mfa_required"},
		{"mfa", "sms ok", nil, "pin_setup_required"},
		{"mfa", "set pin", auth.ErrMFARequired, "mfa_required"},
		{"mfa", "verify pin", auth.ErrMFARequired, "mfa_required"},
		{"mfa", "enroll totp", auth.ErrWrongState, "mfa_required"},
		{"mfa", "sign out", nil, "invalid_session"},

		{"pin_setup", "authenticate", auth.ErrPINSetupRequired, "pin_setup_required"},
		{"pin_setup", "totp ok", auth.ErrWrongState, "pin_setup_required"},
		{"pin_setup", "send sms", auth.ErrWrongState, "pin_setup_required"},
		{"pin_setup", "set pin", nil, "none"},
		{"pin_setup", "set pin mismatch", auth.ErrPINRejected, "pin_setup_required"},
		{"pin_setup", "set trivial pin", auth.ErrPINRejected, "pin_setup_required"},
		{"pin_setup", "verify pin", auth.ErrPINSetupRequired, "pin_setup_required"},
		{"pin_setup", "enroll totp", auth.ErrFactorExists, "pin_setup_required"},
		{"pin_setup", "sign out", nil, "invalid_session"},

		{"active", "authenticate", nil, "none"},
		{"active", "verify pin", nil, "none"},
		{"active", "verify wrong pin", auth.ErrInvalidPIN, "none"},
		{"active", "set pin", nil, "none"},
		{"active", "set trivial pin", auth.ErrPINRejected, "none"},
		{"active", "totp ok", auth.ErrWrongState, "none"},
		{"active", "sign out", nil, "invalid_session"},

		{"idle", "authenticate", auth.ErrPINRequired, "pin_required"},
		{"idle", "verify pin", nil, "none"},
		{"idle", "verify wrong pin", auth.ErrInvalidPIN, "pin_required"},
		{"idle", "set pin", auth.ErrPINRequired, "pin_required"},
		{"idle", "enroll totp", auth.ErrPINRequired, "pin_required"},

		{"pin_expired", "authenticate", auth.ErrPINExpired, "pin_expired"},
		{"pin_expired", "verify pin", nil, "pin_expired"},
		{"pin_expired", "set pin", nil, "none"},

		{"revoked", "authenticate", auth.ErrInvalidSession, "invalid_session"},
		{"revoked", "verify pin", auth.ErrInvalidSession, "invalid_session"},
		{"revoked", "set pin", auth.ErrInvalidSession, "invalid_session"},
		{"revoked", "totp ok", auth.ErrInvalidSession, "invalid_session"},
		{"revoked", "sign out", auth.ErrInvalidSession, "invalid_session"},
	}
	for _, tt := range tests {
		t.Run(tt.from+"/"+tt.action, func(t *testing.T) {
			e := newEnv(t)
			tok := starts[tt.from](e)
			held, err := actions[tt.action](e, tok)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("%s in state %s: error = %v, want %v", tt.action, tt.from, err, tt.wantErr)
			}
			if got := e.needOf(held); got != tt.after {
				t.Errorf("after %s in state %s the session needs %q, want %q", tt.action, tt.from, got, tt.after)
			}
			if held != tok {
				// A privilege step rotated the token (issue 22, finding
				// 13): the one that reached it is dead.
				if got := e.needOf(tok); got != "invalid_session" {
					t.Errorf("after %s in state %s the replaced token's session needs %q, want invalid_session", tt.action, tt.from, got)
				}
			}
		})
	}
}

// TestOrgIsolation: a user of org A never signs in to org B, even with the
// same username, and a session of org A is useless in org B.
func TestOrgIsolation(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	tests := []struct {
		site, password string
		wantUser       auth.User
	}{
		{"acme", bobPassword, e.bob},
		{"beta", betaPassword, e.betaBob},
		{"beta", bobPassword, auth.User{}},
		{"acme", betaPassword, auth.User{}},
		{"https://beta.example.com", bobPassword, auth.User{}},
	}
	for _, tt := range tests {
		res, err := e.svc.SignIn(ctx, tt.site, "bob", tt.password)
		if tt.wantUser.ID == "" {
			if !errors.Is(err, auth.ErrInvalidCredentials) {
				t.Errorf("SignIn(%s) with the other org's password: %v, want ErrInvalidCredentials", tt.site, err)
			}
			continue
		}
		if err != nil || res.User.ID != tt.wantUser.ID || res.Session.Org != tt.wantUser.Org {
			t.Errorf("SignIn(%s) = user %q in %q, %v; want %q in %q", tt.site, res.User.ID, res.Session.Org, err, tt.wantUser.ID, tt.wantUser.Org)
		}
	}

	// A token names its org; pointing it at another org finds nothing.
	res := e.signIn("acme", "bob", bobPassword)
	parts := strings.Split(res.Token, ".")
	forged := parts[0] + "." + b64("org_beta") + "." + parts[2]
	if org, err := auth.ParseToken(forged); err != nil || org != "org_beta" {
		t.Fatalf("forged token does not parse as org_beta: %v", err)
	}
	if _, err := e.svc.SetPIN(ctx, forged, "4812", "4812"); !errors.Is(err, auth.ErrInvalidSession) {
		t.Errorf("acme's token re-pointed at beta: %v, want ErrInvalidSession", err)
	}
	// Directory and audit stay per org.
	if _, err := e.dir.User(ctx, e.beta.ID, e.bob.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("beta's directory returned acme's bob: %v", err)
	}
	count := func(actions []string, action string) int {
		n := 0
		for _, a := range actions {
			if a == action {
				n++
			}
		}
		return n
	}
	if n := count(e.auditActions(e.beta.ID), "auth.signin.success"); n != 1 {
		t.Errorf("beta's audit log has %d successful sign-ins, want 1 (its own bob)", n)
	}
	if n := count(e.auditActions(e.acme.ID), "auth.signin.success"); n != 2 {
		t.Errorf("acme's audit log has %d successful sign-ins, want 2", n)
	}
}

func TestUnknownSite(t *testing.T) {
	e := newEnv(t)
	for _, site := range []string{"nope", "nope.example.com", "acme.elsewhere.com", "", "https://"} {
		if _, err := e.svc.SignIn(t.Context(), site, "bob", bobPassword); !errors.Is(err, auth.ErrUnknownSite) {
			t.Errorf("SignIn(site %q) = %v, want ErrUnknownSite", site, err)
		}
	}
	org, err := e.svc.ResolveSite(t.Context(), "https://acme-preview.example.com/")
	if err != nil || org.ID != e.acme.ID {
		t.Errorf("ResolveSite(preview form) = %v, %v", org.ID, err)
	}
}

// TestNoUserEnumeration: an unknown user, a wrong password and a
// deactivated user get the same error, the same throttling and the same
// audit trail.
func TestNoUserEnumeration(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	gone := e.mustCreateUser(e.acme.ID, "gone", "gone-password-1", "")
	if err := e.dir.Deactivate(ctx, e.acme.ID, gone.ID, "admin:root"); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, username, password string }{
		{"wrong password", "bob", "not-the-password"},
		{"unknown user", "nobody", "not-the-password"},
		{"deactivated user", "gone", "gone-password-1"},
		{"malformed username", "two words", "x"},
	}
	var messages []string
	var waits []time.Duration
	for _, c := range cases {
		var msg string
		for range auth.DefaultThrottle().Free {
			_, err := e.svc.SignIn(ctx, "acme", c.username, c.password)
			if !errors.Is(err, auth.ErrInvalidCredentials) {
				t.Fatalf("%s: %v, want ErrInvalidCredentials", c.name, err)
			}
			msg = err.Error()
		}
		messages = append(messages, msg)
		_, err := e.svc.SignIn(ctx, "acme", c.username, c.password)
		var te *auth.ThrottledError
		if !errors.As(err, &te) {
			t.Fatalf("%s: attempt %d = %v, want throttled", c.name, auth.DefaultThrottle().Free+1, err)
		}
		waits = append(waits, te.RetryAfter)
	}
	for i := range cases {
		if messages[i] != messages[0] || waits[i] != waits[0] {
			t.Errorf("%s answers %q, retry after %v; %s answers %q, retry after %v",
				cases[i].name, messages[i], waits[i], cases[0].name, messages[0], waits[0])
		}
	}
}

// TestThrottleSchedule checks the backoff numbers with the injected clock.
func TestThrottleSchedule(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	fail := func() error { _, err := e.svc.SignIn(ctx, "acme", "bob", "wrong-password"); return err }
	for i := range 5 {
		if err := fail(); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	steps := []struct {
		advance   time.Duration
		password  string
		wantWait  time.Duration // 0: the attempt is let through
		wantError error
	}{
		{0, bobPassword, 30 * time.Second, auth.ErrThrottled}, // even the right password waits
		{29 * time.Second, "wrong-password", time.Second, auth.ErrThrottled},
		{time.Second, "wrong-password", 0, auth.ErrInvalidCredentials}, // 6th failure
		{59 * time.Second, "wrong-password", time.Second, auth.ErrThrottled},
		{time.Second, "wrong-password", 0, auth.ErrInvalidCredentials}, // 7th
		{2 * time.Minute, bobPassword, 0, nil},                         // success clears
		{0, "wrong-password", 0, auth.ErrInvalidCredentials},
	}
	for i, s := range steps {
		e.clock.Advance(s.advance)
		_, err := e.svc.SignIn(ctx, "acme", "bob", s.password)
		var te *auth.ThrottledError
		switch {
		case s.wantError == nil && err != nil, s.wantError != nil && !errors.Is(err, s.wantError):
			t.Fatalf("step %d: %v, want %v", i, err, s.wantError)
		case s.wantWait > 0 && (!errors.As(err, &te) || te.RetryAfter != s.wantWait):
			t.Fatalf("step %d: %v, want retry after %v", i, err, s.wantWait)
		}
	}
	// Beta's bob was never throttled by acme's failures.
	if _, err := e.svc.SignIn(ctx, "beta", "bob", betaPassword); err != nil {
		t.Errorf("beta's bob: %v", err)
	}
}

func TestTOTPWindowAndReplay(t *testing.T) {
	tests := []struct {
		offset int
		ok     bool
	}{{-2, false}, {-1, true}, {0, true}, {1, true}, {2, false}}
	for _, tt := range tests {
		e := newEnv(t)
		e.requireMFA()
		tok := e.signIn("acme", "bob", bobPassword).Token
		code := e.code(tt.offset)
		_, err := e.svc.VerifyMFA(t.Context(), tok, auth.MethodTOTP, code)
		if tt.ok != (err == nil) {
			t.Errorf("code of step %+d: %v, want ok=%v", tt.offset, err, tt.ok)
		}
		if !tt.ok {
			continue
		}
		// The same code in a second sign-in is refused: each code works once.
		tok2 := e.signIn("acme", "bob", bobPassword).Token
		if _, err := e.svc.VerifyMFA(t.Context(), tok2, auth.MethodTOTP, code); !errors.Is(err, auth.ErrInvalidCode) {
			t.Errorf("replayed code of step %+d: %v, want ErrInvalidCode", tt.offset, err)
		}
	}
}

// TestTOTPConcurrentReplay submits one code from many sessions at once:
// exactly one may succeed.
func TestTOTPConcurrentReplay(t *testing.T) {
	const n = 12
	e := newEnv(t)
	e.requireMFA()
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = e.signIn("acme", "bob", bobPassword).Token
	}
	code := e.code(0)
	errs := make([]error, n)
	start := make(chan struct{})
	done := make(chan int)
	for i := range n {
		go func() {
			<-start
			_, errs[i] = e.svc.VerifyMFA(t.Context(), tokens[i], auth.MethodTOTP, code)
			done <- i
		}()
	}
	close(start)
	for range n {
		<-done
	}
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, auth.ErrInvalidCode) && !errors.Is(err, auth.ErrThrottled):
			// Replays count as MFA failures, so late ones may meet the backoff.
			t.Errorf("concurrent replay: unexpected error %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent submissions of one TOTP code succeeded, want exactly 1", ok, n)
	}
}

// TestPhoneCodeConcurrentDoubleSubmit submits one SMS code twice at once on
// the same session: one success.
func TestPhoneCodeConcurrentDoubleSubmit(t *testing.T) {
	e := newEnv(t)
	e.requireMFA()
	tok := e.signIn("acme", "bob", bobPassword).Token
	if _, err := e.svc.SendCode(t.Context(), tok, auth.ChannelSMS); err != nil {
		t.Fatal(err)
	}
	code := e.sms.last(t).Code
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := e.svc.VerifyMFA(t.Context(), tok, auth.MethodSMS, code)
			errs <- err
		}()
	}
	ok := 0
	for range 2 {
		if err := <-errs; err == nil {
			ok++
		} else if !errors.Is(err, auth.ErrInvalidCode) && !errors.Is(err, auth.ErrWrongState) && !errors.Is(err, auth.ErrInvalidSession) {
			t.Errorf("double submit: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of 2 concurrent submissions succeeded, want 1", ok)
	}
}

func TestPhoneCodeRules(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.requireMFA()
	tok := e.signIn("acme", "bob", bobPassword).Token
	expires, err := e.svc.SendCode(ctx, tok, auth.ChannelSMS)
	if err != nil {
		t.Fatal(err)
	}
	first := e.sms.last(t)
	if len(first.Code) != 6 || first.Phone != bobPhone || first.OrgName != "Acme Inc." || expires.Sub(e.clock.Now()) != 10*time.Minute {
		t.Fatalf("sent %+v expiring %v: want 6 digits to %s from Acme Inc., valid 10 minutes", first, expires, bobPhone)
	}
	wrong := "000000"
	if first.Code == wrong {
		wrong = "111111"
	}
	if _, err := e.svc.VerifyMFA(ctx, tok, auth.MethodSMS, wrong); !errors.Is(err, auth.ErrInvalidCode) {
		t.Fatalf("wrong code: %v", err)
	}
	// Resending at once is refused, and after 30 s it replaces the code
	// without resetting the failure count.
	var te *auth.ThrottledError
	if _, err := e.svc.SendCode(ctx, tok, auth.ChannelSMS); !errors.As(err, &te) || te.RetryAfter != 30*time.Second {
		t.Fatalf("immediate resend: %v, want retry after 30s", err)
	}
	e.clock.Advance(30 * time.Second)
	if _, err := e.svc.SendCode(ctx, tok, auth.ChannelSMS); err != nil {
		t.Fatalf("resend: %v", err)
	}
	second := e.sms.last(t)
	f, err := e.store.AuthFailures(ctx, e.acme.ID, "mfa:"+e.bob.ID)
	if err != nil || f.Count != 1 {
		t.Errorf("MFA failures after a resend = %d, %v; want 1 (a resend does not reset them)", f.Count, err)
	}
	if first.Code != second.Code {
		if _, err := e.svc.VerifyMFA(ctx, tok, auth.MethodSMS, first.Code); !errors.Is(err, auth.ErrInvalidCode) {
			t.Errorf("the replaced code: %v, want ErrInvalidCode", err)
		}
	}
	// Expiry: 10 minutes.
	e.clock.Advance(10 * time.Minute)
	if _, err := e.svc.VerifyMFA(ctx, tok, auth.MethodSMS, second.Code); !errors.Is(err, auth.ErrInvalidCode) {
		t.Errorf("expired code: %v, want ErrInvalidCode", err)
	}
	// The session itself lasts 15 minutes before MFA: sign in again.
	tok = e.signIn("acme", "bob", bobPassword).Token
	if _, err := e.svc.SendCode(ctx, tok, auth.ChannelVoice); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.VerifyMFA(ctx, tok, auth.MethodVoice, e.sms.last(t).Code); err != nil {
		t.Fatalf("right code: %v", err)
	}
	if f, _ := e.store.AuthFailures(ctx, e.acme.ID, "mfa:"+e.bob.ID); f.Count != 0 {
		t.Errorf("MFA failures after success = %d, want 0", f.Count)
	}
	// A user without a phone has no phone codes.
	e.mustCreateUser(e.acme.ID, "carol", "carol-password", "")
	tok = e.signIn("acme", "carol", "carol-password").Token
	if _, err := e.svc.SendCode(ctx, tok, auth.ChannelSMS); !errors.Is(err, auth.ErrNoFactor) {
		t.Errorf("SendCode for a user without a phone: %v, want ErrNoFactor", err)
	}
}

func TestMFAThrottle(t *testing.T) {
	e := newEnv(t)
	e.requireMFA()
	tok := e.signIn("acme", "bob", bobPassword).Token
	for i := range 5 {
		if _, err := e.svc.VerifyMFA(t.Context(), tok, auth.MethodTOTP, "999999"); !errors.Is(err, auth.ErrInvalidCode) {
			t.Fatalf("wrong code %d: %v", i+1, err)
		}
	}
	// Now even the right code waits, also from a fresh sign-in.
	tok2 := e.signIn("acme", "bob", bobPassword).Token
	if _, err := e.svc.VerifyMFA(t.Context(), tok2, auth.MethodTOTP, e.code(0)); !errors.Is(err, auth.ErrThrottled) {
		t.Fatalf("right code after 5 failures: %v, want throttled", err)
	}
	e.clock.Advance(30 * time.Second)
	if _, err := e.svc.VerifyMFA(t.Context(), tok2, auth.MethodTOTP, e.code(0)); err != nil {
		t.Fatalf("right code after the backoff: %v", err)
	}
}

func TestTOTPEnrollment(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.requireMFA()
	// Carol has no factor at all: she may enroll during MFA.
	carol := e.mustCreateUser(e.acme.ID, "carol", "carol-password", "")
	res := e.signIn("acme", "carol", "carol-password")
	if len(res.Methods) != 1 || res.Methods[0] != auth.MethodTOTPEnroll {
		t.Fatalf("methods for a user without factors = %v, want [totp_enroll]", res.Methods)
	}
	enr, err := e.svc.EnrollTOTP(ctx, res.Token)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enr.URI, "otpauth://totp/") || !strings.Contains(enr.URI, "secret="+enr.Secret) || !strings.Contains(enr.URI, "issuer=Acme") {
		t.Errorf("URI %q: want an otpauth://totp URI with the secret and issuer", enr.URI)
	}
	code := func(secret string, offset int) string {
		c, _ := totpCode(secret, e.clock.Now().Add(time.Duration(offset)*30*time.Second))
		return c
	}
	if _, err := e.svc.VerifyMFA(ctx, res.Token, auth.MethodTOTP, code(enr.Secret, 0)); !errors.Is(err, auth.ErrNoFactor) {
		t.Errorf("an unconfirmed factor passed MFA: %v", err)
	}
	sess, err := e.svc.ConfirmTOTP(ctx, res.Token, code(enr.Secret, 0))
	if err != nil || sess.State != auth.StatePINSetup || sess.Token == "" {
		t.Fatalf("ConfirmTOTP = %v, %v; want pin_setup and a new token", sess.State, err)
	}
	// Enrolled: a second enrollment is refused, the next sign-in uses TOTP.
	if _, err := e.svc.EnrollTOTP(ctx, sess.Token); !errors.Is(err, auth.ErrFactorExists) {
		t.Errorf("second enrollment: %v, want ErrFactorExists", err)
	}
	res = e.signIn("acme", "carol", "carol-password")
	if len(res.Methods) != 1 || res.Methods[0] != auth.MethodTOTP {
		t.Errorf("methods after enrollment = %v, want [totp]", res.Methods)
	}
	e.clock.Advance(30 * time.Second)
	if _, err := e.svc.VerifyMFA(ctx, res.Token, auth.MethodTOTP, code(enr.Secret, 0)); err != nil {
		t.Errorf("TOTP after enrollment: %v", err)
	}
	if err := e.svc.RemoveTOTP(ctx, e.acme.ID, carol.ID, "admin:root"); err != nil {
		t.Errorf("RemoveTOTP: %v", err)
	}
	// The secret never reaches the audit log.
	page, _ := e.store.ListAudit(ctx, e.acme.ID, storage.AuditQuery{Limit: storage.MaxAuditPage})
	for _, a := range page.Entries {
		for k, v := range a.Details {
			if strings.Contains(v, enr.Secret) || strings.Contains(v, totpSecret) {
				t.Errorf("audit entry %s detail %s holds a TOTP secret", a.Action, k)
			}
		}
	}
}

func TestPINLockout(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	tok := e.setPIN(e.signIn("acme", "bob", bobPassword).Token, "4812")
	for i := 1; i < auth.MaxPINFailures; i++ {
		if _, err := e.svc.VerifyPIN(ctx, tok, "0000"); !errors.Is(err, auth.ErrInvalidPIN) {
			t.Fatalf("wrong PIN %d: %v, want ErrInvalidPIN", i, err)
		}
	}
	// A right PIN in between resets the count…
	sess, err := e.svc.VerifyPIN(ctx, tok, "4812")
	if err != nil {
		t.Fatalf("right PIN after 9 failures: %v", err)
	}
	tok = sess.Token
	for i := 1; i < auth.MaxPINFailures; i++ {
		if _, err := e.svc.VerifyPIN(ctx, tok, "0000"); !errors.Is(err, auth.ErrInvalidPIN) {
			t.Fatalf("wrong PIN %d after reset: %v", i, err)
		}
	}
	// …the 10th consecutive failure locks.
	if _, err := e.svc.VerifyPIN(ctx, tok, "0000"); !errors.Is(err, auth.ErrPINLocked) {
		t.Fatalf("10th wrong PIN: %v, want ErrPINLocked", err)
	}
	if _, err := e.svc.VerifyPIN(ctx, tok, "4812"); !errors.Is(err, auth.ErrInvalidSession) {
		t.Errorf("right PIN after lockout: %v, want ErrInvalidSession (sign in again)", err)
	}
	if _, err := e.svc.Authenticate(ctx, tok); !errors.Is(err, auth.ErrInvalidSession) {
		t.Errorf("Authenticate after lockout: %v", err)
	}
	actions := strings.Join(e.auditActions(e.acme.ID), " ")
	if strings.Count(actions, "auth.pin.failure") != 2*auth.MaxPINFailures-1 || !strings.Contains(actions, "auth.pin.locked") {
		t.Errorf("audit actions %s: want %d PIN failures and a lockout", actions, 2*auth.MaxPINFailures-1)
	}
	// Password (and MFA when required) gets the user back in.
	if _, err := e.svc.SignIn(ctx, "acme", "bob", bobPassword); err != nil {
		t.Errorf("sign-in after lockout: %v", err)
	}
}

func TestSessionExpiry(t *testing.T) {
	tests := []struct {
		name    string
		advance []time.Duration // with a request after each
		want    string
	}{
		{"pending sign-in after 15 minutes", nil, "invalid_session"},
		{"active within idle", []time.Duration{13 * 24 * time.Hour}, "pin_required"},
		{"active idle too long", []time.Duration{15 * 24 * time.Hour}, "invalid_session"},
		{"active, used daily, past 90 days", repeat(24*time.Hour, 91), "invalid_session"},
		{"active, used daily, within 90 days", repeat(24*time.Hour, 89), "pin_required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			tok := e.signIn("acme", "bob", bobPassword).Token
			if tt.advance == nil {
				e.clock.Advance(15*time.Minute + time.Second)
			} else {
				tok = e.setPIN(tok, "4812")
			}
			for _, d := range tt.advance {
				e.clock.Advance(d)
				if sess, err := e.svc.VerifyPIN(t.Context(), tok, "4812"); err == nil { // activity; the check is below
					tok = sess.Token
				}
			}
			if tt.advance != nil {
				e.clock.Advance(16 * time.Minute)
			}
			if got := e.needOf(tok); got != tt.want {
				t.Errorf("session needs %q, want %q", got, tt.want)
			}
		})
	}
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func TestDeactivationRevokesSessions(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	tok := e.setPIN(e.signIn("acme", "bob", bobPassword).Token, "4812")
	if err := e.dir.Deactivate(ctx, e.acme.ID, e.bob.ID, "admin:root"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(ctx, tok); !errors.Is(err, auth.ErrInvalidSession) {
		t.Errorf("Authenticate after deactivation: %v", err)
	}
	if _, err := e.svc.SignIn(ctx, "acme", "bob", bobPassword); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Errorf("SignIn after deactivation: %v", err)
	}
	// Re-activated, bob signs in again; the old session stays revoked.
	u, _ := e.dir.User(ctx, e.acme.ID, e.bob.ID)
	u.Status = auth.StatusActive
	if _, err := e.dir.UpdateUser(ctx, u, "admin:root"); err != nil {
		t.Fatal(err)
	}
	e.signIn("acme", "bob", bobPassword)
	if _, err := e.svc.Authenticate(ctx, tok); !errors.Is(err, auth.ErrInvalidSession) {
		t.Errorf("old session after re-activation: %v", err)
	}
}

func TestPasswordRehashOnLogin(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	before, _ := e.store.User(ctx, e.acme.ID, e.bob.ID)
	raised := auth.Params{Memory: 128, Time: 2, Threads: 1}
	dir, err := auth.NewLocalDirectory(e.store, auth.WithTestParams(raised), auth.WithClock(e.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dir.Authenticate(ctx, e.acme.ID, "BOB", "wrong-password"); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	if after, _ := e.store.User(ctx, e.acme.ID, e.bob.ID); after.PasswordHash != before.PasswordHash {
		t.Fatalf("a failed sign-in changed the hash")
	}
	if _, err := dir.Authenticate(ctx, e.acme.ID, " Bob ", bobPassword); err != nil {
		t.Fatal(err)
	}
	after, _ := e.store.User(ctx, e.acme.ID, e.bob.ID)
	if !strings.HasPrefix(before.PasswordHash, "$argon2id$v=19$m=64,t=1,p=1$") || !strings.HasPrefix(after.PasswordHash, "$argon2id$v=19$m=128,t=2,p=1$") {
		t.Errorf("hash before %q, after %q: want the raised parameters after sign-in", before.PasswordHash[:30], after.PasswordHash[:30])
	}
	if _, err := dir.Authenticate(ctx, e.acme.ID, "bob", bobPassword); err != nil {
		t.Errorf("sign-in with the new hash: %v", err)
	}
}

func TestAuditTrail(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.requireMFA()
	e.svc.SignIn(ctx, "acme", "bob", "wrong-password") //nolint:errcheck // audited failure
	tok := e.signIn("acme", "bob", bobPassword).Token
	e.svc.VerifyMFA(ctx, tok, auth.MethodTOTP, "123456") //nolint:errcheck // audited failure
	sess, err := e.svc.VerifyMFA(ctx, tok, auth.MethodTOTP, e.code(0))
	if err != nil {
		t.Fatal(err)
	}
	tok = e.setPIN(sess.Token, "4812")
	if err := e.svc.SignOut(ctx, tok); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(e.auditActions(e.acme.ID), " ")
	for _, want := range []string{"auth.signin.failure", "auth.signin.success", "auth.mfa.failure", "auth.mfa.totp_used",
		"auth.mfa.success", "auth.pin.set", "auth.signout"} {
		if !strings.Contains(got, want) {
			t.Errorf("audit log lacks %s: %s", want, got)
		}
	}
	page, _ := e.store.ListAudit(ctx, e.acme.ID, storage.AuditQuery{Limit: storage.MaxAuditPage})
	for _, a := range page.Entries {
		for _, v := range a.Details {
			if strings.Contains(v, bobPassword) || strings.Contains(v, "wrong-password") || strings.Contains(v, tok) || strings.Contains(v, "4812") {
				t.Errorf("audit entry %s leaks a secret: %v", a.Action, a.Details)
			}
		}
	}
}

// switchableDirectory is an embedder's directory whose user can be
// deactivated behind the service's back.
type switchableDirectory struct {
	auth.Authenticator
	deactivated bool
}

func (d *switchableDirectory) User(ctx context.Context, org storage.OrgID, id string) (auth.User, error) {
	u, err := d.Authenticator.User(ctx, org, id)
	if d.deactivated {
		u.Status = auth.StatusDeactivated
	}
	return u, err
}

func TestExternalDirectoryDeactivation(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	dir := &switchableDirectory{Authenticator: e.dir}
	svc, err := auth.New(e.store, dir, auth.WithClock(e.clock.Now), auth.WithTestParams(testParams), auth.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	res, err := svc.SignIn(ctx, "acme", "bob", bobPassword)
	if err != nil {
		t.Fatal(err)
	}
	other, err := svc.SignIn(ctx, "acme", "bob", bobPassword)
	if err != nil {
		t.Fatal(err)
	}
	dir.deactivated = true
	if _, err := svc.SetPIN(ctx, res.Token, "4812", "4812"); !errors.Is(err, auth.ErrInvalidSession) {
		t.Fatalf("SetPIN for a user the directory deactivated: %v", err)
	}
	dir.deactivated = false // even if the directory changes its mind, the sessions are gone
	for _, tok := range []string{res.Token, other.Token} {
		if _, err := svc.Status(ctx, tok); !errors.Is(err, auth.ErrInvalidSession) {
			t.Errorf("session after deactivation: %v, want revoked", err)
		}
	}
	if n, err := svc.RevokeUserSessions(ctx, e.acme.ID, e.bob.ID, "admin:root"); err != nil || n != 0 {
		t.Errorf("RevokeUserSessions after the automatic revocation = %d, %v; want 0", n, err)
	}
}
