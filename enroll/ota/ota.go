package ota

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/openomm/omm/events"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/scep"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/profile"
	"github.com/openomm/omm/storage"
)

// Sentinel errors, wrapped with %w. Challenge failures wrap
// enroll.ErrChallenge, steps out of order enroll.ErrPhase.
var (
	// ErrNotEligible reports a session asked for a user whose policy
	// decision is not Enroll.
	ErrNotEligible = errors.New("ota: policy decision does not require enrollment")
	// ErrBody reports a device post that cannot be read: not CMS, over the
	// size or nesting limits, not a plist of attributes.
	ErrBody = errors.New("ota: malformed device post")
	// ErrSignature reports a device post whose signature does not verify,
	// or whose signer is not the certificate this step requires.
	ErrSignature = errors.New("ota: device signature not valid")
	// ErrSession reports an unknown or expired session.
	ErrSession = errors.New("ota: enrollment session not valid")
)

// Store is what the service needs from storage.
type Store interface {
	Org(ctx context.Context, id storage.OrgID) (storage.Org, error)
	CreateEnrollSession(ctx context.Context, s enroll.Session, entry storage.AuditEntry) (enroll.Session, error)
	EnrollSession(ctx context.Context, org storage.OrgID, id string) (enroll.Session, error)
	AdvanceEnrollSession(ctx context.Context, s enroll.Session, issued *enroll.Identity, entry storage.AuditEntry) (enroll.Session, error)
}

// Config is what every deployment must say.
type Config struct {
	// PublicURL is the https base URL devices reach the server at; the
	// handlers are expected under it as documented on Service.
	PublicURL string
	// Topic is the APNs push topic of the org's MDM push certificate.
	Topic string
}

// Defaults.
const (
	DefaultChallengeTTL = 15 * time.Minute
	// MaxBodySize bounds a phase 2 or 3 post: a plist of a few attributes
	// and a signature with three certificates, about 5 KB.
	MaxBodySize  = 64 << 10
	maxBodyDepth = 32
	// DeviceKeySize is the RSA key size the SCEP payloads ask for.
	DeviceKeySize = 2048
)

// Service is the over-the-air profile service and the direct enrollment
// profile. Its handlers are meant to be mounted at
//
//	GET  {PublicURL}/enroll/{org}/profile?token=…      phase 1
//	POST {PublicURL}/enroll/{org}/ota?session=…        phases 2 and 3
//	GET  {PublicURL}/enroll/{org}/mobileconfig?token=… direct profile
//
// next to the SCEP CA at {PublicURL}/scep/{org} and MDM check-in at
// {PublicURL}/mdm/{org}/checkin and /server.
type Service struct {
	store       Store
	cas         scep.Authorities
	base        *url.URL
	topic       string
	log         *slog.Logger
	now         func() time.Time
	ttl         time.Duration
	apple       *AppleChain
	skipApple   bool
	devAPNS     bool
	idPrefix    string
	fixedSigner *profile.Signer
	users       auth.Users
	maxOpen     int

	mu       sync.Mutex
	signers  map[storage.OrgID]*profile.Signer
	policies policyCache
}

// Option configures New.
type Option func(*Service)

// WithLogger sets the logger; slog.Default() otherwise.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithClock sets the clock for challenge expiry.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithUsers makes every step (a new session, phase 1, the direct profile,
// phases 2 and 3) refuse a user the directory does not know as active
// (auth.CheckActive), whatever token or challenge the request carries.
func WithUsers(u auth.Users) Option { return func(s *Service) { s.users = u } }

// WithMaxOpenSessions sets how many open enrollment sessions (not
// enrolled, unexpired) one user may hold at once
// (enroll.DefaultMaxOpenSessions; 0 or less: no limit). Begin refuses one
// more with storage.ErrLimit.
func WithMaxOpenSessions(n int) Option { return func(s *Service) { s.maxOpen = n } }

// WithChallengeTTL sets how long each challenge is valid
// (DefaultChallengeTTL).
func WithChallengeTTL(d time.Duration) Option { return func(s *Service) { s.ttl = d } }

// WithAppleChain replaces Apple's device CA chain, for tests that play
// devices with a chain of their own.
func WithAppleChain(c *AppleChain) Option { return func(s *Service) { s.apple = c } }

// InsecureSkipAppleDeviceCheckForSimulators accepts phase 2 posts signed by
// any certificate. Simulators have no Apple-issued identity; nothing else
// should ever use this. The service logs a warning when it is set.
func InsecureSkipAppleDeviceCheckForSimulators() Option {
	return func(s *Service) { s.skipApple = true }
}

// WithDevelopmentAPNS marks the MDM payload for APNs' sandbox.
func WithDevelopmentAPNS() Option { return func(s *Service) { s.devAPNS = true } }

// WithIdentifierPrefix sets the reverse-DNS prefix of profile identifiers
// ("com.openomm" by default).
func WithIdentifierPrefix(p string) Option { return func(s *Service) { s.idPrefix = p } }

// WithProfileSigner signs every profile with signer (for example a
// certificate from a CA devices already trust, so the profile shows as
// verified) instead of the org's SCEP CA.
func WithProfileSigner(signer *profile.Signer) Option {
	return func(s *Service) { s.fixedSigner = signer }
}

// New returns the service. cas supplies each org's SCEP CA: the same
// Authorities the scep.Service uses, so that phase 3 is checked against the
// CA that issued the identity.
func New(store Store, cas scep.Authorities, cfg Config, opts ...Option) (*Service, error) {
	base, err := url.Parse(strings.TrimSuffix(cfg.PublicURL, "/"))
	if err != nil || base.Scheme != "https" || base.Host == "" {
		return nil, fmt.Errorf("ota: public URL %q must be an absolute https URL", cfg.PublicURL)
	}
	if cfg.Topic == "" {
		return nil, errors.New("ota: push topic missing")
	}
	s := &Service{store: store, cas: cas, base: base, topic: cfg.Topic, log: slog.Default(), now: time.Now,
		ttl: DefaultChallengeTTL, idPrefix: "com.openomm", signers: map[storage.OrgID]*profile.Signer{}, maxOpen: enroll.DefaultMaxOpenSessions}
	for _, o := range opts {
		o(s)
	}
	if s.ttl <= 0 {
		return nil, errors.New("ota: challenge TTL must be positive")
	}
	if s.apple == nil {
		s.apple = DefaultAppleChain()
	}
	if s.skipApple {
		s.log.Warn("ota: Apple device identity check DISABLED: any certificate may sign phase 2 (simulators only)")
	}
	return s, nil
}

// Ticket is what the agent app gets to start an enrollment.
type Ticket struct {
	Session string
	// Token is single-use; URL carries it.
	Token   string
	URL     string
	Expires time.Time
}

// Begin creates an enrollment session for a signed-in user (the caller has
// checked the sign-in) whose policy decision is Enroll, and returns the
// single-use URL to open on the device: the Profile Service document for
// KindOTA, the direct .mobileconfig for KindDirect.
func (s *Service) Begin(ctx context.Context, org storage.OrgID, userID string, d policy.Decision, kind enroll.SessionKind) (Ticket, error) {
	return s.begin(ctx, org, userID, d, kind, s.ttl, s.maxOpen, "user:"+userID, "")
}

// Limits of [Service.Issue].
const (
	// MaxIssue is how many profiles one Issue call makes.
	MaxIssue = 200
	// MaxIssueTTL is how long an issued profile's link may stay valid.
	MaxIssueTTL = 30 * 24 * time.Hour
)

// Issue makes n one-time direct enrollment profiles for userID, each its
// own session with a link valid for ttl (at most MaxIssueTTL): what an
// administrator (actor) pre-stages for a batch of Macs or iPads to be set
// up for the user. d must be the user's Enroll decision for the platform.
// Each is audited and can be revoked until a device has used it
// (enroll.RevocationStore.RevokeEnrollSession). The per-user cap on open
// sessions bounds what users open for themselves: what an administrator
// issues is neither refused by it nor counted in it (Session.IssuedBy).
func (s *Service) Issue(ctx context.Context, org storage.OrgID, userID string, d policy.Decision, n int, ttl time.Duration, actor string) ([]Ticket, error) {
	if n < 1 || n > MaxIssue || ttl <= 0 || ttl > MaxIssueTTL || actor == "" {
		return nil, fmt.Errorf("%w: issue 1-%d profiles valid up to %s, for an actor", storage.ErrInvalid, MaxIssue, MaxIssueTTL)
	}
	out := make([]Ticket, 0, n)
	for range n {
		t, err := s.begin(ctx, org, userID, d, enroll.KindDirect, ttl, 0, actor, actor)
		if err != nil {
			return out, err
		}
		out = append(out, t)
	}
	return out, nil
}

func (s *Service) begin(ctx context.Context, org storage.OrgID, userID string, d policy.Decision, kind enroll.SessionKind,
	ttl time.Duration, maxOpen int, actor, issuer string) (Ticket, error) {
	if d.Outcome != policy.Enroll {
		return Ticket{}, fmt.Errorf("%w: outcome %q", ErrNotEligible, d.Outcome)
	}
	if err := auth.CheckActive(ctx, s.users, org, userID); err != nil {
		return Ticket{}, err
	}
	now := s.now()
	id := enroll.NewSessionID()
	token, hash := enroll.NewChallenge(id)
	sess := enroll.Session{
		Org: org, ID: id, Kind: kind, UserID: userID, Policy: d.Policy, Requirements: d.Requirements, Platform: d.Platform,
		Phase: enroll.PhaseCreated, ChallengeHash: hash, Expires: now.Add(ttl), MaxOpen: maxOpen, IssuedBy: issuer,
	}
	if _, err := s.store.CreateEnrollSession(ctx, sess, storage.AuditEntry{
		Org: org, Time: now, Actor: actor, Action: ActionSessionCreate, Target: "enrollment:" + id,
		Details: map[string]string{"kind": string(kind), "policy": string(d.Policy), "platform": string(d.Platform), "user": userID},
		Event:   events.EnrollmentStarted,
	}); err != nil {
		return Ticket{}, err
	}
	path := "profile"
	if kind == enroll.KindDirect {
		path = "mobileconfig"
	}
	return Ticket{Session: id, Token: token, Expires: sess.Expires,
		URL: s.url("enroll", string(org), path) + "?token=" + url.QueryEscape(token)}, nil
}

func (s *Service) url(parts ...string) string {
	u := *s.base
	for _, p := range parts {
		u = *u.JoinPath(p)
	}
	return u.String()
}

// session loads the session a token or challenge names.
func (s *Service) session(ctx context.Context, org storage.OrgID, id string) (enroll.Session, error) {
	sess, err := s.store.EnrollSession(ctx, org, id)
	if errors.Is(err, storage.ErrNotFound) {
		return sess, fmt.Errorf("%w: %w: no such session", ErrSession, enroll.ErrChallenge)
	}
	if err != nil {
		return sess, err
	}
	// Whatever the session's token or challenge proves, a user who is no
	// longer active gets nothing from it.
	return sess, auth.CheckActive(ctx, s.users, org, sess.UserID)
}

// advance moves sess to next, turning a lost race into a replay.
func (s *Service) advance(ctx context.Context, sess enroll.Session, action string) (enroll.Session, error) {
	out, err := s.store.AdvanceEnrollSession(ctx, sess, nil, storage.AuditEntry{
		Org: sess.Org, Time: s.now(), Actor: "user:" + sess.UserID, Action: action,
		Target: "enrollment:" + sess.ID, Details: map[string]string{"phase": string(sess.Phase)},
	})
	if errors.Is(err, storage.ErrConflict) {
		return out, fmt.Errorf("%w: already used: %w", enroll.ErrChallenge, err)
	}
	return out, err
}

// consume checks a token against a session of kind in PhaseCreated.
func (s *Service) consume(ctx context.Context, org storage.OrgID, token string, kind enroll.SessionKind) (enroll.Session, error) {
	id, err := enroll.ChallengeSession(token)
	if err != nil {
		return enroll.Session{}, err
	}
	sess, err := s.session(ctx, org, id)
	if err != nil {
		return sess, err
	}
	if err := sess.CheckChallenge(token, enroll.PhaseCreated, s.now()); err != nil {
		return sess, err
	}
	if sess.Kind != kind {
		return sess, fmt.Errorf("%w: token is for a %s enrollment", enroll.ErrChallenge, sess.Kind)
	}
	return sess, nil
}

// signer returns the org's profile signer.
func (s *Service) signer(ctx context.Context, org storage.OrgID) (*profile.Signer, error) {
	if s.fixedSigner != nil {
		return s.fixedSigner, nil
	}
	s.mu.Lock()
	sg, ok := s.signers[org]
	s.mu.Unlock()
	if ok {
		return sg, nil
	}
	ca, err := s.cas.CA(ctx, org)
	if err != nil {
		return nil, err
	}
	sg, err = profile.NewSigner(ca.Key, ca.Certificate, profile.WithClock(s.now))
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.signers[org] = sg
	s.mu.Unlock()
	return sg, nil
}

func (s *Service) caCert(ctx context.Context, org storage.OrgID) (*x509.Certificate, error) {
	ca, err := s.cas.CA(ctx, org)
	if err != nil {
		return nil, err
	}
	return ca.Certificate, nil
}

// orgName returns the org's display name for profile texts.
func (s *Service) orgName(ctx context.Context, org storage.OrgID) (string, error) {
	o, err := s.store.Org(ctx, org)
	if err != nil {
		return "", err
	}
	if o.DisplayName != "" {
		return o.DisplayName, nil
	}
	return o.Name, nil
}
