package ota

// Audit actions written by this package. The values are stored in audit rows
// and matched by queries, so they never change once released.
const (
	// ActionSessionCreate records an enrollment session opened.
	ActionSessionCreate = "enroll.session.create"
	// ActionPhase1 records phase 1 of over-the-air enrollment: the attribute query sent.
	ActionPhase1 = "enroll.ota.phase1"
	// ActionPhase2 records phase 2: the device's attributes received, the identity profile sent.
	ActionPhase2 = "enroll.ota.phase2"
	// ActionPhase3 records phase 3: the enrollment profile sent.
	ActionPhase3 = "enroll.ota.phase3"
	// ActionDirectProfile records the enrollment profile downloaded directly.
	ActionDirectProfile = "enroll.direct.profile"
	// ActionPolicyOutOfPolicy records a device whose policy could not be applied.
	ActionPolicyOutOfPolicy = "device.policy.out_of_policy"
	// ActionPolicyRecorded records a device's policy recorded without a change to send.
	ActionPolicyRecorded = "device.policy.recorded"
	// ActionPolicyReapply records a changed policy sent to a device.
	ActionPolicyReapply = "device.policy.reapply"
)
