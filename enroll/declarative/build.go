package declarative

import (
	"fmt"
	"slices"

	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
)

// Enrollment is Apple's name of an enrollment type, as its schema lists
// the enrollments a declaration is allowed on.
type Enrollment string

// Apple's enrollment types the SDK produces.
const (
	EnrollDevice     Enrollment = "device"
	EnrollUser       Enrollment = "user"
	EnrollSupervised Enrollment = "supervised"
)

// EnrollmentOf returns Apple's enrollment type of a device: User
// Enrollment is "user", Automated Device Enrollment "supervised", a
// profile-based device enrollment "device".
func EnrollmentOf(t inventory.EnrollmentType) Enrollment {
	switch t {
	case inventory.EnrollAppleUser:
		return EnrollUser
	case inventory.EnrollAppleAutomated:
		return EnrollSupervised
	}
	return EnrollDevice
}

// availability is where Apple's schema allows a declaration type: per OS
// family the first version, and the enrollments (empty: any).
type availability struct {
	since       string
	enrollments []Enrollment
}

// Types returns the declaration types the SDK generates, sorted.
func Types() []Type {
	var out []Type
	for t := range support() {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// support is the declaration types the SDK generates and where Apple
// allows each (from Apple's schema; the tests check [Allowed] against
// it). iPadOS shares iOS's entry.
func support() map[Type]map[inventory.Platform]availability {
	all := []Enrollment{EnrollSupervised, EnrollDevice, EnrollUser}
	return map[Type]map[inventory.Platform]availability{
		TypeActivation: {
			inventory.PlatformIOS: {since: "15.0"}, inventory.PlatformMacOS: {since: "13.0"},
		},
		TypeStatusSubscriptions: {
			inventory.PlatformIOS:   {since: "15.0", enrollments: all},
			inventory.PlatformMacOS: {since: "13.0", enrollments: []Enrollment{EnrollSupervised, EnrollUser}},
		},
		TypePasscode: {
			inventory.PlatformIOS:   {since: "15.0", enrollments: all},
			inventory.PlatformMacOS: {since: "13.0", enrollments: []Enrollment{EnrollSupervised}},
		},
		TypeLegacyProfile: {
			inventory.PlatformIOS:   {since: "15.0", enrollments: all},
			inventory.PlatformMacOS: {since: "13.0", enrollments: []Enrollment{EnrollSupervised, EnrollUser}},
		},
		TypeSoftwareUpdate: {
			inventory.PlatformIOS:   {since: "17.0", enrollments: []Enrollment{EnrollSupervised, EnrollDevice}},
			inventory.PlatformMacOS: {since: "14.0", enrollments: []Enrollment{EnrollSupervised}},
		},
		TypeManagedApp: {
			inventory.PlatformIOS: {since: "17.2", enrollments: all},
		},
	}
}

// Allowed reports whether Apple allows declarations of type t on a device
// of platform p running version (empty: unknown, taken as allowed where
// the platform has the type at all) enrolled as e.
func Allowed(t Type, p inventory.Platform, version string, e Enrollment) bool {
	if p == inventory.PlatformIPadOS {
		p = inventory.PlatformIOS
	}
	a, ok := support()[t][p]
	if !ok {
		return false
	}
	if len(a.enrollments) > 0 && !slices.Contains(a.enrollments, e) {
		return false
	}
	return version == "" || compareVersions(version, a.since) >= 0
}

// compareVersions compares dotted versions; an unparsable one counts as
// older than everything.
func compareVersions(a, b string) int {
	va, errA := policy.ParseVersion(a)
	vb, errB := policy.ParseVersion(b)
	switch {
	case errA != nil && errB != nil:
		return 0
	case errA != nil:
		return -1
	case errB != nil:
		return 1
	}
	return va.Compare(vb)
}

// App is a catalog app a device gets as a declarative managed app.
type App struct {
	// ID is the catalog's app ID: the declaration's identifier derives
	// from it, so that it stays when the app's details change.
	ID string `json:"id"`
	// Identifier is the bundle ID.
	Identifier string `json:"identifier"`
	// ManifestURL is the in-house app's https manifest.
	ManifestURL string `json:"manifest_url"`
	// Required installs the app and keeps it installed; otherwise the
	// user may install and remove it.
	Required bool `json:"required,omitempty"`
}

// Target is what one device's declarations are generated from.
type Target struct {
	// Platform and Enrollment are the device's.
	Platform   inventory.Platform
	Enrollment Enrollment
	// Ownership and EnrollmentType decide the status subscriptions, with
	// the privacy contract.
	Ownership      inventory.Ownership
	EnrollmentType inventory.EnrollmentType
	// OSVersion is the OS version the device reported: declarations its
	// OS does not have are left out.
	OSVersion string
	// Requirements are the effective requirements of the device's policy.
	Requirements policy.Requirements
	// Apps are the catalog apps the device gets as declarations.
	Apps []App
	// ProfileURL is where the device downloads the signed profile of the
	// settings that have no declaration (data separation); empty when it
	// needs none.
	ProfileURL string
}

// Declaration identifiers: stable, so that a changed setting is an update
// of the same declaration.
const (
	idActivation        = "omm.activation"
	idActivationNewer   = "omm.activation.passcode-newer"
	idActivationApps    = "omm.activation.apps"
	idSubscriptions     = "omm.status-subscriptions"
	idPasscode          = "omm.passcode"
	idPasscodeNewer     = "omm.passcode.newer"
	idSoftwareUpdate    = "omm.softwareupdate"
	idSettingsProfile   = "omm.settings-profile"
	idAppPrefix         = "omm.app."
	protocolStatusItems = itemDeclarations
)

// newerPasscodeKeys are the passcode keys later than the configuration
// itself: per OS family, the version that introduced them.
var newerPasscodeSince = map[inventory.Platform]string{inventory.PlatformIOS: "16.2", inventory.PlatformMacOS: "13.1"}

// appsSince is the first OS version with declarative app management.
const appsSince = "17.2"

// Build returns the declarations of the device t describes:
//
//   - management.status-subscriptions: the status items the privacy
//     contract lets the organization see on this device
//     (inventory.StatusSubscriptions), and the declarations' own status;
//   - passcode.settings from the passcode rule; the keys Apple added later
//     (letters, symbols, maximum age) in a second configuration, activated
//     by a predicate on the OS version, so that a device that updates its
//     OS applies them without the server;
//   - softwareupdate.enforcement.specific from the OS update rule, where
//     Apple allows it (iOS 17 device and supervised enrollments,
//     supervised Macs from 14);
//   - legacy: the signed settings profile, for what has no declaration
//     (data separation);
//   - app.managed for in-house catalog apps from iOS 17.2, activated by a
//     predicate on the OS version;
//
// and the activations that apply them. Types the device's OS or
// enrollment does not allow are left out.
func Build(t Target) Set {
	on := func(typ Type) bool { return Allowed(typ, t.Platform, t.OSVersion, t.Enrollment) }
	family := t.Platform
	if family == inventory.PlatformIPadOS {
		family = inventory.PlatformIOS
	}
	var ds []Declaration
	var base []string
	add := func(d Declaration, activations ...*[]string) {
		ds = append(ds, d)
		for _, a := range activations {
			*a = append(*a, d.Identifier)
		}
	}
	if on(TypeStatusSubscriptions) {
		items := []any{map[string]any{"Name": protocolStatusItems}}
		dev := inventory.Device{Platform: t.Platform, Ownership: t.Ownership, EnrollmentType: t.EnrollmentType}
		for _, name := range inventory.StatusSubscriptions(dev, inventory.OS{Platform: t.Platform, Version: t.OSVersion}) {
			items = append(items, map[string]any{"Name": name})
		}
		add(newDeclaration(TypeStatusSubscriptions, idSubscriptions, map[string]any{"StatusItems": items}), &base)
	}
	var newer []string
	if pc := t.Requirements.Passcode; pc.Required && on(TypePasscode) {
		main, extra := passcodePayloads(pc)
		add(newDeclaration(TypePasscode, idPasscode, main), &base)
		if len(extra) > 0 {
			add(newDeclaration(TypePasscode, idPasscodeNewer, extra), &newer)
		}
	}
	if u := t.Requirements.OSUpdate; u.Set() && on(TypeSoftwareUpdate) {
		p := map[string]any{"TargetOSVersion": u.TargetVersion, "TargetLocalDateTime": u.Deadline}
		if u.TargetBuild != "" {
			p["TargetBuildVersion"] = u.TargetBuild
		}
		if u.DetailsURL != "" {
			p["DetailsURL"] = u.DetailsURL
		}
		add(newDeclaration(TypeSoftwareUpdate, idSoftwareUpdate, p), &base)
	}
	if t.ProfileURL != "" && on(TypeLegacyProfile) {
		add(newDeclaration(TypeLegacyProfile, idSettingsProfile, map[string]any{"ProfileURL": t.ProfileURL}), &base)
	}
	var apps []string
	if on(TypeManagedApp) {
		for _, a := range t.Apps {
			if a.ManifestURL == "" || a.ID == "" {
				continue
			}
			install := "Optional"
			if a.Required {
				install = "Required"
			}
			add(newDeclaration(TypeManagedApp, idAppPrefix+a.ID, map[string]any{
				"ManifestURL": a.ManifestURL, "InstallBehavior": map[string]any{"Install": install},
			}), &apps)
		}
	}
	if len(base) > 0 {
		ds = append(ds, activation(idActivation, base, ""))
	}
	if len(newer) > 0 {
		ds = append(ds, activation(idActivationNewer, newer, versionPredicate(newerPasscodeSince[family])))
	}
	if len(apps) > 0 {
		ds = append(ds, activation(idActivationApps, apps, versionPredicate(appsSince)))
	}
	return newSet(ds)
}

// activation activates configs, when predicate (if any) holds.
func activation(id string, configs []string, predicate string) Declaration {
	configs = slices.Clone(configs)
	slices.Sort(configs) // the set, not the order it was built in
	list := make([]any, len(configs))
	for i, c := range configs {
		list[i] = c
	}
	p := map[string]any{"StandardConfigurations": list}
	if predicate != "" {
		p["Predicate"] = predicate
	}
	return newDeclaration(TypeActivation, id, p)
}

// versionPredicate holds on an OS version at least v. Apple's predicates
// compare the version as text: right for the versions Apple ships (two
// digit majors, one digit minors after them), which is what v is.
func versionPredicate(v string) string {
	return "@status(device.operating-system.version) >= '" + v + "'"
}

// passcodePayloads turns a passcode rule into the passcode.settings
// payload of the keys every version has, and one of the keys Apple added
// later (nil when the rule uses none). Values are held to the ranges of
// Apple's schema (the policy clamps them per platform already).
func passcodePayloads(pc policy.Passcode) (main, newer map[string]any) {
	main = map[string]any{"RequirePasscode": true}
	if !pc.AllowSimple {
		main["RequireComplexPasscode"] = true
	}
	if pc.MinLength > 0 {
		main["MinimumLength"] = min(pc.MinLength, 16)
	}
	if pc.MaxFailedAttempts >= 2 {
		main["MaximumFailedAttempts"] = min(pc.MaxFailedAttempts, 11)
	}
	if pc.AutoLockMinutes > 0 {
		main["MaximumInactivityInMinutes"] = min(pc.AutoLockMinutes, 15)
	}
	if pc.GracePeriodMinutes > 0 {
		main["MaximumGracePeriodInMinutes"] = pc.GracePeriodMinutes
	}
	if pc.History > 0 {
		main["PasscodeReuseLimit"] = min(pc.History, 50)
	}
	newer = map[string]any{}
	if pc.RequireLetters {
		newer["RequireAlphanumericPasscode"] = true
	}
	if pc.MinSymbols > 0 {
		newer["MinimumComplexCharacters"] = min(pc.MinSymbols, 4)
	}
	if pc.MaxAgeDays > 0 {
		newer["MaximumPasscodeAgeInDays"] = min(pc.MaxAgeDays, 730)
	}
	if len(newer) == 0 {
		return main, nil
	}
	return main, newer
}

// Minimum OS versions of the declarative channel: Apple's first releases
// with declarative device management.
var minOS = map[inventory.Platform]string{inventory.PlatformIOS: "15.0", inventory.PlatformMacOS: "13.0"}

// Eligible reports whether device d, running osVersion, is managed
// through declarations, and says why or why not in words for people. The
// device must be an Apple device whose OS has declarative management and
// whose enrollment allows the status channel (on a Mac: supervised or
// User Enrollment; a profile-enrolled Mac keeps the command path). An
// unknown OS version keeps the command path until the device reports one.
func Eligible(d inventory.Device, osVersion string) (bool, string) {
	if !d.Platform.Apple() {
		return false, "declarative device management is Apple's"
	}
	family := d.Platform
	if family == inventory.PlatformIPadOS {
		family = inventory.PlatformIOS
	}
	name := map[inventory.Platform]string{inventory.PlatformIOS: "iOS", inventory.PlatformMacOS: "macOS"}[family]
	if d.Platform == inventory.PlatformIPadOS {
		name = "iPadOS"
	}
	if _, err := policy.ParseVersion(osVersion); err != nil {
		return false, "commands until the device reports its OS version"
	}
	if compareVersions(osVersion, minOS[family]) < 0 {
		return false, fmt.Sprintf("commands: %s %s predates declarative device management (%s %s)", name, osVersion, name, minOS[family])
	}
	e := EnrollmentOf(d.EnrollmentType)
	if !Allowed(TypeStatusSubscriptions, d.Platform, osVersion, e) {
		return false, fmt.Sprintf("commands: %s allows declarative management on %s enrollments only, not on a %s enrollment",
			name, joinEnrollments(support()[TypeStatusSubscriptions][family].enrollments), e)
	}
	return true, fmt.Sprintf("declarative: %s %s, %s enrollment", name, osVersion, e)
}

func joinEnrollments(es []Enrollment) string {
	s := ""
	for i, e := range es {
		switch {
		case i == 0:
		case i == len(es)-1:
			s += " and "
		default:
			s += ", "
		}
		s += string(e)
	}
	return s
}
