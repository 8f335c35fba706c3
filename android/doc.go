// Package android owns the Android device channel: turning a policy
// decision into an enrollment (work profile, fully managed, Samsung Knox or
// native device admin), enrollment tokens with QR provisioning and
// enrollment links, compilation of the effective requirements into an
// Android Management API policy (work profile and fully managed) or an
// agent policy of device-admin calls (the two legacy modes), the per-device
// agent credential, status reports through the inventory's privacy filter,
// and ownership-aware commands (lock, reset passcode, wipe).
//
// Where to look:
//
//   - mode.go: [PlanFor] consumes the policy decision's AndroidPlan (the
//     mode fallback is decided and explained by package policy) and adds
//     ownership: enrollment type, channel and provisioning method.
//   - record.go: the stored records (Token, Device) and their checks;
//     store.go: the Store contract the backends implement.
//   - provisioning.go, qr.go: the QR provisioning JSON and its PNG, the
//     enrollment links.
//   - compile.go: the Android Management API Policy; agentpolicy.go: the
//     legacy modes' device-admin calls, with the calls that cannot work.
//   - command.go: commands and their pending → done/failed states;
//     service_commands.go: lock, reset passcode and the ownership-aware wipe
//     (the default by ownership and policy, or work data only, or a
//     factory reset where permitted: WipeKindsFor).
//   - service.go: [Service], enrollment, credentials, policy and status.
//   - reapply.go: [Reapplier] brings enrolled devices to a changed policy
//     decision: it updates the stored requirements (the agent gets them at
//     its next poll) and patches the provider policy of managed devices.
//     A policy change never deprovisions anyone: a device the decision no
//     longer admits, or whose mode it no longer chooses, keeps its
//     enrollment and requirements and is recorded as out of policy
//     (policy.Applied) with the reason.
//   - android/amapi: the Android Management API provider interface and
//     types, with a fake; android/amapi/amapitest: a local stand-in for
//     Google's service, device side included; android/agent: the agent
//     protocol over HTTPS.
//
// Apps come from a small [Apps] interface this package declares, so that it
// does not depend on the catalog; the composition root adapts the catalog
// to it.
package android
