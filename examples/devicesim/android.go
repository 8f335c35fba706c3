package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/openomm/omm/policy"
)

// The Android walk: one simulated phone per enrollment mode, each through
// sign-in, eligibility, enrollment, policy, status, store and leaving. The
// legacy modes (Samsung Knox, native device admin) talk to the server's
// agent protocol; work-profile and fully managed phones play Google's
// Android Device Policy against the server's local Android Management API
// fake, and our agent app inside them reports status with a credential
// the user's session obtains.

// androidMode names one phone of the walk.
type androidMode string

const (
	modeWorkProfile  androidMode = "work_profile"
	modeFullyManaged androidMode = "fully_managed"
	modeKnox         androidMode = "knox"
	modeDeviceAdmin  androidMode = "device_admin"
	// modeLegacyAbove28 is a Samsung phone on Android 11 without work
	// profile support: the legacy modes end at API 28, so the policy
	// refuses (or warns) rather than enroll it in a mode that cannot work.
	modeLegacyAbove28 androidMode = "legacy_api30"
)

var allAndroidModes = []androidMode{modeWorkProfile, modeFullyManaged, modeKnox, modeDeviceAdmin, modeLegacyAbove28}

// androidConfig is an Android walk's settings.
type androidConfig struct {
	commonFlags
	adminToken string
	modes      []androidMode
}

func parseAndroid(args []string, out io.Writer) (androidConfig, error) {
	var c androidConfig
	fs := newFlagSet("android", out)
	c.register(fs)
	fs.StringVar(&c.adminToken, "admin-token", "", "admin API token: IT's actions and checks of what the server recorded (without it the user acts and nothing is checked)")
	modes := fs.String("modes", joinModes(allAndroidModes), "comma-separated phones to walk: "+joinModes(allAndroidModes))
	if err := parseFlags(fs, args); err != nil {
		return c, err
	}
	if err := c.checkTOTP(); err != nil {
		return c, err
	}
	for m := range strings.SplitSeq(*modes, ",") {
		mode := androidMode(strings.TrimSpace(m))
		if !slices.Contains(allAndroidModes, mode) {
			return c, fmt.Errorf("%w: unknown mode %q in -modes (want %s)", errUsage, mode, joinModes(allAndroidModes))
		}
		if !slices.Contains(c.modes, mode) {
			c.modes = append(c.modes, mode)
		}
	}
	return c, nil
}

func joinModes(ms []androidMode) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = string(m)
	}
	return strings.Join(s, ",")
}

// androidResult is what one phone's walk saw, for callers that check it.
type androidResult struct {
	Phone    phone
	Decision androidDecision
	// Refused is the server's refusal of the enrollment (the legacy phone
	// above API 28); the walk of that phone ends there.
	Refused     string
	Mode        string // the mode the server enrolled it in
	Type        string // the enrollment type
	Channel     string // "agent" or "amapi"
	DeviceID    string
	KnoxLicense bool
	// Offered are the apps the policy on the phone offers or installs,
	// each with its install type: "com.example (AVAILABLE)".
	Offered []string
	// StoreApps are the apps the user's store lists for the phone, each
	// with its state: "com.example (Available)".
	StoreApps []string
	// DataSeparation is what the phone was told about work→personal
	// sharing: the cross-profile setting, or why it cannot be enforced.
	DataSeparation string
	// Dropped counts the status fields the privacy filter refused.
	Dropped int
	// Leaving: the actions refused on the way out, the wipe done, and
	// whether the personal apps survived it.
	LeaveRefused []string
	Wipe         string
	PersonalKept bool
}

// androidDecision is the server's eligibility answer for a phone.
type androidDecision struct {
	Outcome  string   `json:"outcome"`
	Reasons  []string `json:"reasons"`
	Warnings []string `json:"warnings"`
	Android  *struct {
		Mode string `json:"mode"`
	} `json:"android"`
	// Requirements are what the policy requires of the phone: the walk
	// checks the policy the phone applies against them.
	Requirements *policy.Requirements `json:"requirements"`
}

// walkAndroid signs the user in once and walks one phone per mode,
// logging each step to out.
func walkAndroid(ctx context.Context, c androidConfig, out io.Writer) ([]androidResult, error) {
	logf := stepLog(out)
	a, err := c.target()
	if err != nil {
		return nil, err
	}
	session, err := a.signIn(ctx, c.acct, logf)
	if err != nil {
		return nil, err
	}
	w := &androidWalk{api: a, session: session, admin: c.adminToken, logf: logf}
	var results []androidResult
	for _, m := range c.modes {
		p := newPhone(m)
		logf("[%s] simulated %s %s (Android %s, API %d, %s-owned), serial %s", m, p.Facts.Manufacturer, p.Facts.Model,
			p.Facts.OSVersion, p.Facts.APILevel, p.Facts.Ownership, p.Serial)
		res, err := w.walk(ctx, p)
		results = append(results, res)
		if err != nil {
			return results, fmt.Errorf("%s: %w", m, err)
		}
	}
	logf("all %d Android phones walked", len(results))
	return results, nil
}

// androidWalk is the state the phones share: the server and the user's
// session.
type androidWalk struct {
	api     *api
	session string
	admin   string
	logf    logFunc
}

func (w *androidWalk) log(p phone, format string, args ...any) {
	w.logf("[%s] %s", p.Mode, fmt.Sprintf(format, args...))
}

func (w *androidWalk) walk(ctx context.Context, p phone) (androidResult, error) {
	res := androidResult{Phone: p}
	if err := w.api.call(ctx, "POST", "/api/agent/eligibility", w.session, p.Facts, &res.Decision); err != nil {
		return res, fmt.Errorf("eligibility: %w", err)
	}
	mode := ""
	if res.Decision.Android != nil {
		mode = res.Decision.Android.Mode
	}
	w.log(p, "eligibility: %s%s%s%s", res.Decision.Outcome, orNone(" in mode ", mode), reasons(res.Decision.Reasons),
		orNone(" warnings: ", strings.Join(res.Decision.Warnings, "; ")))

	var e enrollment
	err := w.api.call(ctx, "POST", "/api/agent/android/enroll", w.session, p.Facts, &e)
	var se *statusError
	if p.Mode == modeLegacyAbove28 {
		if !errors.As(err, &se) || se.Status != http.StatusForbidden {
			return res, fmt.Errorf("a legacy-mode phone above API 28 was not refused: %v (%+v)", err, e)
		}
		res.Refused = se.Body
		w.log(p, "enrollment refused, as it must be above API 28: %s", se.Body)
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("enrollment code: %w", err)
	}
	if e.Decision.Requirements == nil {
		return res, errors.New("the enrollment code came without the requirements of its decision")
	}
	res.Mode, res.Type, res.Channel = e.Mode, e.Type, e.Channel
	w.log(p, "one-time enrollment code: mode %s (%s) over %s, by %s", e.Mode, e.Type, e.Channel, e.Provisioning)

	var d *androidDevice
	if e.Channel == "agent" {
		d, err = w.enrollAgent(ctx, p, e, &res)
	} else {
		d, err = w.enrollManaged(ctx, p, e, &res)
	}
	if err != nil {
		return res, err
	}
	res.DeviceID = d.id
	if err := w.report(ctx, d, &res); err != nil {
		return res, err
	}
	if err := w.store(ctx, d, &res); err != nil {
		return res, err
	}
	if err := w.leave(ctx, d, &res); err != nil {
		return res, err
	}
	return res, nil
}

// enrollment is the server's one-time Android enrollment code, with the
// decision it was issued for.
type enrollment struct {
	Decision     androidDecision `json:"decision"`
	Mode         string          `json:"mode"`
	Type         string          `json:"enrollment_type"`
	Channel      string          `json:"channel"`
	Provisioning string          `json:"provisioning"`
	Token        string          `json:"token"`
	Link         string          `json:"link"`
	QR           qrJSON          `json:"qr"`
}

// androidDevice is an enrolled phone: its server ID, its agent credential,
// and on the Android Management API path its secret with the fake.
type androidDevice struct {
	p          phone
	id         string
	credential string
	amapi      string // the fake's device secret
	agentApps  []string
}

// enrollAgent is the legacy path: the agent opens the enrollment link,
// activates itself as device admin (and the Knox license), enrolls and
// applies the device-admin policy.
func (w *androidWalk) enrollAgent(ctx context.Context, p phone, e enrollment, res *androidResult) (*androidDevice, error) {
	u, err := url.Parse(e.Link)
	if err != nil || !strings.HasPrefix(e.Link, w.api.base+"/android/agent") || u.Query().Get("token") != e.Token {
		return nil, fmt.Errorf("enrollment link %q does not open our agent with the code", redactToken(e.Link))
	}
	w.log(p, "agent opened the enrollment link and activated itself as device admin")
	var enr struct {
		DeviceID    string `json:"device_id"`
		Credential  string `json:"credential"`
		Mode        string `json:"mode"`
		KnoxLicense string `json:"knox_license"`
	}
	if err := w.api.call(ctx, "POST", "/android/agent/enroll", "",
		map[string]string{"token": e.Token, "identifier": p.AndroidID, "serial_number": p.Serial}, &enr); err != nil {
		return nil, fmt.Errorf("agent enrollment: %w", err)
	}
	d := &androidDevice{p: p, id: enr.DeviceID, credential: enr.Credential}
	if p.Mode == modeKnox {
		if enr.KnoxLicense == "" {
			return nil, errors.New("a Knox enrollment came without the org's Knox license")
		}
		res.KnoxLicense = true
		w.log(p, "Knox license activated by the agent (key of %d characters)", len(enr.KnoxLicense))
	}
	w.log(p, "enrolled as %s in mode %s", d.id, enr.Mode)
	if err := w.api.call(ctx, "POST", "/android/agent/enroll", "",
		map[string]string{"token": e.Token, "identifier": p.AndroidID + "-again"}, nil); err == nil {
		return nil, errors.New("the one-time enrollment code enrolled a second device")
	}

	var pol struct {
		Calls       []adminCall `json:"calls"`
		Unsupported []struct {
			Requirement string `json:"requirement"`
			Reason      string `json:"reason"`
		} `json:"unsupported"`
		Apps []struct {
			PackageName string `json:"package_name"`
			Install     string `json:"install"`
		} `json:"apps"`
	}
	if err := w.api.call(ctx, "GET", fmt.Sprintf("/android/agent/policy?api_level=%d", p.Facts.APILevel), d.credential, nil, &pol); err != nil {
		return nil, fmt.Errorf("agent policy: %w", err)
	}
	var calls []string
	for _, c := range pol.Calls {
		calls = append(calls, fmt.Sprintf("%s(%d)", c.Method, c.Value))
	}
	w.log(p, "device-admin policy applied: %s", strings.Join(calls, ", "))
	req := *e.Decision.Requirements
	if err := checkAgentPolicy(pol.Calls, req); err != nil {
		return nil, err
	}
	w.log(p, "device-admin calls match the decision's requirements (%s)", describeAndroidPasscode(req.Passcode))
	for _, a := range pol.Apps {
		res.Offered = append(res.Offered, a.PackageName+" ("+a.Install+")")
		if a.Install == "FORCE_INSTALLED" {
			d.agentApps = append(d.agentApps, a.PackageName) // installed now; offered ones wait for the user
		}
	}
	w.log(p, "apps in the policy: %s", strings.Join(res.Offered, ", "))
	// The legacy modes have no work profile: the policy says so, either in
	// the decision (a warning) or in what the agent cannot enforce.
	res.DataSeparation = "none asked"
	for _, warn := range res.Decision.Warnings {
		if strings.Contains(warn, "work-to-personal") {
			res.DataSeparation = "not enforceable: " + warn
		}
	}
	for _, u := range pol.Unsupported {
		if strings.Contains(u.Requirement, "work-to-personal") {
			res.DataSeparation = "not enforceable: " + u.Reason
		}
	}
	// A legacy mode cannot separate: a decision that still asks for it
	// must say so (the effective requirements usually drop it, with a
	// warning).
	if req.DataSeparation.BlockWorkToPersonal && res.DataSeparation == "none asked" {
		return nil, fmt.Errorf("%w: the decision blocks work-to-personal sharing, and nothing tells the phone it cannot", errPolicyEffect)
	}
	w.log(p, "data separation (work→personal): %s", res.DataSeparation)
	return d, nil
}

// qrJSON is the provisioning JSON a company-owned phone scans at setup.
type qrJSON struct {
	Component string            `json:"android.app.extra.PROVISIONING_DEVICE_ADMIN_COMPONENT_NAME"`
	Checksum  string            `json:"android.app.extra.PROVISIONING_DEVICE_ADMIN_SIGNATURE_CHECKSUM"`
	Download  string            `json:"android.app.extra.PROVISIONING_DEVICE_ADMIN_PACKAGE_DOWNLOAD_LOCATION"`
	Extras    map[string]string `json:"android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE"`
}

// Google's Android Device Policy and the enrollment link it answers.
const (
	cloudDPCComponent = "com.google.android.apps.work.clouddpc/.receivers.CloudDeviceAdminReceiver"
	cloudDPCTokenKey  = "com.google.android.apps.work.clouddpc.EXTRA_ENROLLMENT_TOKEN"
	googleEnrollLink  = "https://enterprise.google.com/android/enroll"
	fakeAMAPI         = "/amapi-fake"
)

// enrollManaged is the Android Management API path: the phone scans the QR
// code (company-owned, at setup) or opens the link (personal, in use);
// Android Device Policy enrolls with the token at the fake, which tells
// the server; the user's agent app in the work profile then gets its
// credential for status reports.
func (w *androidWalk) enrollManaged(ctx context.Context, p phone, e enrollment, res *androidResult) (*androidDevice, error) {
	provisioning, token := "link", ""
	switch e.Provisioning {
	case "qr":
		provisioning = "qr"
		if e.QR.Component != cloudDPCComponent || e.QR.Checksum == "" || !strings.HasPrefix(e.QR.Download, "https://") {
			return nil, fmt.Errorf("provisioning QR code does not install Android Device Policy: %+v", e.QR)
		}
		token = e.QR.Extras[cloudDPCTokenKey]
		w.log(p, "QR code scanned at setup: installs Android Device Policy, enrollment token in the admin extras")
	default:
		u, err := url.Parse(e.Link)
		if err != nil || !strings.HasPrefix(e.Link, googleEnrollLink) {
			return nil, fmt.Errorf("enrollment link %q is not Google's", e.Link)
		}
		token = u.Query().Get("et")
		w.log(p, "enrollment link opened on the phone in use")
	}
	if token == "" || token != e.Token {
		return nil, errors.New("the QR code or link does not carry the enrollment token")
	}
	var en struct {
		Name   string `json:"name"`
		Secret string `json:"secret"`
	}
	body := map[string]any{"token": token, "provisioning": provisioning, "android_version": p.Facts.OSVersion,
		"api_level": p.Facts.APILevel, "storage_bytes": p.StorageBytes,
		"hardware": map[string]string{"brand": p.Brand, "manufacturer": p.Facts.Manufacturer, "model": p.Facts.Model, "serial_number": p.Serial},
		"apps":     []map[string]string{{"package_name": p.PersonalApp, "display_name": "Diary", "version_name": "3.2"}}}
	if err := w.api.call(ctx, "POST", fakeAMAPI+"/enroll", "", body, &en); err != nil {
		return nil, fmt.Errorf("Android Device Policy enrollment at the local Android Management API: %w", err)
	}
	d := &androidDevice{p: p, amapi: en.Secret}
	view, err := w.managedView(ctx, d)
	if err != nil {
		return nil, err
	}
	w.log(p, "Android Device Policy enrolled: %s, %s", view.ManagementMode, view.Ownership)
	if view.Policy == nil {
		return nil, errors.New("the enrolled phone has no policy")
	}
	for _, a := range view.Policy.Applications {
		res.Offered = append(res.Offered, a.PackageName+" ("+a.InstallType+")")
	}
	w.log(p, "managed Google Play apps in the policy: %s", strings.Join(res.Offered, ", "))
	sharing := ""
	if cp := view.Policy.CrossProfilePolicies; cp != nil {
		sharing = cp.CrossProfileDataSharing
		res.DataSeparation = sharing
	} else {
		res.DataSeparation = "no personal profile to separate"
	}
	req := *e.Decision.Requirements
	if err := checkManagedPolicy(view.Policy.PasswordPolicies, sharing, view.ManagementMode != "DEVICE_OWNER", req); err != nil {
		return nil, err
	}
	w.log(p, "data separation (cross-profile): %s; policy matches the decision's requirements (%s)", res.DataSeparation,
		describeAndroidPasscode(req.Passcode))

	// The server enrolled the phone on the fake's notification; the user's
	// device list names it by serial number.
	var mine struct {
		Devices []struct {
			ID           string `json:"id"`
			SerialNumber string `json:"serial_number"`
			State        string `json:"state"`
		} `json:"devices"`
	}
	if err := w.api.call(ctx, "GET", "/api/agent/devices", w.session, nil, &mine); err != nil {
		return nil, fmt.Errorf("my devices: %w", err)
	}
	for _, md := range mine.Devices {
		if md.SerialNumber == p.Serial && md.State == "enrolled" {
			d.id = md.ID
		}
	}
	if d.id == "" {
		return nil, fmt.Errorf("the server did not record the phone with serial %s", p.Serial)
	}
	var cred struct {
		Credential string `json:"credential"`
	}
	if err := w.api.call(ctx, "POST", "/api/agent/android/devices/"+d.id+"/credential", w.session, nil, &cred); err != nil {
		return nil, fmt.Errorf("agent credential: %w", err)
	}
	d.credential = cred.Credential
	w.log(p, "server recorded it as %s; our agent app (in the work profile, or on the fully managed phone) got its status credential", d.id)

	// Android Device Policy reports to Google, and Google notifies the
	// server, which reads the device back: a fully managed phone reports
	// every app, a work profile only its own.
	if err := w.api.call(ctx, "POST", fakeAMAPI+"/report", d.amapi, map[string]any{"apps": []map[string]string{
		{"package_name": p.PersonalApp, "display_name": "Diary", "version_name": "3.2"}}}, nil); err != nil {
		return nil, fmt.Errorf("Android Device Policy status report: %w", err)
	}
	if w.admin != "" {
		dev, _, err := w.adminDevice(ctx, d.id)
		if err != nil {
			return nil, err
		}
		seen := slices.ContainsFunc(dev.Apps, func(a map[string]any) bool { return a["Identifier"] == p.PersonalApp })
		if seen != (view.ManagementMode == "DEVICE_OWNER") {
			return nil, fmt.Errorf("after Google's status report the server lists apps %v (personal app seen: %v)", dev.Apps, seen)
		}
		w.log(p, "Google's status report reached the server: %d apps listed, personal app %s", len(dev.Apps), map[bool]string{true: "listed (fully managed)", false: "not reported (work profile)"}[seen])
	}
	return d, nil
}

// managedView is the fake's view of the phone: what Android Device Policy
// applied and what happened to it.
type managedView struct {
	ManagementMode string `json:"management_mode"`
	Ownership      string `json:"ownership"`
	Policy         *struct {
		PasswordPolicies []amapiPasswordPolicy `json:"passwordPolicies"`
		Applications     []struct {
			PackageName string `json:"packageName"`
			InstallType string `json:"installType"`
		} `json:"applications"`
		CrossProfilePolicies *struct {
			CrossProfileDataSharing string `json:"crossProfileDataSharing"`
		} `json:"crossProfilePolicies"`
	} `json:"policy"`
	Wiped        string `json:"wiped"`
	PersonalApps []struct {
		PackageName string `json:"package_name"`
	} `json:"personal_apps"`
}

func (w *androidWalk) managedView(ctx context.Context, d *androidDevice) (managedView, error) {
	var v managedView
	if err := w.api.call(ctx, "GET", fakeAMAPI+"/device", d.amapi, nil, &v); err != nil {
		return v, fmt.Errorf("phone's view at the local Android Management API: %w", err)
	}
	return v, nil
}

// report sends a status report through the agent protocol, with what the
// privacy contract forbids (IMEI, MAC address, location, app usage), and
// checks that the server kept none of it.
func (w *androidWalk) report(ctx context.Context, d *androidDevice, res *androidResult) error {
	var sr struct {
		Values  int `json:"values"`
		Apps    int `json:"apps"`
		Dropped struct {
			Forbidden int      `json:"forbidden"`
			Keys      []string `json:"forbidden_keys"`
		} `json:"dropped"`
	}
	// Our agent inside a work profile cannot see the personal apps.
	personal := d.p.Mode != modeWorkProfile
	if err := w.api.call(ctx, "POST", "/android/agent/status", d.credential, d.p.statusReport(d.agentApps, personal), &sr); err != nil {
		return fmt.Errorf("status report: %w", err)
	}
	res.Dropped = sr.Dropped.Forbidden
	w.log(d.p, "status reported: %d values and %d apps kept, %d forbidden fields dropped", sr.Values, sr.Apps, sr.Dropped.Forbidden)
	if w.admin == "" {
		return nil
	}
	dev, raw, err := w.adminDevice(ctx, d.id)
	if err != nil {
		return err
	}
	for _, secret := range []string{d.p.IMEI, d.p.WiFiMAC, "52.5208", "launchCount"} {
		if strings.Contains(raw, secret) {
			return fmt.Errorf("the server stored %q, which the privacy contract forbids", secret)
		}
	}
	if dev.Device.Values["serial_number"] != d.p.Serial || dev.Device.Values["os_version"] != d.p.Facts.OSVersion {
		return fmt.Errorf("the admin API shows inventory %v, want serial %s and OS %s", dev.Device.Values, d.p.Serial, d.p.Facts.OSVersion)
	}
	w.log(d.p, "admin API: %s %s, inventory filtered (serial, model, OS kept; no IMEI, MAC or location), %d apps",
		dev.Device.EnrollmentType, dev.Device.State, len(dev.Apps))
	return nil
}

// store lists the user's store for the phone.
func (w *androidWalk) store(ctx context.Context, d *androidDevice, res *androidResult) error {
	var st struct {
		Apps []struct {
			Identifier string `json:"identifier"`
			Kind       string `json:"kind"`
			State      string `json:"state"`
		} `json:"apps"`
	}
	if err := w.api.call(ctx, "GET", "/api/agent/store/devices/"+d.id+"/apps", w.session, nil, &st); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	for _, a := range st.Apps {
		res.StoreApps = append(res.StoreApps, a.Identifier+" ("+a.State+")")
	}
	w.log(d.p, "store lists: %s", strings.Join(res.StoreApps, ", "))
	return nil
}

// adminDeviceView is the admin API's device detail, as far as the walk
// reads it.
type adminDeviceView struct {
	Device struct {
		State          string            `json:"state"`
		EnrollmentType string            `json:"enrollment_type"`
		Values         map[string]string `json:"values"`
	} `json:"device"`
	Apps    []map[string]any `json:"apps"`
	Actions []struct {
		ID          string `json:"uuid"`
		RequestType string `json:"request_type"`
		Pending     bool   `json:"pending"`
	} `json:"actions"`
}

func (w *androidWalk) adminDevice(ctx context.Context, id string) (adminDeviceView, string, error) {
	var v adminDeviceView
	data, err := do(ctx, w.api.client, w.api.base, "GET", "/api/admin/devices/"+id, "", w.admin, nil, maxJSONReply)
	if err != nil {
		return v, "", fmt.Errorf("admin device: %w", err)
	}
	if err := decodeJSON(data, &v); err != nil {
		return v, "", err
	}
	return v, string(data), nil
}

// action asks for a device action: as IT through the admin API when the
// walk has the admin token (and asIT), else as the user.
func (w *androidWalk) action(ctx context.Context, d *androidDevice, name string, asIT bool) error {
	if asIT && w.admin != "" {
		_, err := do(ctx, w.api.client, w.api.base, "POST", "/api/admin/devices/"+d.id+"/"+name, "", w.admin, nil, maxJSONReply)
		return err
	}
	if name == "lock" {
		return nil // only IT locks
	}
	return w.api.call(ctx, "POST", "/api/agent/devices/"+d.id+"/"+name, w.session, nil, nil)
}

// refused asks for an action that must be refused (403), and records it.
func (w *androidWalk) refused(ctx context.Context, d *androidDevice, name string, asIT bool, res *androidResult) error {
	err := w.action(ctx, d, name, asIT)
	var se *statusError
	if !errors.As(err, &se) || se.Status != http.StatusForbidden {
		return fmt.Errorf("%s was not refused: %v", name, err)
	}
	res.LeaveRefused = append(res.LeaveRefused, name)
	w.log(d.p, "%s refused, as it must be: %s", name, se.Body)
	return nil
}
