package main

import (
	"slices"
	"testing"
)

// TestDeviceApps plays the app commands a walk meets against one device:
// the user's copy is left alone by a plain install and taken over only
// when asked, RemoveApplication reaches managed apps only, and removing the
// MDM profile unenrolls the device and takes the remove-on-unenroll apps.
func TestDeviceApps(t *testing.T) {
	t.Parallel()
	d := &device{spec: newSpec("SIMAPPS0001"), profiles: []string{"mdm", "policy"}, mdmProfile: "mdm"}
	d.StoreApp = "com.example.demo.notes"
	steps := []struct {
		request string
		body    map[string]any
		status  string
	}{
		{"InstallApplication", map[string]any{"Identifier": "com.example.demo.notes", "iTunesStoreID": 1}, "Acknowledged"},
		{"InstallApplication", map[string]any{"Identifier": "com.example.demo.expenses", "ManifestURL": "https://x/m.plist",
			"ManagementFlags": uint64(1)}, "Acknowledged"},
		{"InstallApplication", map[string]any{"Identifier": "com.example.other", "iTunesStoreID": 2}, "Acknowledged"},
		{"RemoveApplication", map[string]any{"Identifier": d.PersonalApp}, "Error"},
		{"RemoveApplication", map[string]any{"Identifier": "com.example.other"}, "Acknowledged"},
		{"RemoveProfile", map[string]any{"Identifier": "nope"}, "Error"},
		{"RemoveProfile", map[string]any{"Identifier": "policy"}, "Acknowledged"},
	}
	for _, s := range steps {
		res, note := d.respond(command{UUID: "u", RequestType: s.request, Body: s.body})
		if res["Status"] != s.status {
			t.Fatalf("%s %v → %v (%s), want %s", s.request, s.body, res["Status"], note, s.status)
		}
	}
	managed, _ := d.managedApplicationList()
	if st := managed["com.example.demo.notes"].(map[string]any)["Status"]; st != "UserInstalledApp" {
		t.Errorf("the user's copy lists as %v, want UserInstalledApp", st)
	}
	if st := managed["com.example.demo.expenses"].(map[string]any)["Status"]; st != "Managed" {
		t.Errorf("the installed app lists as %v, want Managed", st)
	}
	if !slices.Equal(d.refusedRemovals, []string{d.PersonalApp}) || d.unenrolled {
		t.Fatalf("refused %v, unenrolled %v", d.refusedRemovals, d.unenrolled)
	}

	// Taking over makes the user's copy managed.
	d.respond(command{UUID: "u", RequestType: "InstallApplication", Body: map[string]any{
		"Identifier": "com.example.demo.notes", "ChangeManagementState": "Managed"}})
	managed, _ = d.managedApplicationList()
	if st := managed["com.example.demo.notes"].(map[string]any)["Status"]; st != "Managed" {
		t.Errorf("taken over copy lists as %v", st)
	}

	if res, _ := d.respond(command{UUID: "u", RequestType: "RemoveProfile", Body: map[string]any{"Identifier": "mdm"}}); res["Status"] != "Acknowledged" || !d.unenrolled {
		t.Fatalf("removing the MDM profile: %v, unenrolled %v", res, d.unenrolled)
	}
	var left []string
	for _, a := range d.appList() {
		left = append(left, a.Identifier)
	}
	want := []string{d.PersonalApp, "com.apple.mobilesafari", "com.example.demo.notes"}
	if !slices.Equal(left, want) {
		t.Errorf("apps after unenrolling %v, want %v (the remove-on-unenroll app gone)", left, want)
	}
}
