package checkin

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	"github.com/openomm/omm/events"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

// Errors the service returns; the HTTP adapter maps them to status codes.
var (
	// ErrNoIdentity: the request carries neither a client certificate nor
	// an Mdm-Signature (400).
	ErrNoIdentity = errors.New("checkin: request carries no device identity")
	// ErrForbidden: the identity is not one our CA issued for this org, it
	// was issued for another purpose, device or platform, it is bound to
	// another device, or the device it names is another user's (403).
	ErrForbidden = errors.New("checkin: device identity refused")
	// ErrEnded: the identity belongs to an enrollment that has ended
	// (checked out, deprovisioned, wiped, or superseded by the device's
	// re-enrollment). It is answered 401, the one answer that makes a
	// device still holding the identity remove its MDM profile, and with
	// it the organization's apps and profiles.
	ErrEnded = errors.New("checkin: the enrollment has ended")
	// ErrUnsupported: a message type this server does not support (404).
	ErrUnsupported = errors.New("checkin: not supported")
	// ErrDeclined: a user channel, which this server declines (410, the
	// answer that keeps the device channel enrolled).
	ErrDeclined = errors.New("checkin: user channels are declined")
	// ErrNotFound: a DeclarativeManagement request for something the
	// device does not have (404).
	ErrNotFound = errors.New("checkin: not found")
)

// Declarative serves declarative device management on the check-in
// endpoint; enroll/declarative's Service implements it. The check-in
// service verifies the device's identity and its binding first, as for
// every message; the handler gets the bound device.
type Declarative interface {
	// DeclarativeManagement answers one DeclarativeManagement message of
	// device d: a JSON body, or none. Errors wrapping storage.ErrNotFound
	// are answered 404, storage.ErrInvalid 400.
	DeclarativeManagement(ctx context.Context, d inventory.Device, endpoint string, data []byte) ([]byte, error)
	// Inventoried is told that the device reported inventory (after the
	// privacy filter stored it): its OS version may now allow the
	// declarative channel, or ask for other declarations. current reports
	// that the device is on the channel with declarations decided on what
	// it reported (passed on as Result.Declarative).
	Inventoried(ctx context.Context, d inventory.Device) (current bool, err error)
}

// Devices is what the service needs of the device registry. Inventory
// adapts an inventory.Service and its store. (A new device's record is
// written by the store's Authenticate, in the transaction that binds its
// identity, with inventory.RegisterEntry.)
type Devices interface {
	SetState(ctx context.Context, org storage.OrgID, id string, to inventory.State, actor, reason string) (inventory.Device, error)
	Seen(ctx context.Context, org storage.OrgID, id string) error
	IngestApple(ctx context.Context, org storage.OrgID, id string, result []byte) (inventory.IngestResult, error)
	Device(ctx context.Context, org storage.OrgID, id string) (inventory.Device, error)
	DeviceByIdentifier(ctx context.Context, org storage.OrgID, identifier string) (inventory.Device, error)
	ListDevices(ctx context.Context, org storage.OrgID, q inventory.DeviceQuery) (inventory.DevicePage, error)
	DeviceValues(ctx context.Context, org storage.OrgID, id string) ([]inventory.Value, error)
	DeviceApps(ctx context.Context, org storage.OrgID, id string) ([]inventory.App, error)
}

// Inventory adapts the inventory package to Devices.
type Inventory struct {
	*inventory.Service
	inventory.Store
}

// CAs gives the certificate of an org's device CA (enroll/scep provides it).
type CAs interface {
	CACertificate(ctx context.Context, org storage.OrgID) (*x509.Certificate, error)
}

// Store is every store contract the service uses.
type Store interface {
	enroll.IdentityStore
	enroll.EnrollmentStore
	enroll.CommandQueue
	enroll.ActionStore
	enroll.AuthenticateStore
}

// ProfileSource gives the signed configuration profile to install when a
// device enrolls (the policy's passcode and data-separation settings), or
// nil when its policy needs none. enroll/ota implements it.
type ProfileSource interface {
	SignedPolicyProfile(ctx context.Context, org storage.OrgID, session string) ([]byte, error)
}

// Waker wakes devices so that they connect and fetch their commands.
// [Pusher] implements it with APNs.
type Waker interface {
	Wake(ctx context.Context, org storage.OrgID, devices []string) error
}

// QueuedWaker is a [Waker] that can wake devices for commands just queued
// for them without recording them for a push again: queueing a command
// records its devices in the push outbox in the same transaction.
// [Outbox] implements it; see [WakeQueued].
type QueuedWaker interface {
	Waker
	WakeQueued(ctx context.Context, org storage.OrgID, devices []string) error
}

// WakeQueued wakes devices after commands were queued for them: through
// w's WakeQueued when it has one (a device another replica has pushed
// meanwhile is not pushed again), its Wake otherwise.
func WakeQueued(ctx context.Context, w Waker, org storage.OrgID, devices []string) error {
	if q, ok := w.(QueuedWaker); ok {
		return q.WakeQueued(ctx, org, devices)
	}
	return w.Wake(ctx, org, devices)
}

// EventKind names what happened to a device.
type EventKind string

// Events the service reports.
const (
	Enrolled       EventKind = "enrolled"       // first TokenUpdate
	CheckedOut     EventKind = "checked_out"    // the device removed its MDM profile
	Deprovisioning EventKind = "deprovisioning" // selective wipe requested
	Wiped          EventKind = "wiped"          // the device acknowledged EraseDevice
)

// Event is delivered to the embedder's hook after the change is stored.
type Event struct {
	Kind   EventKind
	Org    storage.OrgID
	Device string
	UserID string
	Time   time.Time
}

// Service runs the MDM connection of Apple devices.
type Service struct {
	store          Store
	devices        Devices
	cas            CAs
	waker          Waker
	profiles       ProfileSource
	ddm            Declarative
	handlers       map[string][]ResultHandler
	inventoryTypes map[string]bool // the inventory queries, which the built-in ingest reads
	events         func(context.Context, Event)
	completing     func(context.Context, inventory.Device, enroll.Identity, *enroll.DeviceAction)
	clock          func() time.Time
	log            *slog.Logger
	ttl            time.Duration
	maxDeliv       int
	contact        time.Duration
	verified       *verifiedCerts
	proxy          *trustedProxy // nil: no forwarded client certificates
	users          auth.Users
	eventLog       events.Appender
	// bindings reads a check-in's identity, device and queue in one
	// query; nil unless the store does and the registry is the same store.
	bindings enroll.BindingStore
}

// Option configures [New].
type Option func(*Service)

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithClock sets the clock.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.clock = now } }

// WithWaker sets how devices are woken after commands are queued (default:
// not at all; they get their commands at their next check-in).
func WithWaker(w Waker) Option { return func(s *Service) { s.waker = w } }

// WithProfiles sets where the policy profile installed at enrollment comes
// from (default: none is installed).
func WithProfiles(p ProfileSource) Option { return func(s *Service) { s.profiles = p } }

// WithDeclarative serves DeclarativeManagement messages with d (default:
// they are answered 404, and devices keep the command path).
func WithDeclarative(d Declarative) Option { return func(s *Service) { s.ddm = d } }

// WithEvents sets an in-process hook called after a device's change is
// stored (at most once: a crash in between loses the call). The SDK's
// composition uses it to install apps at enrollment, which its periodic
// reconcile repeats; anything that must not be missed reads the durable
// event stream (package events) instead.
func WithEvents(fn func(context.Context, Event)) Option { return func(s *Service) { s.events = fn } }

// WithCompletion has fn add to the transaction that completes an Apple
// device's enrollment (its first TokenUpdate, moving it from pending to
// enrolled): what fn sets on a — the device's policy record
// (enroll.DeviceAction.Policy) — commits with the completion or not at
// all. fn runs just before that transaction, with the device as stored
// (still pending) and the identity it enrolled with; it must not write,
// and it adds nothing when it cannot tell what to add (the enrollment
// completes all the same). The SDK's composition records the policy the
// device enrolled under this way, rather than in a transaction of its own
// after the Enrolled event.
func WithCompletion(fn func(ctx context.Context, d inventory.Device, id enroll.Identity, a *enroll.DeviceAction)) Option {
	return func(s *Service) { s.completing = fn }
}

// WithResultHandler has h observe the results of commands of requestType,
// after the built-in handling (inventory ingest, the device's state) and
// beside any other handler of that type: it never replaces it. For an
// inventory query h gets only what the privacy filter stored (see
// [Result]). Repeated, each handler is called in the order given.
func WithResultHandler(requestType string, h ResultHandler) Option {
	return func(s *Service) { s.handlers[requestType] = append(s.handlers[requestType], h) }
}

// WithEventLog records refused enrollments (an identity revoked, or its
// user no longer active) in the event stream as events.EnrollmentFailed.
func WithEventLog(a events.Appender) Option { return func(s *Service) { s.eventLog = a } }

// WithUsers makes Authenticate and the TokenUpdate that would complete an
// enrollment refuse (403) a user the directory does not know as active
// (auth.CheckActive), whatever identity the device presents.
func WithUsers(u auth.Users) Option { return func(s *Service) { s.users = u } }

// WithCommandTTL expires commands a device has not taken after d (default
// 30 days), so that a device back after months is not replayed stale work.
func WithCommandTTL(d time.Duration) Option { return func(s *Service) { s.ttl = d } }

// WithMaxDeliveries sets how often a command is delivered without a usable
// answer before it is abandoned (default enroll.DefaultMaxDeliveries).
func WithMaxDeliveries(n int) Option { return func(s *Service) { s.maxDeliv = n } }

// WithContactResolution sets how stale a device's last contact may be
// before a check-in records it again (default one minute; 0 records every
// check-in). A device polling every few seconds then costs one write a
// minute instead of one per check-in; results and queue changes are always
// written at once.
func WithContactResolution(d time.Duration) Option { return func(s *Service) { s.contact = d } }

// New returns a service over store, the device registry and the org CAs.
func New(store Store, devices Devices, cas CAs, opts ...Option) *Service {
	s := &Service{
		store: store, devices: devices, cas: cas,
		handlers:       map[string][]ResultHandler{},
		inventoryTypes: map[string]bool{},
		events:         func(context.Context, Event) {},
		clock:          time.Now,
		log:            slog.Default(),
		ttl:            30 * 24 * time.Hour,
		maxDeliv:       enroll.DefaultMaxDeliveries,
		contact:        time.Minute,
		verified:       newVerifiedCerts(),
	}
	for _, q := range inventory.AppleRefresh("") { // every Apple platform's commands
		s.inventoryTypes[string(q.RequestType)] = true
	}
	if b, ok := store.(enroll.BindingStore); ok {
		if inv, ok := devices.(Inventory); ok && sameStore(inv.Store, store) {
			s.bindings = b
		}
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// sameStore reports whether a and b are the same store value: then a
// device read through one is the device read through the other.
func sameStore(a, b any) bool {
	ta := reflect.TypeOf(a)
	return ta != nil && ta == reflect.TypeOf(b) && ta.Comparable() && a == b
}

func (s *Service) emit(ctx context.Context, kind EventKind, d inventory.Device) {
	s.events(ctx, Event{Kind: kind, Org: d.Org, Device: d.ID, UserID: d.UserID, Time: s.clock()})
}

// wake wakes devices after commands were queued for them (see
// WakeQueued).
func (s *Service) wake(ctx context.Context, org storage.OrgID, devices ...string) {
	if s.waker == nil || len(devices) == 0 {
		return
	}
	if err := WakeQueued(ctx, s.waker, org, devices); err != nil {
		s.log.WarnContext(ctx, "checkin: wake devices", "org", org, "devices", len(devices), "err", err)
	}
}

// seen records the device's contact unless the stored one is recent
// enough; a failure is logged, as a lost contact time loses nothing else.
func (s *Service) seen(ctx context.Context, d inventory.Device) {
	if now := s.clock(); s.contact > 0 && !d.LastSeen.IsZero() && !now.Before(d.LastSeen) && now.Sub(d.LastSeen) < s.contact {
		return
	}
	if err := s.devices.Seen(ctx, d.Org, d.ID); err != nil {
		s.log.WarnContext(ctx, "checkin: record contact", "device", d.ID, "err", err)
	}
}

func forbidden(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrForbidden}, args...)...)
}
