package main

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestAndroidWalk runs the Android walk for every mode against a freshly
// started server (its local Android Management API fake and demo Knox key
// on by default) and checks what each phone saw and what the server
// recorded.
func TestAndroidWalk(t *testing.T) {
	t.Parallel()
	ts := startServerArgs(t)
	out := &syncBuffer{}
	results, err := walkAndroid(t.Context(), androidConfig{commonFlags: ts.flags("alice"), adminToken: ts.adminToken, modes: allAndroidModes}, out)
	if err != nil {
		t.Fatalf("walk: %v\n%s", err, out)
	}
	if len(results) != len(allAndroidModes) {
		t.Fatalf("%d results for %d modes", len(results), len(allAndroidModes))
	}
	const chat = "com.example.demo.chat" // the demo store's Play app
	tests := []struct {
		mode                     androidMode
		serverMode, typ, channel string
		dataSeparation           string
		refused                  []string
		wipe                     string
		personalKept             bool
	}{
		{modeWorkProfile, "work_profile", "android_work_profile", "amapi", "DATA_SHARING_FROM_WORK_TO_PERSONAL_DISALLOWED",
			[]string{"erase"}, "WORK_PROFILE_REMOVED", true},
		{modeFullyManaged, "work_profile", "android_fully_managed", "amapi", "no personal profile to separate",
			[]string{"deprovision"}, "FACTORY_RESET", false},
		{modeKnox, "knox", "android_knox", "agent", "not enforceable: work-to-personal sharing cannot be blocked", nil, "work_data", true},
		{modeDeviceAdmin, "device_admin", "android_device_admin", "agent", "not enforceable: work-to-personal sharing cannot be blocked", nil, "factory_reset", false},
	}
	for i, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			r := results[i]
			if r.Phone.Mode != tt.mode {
				t.Fatalf("result %d is %s", i, r.Phone.Mode)
			}
			if r.Decision.Outcome != "enroll" || r.Mode != tt.serverMode || r.Type != tt.typ || r.Channel != tt.channel {
				t.Errorf("decision %+v, enrolled %s/%s over %s; want %s/%s over %s", r.Decision, r.Mode, r.Type, r.Channel, tt.serverMode, tt.typ, tt.channel)
			}
			if r.DeviceID == "" || (tt.mode == modeKnox) != r.KnoxLicense {
				t.Errorf("device %q, Knox license %v", r.DeviceID, r.KnoxLicense)
			}
			if !slices.Contains(r.Offered, chat+" (AVAILABLE)") || !slices.Contains(r.StoreApps, chat+" (Available)") {
				t.Errorf("policy offers %v, store lists %v; want %s in both", r.Offered, r.StoreApps, chat)
			}
			if !strings.HasPrefix(r.DataSeparation, tt.dataSeparation) {
				t.Errorf("data separation %q, want %q", r.DataSeparation, tt.dataSeparation)
			}
			if r.Dropped < 3 { // network info, location, app usage events, baseband
				t.Errorf("%d forbidden fields dropped", r.Dropped)
			}
			if !slices.Equal(r.LeaveRefused, tt.refused) || r.Wipe != tt.wipe || r.PersonalKept != tt.personalKept {
				t.Errorf("leaving: refused %v, wipe %q, personal kept %v; want %v, %q, %v", r.LeaveRefused, r.Wipe, r.PersonalKept,
					tt.refused, tt.wipe, tt.personalKept)
			}
			// Every phone is listed with its serial number and no longer
			// enrolled.
			var d adminDevice
			ts.admin(t, "/api/admin/devices/"+r.DeviceID, &d)
			if d.Device.SerialNumber != r.Phone.Serial || d.Device.State == "enrolled" {
				t.Errorf("admin API device %+v", d.Device)
			}
		})
	}
	legacy := results[len(results)-1]
	if legacy.Phone.Mode != modeLegacyAbove28 || legacy.Refused == "" || legacy.DeviceID != "" {
		t.Errorf("legacy phone above API 28: %+v, want refused", legacy)
	}
	if legacy.Decision.Outcome == "enroll" && len(legacy.Decision.Warnings) == 0 {
		t.Errorf("the policy neither refused nor warned above API 28: %+v", legacy.Decision)
	}
	for _, want := range []string{"Knox license activated", "QR code scanned", "enrollment link opened", "pending until the phone answers",
		"done (audit log)", "refused, as it must be", "all 5 Android phones walked"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// TestAndroidWalkWithoutProvider: with the Android Management API and
// Knox turned off, the phones that need them are refused with a clear
// message; the legacy device-admin phone still enrolls.
func TestAndroidWalkWithoutProvider(t *testing.T) {
	t.Parallel()
	ts := startServerArgs(t, "-android-amapi", "off", "-knox-license-file", "none")
	for _, tt := range []struct {
		mode androidMode
		want string
	}{
		{modeWorkProfile, "Android Management API"},
		{modeKnox, "Knox"},
	} {
		_, err := walkAndroid(t.Context(), androidConfig{commonFlags: ts.flags("alice"), modes: []androidMode{tt.mode}}, &syncBuffer{})
		var se *statusError
		if !errors.As(err, &se) || se.Status != 403 || !strings.Contains(se.Body, tt.want) {
			t.Errorf("%s: %v, want a 403 naming %s", tt.mode, err, tt.want)
		}
	}
	out := &syncBuffer{}
	if _, err := walkAndroid(t.Context(), androidConfig{commonFlags: ts.flags("bob"), modes: []androidMode{modeDeviceAdmin}}, out); err != nil {
		t.Fatalf("device admin walk without admin token: %v\n%s", err, out)
	}
}

func TestParseAndroid(t *testing.T) {
	tests := []struct {
		args []string
		want []androidMode
		ok   bool
	}{
		{[]string{"-password", "x"}, allAndroidModes, true},
		{[]string{"-password", "x", "-modes", "knox,knox, work_profile"}, []androidMode{modeKnox, modeWorkProfile}, true},
		{[]string{"-password", "x", "-modes", "ios"}, nil, false},
		{[]string{"-password", "x", "extra"}, nil, false},
		{[]string{"-password", "x", "-totp-secret", "JBSWY3DPEHPK3PXP"}, allAndroidModes, true},
		{[]string{"-password", "x", "-totp-secret", "not base32!"}, nil, false},
	}
	for _, tt := range tests {
		c, err := parseAndroid(tt.args, &syncBuffer{})
		if (err == nil) != tt.ok || (tt.ok && !slices.Equal(c.modes, tt.want)) {
			t.Errorf("parseAndroid(%q) = %v, %v", tt.args, c.modes, err)
		}
		if err != nil && !errors.Is(err, errUsage) {
			t.Errorf("parseAndroid(%q): %v is not a usage error", tt.args, err)
		}
	}
}
