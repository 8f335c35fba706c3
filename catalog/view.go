package catalog

import (
	"time"

	"github.com/openomm/omm/inventory"
)

// State is what the store shows for an app on a device.
type State string

const (
	// StateAvailable: not on the device; the user may install it.
	StateAvailable State = "Available"
	// StateInstalling: an install is under way (queued, accepted, or the
	// device reports it in progress).
	StateInstalling State = "Installing"
	// StateInstalled: the device reports the app installed and managed.
	StateInstalled State = "Installed"
	// StateUnmanaged: the device reports a copy the user installed
	// themselves; the organization does not manage it.
	StateUnmanaged State = "Unmanaged"
	// StateFailed: the install failed; Reason says why.
	StateFailed State = "Failed"
	// StateUserRejected: the user declined the install or the take-over.
	StateUserRejected State = "UserRejected"
	// StateRemoving: the user (or an unassignment) asked for removal and
	// the device has not answered yet, so the app may still be there.
	StateRemoving State = "Removing"
)

// Advice shown with an unmanaged copy.
const (
	AdviceRemove   = "This app was installed before the device was managed, so your organization cannot protect its work data. Remove it, then install it from this store."
	AdviceTakeOver = "This app was installed before the device was managed. You can let your organization manage the installed copy; your data in it stays."
)

// Item is one assigned app in a user's store on one device.
type Item struct {
	App   App
	Mode  Mode
	State State
	// Reason says why an install failed or was declined.
	Reason string
	// InstalledVersion is the version the device reports for a managed
	// copy, when it reports one.
	InstalledVersion string
	// UpdateAvailable: an in-house app is installed from a lower bundle
	// version than the catalog now holds; installing again updates it.
	// (Judged from the version the install sent, since devices report the
	// user-visible version, which need not follow the bundle version.)
	UpdateAvailable bool
	// Advice is shown with an unmanaged copy; TakeOver says the user may
	// have the copy taken over instead of removing it.
	Advice   string
	TakeOver bool
}

// View is a user's store on one device.
type View struct {
	Device inventory.Device
	Items  []Item // ordered by app name, then ID
	// Closed says why nothing can be installed on or removed from the
	// device (it is not under management: not yet, or no longer); empty
	// when the store is open. The items then show their last known state.
	Closed string
}

// Closed says why the store of a device in state st is closed, or ""
// when it is open (the device is enrolled).
func Closed(st inventory.State) string {
	switch st {
	case inventory.StateEnrolled:
		return ""
	case inventory.StatePending:
		return "The device has not completed its enrollment: apps can be installed once it has."
	case inventory.StateDeprovisioning:
		return "The device is leaving management: nothing can be installed on it any more."
	}
	return "The device is no longer managed: nothing can be installed on it."
}

// TakeOverSupported reports whether a copy of an app of kind k that the
// user installed on device d can be taken over as managed, and if not,
// why. On iPhone and iPad an InstallApplication with
// ChangeManagementState "Managed" does it (iOS 9 and later; supervised
// devices switch silently, others ask the user), except on a User
// Enrollment, where Apple forbids it. Macs need options this catalog does
// not model, and Android offers no take-over of a personally installed
// app: the work copy is a separate install.
func TakeOverSupported(d inventory.Device, k Kind) (bool, string) {
	switch {
	case !k.RunsOn(d.Platform):
		return false, "the app is not for this device's platform"
	case k.Family() != "apple":
		return false, "Android cannot take over an app the user installed"
	case d.EnrollmentType == inventory.EnrollAppleUser:
		return false, "a User Enrollment cannot take over apps"
	}
	return true, ""
}

// reported is what the device's app list says about one app.
type reported struct {
	app     inventory.App
	present bool
}

// derive computes an item's state from the device's reported apps and the
// server's latest request. The report decides, except where the request is
// newer: an open request (queued install or removal) stands until a report
// taken after it settles it; a finished request that is newer than the
// last report explains what the report cannot show yet (a failure's
// reason, a removal, an accepted install).
func derive(it Item, rep reported, rec *Install, lastInventory time.Time, d inventory.Device) Item {
	it = deriveState(it, rep, rec, lastInventory, d)
	if it.State == StateInstalled && it.App.Kind == InHouse && rec != nil && rec.Progress == Accepted && rec.BundleVersion != "" {
		if c, err := CompareBundleVersions(rec.BundleVersion, it.App.BundleVersion); err == nil && c < 0 {
			it.UpdateAvailable = true
		}
	}
	return it
}

func deriveState(it Item, rep reported, rec *Install, lastInventory time.Time, d inventory.Device) Item {
	// A report taken at the very time of the request counts as older: the
	// request was made looking at that report.
	reportAfter := rec == nil || lastInventory.After(rec.Updated)
	switch {
	case rec != nil && rec.Progress == Queued:
		if reportAfter {
			if st := fromReport(it, rep, d); st.State == StateInstalled || st.State == StateUserRejected || st.State == StateFailed {
				return st
			}
		}
		it.State = StateInstalling
		return it
	case rec != nil && rec.Progress == Removing:
		if reportAfter && !(rep.present && rep.app.Managed) {
			return fromReport(it, rep, d)
		}
		it.State = StateRemoving
		return it
	case rec != nil && !reportAfter:
		switch rec.Progress {
		case Accepted:
			it.State = StateInstalling
			return it
		case Failed:
			it.State, it.Reason = StateFailed, rec.Reason
			return it
		case Rejected:
			it.State, it.Reason = StateUserRejected, rec.Reason
			return it
		}
		// Removed: the report predates the removal.
		if rep.present && !rep.app.Managed {
			return fromReport(it, rep, d)
		}
		it.State = StateAvailable
		return it
	}
	if !rep.present && rec != nil {
		// A failure or refusal leaves no trace in the app list; keep
		// showing it until the user tries again.
		switch rec.Progress {
		case Failed:
			it.State, it.Reason = StateFailed, rec.Reason
			return it
		case Rejected:
			it.State, it.Reason = StateUserRejected, rec.Reason
			return it
		}
	}
	return fromReport(it, rep, d)
}

// fromReport maps the device's own report of the app to a state.
func fromReport(it Item, rep reported, d inventory.Device) Item {
	switch {
	case !rep.present:
		it.State = StateAvailable
		return it
	case !rep.app.Managed:
		return unmanaged(it, d)
	}
	switch rep.app.State {
	// Apple's ManagedApplicationList statuses.
	case "Managed", "UpdateRejected", "Updating", "PromptingForUpdate", "PromptingForUpdateLogin", "ValidatingUpdate":
		it.State = StateInstalled
	case "ManagedButUninstalled":
		it.State = StateAvailable
		return it
	case "UserRejected", "ManagementRejected":
		it.State, it.Reason = StateUserRejected, "declined on the device"
		return it
	case "Failed":
		it.State, it.Reason = StateFailed, "the device reported that the installation failed"
		return it
	case "UserInstalledApp":
		return unmanaged(it, d)
	// Android (AMAPI application report).
	case "INSTALLED":
		it.State = StateInstalled
	case "", "Unknown":
		// Listed as managed without a status: installed when the
		// installed-apps list names it, otherwise still arriving.
		if rep.app.Name == "" {
			it.State = StateInstalling
			return it
		}
		it.State = StateInstalled
	default: // Queued, Prompting, Installing, Redeeming …
		it.State = StateInstalling
		return it
	}
	it.InstalledVersion = rep.app.Version
	return it
}

func unmanaged(it Item, d inventory.Device) Item {
	it.State = StateUnmanaged
	it.Advice = AdviceRemove
	if ok, _ := TakeOverSupported(d, it.App.Kind); ok && it.Mode == TakeOver {
		it.Advice, it.TakeOver = AdviceTakeOver, true
	}
	return it
}
