package mdm_test

import (
	"path/filepath"
	"testing"

	"github.com/micromdm/plist"

	"github.com/openomm/omm/enroll/mdm"
	"github.com/openomm/omm/internal/appleschema"
)

// commandSchemas maps each RequestType to the keys Apple's schema allows in
// its Command dictionary.
func commandSchemas(t *testing.T) map[string][]appleschema.Key {
	t.Helper()
	root, err := appleschema.Dir()
	if err != nil {
		t.Skipf("Apple device-management schema not found (%v); commands not checked", err)
	}
	files, err := filepath.Glob(filepath.Join(root, "mdm", "commands", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no command schemas: %v", err)
	}
	out := map[string][]appleschema.Key{}
	for _, f := range files {
		s, err := appleschema.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		if s.RequestType != "" {
			out[s.RequestType] = append(s.Keys, appleschema.Key{Key: "RequestType", Type: "<string>", Presence: "required"})
		}
	}
	return out
}

// TestCommandsMatchAppleSchema checks every command this package can build
// against Apple's schema for it: known keys, right types, required keys.
func TestCommandsMatchAppleSchema(t *testing.T) {
	schemas := commandSchemas(t)
	store, _ := mdm.InstallApplication(mdm.App{ITunesStoreID: 361309726, ManagementFlags: mdm.RemoveAppOnUnenroll,
		Configuration: map[string]any{"server": "https://example.com"}})
	inHouse, _ := mdm.InstallApplication(mdm.App{ManifestURL: "https://example.com/app.plist", Identifier: "com.example.app",
		ChangeManagementState: "Managed"})
	clear, _ := mdm.ClearPasscode([]byte{1, 2, 3})
	settings, _ := mdm.Settings(mdm.OrganizationInfo("Acme", "+1 555 0100", "it@acme.example"),
		mdm.ApplicationConfiguration("com.example.app", map[string]any{"user": "alice"}))
	for _, cmd := range []mdm.Command{
		clear, settings,
		mdm.DeviceInformation([]string{"DeviceName"}), mdm.SecurityInfo(), mdm.InstalledApplicationList(true),
		mdm.ManagedApplicationList(), mdm.ProfileList(true), mdm.InstallProfile([]byte("x")), mdm.RemoveProfile("p"),
		store, inHouse, mdm.RemoveApplication("com.example.app"), mdm.EraseDevice(), mdm.DeviceLock("m", "1"),
		mdm.DeclarativeManagementCommand(nil), mdm.DeclarativeManagementCommand([]byte(`{"SyncTokens":{}}`)),
	} {
		keys, ok := schemas[cmd.RequestType]
		if !ok {
			t.Errorf("%s: no schema for this request type", cmd.RequestType)
			continue
		}
		b, err := cmd.Encode()
		if err != nil {
			t.Fatal(err)
		}
		var envelope struct{ Command map[string]any }
		if err := plist.Unmarshal(b, &envelope); err != nil {
			t.Fatal(err)
		}
		for _, p := range appleschema.Check(cmd.RequestType, envelope.Command, keys) {
			t.Error(p)
		}
	}
}
