package main

import (
	"slices"
	"strings"
	"testing"
)

// TestDeclarativeWalk enrolls an iOS 17 phone, has the server turn
// declarative management on, applies the passcode and settings
// declarations and reports status; then changes the policy (a longer
// passcode, an enforced OS update), which reaches the phone as one token
// change and one command, and follows its compliance on the server as the
// phone reports a longer passcode and the installed update.
func TestDeclarativeWalk(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	out := &syncBuffer{}
	c := ddmWalkConfig{commonFlags: ts.flags("alice"), serial: "SIMDDM00001", adminToken: ts.adminToken}
	res, err := walkDeclarative(t.Context(), c, out)
	if err != nil {
		t.Fatalf("walk: %v\n%s", err, out)
	}
	log := out.String()
	for _, want := range []string{"declarative management on; synchronising to token", "declarative: synchronised to token",
		"declarations match the policy: passcode min length",
		"passcode settings", "settings profile com.openomm.enroll.org_demo.settings installed (signed by the org's CA)",
		"status reported", "device.identifier.udid and device.power.battery-health unasked",
		"admin: policy changed", "OS update to 17.5 by", "the user sets a passcode of 8 digits", "the OS update installs"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if i := slices.Index(res.Commands, "DeclarativeManagement"); i < 0 || !slices.Contains(res.Commands[i:], "RemoveProfile") {
		t.Errorf("enrollment commands %v: want DeclarativeManagement, then RemoveProfile of the MDM-installed policy profile", res.Commands)
	}
	// The policy change is one command: no profile, no inventory.
	if !slices.Equal(res.AfterChange, []string{"DeclarativeManagement"}) {
		t.Errorf("after the policy change the phone got %v, want one DeclarativeManagement", res.AfterChange)
	}
	if res.Tokens[0] == "" || res.Tokens[0] == res.Tokens[1] {
		t.Errorf("tokens %v", res.Tokens)
	}
	if want := []string{"compliant", "not_compliant", "pending", "compliant"}; !slices.Equal(res.Compliance, want) {
		t.Errorf("compliance went %v, want %v\n%s", res.Compliance, want, log)
	}
	joined := strings.Join(res.Reasons, "; ")
	for _, want := range []string{"the passcode does not meet the policy", "OS update to 17.5 due by"} {
		if !strings.Contains(joined, want) {
			t.Errorf("reasons after the change %q lack %q", joined, want)
		}
	}
	// The status items the phone sent unasked were dropped.
	var dev adminDevice
	ts.admin(t, "/api/admin/devices/"+res.DeviceID, &dev)
	for k, v := range dev.Device.Values {
		if v == "normal" || strings.Contains(v, "00008110-") {
			t.Errorf("value %s = %q stored from an unasked status item", k, v)
		}
	}
	if dev.Device.Values["passcode_compliant"] != "true" || dev.Device.Values["os_version"] != "17.5" {
		t.Errorf("values %v", dev.Device.Values)
	}
}
