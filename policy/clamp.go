package policy

import "fmt"

// limits are the most a platform accepts for each passcode setting; 0 means
// the platform sets no bound below the policy's own.
type limits struct {
	minLength, minSymbols, maxFailed, maxAge, history, autoLock int
}

// limitsFor returns platform's limits. Apple's come from its passcode
// payload (com.apple.mobiledevice.passwordpolicy: minLength ≤ 16,
// minComplexChars ≤ 4, maxFailedAttempts ≤ 11, maxPINAgeInDays ≤ 730,
// pinHistory ≤ 50, maxInactivity ≤ 15 minutes on iOS and 60 on macOS);
// Android's Settings app takes lock-screen passwords of at most 16
// characters (DevicePolicyManager.getPasswordMaximumLength on AOSP).
func limitsFor(platform Platform) limits {
	switch platform {
	case IOS:
		return limits{minLength: 16, minSymbols: 4, maxFailed: 11, maxAge: 730, history: 50, autoLock: 15}
	case MacOS:
		return limits{minLength: 16, minSymbols: 4, maxFailed: 11, maxAge: 730, history: 50, autoLock: 60}
	case Android:
		return limits{minLength: 16}
	}
	return limits{}
}

// clamp lowers every requirement the platform cannot take to what it can,
// and drops what it cannot enforce at all, returning one warning per change.
// A valid policy may ask for more than a platform allows (a policy spans
// platforms); the device gets the nearest it supports.
func clamp(platform Platform, req *Requirements) []string {
	lim := limitsFor(platform)
	var w []string
	w = append(w, lim.clampPasscode(platform, "passcode", &req.Passcode)...)
	if platform == Android {
		w = append(w, lim.clampPasscode(platform, "work-profile passcode", &req.Android.WorkProfilePasscode)...)
	}
	if platform == IOS && req.Encryption && !req.Passcode.Required {
		req.Passcode.Required = true
		w = append(w, "encryption on iOS is Data Protection, which needs a passcode: passcode made required")
	}
	if platform == MacOS && (req.DataSeparation.BlockManagedToUnmanaged || req.DataSeparation.BlockUnmanagedToManaged) {
		req.DataSeparation.BlockManagedToUnmanaged = false
		req.DataSeparation.BlockUnmanagedToManaged = false
		w = append(w, "managed/unmanaged open-in restrictions are not available on macOS: not applied")
	}
	return w
}

func (lim limits) clampPasscode(platform Platform, what string, c *Passcode) []string {
	if !c.Required {
		return nil
	}
	var w []string
	lower := func(name string, v *int, most int) {
		if most > 0 && *v > most {
			w = append(w, fmt.Sprintf("%s %s %d lowered to %d, the most %s accepts", what, name, *v, most, platform))
			*v = most
		}
	}
	lower("minimum length", &c.MinLength, lim.minLength)
	lower("minimum symbols", &c.MinSymbols, lim.minSymbols)
	lower("failed attempts before wipe", &c.MaxFailedAttempts, lim.maxFailed)
	lower("maximum age in days", &c.MaxAgeDays, lim.maxAge)
	lower("history", &c.History, lim.history)
	lower("auto-lock minutes", &c.AutoLockMinutes, lim.autoLock)
	return w
}
