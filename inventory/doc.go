// Package inventory owns the device registry and the privacy contract: the one
// table of what an organization may and may not see on a device, the queries
// and access rights derived from it, the filter every device report passes
// before storage, and the "what your organization can see" report for users.
package inventory
