package declarative

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/openomm/omm/events"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// Limits of a stored State.
const (
	MaxDeviceID  = enroll.MaxDeviceID
	MaxApps      = 500
	maxAppField  = 2048
	maxSecretLen = 64
	// MaxInputs and MaxStatus bound the JSON documents a store keeps.
	MaxInputs = 1 << 20
	MaxStatus = 1 << 20
)

// State is the declarative management of one enrolled device: whether it
// is turned on for the device's current enrollment, what its declarations
// are built from, the declarations token it was last told, and the status
// it last reported of its declarations.
type State struct {
	Org    storage.OrgID
	Device string
	// Enrollment is the Enrolled time of the enrollment declarative
	// management was turned on for (enroll.Enrollment.Enrolled). A device
	// that enrolls again has a new one, and is turned on again: an erased
	// or re-enrolled device knows nothing of its earlier declarations,
	// however unchanged they are.
	Enrollment time.Time
	// Enabled is when the DeclarativeManagement command was queued.
	Enabled time.Time
	Inputs  Inputs
	// ProfileSecret authorises the download of the device's settings
	// profile: it is part of the profile's URL, which only the device
	// fetches with its declarations.
	ProfileSecret string
	// Token is the declarations token the device was last told of, and
	// TokenChanged when it changed.
	Token        string
	TokenChanged time.Time
	// Version counts writes of everything above: 1 after the first; a
	// write must carry the version it read (0 for none).
	Version int64
	// Updated is the time of the audit entry of the latest write.
	Updated time.Time
	// Status is the device's latest report on its declarations, written
	// on its own (StatusVersion counts those writes).
	Status        Status
	StatusVersion int64
}

// Inputs is what a device's declarations are built from, besides the
// device record: the policy decision last applied (a device out of policy
// keeps the settings it has), the catalog apps and the OS version.
type Inputs struct {
	Policy       policy.ID           `json:"policy"`
	OutOfPolicy  string              `json:"out_of_policy,omitempty"`
	Requirements policy.Requirements `json:"requirements"`
	Apps         []App               `json:"apps,omitempty"`
	OSVersion    string              `json:"os_version,omitempty"`
}

// Status is what the device last reported of its declarations.
type Status struct {
	Declarations []DeclarationStatus `json:"declarations"`
	// Reported is when the latest report arrived; zero before any.
	Reported time.Time `json:"reported"`
}

// On reports whether declarative management is on for the enrollment
// that started at enrolled.
func (s State) On(enrolled time.Time) bool {
	return !s.Enabled.IsZero() && !enrolled.IsZero() && s.Enrollment.Equal(storage.Normalize(enrolled))
}

// Validate checks the fields a caller supplies.
func (s State) Validate() error {
	if err := s.Org.Validate(); err != nil {
		return err
	}
	switch {
	case s.Device == "" || len(s.Device) > MaxDeviceID || !utf8.ValidString(s.Device):
		return fmt.Errorf("%w: declarative state: device must be 1-%d bytes", storage.ErrInvalid, MaxDeviceID)
	case len(s.Token) > MaxIdentifier || !printable(s.Token):
		return fmt.Errorf("%w: declarative state: token must be at most %d printable bytes", storage.ErrInvalid, MaxIdentifier)
	case len(s.ProfileSecret) > maxSecretLen || !printable(s.ProfileSecret):
		return fmt.Errorf("%w: declarative state: profile secret must be at most %d printable bytes", storage.ErrInvalid, maxSecretLen)
	case s.Version < 0 || s.StatusVersion < 0:
		return fmt.Errorf("%w: declarative state: negative version", storage.ErrInvalid)
	case s.Enabled.IsZero() != s.Enrollment.IsZero():
		return fmt.Errorf("%w: declarative state: enabled without enrollment, or the reverse", storage.ErrInvalid)
	}
	if s.Inputs.Policy != "" {
		if err := s.Inputs.Policy.Validate(); err != nil {
			return err
		}
	}
	if len(s.Inputs.Apps) > MaxApps {
		return fmt.Errorf("%w: declarative state: %d apps, at most %d", storage.ErrInvalid, len(s.Inputs.Apps), MaxApps)
	}
	for _, a := range s.Inputs.Apps {
		if a.ID == "" || len(a.ID) > maxAppField || len(a.Identifier) > maxAppField || len(a.ManifestURL) > maxAppField {
			return fmt.Errorf("%w: declarative state: app %q", storage.ErrInvalid, a.ID)
		}
	}
	if _, err := s.MarshalInputs(); err != nil {
		return err
	}
	return s.Status.validate()
}

func (st Status) validate() error {
	if len(st.Declarations) > maxDeclarationStatuses {
		return fmt.Errorf("%w: declarative status of %d declarations, at most %d", storage.ErrInvalid, len(st.Declarations), maxDeclarationStatuses)
	}
	for _, d := range st.Declarations {
		if !validKind(d.Kind) || d.Identifier == "" || len(d.Identifier) > MaxIdentifier || len(d.ServerToken) > MaxIdentifier ||
			(d.Valid != Valid && d.Valid != Invalid && d.Valid != Unknown) || len(d.Reasons) > maxReasons {
			return fmt.Errorf("%w: declarative status of %q", storage.ErrInvalid, d.Identifier)
		}
	}
	return nil
}

func printable(s string) bool {
	for _, c := range []byte(s) {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// Normalize returns s as stores keep it: times normalized, nil lists
// empty.
func (s State) Normalize() State {
	for _, t := range []*time.Time{&s.Enrollment, &s.Enabled, &s.TokenChanged, &s.Updated, &s.Status.Reported} {
		if !t.IsZero() {
			*t = storage.Normalize(*t)
		}
	}
	s.Inputs.Apps = slices.Clone(s.Inputs.Apps)
	s.Status.Declarations = slices.Clone(s.Status.Declarations)
	if s.Status.Declarations == nil {
		s.Status.Declarations = []DeclarationStatus{}
	}
	return s
}

// MarshalInputs encodes the inputs as the JSON document SQL stores.
func (s State) MarshalInputs() ([]byte, error) {
	return encodeDoc("inputs", s.Inputs, MaxInputs)
}

// MarshalStatus encodes the status as the JSON document SQL stores.
func (s State) MarshalStatus() ([]byte, error) {
	st := s.Status
	if st.Declarations == nil {
		st.Declarations = []DeclarationStatus{}
	}
	return encodeDoc("status", st, MaxStatus)
}

func encodeDoc(what string, v any, max int) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("%w: declarative %s: %w", storage.ErrInvalid, what, err)
	}
	if buf.Len() > max {
		return nil, fmt.Errorf("%w: declarative %s of %d bytes, at most %d", storage.ErrInvalid, what, buf.Len(), max)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// UnmarshalInputs decodes a document written by MarshalInputs.
func (s *State) UnmarshalInputs(data []byte) error {
	return decodeDoc("inputs", data, MaxInputs, &s.Inputs)
}

// UnmarshalStatus decodes a document written by MarshalStatus.
func (s *State) UnmarshalStatus(data []byte) error {
	return decodeDoc("status", data, MaxStatus, &s.Status)
}

func decodeDoc(what string, data []byte, max int, v any) error {
	if len(data) > max {
		return fmt.Errorf("declarative %s of %d bytes, at most %d", what, len(data), max)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("declarative %s: %w", what, err)
	}
	return nil
}

// Store keeps the declarative state of devices. storage/sqlstore
// implements it (storage/sqlite, storage/postgres, storage/memory); every
// method is safe for concurrent use, and another org's record is
// ErrNotFound.
type Store interface {
	// DeclarativeState returns the device's state, or ErrNotFound when
	// none was ever written.
	DeclarativeState(ctx context.Context, org storage.OrgID, device string) (State, error)
	// SaveDeclarativeState stores s (all but its Status) and queues cmds
	// for s.Device in order (as enroll.CommandQueue.EnqueueCommand does),
	// appending entry, in one transaction. s.Version must be the stored
	// version (0 when there is none), else ErrConflict: of concurrent
	// writers from one version exactly one succeeds. A command UUID
	// already used in the org yields ErrAlreadyExists, bad input
	// ErrInvalid, an unknown org ErrNotFound; on any error nothing
	// changes. It returns the state as stored (Version incremented,
	// Updated = entry.Time, Status as stored).
	SaveDeclarativeState(ctx context.Context, s State, cmds []enroll.Command, entry storage.AuditEntry) (State, error)
	// SaveDeclarativeStatus replaces the device's Status. version must be
	// the stored StatusVersion, else ErrConflict; a device without a state
	// is ErrNotFound. Status writes are not audited: they recur with
	// every report and hold only the declarations' own state. It returns
	// the state as stored (StatusVersion incremented). evs are the events
	// the new status emits (a compliance change), written in the same
	// transaction.
	SaveDeclarativeStatus(ctx context.Context, org storage.OrgID, device string, st Status, version int64, evs ...events.Event) (State, error)
}
