package android

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/openomm/omm/events"

	"github.com/openomm/omm/android/amapi"
	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// Apps says which apps go in the policy of a user's device. The catalog
// implements it through an adapter in the composition root; this package
// does not import the catalog.
type Apps interface {
	// AndroidApps returns the apps for userID's device deviceID (empty
	// before the device exists, when a token's policy is compiled), each
	// package once. A user with no assignments has none; an error is only
	// for a failure to read them.
	AndroidApps(ctx context.Context, org storage.OrgID, userID, deviceID string) ([]App, error)
}

// KnoxLicenses hands out an org's Samsung Knox license key, which the agent
// activates on Knox devices.
type KnoxLicenses interface {
	// KnoxLicense returns the org's key, or an error wrapping
	// storage.ErrNotFound when the org has none.
	KnoxLicense(ctx context.Context, org storage.OrgID) (string, error)
}

// Registry reads the inventory's device records; inventory.Store
// implements it.
type Registry interface {
	// Device returns the device with this ID, or ErrNotFound.
	Device(ctx context.Context, org storage.OrgID, id string) (inventory.Device, error)
	// DeviceByIdentifier returns the device with this platform identifier
	// that is not deprovisioned or wiped, or ErrNotFound.
	DeviceByIdentifier(ctx context.Context, org storage.OrgID, identifier string) (inventory.Device, error)
}

// Service runs Android enrollment, policy delivery, status and commands.
// It is safe for concurrent use.
type Service struct {
	store      Store
	inv        *inventory.Service
	reg        Registry
	apps       Apps
	knox       KnoxLicenses
	provider   amapi.Provider
	enterprise string
	dpc        DPC
	agentURL   string
	now        func() time.Time
	log        *slog.Logger
	users      auth.Users
	eventLog   events.Appender
	maxOpen    int
}

// Option configures New.
type Option func(*Service)

// WithUsers makes enrollment with a token refuse (ErrToken, wrapping
// auth.ErrUserInactive) a user the directory does not know as active,
// whatever token is presented, and token creation refuse one too.
func WithUsers(u auth.Users) Option { return func(s *Service) { s.users = u } }

// WithEventLog records refused enrollments (a work profile Google created
// with a token the SDK refuses) as events.EnrollmentFailed.
func WithEventLog(a events.Appender) Option { return func(s *Service) { s.eventLog = a } }

// WithMaxOpenTokens sets how many open enrollment tokens (unexpired, not
// used up) one user may hold at once (DefaultMaxOpenTokens; 0 or less: no
// limit). CreateToken refuses one more with storage.ErrLimit.
func WithMaxOpenTokens(n int) Option { return func(s *Service) { s.maxOpen = n } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithApps sets where the apps of a policy come from (default: none).
func WithApps(a Apps) Option { return func(s *Service) { s.apps = a } }

// WithKnoxLicenses sets where Knox license keys come from.
func WithKnoxLicenses(k KnoxLicenses) Option { return func(s *Service) { s.knox = k } }

// WithProvider enables the work-profile and fully managed path through the
// Android Management API enterprise ("enterprises/…"), with dpc for the
// QR codes of company-owned devices (see GoogleDPC).
func WithProvider(p amapi.Provider, enterprise string, dpc DPC) Option {
	return func(s *Service) { s.provider, s.enterprise, s.dpc = p, enterprise, dpc }
}

// WithAgentURL sets the https URL our agent app opens to enroll (the
// enrollment link of the legacy modes).
func WithAgentURL(u string) Option { return func(s *Service) { s.agentURL = u } }

// New returns a service over store, registering devices with inv and
// reading them back through reg (the inventory's store).
func New(store Store, inv *inventory.Service, reg Registry, opts ...Option) *Service {
	s := &Service{store: store, inv: inv, reg: reg, now: time.Now, log: slog.Default(), maxOpen: DefaultMaxOpenTokens}
	for _, o := range opts {
		o(s)
	}
	return s
}

// DefaultTokenTTL is how long a token is valid when the request says
// nothing.
const DefaultTokenTTL = 24 * time.Hour

// TokenRequest asks for an enrollment token for one user's device.
type TokenRequest struct {
	Org    storage.OrgID
	UserID string
	// Decision is the policy decision for the user and the device facts
	// (package policy); a denied decision yields ErrDenied.
	Decision  policy.Decision
	Ownership inventory.Ownership
	OneTime   bool
	TTL       time.Duration
	// ManagedAccount optionally asks for this managed Google account
	// during work-profile setup.
	ManagedAccount string
}

// Issued is a created token and how it reaches the device.
type Issued struct {
	Token Token
	Plan  Plan
	// Value is what the device presents: our token on the agent channel,
	// the Android Management API token on the other. Shown once.
	Value string
	// QR is the provisioning JSON for a company-owned device (render it
	// with QRPNG); nil otherwise.
	QR []byte
	// Link is the enrollment link for a device in use; empty with a QR.
	Link string
}

// CreateToken issues an enrollment token on behalf of actor.
func (s *Service) CreateToken(ctx context.Context, actor string, r TokenRequest) (Issued, error) {
	plan, err := PlanFor(r.Decision, r.Ownership)
	if err != nil {
		return Issued{}, err
	}
	if err := auth.CheckActive(ctx, s.users, r.Org, r.UserID); err != nil {
		return Issued{}, err
	}
	// Before Google is asked for anything: a user holds at most
	// maxOpen tokens (the store enforces it again, atomically).
	if s.maxOpen > 0 {
		if n, err := s.store.OpenAndroidTokens(ctx, r.Org, r.UserID, s.now()); err != nil {
			return Issued{}, err
		} else if n >= s.maxOpen {
			return Issued{}, fmt.Errorf("android: %d enrollment tokens are open for this user, at most %d: use or let one expire first: %w",
				n, s.maxOpen, storage.ErrLimit)
		}
	}
	ttl := r.TTL
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	now := s.now()
	secret := rand.Text()
	t := Token{
		ID: TokenID(secret), Org: r.Org, UserID: r.UserID, Policy: r.Decision.Policy,
		Mode: plan.Mode, Type: plan.Type, Ownership: plan.Ownership, Requirements: r.Decision.Requirements,
		OneTime: r.OneTime, Expires: now.Add(ttl), MaxOpen: s.maxOpen,
	}
	if err := t.Validate(); err != nil {
		return Issued{}, err
	}
	if plan.Mode == policy.ModeKnox && s.knox == nil {
		return Issued{}, fmt.Errorf("android: Knox enrollment needs the org's license key and no source is configured (WithKnoxLicenses)")
	}
	iss := Issued{Plan: plan}
	switch plan.Channel {
	case ChannelAgent:
		iss.Value = encodePart(string(r.Org)) + "." + secret
		if s.agentURL == "" {
			return Issued{}, fmt.Errorf("android: no agent enrollment URL configured (WithAgentURL)")
		}
		if iss.Link, err = AgentEnrollLink(s.agentURL, iss.Value); err != nil {
			return Issued{}, err
		}
	case ChannelAMAPI:
		if s.provider == nil {
			return Issued{}, ErrNoProvider
		}
		apps, err := s.appsFor(ctx, r.Org, r.UserID, "")
		if err != nil {
			return Issued{}, err
		}
		c, err := Compile(t.Requirements, CompileOptions{
			WorkProfile: plan.Type == inventory.EnrollAndroidWorkProfile, Apps: apps, ManagedAccount: r.ManagedAccount,
		})
		if err != nil {
			return Issued{}, err
		}
		// One provider policy per token: apps are per user.
		if t.ProviderPolicy, err = s.provider.PatchPolicy(ctx, s.enterprise, "omm-"+t.ID[:32], c.Policy); err != nil {
			return Issued{}, fmt.Errorf("android: patch policy: %w", err)
		}
		pt, err := s.provider.CreateEnrollmentToken(ctx, s.enterprise, amapi.EnrollmentTokenRequest{
			PolicyName: t.ProviderPolicy, AdditionalData: tokenData(r.Org, t.ID), Duration: ttl, OneTimeOnly: r.OneTime,
		})
		if err != nil {
			return Issued{}, fmt.Errorf("android: create enrollment token: %w", err)
		}
		iss.Value = pt.Value
		if plan.Provisioning == ProvisionQR {
			if iss.QR, err = ProvisioningJSON(s.dpc, pt.Value); err != nil {
				return Issued{}, err
			}
		} else {
			iss.Link = GoogleEnrollLink(pt.Value)
		}
	}
	entry := s.entry(r.Org, actor, ActionTokenCreate, "android-token:"+t.ID[:16],
		map[string]string{"user": r.UserID, "mode": string(plan.Mode), "type": string(plan.Type), "one_time": fmt.Sprint(r.OneTime),
			"platform": "android", "kind": "android"})
	entry.Event = events.EnrollmentStarted
	iss.Token, err = s.store.CreateAndroidToken(ctx, t, entry)
	if err != nil {
		return Issued{}, err
	}
	return iss, nil
}

// EnrollRequest is an agent's enrollment.
type EnrollRequest struct {
	Token string
	// Identifier is the Android device ID the agent reads; SerialNumber is
	// optional.
	Identifier   string
	SerialNumber string
}

// Enrolled is the result of an agent enrollment. Credential is shown once:
// the agent authenticates every later call with it.
type Enrolled struct {
	Device      Device
	Credential  string
	KnoxLicense string
}

// Enroll enrolls a device on the agent channel (Knox, native device admin)
// with an enrollment token. An unknown, expired, used-up or
// Android-Management-API token yields ErrToken.
func (s *Service) Enroll(ctx context.Context, r EnrollRequest) (Enrolled, error) {
	org, secret, ok := strings.Cut(r.Token, ".")
	orgID, err := decodePart(org)
	if !ok || err != nil || secret == "" || storage.OrgID(orgID).Validate() != nil {
		return Enrolled{}, ErrToken
	}
	t, err := s.checkToken(ctx, storage.OrgID(orgID), TokenID(secret), ChannelAgent)
	if err != nil {
		return Enrolled{}, err
	}
	var license string
	if t.Mode == policy.ModeKnox && s.knox != nil {
		// Before anything is registered: without the key the agent could not
		// finish, and the enrollment would be left half done.
		if license, err = s.knox.KnoxLicense(ctx, t.Org); err != nil {
			return Enrolled{}, fmt.Errorf("android: knox license: %w", err)
		}
	}
	credSecret := rand.Text()
	d := Device{
		ID: inventory.NewDeviceID(), Org: t.Org, UserID: t.UserID, Policy: t.Policy, Mode: t.Mode, Type: t.Type,
		Ownership: t.Ownership, TokenID: t.ID, Requirements: t.Requirements, CredentialHash: HashSecret(credSecret),
	}
	d, err = s.register(ctx, d, r.Identifier, r.SerialNumber)
	if err != nil {
		return Enrolled{}, err
	}
	return Enrolled{Device: d, Credential: encodePart(string(d.Org)) + "." + encodePart(d.ID) + "." + credSecret, KnoxLicense: license}, nil
}

// EnrollManaged records a device that enrolled through the Android
// Management API, named providerName ("enterprises/e/devices/d"); the
// embedder calls it on Google's ENROLLMENT notification. The device
// resource is read from the provider; its enrollmentTokenData names our
// token, which must be org's. Its first status goes through the privacy
// filter.
func (s *Service) EnrollManaged(ctx context.Context, org storage.OrgID, providerName string) (Device, error) {
	return s.enrollManaged(ctx, org, providerName)
}

// EnrollNotified is EnrollManaged for an embedder that serves several orgs
// from one enterprise: the org is read from the enrollment token data
// CreateToken wrote. A resource whose token data names no org yields
// ErrToken.
func (s *Service) EnrollNotified(ctx context.Context, providerName string) (Device, error) {
	return s.enrollManaged(ctx, "", providerName)
}

// tokenData is the enrollment token's additional data: the org and our
// token ID, so that a notification names its tenant.
func tokenData(org storage.OrgID, id string) string { return encodePart(string(org)) + "." + id }

// parseTokenData reads tokenData's format; a bare token ID (as earlier
// versions wrote) has no org.
func parseTokenData(data string) (storage.OrgID, string) {
	o, id, ok := strings.Cut(data, ".")
	if !ok {
		return "", data
	}
	org, err := decodePart(o)
	if err != nil {
		return "", ""
	}
	return storage.OrgID(org), id
}

func (s *Service) enrollManaged(ctx context.Context, org storage.OrgID, providerName string) (Device, error) {
	if s.provider == nil {
		return Device{}, ErrNoProvider
	}
	raw, err := s.provider.Device(ctx, providerName)
	if err != nil {
		return Device{}, fmt.Errorf("android: read provider device: %w", err)
	}
	// The resource relays what the device reported: outside input.
	if len(raw) > inventory.DefaultMaxReportSize {
		return Device{}, fmt.Errorf("%w: provider device resource of %d bytes", inventory.ErrReport, len(raw))
	}
	var head struct {
		EnrollmentTokenData string `json:"enrollmentTokenData"`
		HardwareInfo        struct {
			SerialNumber string `json:"serialNumber"`
		} `json:"hardwareInfo"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return Device{}, fmt.Errorf("%w: provider device: %w", inventory.ErrReport, err)
	}
	dataOrg, tokenID := parseTokenData(head.EnrollmentTokenData)
	switch {
	case org == "" && dataOrg == "":
		return Device{}, ErrToken
	case org == "":
		org = dataOrg
	case dataOrg != "" && dataOrg != org:
		return Device{}, ErrToken
	}
	if org.Validate() != nil {
		return Device{}, ErrToken
	}
	t, err := s.checkToken(ctx, org, tokenID, ChannelAMAPI)
	if errors.Is(err, ErrToken) {
		return Device{}, errors.Join(err, s.dropRefused(ctx, org, providerName, err))
	}
	if err != nil {
		return Device{}, err
	}
	d := Device{
		ID: inventory.NewDeviceID(), Org: org, UserID: t.UserID, Policy: t.Policy, Mode: t.Mode, Type: t.Type,
		Ownership: t.Ownership, TokenID: t.ID, Requirements: t.Requirements,
		ProviderName: providerName, ProviderPolicy: t.ProviderPolicy,
	}
	ident := providerName[strings.LastIndex(providerName, "/")+1:]
	if d, err = s.register(ctx, d, ident, head.HardwareInfo.SerialNumber); errors.Is(err, ErrToken) {
		// Spent in the meantime (a repeated notification racing this one).
		return Device{}, errors.Join(err, s.dropRefused(ctx, org, providerName, err))
	} else if err != nil {
		return Device{}, err
	}
	if _, err := s.inv.IngestAndroid(ctx, org, d.ID, raw); err != nil {
		s.log.WarnContext(ctx, "android: first status of a managed device refused", "org", org, "device", d.ID, "err", err)
	}
	return d, nil
}

// dropRefused deletes at the provider a device that enrolled there with a
// token we refuse (revoked, expired, spent, or its user has left): Google
// has already applied the org's policy to it, and nothing of ours may stay
// on a device we do not manage (a work profile goes, the personal side
// stays). A device we registered — a repeated notification — is left
// alone.
func (s *Service) dropRefused(ctx context.Context, org storage.OrgID, providerName string, why error) error {
	_, err := s.reg.DeviceByIdentifier(ctx, org, providerName[strings.LastIndex(providerName, "/")+1:])
	if !errors.Is(err, storage.ErrNotFound) {
		return err // ours (nil), or unknown: keep it
	}
	s.log.WarnContext(ctx, "android: enrollment refused; removing the device from the provider", "org", org,
		"provider_device", providerName, "err", why)
	if s.eventLog != nil {
		reason := "the enrollment token was not valid"
		if errors.Is(why, auth.ErrUserInactive) {
			reason = "the user is not active"
		}
		if _, err := s.eventLog.AppendEvent(ctx, events.Failed(org, "", "", "provider:"+providerName, reason, s.now())); err != nil {
			s.log.WarnContext(ctx, "android: record a refused enrollment", "org", org, "err", err)
		}
	}
	if err := s.provider.DeleteDevice(ctx, providerName); err != nil && !errors.Is(err, amapi.ErrNotFound) {
		return fmt.Errorf("android: remove the refused device from the provider: %w", err)
	}
	return nil
}

// checkToken returns the token if it may enroll a device on channel ch
// now, without spending it: register spends it, with the enrollment.
func (s *Service) checkToken(ctx context.Context, org storage.OrgID, id string, ch Channel) (Token, error) {
	t, err := s.store.AndroidToken(ctx, org, id)
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalid) {
		return Token{}, ErrToken
	}
	if err != nil {
		return Token{}, err
	}
	tc := ChannelAgent
	if t.Type == inventory.EnrollAndroidWorkProfile || t.Type == inventory.EnrollAndroidFullyManaged {
		tc = ChannelAMAPI
	}
	if tc != ch || !s.now().Before(t.Expires) || t.OneTime && t.Uses > 0 {
		return Token{}, ErrToken
	}
	// Whatever token it holds, a user who has left enrolls nothing: refused
	// before the token is spent or anything registered.
	if err := auth.CheckActive(ctx, s.users, org, t.UserID); err != nil {
		return Token{}, fmt.Errorf("%w: %w", ErrToken, err)
	}
	return t, nil
}

// register stores the enrollment with its token in one transaction: the
// token's use, the inventory record (enrolled) and the Android record. A
// refusal (the token spent or expired meanwhile: ErrToken; the device
// enrolled already: storage.ErrAlreadyExists) stores nothing, so the
// token stays usable for an enrollment that succeeds.
func (s *Service) register(ctx context.Context, d Device, identifier, serial string) (Device, error) {
	actor := "user:" + d.UserID
	now := s.now()
	inv := inventory.Device{
		ID: d.ID, Org: d.Org, UserID: d.UserID, Platform: inventory.PlatformAndroid, Ownership: d.Ownership,
		EnrollmentType: d.Type, State: inventory.StateEnrolled, Identifier: identifier, EnrollmentID: d.TokenID[:16], SerialNumber: serial,
	}
	d, err := s.store.EnrollAndroidDevice(ctx, TokenEnrollment{
		Token: d.TokenID, At: now, UseEntry: s.entry(d.Org, actor, ActionTokenUse, "android-token:"+d.TokenID[:16], nil),
		Inventory: inv, RegisterEntry: inventory.RegisterEntry(inv, actor, now),
		Device: d, DeviceEntry: s.entry(d.Org, actor, ActionDeviceEnroll, "device:"+d.ID,
			map[string]string{"mode": string(d.Mode), "type": string(d.Type)}),
	})
	if errors.Is(err, storage.ErrConflict) {
		return Device{}, ErrToken
	}
	return d, err
}

// Authenticate returns the device a credential belongs to. A malformed or
// unknown credential, a wrong secret (compared in constant time) or a
// device no longer under management yields ErrCredential.
func (s *Service) Authenticate(ctx context.Context, credential string) (Device, error) {
	parts := strings.Split(credential, ".")
	if len(parts) != 3 || parts[2] == "" {
		return Device{}, ErrCredential
	}
	org, err1 := decodePart(parts[0])
	id, err2 := decodePart(parts[1])
	if err1 != nil || err2 != nil || storage.OrgID(org).Validate() != nil || id == "" {
		return Device{}, ErrCredential
	}
	d, err := s.store.AndroidDevice(ctx, storage.OrgID(org), id)
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalid) {
		return Device{}, ErrCredential
	}
	if err != nil {
		return Device{}, err
	}
	if len(d.CredentialHash) == 0 || subtle.ConstantTimeCompare(d.CredentialHash, HashSecret(parts[2])) != 1 {
		return Device{}, ErrCredential
	}
	inv, err := s.reg.Device(ctx, d.Org, d.ID)
	if err != nil {
		return Device{}, err
	}
	if inv.State.Terminal() {
		return Device{}, ErrCredential
	}
	return d, nil
}

// AgentPolicy compiles the policy of an agent-channel device that reports
// apiLevel.
// Devices on the Android Management API channel get their policy from
// Google: for them it is ErrNotPermitted.
func (s *Service) AgentPolicy(ctx context.Context, d Device, apiLevel int) (AgentPolicy, error) {
	if d.Channel() != ChannelAgent {
		return AgentPolicy{}, fmt.Errorf("%w: device %s gets its policy through the Android Management API", ErrNotPermitted, d.ID)
	}
	apps, err := s.appsFor(ctx, d.Org, d.UserID, d.ID)
	if err != nil {
		return AgentPolicy{}, err
	}
	return CompileAgent(d.Mode, d.Requirements, apiLevel, apps)
}

// SyncPolicy recompiles a managed device's provider policy (after its apps
// or the policy changed) and patches it.
func (s *Service) SyncPolicy(ctx context.Context, org storage.OrgID, id string) (Compiled, error) {
	d, err := s.store.AndroidDevice(ctx, org, id)
	if err != nil {
		return Compiled{}, err
	}
	if d.Channel() != ChannelAMAPI || s.provider == nil {
		return Compiled{}, ErrNotPermitted
	}
	apps, err := s.appsFor(ctx, org, d.UserID, d.ID)
	if err != nil {
		return Compiled{}, err
	}
	c, err := Compile(d.Requirements, CompileOptions{WorkProfile: d.Type == inventory.EnrollAndroidWorkProfile, Apps: apps})
	if err != nil {
		return Compiled{}, err
	}
	id = d.ProviderPolicy[strings.LastIndex(d.ProviderPolicy, "/")+1:]
	if _, err := s.provider.PatchPolicy(ctx, s.enterprise, id, c.Policy); err != nil {
		return Compiled{}, fmt.Errorf("android: patch policy: %w", err)
	}
	return c, nil
}

// Report stores an agent's status report through the inventory's privacy
// filter. Apps count as the organization's only on work-profile and fully
// managed devices (the inventory decides by enrollment type).
func (s *Service) Report(ctx context.Context, d Device, report []byte) (inventory.IngestResult, error) {
	return s.inv.IngestAndroid(ctx, d.Org, d.ID, report)
}

// SyncStatus reads a managed device's status from the provider and stores
// it through the privacy filter.
func (s *Service) SyncStatus(ctx context.Context, org storage.OrgID, id string) (inventory.IngestResult, error) {
	d, err := s.store.AndroidDevice(ctx, org, id)
	if err != nil {
		return inventory.IngestResult{}, err
	}
	if d.Channel() != ChannelAMAPI || s.provider == nil {
		return inventory.IngestResult{}, ErrNotPermitted
	}
	raw, err := s.provider.Device(ctx, d.ProviderName)
	if err != nil {
		return inventory.IngestResult{}, fmt.Errorf("android: read provider device: %w", err)
	}
	return s.inv.IngestAndroid(ctx, org, id, raw)
}

// SyncNotified stores the status of the managed device providerName
// through the privacy filter; the embedder calls it on Google's
// STATUS_REPORT notification. The org comes from the enrollment token data
// (as for EnrollNotified); a device this service did not enroll, or one no
// longer managed, is storage.ErrNotFound.
func (s *Service) SyncNotified(ctx context.Context, providerName string) (inventory.IngestResult, error) {
	if s.provider == nil {
		return inventory.IngestResult{}, ErrNoProvider
	}
	raw, err := s.provider.Device(ctx, providerName)
	if err != nil {
		return inventory.IngestResult{}, fmt.Errorf("android: read provider device: %w", err)
	}
	if len(raw) > inventory.DefaultMaxReportSize {
		return inventory.IngestResult{}, fmt.Errorf("%w: provider device resource of %d bytes", inventory.ErrReport, len(raw))
	}
	var head struct {
		EnrollmentTokenData string `json:"enrollmentTokenData"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return inventory.IngestResult{}, fmt.Errorf("%w: provider device: %w", inventory.ErrReport, err)
	}
	org, _ := parseTokenData(head.EnrollmentTokenData)
	notFound := fmt.Errorf("android: provider device %q: %w", providerName, storage.ErrNotFound)
	if org == "" || org.Validate() != nil {
		return inventory.IngestResult{}, notFound
	}
	inv, err := s.reg.DeviceByIdentifier(ctx, org, providerName[strings.LastIndex(providerName, "/")+1:])
	if errors.Is(err, storage.ErrNotFound) {
		return inventory.IngestResult{}, notFound
	}
	if err != nil {
		return inventory.IngestResult{}, err
	}
	d, err := s.store.AndroidDevice(ctx, org, inv.ID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && d.ProviderName != providerName) {
		return inventory.IngestResult{}, notFound // the identifier is another channel's device
	}
	if err != nil {
		return inventory.IngestResult{}, err
	}
	return s.inv.IngestAndroid(ctx, org, d.ID, raw)
}

func (s *Service) appsFor(ctx context.Context, org storage.OrgID, user, device string) ([]App, error) {
	if s.apps == nil {
		return nil, nil
	}
	apps, err := s.apps.AndroidApps(ctx, org, user, device)
	if err != nil {
		return nil, fmt.Errorf("android: apps: %w", err)
	}
	return apps, nil
}

func (s *Service) entry(org storage.OrgID, actor, action, target string, details map[string]string) storage.AuditEntry {
	return storage.AuditEntry{Org: org, Time: s.now(), Actor: actor, Action: action, Target: target, Details: details}
}

// encodePart and decodePart carry IDs that may contain '.' inside the
// dot-separated token and credential formats.
func encodePart(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func decodePart(s string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || bytes.ContainsAny(b, "\x00") {
		return "", ErrCredential
	}
	return string(b), nil
}

// IssueStatusCredential gives our agent app inside a work profile (or on a
// fully managed device) a credential for the agent protocol's status
// reports. The embedder calls it once it has signed userID in through the
// agent app; the device must be that user's and enrolled. A new credential
// replaces the previous one. Agent-channel devices got theirs at
// enrollment: for them it is ErrNotPermitted.
func (s *Service) IssueStatusCredential(ctx context.Context, org storage.OrgID, userID, id string) (string, error) {
	d, err := s.store.AndroidDevice(ctx, org, id)
	if err != nil {
		return "", err
	}
	if d.UserID != userID {
		return "", fmt.Errorf("android device %q: %w", id, storage.ErrNotFound) // another user's device is not theirs to see
	}
	if d.Channel() != ChannelAMAPI {
		return "", ErrNotPermitted
	}
	inv, err := s.reg.Device(ctx, org, id)
	if err != nil {
		return "", err
	}
	if inv.State != inventory.StateEnrolled {
		return "", fmt.Errorf("%w: device %s is %s", ErrNotPermitted, id, inv.State)
	}
	secret := rand.Text()
	if _, err := s.store.SetAndroidCredential(ctx, org, id, HashSecret(secret),
		s.entry(org, "user:"+userID, ActionDeviceCredential, "device:"+id, nil)); err != nil {
		return "", err
	}
	return encodePart(string(org)) + "." + encodePart(id) + "." + secret, nil
}
