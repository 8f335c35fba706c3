package main

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/micromdm/plist"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage/sqlite"
)

// browserWorld is the world of the browser test: alice has a personal
// iPhone (aliceDev) that reported its inventory — an app the store
// manages, an assigned app she installed herself before enrollment, a
// personal app — a company iPhone whose policy allows a factory reset, a
// Mac on macOS 11 (whose capacities are in GiB) with apps that have no
// bundle identifier, and an old iPhone that was deprovisioned (aliceGone).
type browserWorld struct {
	*world
	aliceCorp  string
	aliceMac   string
	aliceGone  string
	totpSecret string // set up in the browser, by the sign-in step
	employees  string // the group's ID
}

const (
	managedApp   = "com.example.demo.notes"    // assigned, installed and managed: Open
	availableApp = "com.example.demo.expenses" // assigned, not on the device: Install
	personalCopy = "com.example.demo.maps"     // assigned later; a copy alice installed herself: Unmanaged
	personalApp  = "com.example.personal.diary"
)

func newBrowserWorld(t *testing.T) *browserWorld {
	t.Helper()
	bw := &browserWorld{world: newWorld(t)}
	bw.stop()
	ctx := t.Context()
	s, err := sqlite.Open(ctx, filepath.Join(bw.dir, "omm.db"), sqlite.WithLogger(discardLog()))
	if err != nil {
		t.Fatal(err)
	}
	dir, err := auth.NewLocalDirectory(s)
	if err != nil {
		t.Fatal(err)
	}
	employees, err := groupID(ctx, dir, demoOrg.ID, "Employees")
	if err != nil {
		t.Fatal(err)
	}
	bw.employees = employees

	// The employees' policy allows IT and the user to factory reset a
	// company-owned iPhone.
	pol := policy.New(s)
	list, err := pol.List(ctx, demoOrg.ID)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(list, func(p policy.Policy) bool { return p.Name == demoPolicyName })
	if i < 0 {
		t.Fatalf("no demo policy in %+v", list)
	}
	p := list[i]
	ios := p.Rules[policy.IOS]
	ios.Requirements.AllowFullWipe = true
	p.Rules[policy.IOS] = ios
	if _, err := pol.Update(ctx, "test", p); err != nil {
		t.Fatal(err)
	}

	inv := inventory.New(s, inventory.WithLogger(discardLog()))
	corp, err := inv.Register(ctx, inventory.Device{Org: demoOrg.ID, UserID: bw.users["alice"], Platform: inventory.PlatformIOS,
		Ownership: inventory.OwnershipCompany, EnrollmentType: inventory.EnrollAppleDevice,
		State: inventory.StateEnrolled, Identifier: "UDID-ALICE-CORP"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	bw.aliceCorp = corp.ID
	mac, err := inv.Register(ctx, inventory.Device{Org: demoOrg.ID, UserID: bw.users["alice"], Platform: inventory.PlatformMacOS,
		Ownership: inventory.OwnershipPersonal, EnrollmentType: inventory.EnrollAppleDevice,
		State: inventory.StateEnrolled, Identifier: "UDID-ALICE-MAC"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	bw.aliceMac = mac.ID
	gone, err := inv.Register(ctx, inventory.Device{Org: demoOrg.ID, UserID: bw.users["alice"], Platform: inventory.PlatformIOS,
		Ownership: inventory.OwnershipPersonal, EnrollmentType: inventory.EnrollAppleDevice,
		State: inventory.StateEnrolled, Identifier: "UDID-ALICE-OLD"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []inventory.State{inventory.StateDeprovisioning, inventory.StateDeprovisioned} {
		if _, err := inv.SetState(ctx, demoOrg.ID, gone.ID, st, "test", "the old iPhone left management"); err != nil {
			t.Fatal(err)
		}
	}
	bw.aliceGone = gone.ID
	// What alice's Mac (macOS 11) answered: capacities in GiB, FileVault,
	// firewall and System Integrity Protection, its recovery key (never
	// kept), and apps without a bundle identifier.
	for _, result := range []map[string]any{
		{"QueryResponses": map[string]any{"DeviceName": "Alice's Mac", "ModelName": "MacBook Pro", "Model": "MacBookPro16,1",
			"OSVersion": "11.7.10", "DeviceCapacity": 233.47, "AvailableDeviceCapacity": 101.5}},
		{"SecurityInfo": map[string]any{"FDE_Enabled": true, "FDE_PersonalRecoveryKeyCMS": []byte("RECOVERY-KEY-CMS"),
			"SystemIntegrityProtectionEnabled": true, "FirewallSettings": map[string]any{"FirewallEnabled": true, "StealthMode": false}}},
		{"InstalledApplicationList": []any{
			map[string]any{"Name": "Install macOS Big Sur", "Version": "16.7.10"},
			map[string]any{"Name": "/Users/jdoe/Applications/Chrome Apps.localized/Gmail.app"},
			map[string]any{"Identifier": "com.apple.Safari", "Name": "Safari", "ShortVersion": "16.6"},
		}},
	} {
		result["Status"], result["UDID"], result["CommandUUID"] = "Acknowledged", "UDID-ALICE-MAC", "cmd-inventory"
		data, err := plist.Marshal(result)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := inv.IngestApple(ctx, demoOrg.ID, bw.aliceMac, data); err != nil {
			t.Fatal(err)
		}
	}
	// What alice's iPhone answered to the inventory queries, including
	// what the privacy contract drops (its Wi-Fi address, its IMEI, a
	// profile she installed herself).
	for _, result := range []map[string]any{
		{"QueryResponses": map[string]any{"DeviceName": "Alice's iPhone", "ModelName": "iPhone", "ProductName": "iPhone15,2",
			"OSVersion": "17.4", "SerialNumber": "F2LALICE0001", "WiFiMAC": "f0:18:98:00:00:01", "IMEI": "35 000000 000000 1",
			"DeviceCapacity": 128.0}},
		{"SecurityInfo": map[string]any{"HardwareEncryptionCaps": 3, "PasscodePresent": true, "PasscodeCompliant": false}},
		{"ProfileList": []any{
			map[string]any{"PayloadIdentifier": "com.example.demo.wifi", "PayloadUUID": "A", "IsManaged": true},
			map[string]any{"PayloadIdentifier": "com.example.demo.vpn", "PayloadUUID": "B", "IsManaged": true},
			map[string]any{"PayloadIdentifier": "net.example.home.vpn", "PayloadUUID": "C", "IsManaged": false},
		}},
		{"InstalledApplicationList": []any{
			map[string]any{"Identifier": managedApp, "Name": "Demo Notes", "ShortVersion": "2.1", "BundleSize": 1000},
			map[string]any{"Identifier": personalCopy, "Name": "Demo Maps", "ShortVersion": "5.0"},
			map[string]any{"Identifier": personalApp, "Name": "Secret Diary", "ShortVersion": "1.0"},
		}},
		{"ManagedApplicationList": map[string]any{managedApp: map[string]any{"Status": "Managed"}}},
	} {
		result["Status"], result["UDID"], result["CommandUUID"] = "Acknowledged", "UDID-ALICE", "cmd-inventory"
		data, err := plist.Marshal(result)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := inv.IngestApple(ctx, demoOrg.ID, bw.aliceDev, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	bw.testServer = startServer(t, bw.dir)

	// IT adds the app alice already has a copy of to the employees' store.
	app := must[struct{ ID string }](t, 201)(bw.do(t, "POST", "/api/admin/apps", bw.first.adminToken, map[string]any{
		"kind": "ios_app_store", "identifier": personalCopy, "store_id": 1234567891, "name": "Demo Maps"}))
	must[struct{ Group string }](t, 201)(bw.do(t, "POST", "/api/admin/apps/"+app.ID+"/assignments", bw.first.adminToken,
		map[string]string{"group": employees, "mode": "available"}))
	return bw
}

// TestBrowser walks the journey of DESIGN.md section 2 through the web UI
// in a real browser: one server, one browser, the steps in order (later
// steps use the session of earlier ones). Every page loaded is checked
// for JavaScript errors, failed sub-resources, stack traces and the
// accessibility basics (see tab.check).
func TestBrowser(t *testing.T) {
	bw := newBrowserWorld(t)
	tb := startChromium(t, bw.base, bw.dir)
	step := func(name string, fn func(t *testing.T)) {
		t.Helper()
		if !t.Run(name, func(t *testing.T) { tb.use(t); fn(t) }) {
			t.FailNow() // later steps need this one
		}
	}

	step("checks_can_fail", func(t *testing.T) {
		// The page checks see what they must fail on: a console error, an
		// uncaught exception and a sub-resource that does not load.
		tb.open(t, "/")
		if err := chromedp.Do(tb.ctx, chromedp.Evaluate[chromedp.Void](`
			console.error("deliberate");
			setTimeout(() => { throw new Error("deliberate") }, 0);
			const img = document.createElement("img"); img.src = "/static/missing.png"; img.alt = ""; document.body.append(img);`)); err != nil {
			t.Fatal(err)
		}
		wants := []string{"console.error: deliberate", "JavaScript exception", "missing.png"}
		got := tb.waitProblems(t, wants)
		for _, want := range wants {
			if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, want) }) {
				t.Errorf("problems %q lack %q", got, want)
			}
		}
		// And the accessibility check sees an unlabelled field.
		if err := chromedp.Do(tb.ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector("main").append(document.createElement("input"))`)); err != nil {
			t.Fatal(err)
		}
		if p := tb.accessibility(t); len(p) != 1 || !strings.Contains(p[0], "without a label") {
			t.Errorf("accessibility problems = %q", p)
		}
	})

	step("sign_in_bad_input", func(t *testing.T) {
		for _, tt := range []struct {
			site, user, password, want string
		}{
			{"no-such-org", "alice", "whatever", "No organization uses that site name."},
			{"demo", "alice", "not the password", "Wrong username or password."},
			{"demo", "nobody", "whatever", "Wrong username or password."},
			{"demo", "alice", strings.Repeat("x", 20<<10), "could not be read"}, // beyond the form limit
		} {
			tb.open(t, "/signin")
			l := tb.submit(t, map[string]string{"#site": tt.site, "#username": tt.user, "#password": tt.password}, "main form button[type=submit]")
			if l.Status < 400 || l.Status >= 500 || !strings.Contains(l.Text, tt.want) {
				t.Errorf("sign-in %s/%s = %d %s:\n%s", tt.site, tt.user, l.Status, l.URL, l.Text)
			}
		}
		// A form from another session (here: a tampered token) is refused
		// before the password is looked at, with a way on.
		tb.open(t, "/signin")
		l := tb.submit(t, map[string]string{"input[name=csrf]": "forged", "#site": "demo", "#username": "alice", "#password": bw.first.passwords["alice"]},
			"main form button[type=submit]")
		if l.Status != 403 || !strings.Contains(l.Text, "Form expired") || !tb.has(t, `main a[href="/"]`) {
			t.Errorf("forged form = %d:\n%s", l.Status, l.Text)
		}
	})

	step("console_policy_requires_mfa", func(t *testing.T) {
		// The administrator edits the employees' policy in the console:
		// MFA at every sign-in of its users.
		tb.open(t, "/admin")
		l := tb.submit(t, map[string]string{"#token": "omm_admin_wrong"}, "main form button[type=submit]")
		if l.Status != 401 || !strings.Contains(tb.alert(t), "not the admin token") {
			t.Errorf("wrong admin token = %d %q", l.Status, tb.alert(t))
		}
		l = tb.submit(t, map[string]string{"#token": bw.first.adminToken}, "main form button[type=submit]")
		if l.URL != "/admin/devices" {
			t.Fatalf("console sign-in: %s:\n%s", l.URL, l.Text)
		}
		l = tb.click(t, `header a[href="/admin/policies"]`)
		if !strings.Contains(l.Text, "iOS: require (passcode of 6+, encryption, no jailbreak or root, work data kept apart, factory reset allowed)") {
			t.Errorf("policies:\n%s", l.Text)
		}
		l = tb.click(t, `tr[data-policy="`+demoPolicyName+`"] a`)
		if !strings.HasPrefix(l.URL, "/admin/policies/pol_") || tb.attr(t, "#name", "value") != demoPolicyName {
			t.Fatalf("policy form %s:\n%s", l.URL, l.Text)
		}
		// A mistake is refused with the form kept.
		l = tb.submit(t, map[string]string{"#require_mfa": "on", "#ios_min_os": "seventeen"}, "#save-policy")
		if l.Status != 400 || !strings.Contains(tb.alert(t), "Not saved") || tb.attr(t, "#ios_min_os", "value") != "seventeen" {
			t.Errorf("bad minimum OS = %d %q", l.Status, tb.alert(t))
		}
		l = tb.submit(t, map[string]string{"#require_mfa": "on", "#ios_min_os": ""}, "#save-policy")
		if l.URL != "/admin/policies?done=updated" || !strings.Contains(l.Text, "The policy was saved") {
			t.Fatalf("save: %s:\n%s", l.URL, l.Text)
		}
		if row := strings.Join(tb.texts(t, `tr[data-policy="`+demoPolicyName+`"]`), ""); !strings.Contains(row, "required") {
			t.Errorf("the policy row does not show MFA required: %q", row)
		}
	})

	step("sign_in_mfa_setup_pin", func(t *testing.T) {
		// Alice has no second factor yet: sign-in sets up her
		// authenticator app with a QR code.
		tb.open(t, "/signin")
		l := tb.submit(t, map[string]string{"#site": "demo", "#username": "alice", "#password": bw.first.passwords["alice"]}, "main form button[type=submit]")
		if l.URL != "/signin/mfa" || !tb.has(t, "#start-totp") {
			t.Fatalf("after the password: %s:\n%s", l.URL, l.Text)
		}
		l = tb.click(t, "#start-totp")
		secret := strings.ReplaceAll(strings.Join(tb.texts(t, "#totp-secret"), ""), " ", "")
		if !tb.has(t, "figure svg[role=img] path") || len(secret) < 16 {
			t.Fatalf("authenticator set-up page (secret %q):\n%s", secret, l.Text)
		}
		if uri := tb.attr(t, "input[name=uri]", "value"); !strings.HasPrefix(uri, "otpauth://totp/") || !strings.Contains(uri, secret) {
			t.Errorf("the QR code's URI %q", uri)
		}
		l = tb.submit(t, map[string]string{"#code": "000000"}, "main form button[type=submit]")
		if l.Status != 401 || !strings.Contains(l.Text, "That code is wrong or expired.") || !tb.has(t, "figure svg[role=img] path") {
			t.Errorf("wrong first code = %d:\n%s", l.Status, l.Text)
		}
		l = tb.submit(t, map[string]string{"#code": totpCode(t, secret, 0)}, "main form button[type=submit]")
		if l.URL != "/signin/pin" || !tb.has(t, "#confirm") {
			t.Fatalf("after the first code: %s:\n%s", l.URL, l.Text)
		}
		bw.totpSecret = secret
		for _, bad := range []struct{ pin, confirm, want string }{
			{"1234", "1234", "simple"},
			{"4829", "4830", "differ"},
			{"48", "48", "use 4"},
		} {
			l = tb.submit(t, map[string]string{"#pin": bad.pin, "#confirm": bad.confirm}, "main form button[type=submit]")
			if l.Status != 400 || !strings.Contains(strings.ToLower(tb.alert(t)), bad.want) {
				t.Errorf("PIN %q/%q = %d, alert %q", bad.pin, bad.confirm, l.Status, tb.alert(t))
			}
		}
		l = tb.submit(t, map[string]string{"#pin": "4829", "#confirm": "4829"}, "main form button[type=submit]")
		if l.URL != "/portal" || !strings.Contains(l.Text, "Alice Example") {
			t.Fatalf("after the PIN: %s:\n%s", l.URL, l.Text)
		}
	})

	step("sign_in_with_code", func(t *testing.T) {
		tb.click(t, "header form button") // sign out
		tb.open(t, "/signin")
		l := tb.submit(t, map[string]string{"#site": "demo", "#username": "alice", "#password": bw.first.passwords["alice"]}, "main form button[type=submit]")
		if l.URL != "/signin/mfa" || !tb.has(t, "#totp-code #code") || tb.has(t, "#start-totp") {
			t.Fatalf("after the password: %s:\n%s", l.URL, l.Text)
		}
		l = tb.submit(t, map[string]string{"#code": "000000"}, "main form button[type=submit]")
		if l.Status != 401 || !strings.Contains(l.Text, "That code is wrong or expired.") {
			t.Errorf("wrong code = %d:\n%s", l.Status, l.Text)
		}
		l = tb.submit(t, map[string]string{"#code": totpCode(t, bw.totpSecret, 1)}, "main form button[type=submit]")
		if l.URL != "/signin/pin" {
			t.Fatalf("after the code: %s:\n%s", l.URL, l.Text)
		}
		l = tb.submit(t, map[string]string{"#pin": "4829", "#confirm": "4829"}, "main form button[type=submit]")
		if l.URL != "/portal" {
			t.Fatalf("after the PIN: %s:\n%s", l.URL, l.Text)
		}
		// Devices by name and model, never by ID.
		for _, want := range []string{"Alice's iPhone", "Alice's Mac", "MacBook Pro", "iPhone added"} {
			if !strings.Contains(l.Text, want) {
				t.Errorf("my devices lack %q:\n%s", want, l.Text)
			}
		}
		for _, id := range []string{bw.aliceDev, bw.aliceCorp, bw.aliceMac} {
			if strings.Contains(l.Text, id) || !tb.has(t, `a[href="/portal/devices/`+id+`"]`) {
				t.Errorf("my devices show %s by ID, or not at all:\n%s", id, l.Text)
			}
		}
		l = tb.click(t, `header a[href="/portal/security"]`)
		if !strings.Contains(l.Text, "Required: the policy") || !strings.Contains(strings.Join(tb.texts(t, "#mfa-totp"), ""), "Set up") {
			t.Errorf("sign-in security:\n%s", l.Text)
		}
	})

	step("eligibility", func(t *testing.T) {
		// The form asks only what a person must answer.
		tb.open(t, "/portal")
		for _, never := range []string{"#os_version", "#compromised", "#api_level", "#model"} {
			if tb.has(t, never) {
				t.Errorf("the eligibility form asks for %s, which the device reports itself", never)
			}
		}
		l := tb.submit(t, map[string]string{"#platform": "ios", "#ownership": "personal"}, "#elig-h ~ form button[type=submit]")
		from := map[string]string{}
		for _, row := range tb.texts(t, "#facts tbody tr") {
			parts := strings.Split(row, "\t")
			from[parts[0]] = parts[len(parts)-1]
		}
		if from["Owner"] != "you" || from["OS version"] != "checked when the device enrolls" || from["Jailbroken or rooted"] != "checked when the device enrolls" {
			t.Errorf("where the facts came from: %v\n%s", from, l.Text)
		}
		if !strings.Contains(l.Text, `targets the user's group "Employees"`) || strings.Contains(l.Text, bw.employees) {
			t.Errorf("the reasons name the group by ID, not by name:\n%s", l.Text)
		}
		tb.open(t, "/portal")
		l = tb.submit(t, map[string]string{"#platform": "macos", "#ownership": "personal"}, "#elig-h ~ form button[type=submit]")
		if l.Status != 200 || !strings.Contains(l.Text, "you don't have to") || !tb.has(t, ".outcome") {
			t.Errorf("mac: eligibility = %d:\n%s", l.Status, l.Text)
		}
	})

	step("enroll_ios_privacy_first", func(t *testing.T) {
		tb.open(t, "/portal")
		l := tb.submit(t, map[string]string{"#platform": "ios", "#ownership": "personal"}, "#elig-h ~ form button[type=submit]")
		if !strings.Contains(l.Text, "asks you to enroll") || !strings.Contains(l.Text, "Keep work data apart") {
			t.Fatalf("decision:\n%s", l.Text)
		}
		// What the organization will see is on the page, before the
		// agreement, from the privacy contract.
		before, err := chromedp.Run(tb.ctx, chromedp.Evaluate[bool](`(() => { const p = document.querySelector("#privacy-preview"), a = document.querySelector("#agree");
			return !!p && !!a && !!(p.compareDocumentPosition(a) & Node.DOCUMENT_POSITION_FOLLOWING); })()`))
		if err != nil || !before {
			t.Errorf("the privacy table is not shown before the agreement (%v):\n%s", err, l.Text)
		}
		for _, attr := range []string{"device_name", "serial_number", "os_version", "phone_number", "passcode_present"} {
			if !tb.has(t, `#privacy-preview tr[data-attribute="`+attr+`"]`) {
				t.Errorf("the privacy table lacks %s", attr)
			}
		}
		for _, want := range []string{"can never see", "Device location", "cannot erase the device"} {
			if !strings.Contains(l.Text, want) {
				t.Errorf("the privacy section lacks %q", want)
			}
		}
		l = tb.submit(t, map[string]string{"#agree": "on"}, "form[action='/portal/enroll'] button[type=submit]")
		href := tb.attr(t, "#enroll-link", "href")
		if l.URL != "/portal/enroll" || !strings.HasPrefix(href, bw.base+"/enroll/"+string(demoOrg.ID)+"/profile?token=") {
			t.Fatalf("enroll page %s: link %q:\n%s", l.URL, href, l.Text)
		}
		if !tb.has(t, "figure svg[role=img] path") {
			t.Error("no QR code on the iOS enroll page")
		}
		// The device opens the link (it works once); opened again, the
		// link says in words that it no longer works.
		if status, _ := bw.do(t, "GET", strings.TrimPrefix(href, bw.base), "", nil); status != 200 {
			t.Fatalf("the device's opening of the link = %d", status)
		}
		l = tb.open(t, strings.TrimPrefix(href, bw.base))
		if l.Status != 403 || !strings.Contains(l.Text, "This enrollment link no longer works") || strings.Contains(l.Text, "Forbidden") {
			t.Errorf("the used link = %d:\n%s", l.Status, l.Text)
		}
	})

	step("enroll_android", func(t *testing.T) {
		// A personal phone gets a work profile.
		tb.open(t, "/portal")
		tb.submit(t, map[string]string{"#platform": "android", "#ownership": "personal"}, "#elig-h ~ form button[type=submit]")
		l := tb.submit(t, map[string]string{"#agree": "on"}, "form[action='/portal/android/enroll'] button[type=submit]")
		if l.Status != 200 || !tb.has(t, "figure svg[role=img] path") || !strings.Contains(l.Text, "Enrollment code (work profile)") {
			t.Errorf("work profile enroll page = %d %s:\n%s", l.Status, l.URL, l.Text)
		}
		// A company-owned phone is fully managed, from the decision on.
		tb.open(t, "/portal")
		l = tb.submit(t, map[string]string{"#platform": "android", "#ownership": "company"}, "#elig-h ~ form button[type=submit]")
		if !strings.Contains(l.Text, "fully managed") || strings.Contains(l.Text, "work profile: chosen") {
			t.Errorf("company-owned decision:\n%s", l.Text)
		}
		l = tb.submit(t, map[string]string{"#agree": "on"}, "form[action='/portal/android/enroll'] button[type=submit]")
		if l.Status != 200 || !strings.Contains(l.Text, "six times") || !strings.Contains(l.Text, "Enrollment code (fully managed)") ||
			strings.Contains(l.Text, "(work profile)") {
			t.Errorf("fully managed enroll page = %d:\n%s", l.Status, l.Text)
		}
	})

	storeRow := func(t *testing.T, app string) (state, text string) {
		t.Helper()
		sel := `tr[data-app="` + app + `"]`
		if !tb.has(t, sel) {
			t.Fatalf("store has no row for %s", app)
		}
		return tb.attr(t, sel, "data-state"), strings.Join(tb.texts(t, sel), " ")
	}
	step("app_store", func(t *testing.T) {
		tb.open(t, "/portal")
		l := tb.click(t, `a[href="/portal/devices/`+bw.aliceDev+`/store"]`)
		if !strings.Contains(l.Text, "Alice's iPhone") || strings.Contains(l.Text, bw.aliceDev) {
			t.Errorf("the store names the device by ID:\n%s", l.Text)
		}
		for _, tt := range []struct{ app, state, want, button string }{
			{managedApp, "Installed", "Open it from the home screen", "button.remove"},
			{availableApp, "Available", "Not installed", "button.install"},
			{personalCopy, "Unmanaged", "installed before the device was managed", ""},
		} {
			if state, text := storeRow(t, tt.app); state != tt.state || !strings.Contains(text, tt.want) {
				t.Errorf("%s: state %q, %q; want %q with %q", tt.app, state, text, tt.state, tt.want)
			}
			if tt.button != "" && !tb.has(t, `tr[data-app="`+tt.app+`"] `+tt.button) {
				t.Errorf("%s: no %s", tt.app, tt.button)
			}
		}
		if tb.has(t, `tr[data-app="`+personalCopy+`"] button`) || tb.has(t, `tr[data-app="`+managedApp+`"] button.install`) {
			t.Error("the store offers to install an app that is on the device")
		}
		if strings.Contains(strings.Join(tb.texts(t, "main"), ""), "Secret Diary") {
			t.Error("the store lists a personal app")
		}
		l = tb.click(t, `tr[data-app="`+availableApp+`"] button.install`)
		if state, text := storeRow(t, availableApp); state != "Installing" || !strings.Contains(text, "pending") || !strings.Contains(l.Text, "will be installed the next time") {
			t.Errorf("after Install: %q %q:\n%s", state, text, l.Text)
		}
		l = tb.click(t, `tr[data-app="`+managedApp+`"] button.remove`)
		if state, _ := storeRow(t, managedApp); state != "Removing" || !strings.Contains(l.Text, "will be removed") {
			t.Errorf("after Remove: %q:\n%s", state, l.Text)
		}
		// The store of the deprovisioned iPhone is closed: it offers no
		// install (which could only fail).
		l = tb.open(t, "/portal/devices/"+bw.aliceGone+"/store")
		if tb.has(t, "button.install") || tb.has(t, "button.remove") || !tb.has(t, "#store-closed") || !strings.Contains(l.Text, "no longer managed") {
			t.Errorf("the deprovisioned device's store:\n%s", l.Text)
		}
	})

	step("privacy_report_and_deprovision", func(t *testing.T) {
		tb.open(t, "/portal")
		l := tb.click(t, `a[href="/portal/devices/`+bw.aliceDev+`"]`)
		for _, want := range []string{"Your organization can see", "Alice's iPhone", "F2LALICE0001", "17.4", "Secret Diary",
			"Your organization can never see", "cannot erase the device"} {
			if !strings.Contains(l.Text, want) {
				t.Errorf("report lacks %q:\n%s", want, l.Text)
			}
		}
		for _, never := range []string{"f0:18:98", "35 000000"} {
			if strings.Contains(l.Text, never) {
				t.Errorf("report shows %q", never)
			}
		}
		if tb.has(t, "#erase") {
			t.Error("factory reset offered on a personal device")
		}
		// Values in words, the stored values unchanged; profiles as a list.
		bw.checkWords(t, tb, map[string]string{
			"encryption": "Block-level and file-level encryption", "passcode_present": "Yes", "passcode_compliant": "No",
			"capacity_gb": "128 GB",
		})
		if got := tb.texts(t, `tr[data-attribute="managed_profiles"] li`); !slices.Equal(got, []string{"com.example.demo.vpn", "com.example.demo.wifi"}) {
			t.Errorf("profiles listed %q", got)
		}
		for _, never := range []string{"net.example.home.vpn", "firewall", "system_integrity_protection"} {
			if strings.Contains(l.Text, never) || tb.has(t, `tr[data-attribute="`+never+`"]`) {
				t.Errorf("iPhone report shows %q", never)
			}
		}
		// The Mac: GiB on macOS 11, FileVault, firewall and System
		// Integrity Protection, no passcode rows, apps without a bundle
		// identifier by name and without their folder.
		l = tb.open(t, "/portal/devices/"+bw.aliceMac)
		bw.checkWords(t, tb, map[string]string{
			"capacity_gb": "233.47 GiB", "available_capacity_gb": "101.5 GiB", "encryption": "FileVault on",
			"firewall": "On", "system_integrity_protection": "On",
		})
		for _, want := range []string{"Install macOS Big Sur", "Gmail", "Safari"} {
			if !strings.Contains(l.Text, want) {
				t.Errorf("Mac report lacks %q:\n%s", want, l.Text)
			}
		}
		for _, never := range []string{"jdoe", "Chrome Apps", "RECOVERY-KEY", "16.7.10", "MacBookPro16,1"} {
			if strings.Contains(l.Text, never) {
				t.Errorf("Mac report shows %q", never)
			}
		}
		if tb.has(t, `tr[data-attribute="passcode_present"]`) || tb.has(t, `tr[data-attribute="model_number"]`) {
			t.Errorf("Mac report lists rows macOS 11 does not report:\n%s", l.Text)
		}
		if l := tb.open(t, "/portal/devices/"+bw.bobDev); l.Status != 404 || !strings.Contains(l.Text, "not yours to see") {
			t.Errorf("bob's device in alice's portal = %d:\n%s", l.Status, l.Text)
		}
		// The deprovisioned iPhone offers no removal.
		tb.open(t, "/portal/devices/"+bw.aliceGone)
		if tb.has(t, "#deprovision") || tb.has(t, "#erase") {
			t.Error("the deprovisioned iPhone offers a removal")
		}
		tb.open(t, "/portal/devices/"+bw.aliceDev)
		l = tb.submit(t, map[string]string{"#confirm-deprovision": "on"}, "#deprovision")
		if !strings.Contains(l.Text, "Removal requested") || !strings.Contains(l.Text, "personal data stays") {
			t.Errorf("deprovision:\n%s", l.Text)
		}
		l = tb.open(t, "/portal/devices/"+bw.aliceDev)
		if !slices.ContainsFunc(tb.texts(t, "#actions-h ~ table tr"), func(s string) bool { return strings.Contains(s, "pending") }) {
			t.Errorf("no pending request after deprovisioning:\n%s", l.Text)
		}
	})

	step("factory_reset_where_allowed", func(t *testing.T) {
		l := tb.open(t, "/portal/devices/"+bw.aliceCorp)
		if !strings.Contains(l.Text, "allows erasing this company-owned device") || !tb.has(t, "#erase") {
			t.Fatalf("company device report:\n%s", l.Text)
		}
		l = tb.submit(t, map[string]string{"#confirm-erase": "on"}, "#erase")
		if !strings.Contains(l.Text, "Factory reset requested") {
			t.Errorf("erase:\n%s", l.Text)
		}
		tb.open(t, "/portal/devices/"+bw.aliceCorp)
		if rows := tb.texts(t, "#actions-h ~ table tr"); !slices.ContainsFunc(rows, func(s string) bool {
			return strings.Contains(s, "EraseDevice") && strings.Contains(s, "pending")
		}) {
			t.Errorf("actions after erase: %q", rows)
		}
	})

	step("console_devices", func(t *testing.T) {
		l := tb.open(t, "/admin/devices")
		rows := strings.Join(tb.texts(t, "tbody tr"), "\n")
		for _, want := range []string{"Alice's iPhone", "Alice's Mac", "MacBook Pro", "alice", "Alice Example", "bob", "enrolled", "deprovisioned"} {
			if !strings.Contains(rows, want) {
				t.Errorf("device list lacks %q:\n%s", want, rows)
			}
		}
		for _, id := range []string{bw.aliceDev, bw.aliceMac, bw.otherDev} {
			if strings.Contains(rows, id) {
				t.Errorf("device list shows the ID %s:\n%s", id, rows)
			}
		}
		l = tb.click(t, `a[href="/admin/devices/`+bw.bobDev+`"]`)
		l = tb.click(t, `form[action$="/lock"] button`)
		if !strings.Contains(l.Text, "pending") || !slices.ContainsFunc(tb.texts(t, "tbody tr"), func(s string) bool {
			return strings.Contains(s, "DeviceLock") && strings.Contains(s, "(pending)")
		}) {
			t.Errorf("after lock:\n%s", l.Text)
		}
		// A factory reset is offered only where it is allowed.
		if tb.has(t, `form[action$="/erase"]`) || !strings.Contains(l.Text, "personally owned") {
			t.Errorf("bob's personal device offers a factory reset:\n%s", l.Text)
		}
		// A deprovisioned device offers nothing, and says why.
		l = tb.open(t, "/admin/devices/"+bw.aliceGone)
		if tb.has(t, `main form[action^="/admin/devices/"]`) || !strings.Contains(l.Text, "no longer managed") {
			t.Errorf("the deprovisioned iPhone offers actions:\n%s", l.Text)
		}
		l = tb.open(t, "/admin/devices/"+bw.aliceDev)
		for _, want := range []string{"alice", "Device name", "Alice's iPhone", "Serial number", "F2LALICE0001", "Demo Notes"} {
			if !strings.Contains(l.Text, want) {
				t.Errorf("alice's device page lacks %q", want)
			}
		}
		bw.checkWords(t, tb, map[string]string{"encryption": "Block-level and file-level encryption", "passcode_present": "Yes", "capacity_gb": "128 GB"})
		if got := tb.texts(t, `tr[data-attribute="managed_profiles"] li`); len(got) != 2 {
			t.Errorf("console lists profiles %q", got)
		}
		l = tb.open(t, "/admin/devices/"+bw.aliceMac)
		bw.checkWords(t, tb, map[string]string{"capacity_gb": "233.47 GiB", "encryption": "FileVault on", "firewall": "On"})
		// The apps are read before the recent events, whose details name
		// inventory fields such as "value.device_name:".
		apps, _, _ := strings.Cut(l.Text, "Recent events")
		if !strings.Contains(apps, "Install macOS Big Sur (no bundle identifier)") || strings.Contains(l.Text, "jdoe") || strings.Contains(apps, "name:") {
			t.Errorf("console's Mac apps:\n%s", l.Text)
		}
	})

	step("console_erase_confirmed", func(t *testing.T) {
		tb.open(t, "/admin/devices/"+bw.aliceCorp)
		l := tb.click(t, `form[action$="/erase"] button`)
		if !strings.Contains(l.Text, "Everything on the device is erased") || !tb.has(t, "#confirm-form #confirm") {
			t.Fatalf("erase asks no confirmation:\n%s", l.Text)
		}
		// Cancel changes nothing.
		before := len(tb.texts(t, "body"))
		l = tb.click(t, `main a[href="/admin/devices/`+bw.aliceCorp+`"]`)
		if l.URL != "/admin/devices/"+bw.aliceCorp || before == 0 {
			t.Fatalf("cancel: %s", l.URL)
		}
		pending := func() int {
			n := 0
			for _, s := range tb.texts(t, "tbody tr") {
				if strings.Contains(s, "EraseDevice") && strings.Contains(s, "(pending)") {
					n++
				}
			}
			return n
		}
		was := pending()
		tb.click(t, `form[action$="/erase"] button`)
		l = tb.submit(t, map[string]string{"#confirm": "on"}, "#confirm-form button")
		if pending() != was+1 || !strings.Contains(l.Text, "The action was queued") {
			t.Errorf("after a confirmed erase (%d pending before):\n%s", was, l.Text)
		}
	})

	step("console_apps", func(t *testing.T) {
		l := tb.click(t, `header a[href="/admin/apps"]`)
		for _, app := range []string{managedApp, availableApp, personalCopy} {
			if text := strings.Join(tb.texts(t, `tr[data-app="`+app+`"]`), ""); !strings.Contains(text, "Employees") {
				t.Errorf("%s: %q", app, text)
			}
		}
		// Bad input keeps the form and says what is wrong.
		l = tb.submit(t, map[string]string{"#kind": "ios_app_store", "#name": "Travel", "#identifier": "com.example.demo.travel", "#store_id": "abc"}, "#add-app button")
		if l.Status != 400 || !strings.Contains(tb.alert(t), "App Store ID") || tb.attr(t, "#identifier", "value") != "com.example.demo.travel" {
			t.Errorf("bad store ID = %d %q", l.Status, tb.alert(t))
		}
		l = tb.submit(t, map[string]string{"#kind": "ios_in_house", "#name": "Travel", "#identifier": "com.example.demo.travel", "#store_id": "",
			"#manifest_url": "http://insecure.example.com/m.plist", "#bundle_version": "1.0"}, "#add-app button")
		if l.Status != 400 || !strings.Contains(tb.alert(t), "Not saved") {
			t.Errorf("http manifest = %d %q", l.Status, tb.alert(t))
		}
		l = tb.submit(t, map[string]string{"#kind": "ios_app_store", "#name": "Travel", "#identifier": "com.example.demo.travel", "#store_id": "1234567892",
			"#manifest_url": "", "#bundle_version": ""}, "#add-app button")
		row := `tr[data-app="com.example.demo.travel"]`
		if !strings.Contains(l.Text, "The app was added") || !tb.has(t, row) {
			t.Fatalf("add app:\n%s", l.Text)
		}
		l = tb.submit(t, map[string]string{row + " select[name=group]": bw.employees, row + " select[name=mode]": "available"}, row+" form.assign button")
		if !strings.Contains(l.Text, "The app was assigned") || !strings.Contains(strings.Join(tb.texts(t, row), ""), "Employees (Available in the store)") {
			t.Errorf("assign:\n%s", l.Text)
		}
		// Assigning it again changes the mode (it said "already exists").
		l = tb.submit(t, map[string]string{row + " select[name=group]": bw.employees, row + " select[name=mode]": "install"}, row+" form.assign button")
		if l.Status != 200 || !strings.Contains(l.Text, "mode was changed") || !strings.Contains(strings.Join(tb.texts(t, row), ""), "Employees (Install at once)") {
			t.Errorf("change of mode = %d:\n%s", l.Status, l.Text)
		}
		// The newly assigned app is in alice's store at once (she is
		// still signed in to the portal in this browser).
		tb.open(t, "/portal/devices/"+bw.aliceCorp+"/store")
		if !tb.has(t, row) {
			t.Errorf("the assigned app is not in alice's store: %q", tb.texts(t, "tbody tr"))
		}
		tb.open(t, "/admin/apps")
		l = tb.click(t, row+" form.assignment button")
		if !strings.Contains(l.Text, "The assignment was removed") || strings.Contains(strings.Join(tb.texts(t, row), ""), "Employees (") {
			t.Errorf("unassign:\n%s", l.Text)
		}
		tb.open(t, "/portal/devices/"+bw.aliceCorp+"/store")
		if tb.has(t, row) {
			t.Error("the unassigned app is still in alice's store")
		}
	})

	step("console_users_and_groups", func(t *testing.T) {
		l := tb.open(t, "/admin/users")
		if row := strings.Join(tb.texts(t, `tr[data-user="alice"]`), ""); !strings.Contains(row, "Employees") || !strings.Contains(row, "Authenticator app") {
			t.Errorf("alice's row: %q", row)
		}
		l = tb.click(t, `button[aria-label="Reset the authenticator app of alice"]`)
		if !tb.has(t, "#confirm-form") {
			t.Fatalf("reset MFA asks no confirmation:\n%s", l.Text)
		}
		l = tb.submit(t, map[string]string{"#confirm": "on"}, "#confirm-form button")
		if !strings.Contains(l.Text, "Authenticator app reset") {
			t.Errorf("reset MFA:\n%s", l.Text)
		}
		tb.open(t, "/admin/users")
		if row := strings.Join(tb.texts(t, `tr[data-user="alice"]`), ""); !strings.Contains(row, "no authenticator") {
			t.Errorf("alice's row after the reset: %q", row)
		}
		l = tb.click(t, `header a[href="/admin/groups"]`)
		sel := `section[data-group="Contractors"]`
		l = tb.submit(t, map[string]string{sel + " select[name=user_id]": bw.users["bob"]}, sel+" form.add-member button")
		if !strings.Contains(l.Text, "The member was added") || !strings.Contains(strings.Join(tb.texts(t, sel+" ul.members"), ""), "bob") {
			t.Errorf("add bob to Contractors:\n%s", l.Text)
		}
		l = tb.click(t, sel+` button[aria-label="Remove bob from Contractors"]`)
		if !strings.Contains(l.Text, "The member was removed") || strings.Contains(strings.Join(tb.texts(t, sel+" ul.members"), ""), "bob") {
			t.Errorf("remove bob from Contractors:\n%s", l.Text)
		}
	})

	step("console_audit", func(t *testing.T) {
		tb.open(t, "/admin/devices")
		l := tb.click(t, `header a[href="/admin/audit"]`)
		ids := func() []int {
			var out []int
			raw, err := chromedp.Run(tb.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#audit tbody tr"), r => r.dataset.id)`))
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range raw {
				n, _ := strconv.Atoi(r)
				out = append(out, n)
			}
			return out
		}
		first := ids()
		if len(first) == 0 || !slices.IsSortedFunc(first, func(a, b int) int { return b - a }) {
			t.Fatalf("the audit log is not newest first: %v", first)
		}
		// The latest change, the membership removal, is on top, by name
		// and by the console's administrator.
		top := strings.Join(tb.texts(t, "#audit tbody tr:first-child"), "")
		if !strings.Contains(top, "auth.group.member.remove") || !strings.Contains(top, "Administrator (console)") || !strings.Contains(top, "Contractors") {
			t.Errorf("the newest entry: %q", top)
		}
		if strings.Contains(l.Text, "admin:api-token") {
			t.Error("console actions audited as the API token")
		}
		// Older entries page by page, with no entry twice.
		if tb.has(t, "#older") {
			tb.click(t, "#older")
			second := ids()
			if len(second) == 0 || second[0] >= first[len(first)-1] {
				t.Errorf("the next page %v does not continue %v", second, first)
			}
		}
		// Filters: alice's entries only; device actions only.
		tb.open(t, "/admin/audit")
		l = tb.submit(t, map[string]string{"#f-user": bw.users["alice"]}, "#audit-filter button")
		rows := tb.texts(t, "#audit tbody tr")
		if len(rows) == 0 || !strings.Contains(l.URL, "user="+bw.users["alice"]) {
			t.Fatalf("alice's entries: %s %q", l.URL, rows)
		}
		for _, r := range rows {
			if !strings.Contains(r, "alice") {
				t.Errorf("an entry in alice's log names neither her as actor nor as target: %q", r)
			}
		}
		tb.open(t, "/admin/audit")
		tb.submit(t, map[string]string{"#f-action": "device."}, "#audit-filter button")
		actions, err := chromedp.Run(tb.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#audit tbody tr"), r => r.dataset.action)`))
		if err != nil {
			t.Fatal(err)
		}
		if len(actions) == 0 {
			t.Fatal("no device entries")
		}
		for _, a := range actions {
			if !strings.HasPrefix(a, "device.") {
				t.Errorf("a %q entry among the device entries", a)
			}
		}
		// A time range that ends before anything happened shows nothing.
		tb.open(t, "/admin/audit")
		l = tb.submit(t, map[string]string{"#f-until": "2000-01-01"}, "#audit-filter button")
		if tb.has(t, "#audit tbody tr") || !strings.Contains(l.Text, "No entries match") {
			t.Errorf("entries before 2000:\n%s", l.Text)
		}
		l = tb.click(t, "header form button")
		if l.URL != "/admin" {
			t.Errorf("after console sign-out: %s", l.URL)
		}
	})

	step("sign_out", func(t *testing.T) {
		tb.open(t, "/portal")
		l := tb.click(t, "header form button")
		if l.URL != "/signin" {
			t.Errorf("after sign-out: %s", l.URL)
		}
		if l := tb.open(t, "/portal"); l.URL != "/signin" {
			t.Errorf("portal after sign-out: %s", l.URL)
		}
	})

	// Anything the browser reported after the last page was checked.
	for _, p := range tb.takeProblems() {
		t.Errorf("late: %s", p)
	}
}

// alert is the text of the page's error message, if any.
func (tb *tab) alert(t *testing.T) string {
	t.Helper()
	return strings.Join(tb.texts(t, "[role=alert]"), " ")
}

// waitProblems waits until the browser reported a problem containing each
// of wants (or gives up after a while) and returns what it reported.
func (tb *tab) waitProblems(t *testing.T, wants []string) []string {
	t.Helper()
	var got []string
	seenAll := func() bool {
		for _, w := range wants {
			if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, w) }) {
				return false
			}
		}
		return true
	}
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	for !seenAll() && ctx.Err() == nil {
		got = append(got, tb.takeProblems()...)
		if err := chromedp.Do(ctx, chromedp.Sleep(50*time.Millisecond)); err != nil {
			break
		}
	}
	return got
}

// checkWords checks that each attribute's row of the open page (the
// report or the console's device page) shows the value in those words.
func (bw *browserWorld) checkWords(t *testing.T, tb *tab, want map[string]string) {
	t.Helper()
	for attr, words := range want {
		cells := tb.texts(t, `tr[data-attribute="`+attr+`"] td:nth-child(2)`)
		if len(cells) != 1 || cells[0] != words {
			t.Errorf("%s shown as %q, want %q", attr, cells, words)
		}
	}
}
