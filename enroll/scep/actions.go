package scep

// Audit actions written by this package. The values are stored in audit rows
// and matched by queries, so they never change once released.
const (
	// ActionCACreate records an org's SCEP CA created.
	ActionCACreate = "enroll.scep.ca.create"
	// ActionCASeal records an org's CA key re-sealed under the current key.
	ActionCASeal = "enroll.scep.ca.seal"
	// ActionIssue records a device identity certificate issued.
	ActionIssue = "enroll.scep.issue"
	// ActionRenew records a device identity certificate renewed.
	ActionRenew = "enroll.scep.renew"
)
