// Package catalog owns the private app store: App Store, in-house and Play
// apps with their managed configuration, their assignment to directory
// groups, each user's store view on each device, and the install and
// removal of managed apps, including detection (and, where the platform
// allows, take-over) of copies the user installed themselves.
//
// # The model
//
// An [App] is an iOS App Store app (bundle ID and App Store ID), an iOS
// in-house app (bundle ID, https manifest URL and bundle version) or an
// Android Play app (package name), with what the store shows and a managed
// configuration of typed entries whose strings may hold placeholders
// (${user.login}, ${user.email} …) resolved per user at install time. Bad
// input — a manifest URL that is not https, a bundle ID already in the
// catalog, a lower in-house version, an unknown placeholder — is refused
// with storage.ErrInvalid or storage.ErrAlreadyExists before anything is
// stored.
//
// An [Assignment] puts an app in the store of a group's members with a
// [Mode]: Available (the user installs it), AutoInstall (installed at
// enrollment, or at once on devices already enrolled) or TakeOver (as
// AutoInstall, and a copy the user installed is taken over where
// [TakeOverSupported] says the device can).
//
// # The store view
//
// [Service.View] lists every app assigned to any of the user's groups that
// runs on the device, with its [State]. It is computed on every call, not
// stored: from the apps the device last reported (inventory keeps them,
// managed flag, version and status included) and from the catalog's own
// record of its latest request for the app on that device ([Install]).
// The report decides, except where the request is newer than the report
// (a queued install shows Installing, a failure shows its reason). So a
// new assignment appears in the view at once, and after an inventory
// ingest the view is right by construction: there is no cached state to
// refresh.
//
// # Installs, results and nudges
//
// Apple installs and removals are MDM commands (InstallApplication with
// ManagementFlags remove-on-unenroll and no-backup by default,
// RemoveApplication) queued through the enroll package's command queue;
// the request is recorded first, so the device's answer always finds it.
// The check-in service hands answers to [Service.InstallOutcome]. After
// queueing, the device is nudged through a [Nudger] (APNs, or Android's
// channel), wired by the composition root. Android Play apps are stored and
// shown now; installing them yields [ErrUnsupportedChannel] until the
// android package's AMAPI channel lands.
//
// # Dependencies
//
// The package does not import auth: people come through the small
// [Directory] interface (groups of a user, members of a group, user
// attributes for placeholders), and devices through [Devices], which the
// inventory store satisfies. The composition root authenticates HTTP
// requests and hands the principal to the handlers ([WithPrincipal]);
// org and user IDs are never read from a request body.
package catalog
