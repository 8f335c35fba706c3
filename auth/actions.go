package auth

// Audit actions written by this package. The values are stored in audit rows
// and matched by queries, so they never change once released.
const (
	// ActionSignInSuccess records a completed password sign-in.
	ActionSignInSuccess = "auth.signin.success"
	// ActionSignInFailure records a rejected sign-in attempt.
	ActionSignInFailure = "auth.signin.failure"
	// ActionSignOut records a session ended by its user.
	ActionSignOut = "auth.signout"
	// ActionSessionRevokeAll records every session of a user revoked at once.
	ActionSessionRevokeAll = "auth.session.revoke_all"
	// ActionSignOnUpdate records a change to an org's sign-on rule.
	ActionSignOnUpdate = "auth.signon.update"
	// ActionPINSet records a session's first PIN.
	ActionPINSet = "auth.pin.set"
	// ActionPINChange records a session's PIN replaced.
	ActionPINChange = "auth.pin.change"
	// ActionPINUnlock records a session unlocked with its PIN.
	ActionPINUnlock = "auth.pin.unlock"
	// ActionPINFailure records a wrong PIN.
	ActionPINFailure = "auth.pin.failure"
	// ActionPINLocked records a session locked after too many wrong PINs.
	ActionPINLocked = "auth.pin.locked"
	// ActionMFACodeSent records a one-time code sent by SMS or call.
	ActionMFACodeSent = "auth.mfa.code_sent"
	// ActionMFACodeUsed records a one-time code consumed.
	ActionMFACodeUsed = "auth.mfa.code_used"
	// ActionMFAFailure records a wrong second factor.
	ActionMFAFailure = "auth.mfa.failure"
	// ActionMFASuccess records a second factor accepted.
	ActionMFASuccess = "auth.mfa.success"
	// ActionTOTPEnroll records an authenticator app registered.
	ActionTOTPEnroll = "auth.mfa.totp_enroll"
	// ActionTOTPUsed records a TOTP step consumed, so it cannot be replayed.
	ActionTOTPUsed = "auth.mfa.totp_used"
	// ActionTOTPSeal records a stored TOTP secret re-sealed under the current key.
	ActionTOTPSeal = "auth.mfa.totp_seal"
	// ActionTOTPRemove records an authenticator app removed.
	ActionTOTPRemove = "auth.mfa.totp_remove"
	// ActionPasswordRehash records a password hash upgraded to current parameters.
	ActionPasswordRehash = "auth.password.rehash"
	// ActionUserCreate records a user added to the directory.
	ActionUserCreate = "auth.user.create"
	// ActionUserUpdate records a user's record changed.
	ActionUserUpdate = "auth.user.update"
	// ActionUserPassword records a user's password set by an admin.
	ActionUserPassword = "auth.user.password"
	// ActionUserDeactivate records a user deactivated.
	ActionUserDeactivate = "auth.user.deactivate"
	// ActionGroupCreate records a group added to the directory.
	ActionGroupCreate = "auth.group.create"
	// ActionGroupMemberAdd records a user added to a group.
	ActionGroupMemberAdd = "auth.group.member.add"
	// ActionGroupMemberRemove records a user removed from a group.
	ActionGroupMemberRemove = "auth.group.member.remove"
)
