package inventory

import (
	"context"
	"time"

	"github.com/openomm/omm/storage"
)

// ReportOptions carries the policy's part of the report.
type ReportOptions struct {
	// FullWipeAllowed is the policy's decision whether IT or the user may
	// factory reset the device. The device's ownership and enrollment type
	// may forbid it regardless ([Device.FactoryResetPermitted]).
	FullWipeAllowed bool
}

// Report is "What your organization can see" for one device: generated from
// the privacy contract, the policy and the values actually stored. Its JSON
// field names are stable.
type Report struct {
	DeviceID       string         `json:"device_id"`
	Platform       Platform       `json:"platform"`
	Ownership      Ownership      `json:"ownership"`
	EnrollmentType EnrollmentType `json:"enrollment_type"`
	State          State          `json:"state"`
	GeneratedAt    time.Time      `json:"generated_at"`
	// CanSee lists every attribute the organization may see on this
	// platform, with the stored value where there is one.
	CanSee []ReportItem `json:"can_see"`
	// Apps is the stored app list as the organization sees it.
	Apps ReportApps `json:"apps"`
	// CannotSee lists what the organization can never see.
	CannotSee []ReportCategory `json:"cannot_see"`
	Wipe      ReportWipe       `json:"wipe"`
}

// ReportItem is one attribute the organization may see.
type ReportItem struct {
	Attribute Key     `json:"attribute"`
	Label     string  `json:"label"`
	Promise   Promise `json:"promise"`
	// Value is the value exactly as stored; "" and CollectedAt null when
	// nothing is stored.
	Value string `json:"value"`
	// Display is Value in words for people (see [DisplayValue]): a bit
	// mask or a boolean decoded, a capacity with its unit; Items holds the
	// entries of a list value (the profiles), which Display then counts.
	Display     string     `json:"display"`
	Items       []string   `json:"items,omitempty"`
	Source      Source     `json:"source"`
	CollectedAt *time.Time `json:"collected_at"`
}

// ReportApps is the app part of the report.
type ReportApps struct {
	Promise Promise `json:"promise"`
	// CollectedAt is the device's latest inventory time, null when no
	// app list is stored.
	CollectedAt *time.Time  `json:"collected_at"`
	Managed     []ReportApp `json:"managed"`
	Personal    []ReportApp `json:"personal"`
}

// ReportApp is one app; personal apps show identifier and name only. A
// Mac app that reported no bundle identifier has an empty Identifier.
type ReportApp struct {
	Identifier string `json:"identifier"`
	Name       string `json:"name"`
	Version    string `json:"version,omitempty"`
	State      string `json:"state,omitempty"`
}

// ReportCategory is one thing the organization can never see.
type ReportCategory struct {
	Category string `json:"category"`
	Label    string `json:"label"`
}

// ReportWipe says what removal the organization can trigger.
type ReportWipe struct {
	// SelectiveWipe (removing work apps, profiles and data only) is always
	// possible.
	SelectiveWipe bool `json:"selective_wipe"`
	// FactoryReset is true only where policy allows it and the device's
	// ownership and enrollment type permit it.
	FactoryReset bool   `json:"factory_reset"`
	Explanation  string `json:"explanation"`
}

// Report builds the "What your organization can see" report for device id.
// An unknown device yields ErrNotFound.
func (s *Service) Report(ctx context.Context, org storage.OrgID, id string, opts ReportOptions) (Report, error) {
	d, err := s.store.Device(ctx, org, id)
	if err != nil {
		return Report{}, err
	}
	vals, err := s.store.DeviceValues(ctx, org, id)
	if err != nil {
		return Report{}, err
	}
	apps, err := s.store.DeviceApps(ctx, org, id)
	if err != nil {
		return Report{}, err
	}
	return BuildReport(d, vals, apps, opts, s.clock()), nil
}

// BuildReport builds the report from a device record, its stored values
// and apps, and the policy, at time now.
func BuildReport(d Device, vals []Value, apps []App, opts ReportOptions, now time.Time) Report {
	r := Report{
		DeviceID: d.ID, Platform: d.Platform, Ownership: d.Ownership, EnrollmentType: d.EnrollmentType,
		State: d.State, GeneratedAt: storage.Normalize(now),
		CanSee: []ReportItem{}, CannotSee: []ReportCategory{},
		Apps: ReportApps{Promise: PromiseApps, Managed: []ReportApp{}, Personal: []ReportApp{}},
	}
	stored := map[Key]Value{}
	for _, v := range vals {
		stored[v.Key] = v
	}
	os := OSOf(d, vals)
	for _, a := range Contract() {
		v, ok := stored[a.Key]
		if a.Kind == KindApps || !a.VisibleOn(d) || !ok && !a.reportedOn(os) {
			continue
		}
		item := ReportItem{Attribute: a.Key, Label: a.Label, Promise: a.Promise, Source: a.Source}
		if ok {
			at := v.Collected
			shown := DisplayValue(v, os)
			item.Value, item.Display, item.Items, item.CollectedAt = v.Value, shown.Text, shown.Items, &at
		}
		r.CanSee = append(r.CanSee, item)
	}
	if !d.LastInventory.IsZero() && len(apps) > 0 {
		at := d.LastInventory
		r.Apps.CollectedAt = &at
	}
	for _, a := range apps {
		switch {
		case a.Managed:
			r.Apps.Managed = append(r.Apps.Managed, ReportApp{Identifier: a.Identifier, Name: a.Name, Version: a.Version, State: a.State})
		case a.NameOnly():
			r.Apps.Personal = append(r.Apps.Personal, ReportApp{Name: a.Name})
		default:
			r.Apps.Personal = append(r.Apps.Personal, ReportApp{Identifier: a.Identifier, Name: a.Name})
		}
	}
	for _, c := range Forbidden() {
		r.CannotSee = append(r.CannotSee, ReportCategory{Category: c.Key, Label: c.Label})
	}
	r.Wipe = wipe(d, opts)
	return r
}

// Preview is the report of a device that is not enrolled yet, for its
// user to read before agreeing: every attribute the organization will be
// able to see on a device of this platform, ownership and enrollment
// type (with no values: none is collected), what it can never see, and
// what removal it can trigger — built by [BuildReport] from the same
// contract as the report of an enrolled device, so that the promise made
// before enrollment is the one kept after it.
func Preview(p Platform, own Ownership, typ EnrollmentType, opts ReportOptions, now time.Time) Report {
	return BuildReport(Device{Platform: p, Ownership: own, EnrollmentType: typ, State: StatePending}, nil, nil, opts, now)
}

// reportedOn reports whether the attribute can hold a value for a device
// running os: its platform reports it, in the version it runs when that
// is known (a Mac before 13.3 has no model number, an iPhone no firewall
// setting).
func (a Attribute) reportedOn(os OS) bool {
	switch {
	case a.Source == SourceDirectory:
		return true
	case os.Platform == PlatformAndroid:
		return a.Android != ""
	default:
		return len(a.AppleOn(os)) > 0
	}
}

func wipe(d Device, opts ReportOptions) ReportWipe {
	w := ReportWipe{SelectiveWipe: true}
	switch {
	case !d.FactoryResetPermitted():
		w.Explanation = "Your organization can remove only its own apps, profiles and data from this device. " +
			"It cannot erase the device: it is personally owned or enrolled with a work profile or User Enrollment."
	case !opts.FullWipeAllowed:
		w.Explanation = "Your organization can remove only its own apps, profiles and data from this device. " +
			"Its policy does not allow erasing the device."
	default:
		w.FactoryReset = true
		w.Explanation = "Your organization can remove its own apps, profiles and data, " +
			"and its policy allows erasing this company-owned device (factory reset)."
	}
	return w
}
