package declarative_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/openomm/omm/enroll/declarative"
	"github.com/openomm/omm/internal/appleschema"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
)

// schemaRoot is Apple's declarative schema, or the test is skipped.
func schemaRoot(t testing.TB) string {
	t.Helper()
	root, err := appleschema.Dir()
	if err != nil {
		t.Skipf("Apple's schema not found (%v)", err)
	}
	return filepath.Join(root, "declarative")
}

// declarationSchemas maps each declaration type to its schema.
func declarationSchemas(t testing.TB) map[declarative.Type]appleschema.Schema {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(schemaRoot(t), "declarations", "*", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no declaration schemas: %v", err)
	}
	out := map[declarative.Type]appleschema.Schema{}
	for _, f := range files {
		s, err := appleschema.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		if s.DeclarationType != "" {
			out[declarative.Type(s.DeclarationType)] = s
		}
	}
	return out
}

func loadSchema(t testing.TB, rel ...string) appleschema.Schema {
	t.Helper()
	s, err := appleschema.Load(filepath.Join(append([]string{schemaRoot(t)}, rel...)...))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// plain turns decoded JSON into the values appleschema.Check types:
// integral numbers as int64, others as float64.
func plain(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plain(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	}
	return v
}

func decodeJSON(t testing.TB, b []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return plain(m).(map[string]any)
}

func osName(p inventory.Platform) string {
	if p == inventory.PlatformMacOS {
		return "macOS"
	}
	return "iOS"
}

// predicateVersion is the OS version an activation's predicate requires,
// "" for none.
func predicateVersion(p string) string {
	_, v, ok := strings.Cut(p, ">= '")
	if !ok {
		return ""
	}
	return strings.TrimSuffix(v, "'")
}

// checkSet validates every declaration of set against Apple's schema: the
// declaration's common keys, the payload's keys and types, that Apple
// allows the type on the device's OS and enrollment, and that each key
// exists on the OS version its activation requires (the device's own, or
// the predicate's).
func checkSet(t *testing.T, name string, target declarative.Target, set declarative.Set) {
	t.Helper()
	schemas := declarationSchemas(t)
	base := loadSchema(t, "declarations", "declarationbase.yaml")
	activatedAt := map[string]string{}
	for _, d := range set.Of(declarative.TypeActivation) {
		pred, _ := d.Payload["Predicate"].(string)
		v := predicateVersion(pred)
		if v == "" {
			v = target.OSVersion
		}
		for _, c := range d.Payload["StandardConfigurations"].([]any) {
			activatedAt[c.(string)] = v
		}
	}
	for _, d := range set.Declarations {
		s, ok := schemas[d.Type]
		if !ok {
			t.Errorf("%s: %s: no schema for type %s", name, d.Identifier, d.Type)
			continue
		}
		b, err := d.JSON()
		if err != nil {
			t.Fatal(err)
		}
		m := decodeJSON(t, b)
		payload, _ := m["Payload"].(map[string]any)
		delete(m, "Payload")
		m["Payload"] = map[string]any{}
		for _, p := range appleschema.Check(name+"."+d.Identifier, m, base.Keys) {
			t.Error(p)
		}
		for _, p := range appleschema.Check(name+"."+d.Identifier+".Payload", payload, s.Keys) {
			t.Error(p)
		}
		if len(d.Identifier) > 64 || len(d.ServerToken) > 64 {
			t.Errorf("%s: %s: identifier or token over 64 bytes", name, d.Identifier)
		}
		os := osName(target.Platform)
		if !s.Supported(os, target.OSVersion, string(target.Enrollment)) {
			t.Errorf("%s: %s sent to %s %s (%s enrollment), which Apple's schema does not allow", name, d.Type, os, target.OSVersion, target.Enrollment)
		}
		if d.Type == declarative.TypeActivation {
			continue
		}
		at, ok := activatedAt[d.Identifier]
		if !ok {
			t.Errorf("%s: configuration %s is in no activation", name, d.Identifier)
			continue
		}
		for key := range payload {
			k, _ := appleschema.Find(s.Keys, key)
			if !k.Supported(os, at) {
				t.Errorf("%s: %s.%s does not exist on %s %s, where it is activated", name, d.Identifier, key, os, at)
			}
		}
		if d.Type == declarative.TypeStatusSubscriptions {
			for _, it := range payload["StatusItems"].([]any) {
				item := it.(map[string]any)["Name"].(string)
				st := loadSchema(t, "status", item+".yaml")
				if !st.Supported(os, target.OSVersion, string(target.Enrollment)) {
					t.Errorf("%s: subscribed to %s, which %s %s (%s enrollment) does not report", name, item, os, target.OSVersion, target.Enrollment)
				}
			}
		}
	}
}

// everything is a policy rule using every setting a declaration carries.
var everything = policy.Requirements{
	Passcode: policy.Passcode{Required: true, MinLength: 8, RequireLetters: true, MinSymbols: 2, MaxAgeDays: 90,
		History: 5, MaxFailedAttempts: 10, AutoLockMinutes: 5, GracePeriodMinutes: 1},
	MinOSVersion:   "16.0",
	OSUpdate:       policy.OSUpdate{TargetVersion: "17.5.1", TargetBuild: "21F90", Deadline: "2026-03-31T18:00:00", DetailsURL: "https://it.example.com/update"},
	DataSeparation: policy.DataSeparation{BlockManagedToUnmanaged: true, BlockUnmanagedToManaged: true},
}

var inHouse = []declarative.App{{ID: "app_01", Identifier: "com.acme.expenses", ManifestURL: "https://apps.acme.example/expenses.plist", Required: true},
	{ID: "app_02", Identifier: "com.acme.chat", ManifestURL: "https://apps.acme.example/chat.plist"}}

// targets are devices across platforms, versions and enrollments.
func targets() map[string]declarative.Target {
	phone := func(version string, e declarative.Enrollment, o inventory.Ownership) declarative.Target {
		et := inventory.EnrollAppleDevice
		switch e {
		case declarative.EnrollUser:
			et = inventory.EnrollAppleUser
		case declarative.EnrollSupervised:
			et = inventory.EnrollAppleAutomated
		}
		return declarative.Target{Platform: inventory.PlatformIOS, Enrollment: e, Ownership: o, EnrollmentType: et,
			OSVersion: version, Requirements: everything, Apps: inHouse, ProfileURL: "https://mdm.acme.example/mdm/o/declarative/d/s/settings.mobileconfig?v=1"}
	}
	mac := phone("14.4", declarative.EnrollSupervised, inventory.OwnershipCompany)
	mac.Platform = inventory.PlatformMacOS
	userMac := phone("15.1", declarative.EnrollUser, inventory.OwnershipPersonal)
	userMac.Platform = inventory.PlatformMacOS
	ipad := phone("17.4", declarative.EnrollDevice, inventory.OwnershipCompany)
	ipad.Platform = inventory.PlatformIPadOS
	return map[string]declarative.Target{
		"iOS 15.7 personal":             phone("15.7", declarative.EnrollDevice, inventory.OwnershipPersonal),
		"iOS 16.1 company":              phone("16.1", declarative.EnrollDevice, inventory.OwnershipCompany),
		"iOS 17.0 company":              phone("17.0", declarative.EnrollDevice, inventory.OwnershipCompany),
		"iOS 17.4 company":              phone("17.4", declarative.EnrollDevice, inventory.OwnershipCompany),
		"iOS 18.2 User Enrollment":      phone("18.2", declarative.EnrollUser, inventory.OwnershipPersonal),
		"iOS 18.2 supervised":           phone("18.2", declarative.EnrollSupervised, inventory.OwnershipCompany),
		"iPadOS 17.4":                   ipad,
		"macOS 14.4 supervised":         mac,
		"macOS 15.1 User Enrollment":    userMac,
		"iOS 17.4 without requirements": {Platform: inventory.PlatformIOS, Enrollment: declarative.EnrollDevice, OSVersion: "17.4", Ownership: inventory.OwnershipCompany, EnrollmentType: inventory.EnrollAppleDevice},
	}
}

// TestDeclarationsMatchAppleSchema validates every declaration the SDK
// generates, for devices across platforms, versions and enrollments.
func TestDeclarationsMatchAppleSchema(t *testing.T) {
	for name, target := range targets() {
		set := declarative.Build(target)
		if len(set.Declarations) == 0 {
			t.Errorf("%s: no declarations", name)
		}
		checkSet(t, name, target, set)
	}
	// What each device gets, spelled out for a few.
	has := func(name string, want map[declarative.Type]int) {
		t.Helper()
		set := declarative.Build(targets()[name])
		for typ, n := range want {
			if got := len(set.Of(typ)); got != n {
				t.Errorf("%s: %d %s, want %d", name, got, typ, n)
			}
		}
	}
	has("iOS 17.4 company", map[declarative.Type]int{declarative.TypeStatusSubscriptions: 1, declarative.TypePasscode: 2,
		declarative.TypeSoftwareUpdate: 1, declarative.TypeLegacyProfile: 1, declarative.TypeManagedApp: 2, declarative.TypeActivation: 3})
	has("iOS 16.1 company", map[declarative.Type]int{declarative.TypePasscode: 2, declarative.TypeSoftwareUpdate: 0, declarative.TypeManagedApp: 0})
	has("iOS 18.2 User Enrollment", map[declarative.Type]int{declarative.TypeSoftwareUpdate: 0, declarative.TypeLegacyProfile: 1})
	has("macOS 14.4 supervised", map[declarative.Type]int{declarative.TypeSoftwareUpdate: 1, declarative.TypePasscode: 2, declarative.TypeManagedApp: 0})
	has("macOS 15.1 User Enrollment", map[declarative.Type]int{declarative.TypePasscode: 0, declarative.TypeSoftwareUpdate: 0, declarative.TypeStatusSubscriptions: 1})
	has("iOS 17.4 without requirements", map[declarative.Type]int{declarative.TypeStatusSubscriptions: 1, declarative.TypePasscode: 0, declarative.TypeActivation: 1})
}

// TestSubscriptionsFollowTheContract checks the subscriptions per
// ownership and enrollment: the identity is never asked of a User
// Enrollment, the UDID of nobody, and everything asked is the privacy
// contract's (or the declarations' own status).
func TestSubscriptionsFollowTheContract(t *testing.T) {
	for name, target := range targets() {
		set := declarative.Build(target)
		subs := set.Of(declarative.TypeStatusSubscriptions)
		if len(subs) != 1 {
			t.Fatalf("%s: %d subscription configurations", name, len(subs))
		}
		var items []string
		for _, it := range subs[0].Payload["StatusItems"].([]any) {
			items = append(items, it.(map[string]any)["Name"].(string))
		}
		dev := inventory.Device{Platform: target.Platform, Ownership: target.Ownership, EnrollmentType: target.EnrollmentType}
		want := append([]string{"management.declarations"}, inventory.StatusSubscriptions(dev, inventory.OS{Platform: target.Platform, Version: target.OSVersion})...)
		if !slices.Equal(items, want) {
			t.Errorf("%s: subscriptions %v, want %v", name, items, want)
		}
		if slices.Contains(items, "device.identifier.udid") {
			t.Errorf("%s: subscribed to the UDID", name)
		}
		if target.Enrollment == declarative.EnrollUser && slices.Contains(items, "device.identifier.serial-number") {
			t.Errorf("%s: a User Enrollment is asked for its serial number", name)
		}
		if target.Enrollment != declarative.EnrollUser && !slices.Contains(items, "device.identifier.serial-number") &&
			(target.Platform == inventory.PlatformMacOS || target.OSVersion >= "16") {
			t.Errorf("%s: the serial number, which the contract lets the org see, is not asked for", name)
		}
	}
}

// TestSupportMatchesSchema checks the table of where Apple allows each
// declaration type against Apple's schema, for every platform, version
// and enrollment the SDK meets.
func TestSupportMatchesSchema(t *testing.T) {
	schemas := declarationSchemas(t)
	for _, typ := range declarative.Types() {
		s, ok := schemas[typ]
		if !ok {
			t.Errorf("%s: not in Apple's schema", typ)
			continue
		}
		for _, p := range []inventory.Platform{inventory.PlatformIOS, inventory.PlatformIPadOS, inventory.PlatformMacOS} {
			for _, v := range []string{"14.8", "15.0", "16.1", "16.2", "17.0", "17.1", "17.2", "18.0", "26.0", "12.7", "13.0", "13.1", "14.0", "15.3"} {
				for _, e := range []declarative.Enrollment{declarative.EnrollDevice, declarative.EnrollUser, declarative.EnrollSupervised} {
					got := declarative.Allowed(typ, p, v, e)
					want := s.Supported(osName(p), v, string(e))
					if got != want {
						t.Errorf("Allowed(%s, %s %s, %s) = %v, Apple's schema says %v", typ, p, v, e, got, want)
					}
				}
			}
		}
	}
}

// TestStatusItemNamesMatchSchema checks that the package reads reports
// down to exactly the status items Apple's schema defines.
func TestStatusItemNamesMatchSchema(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(schemaRoot(t), "status", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range files {
		s, err := appleschema.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		if s.StatusItemType != "" && !strings.HasPrefix(s.StatusItemType, "test.") {
			want = append(want, s.StatusItemType)
		}
	}
	slices.Sort(want)
	got := declarative.StatusItemNames()
	if !slices.Equal(got, want) {
		t.Errorf("status items\n got %v\nwant %v", got, want)
	}
}

// TestResponsesMatchAppleSchema checks the tokens and declaration-items
// answers against the protocol's schema.
func TestResponsesMatchAppleSchema(t *testing.T) {
	set := declarative.Build(targets()["iOS 17.4 company"])
	items, err := json.Marshal(set.Items())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range appleschema.Check("DeclarationItemsResponse", decodeJSON(t, items), loadSchema(t, "protocol", "declarationitemsresponse.yaml").Keys) {
		t.Error(p)
	}
	tokens, err := json.Marshal(declarative.TokensResponse{SyncTokens: declarative.SyncTokens{DeclarationsToken: set.Token}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range appleschema.Check("TokensResponse", decodeJSON(t, tokens), loadSchema(t, "protocol", "tokensresponse.yaml").Keys) {
		t.Error(p)
	}
}

// checkReport validates a status report and every status item parsed
// from it against Apple's schema.
func checkReport(t *testing.T, name string, report []byte) declarative.Report {
	t.Helper()
	for _, p := range appleschema.Check(name, decodeJSON(t, report), loadSchema(t, "protocol", "statusreport.yaml").Keys) {
		t.Error(p)
	}
	r, err := declarative.ParseStatus(report)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for item, v := range r.Items {
		s := loadSchema(t, "status", item+".yaml")
		for _, p := range appleschema.Check(name, map[string]any{item: plain(v)}, s.Keys) {
			t.Error(p)
		}
	}
	if r.Declarations != nil {
		decl := map[string]any{"activations": []any{}, "configurations": []any{}, "assets": []any{}, "management": []any{}}
		for _, d := range r.Declarations {
			e := map[string]any{"identifier": d.Identifier, "server-token": d.ServerToken, "active": d.Active, "valid": d.Valid}
			if len(d.Reasons) > 0 {
				var rs []any
				for _, x := range d.Reasons {
					rs = append(rs, map[string]any{"code": x.Code, "description": x.Description})
				}
				e["reasons"] = rs
			}
			key := string(d.Kind) + "s"
			if d.Kind == declarative.KindManagement {
				key = "management"
			}
			decl[key] = append(decl[key].([]any), e)
		}
		s := loadSchema(t, "status", "management.declarations.yaml")
		for _, p := range appleschema.Check(name, map[string]any{"management.declarations": decl}, s.Keys) {
			t.Error(p)
		}
	}
	return r
}

// TestStatusReportsMatchAppleSchema parses the sample reports the tests
// and the device simulator use and validates every item.
func TestStatusReportsMatchAppleSchema(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "status", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample reports: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r := checkReport(t, filepath.Base(f), b)
		if len(r.Items) == 0 && r.Declarations == nil {
			t.Errorf("%s: nothing parsed", f)
		}
	}
}
