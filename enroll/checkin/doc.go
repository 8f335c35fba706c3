// Package checkin owns the MDM connection of enrolled Apple devices: the
// check-in endpoint (Authenticate, TokenUpdate, CheckOut and the rest), the
// command endpoint where devices fetch queued commands and return results,
// device identity (TLS client certificate or Mdm-Signature) and its binding
// to one device, waking devices through APNs, and the device actions
// (deprovision, erase, lock, clear passcode) built on the command queue.
//
// # Identity
//
// Every request must prove it comes from a device identity our org's SCEP CA
// issued and recorded (enroll.IdentityStore), either as the TLS client
// certificate or by an Mdm-Signature header over the body. The first
// Authenticate binds the identity to the device's inventory record; from then
// on the identity is accepted for that device only. A renewed identity binds
// to the device its predecessor was bound to. Refusals are 400 (no identity
// at all, malformed body) or 403 (unknown, foreign or mis-bound identity),
// never 401: a 401 makes a device remove its enrollment.
//
// # Decisions
//
//   - UserAuthenticate is declined with 410 Gone: user channels are not
//     supported, and Apple defines 410 as the refusal that keeps the device
//     channel working.
//   - DeclarativeManagement messages go, once the device's identity and
//     binding are verified like any message's, to the declarative service
//     the embedder configures (WithDeclarative; enroll/declarative), which
//     turns the channel on for devices that suit it after their inventory
//     shows their OS version. Without one they are answered 404 and
//     devices keep the command path. GetToken is not supported (404).
//   - Devices enrolled through the user-driven flows are personally owned
//     unless the enrollment says otherwise, so full erase is refused for
//     them by inventory.Device.FactoryResetPermitted as well as by the MDM
//     profile's access rights.
//   - A TokenUpdate always overwrites token and push magic; the unlock token
//     is replaced when the message carries one (a later message without it
//     does not revoke the escrowed token, which ClearPasscode needs).
package checkin
