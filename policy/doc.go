// Package policy owns mobile policies: ordered, group-targeted rules per
// platform, their evaluation into an enrollment decision with reasons, and the
// effective requirements a device must then satisfy (passcode, encryption,
// minimum OS, an enforced OS update with its deadline, jailbreak and root,
// data separation, Android enrollment mode priority and wipe permissions).
//
// The agent PIN policy (length, simple PINs, idle timeout, expiry, lockout)
// is not here: it belongs to auth, which owns sign-in. This package does not
// import auth either; groups are the directory's group IDs as plain strings,
// and evaluation takes the user's group IDs as input.
//
// # The model
//
// A [Policy] targets directory groups and has a priority, unique within its
// org; the lowest number is tried first. It holds at most one [Rule] per
// [Platform] (iOS, which covers iPadOS; Android; macOS) whose [Action] is
// Require, Allow or Deny, plus the [Requirements] a device enrolled under
// it must satisfy. Every org also has a built-in default policy ([Default])
// that is not stored, cannot be edited, applies to everyone no stored policy
// targets and denies enrollment on every platform.
//
// # Evaluation
//
// A user matches a policy when they are in any of its target groups. The
// first matching policy by priority decides, and it decides alone: when its
// rule for the device's platform is missing or says Deny, the answer is
// [Denied] — the evaluation does not fall through to a later policy. There
// are no ties: priorities are unique per org (the store refuses a clash with
// ErrAlreadyExists, [NewSet] with ErrInvalid), and when several of the
// user's groups lead to the same policy the first of them in the user's
// order is reported as the match.
//
// The outcomes mean:
//
//   - [Enroll]: the rule says Require and the device qualifies; the user
//     must enroll now.
//   - [NotRequired]: the rule says Allow and the device qualifies; the user
//     may enroll and the decision carries the requirements that then apply.
//   - [Denied]: no rule, a Deny rule, the built-in default, or a device that
//     fails the rule (compromised where refused, OS or API level too old,
//     no usable Android mode).
//
// Each decision carries human-readable reasons and, unless denied, the
// effective requirements: the rule's requirements clamped to what the
// platform accepts (a minimum passcode length of 30 is valid in a policy,
// but an iPhone gets 16), each change listed as a warning.
//
// Android enrollment modes are tried in a fixed priority: work profile if
// the device supports one, else Samsung Knox if it is a Knox device, else
// native device admin; each can be disabled by the rule. The two device
// admin based modes are refused from API level 29 (Android 10) on. The
// decision's [AndroidPlan] explains every step; the android package does
// the enrollment itself.
//
// Evaluation runs on a [Set], an org's policies compiled into a map from
// group ID to the highest-priority policy targeting it, so that its cost is
// one map look-up per group of the user however many policies there are.
// [Service] caches one Set per org and recompiles it when the store's
// revision moves (see BENCHMARKS.md for the figures).
//
// # Changes
//
// [Service] creates, updates (optimistic concurrency on Version) and deletes
// policies; each change is written with its audit entry in one transaction
// and then reported to the hook set with [WithEvents]. Changing a policy
// never deprovisions anyone: the event asks other packages to re-apply the
// policy to the devices under it.
// [Set.Reevaluate] decides again for an enrolled device (facts known only
// before enrollment are not held against it), and [Applied] is the record
// of what a device last got, which enroll/ota and android keep when they
// re-apply a decision.
package policy
