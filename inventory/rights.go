package inventory

// AccessRight is one bit of the AccessRights value of Apple's MDM payload.
type AccessRight int

// The AccessRights bits Apple defines.
const (
	RightInspectProfiles             AccessRight = 1
	RightInstallProfiles             AccessRight = 2
	RightLockAndPasscodeRemoval      AccessRight = 4
	RightErase                       AccessRight = 8
	RightDeviceInformation           AccessRight = 16
	RightNetworkInformation          AccessRight = 32
	RightInspectProvisioningProfiles AccessRight = 64
	RightInstallProvisioningProfiles AccessRight = 128
	RightAppInventory                AccessRight = 256
	RightRestrictionQueries          AccessRight = 512
	RightSecurityQueries             AccessRight = 1024
	RightSettings                    AccessRight = 2048
	RightAppManagement               AccessRight = 4096
)

// managementRights are the rights needed to manage rather than observe the
// device: install our profiles and provisioning profiles, apply settings,
// install and remove managed apps, lock it, and check our restrictions.
// None of them reveals anything of the privacy contract's forbidden list.
const managementRights = RightInstallProfiles | RightLockAndPasscodeRemoval |
	RightInspectProvisioningProfiles | RightInstallProvisioningProfiles |
	RightRestrictionQueries | RightSettings | RightAppManagement

// AccessRights returns the AccessRights value for the MDM payload of a
// device enrollment: the observation rights the privacy contract's
// attributes need, the
// management rights, and Erase only when fullWipeAllowed. Pass the policy's
// decision combined with [Device.FactoryResetPermitted]: the device then
// enforces the promise itself, and rights can never grow after enrollment.
// Network information (32) is never granted.
func AccessRights(fullWipeAllowed bool) int {
	r := managementRights
	for _, a := range Contract() {
		r |= a.Right
	}
	if fullWipeAllowed {
		r |= RightErase
	}
	r &^= RightNetworkInformation
	return int(r)
}
