package amapi

// Policy is the Android Management API Policy resource, restricted to the
// fields the SDK sets. Zero values are omitted, so an unset enum is never
// sent as its *_UNSPECIFIED value.
type Policy struct {
	PasswordPolicies        []PasswordRequirements   `json:"passwordPolicies,omitempty"`
	EncryptionPolicy        EncryptionPolicy         `json:"encryptionPolicy,omitempty"`
	MaximumTimeToLock       string                   `json:"maximumTimeToLock,omitempty"` // int64 milliseconds, as a string
	MinimumAPILevel         int                      `json:"minimumApiLevel,omitempty"`
	Applications            []ApplicationPolicy      `json:"applications,omitempty"`
	PlayStoreMode           PlayStoreMode            `json:"playStoreMode,omitempty"`
	CrossProfilePolicies    *CrossProfilePolicies    `json:"crossProfilePolicies,omitempty"`
	StatusReportingSettings *StatusReportingSettings `json:"statusReportingSettings,omitempty"`
	WorkAccountSetupConfig  *WorkAccountSetupConfig  `json:"workAccountSetupConfig,omitempty"`
}

// PasswordRequirements is one entry of Policy.passwordPolicies.
type PasswordRequirements struct {
	PasswordScope                 PasswordScope   `json:"passwordScope,omitempty"`
	PasswordQuality               PasswordQuality `json:"passwordQuality,omitempty"`
	PasswordMinimumLength         int             `json:"passwordMinimumLength,omitempty"`
	PasswordMinimumLetters        int             `json:"passwordMinimumLetters,omitempty"`
	PasswordMinimumSymbols        int             `json:"passwordMinimumSymbols,omitempty"`
	PasswordHistoryLength         int             `json:"passwordHistoryLength,omitempty"`
	MaximumFailedPasswordsForWipe int             `json:"maximumFailedPasswordsForWipe,omitempty"`
	PasswordExpirationTimeout     string          `json:"passwordExpirationTimeout,omitempty"` // a google-duration, "7776000s"
}

// ApplicationPolicy is one entry of Policy.applications.
type ApplicationPolicy struct {
	PackageName string      `json:"packageName"`
	InstallType InstallType `json:"installType,omitempty"`
}

// CrossProfilePolicies governs data flow between the work profile and the
// personal profile.
type CrossProfilePolicies struct {
	CrossProfileDataSharing CrossProfileDataSharing `json:"crossProfileDataSharing,omitempty"`
	CrossProfileCopyPaste   CrossProfileCopyPaste   `json:"crossProfileCopyPaste,omitempty"`
}

// StatusReportingSettings says which parts of the Device resource the device
// reports. Only what the privacy contract lets the organization see is ever
// switched on (never network info, power events or hardware samples).
type StatusReportingSettings struct {
	ApplicationReportsEnabled bool `json:"applicationReportsEnabled,omitempty"`
	DeviceSettingsEnabled     bool `json:"deviceSettingsEnabled,omitempty"`
	SoftwareInfoEnabled       bool `json:"softwareInfoEnabled,omitempty"`
	MemoryInfoEnabled         bool `json:"memoryInfoEnabled,omitempty"`
}

// WorkAccountSetupConfig asks for a managed Google account on the device.
type WorkAccountSetupConfig struct {
	AuthenticationType   AuthenticationType `json:"authenticationType,omitempty"`
	RequiredAccountEmail string             `json:"requiredAccountEmail,omitempty"`
}

// Enum types. Only the values the SDK emits are declared.
type (
	PasswordScope           string
	PasswordQuality         string
	EncryptionPolicy        string
	InstallType             string
	PlayStoreMode           string
	CrossProfileDataSharing string
	CrossProfileCopyPaste   string
	AuthenticationType      string
	CommandType             string
)

const (
	ScopeDevice  PasswordScope = "SCOPE_DEVICE"
	ScopeProfile PasswordScope = "SCOPE_PROFILE"

	QualitySomething      PasswordQuality = "SOMETHING"
	QualityNumeric        PasswordQuality = "NUMERIC"
	QualityNumericComplex PasswordQuality = "NUMERIC_COMPLEX"
	QualityAlphabetic     PasswordQuality = "ALPHABETIC"
	QualityAlphanumeric   PasswordQuality = "ALPHANUMERIC"
	QualityComplex        PasswordQuality = "COMPLEX"

	EncryptionWithoutPassword EncryptionPolicy = "ENABLED_WITHOUT_PASSWORD"
	EncryptionWithPassword    EncryptionPolicy = "ENABLED_WITH_PASSWORD"

	ForceInstalled InstallType = "FORCE_INSTALLED"
	Available      InstallType = "AVAILABLE"
	Blocked        InstallType = "BLOCKED"

	// PlayStoreAllowList shows only the policy's apps in managed Google
	// Play (the API's name for it is WHITELIST).
	PlayStoreAllowList PlayStoreMode = "WHITELIST"

	DataSharingAllowed             CrossProfileDataSharing = "CROSS_PROFILE_DATA_SHARING_ALLOWED"
	DataSharingWorkToPersonalBlock CrossProfileDataSharing = "DATA_SHARING_FROM_WORK_TO_PERSONAL_DISALLOWED"
	CopyPasteAllowed               CrossProfileCopyPaste   = "CROSS_PROFILE_COPY_PASTE_ALLOWED"
	CopyPasteWorkToPersonalBlock   CrossProfileCopyPaste   = "COPY_FROM_WORK_TO_PERSONAL_DISALLOWED"

	GoogleAuthenticated AuthenticationType = "GOOGLE_AUTHENTICATED"

	CommandLock          CommandType = "LOCK"
	CommandResetPassword CommandType = "RESET_PASSWORD"
	CommandWipe          CommandType = "WIPE"
)

// Command is the body of devices.issueCommand.
type Command struct {
	Type CommandType `json:"type"`
	// NewPassword is empty for RESET_PASSWORD: the password is cleared and
	// the policy then makes the user choose a new one; the SDK never holds
	// a user's passcode.
	NewPassword string `json:"newPassword,omitempty"`
}
