package ota_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/profile"
)

// TestEnrollEndToEnd plays an iOS device through phases 1 to 3 with real
// cryptography: its Apple-style identity (SHA-1, expired CAs), SCEP for the
// OTA identity, the encrypted MDM profile, and SCEP for the MDM identity.
func TestEnrollEndToEnd(t *testing.T) {
	for _, wipe := range []bool{false, true} {
		t.Run(map[bool]string{false: "no full wipe", true: "full wipe allowed"}[wipe], func(t *testing.T) {
			f := newFixture(t)
			dev := newDevice(t, "00008110-000A1D2E3F40801E")

			// Phase 1.
			ticket, err := f.ota.Begin(t.Context(), f.org, "alice", decision(wipe), enroll.KindOTA)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(ticket.URL, publicURL+"/enroll/"+string(f.org)+"/profile?token=") {
				t.Errorf("ticket URL %s", ticket.URL)
			}
			signed, err := f.ota.ServiceProfile(t.Context(), f.org, ticket.Token)
			if err != nil {
				t.Fatal(err)
			}
			svc, err := profile.DecodeService(f.verified(t, signed))
			if err != nil {
				t.Fatal(err)
			}
			if want := publicURL + "/enroll/" + string(f.org) + "/ota?session=" + ticket.Session; svc.URL != want {
				t.Errorf("phase 2 URL %s, want %s", svc.URL, want)
			}
			if !slices.Equal(svc.DeviceAttributes, inventory.OTADeviceAttributes()) {
				t.Errorf("requested %v, want the privacy contract's %v", svc.DeviceAttributes, inventory.OTADeviceAttributes())
			}
			for _, forbidden := range []string{"IMEI", "MEID", "ICCID", "MAC_ADDRESS_EN0"} {
				if slices.Contains(svc.DeviceAttributes, forbidden) {
					t.Errorf("requests network identifier %s", forbidden)
				}
			}
			if !strings.Contains(svc.DisplayName, "Acme Corp") || svc.Organization != "Acme Corp" || !strings.Contains(svc.Description, "serial number") {
				t.Errorf("phase 1 texts: %q / %q / %q", svc.DisplayName, svc.Organization, svc.Description)
			}
			if len(svc.Challenge) < 40 {
				t.Errorf("challenge %q too short for 256 bits", svc.Challenge)
			}

			// Phase 2: attributes signed by the Apple device identity.
			body, err := dev.Phase2(svc.Challenge, attrs)
			if err != nil {
				t.Fatal(err)
			}
			if body[1] != 0x80 {
				t.Fatal("test device does not send BER with indefinite lengths")
			}
			resp, err := f.ota.Post(t.Context(), f.org, ticket.Session, body)
			if err != nil {
				t.Fatal(err)
			}
			identityProfile, err := profile.Decode(f.verified(t, resp))
			if err != nil {
				t.Fatal(err)
			}
			s1 := scepPayload(t, identityProfile)
			if s1.URL != publicURL+"/scep/"+string(f.org) || s1.KeySize != 2048 || s1.KeyType != "RSA" {
				t.Errorf("SCEP payload %+v", s1)
			}
			sess, err := f.store.EnrollSession(t.Context(), f.org, ticket.Session)
			if err != nil {
				t.Fatal(err)
			}
			wantAttrs := map[string]string{"serial_number": "F2LXK0ABCDEF", "product_name": "iPhone15,2", "os_build": "21A329", "device_name": "Alice's iPhone"}
			if sess.UDID != dev.UDID || !mapsEqual(sess.Attributes, wantAttrs) {
				t.Errorf("recorded UDID %q attributes %v, want %v (IMEI dropped)", sess.UDID, sess.Attributes, wantAttrs)
			}

			// SCEP: the OTA identity.
			otaKey := deviceKey(t, 0)
			otaCert := f.getCert(t, s1.Challenge, otaKey)
			if otaCert.Subject.CommonName != dev.UDID {
				t.Errorf("identity subject %v, want the UDID", otaCert.Subject)
			}

			// Phase 3: signed by that identity; the answer is encrypted to it.
			resp, err = f.ota.Post(t.Context(), f.org, ticket.Session, phase3Body(t, dev, otaCert, otaKey))
			if err != nil {
				t.Fatal(err)
			}
			mdmProfile, err := profile.Decode(f.verified(t, resp))
			if err != nil {
				t.Fatal(err)
			}
			if len(mdmProfile.EncryptedContent) == 0 || len(mdmProfile.Payloads) != 0 {
				t.Fatal("MDM profile is not encrypted")
			}
			if err := mdmProfile.Decrypt(otaCert, otaKey); err != nil {
				t.Fatal(err)
			}
			var mdm *profile.MDM
			for _, p := range mdmProfile.Payloads {
				if m, ok := p.(*profile.MDM); ok {
					mdm = m
				}
			}
			if mdm == nil {
				t.Fatal("no MDM payload")
			}
			s2 := scepPayload(t, mdmProfile)
			base := publicURL + "/mdm/" + string(f.org)
			switch {
			case mdm.ServerURL != base+"/server" || mdm.CheckInURL != base+"/checkin":
				t.Errorf("MDM URLs %s %s", mdm.ServerURL, mdm.CheckInURL)
			case mdm.Topic != topic:
				t.Errorf("topic %s", mdm.Topic)
			case !mdm.SignMessage || !mdm.CheckOutWhenRemoved:
				t.Errorf("SignMessage %v CheckOutWhenRemoved %v", mdm.SignMessage, mdm.CheckOutWhenRemoved)
			case mdm.IdentityCertificateUUID != s2.UUID:
				t.Errorf("MDM identity %s, SCEP payload %s", mdm.IdentityCertificateUUID, s2.UUID)
			case int(mdm.AccessRights) != inventory.AccessRights(wipe):
				t.Errorf("access rights %d, want %d", mdm.AccessRights, inventory.AccessRights(wipe))
			case mdm.AccessRights&profile.RightQueryNetworkInfo != 0:
				t.Error("network information granted")
			case wipe != (mdm.AccessRights&profile.RightDeviceErase != 0):
				t.Errorf("erase right %v with full wipe allowed %v", mdm.AccessRights&profile.RightDeviceErase != 0, wipe)
			case s2.Challenge == s1.Challenge:
				t.Error("SCEP challenge reused for the MDM identity")
			}
			if !strings.Contains(mdmProfile.DisplayName, "Acme Corp") || mdmProfile.Description == "" || mdmProfile.ConsentText["default"] == "" {
				t.Errorf("MDM profile texts %q %q %v", mdmProfile.DisplayName, mdmProfile.Description, mdmProfile.ConsentText)
			}

			// SCEP: the MDM identity; the session is done.
			mdmCert := f.getCert(t, s2.Challenge, deviceKey(t, 1))
			sess, err = f.store.EnrollSession(t.Context(), f.org, ticket.Session)
			if err != nil {
				t.Fatal(err)
			}
			fp := enroll.FingerprintOf(mdmCert)
			if sess.Phase != enroll.PhaseEnrolled || sess.Identity != fp {
				t.Errorf("session ends at %s with identity %s", sess.Phase, sess.Identity)
			}
			id, err := f.store.Identity(t.Context(), f.org, fp)
			if err != nil || id.UserID != "alice" || id.Policy != "pol-ios" || id.Session != ticket.Session {
				t.Errorf("MDM identity record %+v, %v", id, err)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
