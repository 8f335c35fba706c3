package inventory

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"time"
)

// Dropped counts what the filter removed from a report before storage. It
// never holds a reported value; ForbiddenKeys holds the names of forbidden
// keys (Apple's and Google's schema names), so that a log line can say
// which promise a device tried to break.
type Dropped struct {
	// Forbidden counts keys of a forbidden category (network identifiers,
	// location, usage …).
	Forbidden int `json:"forbidden"`
	// Unknown counts keys the contract does not list. Their names are not
	// kept: a device chooses them.
	Unknown int `json:"unknown"`
	// Malformed counts contract keys whose value had the wrong type or
	// broke a limit.
	Malformed int `json:"malformed"`
	// Details counts fields stripped from list entries: an app's size or
	// a personal app's version, a profile's payloads.
	Details int `json:"details"`
	// ForbiddenKeys lists the forbidden key names seen, sorted, each once.
	ForbiddenKeys []string `json:"forbidden_keys,omitempty"`
}

// Total is the number of dropped items.
func (d Dropped) Total() int { return d.Forbidden + d.Unknown + d.Malformed + d.Details }

func (d *Dropped) forbidden(key string) {
	d.Forbidden++
	if i, found := slices.BinarySearch(d.ForbiddenKeys, key); !found {
		d.ForbiddenKeys = slices.Insert(d.ForbiddenKeys, i, key)
	}
}

// Observation is a device report after the privacy filter: only contract
// values and app entries reduced to what the contract allows. It is what
// ingest stores, and all a parser hands on.
type Observation struct {
	// Command is the Apple command the result answers, or "android".
	Command string
	// Identifier is the device identifier the report names (Apple UDID or
	// EnrollmentID), empty when it names none.
	Identifier string
	// At is when the report was collected.
	At     time.Time
	Values []Value
	// Installed is the app list of an InstalledApplicationList or an
	// Android report; Managed the ManagedApplicationList. Each is nil when
	// the report has none. An installed entry may carry a version: ingest
	// keeps it only when the app is managed.
	Installed []App
	Managed   []App
	// ManagedPartial says Managed lists changed entries only (a
	// declarative status report): apps it does not list keep their state,
	// and Unmanaged names the apps that left declarative management.
	ManagedPartial bool
	Unmanaged      []string
	Dropped        Dropped
}

// ErrNoInventory: the report carries nothing the inventory stores (a
// NotNow or Error result, or a command the inventory does not handle).
var ErrNoInventory = errors.New("report carries no inventory")

// ErrReport: the report could not be decoded or breaks a size or nesting
// limit; it is refused whole.
var ErrReport = errors.New("malformed or oversize device report")

// convert turns a reported value into its stored form for attribute a, or
// reports false when it has the wrong type or breaks a limit.
func convert(a Attribute, v any, scale float64, at time.Time) (Value, bool) {
	var s string
	switch a.Kind {
	case KindText:
		switch x := v.(type) {
		case string:
			s = x
		case int64:
			s = strconv.FormatInt(x, 10)
		case uint64:
			s = strconv.FormatUint(x, 10)
		case json.Number:
			if _, err := x.Int64(); err != nil {
				return Value{}, false
			}
			s = x.String()
		default:
			return Value{}, false
		}
	case KindNumber:
		f, ok := number(v)
		if !ok {
			return Value{}, false
		}
		if scale != 0 {
			f *= scale
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return Value{}, false
		}
		s = strconv.FormatFloat(f, 'f', -1, 64)
	case KindBool:
		b, ok := v.(bool)
		if !ok {
			return Value{}, false
		}
		s = strconv.FormatBool(b)
	case KindList:
		l, ok := v.([]string)
		if !ok {
			return Value{}, false
		}
		b, err := json.Marshal(l)
		if err != nil {
			return Value{}, false
		}
		s = string(b)
	}
	val := Value{Key: a.Key, Value: s, Source: a.Source, Collected: at}
	if val.Validate() != nil {
		return Value{}, false
	}
	return val, true
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string: // Android encodes int64 fields as JSON strings
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

// text returns v when it is a string, else "".
func text(v any) string {
	s, _ := v.(string)
	return s
}

// accepted reports whether a stored managed app is one the user accepted
// (see AppleAppStatus): only then does an installed copy keep its version.
func accepted(a App) bool {
	if !a.Managed {
		return false
	}
	c, _ := AppleAppStatus(a.State)
	return c == AppManaged
}

// mergeInstalled builds a device's app list from a fresh installed-app
// list and the stored list: apps the stored list marks managed and
// accepted stay managed (keeping their state, taking the fresh version);
// all others are personal and keep identifier and name only, even when the
// organization has asked for them (the user's copy is not the
// organization's until the device says so). Requests and managed apps that
// are not installed (queued, removed by the user) are kept.
func mergeInstalled(stored, installed []App, d *Dropped) []App {
	managed := map[string]App{}
	for _, a := range stored {
		if a.Managed {
			managed[a.Identifier] = a
		}
	}
	out := make([]App, 0, len(installed)+len(managed))
	seen := map[string]bool{}
	for _, a := range installed {
		if seen[a.Identifier] {
			continue
		}
		seen[a.Identifier] = true
		if m, ok := managed[a.Identifier]; ok && accepted(m) {
			out = append(out, App{Identifier: a.Identifier, Name: a.Name, Managed: true, Version: a.Version, State: m.State})
			continue
		}
		if a.Version != "" || a.State != "" {
			d.Details++
		}
		out = append(out, App{Identifier: a.Identifier, Name: a.Name})
	}
	for id, m := range managed {
		if !seen[id] {
			// Managed or requested but not installed (being installed, or
			// removed): without a name it reads as "not reported
			// installed", so a managed list that no longer has it drops it
			// instead of turning it into a personal app.
			out = append(out, App{Identifier: id, Managed: true, State: m.State})
		}
	}
	return out
}

// mergeManaged applies a full managed-app list (the organization's apps
// only: see appleManaged) to the stored list. A listed app the user
// accepted becomes managed with its reported state. A listed app only
// requested stays personal if the device reported it installed as
// personal, and is otherwise kept as the request (identifier and status:
// a managed app the user deleted loses its name and version). Apps no
// longer listed lose managed status (their version and state go) and are
// dropped if the device never reported them installed.
func mergeManaged(stored, managed []App) []App {
	byID := map[string]App{}
	for _, a := range managed {
		byID[a.Identifier] = a
	}
	out := make([]App, 0, len(stored)+len(managed))
	for _, a := range stored {
		m, listed := byID[a.Identifier]
		delete(byID, a.Identifier)
		switch {
		case listed && accepted(m):
			a.Managed, a.State = true, m.State
			out = append(out, a)
		case listed && a.Name != "" && !a.Managed:
			out = append(out, App{Identifier: a.Identifier, Name: a.Name})
		case listed:
			out = append(out, App{Identifier: a.Identifier, Managed: true, State: m.State})
		case a.Name == "" && a.Managed:
			// never installed, no longer managed
		default:
			out = append(out, App{Identifier: a.Identifier, Name: a.Name})
		}
	}
	for _, m := range managed {
		if _, ok := byID[m.Identifier]; ok {
			out = append(out, App{Identifier: m.Identifier, Managed: true, State: m.State})
			delete(byID, m.Identifier)
		}
	}
	return out
}
