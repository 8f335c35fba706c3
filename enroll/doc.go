// Package enroll owns the Apple device channel: the over-the-air profile
// service, the per-org SCEP certificate authority, MDM check-in, the command
// queue and its results, APNs push, binding device certificates to
// enrollments, and deprovisioning and erase for Apple devices.
package enroll
