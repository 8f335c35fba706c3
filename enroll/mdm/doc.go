// Package mdm holds the Apple MDM protocol's messages and nothing else: it
// decodes check-in messages and command results from devices, within size
// and nesting limits, and encodes commands. It keeps no state and speaks no
// HTTP; the enroll package decides what a message means for an enrollment.
//
// The privacy contract shapes the types. Authenticate carries the device's
// IMEI and MEID, but the decoded [Authenticate] has no field for them, so
// they are dropped while parsing and can reach no store or log. There is no
// constructor for location or Lost Mode commands.
package mdm
