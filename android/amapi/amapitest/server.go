package amapitest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openomm/omm/android/amapi"
)

// Limits, as Google documents them where it does.
const (
	// DefaultTokenDuration is a token's lifetime when the request gives none.
	DefaultTokenDuration = time.Hour
	// MinTokenDuration is the shortest lifetime a token may be given.
	MinTokenDuration = time.Minute
	// MaxAdditionalData bounds a token's additional data.
	MaxAdditionalData = 1024
	// MaxDeviceApps bounds the apps a device reports.
	MaxDeviceApps = 500
)

var (
	enterpriseRE = regexp.MustCompile(`^enterprises/[A-Za-z0-9_-]{1,64}$`)
	policyIDRE   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// Management modes and ownerships, with Google's names.
const (
	DeviceOwner     = "DEVICE_OWNER"
	ProfileOwner    = "PROFILE_OWNER"
	CompanyOwned    = "COMPANY_OWNED"
	PersonallyOwned = "PERSONALLY_OWNED"
	stateActive     = "ACTIVE"
	maxTextLen      = 256
	maxPackageLen   = 256
)

// Effect is what a wipe did to a device, as the device would see it.
type Effect string

const (
	// EffectFactoryReset: the whole device was erased.
	EffectFactoryReset Effect = "FACTORY_RESET"
	// EffectWorkProfileRemoved: the work profile and its apps are gone; the
	// personal profile is untouched.
	EffectWorkProfileRemoved Effect = "WORK_PROFILE_REMOVED"
	// EffectRelinquished: a company-owned device's work profile and
	// policies are gone and the device is the user's.
	EffectRelinquished Effect = "RELINQUISHED"
)

// NotificationType names a Pub/Sub notification Google sends.
type NotificationType string

const (
	NotifyEnrollment   NotificationType = "ENROLLMENT"
	NotifyStatusReport NotificationType = "STATUS_REPORT"
)

// Notification tells the embedder that a device enrolled or reported.
type Notification struct {
	Type NotificationType
	// Device is the device's resource name.
	Device string
}

// Server is the fake. It is safe for concurrent use.
type Server struct {
	enterprise string
	now        func() time.Time
	notify     func(context.Context, Notification)

	mu       sync.Mutex
	policies map[string]amapi.Policy // by resource name
	tokens   map[string]*token       // by value
	devices  map[string]*device      // by resource name
	secrets  map[string]string       // device secret hash → device name
}

type token struct {
	name    string
	req     amapi.EnrollmentTokenRequest
	expires time.Time
	used    bool
}

type device struct {
	name, mode, ownership string
	policy                string
	tokenName, tokenData  string
	hw                    Hardware
	androidVersion        string
	apiLevel              int
	storageBytes          int64
	personalApps          []App // apps the user has, outside any work profile
	enrolled, reported    time.Time
	commands              []amapi.Command
	effect                Effect // set once deleted
}

// Option configures New.
type Option func(*Server)

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithNotifier sets the function that receives notifications. It is
// called after the change, outside the fake's lock, with the caller's
// context; it may call back into the fake.
func WithNotifier(fn func(context.Context, Notification)) Option {
	return func(s *Server) { s.notify = fn }
}

// New returns a fake serving one enterprise ("enterprises/…").
func New(enterprise string, opts ...Option) (*Server, error) {
	if !enterpriseRE.MatchString(enterprise) {
		return nil, fmt.Errorf("%w: enterprise name %q, want enterprises/{id}", amapi.ErrInvalid, enterprise)
	}
	s := &Server{enterprise: enterprise, now: time.Now, notify: func(context.Context, Notification) {},
		policies: map[string]amapi.Policy{}, tokens: map[string]*token{}, devices: map[string]*device{}, secrets: map[string]string{}}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Enterprise returns the enterprise's resource name.
func (s *Server) Enterprise() string { return s.enterprise }

func (s *Server) checkEnterprise(e string) error {
	if e != s.enterprise {
		return fmt.Errorf("enterprise %s: %w", e, amapi.ErrNotFound)
	}
	return nil
}

// PatchPolicy implements amapi.Provider: the policy must pass Google's
// schema. Devices under the policy get the new version at once.
func (s *Server) PatchPolicy(_ context.Context, enterprise, id string, p amapi.Policy) (string, error) {
	if err := s.checkEnterprise(enterprise); err != nil {
		return "", err
	}
	if !policyIDRE.MatchString(id) {
		return "", fmt.Errorf("%w: policy id %q", amapi.ErrInvalid, id)
	}
	if err := amapi.Validate("Policy", p); err != nil {
		return "", err
	}
	name := enterprise + "/policies/" + id
	s.mu.Lock()
	defer s.mu.Unlock()
	s.policies[name] = clonePolicy(p)
	return name, nil
}

// CreateEnrollmentToken implements amapi.Provider.
func (s *Server) CreateEnrollmentToken(_ context.Context, enterprise string, r amapi.EnrollmentTokenRequest) (amapi.EnrollmentToken, error) {
	if err := s.checkEnterprise(enterprise); err != nil {
		return amapi.EnrollmentToken{}, err
	}
	d := r.Duration
	if d == 0 {
		d = DefaultTokenDuration
	}
	if d < MinTokenDuration {
		return amapi.EnrollmentToken{}, fmt.Errorf("%w: token duration %s is under %s", amapi.ErrInvalid, d, MinTokenDuration)
	}
	if len(r.AdditionalData) > MaxAdditionalData {
		return amapi.EnrollmentToken{}, fmt.Errorf("%w: additional data of %d bytes", amapi.ErrInvalid, len(r.AdditionalData))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.policies[r.PolicyName]; !ok || !strings.HasPrefix(r.PolicyName, enterprise+"/policies/") {
		return amapi.EnrollmentToken{}, fmt.Errorf("policy %s: %w", r.PolicyName, amapi.ErrNotFound)
	}
	t := &token{name: enterprise + "/enrollmentTokens/" + randomID(), req: r, expires: s.now().Add(d)}
	value := rand.Text()[:20]
	s.tokens[value] = t
	return amapi.EnrollmentToken{Name: t.name, Value: value}, nil
}

// Device implements amapi.Provider: the Device resource as Google would
// serve it (see resource).
func (s *Server) Device(_ context.Context, name string) (json.RawMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.liveLocked(name)
	if err != nil {
		return nil, err
	}
	return json.Marshal(s.resourceLocked(d))
}

// DeleteDevice implements amapi.Provider: a fully managed device is
// factory reset, a work profile is removed.
func (s *Server) DeleteDevice(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.liveLocked(name)
	if err != nil {
		return err
	}
	d.effect = EffectWorkProfileRemoved
	if d.mode == DeviceOwner {
		d.effect = EffectFactoryReset
	}
	return nil
}

// IssueCommand implements amapi.Provider. The command must pass Google's
// schema and suit the device's management mode and ownership.
func (s *Server) IssueCommand(_ context.Context, name string, c amapi.Command) (amapi.Operation, error) {
	if err := amapi.Validate("Command", c); err != nil {
		return amapi.Operation{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.liveLocked(name)
	if err != nil {
		return amapi.Operation{}, err
	}
	switch c.Type {
	case amapi.CommandLock, amapi.CommandResetPassword:
	case "REBOOT":
		if d.mode != DeviceOwner {
			return amapi.Operation{}, fmt.Errorf("%w: REBOOT needs a fully managed device", amapi.ErrInvalid)
		}
	case amapi.CommandWipe:
		d.effect = EffectWorkProfileRemoved
		if d.ownership == CompanyOwned {
			d.effect = EffectFactoryReset
		}
	case "RELINQUISH_OWNERSHIP":
		if d.ownership != CompanyOwned || d.mode != ProfileOwner {
			return amapi.Operation{}, fmt.Errorf("%w: RELINQUISH_OWNERSHIP needs a company-owned device with a work profile", amapi.ErrInvalid)
		}
		d.effect = EffectRelinquished
	default:
		return amapi.Operation{}, fmt.Errorf("%w: command %s is not simulated by this fake", amapi.ErrInvalid, c.Type)
	}
	d.commands = append(d.commands, c)
	return amapi.Operation{Name: fmt.Sprintf("%s/operations/%d", name, len(d.commands)), Done: true}, nil
}

// liveLocked returns a device that exists and was not wiped or deleted.
func (s *Server) liveLocked(name string) (*device, error) {
	d, ok := s.devices[name]
	if !ok || d.effect != "" {
		return nil, fmt.Errorf("device %s: %w", name, amapi.ErrNotFound)
	}
	return d, nil
}

// Provisioning is how a device reached the enrollment.
type Provisioning string

const (
	// ProvisionQR: the QR code scanned at setup of a factory-new device; it
	// becomes fully managed and company-owned.
	ProvisionQR Provisioning = "qr"
	// ProvisionLink: the enrollment link opened on a device in use; it gets
	// a work profile and stays personally owned.
	ProvisionLink Provisioning = "link"
)

// Hardware is what the device says of itself.
type Hardware struct {
	Brand        string `json:"brand"`
	Manufacturer string `json:"manufacturer"`
	Model        string `json:"model"`
	SerialNumber string `json:"serial_number"`
}

// App is an app on the device.
type App struct {
	PackageName string `json:"package_name"`
	DisplayName string `json:"display_name,omitempty"`
	VersionName string `json:"version_name,omitempty"`
}

// Enrollment is what Android Device Policy sends when a device enrolls.
type Enrollment struct {
	Token          string       `json:"token"`
	Provisioning   Provisioning `json:"provisioning"`
	Hardware       Hardware     `json:"hardware"`
	AndroidVersion string       `json:"android_version"`
	APILevel       int          `json:"api_level"`
	StorageBytes   int64        `json:"storage_bytes,omitempty"`
	// Apps are the personal apps already on the device; a fully managed
	// device reports them, a work profile never does.
	Apps []App `json:"apps,omitempty"`
}

func (e Enrollment) validate() error {
	if e.Provisioning != ProvisionQR && e.Provisioning != ProvisionLink {
		return fmt.Errorf("%w: provisioning must be qr or link", amapi.ErrInvalid)
	}
	if e.APILevel < 21 || e.APILevel > 100 {
		return fmt.Errorf("%w: API level %d", amapi.ErrInvalid, e.APILevel)
	}
	for _, t := range []string{e.Hardware.Brand, e.Hardware.Manufacturer, e.Hardware.Model, e.Hardware.SerialNumber, e.AndroidVersion} {
		if len(t) > maxTextLen {
			return fmt.Errorf("%w: a device field is over %d bytes", amapi.ErrInvalid, maxTextLen)
		}
	}
	if e.StorageBytes < 0 {
		return fmt.Errorf("%w: negative storage", amapi.ErrInvalid)
	}
	return checkApps(e.Apps)
}

func checkApps(apps []App) error {
	if len(apps) > MaxDeviceApps {
		return fmt.Errorf("%w: %d apps, limit %d", amapi.ErrInvalid, len(apps), MaxDeviceApps)
	}
	for _, a := range apps {
		if a.PackageName == "" || len(a.PackageName) > maxPackageLen || len(a.DisplayName) > maxTextLen || len(a.VersionName) > maxTextLen {
			return fmt.Errorf("%w: app %.40q", amapi.ErrInvalid, a.PackageName)
		}
	}
	return nil
}

// Enrolled is the device's name and the secret it authenticates its later
// calls with (Google's device credentials stand in for it).
type Enrolled struct {
	Name   string `json:"name"`
	Secret string `json:"secret"`
}

// Enroll enrolls a device with an enrollment token value, as Android Device
// Policy does, and then notifies ENROLLMENT. An unknown token is
// amapi.ErrNotFound; an expired or used one-time token amapi.ErrInvalid.
func (s *Server) Enroll(ctx context.Context, e Enrollment) (Enrolled, error) {
	if err := e.validate(); err != nil {
		return Enrolled{}, err
	}
	secret := rand.Text()
	s.mu.Lock()
	t, ok := s.tokens[e.Token]
	if !ok {
		s.mu.Unlock()
		return Enrolled{}, fmt.Errorf("enrollment token: %w", amapi.ErrNotFound)
	}
	now := s.now()
	if !now.Before(t.expires) || (t.req.OneTimeOnly && t.used) {
		s.mu.Unlock()
		return Enrolled{}, fmt.Errorf("%w: enrollment token expired or used", amapi.ErrInvalid)
	}
	t.used = true
	d := &device{name: s.enterprise + "/devices/" + randomID(), mode: ProfileOwner, ownership: PersonallyOwned,
		policy: t.req.PolicyName, tokenName: t.name, tokenData: t.req.AdditionalData, hw: e.Hardware,
		androidVersion: e.AndroidVersion, apiLevel: e.APILevel, storageBytes: e.StorageBytes,
		personalApps: slices.Clone(e.Apps), enrolled: now, reported: now}
	if e.Provisioning == ProvisionQR {
		d.mode, d.ownership = DeviceOwner, CompanyOwned
	}
	s.devices[d.name] = d
	s.secrets[hashSecret(secret)] = d.name
	s.mu.Unlock()
	s.notify(ctx, Notification{Type: NotifyEnrollment, Device: d.name})
	return Enrolled{Name: d.name, Secret: secret}, nil
}

// View is the device's own view of itself: what Android Device Policy
// has applied and what happened to it.
type View struct {
	Name           string `json:"name"`
	ManagementMode string `json:"management_mode"`
	Ownership      string `json:"ownership"`
	// Policy is the policy in force; empty once wiped.
	Policy *amapi.Policy `json:"policy,omitempty"`
	// Commands are the commands received, oldest first.
	Commands []amapi.Command `json:"commands"`
	// Wiped says what a wipe did; empty while managed.
	Wiped Effect `json:"wiped,omitempty"`
	// PersonalApps are the personal apps, which a work-profile removal
	// leaves in place; a factory reset erases them.
	PersonalApps []App `json:"personal_apps"`
}

// DeviceView returns the view of the device the secret belongs to; a
// wrong secret is amapi.ErrNotFound. It works after a wipe too.
func (s *Server) DeviceView(secret string) (View, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.bySecretLocked(secret)
	if err != nil {
		return View{}, err
	}
	v := View{Name: d.name, ManagementMode: d.mode, Ownership: d.ownership, Commands: slices.Clone(d.commands),
		Wiped: d.effect, PersonalApps: slices.Clone(d.personalApps)}
	if v.Commands == nil {
		v.Commands = []amapi.Command{}
	}
	if d.effect == EffectFactoryReset {
		v.PersonalApps = nil
	}
	if v.PersonalApps == nil {
		v.PersonalApps = []App{}
	}
	if p, ok := s.policies[d.policy]; ok && d.effect == "" {
		p = clonePolicy(p)
		v.Policy = &p
	}
	return v, nil
}

// Report records a status report of the device the secret belongs to (its
// personal apps, on a fully managed device), then notifies STATUS_REPORT.
func (s *Server) Report(ctx context.Context, secret string, apps []App) error {
	if err := checkApps(apps); err != nil {
		return err
	}
	s.mu.Lock()
	d, err := s.bySecretLocked(secret)
	if err == nil && d.effect != "" {
		err = fmt.Errorf("device %s: %w", d.name, amapi.ErrNotFound)
	}
	if err != nil {
		s.mu.Unlock()
		return err
	}
	d.personalApps = slices.Clone(apps)
	d.reported = s.now()
	name := d.name
	s.mu.Unlock()
	s.notify(ctx, Notification{Type: NotifyStatusReport, Device: name})
	return nil
}

func (s *Server) bySecretLocked(secret string) (*device, error) {
	// Keyed by the secret's hash: a lookup's timing tells nothing of the
	// secrets held.
	name, ok := s.secrets[hashSecret(secret)]
	if !ok {
		return nil, fmt.Errorf("device: %w", amapi.ErrNotFound)
	}
	return s.devices[name], nil
}

// Policy returns a patched policy by resource name.
func (s *Server) Policy(name string) (amapi.Policy, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.policies[name]
	return clonePolicy(p), ok
}

// resourceLocked builds the Device resource. Google reports sections only
// where the policy's statusReportingSettings switch them on, and the apps of
// a work profile only (a fully managed device reports all its apps).
func (s *Server) resourceLocked(d *device) map[string]any {
	p := s.policies[d.policy]
	r := map[string]any{
		"name": d.name, "managementMode": d.mode, "state": stateActive, "appliedState": stateActive,
		"ownership": d.ownership, "policyName": d.policy, "appliedPolicyName": d.policy,
		"enrollmentTokenName": d.tokenName, "enrollmentTokenData": d.tokenData,
		"enrollmentTime": d.enrolled.UTC().Format(time.RFC3339Nano), "lastStatusReportTime": d.reported.UTC().Format(time.RFC3339Nano),
		"apiLevel": d.apiLevel,
		"hardwareInfo": map[string]any{"brand": d.hw.Brand, "manufacturer": d.hw.Manufacturer, "model": d.hw.Model,
			"serialNumber": d.hw.SerialNumber},
	}
	rs := p.StatusReportingSettings
	if rs == nil {
		return r
	}
	if rs.SoftwareInfoEnabled {
		r["softwareInfo"] = map[string]any{"androidVersion": d.androidVersion}
	}
	if rs.MemoryInfoEnabled && d.storageBytes > 0 {
		r["memoryInfo"] = map[string]any{"totalInternalStorage": strconv.FormatInt(d.storageBytes, 10)}
	}
	if rs.DeviceSettingsEnabled {
		r["deviceSettings"] = map[string]any{"isDeviceSecure": true, "encryptionStatus": "ACTIVE_PER_USER"}
	}
	if rs.ApplicationReportsEnabled {
		var apps []map[string]any
		for _, a := range p.Applications {
			if a.InstallType == amapi.ForceInstalled {
				apps = append(apps, map[string]any{"packageName": a.PackageName, "state": "INSTALLED",
					"applicationSource": "INSTALLED_FROM_PLAY_STORE"})
			}
		}
		if d.mode == DeviceOwner {
			for _, a := range d.personalApps {
				apps = append(apps, map[string]any{"packageName": a.PackageName, "displayName": a.DisplayName,
					"versionName": a.VersionName, "state": "INSTALLED"})
			}
		}
		if apps == nil {
			apps = []map[string]any{}
		}
		r["applicationReports"] = apps
	}
	return r
}

func clonePolicy(p amapi.Policy) amapi.Policy {
	data, err := json.Marshal(p)
	if err != nil {
		return p
	}
	var c amapi.Policy
	if json.Unmarshal(data, &c) != nil {
		return p
	}
	return c
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail
	return hex.EncodeToString(b[:])
}

func hashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
