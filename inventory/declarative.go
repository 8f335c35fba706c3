package inventory

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/openomm/omm/storage"
)

// Apple's declarative device management reports status items instead of
// command results: a device subscribed to an item reports it whenever it
// changes. The contract says which items report which attribute
// ([Attribute.Status]); the subscriptions a device gets and the filter its
// reports pass both derive from that, like the MDM queries do.

// DeclarativeAppList is the status item listing the organization's
// declarative managed apps (iOS 17.2).
const DeclarativeAppList = "app.managed.list"

// CommandDeclarative is the Observation.Command of a declarative status
// report.
const CommandDeclarative = "declarative"

// StatusSubscriptions returns the declarative status items device d,
// running os, is asked to report: the items of the contract's attributes
// the organization may see on d ([Attribute.VisibleOn]) that its OS
// reports, in contract order. Nothing the contract does not list is ever
// subscribed to: not the UDID, not accounts, not battery health.
func StatusSubscriptions(d Device, os OS) []string {
	var items []string
	for _, a := range Contract() {
		if !a.VisibleOn(d) {
			continue
		}
		for _, k := range a.Status {
			if k.OnDevice(d, os) && !slices.Contains(items, k.Item) {
				items = append(items, k.Item)
			}
		}
	}
	return items
}

// Declarative applies the contract to the status items of a declarative
// status report of device d running os, collected at at. items maps each
// status item's name to its value as decoded from the report's JSON
// (strings, booleans, json.Number or float64, arrays, objects); the
// protocol's own items (management.*) are the caller's and must not be
// passed. An item the contract lists for an attribute the organization may
// see on d is kept in the attribute's form; the declarative app list
// becomes Managed (changed entries only: see Observation.ManagedPartial);
// everything else is dropped and counted, forbidden items by name.
//
// A device OS version reported in the same report decides how the rest is
// read, as a DeviceInformation result's does.
func (f *Filter) Declarative(items map[string]any, at time.Time, d Device, os OS) Observation {
	o := Observation{Command: CommandDeclarative, At: at}
	names := make([]string, 0, len(items))
	for name := range items {
		names = append(names, name)
	}
	sort.Strings(names)
	if src, ok := f.l.status["device.operating-system.version"]; ok {
		if v, ok := items[src.key.Item].(string); ok && v != "" {
			os.Version = v
		}
	}
	for _, name := range names {
		v := items[name]
		src, ok := f.l.status[name]
		switch {
		case !ok && f.l.forbidStatus[name]:
			o.Dropped.forbidden(name)
			continue
		case !ok:
			o.Dropped.Unknown++
			continue
		case !src.attr.VisibleOn(d):
			o.Dropped.forbidden(name)
			continue
		}
		if src.attr.Kind == KindApps {
			o.Managed, o.Unmanaged = declarativeApps(&o.Dropped, v)
			o.ManagedPartial = true
			continue
		}
		if !src.key.On(OS{Platform: os.Platform}) {
			// Another platform's item (a Mac's FileVault from a phone).
			o.Dropped.Unknown++
			continue
		}
		kind := src.attr.Kind
		if src.key.Kind != 0 {
			kind = src.key.Kind
		}
		if _, isText := v.(string); kind == KindText && !isText {
			// Apple's schema types every text item as a string.
			o.Dropped.Malformed++
			continue
		}
		if kind != src.attr.Kind { // a boolean kept as text ("true")
			b, isBool := v.(bool)
			if kind != KindBool || !isBool {
				o.Dropped.Malformed++
				continue
			}
			v = fmt.Sprint(b)
		}
		val, ok := convert(src.attr, v, 0, at)
		if !ok {
			o.Dropped.Malformed++
			continue
		}
		o.Values = append(o.Values, val)
	}
	slices.SortFunc(o.Values, func(a, b Value) int {
		switch {
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
	return o
}

// declarativeApps reads the entries of the declarative app list: each
// changed app with its state, and the identifiers of apps no longer under
// declarative management. Names, versions and states are kept as the
// managed-app list's are; everything else of an entry (store version IDs,
// reasons, the declaration) is dropped.
func declarativeApps(d *Dropped, v any) (changed []App, removed []string) {
	list, ok := v.([]any)
	if !ok {
		d.Malformed++
		return nil, nil
	}
	changed = []App{}
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			d.Malformed++
			continue
		}
		id := text(m["identifier"])
		if id == "" || len(id) > MaxAppIDLen || len(id) >= len(NameOnlyPrefix) && id[:len(NameOnlyPrefix)] == NameOnlyPrefix {
			d.Malformed++
			continue
		}
		if gone, _ := m["_removed"].(bool); gone {
			removed = append(removed, id)
			continue
		}
		state, known := DeclarativeAppState(text(m["state"]))
		if !known {
			d.Malformed++
			continue
		}
		a := App{Identifier: id, Managed: true, State: state}
		if c, _ := AppleAppStatus(state); c == AppManaged {
			a.Name, a.Version = text(m["name"]), text(m["short-version"])
			if a.Version == "" {
				a.Version = text(m["version"])
			}
		}
		for k := range m {
			switch k {
			case "identifier", "state", "name", "version", "short-version":
			default:
				d.Details++
			}
		}
		if a.Validate() != nil {
			d.Malformed++
			continue
		}
		changed = append(changed, a)
	}
	return changed, removed
}

// DeclarativeAppState maps a state of Apple's declarative app list to the
// ManagedApplicationList status with the same meaning, so that one
// classification ([AppleAppStatus]) serves both: "managed" is "Managed",
// an install on its way is "Queued", "Prompting…" or "Installing", and an
// app offered but not installed ("optional") is "Unknown": requested,
// never managed. known is false for a state Apple's schema does not list.
func DeclarativeAppState(state string) (status string, known bool) {
	switch state {
	case "managed":
		return "Managed", true
	case "queued":
		return "Queued", true
	case "prompting-for-consent":
		return "Prompting", true
	case "prompting-for-login":
		return "PromptingForLogin", true
	case "prompting-for-management":
		return "PromptingForManagement", true
	case "downloading", "installing":
		return "Installing", true
	case "managed-but-uninstalled":
		return "ManagedButUninstalled", true
	case "failed":
		return "Failed", true
	case "optional":
		return "Unknown", true
	}
	return "", false
}

// mergeDeclarativeApps applies the changed entries of a declarative app
// list to the stored list; apps it does not name keep their state (the
// report holds changes only). A changed app the user accepted becomes
// managed; an app only requested stays personal when the device reported
// it installed as personal, else it is kept as the request. An app that
// left declarative management loses its managed state (its name stays if
// the device reported it installed).
func mergeDeclarativeApps(stored, changed []App, removed []string) []App {
	byID := make(map[string]App, len(changed))
	for _, a := range changed {
		byID[a.Identifier] = a
	}
	out := make([]App, 0, len(stored)+len(changed))
	for _, a := range stored {
		m, listed := byID[a.Identifier]
		delete(byID, a.Identifier)
		switch {
		case listed && accepted(m):
			a.Managed, a.State = true, m.State
			if m.Version != "" {
				a.Version = m.Version
			}
			if a.Name == "" {
				a.Name = m.Name
			}
			out = append(out, a)
		case listed && a.Name != "" && !a.Managed:
			out = append(out, App{Identifier: a.Identifier, Name: a.Name})
		case listed:
			out = append(out, App{Identifier: a.Identifier, Managed: true, State: m.State})
		case slices.Contains(removed, a.Identifier) && a.Managed && a.Name == "":
			// requested, never installed, no longer wanted
		case slices.Contains(removed, a.Identifier) && a.Managed:
			out = append(out, App{Identifier: a.Identifier, Name: a.Name})
		default:
			out = append(out, a)
		}
	}
	for _, m := range changed {
		if _, ok := byID[m.Identifier]; !ok {
			continue
		}
		delete(byID, m.Identifier)
		if accepted(m) {
			out = append(out, m)
		} else {
			out = append(out, App{Identifier: m.Identifier, Managed: true, State: m.State})
		}
	}
	return out
}

// IngestDeclarative filters the status items of a declarative status
// report from device id (see [Filter.Declarative]) and stores what the
// contract allows. A report holding nothing the inventory keeps stores
// nothing and yields ErrNoInventory; an Android device ErrInvalid.
func (s *Service) IngestDeclarative(ctx context.Context, org storage.OrgID, id string, items map[string]any) (IngestResult, error) {
	d, err := s.store.Device(ctx, org, id)
	if err != nil {
		return IngestResult{}, err
	}
	if !d.Platform.Apple() {
		return IngestResult{}, fmt.Errorf("%w: a declarative status report for %s device %q", storage.ErrInvalid, d.Platform, d.ID)
	}
	vals, err := s.store.DeviceValues(ctx, org, id)
	if err != nil {
		return IngestResult{}, err
	}
	o := s.filter.Declarative(items, s.clock(), d, OSOf(d, vals))
	if len(o.Values) == 0 && len(o.Managed) == 0 && len(o.Unmanaged) == 0 {
		res := IngestResult{Command: o.Command, Apps: -1, Dropped: o.Dropped, Device: d}
		if o.Dropped.Total() > 0 {
			s.logDropped(ctx, org, id, o.Command, o.Dropped)
		}
		return res, fmt.Errorf("ingest for device %q: %w", id, ErrNoInventory)
	}
	return s.ingest(ctx, org, d, o, false, nil)
}
