package mdm

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/micromdm/plist"

	"github.com/openomm/omm/internal/seqid"
)

// Command is a command for a device, ready to encode. Build one with the
// constructors below; the set is deliberately closed: there is none for
// location or Lost Mode, which the privacy contract forbids.
type Command struct {
	UUID        string
	RequestType string
	request     map[string]any
}

// NewUUID returns an unguessable UUID for a command, in the order this
// process made them (internal/seqid): commands queued one after another
// are stored next to each other.
func NewUUID() string {
	b := seqid.New()
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func newCommand(requestType string, request map[string]any) Command {
	if request == nil {
		request = map[string]any{}
	}
	request["RequestType"] = requestType
	return Command{UUID: NewUUID(), RequestType: requestType, request: request}
}

// Encode returns the command as the XML plist a device expects.
func (c Command) Encode() ([]byte, error) {
	if c.UUID == "" || c.RequestType == "" {
		return nil, errors.New("mdm: command without UUID or RequestType")
	}
	return plist.MarshalIndent(map[string]any{"CommandUUID": c.UUID, "Command": c.request}, "\t")
}

// DeviceInformation queries the named attributes. Pass the list the
// privacy contract derives (inventory), never a hand-written one.
func DeviceInformation(queries []string) Command {
	return newCommand("DeviceInformation", map[string]any{"Queries": append([]string(nil), queries...)})
}

// SecurityInfo asks for the device's security state (encryption, passcode).
func SecurityInfo() Command { return newCommand("SecurityInfo", nil) }

// InstalledApplicationList asks for the installed apps; managedOnly limits
// it to the apps this server manages.
func InstalledApplicationList(managedOnly bool) Command {
	return newCommand("InstalledApplicationList", map[string]any{"ManagedAppsOnly": managedOnly})
}

// ManagedApplicationList asks for the state of the managed apps.
func ManagedApplicationList() Command { return newCommand("ManagedApplicationList", nil) }

// ProfileList asks for the installed profiles; managedOnly limits it to
// profiles this server installed.
func ProfileList(managedOnly bool) Command {
	return newCommand("ProfileList", map[string]any{"ManagedOnly": managedOnly})
}

// InstallProfile installs a (signed) configuration profile.
func InstallProfile(payload []byte) Command {
	return newCommand("InstallProfile", map[string]any{"Payload": payload})
}

// RemoveProfile removes the profile with this PayloadIdentifier.
func RemoveProfile(identifier string) Command {
	return newCommand("RemoveProfile", map[string]any{"Identifier": identifier})
}

// DeclarativeManagementCommand is the DeclarativeManagement command: it
// turns on declarative device management on the device (the first time)
// or asks it to synchronise its declarations. tokens, when not nil, is the JSON of the server's TokensResponse
// ({"SyncTokens": …}): a device that has it compares the tokens at once
// instead of fetching them first.
func DeclarativeManagementCommand(tokens []byte) Command {
	req := map[string]any{}
	if len(tokens) > 0 {
		req["Data"] = append([]byte(nil), tokens...)
	}
	return newCommand("DeclarativeManagement", req)
}

// Management flags for InstallApplication.
const (
	// RemoveAppOnUnenroll removes the app when the MDM profile is removed.
	RemoveAppOnUnenroll = 1
	// PreventAppDataBackup keeps the app's data out of backups.
	PreventAppDataBackup = 4
)

// App names the app to install: an App Store app by its iTunesStoreID, or
// an in-house app by its https manifest URL.
type App struct {
	ITunesStoreID   int
	ManifestURL     string
	Identifier      string // bundle ID, for taking over an installed copy
	ManagementFlags int
	Configuration   map[string]any // managed app configuration
	// ChangeManagementState "Managed" takes over an app the user already
	// installed (where the platform allows).
	ChangeManagementState string
}

// InstallApplication installs (or takes over) an app as managed.
func InstallApplication(app App) (Command, error) {
	req := map[string]any{}
	if app.ManagementFlags&^(RemoveAppOnUnenroll|PreventAppDataBackup) != 0 {
		return Command{}, fmt.Errorf("mdm: install application: management flags %d: only %d and %d are defined", app.ManagementFlags, RemoveAppOnUnenroll, PreventAppDataBackup)
	}
	if app.ManagementFlags != 0 { // Apple's schema has no 0
		req["ManagementFlags"] = app.ManagementFlags
	}
	switch {
	case app.ITunesStoreID > 0 && app.ManifestURL == "":
		req["iTunesStoreID"] = app.ITunesStoreID
	case app.ManifestURL != "" && app.ITunesStoreID == 0:
		u, err := url.Parse(app.ManifestURL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return Command{}, fmt.Errorf("mdm: install application: manifest URL %q must be an absolute https URL", app.ManifestURL)
		}
		req["ManifestURL"] = app.ManifestURL
	default:
		return Command{}, errors.New("mdm: install application: give exactly one of an iTunes Store ID or a manifest URL")
	}
	if app.Identifier != "" {
		req["Identifier"] = app.Identifier
	}
	if app.Configuration != nil {
		req["Configuration"] = app.Configuration
	}
	if app.ChangeManagementState != "" {
		req["ChangeManagementState"] = app.ChangeManagementState
	}
	return newCommand("InstallApplication", req), nil
}

// RemoveApplication removes a managed app and its data.
func RemoveApplication(identifier string) Command {
	return newCommand("RemoveApplication", map[string]any{"Identifier": identifier})
}

// EraseDevice erases all content and settings: a factory reset. Callers
// must have checked that policy and ownership allow it; the MDM profile's
// access rights (no erase bit) make the device refuse it otherwise.
func EraseDevice() Command { return newCommand("EraseDevice", nil) }

// DeviceLock locks the screen, with an optional message and phone number to
// show on it.
func DeviceLock(message, phoneNumber string) Command {
	req := map[string]any{}
	if message != "" {
		req["Message"] = message
	}
	if phoneNumber != "" {
		req["PhoneNumber"] = phoneNumber
	}
	return newCommand("DeviceLock", req)
}

// ClearPasscode removes the device passcode, using the unlock token the
// device escrowed in its TokenUpdate.
func ClearPasscode(unlockToken []byte) (Command, error) {
	if len(unlockToken) == 0 {
		return Command{}, errors.New("mdm: clear passcode: the device sent no unlock token")
	}
	return newCommand("ClearPasscode", map[string]any{"UnlockToken": unlockToken}), nil
}

// Setting is one item of a Settings command.
type Setting map[string]any

// OrganizationInfo shows the organization's name and contact details on
// the device. name is required.
func OrganizationInfo(name, phone, email string) Setting {
	info := map[string]any{"OrganizationName": name}
	if phone != "" {
		info["OrganizationPhone"] = phone
	}
	if email != "" {
		info["OrganizationEmail"] = email
	}
	return Setting{"Item": "OrganizationInfo", "OrganizationInfo": info}
}

// ApplicationConfiguration replaces the managed configuration of the
// managed app identifier.
func ApplicationConfiguration(identifier string, config map[string]any) Setting {
	s := Setting{"Item": "ApplicationConfiguration", "Identifier": identifier}
	if config != nil {
		s["Configuration"] = config
	}
	return s
}

// Settings applies one-time settings.
func Settings(items ...Setting) (Command, error) {
	if len(items) == 0 {
		return Command{}, errors.New("mdm: settings: no setting given")
	}
	list := make([]any, len(items))
	for i, it := range items {
		if _, ok := it["Item"].(string); !ok {
			return Command{}, fmt.Errorf("mdm: settings: item %d has no Item name", i)
		}
		list[i] = map[string]any(it)
	}
	return newCommand("Settings", map[string]any{"Settings": list}), nil
}
