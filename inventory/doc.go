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
//     the values actually stored, each with its source and collection time.
//
// The store enforces the same table: [Value.Validate] refuses any key the
// contract does not list or a value from the wrong source (a phone number
// reported by the device), and [App.Validate] a personal app with a version
// or state, so no backend can store more than the contract allows.
//
// # Apps
//
// Personal apps are kept as identifier and name only. Apple's installed-app
// list does not say which apps are managed; the ManagedApplicationList does,
// so ingest merges the two with the stored list (re-reading on a concurrent
// change): queue the managed list first ([AppleRefresh] does). On Android,
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
// Security state (encryption, whether a passcode is set and compliant) and
// the identifiers of the profiles we installed are stored too: the issue
// asks to ingest SecurityInfo and ProfileList, so they are rows of the
// contract and appear in the user's report like everything else.
//
// The phone number comes from the organization's directory through
// [PhoneBook]; the composition root adapts the auth package's directory to
// it, so that this package does not depend on auth.
package inventory
