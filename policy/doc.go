// Package policy owns mobile policies: ordered, group-targeted rules per
// platform, their evaluation into an enrollment decision with reasons, and the
// effective requirements a device must then satisfy (passcode, encryption,
// minimum OS, jailbreak and root, data separation, Android enrollment mode
// priority and wipe permissions).
package policy
