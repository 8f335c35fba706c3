// Package declarative runs Apple's declarative device management for the
// SDK: the channel on the device's MDM identity, declarations generated
// per device from what the SDK already knows (policy, ownership, platform,
// OS version, the app catalog, the privacy contract), and status reports
// taken through the privacy filter into the inventory and into the
// device's compliance.
//
// The package lives beside enroll/checkin rather than inside it: the
// check-in service verifies the device's identity and binding exactly as
// for every other check-in message, then hands DeclarativeManagement
// messages to a [Service] (checkin.WithDeclarative). Everything about
// declarations is here.
//
// # The channel
//
// A device is turned on when its inventory shows an OS and an enrollment
// that have the channel ([Eligible]: iOS and iPadOS 15, macOS 13, and on
// a Mac only supervised and User Enrollments). [Service.Inventoried]
// queues the DeclarativeManagement command with the synchronisation
// tokens, and removes the policy profile MDM installed at enrollment,
// which the declarations replace. From then on the device fetches the
// tokens, the declaration items and each declaration it lacks, and
// reports status. Devices the channel does not suit keep the command path;
// the choice is per device and [Service.Channel] says which and why.
//
// Each declaration's ServerToken is a digest of its type, identifier and
// payload, and the declarations token a digest of every declaration's
// token, so tokens change exactly when the device's effective declarations
// do: a policy change that leaves them alone sends nothing; one that
// changes them queues one DeclarativeManagement command with the new
// tokens and one push ([Service.Apply]).
//
// The channel is turned on per enrollment ([State.Enrollment]): a device
// that enrolls again (erased, or its MDM profile removed and installed
// again) is sent DeclarativeManagement again even though its declarations
// did not change. A server that remembers only "tokens unchanged" never
// tells such a device anything, and the device never learns its
// declarations.
//
// # Declarations
//
// [Build] makes them: status subscriptions from the privacy contract
// (inventory.StatusSubscriptions: only what the organization may see on
// that device, for its ownership and enrollment type), passcode settings
// from the passcode rule, the OS update enforcement from the policy's OS
// update, the signed settings profile as a legacy configuration for data
// separation (which has no declaration), in-house catalog apps as
// declarative managed apps from iOS 17.2, and the activations. Keys and
// types Apple introduced later than the channel are activated by a
// predicate on the OS version, so a device that updates applies them
// itself. A device out of policy keeps the declarations it has.
//
// # Status
//
// [ParseStatus] reads a report within size, nesting and value limits.
// Status items go to the inventory through the privacy filter
// (inventory.Service.IngestDeclarative): what the contract does not list
// is dropped and counted. The declarations' own states are stored, and
// [Evaluate] recomputes compliance from them, from the passcode state and
// from the OS version against the policy's minimum and OS update.
//
// # Events
//
// The SDK has no event system yet. [WithEvents] is the hook: it receives
// an [Event] when the channel is turned on, when declarations change,
// with every status report, and when compliance changes.
//
// # The settings profile
//
// The legacy configuration names an https URL under the MDM server
// ([ProfilePattern]) that carries a per-device secret and the profile's
// fingerprint; the profile is the signed one enroll/ota builds, without
// the passcode (which has its own declaration).
package declarative
