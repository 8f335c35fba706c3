package android

import (
	"fmt"

	"github.com/openomm/omm/policy"
)

// AdminCall is one DevicePolicyManager call the agent makes as device
// admin, with the API levels where it works.
type AdminCall struct {
	// Method is the DevicePolicyManager method ("setPasswordQuality").
	Method string `json:"method"`
	Value  int64  `json:"value"`
	// MinAPI is the first API level with the call; MaxAPI the last on which
	// a device admin (not device owner) may make it.
	MinAPI int `json:"min_api"`
	MaxAPI int `json:"max_api"`
}

// Unsupported is a requirement the legacy modes cannot enforce, reported
// instead of pretended.
type Unsupported struct {
	Requirement string `json:"requirement"`
	Reason      string `json:"reason"`
}

// AgentPolicy is what the agent applies in the Knox and native device admin
// modes: the device-admin calls to make and the apps to offer, and what
// cannot be enforced on this device.
type AgentPolicy struct {
	Mode        policy.Mode   `json:"mode"`
	Calls       []AdminCall   `json:"calls"`
	Unsupported []Unsupported `json:"unsupported"`
	Apps        []AgentApp    `json:"apps"`
}

// AgentApp is an app in an agent policy.
type AgentApp struct {
	PackageName string      `json:"package_name"`
	Install     InstallType `json:"install"`
}

// legacyMaxAPI is the last API level on which device admin password and
// encryption policies work (Android 9); from Android 10 they throw.
const legacyMaxAPI = 28

// CompileAgent compiles requirements into device-admin calls for a device
// at apiLevel. Calls the device's API level does not have, and requirements
// device admin cannot enforce at all, are listed as Unsupported.
func CompileAgent(mode policy.Mode, req policy.Requirements, apiLevel int, apps []App) (AgentPolicy, error) {
	ap := AgentPolicy{Mode: mode, Calls: []AdminCall{}, Unsupported: []Unsupported{}, Apps: []AgentApp{}}
	add := func(method string, value int64, minAPI int) {
		c := AdminCall{Method: method, Value: value, MinAPI: minAPI, MaxAPI: legacyMaxAPI}
		switch {
		case apiLevel < minAPI:
			ap.Unsupported = append(ap.Unsupported, Unsupported{method, fmt.Sprintf("needs API level %d, the device has %d", minAPI, apiLevel)})
		case apiLevel > legacyMaxAPI:
			ap.Unsupported = append(ap.Unsupported, Unsupported{method, fmt.Sprintf("refused to device admins from API level %d; the device has %d", legacyMaxAPI+1, apiLevel)})
		default:
			ap.Calls = append(ap.Calls, c)
		}
	}
	if pc := req.Passcode; pc.Required {
		q := quality(pc)
		minAPI := 8
		if q == QualityNumericComplex {
			minAPI = 21 // NUMERIC_COMPLEX arrived in Android 5.0
		}
		add("setPasswordQuality", int64(q), minAPI)
		if pc.MinLength > 0 {
			add("setPasswordMinimumLength", int64(pc.MinLength), 8)
		}
		if q == QualityComplex {
			if pc.RequireLetters {
				add("setPasswordMinimumLetters", 1, 11)
			}
			add("setPasswordMinimumSymbols", int64(pc.MinSymbols), 11)
		}
		if pc.History > 0 {
			add("setPasswordHistoryLength", int64(pc.History), 11)
		}
		if pc.MaxAgeDays > 0 {
			add("setPasswordExpirationTimeout", int64(pc.MaxAgeDays)*86_400_000, 11)
		}
		if pc.MaxFailedAttempts > 0 {
			add("setMaximumFailedPasswordsForWipe", int64(pc.MaxFailedAttempts), 8)
		}
		if pc.AutoLockMinutes > 0 {
			add("setMaximumTimeToLock", int64(pc.AutoLockMinutes)*60_000, 8)
		}
		if pc.GracePeriodMinutes > 0 {
			ap.Unsupported = append(ap.Unsupported, Unsupported{"passcode grace period", "device admin has no such setting"})
		}
	}
	if req.Encryption {
		add("setStorageEncryption", 1, 11)
	}
	if req.Android.WorkProfilePasscode.Required {
		ap.Unsupported = append(ap.Unsupported, Unsupported{"work-profile passcode", "the legacy modes have no work profile"})
	}
	if req.DataSeparation.BlockWorkToPersonal {
		ap.Unsupported = append(ap.Unsupported, Unsupported{"block work-to-personal sharing", "the legacy modes have no work profile to separate"})
	}
	for _, a := range apps {
		if err := a.Validate(); err != nil {
			return AgentPolicy{}, err
		}
		ap.Apps = append(ap.Apps, AgentApp{PackageName: a.PackageName, Install: a.Install})
	}
	return ap, nil
}
