// Package enroll owns the Apple device channel. This package holds the
// records its parts share — enrollment sessions, the identity certificates
// issued to devices, the MDM command queue, and each device's MDM state
// (push token, unlock and bootstrap tokens) — as store contracts that every
// storage backend implements. The protocol work lives in sub-packages, one
// per job:
//
//   - enroll/ota: over-the-air enrollment (phases 1–3) and direct profiles;
//   - enroll/scep: the per-org certificate authority devices get their
//     identity from;
//   - enroll/checkin: the MDM check-in and command endpoints, identity
//     binding, push, and device actions (deprovision, erase, lock);
//   - enroll/mdm: the MDM protocol messages, and nothing else;
//   - enroll/apns: APNs push over HTTP/2.
package enroll
