package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"image/png"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/android/agent"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

// androidStatus is a device report with fields the privacy contract
// forbids (IMEI, MAC address, location) that must never be stored.
const androidStatus = `{
	"hardwareInfo": {"serialNumber": "9A1B2C3D", "model": "Pixel 3", "manufacturer": "Google"},
	"softwareInfo": {"androidVersion": "9", "securityPatchLevel": "2020-01-01"},
	"deviceSettings": {"isDeviceSecure": true, "encryptionStatus": "ENCRYPTED"},
	"networkInfo": {"imei": "356938035643809", "wifiMacAddress": "00:11:22:33:44:55"},
	"lastKnownLocation": {"latitude": 52.5, "longitude": 13.4},
	"applicationReports": [{"packageName": "com.example.demo.chat", "displayName": "Demo Chat", "versionName": "1.0", "state": "INSTALLED"}]
}`

// TestAndroidLegacyEndToEnd plays a non-Samsung API 28 device (native
// device admin, through our agent) through the server: the signed-in user
// gets a one-time token with its link and QR code, the agent enrolls over
// HTTPS, fetches its policy (with the Play app from the store), reports
// status (forbidden fields dropped), is locked and wiped from the admin
// API or by its user, acknowledges, and ends deprovisioned. The personal
// device may never be factory reset, so an erase is refused; the company
// device may be under the demo policy, and IT removes its work data only.
func TestAndroidLegacyEndToEnd(t *testing.T) {
	tests := []struct {
		ownership string
		// byUser: the user removes the work data from the agent API;
		// otherwise the admin does.
		byUser bool
	}{
		{"company", false},
		{"personal", true},
	}
	w := newWorld(t)
	alice := w.agentSignIn(t, "alice")
	for _, tc := range tests {
		t.Run(tc.ownership, func(t *testing.T) {
			facts := deviceFacts{Platform: "android", OSVersion: "9", APILevel: 28, Manufacturer: "Google", Model: "Pixel 3", Ownership: tc.ownership}
			e := must[androidEnrollment](t, 200)(w.do(t, "POST", "/api/agent/android/enroll", alice, facts))
			if e.Mode != "device_admin" || e.Channel != string(android.ChannelAgent) || e.Token == "" ||
				!strings.HasPrefix(e.Link, w.base+"/android/agent") || !strings.Contains(e.Link, e.Token) || e.QR != nil {
				t.Fatalf("enrollment %+v", e)
			}
			if img, err := png.Decode(bytes.NewReader(e.QRPNG)); err != nil || img.Bounds().Dx() < 100 {
				t.Errorf("QR PNG: %v", err)
			}
			st, pngBody := w.do(t, "POST", "/api/agent/android/enroll.png", alice, facts)
			if _, err := png.Decode(bytes.NewReader(pngBody)); st != 200 || err != nil {
				t.Errorf("QR PNG endpoint = %d: %v", st, err)
			}

			enr := must[agent.EnrollResponse](t, 200)(w.do(t, "POST", "/android/agent/enroll", "",
				agent.EnrollRequest{Token: e.Token, Identifier: "android-id-" + tc.ownership}))
			if enr.Mode != "device_admin" || enr.Credential == "" {
				t.Fatalf("agent enrollment %+v", enr)
			}
			// One-time token.
			if st, _ := w.do(t, "POST", "/android/agent/enroll", "", agent.EnrollRequest{Token: e.Token, Identifier: "android-id-x" + tc.ownership}); st == 200 {
				t.Error("the one-time token enrolled twice")
			}
			mine := must[struct{ Devices []deviceView }](t, 200)(w.do(t, "GET", "/api/agent/devices", alice, nil))
			if !slices.ContainsFunc(mine.Devices, func(d deviceView) bool {
				return d.ID == enr.DeviceID && d.State == inventory.StateEnrolled && d.Platform == inventory.PlatformAndroid
			}) {
				t.Fatalf("alice's devices %+v lack the Android device", mine.Devices)
			}

			pol := must[android.AgentPolicy](t, 200)(w.do(t, "GET", "/android/agent/policy?api_level=28", enr.Credential, nil))
			if !slices.Contains(pol.Apps, android.AgentApp{PackageName: demoChat, Install: android.InstallAvailable}) ||
				!slices.ContainsFunc(pol.Calls, func(c android.AdminCall) bool { return c.Method == "setPasswordQuality" }) {
				t.Errorf("agent policy %+v", pol)
			}

			sr := must[agent.StatusResponse](t, 200)(w.do(t, "POST", "/android/agent/status", enr.Credential, androidStatus))
			if sr.Dropped.Forbidden < 2 {
				t.Errorf("status answer %+v: want IMEI, MAC and location dropped", sr)
			}
			detail := must[struct {
				Device deviceView
				Apps   []inventory.App
			}](t, 200)(w.do(t, "GET", "/api/admin/devices/"+enr.DeviceID, w.first.adminToken, nil))
			raw, _ := json.Marshal(detail)
			for _, forbidden := range []string{"356938035643809", "00:11:22:33:44:55", "52.5"} {
				if strings.Contains(string(raw), forbidden) {
					t.Errorf("stored inventory holds %s: %s", forbidden, raw)
				}
			}
			if detail.Device.Values[inventory.KeyOSVersion] == "" {
				t.Errorf("allowed values were not kept: %s", raw)
			}

			// Lock from the admin API; the agent acknowledges.
			must[map[string]string](t, 202)(w.do(t, "POST", "/api/admin/devices/"+enr.DeviceID+"/lock", w.first.adminToken, nil))
			cmds := must[struct{ Commands []agent.CommandView }](t, 200)(w.do(t, "GET", "/android/agent/commands", enr.Credential, nil))
			if len(cmds.Commands) != 1 || cmds.Commands[0].Kind != android.CommandLock {
				t.Fatalf("commands %+v, want the lock", cmds.Commands)
			}
			must[map[string]any](t, 200)(w.do(t, "POST", "/android/agent/commands/ack", enr.Credential,
				agent.AckRequest{ID: cmds.Commands[0].ID, Status: android.StatusDone}))

			// No factory reset of a personal device.
			if tc.ownership == "personal" {
				if st, body := w.do(t, "POST", "/api/admin/devices/"+enr.DeviceID+"/erase", w.first.adminToken, nil); st != 403 {
					t.Errorf("erase = %d %s, want 403", st, body)
				}
			}
			if tc.byUser {
				must[map[string]string](t, 202)(w.do(t, "POST", "/api/agent/devices/"+enr.DeviceID+"/deprovision", alice, nil))
			} else {
				must[map[string]string](t, 202)(w.do(t, "POST", "/api/admin/devices/"+enr.DeviceID+"/deprovision", w.first.adminToken, nil))
			}
			if d := adminDeviceState(t, w, enr.DeviceID); d != inventory.StateDeprovisioning {
				t.Errorf("after the wipe request: %s, want deprovisioning", d)
			}
			pending := must[struct{ Actions []actionView }](t, 200)(w.do(t, "GET", "/api/admin/devices/"+enr.DeviceID, w.first.adminToken, nil))
			if len(pending.Actions) != 1 || !pending.Actions[0].Pending || pending.Actions[0].RequestType != "wipe (work_data)" {
				t.Errorf("admin sees actions %+v, want the pending wipe", pending.Actions)
			}
			cmds = must[struct{ Commands []agent.CommandView }](t, 200)(w.do(t, "GET", "/android/agent/commands", enr.Credential, nil))
			if len(cmds.Commands) != 1 || cmds.Commands[0].Kind != android.CommandWipe || cmds.Commands[0].Wipe != android.WipeWorkData {
				t.Fatalf("commands %+v, want a work-data wipe", cmds.Commands)
			}
			must[map[string]any](t, 200)(w.do(t, "POST", "/android/agent/commands/ack", enr.Credential,
				agent.AckRequest{ID: cmds.Commands[0].ID, Status: android.StatusDone}))
			if d := adminDeviceState(t, w, enr.DeviceID); d != inventory.StateDeprovisioned {
				t.Errorf("after the acknowledgement: %s, want deprovisioned", d)
			}
			if st, _ := w.do(t, "GET", "/android/agent/commands", enr.Credential, nil); st != 401 {
				t.Errorf("credential of a deprovisioned device = %d, want 401", st)
			}
		})
	}
}

func adminDeviceState(t *testing.T, w *world, id string) inventory.State {
	t.Helper()
	return must[struct{ Device deviceView }](t, 200)(w.do(t, "GET", "/api/admin/devices/"+id, w.first.adminToken, nil)).Device.State
}

// TestAndroidEnrollRefusals: bad facts, a denied user and an unsigned
// request get no token.
func TestAndroidEnrollRefusals(t *testing.T) {
	w := newWorld(t)
	alice := w.agentSignIn(t, "alice")
	carol := w.agentSignIn(t, "carol")
	good := deviceFacts{Platform: "android", OSVersion: "9", APILevel: 28, Manufacturer: "Google", Ownership: "company"}
	tests := []struct {
		name   string
		token  string
		facts  deviceFacts
		status int
	}{
		{"ios", alice, deviceFacts{Platform: "ios", OSVersion: "17.4", Ownership: "company"}, 400},
		{"no ownership", alice, deviceFacts{Platform: "android", OSVersion: "9", APILevel: 28}, 400},
		{"denied by policy", carol, good, 403},
		{"not signed in", "", good, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if st, body := w.do(t, "POST", "/api/agent/android/enroll", tt.token, tt.facts); st != tt.status {
				t.Errorf("= %d %s, want %d", st, body, tt.status)
			}
		})
	}

	// With Knox and the Android Management API turned off, the phones that
	// need them are refused, saying why.
	w.stop()
	w.testServer = startServerArgs(t, w.dir, "-postgres", "", "-knox-license-file", "none", "-android-amapi", "off")
	alice = w.agentSignIn(t, "alice")
	for _, tt := range []struct {
		name, want string
		facts      deviceFacts
	}{
		{"knox off", "Knox", deviceFacts{Platform: "android", OSVersion: "9", APILevel: 28, Manufacturer: "samsung", Knox: true, Ownership: "company"}},
		{"work profile without a provider", "Android Management API", deviceFacts{Platform: "android", OSVersion: "14", APILevel: 34, WorkProfile: true, Ownership: "personal"}},
	} {
		if st, body := w.do(t, "POST", "/api/agent/android/enroll", alice, tt.facts); st != 403 || !strings.Contains(string(body), tt.want) {
			t.Errorf("%s = %d %s, want 403 naming %s", tt.name, st, body, tt.want)
		}
	}
}

// TestAndroidKnox: with the demo org's license configured, a Samsung
// device enrolls in Knox mode and its agent receives the license.
func TestAndroidKnox(t *testing.T) {
	w := newWorld(t)
	license := filepath.Join(t.TempDir(), "knox.txt")
	if err := os.WriteFile(license, []byte("KNOX-DEMO-KEY\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w.stop()
	w.testServer = startServerArgs(t, w.dir, "-postgres", "", "-knox-license-file", license)
	alice := w.agentSignIn(t, "alice")
	e := must[androidEnrollment](t, 200)(w.do(t, "POST", "/api/agent/android/enroll", alice,
		deviceFacts{Platform: "android", OSVersion: "9", APILevel: 28, Manufacturer: "samsung", Knox: true, Ownership: "company"}))
	if e.Mode != "knox" {
		t.Fatalf("enrollment %+v, want Knox", e)
	}
	enr := must[agent.EnrollResponse](t, 200)(w.do(t, "POST", "/android/agent/enroll", "", agent.EnrollRequest{Token: e.Token, Identifier: "android-knox"}))
	if enr.KnoxLicense != "KNOX-DEMO-KEY" || enr.Mode != "knox" {
		t.Errorf("agent enrollment %+v", enr)
	}
}

func TestLoadKnoxLicense(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		path    string
		wantErr bool
		wantNil bool
	}{
		{"none", "", false, true},
		{"key", write("ok", " KEY-1\n"), false, false},
		{"empty", write("empty", "\n"), true, true},
		{"two lines", write("two", "A\nB"), true, true},
		{"too long", write("long", strings.Repeat("k", maxKnoxLicense+1)), true, true},
		{"missing", filepath.Join(dir, "missing"), true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := loadKnoxLicense(tt.path, demoOrg.ID)
			if (err != nil) != tt.wantErr || (k == nil) != tt.wantNil {
				t.Fatalf("= %v, %v", k, err)
			}
			if k == nil {
				return
			}
			if key, err := k.KnoxLicense(t.Context(), demoOrg.ID); err != nil || key != "KEY-1" {
				t.Errorf("demo org's key = %q, %v", key, err)
			}
			if _, err := k.KnoxLicense(t.Context(), "org_other"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("another org's key: %v, want ErrNotFound", err)
			}
		})
	}
}

// TestWebAndroidEnroll: the portal asks only which device and who owns
// it; a personal phone gets a work-profile enrollment link, a
// company-owned one a fully managed QR code, each captioned by what it
// is (not "work profile" for a fully managed device).
func TestWebAndroidEnroll(t *testing.T) {
	w := newWorld(t)
	b := signedInBrowser(t, w, "alice")
	b.get("/portal")
	facts := url.Values{"platform": {"android"}, "ownership": {"personal"}}
	status, _, body := b.post("/portal/eligibility", facts)
	if status != 200 || !strings.Contains(body, `action="/portal/android/enroll"`) || strings.Contains(body, `name="api_level"`) ||
		!strings.Contains(body, "checked when the device enrolls") {
		t.Fatalf("eligibility = %d:\n%s", status, body)
	}
	if status, _, body := b.post("/portal/android/enroll", facts); status != 400 || !strings.Contains(body, "accept the agreement") {
		t.Errorf("without agreement = %d:\n%s", status, body)
	}
	forged := cloneValues(facts)
	forged.Set("agree", "on")
	forged.Set("csrf", "forged")
	if status, _, _ := b.post("/portal/android/enroll", forged); status != 403 {
		t.Errorf("forged CSRF = %d", status)
	}
	facts.Set("agree", "on")
	status, _, body = b.post("/portal/android/enroll", facts)
	if status != 200 || !strings.Contains(body, "<svg") || !strings.Contains(body, "Enrollment code (work profile)") || !strings.Contains(body, "Enroll with this link") {
		t.Fatalf("work-profile enrollment code = %d:\n%s", status, body)
	}

	// Company-owned: fully managed, from the decision on.
	company := url.Values{"platform": {"android"}, "ownership": {"company"}}
	_, _, body = b.post("/portal/eligibility", company)
	if !strings.Contains(body, "fully managed") || strings.Contains(body, "work profile: chosen") || strings.Contains(body, "work profile: enabled") {
		t.Errorf("company-owned decision:\n%s", body)
	}
	company.Set("agree", "on")
	status, _, body = b.post("/portal/android/enroll", company)
	if status != 200 || !strings.Contains(body, "six times") || !strings.Contains(body, "Enrollment code (fully managed)") {
		t.Errorf("fully managed enrollment code = %d:\n%s", status, body)
	}
}

// TestAgentLinkOpensAPage: the legacy modes' enrollment link (which the
// agent app opens) opened in a browser says what to do, instead of a 404;
// the token it carries still enrolls the device through the agent.
func TestAgentLinkOpensAPage(t *testing.T) {
	w := newWorld(t)
	alice := w.agentSignIn(t, "alice")
	e := must[androidEnrollment](t, 200)(w.do(t, "POST", "/api/agent/android/enroll", alice,
		deviceFacts{Platform: "android", OSVersion: "9", APILevel: 28, Manufacturer: "Google", Model: "Pixel 3", Ownership: "personal"}))
	u, err := url.Parse(e.Link)
	if err != nil || !strings.HasSuffix(u.Path, androidAgentPath) {
		t.Fatalf("link %q: %v", e.Link, err)
	}
	b := newBrowser(t, w)
	status, _, body := b.get(u.Path + "?" + u.RawQuery)
	if status != 200 || !strings.Contains(body, "Open this link with the OMM agent app") || strings.Contains(body, e.Token) {
		t.Errorf("the link in a browser = %d:\n%s", status, body)
	}
	enr := must[agent.EnrollResponse](t, 200)(w.do(t, "POST", "/android/agent/enroll", "", agent.EnrollRequest{Token: e.Token, Identifier: "android-link"}))
	if enr.Mode != "device_admin" {
		t.Errorf("agent enrollment %+v", enr)
	}
}

func TestQRSVG(t *testing.T) {
	svg, err := qrSVG([]byte("https://omm.example/android/agent?token=abc"))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := android.QRMatrix([]byte("https://omm.example/android/agent?token=abc"))
	dark := 0
	for _, row := range m {
		for _, d := range row {
			if d {
				dark++
			}
		}
	}
	if got := strings.Count(string(svg), "h1v1h-1z"); got != dark || !strings.HasPrefix(string(svg), "<svg") || strings.Contains(string(svg), "token") {
		t.Errorf("svg has %d modules, want %d: %s", got, dark, svg)
	}
}

// TestSetupAndroid: with no configuration the Android Management API goes
// to the local fake and Knox gets the demo key, each announced in the log;
// both can be turned off, and a wrong value is refused.
func TestSetupAndroid(t *testing.T) {
	license := filepath.Join(t.TempDir(), "knox.txt")
	if err := os.WriteFile(license, []byte("KEY-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		cfg       config
		fake      bool
		knoxKey   string // "" for none
		logs, err string
	}{
		{"zero configuration", config{}, true, demoKnoxLicense, "LOCAL FAKE", ""},
		{"local", config{androidAMAPI: "local", knoxLicenseFile: license}, true, "KEY-1", "LOCAL FAKE", ""},
		{"off", config{androidAMAPI: "off", knoxLicenseFile: "none"}, false, "", "Android Management API off", ""},
		{"unknown provider", config{androidAMAPI: "google"}, false, "", "", "-android-amapi"},
		{"missing license file", config{knoxLicenseFile: filepath.Join(t.TempDir(), "nope")}, false, "", "", "knox license"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			srv := &server{log: slog.New(slog.NewTextHandler(&buf, nil)), now: time.Now}
			ac, err := srv.androidConfig(tt.cfg, "https://mdm.example.com")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("= %v, want an error naming %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (srv.amapi != nil) != tt.fake || (ac.Knox != nil) != (tt.knoxKey != "") || !strings.Contains(buf.String(), tt.logs) {
				t.Errorf("fake %v, knox %v, log:\n%s", srv.amapi != nil, ac.Knox != nil, buf.String())
			}
			if tt.knoxKey == demoKnoxLicense && !strings.Contains(buf.String(), "DEMO key") {
				t.Errorf("the demo Knox key is not announced:\n%s", buf.String())
			}
		})
	}
}
