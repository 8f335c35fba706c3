// Package omm composes the SDK: from one [Config] (a store, the org's
// directory, the public URL, push and a few options) [New] wires every
// service — sign-in, policy, inventory, the Apple channel (OTA, SCEP, MDM
// check-in), Android, the app store — and the rules that span them:
// policy re-application after a change, device answers routed to the app
// store, apps installed at enrollment, per-platform device actions with
// their ownership rules, the user lifecycle, and Apple's declarative
// channel for the devices that have it (enroll/declarative).
//
// It offers an identity product three things to mount or call:
//
//   - [SDK.Handler]: everything phones and the agent app call (enrollment,
//     MDM check-in, SCEP, the Android agent, the app store, the agent API),
//     mountable under any path prefix; the prefix, from Config.PublicURL,
//     is in every URL the SDK hands out.
//   - [SDK.AdminHandler]: the admin JSON API, behind the host's own admin
//     authentication (an [AdminAuth] hook).
//   - The Go admin API: methods of [SDK] (devices with names, actions,
//     policies, apps, audit, compliance, users).
//
// The agent API authenticates with the SDK's own sign-in (auth sessions)
// unless the host supplies its own ([WithAgentAuth]), for example its
// existing session cookies.
//
// examples/embed is a host identity product embedding the SDK this way;
// examples/ommserver is a complete product built on the same API.
package omm

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/openomm/omm/events"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/android/amapi"
	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/clientaddr"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/enroll/declarative"
	"github.com/openomm/omm/enroll/ota"
	"github.com/openomm/omm/enroll/scep"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/seal"
)

// Store is every store contract the SDK uses. storage/sqlite,
// storage/postgres and storage/memory return one.
type Store interface {
	storage.OrgStore
	storage.AuditLog
	auth.Store
	policy.Store
	policy.ReapplyQueue
	inventory.Store
	checkin.Store
	scep.Store
	scep.CAStore
	ota.Store
	ota.ReapplyStore
	ota.RenewalStore
	enroll.RevocationStore
	declarative.Store
	enroll.PurgeStore
	catalog.Store
	android.Store
	android.ReapplyStore
	android.TokenRevoker
	events.Store
	enroll.PushOutbox
	storage.Leases
	Ping(context.Context) error
}

// DevelopmentTopic is the push topic enrollment profiles carry when
// Config.Topic is empty: fine for simulated devices, refused by Apple for
// real pushes.
const DevelopmentTopic = "com.apple.mgmt.External.openomm-development"

// AgentPath is where, under the handler, the Android agent protocol is
// served; enrollment links of the legacy Android modes point at it.
const AgentPath = "/android/agent"

// Config is what [New] composes the SDK from.
type Config struct {
	// Store holds every record (required).
	Store Store
	// Directory is the org's users, groups and memberships. Nil: the
	// built-in directory (auth.LocalDirectory) over Store. A directory
	// that also checks passwords (auth.Authenticator) enables the SDK's
	// own sign-in for the agent app.
	Directory auth.Directory
	// PublicURL is the absolute https URL at which the handler is
	// reachable, with the path prefix it is mounted under
	// ("https://idp.example.com/device-mgmt"): every URL handed to a
	// device is built from it (required).
	PublicURL string
	// Push wakes Apple devices (an *apns.Client); nil: devices get their
	// commands at their next regular check-in.
	Push checkin.PushClient
	// Topic is the MDM push topic (the push certificate's UID); empty:
	// DevelopmentTopic.
	Topic string
	// CAs are the orgs' device CAs; nil: one generated per org on first
	// use (scep.GeneratedCAs, which generates for existing orgs only).
	CAs scep.Authorities
	// Secrets seals the secrets the SDK stores and reads back — generated
	// CA keys, TOTP secrets — with a key kept outside the database
	// (package seal: seal.LoadOrCreateKeyFile, or a KMS behind
	// seal.Keeper). Values stored in plain text before are sealed at their
	// next use. Nil: they are stored in plain text, and New logs a
	// warning.
	Secrets seal.Keeper
	// Android configures the Android channel.
	Android AndroidConfig
	// AllowSimulators accepts OTA phase 2 from simulated devices, without
	// Apple's device attestation. Never in production.
	AllowSimulators bool
	// EventRetention is how long the event stream keeps events
	// (DefaultEventRetention when 0; negative keeps them forever). [SDK.Run]
	// purges older ones.
	EventRetention time.Duration
	// Proxy serves the handler as plain HTTP behind a TLS-terminating
	// proxy that forwards the devices' client certificates (zero: the
	// host terminates TLS itself and the handler reads the certificate
	// from the connection).
	Proxy ProxyConfig
	// IdentityValidity is how long the MDM identities the SCEP CAs issue
	// are valid (scep.DefaultValidity when 0).
	IdentityValidity time.Duration
	// IdentityRenewalWindow is how long before an MDM identity expires
	// [SDK.RenewIdentities] renews it (enroll.DefaultRenewalWindow when
	// 0); it must be shorter than IdentityValidity.
	IdentityRenewalWindow time.Duration
	// ServingCertificate, when set, returns the TLS certificate the host
	// serves the SDK with, for [SDK.Credentials] to show its expiry.
	ServingCertificate func() *x509.Certificate
	// NoDeclarative keeps every Apple device on the MDM command path:
	// declarative device management is never turned on.
	NoDeclarative bool
	// PushClaim is how long a replica's claim on devices to push lasts
	// (checkin.WithOutboxClaim; 0: its default): the devices of a replica
	// that died while pushing are pushed by another once it runs out.
	PushClaim time.Duration
	// ReplicaID names this process among the replicas (server processes)
	// sharing the store, as the holder of the leases on shared work (see
	// SDK.Run): keep it stable across restarts — a restarted replica then
	// resumes its own leases at once — and distinct between replicas.
	// Empty: a random one per New.
	ReplicaID string
	// ReapplyBatch is how many enrolled devices one run of a policy
	// re-application goes through (0: 10,000). The run after a change
	// through the SDK answers its caller after its first batch; the rest
	// of a larger org follow a batch at a time in SDK.Run (see
	// SDK.DrainReapplies), each going on where the last stopped.
	ReapplyBatch int
	// MFASender delivers SMS and voice sign-in codes to the directory's
	// phone numbers (an SMS gateway: see auth.Sender); nil offers TOTP
	// only. auth.DevelopmentSender logs the codes instead, for
	// development.
	MFASender auth.Sender
	// MaxOpenEnrollments is how many open enrollment sessions (Apple) and
	// how many open enrollment tokens (Android) each user may hold at once;
	// one more is refused with storage.ErrLimit (429 in the agent API).
	// 0: the defaults (enroll.DefaultMaxOpenSessions,
	// android.DefaultMaxOpenTokens); negative: no limit.
	MaxOpenEnrollments int
	// Logger and Clock default to slog.Default() and time.Now.
	Logger *slog.Logger
	Clock  func() time.Time
}

// ProxyConfig describes the TLS-terminating proxy in front of the
// handler. The proxy requests (does not require) a client certificate,
// sets ClientCertHeader on every request it forwards to the certificate
// it received (percent-escaped PEM as nginx's $ssl_client_escaped_cert,
// PEM, or base64 DER; empty without one), replacing whatever a client
// sent, and connects from an address in Trusted. The header from any
// other address is refused (403) by the check-in endpoints; no other
// route reads it. Config.PublicURL stays the proxy's https URL.
type ProxyConfig struct {
	// ClientCertHeader names the header, e.g. "X-Client-Cert".
	ClientCertHeader string
	// Trusted are the proxy's addresses as the handler sees them
	// (http.Request.RemoteAddr), e.g. 10.0.0.5/32. They must hold
	// proxies only (see ForwardedFor).
	Trusted []netip.Prefix
	// ForwardedFor names each request's client, for the per-source
	// throttles (sign-in, refused SCEP requests) and the "remote" of
	// denied-request audit entries, by the rightmost X-Forwarded-For hop
	// that is not in Trusted, on requests whose peer is in Trusted (see
	// package clientaddr); the header from any other peer is never read.
	// The proxy must append the address it received each connection from
	// (nginx: proxy_add_x_forwarded_for). Off, every client of the proxy
	// counts as the proxy.
	ForwardedFor bool
}

// AndroidConfig configures the Android channel. Without a Provider,
// work-profile and fully managed enrollment is refused; without Knox
// licenses, Samsung Knox enrollment is.
type AndroidConfig struct {
	// Provider is the Android Management API (Google's, or
	// android/amapi/amapitest's stand-in), Enterprise the enterprise name
	// and DPC the device policy controller the QR codes name.
	Provider   amapi.Provider
	Enterprise string
	DPC        android.DPC
	// Knox holds the orgs' Samsung Knox license keys.
	Knox android.KnoxLicenses
}

// SDK is the composed SDK. Its fields are the services, for what the Go
// admin API does not cover; they are safe for concurrent use.
type SDK struct {
	Store     Store
	Directory auth.Directory
	// Auth is the SDK's own sign-in; nil when the directory cannot check
	// passwords.
	Auth      *auth.Service
	Policy    *policy.Service
	Inventory *inventory.Service
	SCEP      *scep.Service
	OTA       *ota.Service
	MDM       *checkin.Service
	// Declarative is the declarative channel of Apple devices; nil when
	// Config.NoDeclarative.
	Declarative *declarative.Service
	Catalog     *catalog.Service
	Android     *android.Service

	log       *slog.Logger
	now       func() time.Time
	base      *url.URL
	knox      bool
	retention time.Duration
	smsSender bool
	reapplier reapplier
	// completed holds the devices whose completing enrollment carries
	// their automatic app installs (see completing).
	completed completedInstalls
	outbox    *checkin.Outbox
	// replica names this SDK as the holder of leases (see Run).
	replica string
	// reapplyBatch bounds the devices of one re-application run.
	reapplyBatch int
	renewer      *ota.Renewer
	push         checkin.PushClient
	serving      func() *x509.Certificate
	warned       credentialWarnings
	// clients names requests' clients (Config.Proxy.ForwardedFor); nil:
	// by their peer address.
	clients *clientaddr.Resolver
}

// New composes the SDK from cfg.
func New(ctx context.Context, cfg Config) (*SDK, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("%w: omm: Config.Store is required", storage.ErrInvalid)
	}
	base, err := url.Parse(strings.TrimSuffix(cfg.PublicURL, "/"))
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" || base.RawQuery != "" || base.Fragment != "" {
		return nil, fmt.Errorf("%w: omm: Config.PublicURL %q: want an absolute http(s) URL without query", storage.ErrInvalid, cfg.PublicURL)
	}
	if (cfg.Proxy.ClientCertHeader == "") != (len(cfg.Proxy.Trusted) == 0) {
		return nil, fmt.Errorf("%w: omm: Config.Proxy needs both ClientCertHeader and Trusted", storage.ErrInvalid)
	}
	if cfg.Proxy.ForwardedFor && len(cfg.Proxy.Trusted) == 0 {
		return nil, fmt.Errorf("%w: omm: Config.Proxy.ForwardedFor needs Trusted", storage.ErrInvalid)
	}
	for _, p := range cfg.Proxy.Trusted {
		if !p.IsValid() {
			return nil, fmt.Errorf("%w: omm: Config.Proxy.Trusted has an invalid prefix", storage.ErrInvalid)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Topic == "" {
		cfg.Topic = DevelopmentTopic
	}
	st, log, now := cfg.Store, cfg.Logger, cfg.Clock
	s := &SDK{Store: st, Directory: cfg.Directory, log: log, now: now, base: base, push: cfg.Push, serving: cfg.ServingCertificate, knox: cfg.Android.Knox != nil,
		retention: cfg.EventRetention, smsSender: cfg.MFASender != nil, replica: cfg.ReplicaID, reapplyBatch: cfg.ReapplyBatch}
	switch {
	case s.reapplyBatch < 0:
		return nil, fmt.Errorf("%w: omm: Config.ReapplyBatch is negative", storage.ErrInvalid)
	case s.reapplyBatch == 0:
		s.reapplyBatch = defaultReapplyBatch
	}
	if cfg.Proxy.ForwardedFor {
		s.clients = clientaddr.New(cfg.Proxy.Trusted)
	}
	if s.replica == "" {
		s.replica = "replica-" + rand.Text()
	}
	if len(s.replica) > storage.MaxLeaseHolderLen {
		return nil, fmt.Errorf("%w: omm: Config.ReplicaID longer than %d bytes", storage.ErrInvalid, storage.MaxLeaseHolderLen)
	}
	if s.retention == 0 {
		s.retention = DefaultEventRetention
	}
	if s.Directory == nil {
		if s.Directory, err = auth.NewLocalDirectory(st, auth.WithLogger(log), auth.WithClock(now)); err != nil {
			return nil, fmt.Errorf("omm: directory: %w", err)
		}
	}
	if cfg.Secrets == nil {
		log.Warn("omm: Config.Secrets is not set: CA keys and TOTP secrets are stored in plain text in the database")
	}
	if a, ok := s.Directory.(auth.Authenticator); ok {
		authOpts := []auth.Option{auth.WithLogger(log), auth.WithClock(now), auth.WithMFARequirement(s.mfaRequirement)}
		if cfg.MFASender != nil {
			authOpts = append(authOpts, auth.WithSender(cfg.MFASender))
		}
		if cfg.Secrets != nil {
			authOpts = append(authOpts, auth.WithSecrets(cfg.Secrets))
		}
		if s.Auth, err = auth.New(st, a, authOpts...); err != nil {
			return nil, fmt.Errorf("omm: sign-in: %w", err)
		}
	}
	s.Policy = policy.New(st, policy.WithLogger(log), policy.WithClock(now), policy.WithEvents(s.policyChanged))
	s.Inventory = inventory.New(st, inventory.WithLogger(log), inventory.WithClock(now), inventory.WithDirectory(s.Directory))

	cas := cfg.CAs
	if cas == nil {
		caOpts := []scep.GeneratedOption{scep.WithCALogger(log)}
		if cfg.Secrets != nil {
			caOpts = append(caOpts, scep.WithKeeper(cfg.Secrets))
		}
		cas = scep.NewGeneratedCAs(st, now, caOpts...)
	}
	validity, window := cfg.IdentityValidity, cfg.IdentityRenewalWindow
	if validity == 0 {
		validity = scep.DefaultValidity
	}
	if window == 0 {
		window = min(enroll.DefaultRenewalWindow, validity/3)
	}
	if validity < 0 || window <= 0 || window >= validity {
		return nil, fmt.Errorf("%w: omm: the identity renewal window (%s) must be positive and shorter than the identity validity (%s)",
			storage.ErrInvalid, window, validity)
	}
	if s.SCEP, err = scep.New(st, scep.WithAuthorities(cas), scep.WithUsers(s.Directory), scep.WithLogger(log), scep.WithClock(now),
		scep.WithValidity(validity), scep.WithClientSource(s.ClientSource)); err != nil {
		return nil, fmt.Errorf("omm: SCEP: %w", err)
	}
	otaOpts := []ota.Option{ota.WithUsers(s.Directory), ota.WithLogger(log), ota.WithClock(now)}
	var androidLimit []android.Option
	if n := cfg.MaxOpenEnrollments; n != 0 {
		otaOpts = append(otaOpts, ota.WithMaxOpenSessions(n))
		androidLimit = append(androidLimit, android.WithMaxOpenTokens(n))
	}
	if cfg.AllowSimulators {
		otaOpts = append(otaOpts, ota.InsecureSkipAppleDeviceCheckForSimulators())
	}
	if s.OTA, err = ota.New(st, cas, ota.Config{PublicURL: s.URL(""), Topic: cfg.Topic}, otaOpts...); err != nil {
		return nil, fmt.Errorf("omm: OTA: %w", err)
	}

	// Pushes go through the durable outbox: the devices of every queued
	// command are recorded with it, pushed at once by this replica where it
	// can, and by any replica's Run where it could not (see Run).
	var waker checkin.Waker
	var pusher *checkin.Pusher
	if cfg.Push != nil {
		pusher = checkin.NewPusher(st, cfg.Push, checkin.WithPushLogger(log))
	}
	outboxOpts := []checkin.OutboxOption{checkin.WithOutboxLogger(log), checkin.WithOutboxClock(now)}
	if cfg.PushClaim > 0 {
		outboxOpts = append(outboxOpts, checkin.WithOutboxClaim(cfg.PushClaim))
	}
	s.outbox = checkin.NewOutbox(st, pusher, outboxOpts...)
	if pusher != nil {
		waker = s.outbox
	}
	if !cfg.NoDeclarative {
		ddmOpts := []declarative.Option{declarative.WithLogger(log), declarative.WithClock(now),
			declarative.WithProfiles(s.OTA, s.URL("")), declarative.WithEvents(s.declarativeEvent)}
		if waker != nil {
			ddmOpts = append(ddmOpts, declarative.WithWaker(waker))
		}
		s.Declarative = declarative.New(st, checkin.Inventory{Service: s.Inventory, Store: st}, st, declarativeSource{s}, ddmOpts...)
	}
	var nudger catalog.Nudger = noNudger{}
	switch {
	case s.Declarative != nil:
		nudger = appNudger{s: s, w: waker}
	case waker != nil:
		nudger = wakerNudger{waker}
	}
	s.Catalog = catalog.New(st, st, s.Directory, catalog.WithNudger(nudger), catalog.WithLogger(log), catalog.WithClock(now),
		catalog.WithGroupCheck(s.checkGroup))

	androidOpts := []android.Option{android.WithApps(androidApps{s}), android.WithAgentURL(s.URL(AgentPath)), android.WithUsers(s.Directory), android.WithEventLog(st),
		android.WithLogger(log), android.WithClock(now)}
	androidOpts = append(androidOpts, androidLimit...)
	if cfg.Android.Knox != nil {
		androidOpts = append(androidOpts, android.WithKnoxLicenses(cfg.Android.Knox))
	}
	if cfg.Android.Provider != nil {
		androidOpts = append(androidOpts, android.WithProvider(cfg.Android.Provider, cfg.Android.Enterprise, cfg.Android.DPC))
	}
	s.Android = android.New(st, s.Inventory, st, androidOpts...)

	mdmOpts := []checkin.Option{checkin.WithLogger(log), checkin.WithClock(now), checkin.WithProfiles(s.OTA), checkin.WithUsers(s.Directory), checkin.WithEventLog(st),
		checkin.WithEvents(s.deviceEvent), checkin.WithCompletion(s.completing), checkin.WithTrustedProxy(cfg.Proxy.ClientCertHeader, cfg.Proxy.Trusted),
		checkin.WithResultHandler(string(inventory.AppleDeviceInformation), reevaluateOnReport{s}),
		checkin.WithResultHandler("InstallApplication", catalogResults{s.Catalog}),
		checkin.WithResultHandler("RemoveApplication", catalogResults{s.Catalog})}
	if waker != nil {
		mdmOpts = append(mdmOpts, checkin.WithWaker(waker))
	}
	if s.Declarative != nil {
		mdmOpts = append(mdmOpts, checkin.WithDeclarative(s.Declarative))
	}
	s.MDM = checkin.New(st, checkin.Inventory{Service: s.Inventory, Store: st}, s.SCEP, mdmOpts...)

	var reapplyOpts []ota.ReapplyOption
	if waker != nil {
		reapplyOpts = append(reapplyOpts, ota.WithReapplyWaker(waker))
	}
	s.reapplier = reapplier{apple: ota.NewReapplier(s.OTA, st, reapplyOpts...), android: android.NewReapplier(s.Android, st)}
	renewOpts := []ota.RenewOption{ota.WithRenewalWindow(window), ota.WithRenewalAtRisk(min(enroll.DefaultRenewalAtRisk, window/4))}
	if waker != nil {
		renewOpts = append(renewOpts, ota.WithRenewalWaker(waker))
	}
	s.renewer = ota.NewRenewer(s.OTA, st, renewOpts...)
	return s, nil
}

// URL returns the public URL of path under the handler: the base
// Config.PublicURL gave, prefix included.
func (s *SDK) URL(path string) string {
	u := *s.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	return u.String()
}

// checkGroup is nil when group is one of the org's, else an error
// wrapping storage.ErrNotFound: nothing the SDK stores names another org's
// group.
func (s *SDK) checkGroup(ctx context.Context, org storage.OrgID, group string) error {
	_, err := s.Directory.Group(ctx, org, group)
	return err
}

// checkGroups refuses a list of groups as a whole when one of them is not
// the org's.
func (s *SDK) checkGroups(ctx context.Context, org storage.OrgID, groups []string) error {
	for _, g := range groups {
		err := s.checkGroup(ctx, org, g)
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("%w: %q is not a group of this org", ErrBadRequest, g)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
