package inventory_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/openomm/omm/inventory"
)

// forbiddenApple is every Apple key the contract names as forbidden.
func forbiddenApple() map[string]string {
	m := map[string]string{}
	for _, c := range inventory.Forbidden() {
		for _, k := range c.Apple {
			m[k] = c.Key
		}
	}
	return m
}

// TestQueryListIsContract fails when the DeviceInformation query list holds
// anything that is not a contract attribute of Apple's schema, anything the
// contract forbids, or anything the filter would then drop.
func TestQueryListIsContract(t *testing.T) {
	schema := schemaKeys(t, "information.device.yaml", "QueryResponses")
	forbidden := forbiddenApple()
	byApple := map[string]inventory.Attribute{}
	for _, a := range inventory.Contract() {
		if a.AppleCommand == inventory.AppleDeviceInformation {
			byApple[a.Apple] = a
		}
	}
	queries := inventory.DeviceInformationQueries()
	if len(queries) == 0 {
		t.Fatal("empty query list")
	}
	for _, q := range queries {
		a, ok := byApple[q]
		if !ok {
			t.Errorf("query %q is not a DeviceInformation attribute of the contract", q)
		}
		if a.Source != inventory.SourceDevice {
			t.Errorf("query %q is for a %s attribute", q, a.Source)
		}
		if !slices.Contains(schema, q) {
			t.Errorf("query %q is not a QueryResponses key in Apple's schema", q)
		}
		if cat, bad := forbidden[q]; bad {
			t.Errorf("query %q belongs to the forbidden category %s", q, cat)
		}
	}
	if len(slices.Compact(slices.Sorted(slices.Values(queries)))) != len(queries) {
		t.Errorf("query list has duplicates: %v", queries)
	}
	// Network identifiers are never asked for, whatever the contract says.
	for _, k := range []string{"IMEI", "MEID", "ICCID", "EID", "PhoneNumber", "WiFiMAC", "BluetoothMAC", "EthernetMAC",
		"CurrentCarrierNetwork", "SIMCarrierNetwork", "SubscriberCarrierNetwork", "IsRoaming", "DataRoamingEnabled",
		"VoiceRoamingEnabled", "ServiceSubscriptions", "HostName", "LocalHostName", "TimeZone"} {
		if slices.Contains(queries, k) {
			t.Errorf("query list asks for %s", k)
		}
		if forbidden[k] == "" {
			t.Errorf("%s is not listed as forbidden", k)
		}
	}
}

// TestEverythingQueriedIsKept: a response holding exactly the queried keys
// is stored whole, so that the query list and the filter are one list.
func TestEverythingQueriedIsKept(t *testing.T) {
	f := newFixture(t)
	d := f.apple(t, "UDID-1")
	var b strings.Builder
	b.WriteString(`<plist version="1.0"><dict><key>Status</key><string>Acknowledged</string><key>QueryResponses</key><dict>`)
	want := map[inventory.Key]bool{}
	for _, q := range inventory.DeviceInformationQueries() {
		a := attributeByApple(t, q)
		want[a.Key] = true
		b.WriteString("<key>" + q + "</key>")
		switch a.Kind {
		case inventory.KindNumber:
			b.WriteString("<real>64</real>")
		case inventory.KindBool:
			b.WriteString("<true/>")
		default:
			b.WriteString("<string>v</string>")
		}
	}
	b.WriteString(`</dict></dict></plist>`)
	res, err := f.svc.IngestApple(t.Context(), f.org, d.ID, []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if res.Dropped.Total() != 0 {
		t.Errorf("the filter dropped queried keys: %+v", res.Dropped)
	}
	vals, err := f.store.DeviceValues(t.Context(), f.org, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vals {
		delete(want, v.Key)
	}
	if len(want) > 0 {
		t.Errorf("queried but not stored: %v", want)
	}
}

func attributeByApple(t testing.TB, key string) inventory.Attribute {
	t.Helper()
	for _, a := range inventory.Contract() {
		if a.Apple == key {
			return a
		}
	}
	t.Fatalf("no attribute for %s", key)
	return inventory.Attribute{}
}

// TestNoDeviceKeyOutsideContract fails when a DeviceInformation or
// SecurityInfo key of Apple's schema is written into the package's code
// anywhere but the contract table: a second list is how a query or a kept
// key would escape the contract.
func TestNoDeviceKeyOutsideContract(t *testing.T) {
	keys := map[string]bool{}
	for _, k := range schemaKeys(t, "information.device.yaml", "QueryResponses") {
		keys[k] = true
	}
	for _, k := range schemaKeys(t, "information.security.yaml", "SecurityInfo") {
		keys[k] = true
	}
	// The envelope of every command result names the device; it is checked
	// against the device record, never stored as a value.
	envelope := map[string]bool{"UDID": true}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") || name == "contract.go" {
			continue
		}
		file, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err == nil && keys[s] && !envelope[s] {
				t.Errorf("%s: device key %q written outside the contract table", fset.Position(lit.Pos()), s)
			}
			return true
		})
	}
}

func TestContractRows(t *testing.T) {
	security := schemaKeys(t, "information.security.yaml", "SecurityInfo")
	seen := map[inventory.Key]bool{}
	for _, a := range inventory.Contract() {
		if seen[a.Key] {
			t.Errorf("key %s listed twice", a.Key)
		}
		seen[a.Key] = true
		if a.Label == "" || a.Promise == "" || a.Kind == 0 {
			t.Errorf("%s: label, promise and kind are required", a.Key)
		}
		if a.Source == inventory.SourceDirectory && (a.Apple != "" || a.OTA != "" || a.Android != "") {
			t.Errorf("%s comes from the directory but names device keys", a.Key)
		}
		if a.Apple != "" && a.Right == 0 {
			t.Errorf("%s: an Apple attribute needs its access right", a.Key)
		}
		if a.Right == inventory.RightNetworkInformation {
			t.Errorf("%s needs the network information right", a.Key)
		}
		if a.AppleCommand == inventory.AppleSecurityInfo && !slices.Contains(security, a.Apple) {
			t.Errorf("%s: %s is not a SecurityInfo key in Apple's schema", a.Key, a.Apple)
		}
	}
	phone, ok := inventory.AttributeFor(inventory.KeyPhoneNumber)
	if !ok || phone.Source != inventory.SourceDirectory {
		t.Errorf("phone number must come from the directory: %+v", phone)
	}
	for _, c := range inventory.Forbidden() {
		for _, k := range c.Apple {
			for _, a := range inventory.Contract() {
				if a.Apple == k {
					t.Errorf("%s is both allowed (%s) and forbidden (%s)", k, a.Key, c.Key)
				}
			}
		}
	}
}

func TestOTADeviceAttributes(t *testing.T) {
	got := inventory.OTADeviceAttributes()
	want := []string{"UDID", "DEVICE_NAME", "SERIAL", "PRODUCT", "VERSION"}
	if !slices.Equal(got, want) {
		t.Errorf("OTADeviceAttributes() = %v, want %v", got, want)
	}
	for _, banned := range []string{"IMEI", "MEID", "ICCID", "MAC_ADDRESS_EN0"} {
		if slices.Contains(got, banned) {
			t.Errorf("OTA profile requests %s", banned)
		}
	}
}

func TestAccessRights(t *testing.T) {
	tests := []struct {
		wipe bool
		want int
	}{
		// 1+2+4+16+64+128+256+512+1024+2048+4096
		{false, 8151},
		{true, 8151 + 8},
	}
	for _, tt := range tests {
		got := inventory.AccessRights(tt.wipe)
		if got != tt.want {
			t.Errorf("AccessRights(%v) = %d, want %d", tt.wipe, got, tt.want)
		}
		if got&int(inventory.RightNetworkInformation) != 0 {
			t.Errorf("AccessRights(%v) grants network information", tt.wipe)
		}
		if (got&int(inventory.RightErase) != 0) != tt.wipe {
			t.Errorf("AccessRights(%v): erase bit %v", tt.wipe, got&int(inventory.RightErase) != 0)
		}
		for _, a := range inventory.Contract() {
			if got&int(a.Right) != int(a.Right) {
				t.Errorf("AccessRights(%v) lacks %d needed for %s", tt.wipe, a.Right, a.Key)
			}
		}
	}
}

func TestAppleRefresh(t *testing.T) {
	var types []inventory.AppleCommand
	for _, q := range inventory.AppleRefresh() {
		types = append(types, q.RequestType)
		switch q.RequestType {
		case inventory.AppleDeviceInformation:
			if !slices.Equal(q.Queries, inventory.DeviceInformationQueries()) {
				t.Errorf("DeviceInformation queries %v", q.Queries)
			}
		case inventory.AppleProfileList:
			if !q.ManagedOnly {
				t.Error("ProfileList without ManagedOnly")
			}
		}
	}
	want := []inventory.AppleCommand{inventory.AppleDeviceInformation, inventory.AppleSecurityInfo, inventory.AppleProfileList,
		inventory.AppleManagedApplicationList, inventory.AppleInstalledApplicationList}
	if !slices.Equal(types, want) {
		t.Errorf("AppleRefresh commands %v, want %v", types, want)
	}
}
