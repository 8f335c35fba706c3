package catalog

// Audit actions written by this package. The values are stored in audit rows
// and matched by queries, so they never change once released.
const (
	// ActionAppCreate records an app added to the catalog.
	ActionAppCreate = "catalog.app.create"
	// ActionAppUpdate records a catalog app changed.
	ActionAppUpdate = "catalog.app.update"
	// ActionAppDelete records an app removed from the catalog.
	ActionAppDelete = "catalog.app.delete"
	// ActionAssignmentCreate records an app assigned to a group.
	ActionAssignmentCreate = "catalog.assignment.create"
	// ActionAssignmentUpdate records an assignment changed.
	ActionAssignmentUpdate = "catalog.assignment.update"
	// ActionAssignmentDelete records an assignment removed.
	ActionAssignmentDelete = "catalog.assignment.delete"
	// ActionInstallRequest records an install sent to a device.
	ActionInstallRequest = "catalog.install.request"
	// ActionInstallTakeOver records an install that takes over an app the user installed.
	ActionInstallTakeOver = "catalog.install.take_over"
	// ActionInstallRemove records a removal sent to a device.
	ActionInstallRemove = "catalog.install.remove"
	// ActionCommandQueue records an MDM command queued for a device.
	ActionCommandQueue = "mdm.command.queue"
	// ActionInstallPrefix starts the action recording an install's final
	// state; the state follows it ("catalog.install.installed").
	ActionInstallPrefix = "catalog.install."
)
