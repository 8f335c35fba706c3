package ota

import (
	"fmt"
	"strings"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/profile"
	"github.com/openomm/omm/storage"
)

// requestedLabels names, for people, what phase 2 sends: the contract's
// labels of the attributes requested over the air.
func requestedLabels() string {
	labels := []string{"device identifier (UDID)"}
	for _, a := range inventory.Contract() {
		if a.OTA != "" {
			labels = append(labels, strings.ToLower(a.Label))
		}
	}
	return strings.Join(labels, ", ")
}

func (s *Service) identifier(org storage.OrgID, what string) string {
	return s.idPrefix + ".enroll." + string(org) + "." + what
}

// serviceDocument is the Profile Service document of phase 1.
func (s *Service) serviceDocument(orgName string, sess enroll.Session, challenge string) *profile.Service {
	return &profile.Service{
		Meta: profile.Meta{
			Identifier:   s.identifier(sess.Org, "service"),
			DisplayName:  orgName + " device enrollment",
			Organization: orgName,
			Description: "Enrolls this device in " + orgName + "'s device management. It sends the " +
				requestedLabels() + " to " + orgName + ", signed by the device. Nothing else is sent.",
		},
		URL:              s.url("enroll", string(sess.Org), "ota") + "?session=" + sess.ID,
		DeviceAttributes: inventory.OTADeviceAttributes(),
		Challenge:        challenge,
	}
}

// scepPayload asks the device for an identity from the org's CA with a
// challenge bound to the session.
func (s *Service) scepPayload(orgName string, sess enroll.Session, challenge, purpose string) *profile.SCEP {
	return &profile.SCEP{
		Meta: profile.Meta{
			DisplayName:  orgName + " " + purpose,
			Description:  "Gets the certificate this device proves itself to " + orgName + " with.",
			Organization: orgName,
		},
		URL:       s.url("scep", string(sess.Org)),
		Name:      "OMM Device CA",
		Subject:   [][][]string{{{"O", orgName}}, {{"CN", purpose + " " + sess.ID}}},
		Challenge: challenge,
		KeySize:   DeviceKeySize,
		KeyType:   "RSA",
		KeyUsage:  5, // signing and encryption
	}
}

// identityProfile answers phase 2: the SCEP payload of the OTA identity.
func (s *Service) identityProfile(orgName string, sess enroll.Session, challenge string) *profile.Profile {
	p := &profile.Profile{
		Identifier:   s.identifier(sess.Org, "identity"),
		DisplayName:  orgName + " enrollment identity",
		Organization: orgName,
		Description:  "A certificate that lets this device finish enrolling with " + orgName + ".",
	}
	return p.Add(s.scepPayload(orgName, sess, challenge, "enrollment identity"))
}

// mdmProfile is the MDM enrollment profile: a SCEP payload for the MDM
// identity and the MDM payload that uses it. The access rights come from
// the privacy contract and the policy: never network information, and
// erase only where the policy allows a full wipe.
func (s *Service) mdmProfile(orgName string, sess enroll.Session, challenge string) *profile.Profile {
	p := &profile.Profile{
		// Fixed, not derived from the prefix: deprovisioning removes the
		// profile with this identifier to unenroll the device.
		Identifier:   enroll.MDMProfileIdentifier(sess.Org),
		DisplayName:  orgName + " device management",
		Organization: orgName,
		Description: "Lets " + orgName + " install its apps and settings on this device and remove them again. " +
			orgName + " can see only what its privacy notice lists, never your personal mail, messages, " +
			"photos, browsing history or location.",
		ConsentText: map[string]string{"default": consentText(orgName, sess.Requirements)},
	}
	return p.Add(
		s.scepPayload(orgName, sess, challenge, "device identity"),
		&profile.MDM{
			Meta:                profile.Meta{DisplayName: orgName + " remote management", Organization: orgName},
			Topic:               s.topic,
			ServerURL:           s.url("mdm", string(sess.Org), "server"),
			CheckInURL:          s.url("mdm", string(sess.Org), "checkin"),
			SignMessage:         true,
			CheckOutWhenRemoved: true,
			UseDevelopmentAPNS:  s.devAPNS,
			AccessRights:        profile.AccessRights(inventory.AccessRights(sess.Requirements.AllowFullWipe)),
		},
	)
}

// consentText is the agreement shown before installing, generated from the
// contract and the policy so that it cannot drift from what is enforced.
func consentText(orgName string, req policy.Requirements) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s will be able to see: ", orgName)
	var seen []string
	for _, a := range inventory.Contract() {
		seen = append(seen, strings.ToLower(a.Label))
	}
	b.WriteString(strings.Join(seen, ", "))
	b.WriteString(". It cannot see your personal mail, calendars, contacts, messages, browsing or call history, notes, or where the device is.")
	if req.AllowFullWipe {
		b.WriteString(" Your policy allows " + orgName + " to erase this device if it is company-owned.")
	} else {
		b.WriteString(" " + orgName + " cannot erase this device; it can remove only what it installed.")
	}
	return b.String()
}

// PolicyProfile builds the profile that carries a policy's passcode rule
// and data-separation restrictions. It is delivered as its own profile
// after enrollment (by an InstallProfile command), not inside the MDM
// enrollment profile: a profile can only be replaced as a whole and the MDM
// profile never over MDM, so keeping the policy apart lets it change with
// the policy, and lets deprovisioning remove it. It returns nil when the
// requirements ask for nothing a profile can enforce.
func (s *Service) PolicyProfile(org storage.OrgID, orgName string, req policy.Requirements) *profile.Profile {
	p := &profile.Profile{
		Identifier:   s.identifier(org, "policy"),
		DisplayName:  orgName + " security policy",
		Organization: orgName,
		Description:  "The passcode and data-sharing rules " + orgName + " requires on this device.",
	}
	if pc := req.Passcode; pc.Required {
		p.Add(&profile.Passcode{
			Meta:                profile.Meta{DisplayName: "Passcode", Organization: orgName},
			ForcePIN:            true,
			AllowSimple:         profile.Bool(pc.AllowSimple),
			MinLength:           pc.MinLength,
			RequireAlphanumeric: pc.RequireLetters,
			MinComplexChars:     pc.MinSymbols,
			MaxPINAgeInDays:     pc.MaxAgeDays,
			PINHistory:          pc.History,
			MaxFailedAttempts:   pc.MaxFailedAttempts,
			MaxInactivity:       pc.AutoLockMinutes,
			MaxGracePeriod:      pc.GracePeriodMinutes,
		})
	}
	if ds := req.DataSeparation; ds.BlockManagedToUnmanaged || ds.BlockUnmanagedToManaged {
		r := &profile.Restrictions{Meta: profile.Meta{DisplayName: "Data separation", Organization: orgName}}
		if ds.BlockManagedToUnmanaged {
			r.AllowOpenFromManagedToUnmanaged = profile.Bool(false)
			r.AllowManagedToWriteUnmanagedContacts = profile.Bool(false)
			r.RequireManagedPasteboard = profile.Bool(true)
		}
		if ds.BlockUnmanagedToManaged {
			r.AllowOpenFromUnmanagedToManaged = profile.Bool(false)
			r.AllowUnmanagedToReadManagedContacts = profile.Bool(false)
			r.RequireManagedPasteboard = profile.Bool(true)
		}
		p.Add(r)
	}
	if len(p.Payloads) == 0 {
		return nil
	}
	return p
}
