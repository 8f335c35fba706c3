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

	"github.com/openomm/omm/internal/appleschema"
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

// applePlatforms are the Apple platforms a device record can have.
var applePlatforms = []inventory.Platform{inventory.PlatformIOS, inventory.PlatformIPadOS, inventory.PlatformMacOS}

// appleKeys returns every Apple key of the contract with its attribute.
func appleKeys() []struct {
	A inventory.Attribute
	K inventory.AppleKey
} {
	var out []struct {
		A inventory.Attribute
		K inventory.AppleKey
	}
	for _, a := range inventory.Contract() {
		for _, k := range a.Apple {
			out = append(out, struct {
				A inventory.Attribute
				K inventory.AppleKey
			}{a, k})
		}
	}
	return out
}

// TestQueryListIsContract fails when a DeviceInformation query list holds
// anything that is not a contract attribute of Apple's schema, anything the
// contract forbids, or anything the filter would then drop.
func TestQueryListIsContract(t *testing.T) {
	schema := schemaKeys(t, "information.device.yaml", "QueryResponses")
	forbidden := forbiddenApple()
	for _, p := range append(applePlatforms, "") {
		t.Run(string(p), func(t *testing.T) {
			queries := inventory.DeviceInformationQueries(p)
			if len(queries) == 0 {
				t.Fatal("empty query list")
			}
			for _, q := range queries {
				i := slices.IndexFunc(appleKeys(), func(x struct {
					A inventory.Attribute
					K inventory.AppleKey
				}) bool {
					return x.K.Command == inventory.AppleDeviceInformation && x.K.Key == q
				})
				if i < 0 {
					t.Errorf("query %q is not a DeviceInformation key of the contract", q)
					continue
				}
				x := appleKeys()[i]
				if x.A.Source != inventory.SourceDevice {
					t.Errorf("query %q is for a %s attribute", q, x.A.Source)
				}
				if p != "" && !x.K.On(inventory.OS{Platform: p}) {
					t.Errorf("query %q asked of %s, which does not report it", q, p)
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
		})
	}
	// A Mac's Model is its model identifier, not a model number: it is
	// not asked of Macs.
	if slices.Contains(inventory.DeviceInformationQueries(inventory.PlatformMacOS), "Model") {
		t.Error("a Mac is asked for Model")
	}
}

// TestEverythingQueriedIsKept: a response holding exactly the queried keys
// is stored whole, so that the query list and the filter are one list.
// Where the query asks for a key under its old and new name (Model and
// ModelNumber), the new one's value is kept.
func TestEverythingQueriedIsKept(t *testing.T) {
	for _, p := range applePlatforms {
		t.Run(string(p), func(t *testing.T) {
			f := newFixture(t)
			d := f.device(t, "UDID-1", p)
			var b strings.Builder
			b.WriteString(`<plist version="1.0"><dict><key>Status</key><string>Acknowledged</string><key>QueryResponses</key><dict>`)
			want := map[inventory.Key]string{}
			for _, q := range inventory.DeviceInformationQueries(p) {
				a, k := attributeByApple(t, q)
				b.WriteString("<key>" + q + "</key>")
				kind := a.Kind
				if k.Kind != 0 {
					kind = k.Kind
				}
				switch kind {
				case inventory.KindNumber:
					b.WriteString("<real>64</real>")
				case inventory.KindBool:
					b.WriteString("<true/>")
				default:
					b.WriteString("<string>v-" + q + "</string>")
				}
				if _, ok := want[a.Key]; !ok {
					want[a.Key] = q
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
				if q := want[v.Key]; strings.HasPrefix(v.Value, "v-") && v.Value != "v-"+q {
					t.Errorf("%s stored from %s, want from %s", v.Key, v.Value, q)
				}
				delete(want, v.Key)
			}
			if len(want) > 0 {
				t.Errorf("queried but not stored: %v", want)
			}
		})
	}
}

// attributeByApple returns the attribute reported under the Apple key and
// the key's entry.
func attributeByApple(t testing.TB, key string) (inventory.Attribute, inventory.AppleKey) {
	t.Helper()
	for _, x := range appleKeys() {
		if x.K.Key == key {
			return x.A, x.K
		}
	}
	t.Fatalf("no attribute for %s", key)
	return inventory.Attribute{}, inventory.AppleKey{}
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
	seen := map[inventory.Key]bool{}
	for _, a := range inventory.Contract() {
		if seen[a.Key] {
			t.Errorf("key %s listed twice", a.Key)
		}
		seen[a.Key] = true
		if a.Label == "" || a.Promise == "" || a.Kind == 0 {
			t.Errorf("%s: label, promise and kind are required", a.Key)
		}
		if a.Kind == inventory.KindBool && (a.True == "" || a.False == "") {
			t.Errorf("%s: a boolean needs its words", a.Key)
		}
		if a.Source == inventory.SourceDirectory && (len(a.Apple) > 0 || a.OTA != "" || a.Android != "") {
			t.Errorf("%s comes from the directory but names device keys", a.Key)
		}
		if len(a.Apple) > 0 && a.Right == 0 {
			t.Errorf("%s: an Apple attribute needs its access right", a.Key)
		}
		if a.Right == inventory.RightNetworkInformation {
			t.Errorf("%s needs the network information right", a.Key)
		}
		for _, k := range a.Apple {
			if k.Fallback && len(a.Apple) == 1 {
				t.Errorf("%s: %s is a fallback for nothing", a.Key, k.Key)
			}
		}
	}
	phone, ok := inventory.AttributeFor(inventory.KeyPhoneNumber)
	if !ok || phone.Source != inventory.SourceDirectory {
		t.Errorf("phone number must come from the directory: %+v", phone)
	}
	for _, c := range inventory.Forbidden() {
		for _, k := range c.Apple {
			for _, x := range appleKeys() {
				if x.K.Key == k {
					t.Errorf("%s is both allowed (%s) and forbidden (%s)", k, x.A.Key, c.Key)
				}
			}
		}
	}
}

// oldestOS are the oldest versions the inventory reads, per schema OS.
var oldestOS = map[string]string{"iOS": "9.0", "macOS": "10.11"}

// schemaOS names a platform as Apple's schema does.
func schemaOS(p inventory.Platform) string {
	if p == inventory.PlatformMacOS {
		return "macOS"
	}
	return "iOS"
}

// TestContractMatchesSchema: every Apple key of the contract is one of
// Apple's schema, reported on each platform the contract reads it on, from
// the version the contract reads it from (or the oldest version the SDK
// reads when it names none); where the contract starts later or leaves a
// platform out, the schema agrees that the key is missing there.
func TestContractMatchesSchema(t *testing.T) {
	responses := map[inventory.AppleCommand]appleschema.Key{
		inventory.AppleDeviceInformation: {Key: "QueryResponses", Subkeys: schemaDeviceKeys(t)},
		inventory.AppleSecurityInfo:      schemaResponse(t, "information.security.yaml", "SecurityInfo"),
	}
	for _, x := range appleKeys() {
		parent, ok := responses[x.K.Command]
		if !ok {
			continue // whole-result lists (apps, profiles): see their own tests
		}
		path := strings.Split(x.K.Key, ".")
		keys := []appleschema.Key{}
		cur := parent
		for _, name := range path {
			k, ok := appleschema.Find(cur.Subkeys, name)
			if !ok {
				t.Errorf("%s: %s is not a %s key in Apple's schema", x.A.Key, x.K.Key, x.K.Command)
				break
			}
			keys = append(keys, k)
			cur = k
		}
		if len(keys) != len(path) {
			continue
		}
		supported := func(os, version string) bool {
			for _, k := range keys {
				if !k.Supported(os, version) {
					return false
				}
			}
			return true
		}
		for _, p := range applePlatforms {
			os := schemaOS(p)
			first := oldestOS[os]
			if v, ok := x.K.Since[inventory.PlatformIOS]; ok && os == "iOS" {
				first = v
			}
			if v, ok := x.K.Since[inventory.PlatformMacOS]; ok && os == "macOS" {
				first = v
			}
			read := x.K.On(inventory.OS{Platform: p, Version: first})
			switch {
			case read && !supported(os, first):
				t.Errorf("%s: read from %s on %s %s, which Apple's schema says does not report it", x.A.Key, x.K.Key, os, first)
			case !read && supported(os, "99") && !x.K.Fallback:
				t.Errorf("%s: %s not read on %s, where Apple's schema reports it", x.A.Key, x.K.Key, p)
			}
			if read && first != oldestOS[os] {
				before := previousVersion(first)
				if supported(os, before) {
					t.Errorf("%s: %s read from %s %s only, but Apple's schema has it in %s", x.A.Key, x.K.Key, os, first, before)
				}
			}
		}
	}
}

// previousVersion returns a version just before v ("16.4" → "16.3.99").
func previousVersion(v string) string {
	parts := strings.Split(v, ".")
	for i := len(parts) - 1; i >= 0; i-- {
		n, _ := strconv.Atoi(parts[i])
		if n > 0 {
			parts[i] = strconv.Itoa(n - 1)
			return strings.Join(append(parts[:i+1], "99"), ".")
		}
	}
	return "0"
}

// TestEverySecurityKeyClassified gives every SecurityInfo key of Apple's
// schema its privacy class. SecurityInfo takes no query list: a device
// answers with all it has, so each key is read into a contract attribute
// (a row of the user's report), forbidden (never kept, its name logged
// when a device sends it), or listed here as not collected with the
// reason. A key Apple adds fails the test until someone decides.
func TestEverySecurityKeyClassified(t *testing.T) {
	notCollected := map[string]string{
		"PasscodeCompliantWithProfiles":                    "PasscodeCompliant already says whether the passcode meets every requirement",
		"PasscodeLockGracePeriod":                          "a Shared iPad preference, not in the contract",
		"PasscodeLockGracePeriodEnforced":                  "a Shared iPad setting, not in the contract",
		"AutoLockTime":                                     "a Shared iPad setting, not in the contract",
		"FDE_HasPersonalRecoveryKey":                       "how the user may unlock FileVault is not in the contract; FDE_Enabled says whether it is on",
		"FDE_HasInstitutionalRecoveryKey":                  "key escrow is not in the contract",
		"FirmwarePasswordStatus":                           "firmware password state is not in the contract",
		"ManagementStatus":                                 "the enrollment's kind is on the device record",
		"SecureBoot":                                       "not in the contract; System Integrity Protection stands for system integrity",
		"AuthenticatedRootVolumeEnabled":                   "not in the contract; System Integrity Protection stands for system integrity",
		"RemoteDesktopEnabled":                             "not in the contract",
		"BootstrapTokenAllowedForAuthentication":           "bootstrap token state is not in the contract",
		"BootstrapTokenRequiredForSoftwareUpdate":          "bootstrap token state is not in the contract",
		"BootstrapTokenRequiredForKernelExtensionApproval": "bootstrap token state is not in the contract",
		"IsRecoveryLockEnabled":                            "not in the contract",
	}
	kept := map[string]string{} // key or section → attribute
	for _, x := range appleKeys() {
		if x.K.Command == inventory.AppleSecurityInfo {
			section, _, _ := strings.Cut(x.K.Key, ".")
			kept[section] = string(x.A.Key)
		}
	}
	forbidden := forbiddenApple()
	for _, k := range schemaResponse(t, "information.security.yaml", "SecurityInfo").Subkeys {
		var classes []string
		if a, ok := kept[k.Key]; ok {
			classes = append(classes, "kept as "+a)
		}
		if c, ok := forbidden[k.Key]; ok {
			classes = append(classes, "forbidden as "+c)
		}
		if why, ok := notCollected[k.Key]; ok {
			classes = append(classes, "not collected: "+why)
		}
		switch len(classes) {
		case 0:
			t.Errorf("SecurityInfo.%s has no privacy class: read it into the contract, forbid it, or say why it is not collected", k.Key)
		case 1:
			t.Logf("%s: %s", k.Key, classes[0])
		default:
			t.Errorf("SecurityInfo.%s is classified twice: %q", k.Key, classes)
		}
	}
	// The Mac's firewall settings: only whether it is on is read.
	fw := map[string]bool{}
	for _, x := range appleKeys() {
		if section, leaf, ok := strings.Cut(x.K.Key, "."); ok && section == "FirewallSettings" {
			fw[leaf] = true
		}
	}
	if len(fw) != 1 || !fw["FirewallEnabled"] {
		t.Errorf("firewall settings read: %v, want FirewallEnabled only", fw)
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
	for _, p := range append(applePlatforms, "") {
		var types []inventory.AppleCommand
		for _, q := range inventory.AppleRefresh(p) {
			types = append(types, q.RequestType)
			switch q.RequestType {
			case inventory.AppleDeviceInformation:
				if !slices.Equal(q.Queries, inventory.DeviceInformationQueries(p)) {
					t.Errorf("%s: DeviceInformation queries %v", p, q.Queries)
				}
			case inventory.AppleProfileList:
				if !q.ManagedOnly {
					t.Errorf("%s: ProfileList without ManagedOnly", p)
				}
			}
		}
		want := []inventory.AppleCommand{inventory.AppleDeviceInformation, inventory.AppleSecurityInfo, inventory.AppleProfileList,
			inventory.AppleManagedApplicationList, inventory.AppleInstalledApplicationList}
		if !slices.Equal(types, want) {
			t.Errorf("%s: AppleRefresh commands %v, want %v", p, types, want)
		}
	}
}
