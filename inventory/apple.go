package inventory

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/openomm/omm/enroll/mdm"
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

// managedOnlySince returns the first version of platform p whose
// ProfileList honours ManagedOnly (Apple's schema), false when p has none.
// Before it the device lists every installed profile, the user's own too,
// and a profile that does not say IsManaged (Macs never do) cannot be told
// apart from the user's.
func managedOnlySince(p Platform) (string, bool) {
	switch appleFamily(p) {
	case PlatformIOS:
		return "13.0", true
	case PlatformMacOS:
		return "10.15", true
	}
	return "", false
}

// NameOnlyPrefix starts the identifier the inventory gives a Mac app that
// reports no bundle identifier (an installer, a web app): the prefix and
// the app's name. Bundle identifiers never contain a colon, so it cannot
// clash with one, and a device reporting an identifier with this prefix is
// refused.
const NameOnlyPrefix = "name:"

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
// sent: Status, UDID, QueryResponses …) collected at at from a device
// running os, and returns what the contract lets the organization keep.
// Results of DeviceInformation, SecurityInfo, InstalledApplicationList,
// ManagedApplicationList and ProfileList are understood; any other yields
// ErrNoInventory, as does a status other than Acknowledged. Input over the
// size or nesting limit, or not a plist, yields ErrReport.
//
// os.Platform decides which keys are read: each attribute under the keys
// its platform reports (Apple's older name only where the newer one is
// missing), and a Mac app without a bundle identifier is kept by name.
// os.Version decides whether a ProfileList that does not say which
// profiles MDM installed can be used; a DeviceInformation result's own
// OSVersion overrides it. A zero os reads every Apple platform's keys and
// uses no such ProfileList.
func (f *Filter) Apple(data []byte, at time.Time, os OS) (Observation, error) {
	res, err := f.parseApple(data)
	if err != nil {
		return Observation{}, err
	}
	return f.appleObservation(res, at, os)
}

// parseApple decodes a result within the limits and checks its status.
func (f *Filter) parseApple(data []byte) (map[string]any, error) {
	var res map[string]any
	err := plistlimit.Unmarshal(data, &res, f.limits())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrReport, err)
	}
	return checkStatus(res)
}

// appleDecoded is parseApple for a result decoded by enroll/mdm, within
// its looser limits: it checks the filter's against what was measured.
func (f *Filter) appleDecoded(d *mdm.Decoded) (map[string]any, error) {
	if d == nil || d.Dict == nil {
		return nil, fmt.Errorf("%w: no decoded result", ErrReport)
	}
	if err := d.Within(f.limits()); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrReport, err)
	}
	return checkStatus(d.Dict)
}

// limits are the size and nesting limits of a report.
func (f *Filter) limits() plistlimit.Limits {
	return plistlimit.Limits{MaxSize: f.maxSize, MaxDepth: maxReportDepth}
}

// checkStatus passes an acknowledged result.
func checkStatus(res map[string]any) (map[string]any, error) {
	if status := text(res["Status"]); status != "Acknowledged" {
		return nil, fmt.Errorf("%w: result status %q", ErrNoInventory, status)
	}
	return res, nil
}

// appleNeedsVersion reports whether res is read by the device's stored OS
// version: a ProfileList, or a DeviceInformation result without its own.
func (f *Filter) appleNeedsVersion(res map[string]any) bool {
	if _, ok := res[string(AppleProfileList)]; ok {
		return true
	}
	if q, ok := res["QueryResponses"].(map[string]any); ok {
		v, _ := q[f.l.osVersion].(string)
		return v == ""
	}
	return false
}

func (f *Filter) appleObservation(res map[string]any, at time.Time, os OS) (Observation, error) {
	o := Observation{At: at}
	o.Identifier = text(res["UDID"])
	if o.Identifier == "" {
		o.Identifier = text(res["EnrollmentID"])
	}
	if q, ok := res["QueryResponses"].(map[string]any); ok {
		if v, _ := q[f.l.osVersion].(string); v != "" {
			os.Version = v // reported with the values it decides
		}
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
			f.appleValues(&o, cmd, m, at, os)
		case AppleInstalledApplicationList:
			o.Installed = f.appleInstalled(&o.Dropped, v, os)
		case AppleManagedApplicationList:
			o.Managed = f.appleManaged(&o.Dropped, v)
		case AppleProfileList:
			f.appleProfiles(&o, v, at, os)
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

// appleValues keeps the contract's values of a DeviceInformation or
// SecurityInfo response, each read under a key its platform reports it
// by. An attribute's fallback key (Apple's older name) counts only when
// none of its other keys is in the response.
func (f *Filter) appleValues(o *Observation, cmd AppleCommand, m map[string]any, at time.Time, os OS) {
	type pick struct {
		src appleSource
		val Value
	}
	picked, fallbacks := map[Key]pick{}, map[Key]pick{}
	visit := func(key string, v any) {
		srcs := f.l.apple[cmd][key]
		if len(srcs) == 0 {
			f.dropApple(&o.Dropped, key)
			return
		}
		// The platform decides; a key a version is not known to report is
		// read all the same when a device sends it.
		i := slices.IndexFunc(srcs, func(s appleSource) bool { return s.key.On(OS{Platform: os.Platform}) })
		if i < 0 {
			o.Dropped.Unknown++ // a contract key, but not of this platform
			return
		}
		src := srcs[i]
		as := src.attr
		if src.key.Kind != 0 {
			as.Kind = src.key.Kind
		}
		val, ok := convert(as, v, 0, at)
		if !ok {
			o.Dropped.Malformed++
			return
		}
		into := picked
		if src.key.Fallback {
			into = fallbacks
		}
		if p, dup := into[as.Key]; dup && p.src.rank < src.rank {
			return
		}
		into[as.Key] = pick{src, val}
	}
	for k, v := range m {
		if !f.l.appleSections[cmd][k] {
			visit(k, v)
			continue
		}
		sub, ok := v.(map[string]any)
		if !ok {
			o.Dropped.Malformed++
			continue
		}
		for sk, sv := range sub {
			visit(k+"."+sk, sv)
		}
	}
	for k, p := range fallbacks {
		if _, ok := picked[k]; !ok {
			picked[k] = p
		}
	}
	for _, p := range picked {
		o.Values = append(o.Values, p.val)
	}
}

// appleInstalled reduces InstalledApplicationList entries to identifier,
// name and version (ShortVersion, the one users see, else Version). A Mac
// app without a bundle identifier is kept by its name (NameOnlyPrefix);
// a name that is a file path keeps its last element only.
func (f *Filter) appleInstalled(d *Dropped, v any, os OS) []App {
	list, ok := v.([]any)
	if !ok {
		d.Malformed++
		return nil
	}
	// iPhone and iPad always report an identifier (Apple's schema).
	nameOnly := os.Platform != PlatformIOS && os.Platform != PlatformIPadOS
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
		a.Name = pathFree(a.Name)
		switch {
		case strings.HasPrefix(a.Identifier, NameOnlyPrefix):
			d.Malformed++
			continue
		case a.Identifier == "" && nameOnly && a.Name != "":
			a.Identifier = NameOnlyPrefix + a.Name
		}
		if (App{Identifier: a.Identifier, Name: a.Name}).Validate() != nil {
			d.Malformed++
			continue
		}
		apps = append(apps, a)
	}
	return apps
}

// pathFree returns an app name that is a file path ("/Users/alice/
// Downloads/Install Foo.app") as its last element without ".app", so that
// no folder (which may name the user) is kept.
func pathFree(name string) string {
	if !strings.HasPrefix(name, "/") && !strings.HasPrefix(name, "~") {
		return name
	}
	base := path.Base(strings.TrimRight(name, "/"))
	if base == "/" || base == "." || base == "~" {
		return ""
	}
	return strings.TrimSuffix(base, ".app")
}

// appleManaged reduces ManagedApplicationList entries to identifier and
// status, keeping only the statuses that make an app the organization's
// (see AppleAppStatus): an entry of the user's own app is dropped, and the
// installed-app list keeps that app as personal.
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
		status := text(fields["Status"])
		if class, _ := AppleAppStatus(status); class == AppPersonal {
			d.Details += len(fields)
			continue
		}
		for k := range fields {
			if k != "Status" {
				d.Details++
			}
		}
		a := App{Identifier: id, Managed: true, State: status}
		if strings.HasPrefix(id, NameOnlyPrefix) || a.Validate() != nil {
			d.Malformed++
			continue
		}
		apps = append(apps, a)
	}
	slices.SortFunc(apps, func(a, b App) int { return cmp.Compare(a.Identifier, b.Identifier) })
	return apps
}

// appleProfiles keeps the identifiers of the profiles this MDM installed.
// The command is sent with ManagedOnly, so a device that honours it lists
// only ours; an entry that says IsManaged false is dropped all the same.
// A device that ignores ManagedOnly (before iOS 13 and macOS 10.15, or of
// an unknown version) lists the user's profiles too, and an entry there
// that does not say IsManaged cannot be judged: such a list is not stored
// at all, rather than stored with the user's profiles or stored partial.
func (f *Filter) appleProfiles(o *Observation, v any, at time.Time, os OS) {
	list, ok := v.([]any)
	if !ok {
		o.Dropped.Malformed++
		return
	}
	since, ok := managedOnlySince(os.Platform)
	c, known := os.compare(since)
	honoured := ok && known && c >= 0
	ids := []string{}
	details, usable := 0, true
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			o.Dropped.Malformed++
			continue
		}
		managed, said := m["IsManaged"].(bool)
		switch {
		case said && !managed:
			o.Dropped.Unknown++
			continue
		case !said && !honoured:
			usable = false
			o.Dropped.Unknown++
			continue
		}
		id := text(m["PayloadIdentifier"])
		if validateText("profile identifier", id, MaxAppIDLen, true) != nil {
			o.Dropped.Malformed++
			continue
		}
		ids = append(ids, id)
		details += len(m) - 1
	}
	if !usable {
		o.Dropped.Unknown += len(ids)
		return
	}
	o.Dropped.Details += details
	slices.Sort(ids)
	ids = slices.Compact(ids)
	val, ok := convert(f.l.byKey[KeyManagedProfiles], ids, 0, at)
	if !ok {
		o.Dropped.Malformed++
		return
	}
	o.Values = append(o.Values, val)
}
