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
	Apps []struct {
		Identifier string
	} `json:"apps"`
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

func TestIOSWalk(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	out := &syncBuffer{}
	res, err := walkIOS(t.Context(), walkConfig{commonFlags: ts.flags("alice"), serial: "SIMWALK0001", delivery: "ota"}, out)
	if err != nil {
		t.Fatalf("walk: %v\n%s", err, out)
	}
	log := out.String()
	for _, want := range []string{"agent PIN set", "eligibility: enroll", "OTA phase 1", "OTA phase 2",
		"SCEP: OTA identity issued", "OTA phase 3", "SCEP: MDM identity issued",
		"Authenticate accepted", "TokenUpdate accepted", "no more commands"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	for _, want := range []string{"InstallProfile", "DeviceInformation", "SecurityInfo", "InstalledApplicationList", "ProfileList"} {
		if !slices.Contains(res.Commands, want) {
			t.Errorf("answered %v, not %s", res.Commands, want)
		}
	}

	id := ts.findDevice(t, res.Device.Serial)
	if id == "" {
		t.Fatalf("the admin API lists no device with serial %s", res.Device.Serial)
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
	if !slices.ContainsFunc(d.Apps, func(a struct{ Identifier string }) bool { return a.Identifier == res.Device.PersonalApp }) {
		t.Errorf("apps %+v lack %s, installed before enrollment", d.Apps, res.Device.PersonalApp)
	}

	// A second walk through the command line, with direct delivery and
	// Mdm-Signature instead of the TLS client certificate (and a new agent
	// session, which sets its own PIN), enrolls a second device.
	out2 := &syncBuffer{}
	f := ts.flags("alice")
	if err := run(t.Context(), []string{"ios", "-server", f.server, "-ca", f.caFile, "-site", "demo", "-user", "alice",
		"-password", f.acct.Password, "-pin", f.acct.PIN, "-serial", "SIMWALK0002", "-delivery", "direct", "-proof", "signature"}, out2); err != nil {
		t.Fatalf("second walk: %v\n%s", err, out2)
	}
	if !strings.Contains(out2.String(), "no more commands") || strings.Contains(out2.String(), "OTA phase") {
		t.Errorf("second walk did not finish:\n%s", out2)
	}
	if ts.findDevice(t, "SIMWALK0002") == "" {
		t.Error("second device not listed")
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
