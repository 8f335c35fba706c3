package android

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/openomm/omm/android/amapi"
	"github.com/openomm/omm/policy"
)

// InstallType is how an app is put in a device's policy.
type InstallType string

const (
	// InstallForced: installed without asking, cannot be removed.
	InstallForced InstallType = "FORCE_INSTALLED"
	// InstallAvailable: offered in managed Google Play (our app store).
	InstallAvailable InstallType = "AVAILABLE"
	// InstallBlocked: may not be installed.
	InstallBlocked InstallType = "BLOCKED"
)

// App is one app in a device's policy.
type App struct {
	PackageName string
	Install     InstallType
}

// Validate checks an app entry.
func (a App) Validate() error {
	if a.PackageName == "" || len(a.PackageName) > 255 || strings.ContainsAny(a.PackageName, " /\"") {
		return fmt.Errorf("invalid package name %q", a.PackageName)
	}
	switch a.Install {
	case InstallForced, InstallAvailable, InstallBlocked:
		return nil
	}
	return fmt.Errorf("app %s: unknown install type %q", a.PackageName, a.Install)
}

// Compiled is a compiled Android Management API policy with the
// requirements it could not express.
type Compiled struct {
	Policy amapi.Policy
	// NotApplied lists requirements the API has no field for, for people.
	NotApplied []string
}

// CompileOptions are the inputs of a compilation beyond the requirements.
type CompileOptions struct {
	// WorkProfile compiles for a work profile (device and profile password
	// scopes, cross-profile policies); otherwise for a fully managed device.
	WorkProfile bool
	Apps        []App
	// ManagedAccount, when set, asks for this managed Google account (a
	// Google Workspace address) during setup.
	ManagedAccount string
}

// Compile turns effective requirements into an Android Management API
// policy. Zero values are left out: nothing deprecated, output-only or
// *_UNSPECIFIED is ever emitted, which the tests check against Google's
// discovery document.
func Compile(req policy.Requirements, o CompileOptions) (Compiled, error) {
	var c Compiled
	p := &c.Policy
	if req.Passcode.Required {
		p.PasswordPolicies = append(p.PasswordPolicies, passwordRequirements(req.Passcode, amapi.ScopeDevice))
	}
	if o.WorkProfile && req.Android.WorkProfilePasscode.Required {
		p.PasswordPolicies = append(p.PasswordPolicies, passwordRequirements(req.Android.WorkProfilePasscode, amapi.ScopeProfile))
	}
	if m := req.Passcode.AutoLockMinutes; m > 0 {
		p.MaximumTimeToLock = strconv.FormatInt(int64(m)*60_000, 10)
	}
	if req.Passcode.GracePeriodMinutes > 0 {
		c.NotApplied = append(c.NotApplied, "passcode grace period: the Android Management API has no setting for it")
	}
	if req.Encryption {
		p.EncryptionPolicy = amapi.EncryptionWithoutPassword
		if req.Passcode.Required {
			p.EncryptionPolicy = amapi.EncryptionWithPassword
		}
	}
	p.MinimumAPILevel = req.Android.MinAPILevel
	for _, a := range o.Apps {
		if err := a.Validate(); err != nil {
			return Compiled{}, err
		}
		p.Applications = append(p.Applications, amapi.ApplicationPolicy{PackageName: a.PackageName, InstallType: amapi.InstallType(a.Install)})
	}
	// Managed Google Play shows only the apps the policy lists.
	p.PlayStoreMode = amapi.PlayStoreAllowList
	if o.WorkProfile {
		cp := &amapi.CrossProfilePolicies{CrossProfileDataSharing: amapi.DataSharingAllowed, CrossProfileCopyPaste: amapi.CopyPasteAllowed}
		if req.DataSeparation.BlockWorkToPersonal {
			cp.CrossProfileDataSharing = amapi.DataSharingWorkToPersonalBlock
			cp.CrossProfileCopyPaste = amapi.CopyPasteWorkToPersonalBlock
		}
		p.CrossProfilePolicies = cp
	}
	// Only the parts of the Device resource the privacy contract lets the
	// organization see: never network info, power events or hardware samples.
	p.StatusReportingSettings = &amapi.StatusReportingSettings{
		ApplicationReportsEnabled: true, DeviceSettingsEnabled: true, SoftwareInfoEnabled: true, MemoryInfoEnabled: true,
	}
	if o.ManagedAccount != "" {
		p.WorkAccountSetupConfig = &amapi.WorkAccountSetupConfig{
			AuthenticationType: amapi.GoogleAuthenticated, RequiredAccountEmail: strings.ToLower(o.ManagedAccount),
		}
	}
	return c, nil
}

func passwordRequirements(pc policy.Passcode, scope amapi.PasswordScope) amapi.PasswordRequirements {
	r := amapi.PasswordRequirements{
		PasswordScope:                 scope,
		PasswordQuality:               amapi.PasswordQuality(quality(pc).Name()),
		PasswordMinimumLength:         pc.MinLength,
		PasswordHistoryLength:         pc.History,
		MaximumFailedPasswordsForWipe: pc.MaxFailedAttempts,
	}
	if r.PasswordQuality == amapi.QualityComplex {
		// Under COMPLEX the minimum counts apply: a letter when letters are
		// required, and the symbols.
		if pc.RequireLetters {
			r.PasswordMinimumLetters = 1
		}
		r.PasswordMinimumSymbols = pc.MinSymbols
	}
	if pc.MaxAgeDays > 0 {
		r.PasswordExpirationTimeout = fmt.Sprintf("%ds", pc.MaxAgeDays*86400)
	}
	return r
}

// Quality is an Android password quality, valued as DevicePolicyManager's
// constant; Name is its Android Management API name.
type Quality int

// The qualities the SDK uses.
const (
	QualityNumeric        Quality = 0x20000
	QualityNumericComplex Quality = 0x30000
	QualityAlphabetic     Quality = 0x40000
	QualityAlphanumeric   Quality = 0x50000
	QualityComplex        Quality = 0x60000
)

// Name returns the quality's Android Management API enum value.
func (q Quality) Name() string {
	switch q {
	case QualityNumeric:
		return "NUMERIC"
	case QualityNumericComplex:
		return "NUMERIC_COMPLEX"
	case QualityAlphabetic:
		return "ALPHABETIC"
	case QualityAlphanumeric:
		return "ALPHANUMERIC"
	case QualityComplex:
		return "COMPLEX"
	}
	return fmt.Sprintf("Quality(%#x)", int(q))
}

// quality maps a passcode requirement to the weakest quality that enforces
// it: symbols need COMPLEX, letters ALPHANUMERIC, and a refusal of simple
// (repeating or sequential) PINs NUMERIC_COMPLEX.
func quality(pc policy.Passcode) Quality {
	switch {
	case pc.MinSymbols > 0:
		return QualityComplex
	case pc.RequireLetters:
		return QualityAlphanumeric
	case !pc.AllowSimple:
		return QualityNumericComplex
	}
	return QualityNumeric
}
