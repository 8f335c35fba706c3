package inventory

// AppClass is what an app's status in Apple's ManagedApplicationList makes
// of it for the privacy contract.
type AppClass int

const (
	// AppManaged: the organization installed the app and the user
	// accepted it (an update may be under way). It is managed: its version
	// and state are kept.
	AppManaged AppClass = iota + 1
	// AppRequested: the organization asked for the app and the device has
	// not (or no longer) installed it as managed: the install is queued,
	// prompting, downloading, failed or refused, or the user deleted the
	// managed app. The request is kept (identifier and status, nothing
	// else); a copy of the app on the device stays personal, name only,
	// until the status says managed.
	AppRequested
	// AppPersonal: the user's own app: installed before the organization's
	// install came, or its management refused or still awaiting the user.
	// Nothing of the entry is kept; the installed-app list keeps the app as
	// personal.
	AppPersonal
)

// String names the class.
func (c AppClass) String() string {
	switch c {
	case AppManaged:
		return "managed"
	case AppRequested:
		return "requested"
	case AppPersonal:
		return "personal"
	}
	return "unknown"
}

// AppleAppStatus classifies a Status of Apple's ManagedApplicationList;
// every status of Apple's schema is known. Only a status saying that the
// organization installed the app and the user accepted it is AppManaged.
// A status this package does not know (known is false) is AppRequested:
// never managed, so that an app whose state nobody can read is not given
// a version.
func AppleAppStatus(status string) (class AppClass, known bool) {
	switch status {
	// Installed by the organization, accepted by the user.
	case "Managed", "Updating", "ValidatingUpdate", "PromptingForUpdate", "PromptingForUpdateLogin",
		"UpdateRejected": // the update was refused; the app stays managed
		return AppManaged, true
	// The organization's install, not (or no longer) a managed app on the
	// device.
	case "Queued", "NeedsRedemption", "Redeeming", "Prompting", "PromptingForLogin", "ValidatingPurchase",
		"Installing", "ManagedButUninstalled", "UserRejected", "Failed", "Unknown":
		return AppRequested, true
	// The user's app.
	case "UserInstalledApp", "PromptingForManagement", "ManagementRejected":
		return AppPersonal, true
	}
	return AppRequested, false
}
