package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"strconv"
	"time"

	"github.com/openomm/omm/internal/ratelimit"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/seal"
)

// Option configures [New] and [NewLocalDirectory]; each says which it
// applies to, and the other ignores it.
type Option func(*config) error

type config struct {
	log            *slog.Logger
	clock          func() time.Time
	domains        Domains
	sender         Sender
	mfaRequirement MFARequirement
	password       Params
	pin            Params
	throttle       Throttle
	accountLimit   Throttle
	sourceLimit    Throttle
	sessionIdle    time.Duration
	sessionMax     time.Duration
	pendingMax     time.Duration
	touchEvery     time.Duration
	codeLifetime   time.Duration
	resendInterval time.Duration
	hashSlots      int
	secrets        seal.Keeper
}

func newConfig(opts []Option) (config, error) {
	c := config{
		log:            slog.Default(),
		clock:          time.Now,
		password:       DefaultParams(),
		pin:            DefaultParams(),
		throttle:       DefaultThrottle(),
		accountLimit:   DefaultAccountThrottle(),
		sourceLimit:    DefaultSourceThrottle(),
		sessionIdle:    14 * 24 * time.Hour,
		sessionMax:     90 * 24 * time.Hour,
		pendingMax:     15 * time.Minute,
		touchEvery:     30 * time.Second,
		codeLifetime:   10 * time.Minute,
		resendInterval: 30 * time.Second,
		hashSlots:      2 * runtime.GOMAXPROCS(0),
	}
	for _, o := range opts {
		if err := o(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}

// WithLogger sets the logger (both).
func WithLogger(l *slog.Logger) Option { return func(c *config) error { c.log = l; return nil } }

// WithClock sets the clock (both); tests use it to step through
// throttling, expiry and lockout.
func WithClock(now func() time.Time) Option {
	return func(c *config) error { c.clock = now; return nil }
}

// WithDomains sets the host names that resolve to orgs (service); without
// it only bare site names ("acme") resolve.
func WithDomains(d Domains) Option { return func(c *config) error { c.domains = d; return nil } }

// WithSender sets how SMS and voice codes are delivered (service); without
// it only TOTP is offered.
func WithSender(s Sender) Option { return func(c *config) error { c.sender = s; return nil } }

// MFARequirement says whether a user must pass MFA at sign-in beyond the
// org's [SignOn] rule, and why ("the policy \"Employees\" requires it");
// "" when not. The embedder supplies it (the SDK asks the user's mobile
// policy); it is asked at every sign-in.
type MFARequirement func(ctx context.Context, u User) (string, error)

// WithMFARequirement adds a requirement of MFA at sign-in to the org's
// sign-on rule (service).
func WithMFARequirement(r MFARequirement) Option {
	return func(c *config) error { c.mfaRequirement = r; return nil }
}

// WithPasswordParams sets the argon2id parameters for new password hashes
// (directory). They must meet the floor ([Params.Validate]); raising them
// rehashes each password at its next successful sign-in.
func WithPasswordParams(p Params) Option {
	return func(c *config) error {
		if err := p.Validate(); err != nil {
			return err
		}
		c.password = p
		return nil
	}
}

// WithPINParams sets the argon2id parameters for agent PIN hashes
// (service), with the same floor.
func WithPINParams(p Params) Option {
	return func(c *config) error {
		if err := p.Validate(); err != nil {
			return err
		}
		c.pin = p
		return nil
	}
}

// WithSecrets seals each TOTP secret with k before it is stored (service;
// label "totp:<org>:<user>"), and seals a secret stored in plain text
// before, at its next use. Without it secrets are stored as they are.
func WithSecrets(k seal.Keeper) Option { return func(c *config) error { c.secrets = k; return nil } }

// WithConcurrentHashes bounds how many argon2id hashes run at once (both;
// default twice GOMAXPROCS). Each holds the parameters' memory (19 MiB by
// default) while it runs; further requests wait their turn.
func WithConcurrentHashes(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: concurrent hashes must be at least 1", ErrBadRequest)
		}
		c.hashSlots = n
		return nil
	}
}

// WithThrottle sets the backoff for failed sign-ins of an account from one
// client address, and for an account's MFA codes (service; default
// [DefaultThrottle]).
func WithThrottle(t Throttle) Option { return throttleOption(t, func(c *config) { c.throttle = t }) }

// WithAccountThrottle sets the backoff for failed sign-ins of an account
// over every client not known to it (service; default
// [DefaultAccountThrottle]).
func WithAccountThrottle(t Throttle) Option {
	return throttleOption(t, func(c *config) { c.accountLimit = t })
}

// WithSourceThrottle sets the backoff for failed sign-ins from one client
// address over every account of an org (service; default
// [DefaultSourceThrottle]).
func WithSourceThrottle(t Throttle) Option {
	return throttleOption(t, func(c *config) { c.sourceLimit = t })
}

func throttleOption(t Throttle, set func(*config)) Option {
	return func(c *config) error {
		if t.Free < 1 || t.Base <= 0 || t.Max < t.Base || t.Forget < 0 {
			return fmt.Errorf("%w: throttle needs Free ≥ 1, 0 < Base ≤ Max and Forget ≥ 0", ErrBadRequest)
		}
		set(c)
		return nil
	}
}

// WithSessionLifetime sets how long a session may stay unused (idle) and
// how long it lasts at most (max) (service). Defaults: 14 and 90 days.
// Sessions that have not finished MFA and PIN setup last 15 minutes.
func WithSessionLifetime(idle, max time.Duration) Option {
	return func(c *config) error {
		if idle <= 0 || max < idle {
			return fmt.Errorf("%w: session lifetime needs 0 < idle ≤ max", ErrBadRequest)
		}
		c.sessionIdle, c.sessionMax = idle, max
		return nil
	}
}

// Service runs sign-in for the agent app: site name → org, password against
// the [Authenticator], MFA, agent PIN and sessions. Its methods are the
// protocol; [NewHandler] adapts them to HTTP. It is safe for concurrent use,
// and several processes may share one store: the one-time rules are
// enforced by the store.
type Service struct {
	store Store
	dir   Authenticator
	cfg   config
	slots slots
	// unknownFailures bounds the audit entries of failed sign-ins with
	// usernames nobody has, per org (see SignInFrom).
	unknownFailures *ratelimit.Window
}

// Bounds on the audit entries of failed sign-ins naming no user of the
// org: anyone can send them, so that past this many per org and minute
// they are counted, and the count goes with the next one recorded.
const (
	maxUnknownFailureAudits = 30
	unknownFailureWindow    = time.Minute
	maxFailureAuditOrgs     = 10000
)

// New returns a service over store, checking passwords against dir (a
// [LocalDirectory] over the same store, or an embedder's own).
func New(store Store, dir Authenticator, opts ...Option) (*Service, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if store == nil || dir == nil {
		return nil, fmt.Errorf("%w: auth.New needs a store and a directory", ErrBadRequest)
	}
	return &Service{store: store, dir: dir, cfg: cfg, slots: make(slots, cfg.hashSlots),
		unknownFailures: ratelimit.NewWindow(maxUnknownFailureAudits, unknownFailureWindow, maxFailureAuditOrgs)}, nil
}

// ResolveSite returns the org that what the user typed names: a bare site
// name, a host under the configured domains, or such a URL. An unknown org
// and malformed input both yield ErrUnknownSite.
func (s *Service) ResolveSite(ctx context.Context, input string) (storage.Org, error) {
	site, err := s.cfg.domains.ParseSite(input)
	if err != nil {
		return storage.Org{}, err
	}
	org, err := s.store.OrgByName(ctx, site.Name)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Org{}, fmt.Errorf("%w: %q", ErrUnknownSite, site.Name)
	}
	return org, err
}

// SignInResult is the outcome of a password check that passed.
type SignInResult struct {
	// Token is the bearer token of the new session. It is shown once and
	// never stored.
	Token   string
	Session Session
	User    User
	// Methods lists the MFA methods the user can use when Session.State is
	// StateMFA.
	Methods []Method
}

// SignIn is [Service.SignInFrom] for a client the caller knows nothing
// about: every such attempt at an account shares one counter.
func (s *Service) SignIn(ctx context.Context, site, username, password string) (SignInResult, error) {
	return s.SignInFrom(ctx, Client{}, site, username, password)
}

// Client is who attempts a sign-in, as far as throttling is concerned.
type Client struct {
	// Source names where the attempt comes from: the client's network
	// address (NewHandler uses the request's), or a host's better name for
	// the client. Empty: unknown.
	Source string
	// PreviousToken is a session token this client was handed before, of
	// any state (expired, revoked, locked): it shows the client signed in
	// to the account before, which exempts it from the account's backoff
	// over unknown clients. Empty: none.
	PreviousToken string
}

// SignInFrom checks username and password in the org that site names and,
// when they are right, opens a session in StateMFA (when the org requires
// MFA) or StatePINSetup. Wrong credentials, an unknown user and a
// deactivated user all yield ErrInvalidCredentials.
//
// Attempts are throttled (NIST SP 800-63B §5.2.2) so that guessing is slow
// and an outsider cannot lock the user out. Each attempt is reserved
// before the password is checked, under three counters at once, and
// answers a *[ThrottledError] while one of them says wait
// ([Store.ReserveAuthAttempt]), whether the account exists or not:
//
//   - the account from this client's Source ([WithThrottle]): one place
//     guessing one account;
//   - the account over every client that has not signed in to it before
//     ([WithAccountThrottle], higher): guessing spread over many
//     addresses. A client showing a PreviousToken of this account skips
//     it, so that however many wrong passwords others send, the user's own
//     app still gets in with the right one;
//   - the Source over every account of the org ([WithSourceThrottle],
//     failures lapse after an hour): one place trying many usernames.
//
// A success clears the first two and takes its attempt back from the
// third. A failure is audited, except that
// failures with usernames the org does not have are audited at most 30 per
// org and minute (the rest are counted into the next entry): anyone can
// send them.
func (s *Service) SignInFrom(ctx context.Context, c Client, site, username, password string) (SignInResult, error) {
	org, err := s.ResolveSite(ctx, site)
	if err != nil {
		return SignInResult{}, err
	}
	name := CanonicalUsername(username)
	now := s.cfg.clock()
	account := accountKey(name)
	here := account + "@" + hashKey("", c.Source)
	source := ""
	rules := []AttemptRule{{Key: here, Throttle: s.cfg.throttle}}
	if !s.knownClient(ctx, org.ID, name, c.PreviousToken) {
		rules = append(rules, AttemptRule{Key: account, Throttle: s.cfg.accountLimit})
		if c.Source != "" {
			source = hashKey("source:", c.Source)
			rules = append(rules, AttemptRule{Key: source, Throttle: s.cfg.sourceLimit})
		}
	}
	if _, err := s.reserve(ctx, org.ID, now, rules...); err != nil {
		// Logged, not audited: a throttled attempt checks nothing, and an
		// audit entry per attempt would let anyone grow the log for free.
		s.cfg.log.InfoContext(ctx, "auth: sign-in throttled", "org", org.ID)
		return SignInResult{}, err
	}
	actor := "anonymous" // what was typed is no username: keep it out of the log
	if ValidateUsername(name) == nil {
		actor = "user:" + name
	}
	user, err := s.dir.Authenticate(ctx, org.ID, username, password)
	reason := ""
	switch {
	case errors.Is(err, ErrInvalidCredentials):
		reason = "invalid_credentials"
	case err != nil:
		return SignInResult{}, fmt.Errorf("sign in: %w", err)
	case user.Org != org.ID:
		// A directory answering for another org is a bug; never let it
		// open a session here.
		s.cfg.log.ErrorContext(ctx, "auth: directory returned a user of another org", "org", org.ID, "user_org", user.Org)
		reason = "wrong_org"
	case user.Status != StatusActive:
		reason = "deactivated"
	}
	if reason != "" {
		if err := s.auditSignInFailure(ctx, org.ID, now, actor, name, reason); err != nil {
			return SignInResult{}, fmt.Errorf("sign in: %w", err)
		}
		return SignInResult{}, ErrInvalidCredentials
	}
	if err := s.clear(ctx, org.ID, here, account); err != nil {
		return SignInResult{}, fmt.Errorf("sign in: %w", err)
	}
	if source != "" {
		// The address counts failures only: its other accounts' users
		// keep their share.
		if err := s.store.ReleaseAuthAttempt(ctx, org.ID, source); err != nil {
			return SignInResult{}, fmt.Errorf("sign in: %w", err)
		}
	}
	why, err := s.MFARequired(ctx, user)
	if err != nil {
		return SignInResult{}, err
	}
	state := StatePINSetup
	if why != "" {
		state = StateMFA
	}
	token, hash := newToken(org.ID)
	sess := Session{
		Org: org.ID, ID: newID("ses"), TokenHash: hash, UserID: user.ID, State: state,
		Created: now, LastUsed: now, Expires: now.Add(min(s.cfg.pendingMax, s.cfg.sessionMax)),
	}
	sess, err = s.store.CreateSession(ctx, sess, storage.AuditEntry{
		Org: org.ID, Time: now, Actor: "user:" + user.ID, Action: ActionSignInSuccess, Target: "user:" + user.ID,
		Details: map[string]string{"session": sess.ID, "next": string(state)},
	})
	if err != nil {
		return SignInResult{}, fmt.Errorf("sign in: %w", err)
	}
	sess.Token = token
	res := SignInResult{Token: token, Session: sess, User: user}
	if state == StateMFA {
		if res.Methods, err = s.methods(ctx, user); err != nil {
			return SignInResult{}, err
		}
	}
	return res, nil
}

// MFAOrgRequires is why MFA is required when the org's sign-on rule
// requires it ([Service.MFARequired]); an [MFARequirement] gives its own
// reasons.
const MFAOrgRequires = "your organization requires it for everyone"

// MFARequired says whether the user must pass MFA at sign-in, and why:
// the org's sign-on rule requires it for everyone, or the embedder's
// [MFARequirement] does (the SDK's: the user's policy, or an
// authenticator the user set up). "" means the password suffices. A
// requirement turned on applies from the next sign-in; sessions already
// signed in keep what they passed until they end.
func (s *Service) MFARequired(ctx context.Context, user User) (string, error) {
	rule, err := s.SignOn(ctx, user.Org)
	if err != nil {
		return "", err
	}
	if rule.MFARequired {
		return MFAOrgRequires, nil
	}
	if s.cfg.mfaRequirement == nil {
		return "", nil
	}
	why, err := s.cfg.mfaRequirement(ctx, user)
	if err != nil {
		return "", fmt.Errorf("MFA requirement: %w", err)
	}
	return why, nil
}

// knownClient reports whether token is a session token of the account
// name names in org (any state).
func (s *Service) knownClient(ctx context.Context, org storage.OrgID, name, token string) bool {
	if token == "" {
		return false
	}
	if o, err := parseToken(token); err != nil || o != org {
		return false
	}
	sess, err := s.store.SessionByToken(ctx, org, hashToken(token))
	if err != nil {
		return false
	}
	u, err := s.dir.UserByName(ctx, org, name)
	return err == nil && u.ID == sess.UserID
}

// auditSignInFailure records a failed sign-in. A username the org does
// not have is recorded within the per-org bound only.
func (s *Service) auditSignInFailure(ctx context.Context, org storage.OrgID, now time.Time, actor, name, reason string) error {
	e := storage.AuditEntry{Org: org, Time: now, Actor: actor, Action: ActionSignInFailure, Target: actor,
		Details: map[string]string{"reason": reason}}
	if _, err := s.dir.UserByName(ctx, org, name); errors.Is(err, storage.ErrNotFound) {
		ok, suppressed := s.unknownFailures.Admit(string(org), now)
		if !ok {
			s.cfg.log.InfoContext(ctx, "auth: sign-in failure of an unknown username not audited (bound reached)", "org", org)
			return nil
		}
		e.Details["user"] = "unknown"
		if suppressed > 0 {
			e.Details["suppressed"] = strconv.Itoa(suppressed)
		}
	}
	_, err := s.store.AppendAudit(ctx, e)
	return err
}

// accountKey names the throttling counter of an account. Hashing keeps
// the key short whatever was typed.
func accountKey(canonicalUsername string) string { return hashKey("signin:", canonicalUsername) }

// Principal is who an active session belongs to.
type Principal struct {
	Session Session
	User    User
}

// Authenticate checks a bearer token for a request that needs a fully
// signed-in user: it returns the principal of an active, unlocked session,
// and records the activity. Otherwise the error says what is missing:
// ErrInvalidSession, ErrMFARequired, ErrPINSetupRequired, ErrPINRequired
// (idle too long) or ErrPINExpired. A user whom the directory no longer
// knows or has deactivated loses all sessions here, so that embedders'
// directories need no hook to revoke them.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	sess, user, rule, err := s.load(ctx, token)
	if err != nil {
		return Principal{}, err
	}
	now := s.cfg.clock()
	if err := s.gate(sess, rule, now); err != nil {
		return Principal{}, err
	}
	if err := s.touch(ctx, sess, now); err != nil {
		return Principal{}, err
	}
	return Principal{Session: sess, User: user}, nil
}

// SessionStatus is a session and what it needs next.
type SessionStatus struct {
	Session Session
	User    User
	// Need is nil when the session is active and unlocked, else the error
	// [Service.Authenticate] would return: ErrMFARequired,
	// ErrPINSetupRequired, ErrPINRequired or ErrPINExpired.
	Need error
}

// Status returns the token's session and what it needs next, without
// recording activity. A revoked or expired session yields ErrInvalidSession.
func (s *Service) Status(ctx context.Context, token string) (SessionStatus, error) {
	sess, user, rule, err := s.load(ctx, token)
	if err != nil {
		return SessionStatus{}, err
	}
	return SessionStatus{Session: sess, User: user, Need: s.gate(sess, rule, s.cfg.clock())}, nil
}

// gate says what an unrevoked, unexpired session still needs.
func (s *Service) gate(sess Session, rule SignOn, now time.Time) error {
	switch sess.State {
	case StateMFA:
		return ErrMFARequired
	case StatePINSetup:
		return ErrPINSetupRequired
	}
	if t := rule.PIN.IdleTimeout; t > 0 && now.Sub(sess.LastUsed) > t {
		return ErrPINRequired
	}
	if t := rule.PIN.MaxAge; t > 0 && now.Sub(sess.PINSet) > t {
		return ErrPINExpired
	}
	return nil
}

// load finds the token's session and user, and refuses revoked or expired
// sessions and users who can no longer sign in.
func (s *Service) load(ctx context.Context, token string) (Session, User, SignOn, error) {
	org, err := parseToken(token)
	if err != nil {
		return Session{}, User{}, SignOn{}, err
	}
	sess, err := s.store.SessionByToken(ctx, org, hashToken(token))
	if errors.Is(err, storage.ErrNotFound) {
		return Session{}, User{}, SignOn{}, ErrInvalidSession
	}
	if err != nil {
		return Session{}, User{}, SignOn{}, fmt.Errorf("session: %w", err)
	}
	now := s.cfg.clock()
	if sess.Revoked || !now.Before(sess.Expires) || now.Sub(sess.LastUsed) > s.cfg.sessionIdle {
		return Session{}, User{}, SignOn{}, ErrInvalidSession
	}
	user, err := s.dir.User(ctx, org, sess.UserID)
	if err == nil && user.Status != StatusActive || errors.Is(err, storage.ErrNotFound) {
		_, rerr := s.store.RevokeUserSessions(ctx, org, sess.UserID, storage.AuditEntry{
			Org: org, Time: now, Actor: "system", Action: ActionSessionRevokeAll, Target: "user:" + sess.UserID,
			Details: map[string]string{"reason": "user deactivated or removed"},
		})
		return Session{}, User{}, SignOn{}, errors.Join(ErrInvalidSession, rerr)
	}
	if err != nil {
		return Session{}, User{}, SignOn{}, fmt.Errorf("session user: %w", err)
	}
	rule, err := s.SignOn(ctx, org)
	if err != nil {
		return Session{}, User{}, SignOn{}, err
	}
	return sess, user, rule, nil
}

// touch records activity, at most every touchEvery, so that busy sessions
// do not write on every request. The PIN idle timeout is measured from the
// last recorded activity, so it may ask up to touchEvery early.
func (s *Service) touch(ctx context.Context, sess Session, now time.Time) error {
	if now.Sub(sess.LastUsed) < s.cfg.touchEvery {
		return nil
	}
	if err := s.store.TouchSession(ctx, sess.Org, sess.ID, now); err != nil {
		return fmt.Errorf("session: %w", err)
	}
	return nil
}

// SessionOrg returns the org of a session token that names a stored
// session, of any state (a revoked or expired token was still handed out
// by that org), and false for anything else: for recording a refused
// request in the right org's audit log without trusting what a forged
// token claims (omm.AuditDenied).
func (s *Service) SessionOrg(ctx context.Context, token string) (storage.OrgID, bool) {
	org, err := parseToken(token)
	if err != nil {
		return "", false
	}
	if _, err := s.store.SessionByToken(ctx, org, hashToken(token)); err != nil {
		return "", false
	}
	return org, true
}

// SignOut revokes the token's session. Signing out an unknown, expired or
// revoked token yields ErrInvalidSession.
func (s *Service) SignOut(ctx context.Context, token string) error {
	org, err := parseToken(token)
	if err != nil {
		return err
	}
	sess, err := s.store.SessionByToken(ctx, org, hashToken(token))
	if errors.Is(err, storage.ErrNotFound) || err == nil && sess.Revoked {
		return ErrInvalidSession
	}
	if err != nil {
		return fmt.Errorf("sign out: %w", err)
	}
	err = s.store.RevokeSession(ctx, org, sess.ID, s.sessionEntry(sess, ActionSignOut, nil))
	if errors.Is(err, storage.ErrNotFound) {
		return ErrInvalidSession
	}
	return err
}

// RevokeUserSessions revokes every session of a user: what an embedder
// whose own directory deactivated the user calls (the built-in directory
// does it itself). actor is recorded in the audit log.
func (s *Service) RevokeUserSessions(ctx context.Context, org storage.OrgID, userID, actor string) (int, error) {
	return s.store.RevokeUserSessions(ctx, org, userID, storage.AuditEntry{
		Org: org, Time: s.cfg.clock(), Actor: actor, Action: ActionSessionRevokeAll, Target: "user:" + userID,
	})
}

// SignOn returns the org's sign-on rule, or [DefaultSignOn] when it stored
// none.
func (s *Service) SignOn(ctx context.Context, org storage.OrgID) (SignOn, error) {
	rule, err := s.store.SignOn(ctx, org)
	if errors.Is(err, storage.ErrNotFound) {
		return DefaultSignOn(org), nil
	}
	if err != nil {
		return SignOn{}, fmt.Errorf("sign-on rule: %w", err)
	}
	return rule, nil
}

// SetSignOn stores the org's sign-on rule. rule.Version must be the version
// read (0 for the defaults), else storage.ErrConflict. A changed PIN policy
// applies to existing sessions at their next request.
func (s *Service) SetSignOn(ctx context.Context, rule SignOn, actor string) (SignOn, error) {
	return s.store.PutSignOn(ctx, rule, storage.AuditEntry{
		Org: rule.Org, Time: s.cfg.clock(), Actor: actor, Action: ActionSignOnUpdate, Target: "org:" + string(rule.Org),
		Details: map[string]string{
			"mfa_required": fmt.Sprint(rule.MFARequired), "pin_length": fmt.Sprint(rule.PIN.Length),
			"pin_alphanumeric": fmt.Sprint(rule.PIN.Alphanumeric), "pin_allow_simple": fmt.Sprint(rule.PIN.AllowSimple),
			"pin_idle_timeout": rule.PIN.IdleTimeout.String(), "pin_max_age": rule.PIN.MaxAge.String(),
		},
	})
}

func (s *Service) sessionEntry(sess Session, action string, details map[string]string) storage.AuditEntry {
	d := map[string]string{"session": sess.ID}
	for k, v := range details {
		d[k] = v
	}
	return storage.AuditEntry{
		Org: sess.Org, Time: s.cfg.clock(), Actor: "user:" + sess.UserID, Action: action, Target: "user:" + sess.UserID, Details: d,
	}
}

// advance moves the session to state, in an update that fails when another
// request changed it first. A privilege step (MFA passed, PIN set or
// verified) rotates the session's token in the same update: the token
// that reached the step stops working, and the new one is in the result's
// Token.
func (s *Service) advance(ctx context.Context, sess Session, action string, details map[string]string, rotate bool) (Session, error) {
	var token string
	if rotate {
		token, sess.TokenHash = newToken(sess.Org)
		details = maps.Clone(details)
		if details == nil {
			details = map[string]string{}
		}
		details["token"] = "rotated"
	}
	updated, err := s.store.UpdateSession(ctx, sess, s.sessionEntry(sess, action, details))
	if errors.Is(err, storage.ErrConflict) {
		return Session{}, fmt.Errorf("%w: the session changed concurrently", ErrWrongState)
	}
	if err != nil {
		return Session{}, err
	}
	updated.Token = token
	return updated, nil
}
