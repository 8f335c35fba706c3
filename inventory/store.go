package inventory

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openomm/omm/storage"
)

// Limits on stored inventory.
const (
	MaxValueLen     = 256  // a text, number or bool value, in characters
	MaxListValueLen = 8192 // a KindList value (JSON), in characters
	MaxApps         = 5000 // apps per device
	MaxAppIDLen     = 255
	MaxAppNameLen   = 256
	MaxAppFieldLen  = 64 // version and state of a managed app
)

// Value is one stored attribute value of a device.
type Value struct {
	Key   Key
	Value string
	// Source is where it came from; it must be the contract's source for
	// Key, so that a directory attribute can never be stored as reported by
	// the device, nor the reverse.
	Source Source
	// Collected is when the value was reported (or read from the
	// directory).
	Collected time.Time
}

// Validate checks v against the privacy contract: only the contract's keys
// are storable, each from its own source, in its own form.
func (v Value) Validate() error {
	a, ok := attributeFor(v.Key)
	if !ok {
		return fmt.Errorf("%w: %q is not an attribute of the privacy contract", storage.ErrInvalid, v.Key)
	}
	if a.Kind == KindApps {
		return fmt.Errorf("%w: %s is stored as the app list, not as a value", storage.ErrInvalid, v.Key)
	}
	if v.Source != a.Source {
		return fmt.Errorf("%w: attribute %s comes from the %s, not the %s", storage.ErrInvalid, v.Key, a.Source, v.Source)
	}
	if v.Collected.IsZero() {
		return fmt.Errorf("%w: attribute %s has no collection time", storage.ErrInvalid, v.Key)
	}
	max := MaxValueLen
	if a.Kind == KindList {
		max = MaxListValueLen
	}
	if err := validateText("attribute "+string(v.Key), v.Value, max, true); err != nil {
		return err
	}
	switch a.Kind {
	case KindNumber:
		if _, err := strconv.ParseFloat(v.Value, 64); err != nil {
			return fmt.Errorf("%w: attribute %s is not a number", storage.ErrInvalid, v.Key)
		}
	case KindBool:
		if v.Value != "true" && v.Value != "false" {
			return fmt.Errorf("%w: attribute %s is not true or false", storage.ErrInvalid, v.Key)
		}
	case KindList:
		var l []string
		if err := json.Unmarshal([]byte(v.Value), &l); err != nil {
			return fmt.Errorf("%w: attribute %s is not a JSON list of strings", storage.ErrInvalid, v.Key)
		}
	}
	return nil
}

// App is one app on a device. Personal (unmanaged) apps carry their
// identifier and name only; managed apps may add version and install state.
type App struct {
	// Identifier is the bundle identifier or package name.
	Identifier string
	Name       string
	Managed    bool
	Version    string
	// State is the managed app's install state as the platform reports it
	// ("Managed", "Installing", "INSTALLED" …).
	State string
}

// NameOnly reports whether a is a Mac app kept by its name, having
// reported no bundle identifier (see NameOnlyPrefix). Such an app is
// always personal.
func (a App) NameOnly() bool { return strings.HasPrefix(a.Identifier, NameOnlyPrefix) }

// Validate checks a against the privacy contract.
func (a App) Validate() error {
	if err := validateText("app identifier", a.Identifier, MaxAppIDLen, true); err != nil {
		return err
	}
	if err := validateText("app name", a.Name, MaxAppNameLen, false); err != nil {
		return err
	}
	if !a.Managed && (a.Version != "" || a.State != "") {
		return fmt.Errorf("%w: personal app %q may carry identifier and name only", storage.ErrInvalid, a.Identifier)
	}
	if a.Managed && a.NameOnly() {
		return fmt.Errorf("%w: app %q has no bundle identifier and cannot be managed", storage.ErrInvalid, a.Identifier)
	}
	if err := validateText("app version", a.Version, MaxAppFieldLen, false); err != nil {
		return err
	}
	return validateText("app state", a.State, MaxAppFieldLen, false)
}

// Update is one write of a device's inventory, applied atomically.
type Update struct {
	// Values are stored, replacing any stored value of the same key.
	Values []Value
	// Remove deletes the stored values of these keys (a directory value
	// that no longer exists, say).
	Remove []Key
	// ReplaceApps replaces the device's whole app list with Apps.
	ReplaceApps bool
	Apps        []App
	// At is when the inventory was collected: it becomes the device's
	// LastInventory, and its LastSeen when later than the stored one.
	At time.Time
}

// Normalize validates u and returns it as stores keep it: times normalized,
// values sorted by key and apps by identifier. A key or app identifier
// given twice, a key both stored and removed, or anything breaking the
// contract yields ErrInvalid.
func (u Update) Normalize() (Update, error) {
	if u.At.IsZero() {
		return u, fmt.Errorf("%w: inventory update has no time", storage.ErrInvalid)
	}
	u.At = storage.Normalize(u.At)
	seen := map[Key]bool{}
	vals := make([]Value, len(u.Values))
	for i, v := range u.Values {
		if err := v.Validate(); err != nil {
			return u, err
		}
		if seen[v.Key] {
			return u, fmt.Errorf("%w: attribute %s given twice", storage.ErrInvalid, v.Key)
		}
		seen[v.Key] = true
		v.Collected = storage.Normalize(v.Collected)
		vals[i] = v
	}
	for _, k := range u.Remove {
		if a, ok := attributeFor(k); !ok || a.Kind == KindApps {
			return u, fmt.Errorf("%w: %q is not a value of the privacy contract", storage.ErrInvalid, k)
		}
		if seen[k] {
			return u, fmt.Errorf("%w: attribute %s both stored and removed", storage.ErrInvalid, k)
		}
		seen[k] = true
	}
	slices.SortFunc(vals, func(a, b Value) int { return cmp.Compare(a.Key, b.Key) })
	u.Values = vals
	u.Remove = slices.Sorted(slices.Values(u.Remove))
	if !u.ReplaceApps {
		if len(u.Apps) > 0 {
			return u, fmt.Errorf("%w: apps given without ReplaceApps", storage.ErrInvalid)
		}
		return u, nil
	}
	if len(u.Apps) > MaxApps {
		return u, fmt.Errorf("%w: %d apps, at most %d allowed", storage.ErrInvalid, len(u.Apps), MaxApps)
	}
	apps := slices.Clone(u.Apps)
	slices.SortFunc(apps, func(a, b App) int { return cmp.Compare(a.Identifier, b.Identifier) })
	for i, a := range apps {
		if err := a.Validate(); err != nil {
			return u, err
		}
		if i > 0 && apps[i-1].Identifier == a.Identifier {
			return u, fmt.Errorf("%w: app %q given twice", storage.ErrInvalid, a.Identifier)
		}
	}
	u.Apps = apps
	return u, nil
}

// Paging limits for [Store.ListDevices].
const (
	DefaultDevicePage = 100
	MaxDevicePage     = 1000
)

// DeviceQuery selects a page of an org's devices, ordered by ID.
type DeviceQuery struct {
	// UserID, when set, selects that user's devices only.
	UserID string
	// After is the cursor: only devices with a greater ID are returned.
	After string
	// Limit is the page size: 0 means DefaultDevicePage, larger than
	// MaxDevicePage is reduced to it, negative is ErrInvalid.
	Limit int
}

// Normalize validates q and applies the paging defaults.
func (q DeviceQuery) Normalize() (DeviceQuery, error) {
	switch {
	case q.Limit < 0:
		return q, fmt.Errorf("%w: device page limit %d is negative", storage.ErrInvalid, q.Limit)
	case q.Limit == 0:
		q.Limit = DefaultDevicePage
	case q.Limit > MaxDevicePage:
		q.Limit = MaxDevicePage
	}
	return q, nil
}

// DevicePage is one page of devices.
type DevicePage struct {
	Devices []Device
	// Next is the cursor of the following page, "" when this is the last.
	Next string
}

// Store keeps the device registry and each device's inventory. Every
// method is safe for concurrent use; a device of another org is
// ErrNotFound; bad input is ErrInvalid and changes nothing.
//
// State changes are audited in the same transaction. Inventory writes and
// last-seen updates are not: they happen daily per device, hold only what
// the contract allows, and the latest collection time of each value is kept
// with it.
type Store interface {
	// CreateDevice stores a new device with entry, the audit entry of its
	// enrollment (entry.Org must be d.Org). It returns the device as stored:
	// Version 1; Created, Updated and LastSeen set to entry.Time;
	// LastInventory zero (whatever d held). An ID in use, or an
	// Identifier in use by another device of the org that is not
	// deprovisioned or wiped, yields ErrAlreadyExists; an unknown org
	// ErrNotFound.
	CreateDevice(ctx context.Context, d Device, entry storage.AuditEntry) (Device, error)
	// Device returns the device with this ID, or ErrNotFound.
	Device(ctx context.Context, org storage.OrgID, id string) (Device, error)
	// DeviceByIdentifier returns the device with this platform identifier
	// that is not deprovisioned or wiped, or ErrNotFound.
	DeviceByIdentifier(ctx context.Context, org storage.OrgID, identifier string) (Device, error)
	// ListDevices returns a page of the org's devices in ID order.
	ListDevices(ctx context.Context, org storage.OrgID, q DeviceQuery) (DevicePage, error)
	// UpdateDeviceState moves the device to state to and appends entry in
	// one transaction. A transition [CheckTransition] refuses, judged
	// against the stored state, yields ErrConflict (and ErrTransition);
	// moving to the stored state is a no-op that appends nothing. Moving to
	// a terminal state erases the device's stored values and apps in the
	// same transaction. It returns the device as stored (Version
	// incremented, Updated set to entry.Time). An unknown state is
	// ErrInvalid, checked before the device is looked up.
	UpdateDeviceState(ctx context.Context, org storage.OrgID, id string, to State, entry storage.AuditEntry) (Device, error)
	// TouchDevice records contact at seen; LastSeen never moves backwards.
	// It changes neither Version nor Updated. A zero seen is ErrInvalid.
	TouchDevice(ctx context.Context, org storage.OrgID, id string, seen time.Time) error
	// SaveInventory applies u (see [Update.Normalize]) to the device.
	// version must be the stored Version, else ErrConflict: callers that
	// merge with stored data re-read and retry. A device in a terminal
	// state yields ErrConflict. It returns the device as stored: Version
	// incremented, LastInventory set to u.At, LastSeen to u.At if later;
	// Updated is left alone (it dates state changes).
	SaveInventory(ctx context.Context, org storage.OrgID, id string, version int64, u Update) (Device, error)
	// DeviceValues returns the device's stored values ordered by key; an
	// unknown device yields ErrNotFound.
	DeviceValues(ctx context.Context, org storage.OrgID, id string) ([]Value, error)
	// DeviceApps returns the device's apps ordered by identifier; an
	// unknown device yields ErrNotFound.
	DeviceApps(ctx context.Context, org storage.OrgID, id string) ([]App, error)
	// DevicesDueForRefresh returns up to limit enrolled devices whose
	// LastInventory is before before (never-inventoried first, then
	// oldest first, ties by ID). limit ≤ 0 or > MaxDevicePage is ErrInvalid.
	DevicesDueForRefresh(ctx context.Context, org storage.OrgID, before time.Time, limit int) ([]Device, error)
}
