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

// appleAppStatuses classifies every Status of Apple's
// ManagedApplicationList schema.
var appleAppStatuses = map[string]AppClass{
	// Installed by the organization, accepted by the user.
	"Managed":                 AppManaged,
	"Updating":                AppManaged,
	"ValidatingUpdate":        AppManaged,
	"PromptingForUpdate":      AppManaged,
	"PromptingForUpdateLogin": AppManaged,
	"UpdateRejected":          AppManaged, // the update was refused; the app stays managed
	// The organization's install, not (or no longer) a managed app on the
	// device.
	"Queued":                AppRequested,
	"NeedsRedemption":       AppRequested,
	"Redeeming":             AppRequested,
	"Prompting":             AppRequested,
	"PromptingForLogin":     AppRequested,
	"ValidatingPurchase":    AppRequested,
	"Installing":            AppRequested,
	"ManagedButUninstalled": AppRequested,
	"UserRejected":          AppRequested,
	"Failed":                AppRequested,
	"Unknown":               AppRequested,
	// The user's app.
	"UserInstalledApp":       AppPersonal,
	"PromptingForManagement": AppPersonal,
	"ManagementRejected":     AppPersonal,
}

// AppleAppStatus classifies a Status of Apple's ManagedApplicationList.
// Only a status saying that the organization installed the app and the
// user accepted it is AppManaged. A status this package does not know
// (known is false) is AppRequested: never managed, so that an app whose
// state nobody can read is not given a version.
func AppleAppStatus(status string) (class AppClass, known bool) {
	c, ok := appleAppStatuses[status]
	if !ok {
		return AppRequested, false
	}
	return c, true
}
