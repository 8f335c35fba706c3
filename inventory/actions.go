package inventory

// Audit actions written by this package. The values are stored in audit rows
// and matched by queries, so they never change once released.
const (
	// ActionDeviceRegister records a device added to the inventory.
	ActionDeviceRegister = "device.register"
	// ActionDeviceStatePrefix starts the action recording a lifecycle
	// transition; the new State follows it ("device.state.enrolled").
	ActionDeviceStatePrefix = "device.state."
)
