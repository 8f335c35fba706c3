package auth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// testParams make argon2id cheap in tests; benchmarks use the defaults.
var testParams = auth.Params{Memory: 64, Time: 1, Threads: 1}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// outbox is a Sender that keeps what it sends.
type outbox struct {
	mu   sync.Mutex
	msgs []auth.CodeMessage
}

func (o *outbox) SendCode(_ context.Context, m auth.CodeMessage) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs = append(o.msgs, m)
	return nil
}

func (o *outbox) last(t testing.TB) auth.CodeMessage {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.msgs) == 0 {
		t.Fatal("no code was sent")
	}
	return o.msgs[len(o.msgs)-1]
}

const (
	bobPassword  = "bob-password-1"
	betaPassword = "beta-password-2"
	bobPhone     = "+4915112345678"
	totpSecret   = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
)

// env is a service over a memory store with two orgs: acme and beta, each
// with a user "bob" (different people, different passwords). Acme's bob
// has a phone and a confirmed TOTP factor.
type env struct {
	t          testing.TB
	store      *memory.Store
	dir        *auth.LocalDirectory
	svc        *auth.Service
	clock      *fakeClock
	sms        *outbox
	acme, beta storage.Org
	bob        auth.User // acme's
	betaBob    auth.User
}

func newEnv(t testing.TB, opts ...auth.Option) *env {
	t.Helper()
	ctx := t.Context()
	e := &env{t: t, store: memory.New(), sms: &outbox{},
		clock: &fakeClock{t: time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)}}
	for _, o := range []*storage.Org{{ID: "org_acme", Name: "acme", DisplayName: "Acme Inc."}, {ID: "org_beta", Name: "beta", DisplayName: "Beta GmbH"}} {
		created, err := e.store.CreateOrg(ctx, *o, storage.AuditEntry{Org: o.ID, Time: e.clock.Now(), Actor: "system", Action: "org.create"})
		if err != nil {
			t.Fatal(err)
		}
		*o = created
		if o.Name == "acme" {
			e.acme = created
		} else {
			e.beta = created
		}
	}
	var err error
	e.dir, err = auth.NewLocalDirectory(e.store, auth.WithClock(e.clock.Now), auth.WithTestParams(testParams), auth.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	base := []auth.Option{auth.WithClock(e.clock.Now), auth.WithTestParams(testParams), auth.WithSender(e.sms),
		auth.WithDomains(testDomains), auth.WithLogger(quiet)}
	e.svc, err = auth.New(e.store, e.dir, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	e.bob = e.mustCreateUser(e.acme.ID, "Bob", bobPassword, bobPhone)
	e.betaBob = e.mustCreateUser(e.beta.ID, "bob", betaPassword, "")
	f := auth.TOTPFactor{Org: e.acme.ID, UserID: e.bob.ID, Secret: totpSecret, Created: e.clock.Now()}
	if _, err := e.store.PutTOTP(ctx, f, storage.AuditEntry{Org: e.acme.ID, Time: e.clock.Now(), Actor: "admin:root", Action: "auth.mfa.totp_enroll"}); err != nil {
		t.Fatal(err)
	}
	// Confirm it with a step long past, as an enrollment would.
	if err := e.store.UseTOTPStep(ctx, e.acme.ID, e.bob.ID, 1, storage.AuditEntry{Org: e.acme.ID, Time: e.clock.Now(), Actor: "admin:root", Action: "auth.mfa.totp_used"}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) mustCreateUser(org storage.OrgID, username, password, phone string) auth.User {
	e.t.Helper()
	u, err := e.dir.CreateUser(e.t.Context(), auth.User{Org: org, Username: username, DisplayName: username, Phone: phone}, password, "admin:root")
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// setSignOn stores org's rule after edit.
func (e *env) setSignOn(org storage.OrgID, edit func(*auth.SignOn)) {
	e.t.Helper()
	rule, err := e.svc.SignOn(e.t.Context(), org)
	if err != nil {
		e.t.Fatal(err)
	}
	edit(&rule)
	if _, err := e.svc.SetSignOn(e.t.Context(), rule, "admin:root"); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) requireMFA() { e.setSignOn(e.acme.ID, func(r *auth.SignOn) { r.MFARequired = true }) }

func (e *env) signIn(site, username, password string) auth.SignInResult {
	e.t.Helper()
	res, err := e.svc.SignIn(e.t.Context(), site, username, password)
	if err != nil {
		e.t.Fatalf("SignIn(%s, %s): %v", site, username, err)
	}
	return res
}

// setPIN sets the PIN of tok's session and returns the token that
// replaced tok.
func (e *env) setPIN(tok, pin string) string {
	e.t.Helper()
	sess, err := e.svc.SetPIN(e.t.Context(), tok, pin, pin)
	if err != nil {
		e.t.Fatal(err)
	}
	if sess.Token == "" || sess.Token == tok {
		e.t.Fatal("setting the PIN did not rotate the token")
	}
	return sess.Token
}

// code returns the TOTP code for now plus offset steps.
func (e *env) code(offset int) string {
	e.t.Helper()
	c, err := totp.GenerateCodeCustom(totpSecret, e.clock.Now().Add(time.Duration(offset)*30*time.Second),
		totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) auditActions(org storage.OrgID) []string {
	e.t.Helper()
	page, err := e.store.ListAudit(e.t.Context(), org, storage.AuditQuery{Limit: storage.MaxAuditPage})
	if err != nil {
		e.t.Fatal(err)
	}
	var actions []string
	for _, a := range page.Entries {
		actions = append(actions, a.Action)
	}
	return actions
}

// need names what a session needs next, as the API's "next" field does.
func need(err error) string {
	for _, m := range []struct {
		err  error
		name string
	}{
		{nil, "none"},
		{auth.ErrInvalidSession, "invalid_session"},
		{auth.ErrMFARequired, "mfa_required"},
		{auth.ErrPINSetupRequired, "pin_setup_required"},
		{auth.ErrPINRequired, "pin_required"},
		{auth.ErrPINExpired, "pin_expired"},
	} {
		if err == m.err || m.err != nil && errors.Is(err, m.err) {
			return m.name
		}
	}
	return "error: " + err.Error()
}

// needOf reports what the token's session needs now.
func (e *env) needOf(token string) string {
	st, err := e.svc.Status(e.t.Context(), token)
	if err != nil {
		return need(err)
	}
	return need(st.Need)
}

func totpCode(secret string, at time.Time) (string, error) {
	return totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
