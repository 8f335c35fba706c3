// Package amapitest is a local stand-in for Google's Android Management API:
// an [amapi.Provider] that keeps enterprises' policies, enrollment tokens,
// devices and commands in memory and behaves like Google's service in the
// ways the SDK depends on, plus the device side (what Android Device Policy
// does on a phone) as plain methods and as an http.Handler, so that
// simulated devices can enroll against it over HTTPS.
//
// What it holds to, as Google does:
//
//   - Policies are validated against Google's discovery document for the
//     API (unknown fields, deprecated, output-only or *_UNSPECIFIED values
//     are refused with amapi.ErrInvalid).
//   - Enrollment tokens expire (default one hour), may be one-time, and
//     name an existing policy; a device enrolled with one carries the
//     token's additional data as enrollmentTokenData.
//   - A device provisioned by QR code at setup is fully managed
//     (DEVICE_OWNER, COMPANY_OWNED); one enrolled through a link while in
//     use gets a work profile (PROFILE_OWNER, PERSONALLY_OWNED).
//   - The Device resource reports only what the policy's
//     statusReportingSettings switch on; a work profile reports only the
//     apps inside it.
//   - WIPE factory resets a company-owned device and removes the work
//     profile of a personal one; devices.delete does the same by management
//     mode; RELINQUISH_OWNERSHIP is for company-owned work profiles only.
//     A deleted device answers amapi.ErrNotFound.
//
// Where it differs: the simulated device is always online, so a command's
// operation is done as soon as it is issued; notifications (Google's
// Pub/Sub ENROLLMENT and STATUS_REPORT messages) are delivered by calling a
// function, synchronously, after the change.
package amapitest
