package mdm_test

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/micromdm/plist"

	"github.com/openomm/omm/enroll/mdm"
	"github.com/openomm/omm/internal/plistlimit"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseCheckInFixtures(t *testing.T) {
	const topic = "com.apple.mgmt.External.e0bd1eac-1f17-4c8e-8a63-dd17d3dd35d9"
	tests := []struct {
		file string
		want mdm.Message
	}{
		{"Authenticate.1.plist", &mdm.Authenticate{
			Channel: mdm.Channel{UDID: "663b07bb783e9ade1dae4fbb92ea12afc0ce5b69"}, Topic: topic,
			OSVersion: "9.3.5", BuildVersion: "13G36", ProductName: "iPad2,5", SerialNumber: "F5JM992LF193",
		}},
		{"Authenticate.2.plist", &mdm.Authenticate{
			Channel: mdm.Channel{UDID: "66ADE930-5FDF-5EC4-8429-15640684C489"}, Topic: topic,
			OSVersion: "10.12.6", BuildVersion: "16G2136", ProductName: "iMac14,2", SerialNumber: "C02MT66KFLHH",
			DeviceName: "Fruit", Model: "iMac14,2", ModelName: "iMac",
		}},
	}
	for _, tt := range tests {
		got, err := mdm.ParseCheckIn(fixture(t, tt.file))
		if err != nil {
			t.Errorf("%s: %v", tt.file, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.file, got, tt.want)
		}
	}
	for _, f := range []string{"TokenUpdate.1.plist", "TokenUpdate.2.plist"} {
		m, err := mdm.ParseCheckIn(fixture(t, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		tu, ok := m.(*mdm.TokenUpdate)
		if !ok {
			t.Fatalf("%s decoded as %T", f, m)
		}
		if tu.Topic != topic || len(tu.Token) != 32 || tu.PushMagic == "" || tu.From().Device() == "" {
			t.Errorf("%s: %+v", f, tu)
		}
	}
}

// TestAuthenticateDropsNetworkIdentifiers: IMEI and MEID never make it
// into the decoded message, by construction.
func TestAuthenticateDropsNetworkIdentifiers(t *testing.T) {
	body := []byte(`<plist version="1.0"><dict>
		<key>MessageType</key><string>Authenticate</string>
		<key>UDID</key><string>U1</string>
		<key>Topic</key><string>T</string>
		<key>IMEI</key><string>35 209900 176148 1</string>
		<key>MEID</key><string>A0000000009999</string>
	</dict></plist>`)
	m, err := mdm.ParseCheckIn(body)
	if err != nil {
		t.Fatal(err)
	}
	var dump bytes.Buffer
	dumpValue(&dump, reflect.ValueOf(m))
	if s := dump.String(); strings.Contains(s, "35 209900") || strings.Contains(s, "A0000000009999") {
		t.Errorf("decoded Authenticate holds a network identifier: %s", s)
	}
	for _, name := range []string{"IMEI", "MEID"} {
		if _, ok := reflect.TypeOf(mdm.Authenticate{}).FieldByName(name); ok {
			t.Errorf("Authenticate has a field %s", name)
		}
	}
}

func dumpValue(w *bytes.Buffer, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			dumpValue(w, v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			dumpValue(w, v.Field(i))
		}
	case reflect.String:
		w.WriteString(v.String() + "\n")
	}
}

func TestParseCheckInMessageTypes(t *testing.T) {
	tests := []struct {
		keys string
		want mdm.MessageType
	}{
		{`<key>Topic</key><string>T</string>`, mdm.TypeCheckOut},
		{`<key>UserID</key><string>u</string><key>DigestResponse</key><string>d</string>`, mdm.TypeUserAuthenticate},
		{`<key>BootstrapToken</key><data>AAEC</data>`, mdm.TypeSetBootstrapToken},
		{`<key>AwaitingConfiguration</key><true/>`, mdm.TypeGetBootstrapToken},
		{`<key>Endpoint</key><string>status</string><key>Data</key><data>e30=</data>`, mdm.TypeDeclarativeManagement},
		{`<key>TokenServiceType</key><string>com.apple.maid</string>`, mdm.TypeGetToken},
	}
	for _, tt := range tests {
		body := `<plist version="1.0"><dict><key>MessageType</key><string>` + string(tt.want) +
			`</string><key>UDID</key><string>U1</string>` + tt.keys + `</dict></plist>`
		m, err := mdm.ParseCheckIn([]byte(body))
		if err != nil {
			t.Errorf("%s: %v", tt.want, err)
			continue
		}
		if m.Type() != tt.want || m.From().UDID != "U1" {
			t.Errorf("%s: decoded %T from %+v", tt.want, m, m.From())
		}
	}
}

func TestUserEnrollmentChannel(t *testing.T) {
	body := `<plist version="1.0"><dict><key>MessageType</key><string>TokenUpdate</string>
		<key>EnrollmentID</key><string>E1</string><key>EnrollmentUserID</key><string>EU1</string>
		<key>Topic</key><string>T</string><key>Token</key><data>AAEC</data><key>PushMagic</key><string>P</string>
		</dict></plist>`
	m, err := mdm.ParseCheckIn([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	ch := m.From()
	if ch.Device() != "E1" || ch.User() != "EU1" || !ch.IsUserEnrollment() {
		t.Errorf("channel %+v: device %q user %q user-enrolled %v", ch, ch.Device(), ch.User(), ch.IsUserEnrollment())
	}
}

func TestParseCheckInRejects(t *testing.T) {
	wrap := func(inner string) []byte { return []byte(`<plist version="1.0"><dict>` + inner + `</dict></plist>`) }
	deep := strings.Repeat("<array>", 100) + strings.Repeat("</array>", 100)
	tests := []struct {
		name string
		body []byte
		want error
	}{
		{"empty", nil, mdm.ErrMalformed},
		{"not a plist", []byte("hello"), mdm.ErrMalformed},
		{"no message type", wrap(`<key>UDID</key><string>U</string>`), mdm.ErrMalformed},
		{"unknown type", wrap(`<key>MessageType</key><string>Frobnicate</string><key>UDID</key><string>U</string>`), mdm.ErrUnknownMessage},
		{"no device", wrap(`<key>MessageType</key><string>Authenticate</string><key>Topic</key><string>T</string>`), mdm.ErrMalformed},
		{"token update without token", wrap(`<key>MessageType</key><string>TokenUpdate</string><key>UDID</key><string>U</string><key>Topic</key><string>T</string><key>PushMagic</key><string>P</string>`), mdm.ErrMalformed},
		{"authenticate without topic", wrap(`<key>MessageType</key><string>Authenticate</string><key>UDID</key><string>U</string>`), mdm.ErrMalformed},
		{"wrong type for a key", wrap(`<key>MessageType</key><array/><key>UDID</key><string>U</string>`), mdm.ErrMalformed},
		{"nested too deep", wrap(`<key>MessageType</key><string>CheckOut</string><key>UDID</key><string>U</string><key>X</key>` + deep), plistlimit.ErrTooDeep},
		{"too large", wrap(`<key>Pad</key><string>` + strings.Repeat("a", 300<<10) + `</string>`), plistlimit.ErrTooLarge},
		{"binary with a cycle", []byte("bplist00\xa1\x00\x08\x0a\x00\x00\x00\x00\x00\x00\x01\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x0a"), mdm.ErrMalformed},
	}
	for _, tt := range tests {
		m, err := mdm.ParseCheckIn(tt.body)
		if !errors.Is(err, tt.want) || m != nil {
			t.Errorf("%s: %v, %v; want %v", tt.name, m, err, tt.want)
		}
	}
}

func TestParseResult(t *testing.T) {
	r, err := mdm.ParseResult(fixture(t, "DeviceInformation.1.plist"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != mdm.Acknowledged || r.CommandUUID != "76eda240-5488-4989-8339-f2ae160113c4" ||
		r.RequestType != "DeviceInformation" || r.UDID != "66ADE930-5FDF-5EC4-8429-15640684C489" || len(r.Body) == 0 {
		t.Errorf("result %+v", r)
	}
	body := func(status, extra string) []byte {
		return []byte(`<plist version="1.0"><dict><key>UDID</key><string>U</string><key>Status</key><string>` +
			status + `</string>` + extra + `</dict></plist>`)
	}
	uuid := `<key>CommandUUID</key><string>C1</string>`
	chain := `<key>ErrorChain</key><array><dict><key>ErrorCode</key><integer>12021</integer>` +
		`<key>ErrorDomain</key><string>MCInstallationErrorDomain</string></dict></array>`
	tests := []struct {
		name string
		body []byte
		ok   bool
	}{
		{"idle without uuid", body("Idle", ""), true},
		{"acknowledged", body("Acknowledged", uuid), true},
		{"not now", body("NotNow", uuid), true},
		{"error with chain", body("Error", uuid+chain), true},
		{"format error", body("CommandFormatError", uuid), true},
		{"acknowledged without uuid", body("Acknowledged", ""), false},
		{"unknown status", body("Done", uuid), false},
		{"no status", body("", uuid), false},
		{"no device", []byte(`<plist version="1.0"><dict><key>Status</key><string>Idle</string></dict></plist>`), false},
	}
	for _, tt := range tests {
		r, err := mdm.ParseResult(tt.body)
		if (err == nil) != tt.ok {
			t.Errorf("%s: %+v, %v; want ok=%v", tt.name, r, err, tt.ok)
		}
		if err != nil && !errors.Is(err, mdm.ErrMalformed) {
			t.Errorf("%s: %v is not ErrMalformed", tt.name, err)
		}
		if tt.name == "error with chain" && err == nil && (len(r.ErrorChain) != 1 || r.ErrorChain[0].ErrorCode != 12021) {
			t.Errorf("error chain %+v", r.ErrorChain)
		}
	}
}

func TestCommandEncoding(t *testing.T) {
	install, err := mdm.InstallApplication(mdm.App{ITunesStoreID: 361309726, ManagementFlags: mdm.RemoveAppOnUnenroll | mdm.PreventAppDataBackup,
		Configuration: map[string]any{"user": "alice"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cmd  mdm.Command
		want map[string]any
	}{
		{mdm.DeviceInformation([]string{"DeviceName", "OSVersion"}), map[string]any{"Queries": []any{"DeviceName", "OSVersion"}}},
		{mdm.SecurityInfo(), map[string]any{}},
		{mdm.InstalledApplicationList(true), map[string]any{"ManagedAppsOnly": true}},
		{mdm.ManagedApplicationList(), map[string]any{}},
		{mdm.ProfileList(true), map[string]any{"ManagedOnly": true}},
		{mdm.InstallProfile([]byte{1, 2, 3}), map[string]any{"Payload": []byte{1, 2, 3}}},
		{mdm.RemoveProfile("com.example.p"), map[string]any{"Identifier": "com.example.p"}},
		{install, map[string]any{"iTunesStoreID": uint64(361309726), "ManagementFlags": uint64(5), "Configuration": map[string]any{"user": "alice"}}},
		{mdm.RemoveApplication("com.example.app"), map[string]any{"Identifier": "com.example.app"}},
		{mdm.EraseDevice(), map[string]any{}},
		{mdm.DeviceLock("Call IT", "+1 555 0100"), map[string]any{"Message": "Call IT", "PhoneNumber": "+1 555 0100"}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		b, err := tt.cmd.Encode()
		if err != nil {
			t.Fatalf("%s: %v", tt.cmd.RequestType, err)
		}
		var got struct {
			CommandUUID string
			Command     map[string]any
		}
		if err := plist.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: decode: %v", tt.cmd.RequestType, err)
		}
		tt.want["RequestType"] = tt.cmd.RequestType
		if got.CommandUUID != tt.cmd.UUID || len(got.CommandUUID) != 36 || seen[got.CommandUUID] {
			t.Errorf("%s: CommandUUID %q", tt.cmd.RequestType, got.CommandUUID)
		}
		seen[got.CommandUUID] = true
		if !reflect.DeepEqual(got.Command, tt.want) {
			t.Errorf("%s:\n got %#v\nwant %#v", tt.cmd.RequestType, got.Command, tt.want)
		}
	}
}

func TestSettingsAndClearPasscodeReject(t *testing.T) {
	if _, err := mdm.ClearPasscode(nil); err == nil {
		t.Error("ClearPasscode without an unlock token accepted")
	}
	if _, err := mdm.Settings(); err == nil {
		t.Error("Settings without items accepted")
	}
	if _, err := mdm.Settings(mdm.Setting{"Name": "x"}); err == nil {
		t.Error("Settings item without Item accepted")
	}
}

func TestInstallApplicationRejects(t *testing.T) {
	for name, app := range map[string]mdm.App{
		"neither":        {},
		"both":           {ITunesStoreID: 1, ManifestURL: "https://example.com/m.plist"},
		"http manifest":  {ManifestURL: "http://example.com/m.plist"},
		"relative":       {ManifestURL: "/m.plist"},
		"negative store": {ITunesStoreID: -1},
		"unknown flag":   {ITunesStoreID: 1, ManagementFlags: 2},
	} {
		if _, err := mdm.InstallApplication(app); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
