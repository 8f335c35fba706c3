package checkin_test

import (
	"net/http"
	"testing"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/policy"
)

// TestOnlyMDMIdentitiesCheckIn (issue 22, finding 1): the certificate
// issued at OTA phase 2, meant only to sign phase 3, passed Authenticate,
// so one OTA session enrolled two devices. Check-in accepts only identities
// recorded as MDM identities.
func TestOnlyMDMIdentitiesCheckIn(t *testing.T) {
	e := newEnv(t)
	ota := e.newDeviceWith(e.orgA, "UDID-OTA", "alice", func(id *enroll.Identity) { id.Purpose = enroll.PurposeOTA })
	if st := ota.authenticate(); st != http.StatusForbidden {
		t.Errorf("Authenticate with an OTA identity: %d, want 403", st)
	}
	if st, _ := ota.connect("Idle", "", nil); st != http.StatusForbidden {
		t.Errorf("command connection with an OTA identity: %d, want 403", st)
	}
	if _, err := e.store.DeviceByIdentifier(t.Context(), e.orgA, "UDID-OTA"); err == nil {
		t.Error("an OTA identity registered a device")
	}
	mdmID := e.newDevice(e.orgA, "UDID-MDM", "alice")
	if st := mdmID.authenticate(); st != http.StatusOK {
		t.Errorf("Authenticate with an MDM identity: %d, want 200", st)
	}
}

// TestIdentityBoundToItsAttestation: an identity issued at the end of an
// OTA enrollment names the UDID Apple attested at phase 2, and the
// platform its policy decision was for; it authenticates only as that
// device and platform.
func TestIdentityBoundToItsAttestation(t *testing.T) {
	e := newEnv(t)
	attested := e.newDeviceWith(e.orgA, "UDID-ELSE", "alice", func(id *enroll.Identity) { id.AttestedUDID = "UDID-ATTESTED" })
	if st := attested.authenticate(); st != http.StatusForbidden {
		t.Errorf("Authenticate as a device other than the attested one: %d, want 403", st)
	}
	attested.udid = "UDID-ATTESTED"
	if st := attested.authenticate(); st != http.StatusOK {
		t.Errorf("Authenticate as the attested device: %d, want 200", st)
	}
	// A Mac's direct profile does not enroll an iPhone.
	mac := e.newDeviceWith(e.orgA, "UDID-MAC-AS-IPHONE", "alice", func(id *enroll.Identity) { id.Platform = policy.MacOS })
	if st := mac.authenticate(); st != http.StatusForbidden { // the helper's Authenticate says iPhone
		t.Errorf("Authenticate as an iPhone with a macOS identity: %d, want 403", st)
	}
	phone := e.newDeviceWith(e.orgA, "UDID-IOS", "alice", func(id *enroll.Identity) { id.Platform = policy.IOS })
	if st := phone.authenticate(); st != http.StatusOK {
		t.Errorf("Authenticate as an iPhone with an iOS identity: %d, want 200", st)
	}
}
