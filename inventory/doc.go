// Package inventory owns the device registry and the privacy contract: the one
// table of what an organization may and may not see on a device, the queries
// and access rights derived from it, the filter every device report passes
// before storage, and the "what your organization can see" report for users.
//
// # The contract, written once
//
// [Contract] lists each attribute the organization may see (device name,
// the phone number from the directory, serial number, model, storage, OS
// version, security state, our profiles, installed apps), where it comes
// from and how each platform reports it. [Forbidden] lists what it may never
// see, with the device keys known to reveal each category. Everything else
// derives from these two tables:
//
//   - [DeviceInformationQueries], [OTADeviceAttributes] and [AppleRefresh]:
//     what is requested — network identifiers never are;
//   - [Filter]: an allow-list built from the table; every other key of a
//     report is dropped before storage and counted in [Dropped] (names of
//     forbidden keys, never values, are logged);
//   - [AccessRights]: the MDM payload's rights — never network information
//     (32), and no erase (8) unless the policy and the device allow a
//     factory reset;
//   - [BuildReport]: the user-facing report, from the table, the policy and
//     the values actually stored, each with its source and collection time,
//     and in words ([DisplayValue]: a bit mask or a boolean decoded, a
//     capacity in the unit its OS reports, a list as its entries); the
//     stored value stays exactly what the device reported.
//
// The store enforces the same table: [Value.Validate] refuses any key the
// contract does not list or a value from the wrong source (a phone number
// reported by the device), and [App.Validate] a personal app with a version
// or state, so no backend can store more than the contract allows.
//
// # Declarative status
//
// Apple devices under declarative device management report status items
// when they change, instead of answering queries. The contract names the
// items that report each attribute ([Attribute.Status], from Apple's
// schema), so the same table decides what a device is subscribed to
// ([StatusSubscriptions]: the items of the attributes the organization
// may see on that device — never the UDID, never battery health) and what
// is kept of a status report ([Filter.Declarative], [Service.IngestDeclarative]):
// every other item is dropped and counted like an unknown result key. The
// declarative app list names the organization's apps only; its entries
// change the app list one by one.
//
// Some attributes are hidden on some enrollments ([Attribute.Hidden]): a
// User Enrollment keeps the device's serial number from the organization,
// so it is never asked for there, dropped if a device reports it anyway,
// and absent from the user's report.
//
// # Apple devices across OS versions
//
// Apple renamed and added result keys over the years. Each attribute lists
// the keys it is read from ([AppleKey]), with the platforms and the first
// OS versions reporting them, taken from Apple's schema (the tests check
// the table against it): the model number is ModelNumber from iOS 16.4 and
// macOS 13.3, and Model before on iPhone and iPad (a Mac's Model is its
// model identifier, never taken for a model number); encryption is the
// hardware encryption bit mask on iPhone and iPad and FileVault on a Mac;
// the passcode rows exist on iPhone and iPad, the firewall and System
// Integrity Protection on a Mac (10.12 and later). A result is read by the
// device's platform and the OS version it reported ([OS]): the version in
// a DeviceInformation result itself, otherwise the stored one. Keys of
// another platform are dropped; the FileVault recovery key is forbidden.
//
// A profile list is kept only where the device can say which profiles MDM
// installed: an entry's IsManaged, or ManagedOnly honoured (iOS 13, macOS
// 10.15). Older Macs list the user's profiles and the enrollment profile
// without saying so; their list is not stored, so no platform lists the
// enrollment profile. A Mac app without a bundle identifier (an installer,
// a web app) is kept by name ([NameOnlyPrefix]), never a folder, and always
// as a personal app.
//
// # Apps
//
// Personal apps are kept as identifier and name only. Apple's installed-app
// list does not say which apps are managed; the ManagedApplicationList does,
// so ingest merges the two with the stored list (re-reading on a concurrent
// change): queue the managed list first ([AppleRefresh] does).
//
// Only an app the organization installed and the user accepted is managed
// and keeps its version and state: every status of Apple's list is
// classified ([AppleAppStatus]). An install under way, failed or refused,
// or a managed app the user deleted, is kept as the organization's request
// (identifier and status); a copy of it on the device stays personal until
// the status says managed. The user's own app (installed before the
// organization's install came, or its management refused or not yet
// accepted) keeps its name only. On Android,
// apps count as managed on work-profile and fully managed devices (the
// report then covers only the organization's apps); the legacy modes'
// reports keep names only.
//
// # Registry and audit
//
// A [Device] is one enrollment: pending → enrolled → deprovisioning →
// deprovisioned or wiped, checked by [CheckTransition] inside the store's
// transaction. Every state change is audited in the same transaction;
// reaching a terminal state erases the device's inventory. Inventory writes
// and last-seen updates are not audited: they recur daily per device, hold
// only what the contract allows, and each value keeps its collection time.
//
// Security state (encryption, whether a passcode is set and compliant; on a
// Mac FileVault, the firewall and System Integrity Protection) and the
// identifiers of the profiles we installed are stored too: they come from
// SecurityInfo and ProfileList, so they are rows of the contract and
// appear in the user's report like everything else.
//
// The phone number comes from the organization's directory through
// [Directory], a subset of auth.Directory: the directory the rest of the
// SDK uses serves here unchanged.
package inventory
