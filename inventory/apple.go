package inventory

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/openomm/omm/internal/plistlimit"
)

// DefaultMaxReportSize bounds a device report (an MDM command result or an
// Android status report). A DeviceInformation result is about 2 KB and an
// installed-app list of 300 apps about 150 KB; larger reports are refused
// whole, never truncated.
const DefaultMaxReportSize = 2 << 20

// maxReportDepth bounds nesting: Apple results and Android reports nest a
// handful of levels.
const maxReportDepth = 16

// Filter parses device reports and applies the privacy contract to them:
// everything the contract does not list is dropped and counted. It is safe
// for concurrent use.
type Filter struct {
	l       *lookup
	maxSize int
}

// NewFilter returns a filter refusing reports larger than maxSize bytes
// (DefaultMaxReportSize when ≤ 0).
func NewFilter(maxSize int) *Filter {
	if maxSize <= 0 {
		maxSize = DefaultMaxReportSize
	}
	return &Filter{l: newLookup(), maxSize: maxSize}
}

// appleEnvelope reports whether k is a key of every command result that is
// not the response itself.
func appleEnvelope(k string) bool {
	switch k {
	case "CommandUUID", "Status", "UDID", "EnrollmentID", "EnrollmentUserID",
		"UserID", "UserShortName", "UserLongName", "RequestType", "ErrorChain", "NotOnConsole":
		return true
	}
	return false
}

// Apple parses an Apple MDM command result (the whole plist the device
// sent: Status, UDID, QueryResponses …) collected at at, and returns what
// the contract lets the organization keep. Results of DeviceInformation,
// SecurityInfo, InstalledApplicationList, ManagedApplicationList and
// ProfileList are understood; any other yields ErrNoInventory, as does a
// status other than Acknowledged. Input over the size or nesting limit, or
// not a plist, yields ErrReport.
func (f *Filter) Apple(data []byte, at time.Time) (Observation, error) {
	var res map[string]any
	err := plistlimit.Unmarshal(data, &res, plistlimit.Limits{MaxSize: f.maxSize, MaxDepth: maxReportDepth})
	if err != nil {
		return Observation{}, fmt.Errorf("%w: %w", ErrReport, err)
	}
	if status := text(res["Status"]); status != "Acknowledged" {
		return Observation{}, fmt.Errorf("%w: result status %q", ErrNoInventory, status)
	}
	o := Observation{At: at}
	o.Identifier = text(res["UDID"])
	if o.Identifier == "" {
		o.Identifier = text(res["EnrollmentID"])
	}
	found := false
	for k, v := range res {
		if appleEnvelope(k) {
			continue
		}
		cmd := AppleCommand(k)
		switch cmd {
		case "QueryResponses":
			cmd = AppleDeviceInformation
			fallthrough
		case AppleSecurityInfo:
			m, ok := v.(map[string]any)
			if !ok {
				o.Dropped.Malformed++
				continue
			}
			f.appleValues(&o, cmd, m, at)
		case AppleInstalledApplicationList:
			o.Installed = f.appleInstalled(&o.Dropped, v)
		case AppleManagedApplicationList:
			o.Managed = f.appleManaged(&o.Dropped, v)
		case AppleProfileList:
			f.appleProfiles(&o, v, at)
		default:
			f.dropApple(&o.Dropped, k)
			continue
		}
		if !found || cmd < AppleCommand(o.Command) { // deterministic when a result holds several
			o.Command = string(cmd)
		}
		found = true
	}
	if !found {
		return Observation{}, fmt.Errorf("%w: no response the inventory handles", ErrNoInventory)
	}
	slices.SortFunc(o.Values, func(a, b Value) int { return cmp.Compare(a.Key, b.Key) })
	return o, nil
}

func (f *Filter) dropApple(d *Dropped, key string) {
	if f.l.forbidApple[key] {
		d.forbidden(key)
		return
	}
	d.Unknown++
}

func (f *Filter) appleValues(o *Observation, cmd AppleCommand, m map[string]any, at time.Time) {
	allowed := f.l.apple[cmd]
	for k, v := range m {
		a, ok := allowed[k]
		if !ok {
			f.dropApple(&o.Dropped, k)
			continue
		}
		val, ok := convert(a, v, 0, at)
		if !ok {
			o.Dropped.Malformed++
			continue
		}
		o.Values = append(o.Values, val)
	}
}

// appleInstalled reduces InstalledApplicationList entries to identifier,
// name and version (ShortVersion, the one users see, else Version).
func (f *Filter) appleInstalled(d *Dropped, v any) []App {
	list, ok := v.([]any)
	if !ok {
		d.Malformed++
		return nil
	}
	apps := make([]App, 0, len(list))
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			d.Malformed++
			continue
		}
		var a App
		for k, v := range m {
			switch k {
			case "Identifier":
				a.Identifier = text(v)
			case "Name":
				a.Name = text(v)
			case "ShortVersion":
				a.Version = text(v)
			case "Version":
				if a.Version == "" {
					a.Version = text(v)
				}
				if _, short := m["ShortVersion"]; short {
					d.Details++
				}
			default:
				if f.l.forbidApple[k] {
					d.forbidden(k)
				} else {
					d.Details++
				}
			}
		}
		if a.Version != "" && validateText("", a.Version, MaxAppFieldLen, false) != nil {
			a.Version = ""
			d.Malformed++
		}
		if (App{Identifier: a.Identifier, Name: a.Name}).Validate() != nil {
			d.Malformed++
			continue
		}
		apps = append(apps, a)
	}
	return apps
}

// appleManaged reduces ManagedApplicationList entries to identifier and
// status.
func (f *Filter) appleManaged(d *Dropped, v any) []App {
	m, ok := v.(map[string]any)
	if !ok {
		d.Malformed++
		return nil
	}
	apps := make([]App, 0, len(m))
	for id, item := range m {
		fields, ok := item.(map[string]any)
		if !ok {
			d.Malformed++
			continue
		}
		a := App{Identifier: id, Managed: true, State: text(fields["Status"])}
		if a.State == "UserInstalledApp" {
			// The user's own copy, which an install met: not managed
			// (the installed-app list reports it as personal).
			continue
		}
		for k := range fields {
			if k != "Status" {
				d.Details++
			}
		}
		if a.Validate() != nil {
			d.Malformed++
			continue
		}
		apps = append(apps, a)
	}
	slices.SortFunc(apps, func(a, b App) int { return cmp.Compare(a.Identifier, b.Identifier) })
	return apps
}

// appleProfiles keeps the identifiers of the profiles this MDM installed.
// The command is sent with ManagedOnly, so the device lists only ours;
// an entry that says IsManaged false is dropped all the same.
func (f *Filter) appleProfiles(o *Observation, v any, at time.Time) {
	list, ok := v.([]any)
	if !ok {
		o.Dropped.Malformed++
		return
	}
	ids := []string{}
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			o.Dropped.Malformed++
			continue
		}
		if managed, ok := m["IsManaged"].(bool); ok && !managed {
			o.Dropped.Unknown++
			continue
		}
		id := text(m["PayloadIdentifier"])
		if validateText("profile identifier", id, MaxAppIDLen, true) != nil {
			o.Dropped.Malformed++
			continue
		}
		ids = append(ids, id)
		o.Dropped.Details += len(m) - 1
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	a := f.l.byKey[KeyManagedProfiles]
	val, ok := convert(a, ids, 0, at)
	if !ok {
		o.Dropped.Malformed++
		return
	}
	o.Values = append(o.Values, val)
}
