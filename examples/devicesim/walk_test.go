package main

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// adminDevice is the admin API's device detail, as far as the test reads it.
type adminDevice struct {
	Device struct {
		ID           string            `json:"id"`
		State        string            `json:"state"`
		Platform     string            `json:"platform"`
		SerialNumber string            `json:"serial_number"`
		Values       map[string]string `json:"values"`
	} `json:"device"`
	Apps []adminApp `json:"apps"`
}

// findDevice returns the ID of the org's device with serial, or "".
func (ts *testServer) findDevice(t *testing.T, serial string) string {
	t.Helper()
	var list struct {
		Devices []struct {
			ID           string `json:"id"`
			SerialNumber string `json:"serial_number"`
		} `json:"devices"`
	}
	ts.admin(t, "/api/admin/devices", &list)
	for _, d := range list.Devices {
		if d.SerialNumber == serial {
			return d.ID
		}
	}
	return ""
}

// TestIOSWalk walks an iPhone through the whole journey and checks the
// server's records through the admin API: enrolled with the privacy
// filter's inventory while enrolled, the app already on the phone shown
// unmanaged, the store install reported installed, the policy profile
// received, and deprovisioned at the end with the user's apps untouched.
func TestIOSWalk(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	out := &syncBuffer{}
	checked := false
	res, err := walkIOS(t.Context(), walkConfig{commonFlags: ts.flags("alice"), serial: "SIMWALK0001", delivery: "ota",
		storeApp: demoStoreApp, adminToken: ts.adminToken, enrolled: func(res walkResult) {
			checked = true
			ts.checkEnrolled(t, res)
		}}, out)
	if err != nil {
		t.Fatalf("walk: %v\n%s", err, out)
	}
	if !checked {
		t.Fatal("the walk never reported the device enrolled")
	}
	log := out.String()
	for _, want := range []string{"agent PIN set", "eligibility: enroll", "OTA phase 1", "OTA phase 2",
		"SCEP: OTA identity issued", "OTA phase 3", "SCEP: MDM identity issued",
		"Authenticate accepted", "TokenUpdate accepted", "no more commands",
		"policy profile received, signed by the org's CA", "is Unmanaged", "is Installed (Open)",
		"deprovision requested", "CheckOut accepted", "is deprovisioned"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	for _, want := range []string{"InstallProfile", "DeviceInformation", "SecurityInfo", "InstalledApplicationList",
		"ProfileList", "InstallApplication", "ManagedApplicationList", "RemoveApplication", "RemoveProfile"} {
		if !slices.Contains(res.Commands, want) {
			t.Errorf("answered %v, not %s", res.Commands, want)
		}
	}
	// The demo policy's passcode and data separation reached the device.
	if want := "passcode min length 6, max failed attempts 10, auto-lock 5 min; managed↔unmanaged open-in blocked"; !strings.Contains(res.Policy, want) {
		t.Errorf("policy profile %q, want %q", res.Policy, want)
	}
	// The demo's App Store app, installed by the user first, stays theirs;
	// the in-house app comes from the store.
	if res.Unmanaged.Identifier != demoStoreApp || res.Unmanaged.State != "Unmanaged" || !strings.Contains(res.Unmanaged.Advice, "installed before") {
		t.Errorf("unmanaged item %+v", res.Unmanaged)
	}
	if res.Installed.Identifier != "com.example.demo.expenses" || res.Installed.State != "Installed" {
		t.Errorf("installed item %+v", res.Installed)
	}
	if !slices.Equal(res.Removed, []string{"com.example.demo.expenses"}) || res.FinalState != "deprovisioned" {
		t.Errorf("deprovision removed %v, final state %q", res.Removed, res.FinalState)
	}
	for _, id := range []string{res.Device.PersonalApp, demoStoreApp} {
		if !slices.Contains(res.Kept, id) {
			t.Errorf("after deprovisioning the device has %v, lacking the user's %s", res.Kept, id)
		}
	}

	// A second walk through the command line, with direct delivery and
	// Mdm-Signature instead of the TLS client certificate (and a new agent
	// session, which sets its own PIN), and no app before enrollment: the
	// store's App Store app arrives at enrollment, the in-house one from
	// the store.
	out2 := &syncBuffer{}
	f := ts.flags("alice")
	if err := run(t.Context(), []string{"ios", "-server", f.server, "-ca", f.caFile, "-site", "demo", "-user", "alice",
		"-password", f.acct.Password, "-pin", f.acct.PIN, "-serial", "SIMWALK0002", "-delivery", "direct", "-proof", "signature",
		"-store-app", "", "-admin-token", ts.adminToken}, out2); err != nil {
		t.Fatalf("second walk: %v\n%s", err, out2)
	}
	log2 := out2.String()
	for _, want := range []string{"no more commands", "installed com.example.demo.notes as a managed app",
		"Demo Expenses is Installed (Open)", "is deprovisioned"} {
		if !strings.Contains(log2, want) || strings.Contains(log2, "OTA phase") {
			t.Errorf("second walk's log lacks %q:\n%s", want, log2)
		}
	}
	if ts.findDevice(t, "SIMWALK0002") == "" {
		t.Error("second device not listed")
	}
}

// checkEnrolled checks the admin API's record of an enrolled device:
// inventory through the privacy filter, and the user's app before
// enrollment listed as unmanaged.
func (ts *testServer) checkEnrolled(t *testing.T, res walkResult) {
	t.Helper()
	id := ts.findDevice(t, res.Device.Serial)
	if id == "" || id != res.DeviceID {
		t.Fatalf("the admin API lists device %q for serial %s, the agent API %q", id, res.Device.Serial, res.DeviceID)
	}
	var d adminDevice
	raw := string(ts.admin(t, "/api/admin/devices/"+id, &d))
	if d.Device.State != "enrolled" || d.Device.Platform != "ios" {
		t.Errorf("device %+v", d.Device)
	}
	for key, want := range map[string]string{"serial_number": res.Device.Serial, "os_version": res.Device.OSVersion,
		"device_name": res.Device.Name, "passcode_present": "true"} {
		if got := d.Device.Values[key]; got != want {
			t.Errorf("inventory %s = %q, want %q", key, got, want)
		}
	}
	// The privacy filter dropped what the device over-shared.
	for _, secret := range []string{res.Device.IMEI, res.Device.WiFiMAC, res.Device.Bluetooth, "+1 555 0100"} {
		if strings.Contains(raw, secret) {
			t.Errorf("stored inventory holds %q, which the privacy contract forbids:\n%s", secret, raw)
		}
	}
	for _, want := range []struct {
		id      string
		managed bool
	}{{res.Device.PersonalApp, false}, {res.Device.StoreApp, false}, {"com.example.demo.expenses", true}} {
		i := slices.IndexFunc(d.Apps, func(a adminApp) bool { return a.Identifier == want.id })
		if i < 0 || d.Apps[i].Managed != want.managed {
			t.Errorf("apps %+v: want %s managed=%v", d.Apps, want.id, want.managed)
		}
	}
}

// TestIOSWalkRefused checks that refusals end the walk with a clear error
// and no device.
func TestIOSWalkRefused(t *testing.T) {
	t.Parallel()
	ts := startServerArgs(t) // no -allow-simulators
	tests := []struct {
		name     string
		password string
		delivery string
		want     string
	}{
		{"wrong password", "not-" + ts.passwords["alice"], "direct", "sign-in"},
		{"simulated OTA device", ts.passwords["alice"], "ota", "-allow-simulators"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := ts.flags("alice")
			f.acct.Password = tt.password
			_, err := walkIOS(t.Context(), walkConfig{commonFlags: f, delivery: tt.delivery}, &syncBuffer{})
			var se *statusError
			if err == nil || !errors.As(err, &se) || se.Status/100 != 4 || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("walk = %v, want a 4xx refusal mentioning %q", err, tt.want)
			}
		})
	}
	var list struct{ Devices []any }
	if ts.admin(t, "/api/admin/devices", &list); len(list.Devices) != 0 {
		t.Errorf("devices appeared from refused walks: %+v", list.Devices)
	}
}

// TestIOSWalkAgentToken walks with a session made beforehand (as a host
// product's own sign-in would make one) instead of signing in: no
// password, no sign-in step.
func TestIOSWalkAgentToken(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	f := ts.flags("bob")
	a, err := f.target()
	if err != nil {
		t.Fatal(err)
	}
	token, err := a.signIn(t.Context(), f.acct, nop)
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	if err := run(t.Context(), []string{"ios", "-server", f.server + "/", "-ca", f.caFile, "-agent-token", token,
		"-delivery", "direct", "-store-app", "", "-serial", "SIMTOKEN0001"}, out); err != nil {
		t.Fatalf("walk with -agent-token: %v\n%s", err, out)
	}
	if log := out.String(); !strings.Contains(log, "-agent-token") || strings.Contains(log, "signed in as") || !strings.Contains(log, "as the policy requires") {
		t.Errorf("log:\n%s", log)
	}
	if err := run(t.Context(), []string{"ios", "-server", f.server, "-ca", f.caFile, "-agent-token", "not-a-session",
		"-delivery", "direct"}, &syncBuffer{}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("walk with a bad agent token: %v, want a 401", err)
	}
}
