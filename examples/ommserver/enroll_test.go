package main

import (
	"testing"

	"github.com/openomm/omm/inventory"
)

// TestAppleEnrollmentEndToEnd plays an Apple device through the server's
// own endpoints: the agent API starts a direct enrollment, the device
// fetches the signed profile, gets its identity from the SCEP CA, checks
// in with it as its TLS client certificate, and fetches its first command.
// It proves the composition: public URL, SCEP, OTA and MDM share one CA,
// TLS asks for client certificates, and the policy profile and inventory
// refresh are queued at enrollment.
func TestAppleEnrollmentEndToEnd(t *testing.T) {
	w := newWorld(t)
	alice := w.agentSignIn(t, "alice")
	org := string(demoOrg.ID)

	// enrollApple checks the profile's signature against the org's SCEP
	// CA, gets the identity from SCEP and checks in with it.
	const udid = "00008110-000A1D2E3F40801E"
	dev := enrollApple(t, w, alice, udid)
	if dev.scep.URL != w.base+"/scep/"+org || dev.mdm.CheckInURL != w.base+"/mdm/"+org+"/checkin" ||
		dev.mdm.ServerURL != w.base+"/mdm/"+org+"/server" || dev.mdm.Topic != defaultTopic {
		t.Errorf("URLs: SCEP %s, check-in %s, server %s, topic %s", dev.scep.URL, dev.mdm.CheckInURL, dev.mdm.ServerURL, dev.mdm.Topic)
	}

	// The device is alice's and enrolled; its first commands are queued.
	mine := must[struct{ Devices []deviceView }](t, 200)(w.do(t, "GET", "/api/agent/devices", alice, nil))
	for _, d := range mine.Devices {
		if d.ID == dev.id && (d.State != inventory.StateEnrolled || d.Platform != inventory.PlatformIOS) {
			t.Errorf("new device %+v", d)
		}
	}
	detail := must[struct{ Actions []actionView }](t, 200)(w.do(t, "GET", "/api/admin/devices/"+dev.id, w.first.adminToken, nil))
	queued := map[string]bool{}
	for _, a := range detail.Actions {
		queued[a.RequestType] = a.Pending
	}
	for _, want := range []string{"InstallProfile", "DeviceInformation", "SecurityInfo"} {
		if !queued[want] {
			t.Errorf("pending actions %v lack %s", queued, want)
		}
	}

	// The device fetches a command and acknowledges it.
	cmd, ok := dev.poll(t, nil)
	if !ok {
		t.Fatal("no first command")
	}
	if _, ok := dev.poll(t, map[string]any{"Status": "Acknowledged", "CommandUUID": cmd.CommandUUID}); !ok {
		t.Error("no second command")
	}
	detail = must[struct{ Actions []actionView }](t, 200)(w.do(t, "GET", "/api/admin/devices/"+dev.id, w.first.adminToken, nil))
	for _, a := range detail.Actions {
		if a.UUID == cmd.CommandUUID && (a.Pending || a.Status != "Acknowledged") {
			t.Errorf("acknowledged %s still shows %+v", cmd.requestType(), a)
		}
	}

	// A request without the identity is refused, never with 401.
	if st, _ := w.do(t, "PUT", "/mdm/"+org+"/server", "", "<plist version=\"1.0\"><dict><key>UDID</key><string>"+udid+"</string><key>Status</key><string>Idle</string></dict></plist>"); st != 400 {
		t.Errorf("anonymous command poll = %d, want 400", st)
	}
}
