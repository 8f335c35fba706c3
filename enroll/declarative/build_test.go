package declarative_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/openomm/omm/enroll/declarative"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// TestTokensChangeOnlyOnEffectiveChanges checks that the declarations
// token, and each declaration's server token, change exactly when what
// the device gets changes: not for requirements no declaration carries,
// nor for the order apps come in; and for every setting that is sent.
func TestTokensChangeOnlyOnEffectiveChanges(t *testing.T) {
	base := targets()["iOS 17.4 company"]
	ref := declarative.Build(base)
	again := declarative.Build(base)
	if ref.Token != again.Token || len(ref.Token) != 32 {
		t.Fatalf("the same target builds tokens %q and %q", ref.Token, again.Token)
	}
	edit := func(f func(*declarative.Target)) declarative.Target {
		t := base
		t.Apps = append([]declarative.App(nil), base.Apps...)
		f(&t)
		return t
	}
	same := map[string]declarative.Target{
		"encryption flag":              edit(func(x *declarative.Target) { x.Requirements.Encryption = !x.Requirements.Encryption }),
		"full wipe permission":         edit(func(x *declarative.Target) { x.Requirements.AllowFullWipe = true }),
		"refusing compromised":         edit(func(x *declarative.Target) { x.Requirements.RefuseCompromised = true }),
		"minimum OS (a decision fact)": edit(func(x *declarative.Target) { x.Requirements.MinOSVersion = "17.0" }),
		"apps in another order":        edit(func(x *declarative.Target) { x.Apps[0], x.Apps[1] = x.Apps[1], x.Apps[0] }),
		"an app's bundle ID only":      edit(func(x *declarative.Target) { x.Apps[0].Identifier = "com.acme.renamed" }),
		"a patch release":              edit(func(x *declarative.Target) { x.OSVersion = "17.4.1" }),
	}
	for what, target := range same {
		if got := declarative.Build(target); got.Token != ref.Token {
			t.Errorf("%s changed the declarations token", what)
		}
	}
	changed := map[string]struct {
		target declarative.Target
		decl   string // the declaration whose server token changes
	}{
		"passcode length":      {edit(func(x *declarative.Target) { x.Requirements.Passcode.MinLength = 10 }), "omm.passcode"},
		"passcode letters":     {edit(func(x *declarative.Target) { x.Requirements.Passcode.RequireLetters = false }), "omm.passcode.newer"},
		"OS update target":     {edit(func(x *declarative.Target) { x.Requirements.OSUpdate.TargetVersion = "17.6" }), "omm.softwareupdate"},
		"OS update deadline":   {edit(func(x *declarative.Target) { x.Requirements.OSUpdate.Deadline = "2026-04-30T18:00:00" }), "omm.softwareupdate"},
		"settings profile URL": {edit(func(x *declarative.Target) { x.ProfileURL += "2" }), "omm.settings-profile"},
		"an app required":      {edit(func(x *declarative.Target) { x.Apps[1].Required = true }), "omm.app.app_02"},
		"an app's manifest":    {edit(func(x *declarative.Target) { x.Apps[0].ManifestURL += "?v=2" }), "omm.app.app_01"},
		"User Enrollment":      {edit(func(x *declarative.Target) { x.EnrollmentType = inventory.EnrollAppleUser }), "omm.status-subscriptions"},
	}
	for what, c := range changed {
		got := declarative.Build(c.target)
		if got.Token == ref.Token {
			t.Errorf("%s left the declarations token as it was", what)
		}
		for _, d := range got.Declarations {
			old, ok := ref.Find(d.Type.Kind(), d.Identifier)
			if d.Identifier == c.decl && ok && old.ServerToken == d.ServerToken {
				t.Errorf("%s: %s kept its server token", what, d.Identifier)
			}
			if d.Identifier != c.decl && ok && old.ServerToken != d.ServerToken && d.Type != declarative.TypeActivation {
				t.Errorf("%s: %s changed its server token too", what, d.Identifier)
			}
		}
	}
	// A configuration that goes away, and the activation listing it.
	none := edit(func(x *declarative.Target) { x.Requirements.OSUpdate = policy.OSUpdate{} })
	got := declarative.Build(none)
	if _, ok := got.Find(declarative.KindConfiguration, "omm.softwareupdate"); ok || got.Token == ref.Token {
		t.Error("removing the OS update left its declaration or the token")
	}
	act, _ := got.Find(declarative.KindActivation, "omm.activation")
	old, _ := ref.Find(declarative.KindActivation, "omm.activation")
	if act.ServerToken == old.ServerToken {
		t.Error("the activation's token did not change when a configuration left it")
	}
}

// TestEligible checks the per-device choice between declarations and
// commands, and that it says why.
func TestEligible(t *testing.T) {
	dev := func(p inventory.Platform, e inventory.EnrollmentType) inventory.Device {
		return inventory.Device{Platform: p, EnrollmentType: e, Ownership: inventory.OwnershipPersonal}
	}
	cases := []struct {
		d       inventory.Device
		os      string
		want    bool
		because string
	}{
		{dev(inventory.PlatformIOS, inventory.EnrollAppleDevice), "17.4", true, "declarative: iOS 17.4, device enrollment"},
		{dev(inventory.PlatformIOS, inventory.EnrollAppleDevice), "15.0", true, "declarative"},
		{dev(inventory.PlatformIOS, inventory.EnrollAppleDevice), "14.8.1", false, "iOS 14.8.1 predates declarative device management (iOS 15.0)"},
		{dev(inventory.PlatformIPadOS, inventory.EnrollAppleUser), "16.6", true, "iPadOS 16.6, user enrollment"},
		{dev(inventory.PlatformIOS, inventory.EnrollAppleDevice), "", false, "until the device reports its OS version"},
		{dev(inventory.PlatformMacOS, inventory.EnrollAppleDevice), "14.4", false, "on supervised and user enrollments only"},
		{dev(inventory.PlatformMacOS, inventory.EnrollAppleAutomated), "14.4", true, "macOS 14.4, supervised"},
		{dev(inventory.PlatformMacOS, inventory.EnrollAppleAutomated), "12.7", false, "macOS 12.7 predates"},
		{dev(inventory.PlatformAndroid, inventory.EnrollAndroidWorkProfile), "14", false, "Apple's"},
	}
	for _, c := range cases {
		got, why := declarative.Eligible(c.d, c.os)
		if got != c.want || !strings.Contains(why, c.because) {
			t.Errorf("Eligible(%s %s, %s) = %v, %q; want %v, saying %q", c.d.Platform, c.d.EnrollmentType, c.os, got, why, c.want, c.because)
		}
	}
}

// TestParseEndpoint checks the endpoints a device may name, and refuses
// the rest.
func TestParseEndpoint(t *testing.T) {
	good := map[string]declarative.Endpoint{
		"tokens":                             {Name: "tokens"},
		"declaration-items":                  {Name: "declaration-items"},
		"status":                             {Name: "status"},
		"declaration/configuration/omm.pass": {Name: "declaration", Kind: declarative.KindConfiguration, Identifier: "omm.pass"},
		"declaration/activation/a/b":         {Name: "declaration", Kind: declarative.KindActivation, Identifier: "a/b"},
	}
	for in, want := range good {
		got, err := declarative.ParseEndpoint(in)
		if err != nil || got != want {
			t.Errorf("ParseEndpoint(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "Tokens", "declaration", "declaration/", "declaration/gadget/x", "declaration/configuration/",
		"declarations/configuration/x", "status/x", strings.Repeat("a", 300), "declaration/configuration/\xff"} {
		_, err := declarative.ParseEndpoint(in)
		if !errors.Is(err, declarative.ErrMalformed) || !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("ParseEndpoint(%q) = %v, want ErrMalformed", in, err)
		}
	}
}

// TestParseStatusLimits checks that a report is refused whole when it
// breaks a limit or is not a report, and that what lies outside Apple's
// status items is counted, not kept.
func TestParseStatusLimits(t *testing.T) {
	deep := `{"StatusItems":` + strings.Repeat(`{"a":`, declarative.MaxStatusDepth) + `1` + strings.Repeat("}", declarative.MaxStatusDepth) + `,"Errors":[]}`
	many := `{"StatusItems":{"x":[` + strings.TrimSuffix(strings.Repeat("1,", declarative.MaxStatusValues), ",") + `]},"Errors":[]}`
	big := `{"StatusItems":{"x":"` + strings.Repeat("a", declarative.MaxStatusSize) + `"},"Errors":[]}`
	for name, in := range map[string]string{
		"deep": deep, "many values": many, "too big": big, "not JSON": `{"StatusItems":`, "an array": `[1,2]`,
		"no items": `{"Errors":[]}`, "trailing data": `{"StatusItems":{},"Errors":[]} {}`, "empty": ``,
		"declarations not an object": `{"StatusItems":{"management":{"declarations":[1]}},"Errors":[]}`,
	} {
		if _, err := declarative.ParseStatus([]byte(in)); !errors.Is(err, declarative.ErrMalformed) {
			t.Errorf("%s: ParseStatus = %v, want ErrMalformed", name, err)
		}
	}
	r, err := declarative.ParseStatus([]byte(`{"StatusItems":{
		"device":{"operating-system":{"version":"17.4","secret":"x"},"identifier":{"udid":"U"},"colour":"red"},
		"passcode":{"is-compliant":true},"weather":{"today":["sun","rain"]},
		"management":{"client-capabilities":{"supported-versions":["1.0.0"]},"declarations":{"configurations":[
			{"identifier":"omm.passcode","server-token":"t","active":true,"valid":"valid"},
			{"identifier":"","server-token":"t","active":true,"valid":"valid"},
			{"identifier":"omm.x","server-token":"t","active":"yes","valid":"sort of"}]}}},
		"Errors":[{"StatusItem":"device.model.number"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Items) != 3 || r.Items["device.operating-system.version"] != "17.4" || r.Items["device.identifier.udid"] != "U" ||
		r.Items["passcode.is-compliant"] != true {
		t.Errorf("items %v", r.Items)
	}
	if r.Unknown != 4 { // secret, colour, sun, rain
		t.Errorf("unknown %d, want 4", r.Unknown)
	}
	if len(r.Declarations) != 2 || r.Declarations[1].Valid != declarative.Unknown || r.Declarations[1].Active {
		t.Errorf("declarations %+v", r.Declarations)
	}
	if len(r.Errors) != 1 || r.Errors[0] != "device.model.number" {
		t.Errorf("errors %v", r.Errors)
	}
}
