package checkin

// Audit actions written by this package. The values are stored in audit rows
// and matched by queries, so they never change once released.
const (
	// ActionAuthenticate records a device's Authenticate message, which
	// clears what an earlier enrollment left queued.
	ActionAuthenticate = "device.authenticate"
	// ActionIdentityBind records a device identity certificate bound to its device.
	ActionIdentityBind = "device.identity.bind"
	// ActionReenroll records a re-enrollment that superseded the same user's
	// earlier enrollment of the device.
	ActionReenroll = "device.reenroll"
	// ActionCheckout records a device's CheckOut message.
	ActionCheckout = "device.checkout"
	// ActionProfileInstall records a configuration profile queued for a device.
	ActionProfileInstall = "device.profile.install"
	// ActionInventoryRefresh records inventory queries queued for a device.
	ActionInventoryRefresh = "device.inventory.refresh"
	// ActionDeprovision records a device's management being removed.
	ActionDeprovision = "device.deprovision"
	// ActionErase records an erase queued for a device.
	ActionErase = "device.erase"
	// ActionLock records a lock queued for a device.
	ActionLock = "device.lock"
	// ActionPasscodeClear records a passcode clear queued for a device.
	ActionPasscodeClear = "device.passcode.clear"
)
