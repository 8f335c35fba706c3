package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/openomm/omm/android"
)

// phone is one simulated Android phone: the facts its agent app reports,
// and what it would over-share.
type phone struct {
	Mode  androidMode
	Facts androidFacts
	Brand string
	// Serial and AndroidID identify it; IMEI and WiFiMAC are what the
	// privacy contract forbids the server to keep.
	Serial, AndroidID, IMEI, WiFiMAC string
	StorageBytes                     int64
	// PersonalApp was on the phone before enrollment.
	PersonalApp string
}

// androidFacts are the device facts the agent app sends (the server's
// deviceFacts).
type androidFacts struct {
	Platform     string `json:"platform"`
	OSVersion    string `json:"os_version"`
	APILevel     int    `json:"api_level"`
	Model        string `json:"model"`
	Manufacturer string `json:"manufacturer"`
	Ownership    string `json:"ownership"`
	WorkProfile  bool   `json:"work_profile,omitempty"`
	Knox         bool   `json:"knox,omitempty"`
}

// newPhone returns the phone of a mode with fresh identifiers.
func newPhone(m androidMode) phone {
	id := strings.ToUpper(rand.Text()[:10])
	p := phone{Mode: m, Serial: "AND" + id, AndroidID: strings.ToLower(rand.Text()[:16]),
		IMEI: "35" + digits(13), WiFiMAC: "02:00:5e:" + hexPairs(3), StorageBytes: 128e9, PersonalApp: "org.example.personal.diary",
		Facts: androidFacts{Platform: "android"}}
	f := &p.Facts
	switch m {
	case modeWorkProfile: // a personal phone with work profile support
		p.Brand, f.Manufacturer, f.Model, f.OSVersion, f.APILevel, f.Ownership, f.WorkProfile = "google", "Google", "Pixel 8", "14", 34, "personal", true
	case modeFullyManaged: // a company phone set up from the QR code
		p.Brand, f.Manufacturer, f.Model, f.OSVersion, f.APILevel, f.Ownership, f.WorkProfile = "google", "Google", "Pixel 8 Pro", "14", 34, "company", true
	case modeKnox: // a company Samsung without work profile support
		p.Brand, f.Manufacturer, f.Model, f.OSVersion, f.APILevel, f.Ownership, f.Knox = "samsung", "samsung", "SM-A105F", "9", 28, "company", true
	case modeDeviceAdmin: // another company phone on Android 9
		p.Brand, f.Manufacturer, f.Model, f.OSVersion, f.APILevel, f.Ownership = "nokia", "HMD Global", "Nokia 6.1", "9", 28, "company"
	case modeLegacyAbove28: // a Samsung on Android 11 that cannot run a work profile
		p.Brand, f.Manufacturer, f.Model, f.OSVersion, f.APILevel, f.Ownership, f.Knox = "samsung", "samsung", "SM-T295", "11", 30, "company", true
	}
	return p
}

func digits(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return string(b)
}

func hexPairs(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	parts := make([]string, n)
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02x", x)
	}
	return strings.Join(parts, ":")
}

// statusReport is the agent's status in the shape of the Android
// Management API Device resource, with the managed apps, the personal app
// where the agent can see it, and what the privacy filter must drop:
// network identifiers, location and app usage events.
func (p phone) statusReport(managed []string, personal bool) map[string]any {
	apps := []map[string]any{}
	if personal {
		apps = append(apps, map[string]any{"packageName": p.PersonalApp, "displayName": "Diary", "versionName": "3.2", "state": "INSTALLED",
			"events": []map[string]any{{"eventType": "launchCount", "eventCount": 42}}})
	}
	for _, m := range managed {
		apps = append(apps, map[string]any{"packageName": m, "versionName": "1.0", "state": "INSTALLED"})
	}
	return map[string]any{
		"hardwareInfo": map[string]any{"serialNumber": p.Serial, "model": p.Facts.Model, "manufacturer": p.Facts.Manufacturer,
			"brand": p.Brand, "deviceBasebandVersion": "g5123-" + p.IMEI[:4]},
		"softwareInfo":       map[string]any{"androidVersion": p.Facts.OSVersion, "securityPatchLevel": "2026-10-05"},
		"memoryInfo":         map[string]any{"totalInternalStorage": fmt.Sprint(p.StorageBytes)},
		"deviceSettings":     map[string]any{"isDeviceSecure": true, "encryptionStatus": "ACTIVE_PER_USER"},
		"networkInfo":        map[string]any{"imei": p.IMEI, "wifiMacAddress": p.WiFiMAC, "networkOperatorName": "Example Mobile"},
		"lastKnownLocation":  map[string]any{"latitude": 52.5208, "longitude": 13.4094},
		"applicationReports": apps,
	}
}

// leave plays the way out each phone demonstrates:
//
//   - work profile (personal): a factory reset is refused; removing the
//     work data deletes the work profile at Google's side, the personal
//     app stays.
//   - fully managed (company): there is no work data apart from the
//     device, so removing it alone is refused; IT's factory reset wipes it.
//   - Knox (company, the policy allows a reset): the user removes only the
//     work data; the command is pending until the agent removes the managed
//     apps and its device admin, and acknowledges.
//   - native device admin (company): IT locks it, then factory resets it,
//     each pending until the agent acknowledges.
func (w *androidWalk) leave(ctx context.Context, d *androidDevice, res *androidResult) error {
	switch d.p.Mode {
	case modeWorkProfile:
		if err := w.refused(ctx, d, "erase", false, res); err != nil {
			return err
		}
		if err := w.action(ctx, d, "deprovision", false); err != nil {
			return fmt.Errorf("deprovision: %w", err)
		}
		return w.managedGone(ctx, d, res, "WORK_PROFILE_REMOVED", "deprovisioned")
	case modeFullyManaged:
		if err := w.refused(ctx, d, "deprovision", true, res); err != nil {
			return err
		}
		if err := w.action(ctx, d, "erase", true); err != nil {
			return fmt.Errorf("erase: %w", err)
		}
		return w.managedGone(ctx, d, res, "FACTORY_RESET", "wiped")
	case modeKnox:
		if err := w.action(ctx, d, "deprovision", false); err != nil {
			return fmt.Errorf("deprovision: %w", err)
		}
		return w.agentWipe(ctx, d, res, "work_data", "deprovisioned")
	default:
		if w.admin != "" {
			if err := w.action(ctx, d, "lock", true); err != nil {
				return fmt.Errorf("lock: %w", err)
			}
			if err := w.agentCommands(ctx, d, "lock", ""); err != nil {
				return err
			}
		}
		if err := w.action(ctx, d, "erase", true); err != nil {
			return fmt.Errorf("erase: %w", err)
		}
		return w.agentWipe(ctx, d, res, "factory_reset", "wiped")
	}
}

// managedGone checks a wipe on the Android Management API path: the phone
// saw the effect, the server recorded the end state.
func (w *androidWalk) managedGone(ctx context.Context, d *androidDevice, res *androidResult, effect, state string) error {
	v, err := w.managedView(ctx, d)
	if err != nil {
		return err
	}
	if v.Wiped != effect {
		return fmt.Errorf("the phone saw %q, want %s", v.Wiped, effect)
	}
	res.Wipe = v.Wiped
	res.PersonalKept = slices.ContainsFunc(v.PersonalApps, func(a struct {
		PackageName string `json:"package_name"`
	}) bool {
		return a.PackageName == d.p.PersonalApp
	})
	w.log(d.p, "phone: %s; personal app %s", strings.ToLower(strings.ReplaceAll(v.Wiped, "_", " ")), kept(res.PersonalKept))
	return w.finalState(ctx, d, state)
}

func kept(b bool) string {
	if b {
		return "kept"
	}
	return "erased"
}

// commandView is a pending command as the agent sees it.
type commandView struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	Wipe string `json:"wipe"`
}

// agentCommands fetches the agent's pending commands, expects one of kind
// (and wipe kind), carries it out and acknowledges it. With the admin
// token it first checks that IT sees it pending, honestly.
func (w *androidWalk) agentCommands(ctx context.Context, d *androidDevice, kind, wipe string) error {
	want := kind
	if wipe != "" {
		want += " (" + wipe + ")"
	}
	if w.admin != "" {
		dev, _, err := w.adminDevice(ctx, d.id)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(dev.Actions, func(a struct {
			ID          string `json:"uuid"`
			RequestType string `json:"request_type"`
			Pending     bool   `json:"pending"`
		}) bool {
			return a.RequestType == want && a.Pending
		}) {
			return fmt.Errorf("admin API shows actions %+v, want %s pending", dev.Actions, want)
		}
		w.log(d.p, "admin API: %s pending until the phone answers (device %s)", want, dev.Device.State)
	}
	var list struct {
		Commands []commandView `json:"commands"`
	}
	if err := w.api.call(ctx, "GET", "/android/agent/commands", d.credential, nil, &list); err != nil {
		return fmt.Errorf("agent commands: %w", err)
	}
	if len(list.Commands) != 1 || list.Commands[0].Kind != kind || list.Commands[0].Wipe != wipe {
		return fmt.Errorf("agent got commands %+v, want one %s", list.Commands, want)
	}
	c := list.Commands[0]
	switch {
	case wipe == "work_data":
		managed := strings.Join(d.agentApps, ", ")
		if managed == "" {
			managed = "none installed"
		}
		w.log(d.p, "agent removed the managed apps (%s) and accounts and gave up device admin; personal data untouched", managed)
	case wipe == "factory_reset":
		w.log(d.p, "agent factory resets the phone (wipeData)")
	default:
		w.log(d.p, "agent locked the screen (lockNow)")
	}
	var ack map[string]any
	if err := w.api.call(ctx, "POST", "/android/agent/commands/ack", d.credential, map[string]string{"id": c.ID, "status": "done"}, &ack); err != nil {
		return fmt.Errorf("acknowledge: %w", err)
	}
	if w.admin != "" {
		if err := w.auditDone(ctx, c.ID); err != nil {
			return err
		}
		w.log(d.p, "admin API: %s done (audit log)", want)
	}
	return nil
}

// agentWipe lets the agent carry out a wipe and checks the end state; the
// agent's credential no longer works after it.
func (w *androidWalk) agentWipe(ctx context.Context, d *androidDevice, res *androidResult, wipe, state string) error {
	if err := w.agentCommands(ctx, d, "wipe", wipe); err != nil {
		return err
	}
	res.Wipe = wipe
	res.PersonalKept = wipe == "work_data"
	err := w.api.call(ctx, "GET", "/android/agent/commands", d.credential, nil, nil)
	var se *statusError
	if !errors.As(err, &se) || se.Status != http.StatusUnauthorized {
		return fmt.Errorf("the agent credential still works after the wipe: %v", err)
	}
	return w.finalState(ctx, d, state)
}

// finalState checks the server's record of the phone after leaving: in
// the user's device list, and with the admin token in the admin API.
func (w *androidWalk) finalState(ctx context.Context, d *androidDevice, state string) error {
	var mine struct {
		Devices []struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"devices"`
	}
	if err := w.api.call(ctx, "GET", "/api/agent/devices", w.session, nil, &mine); err != nil {
		return fmt.Errorf("my devices: %w", err)
	}
	got := ""
	for _, md := range mine.Devices {
		if md.ID == d.id {
			got = md.State
		}
	}
	if w.admin != "" {
		dev, _, err := w.adminDevice(ctx, d.id)
		if err != nil {
			return err
		}
		if dev.Device.State != got {
			return fmt.Errorf("the admin API says %s, the user's list %s", dev.Device.State, got)
		}
	}
	if got != state {
		return fmt.Errorf("the server shows the phone %q, want %s", got, state)
	}
	w.log(d.p, "server records the phone as %s", got)
	return nil
}

// auditDone finds the audit entry of the command's success.
func (w *androidWalk) auditDone(ctx context.Context, cmdID string) error {
	var page struct {
		Entries []struct {
			Action string `json:"action"`
			Target string `json:"target"`
		} `json:"entries"`
		Next int64 `json:"next"`
	}
	for after, pages := int64(0), 0; pages < 100; pages++ {
		page.Entries, page.Next = nil, 0
		data, err := do(ctx, w.api.client, w.api.base, "GET", fmt.Sprintf("/api/admin/audit?after=%d", after), "", w.admin, nil, maxJSONReply)
		if err != nil {
			return fmt.Errorf("audit log: %w", err)
		}
		if err := decodeJSON(data, &page); err != nil {
			return err
		}
		for _, e := range page.Entries {
			if e.Action == android.ActionCommandPrefix+string(android.StatusDone) && e.Target == "command:"+cmdID {
				return nil
			}
		}
		if page.Next == 0 || page.Next == after {
			break
		}
		after = page.Next
	}
	return fmt.Errorf("the audit log lacks command %s done", cmdID)
}

func decodeJSON(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decoding the answer: %w", err)
	}
	return nil
}

func orNone(prefix, v string) string {
	if v == "" {
		return ""
	}
	return prefix + v
}
