package android

// Audit actions written by this package. The values are stored in audit rows
// and matched by queries, so they never change once released.
const (
	// ActionTokenCreate records an enrollment token issued.
	ActionTokenCreate = "android.token.create"
	// ActionTokenUse records an enrollment token spent by a device.
	ActionTokenUse = "android.token.use"
	// ActionDeviceEnroll records a device enrolled with a token.
	ActionDeviceEnroll = "android.device.enroll"
	// ActionDeviceCredential records a device's credential rotated for its user.
	ActionDeviceCredential = "android.device.credential"
	// ActionDeviceOutOfPolicy records a device whose policy could not be applied.
	ActionDeviceOutOfPolicy = "android.device.out_of_policy"
	// ActionDevicePolicyRecorded records a device's policy recorded without a change to send.
	ActionDevicePolicyRecorded = "android.device.policy.recorded"
	// ActionDevicePolicyReapply records a changed policy sent to a device.
	ActionDevicePolicyReapply = "android.device.policy.reapply"
	// ActionCommandCreate records a command queued for a device.
	ActionCommandCreate = "android.command.create"
	// ActionCommandPrefix starts the action recording a command's result; the
	// Status follows it ("android.command.done").
	ActionCommandPrefix = "android.command."
)
