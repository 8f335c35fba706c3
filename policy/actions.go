package policy

// Audit actions written by this package. The values are stored in audit rows
// and matched by queries, so they never change once released.
const (
	// ActionPolicyCreate records a policy added.
	ActionPolicyCreate = "policy.create"
	// ActionPolicyUpdate records a policy changed.
	ActionPolicyUpdate = "policy.update"
	// ActionPolicyDelete records a policy removed.
	ActionPolicyDelete = "policy.delete"
)
