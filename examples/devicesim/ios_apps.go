package main

import (
	"fmt"
	"slices"
	"strings"
)

// app is one app on a simulated iPhone.
type app struct {
	Identifier, Name      string
	ShortVersion, Version string
	BundleSize            int
	// Managed: installed (or taken over) by the MDM; RemoveApplication
	// may remove it, and the MDM profile's removal would.
	Managed bool
	// Flags are the InstallApplication ManagementFlags.
	Flags int
	// Config is the managed app configuration, when the MDM sent one.
	Config map[string]any
	// Refused: the MDM asked to install this app, which the user had
	// installed already, without taking it over; iOS then lists it as
	// UserInstalledApp in ManagedApplicationList.
	Refused bool
}

// appList returns the device's apps, starting from what the spec says was
// there before enrollment.
func (d *device) appList() []app {
	if d.apps == nil {
		d.apps = []app{
			{Identifier: d.PersonalApp, Name: "Personal Notes", ShortVersion: "3.2", Version: "320", BundleSize: 48213504},
			{Identifier: "com.apple.mobilesafari", Name: "Safari", ShortVersion: d.OSVersion, Version: "8618.1.15", BundleSize: 12582912},
		}
		if d.StoreApp != "" {
			d.apps = append(d.apps, app{Identifier: d.StoreApp, Name: appName(d.StoreApp), ShortVersion: "1.0", Version: "1",
				BundleSize: 20971520})
		}
	}
	return d.apps
}

// appName makes a display name from a bundle identifier (its last part),
// as the simulator has no App Store to ask.
func appName(id string) string {
	last := id[strings.LastIndex(id, ".")+1:]
	if last == "" {
		return id
	}
	return strings.ToUpper(last[:1]) + last[1:]
}

// installedApplicationList answers InstalledApplicationList: every app,
// managed or not, as iOS lists them.
func (d *device) installedApplicationList() ([]any, string) {
	apps := d.appList()
	list := make([]any, len(apps))
	var names []string
	for i, a := range apps {
		list[i] = map[string]any{"Identifier": a.Identifier, "Name": a.Name, "ShortVersion": a.ShortVersion,
			"Version": a.Version, "BundleSize": a.BundleSize, "DynamicSize": 1024000, "IsValidated": true}
		kind := "personal"
		if a.Managed {
			kind = "managed"
		}
		names = append(names, a.Identifier+" ("+kind+")")
	}
	return list, fmt.Sprintf("%d apps: %s", len(apps), strings.Join(names, ", "))
}

// managedApplicationList answers ManagedApplicationList: the apps the MDM
// manages, each with Apple's status.
func (d *device) managedApplicationList() (map[string]any, string) {
	m := map[string]any{}
	for _, a := range d.appList() {
		switch {
		case a.Managed:
			m[a.Identifier] = map[string]any{"Status": "Managed", "ManagementFlags": a.Flags,
				"HasConfiguration": a.Config != nil, "HasFeedback": false, "IsValidated": true}
		case a.Refused:
			m[a.Identifier] = map[string]any{"Status": "UserInstalledApp", "ManagementFlags": 0,
				"HasConfiguration": false, "HasFeedback": false, "IsValidated": true}
		}
	}
	return m, fmt.Sprintf("%d entries", len(m))
}

// installApplication carries out InstallApplication at once (a real
// device downloads first and reports Installing meanwhile): a new app is
// installed managed; a copy the user installed is taken over only when
// the command says ChangeManagementState Managed, else it stays the
// user's and the command is acknowledged all the same, as iOS does.
func (d *device) installApplication(body map[string]any) string {
	id, _ := body["Identifier"].(string)
	if id == "" {
		// Without an identifier the simulator cannot tell which app the
		// store ID or manifest stands for: nothing to report.
		return "acknowledged (no Identifier, so the app is not simulated)"
	}
	flags := plistInt(body["ManagementFlags"])
	cfg, _ := body["Configuration"].(map[string]any)
	d.appList()
	i := slices.IndexFunc(d.apps, func(a app) bool { return a.Identifier == id })
	switch {
	case i < 0:
		d.apps = append(d.apps, app{Identifier: id, Name: appName(id), ShortVersion: "1.0", Version: "1",
			BundleSize: 10485760, Managed: true, Flags: flags, Config: cfg})
		return "installed " + id + " as a managed app"
	case d.apps[i].Managed:
		d.apps[i].Config = cfg
		return id + " was managed already: updated"
	case body["ChangeManagementState"] == "Managed":
		d.apps[i].Managed, d.apps[i].Flags, d.apps[i].Config = true, flags, cfg
		return "took over " + id + ", installed by the user, as managed (its data stays)"
	default:
		d.apps[i].Refused = true
		return id + " is the user's copy: left unmanaged (UserInstalledApp)"
	}
}

// removeApplication removes a managed app; the user's apps are out of the
// MDM's reach, so removing one is an error.
func (d *device) removeApplication(body map[string]any) error {
	id, _ := body["Identifier"].(string)
	d.appList()
	i := slices.IndexFunc(d.apps, func(a app) bool { return a.Identifier == id })
	switch {
	case i < 0:
		return fmt.Errorf("app %q is not installed", id)
	case !d.apps[i].Managed:
		d.refusedRemovals = append(d.refusedRemovals, id)
		return fmt.Errorf("app %q is not managed", id)
	}
	d.apps = slices.Delete(d.apps, i, i+1)
	d.removedApps = append(d.removedApps, id)
	return nil
}

// removeProfile removes an installed profile. Removing the MDM profile
// unenrolls the device and removes the managed apps with the
// remove-on-unenroll flag, as iOS does.
func (d *device) removeProfile(body map[string]any) error {
	id, _ := body["Identifier"].(string)
	i := slices.Index(d.profiles, id)
	if i < 0 {
		return fmt.Errorf("profile %q is not installed", id)
	}
	d.profiles = slices.Delete(d.profiles, i, i+1)
	if id != d.mdmProfile {
		return nil
	}
	d.unenrolled = true
	d.appList()
	d.apps = slices.DeleteFunc(d.apps, func(a app) bool {
		if a.Managed && a.Flags&1 != 0 {
			d.removedApps = append(d.removedApps, a.Identifier)
			return true
		}
		return false
	})
	return nil
}

// plistInt reads a plist integer, whichever Go type the decoder chose.
func plistInt(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case int64:
		return int(n)
	case uint64:
		return int(n)
	}
	return 0
}
