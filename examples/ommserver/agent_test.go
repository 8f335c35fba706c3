package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/openomm/omm/inventory"
)

func TestAgentEligibility(t *testing.T) {
	w := newWorld(t)
	alice := w.agentSignIn(t, "alice")
	carol := w.agentSignIn(t, "carol")

	tests := []struct {
		name, token string
		facts       any
		status      int
		outcome     string
		wantText    string
	}{
		{"employee iPhone must enroll", alice, deviceFacts{Platform: "ios", OSVersion: "17.4"}, 200, "enroll", ""},
		{"employee Android with work profile", alice, deviceFacts{Platform: "android", OSVersion: "14", APILevel: 34, WorkProfile: true}, 200, "enroll", "work_profile"},
		{"employee jailbroken iPhone is refused", alice, deviceFacts{Platform: "ios", OSVersion: "17.4", Compromised: true}, 200, "denied", ""},
		{"employee Mac may enroll", alice, deviceFacts{Platform: "macos", OSVersion: "14.2"}, 200, "not_required", ""},
		{"contractor falls to the default", carol, deviceFacts{Platform: "ios", OSVersion: "17.4"}, 200, "denied", "default"},
		{"unknown platform", alice, deviceFacts{Platform: "windows", OSVersion: "11"}, 400, "", "platform must be"},
		{"missing OS version", alice, deviceFacts{Platform: "ios"}, 400, "", "os_version"},
		{"unknown field", alice, `{"platform":"ios","os_version":"17","wifi_mac":"x"}`, 400, "", "unknown field"},
		{"not JSON", alice, `platform=ios`, 400, "", "invalid request"},
		{"too deep", alice, `{"platform":` + strings.Repeat("[", 50) + strings.Repeat("]", 50) + `}`, 400, "", "nested deeper"},
		{"too large", alice, `{"model":"` + strings.Repeat("x", maxJSONBody) + `"}`, 400, "", "larger than"},
		{"not signed in", "", deviceFacts{Platform: "ios", OSVersion: "17.4"}, 401, "", "invalid_session"},
		{"bogus token", "nope", deviceFacts{Platform: "ios", OSVersion: "17.4"}, 401, "", "invalid_session"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := w.do(t, "POST", "/api/agent/eligibility", tt.token, tt.facts)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			if !strings.Contains(string(body), tt.wantText) {
				t.Errorf("body %s does not mention %q", body, tt.wantText)
			}
			if tt.outcome == "" {
				return
			}
			var dec decisionView
			if err := json.Unmarshal(body, &dec); err != nil {
				t.Fatal(err)
			}
			if string(dec.Outcome) != tt.outcome || len(dec.Reasons) == 0 {
				t.Errorf("decision %+v, want outcome %s with reasons", dec, tt.outcome)
			}
			if dec.Outcome == "enroll" && (dec.Requirements == nil || !dec.Requirements.Passcode.Required) {
				t.Errorf("enroll decision without the passcode requirement: %+v", dec.Requirements)
			}
		})
	}

	t.Run("enroll an iPhone gets a one-time profile URL", func(t *testing.T) {
		dec := must[decisionView](t, 200)(w.do(t, "POST", "/api/agent/enroll", alice, deviceFacts{Platform: "ios", OSVersion: "17.4"}))
		if !strings.HasPrefix(dec.EnrollURL, w.base+"/enroll/"+string(demoOrg.ID)+"/profile?token=") {
			t.Errorf("enroll URL %q", dec.EnrollURL)
		}
	})
	t.Run("a direct profile is signed and served once", func(t *testing.T) {
		dec := must[decisionView](t, 200)(w.do(t, "POST", "/api/agent/enroll", alice,
			enrollRequest{Facts: deviceFacts{Platform: "ios", OSVersion: "17.4"}, Delivery: "direct"}))
		path, ok := strings.CutPrefix(dec.EnrollURL, w.base)
		if !ok || !strings.Contains(path, "/mobileconfig?token=") {
			t.Fatalf("enroll URL %q", dec.EnrollURL)
		}
		status, body := w.do(t, "GET", path, "", nil)
		if status != 200 || len(body) < 1000 {
			t.Fatalf("mobileconfig = %d, %d bytes", status, len(body))
		}
		if status, _ := w.do(t, "GET", path, "", nil); status < 400 || status >= 500 {
			t.Errorf("second use of the token = %d, want a refusal", status)
		}
	})
	t.Run("unknown delivery", func(t *testing.T) {
		if status, body := w.do(t, "POST", "/api/agent/enroll", alice, `{"platform":"ios","os_version":"17.4","delivery":"usb"}`); status != 400 {
			t.Errorf("status %d: %s", status, body)
		}
	})
	t.Run("a denied user cannot start enrollment", func(t *testing.T) {
		status, body := w.do(t, "POST", "/api/agent/enroll", carol, deviceFacts{Platform: "ios", OSVersion: "17.4"})
		if status != http.StatusForbidden {
			t.Errorf("status %d: %s", status, body)
		}
	})
}

func TestAgentDevices(t *testing.T) {
	w := newWorld(t)
	alice := w.agentSignIn(t, "alice")

	list := must[struct{ Devices []deviceView }](t, 200)(w.do(t, "GET", "/api/agent/devices", alice, nil))
	if len(list.Devices) != 1 || list.Devices[0].ID != w.aliceDev {
		t.Fatalf("alice's devices = %+v, want only %s", list.Devices, w.aliceDev)
	}
	rep := must[inventory.Report](t, 200)(w.do(t, "GET", "/api/agent/devices/"+w.aliceDev+"/report", alice, nil))
	if rep.DeviceID != w.aliceDev || len(rep.CanSee) == 0 || len(rep.CannotSee) == 0 || rep.Wipe.FactoryReset {
		t.Errorf("report = %+v", rep)
	}

	// Another user's device, or another org's, is not found for alice.
	for _, id := range []string{w.bobDev, w.otherDev, "no-such-device"} {
		for _, req := range [][2]string{{"GET", "/report"}, {"POST", "/deprovision"}, {"POST", "/erase"}} {
			if status, body := w.do(t, req[0], "/api/agent/devices/"+id+req[1], alice, nil); status != http.StatusNotFound {
				t.Errorf("%s %s%s = %d %s, want 404", req[0], id, req[1], status, body)
			}
		}
	}

	// A personal iPhone cannot be erased, only deprovisioned.
	if status, body := w.do(t, "POST", "/api/agent/devices/"+w.aliceDev+"/erase", alice, nil); status != http.StatusForbidden {
		t.Errorf("erase of a personal device = %d %s, want 403", status, body)
	}
	if status, body := w.do(t, "POST", "/api/agent/devices/"+w.aliceDev+"/deprovision", alice, nil); status != http.StatusAccepted {
		t.Fatalf("deprovision = %d %s", status, body)
	}
	list = must[struct{ Devices []deviceView }](t, 200)(w.do(t, "GET", "/api/agent/devices", alice, nil))
	if list.Devices[0].State != inventory.StateDeprovisioning {
		t.Errorf("state after deprovision = %s", list.Devices[0].State)
	}
}
