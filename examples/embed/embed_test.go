package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// acmeServer is a running Acme with what its start printed.
type acmeServer struct {
	base, certFile string
	passwords      map[string]string
	client         *http.Client
}

var (
	readyLine    = regexp.MustCompile(`^acme ready on (https://\S+)/, `)
	passwordLine = regexp.MustCompile(`^\s+user (\w+) password (\S+)$`)
)

// startAcme runs the product in-process on a free loopback port, in a
// temporary directory, and stops it when the test ends.
func startAcme(t *testing.T) *acmeServer {
	t.Helper()
	dir := t.TempDir()
	s := &acmeServer{certFile: filepath.Join(dir, "acme-cert.pem"), passwords: map[string]string{}}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, "127.0.0.1:0", filepath.Join(dir, "acme.db"), s.certFile, true, pw)
		pw.CloseWithError(fmt.Errorf("acme stopped: %v", err))
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("acme: %v", err)
		}
	})
	sc := bufio.NewScanner(pr)
	for s.base == "" && sc.Scan() {
		if m := readyLine.FindStringSubmatch(sc.Text()); m != nil {
			s.base = m[1]
		} else if m := passwordLine.FindStringSubmatch(sc.Text()); m != nil {
			s.passwords[m[1]] = m[2]
		}
	}
	if s.base == "" || len(s.passwords) != 3 {
		t.Fatalf("acme did not start: %v (passwords for %d users)", sc.Err(), len(s.passwords))
	}
	go io.Copy(io.Discard, pr)
	pem, err := os.ReadFile(s.certFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	s.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	return s
}

// call sends a JSON request with a bearer token and decodes the answer
// into out (when not nil), returning the status.
func (s *acmeServer) call(t *testing.T, method, path, token string, in, out any) int {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, s.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
	return resp.StatusCode
}

// login signs a user in with Acme's own login API.
func (s *acmeServer) login(t *testing.T, user string) string {
	t.Helper()
	var out struct{ Token string }
	if st := s.call(t, "POST", "/login", "", map[string]string{"username": user, "password": s.passwords[user]}, &out); st != 200 || out.Token == "" {
		t.Fatalf("login %s: %d", user, st)
	}
	return out.Token
}

// devicesim is examples/devicesim, built once for the test binary.
func devicesim(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "devicesim")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/openomm/omm/examples/devicesim").CombinedOutput(); err != nil {
		t.Fatalf("building devicesim: %v\n%s", err, out)
	}
	return bin
}

// walk runs devicesim with args and returns its log.
func walk(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("devicesim %s: %v\n%s", args[0], err, out)
	}
	return string(out)
}

// adminDevice is the admin API's device detail, as far as the test reads it.
type adminDevice struct {
	Device struct {
		ID           string            `json:"id"`
		State        string            `json:"state"`
		SerialNumber string            `json:"serial_number"`
		Values       map[string]string `json:"values"`
	} `json:"device"`
	Actions []struct {
		RequestType string `json:"request_type"`
		Pending     bool   `json:"pending"`
	} `json:"actions"`
	Policy *struct {
		InPolicy    bool   `json:"in_policy"`
		OutOfPolicy string `json:"out_of_policy"`
	} `json:"policy"`
}

// TestEmbed enrolls a simulated iPhone and a simulated Android phone in
// Acme through the /device-mgmt/ prefix with Acme's own sessions, queues
// a command through the admin API, reads the privacy-filtered inventory,
// and changes the user's groups and status in Acme: the SDK re-applies
// the policy (the device goes out of policy and back in) and, for a
// deactivated user, deprovisions the device.
func TestEmbed(t *testing.T) {
	s := startAcme(t)
	bin := devicesim(t)
	ada, bob := s.login(t, "ada"), s.login(t, "bob")

	// The SDK is under the prefix only, with Acme's sign-in instead of
	// its own, and its admin API behind Acme's admin check.
	for _, c := range []struct {
		method, path, token string
		want                int
	}{
		{"GET", "/scep/org_acme?operation=GetCACaps", "", 404},
		{"GET", "/device-mgmt/scep/org_acme?operation=GetCACaps", "", 200},
		{"POST", "/device-mgmt/api/agent/auth/signin", "", 404},
		{"GET", "/device-mgmt/api/agent/devices", "", 401},
		{"GET", "/device-mgmt/api/agent/devices", bob, 200},
		{"GET", "/device-mgmt/api/admin/devices", bob, 401},
		{"GET", "/device-mgmt/api/admin/devices", ada, 200},
		{"POST", "/login", "", 401},
	} {
		if got := s.call(t, c.method, c.path, c.token, nil, nil); got != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, got, c.want)
		}
	}

	// Acme's admin puts an app in the store for staff.
	var app struct{ ID string }
	if st := s.call(t, "POST", "/device-mgmt/api/admin/apps", ada, map[string]any{"kind": "ios_in_house", "identifier": "com.acme.expenses",
		"manifest_url": "https://apps.acme.example/expenses/manifest.plist", "bundle_version": "1.0", "name": "Acme Expenses"}, &app); st != 201 {
		t.Fatalf("create app: %d", st)
	}
	if st := s.call(t, "POST", "/device-mgmt/api/admin/apps/"+app.ID+"/assignments", ada, map[string]string{"group": "staff", "mode": "available"}, nil); st != 201 {
		t.Fatalf("assign app: %d", st)
	}

	server := s.base + "/device-mgmt"
	log := walk(t, bin, "ios", "-server", server, "-ca", s.certFile, "-agent-token", bob, "-admin-token", ada,
		"-serial", "SIMACME0001", "-store-app", "", "-keep-enrolled")
	for _, want := range []string{"-agent-token", "OTA phase 3", "TokenUpdate accepted", "policy profile received",
		"passcode min length 8, max failed attempts 8, auto-lock 2 min; managed→unmanaged open-in blocked",
		"Acme Expenses is Installed (Open)", "left enrolled"} {
		if !strings.Contains(log, want) {
			t.Errorf("iPhone walk log lacks %q:\n%s", want, log)
		}
	}
	log = walk(t, bin, "android", "-server", server, "-ca", s.certFile, "-agent-token", bob, "-admin-token", ada, "-modes", "device_admin")
	for _, want := range []string{"device-admin calls match the decision's requirements (passcode min length 8, wipe after 8 failures)",
		"inventory filtered", "server records the phone as wiped"} {
		if !strings.Contains(log, want) {
			t.Errorf("Android walk log lacks %q:\n%s", want, log)
		}
	}

	// The admin API lists both; the iPhone is still enrolled.
	var list struct {
		Devices []struct {
			ID, Platform, State string
			SerialNumber        string `json:"serial_number"`
		}
	}
	s.call(t, "GET", "/device-mgmt/api/admin/devices", ada, nil, &list)
	id := ""
	platforms := map[string]string{}
	for _, d := range list.Devices {
		platforms[d.Platform] = d.State
		if d.SerialNumber == "SIMACME0001" {
			id = d.ID
		}
	}
	if id == "" || platforms["ios"] != "enrolled" || platforms["android"] != "wiped" {
		t.Fatalf("devices %+v", list.Devices)
	}

	// A command queued through the admin API waits for the device.
	if st := s.call(t, "POST", "/device-mgmt/api/admin/devices/"+id+"/lock", ada, nil, nil); st != 202 {
		t.Fatalf("lock: %d", st)
	}
	var d adminDevice
	raw := s.device(t, ada, id, &d)
	if !pending(d, "DeviceLock") {
		t.Errorf("actions %+v: want DeviceLock pending", d.Actions)
	}
	// The inventory is privacy-filtered: what the contract allows is
	// there, what the simulator over-shared (IMEI, MAC addresses, the
	// phone's own number) is not.
	if d.Device.Values["serial_number"] != "SIMACME0001" || d.Device.Values["device_name"] == "" || d.Device.Values["os_version"] == "" {
		t.Errorf("inventory %v lacks serial, name or OS version", d.Device.Values)
	}
	for _, forbidden := range []*regexp.Regexp{regexp.MustCompile(`"35\d{13}"`), regexp.MustCompile(`a4:83:e7:`),
		regexp.MustCompile(`555 0100`), regexp.MustCompile(`(?i)"imei"`)} {
		if forbidden.MatchString(raw) {
			t.Errorf("the stored inventory matches %s, which the privacy contract forbids:\n%s", forbidden, raw)
		}
	}
	if d.Policy != nil && !d.Policy.InPolicy { // nil until a re-application records one
		t.Fatalf("compliance %+v: want in policy", d.Policy)
	}

	// Acme moves bob to the contractors: no policy admits him now, so the
	// device is out of policy (enrolled still: a policy change never
	// deprovisions). Back in staff, it is in policy again.
	s.setUser(t, ada, `{"groups":["contractors"],"active":true}`)
	s.device(t, ada, id, &d)
	if d.Policy == nil || d.Policy.InPolicy || d.Policy.OutOfPolicy == "" || d.Device.State != "enrolled" {
		t.Errorf("after leaving staff: %+v, state %s; want out of policy, enrolled", d.Policy, d.Device.State)
	}
	s.setUser(t, ada, `{"groups":["staff"],"active":true}`)
	s.device(t, ada, id, &d)
	if d.Policy == nil || !d.Policy.InPolicy {
		t.Errorf("back in staff: %+v, want in policy", d.Policy)
	}

	// Acme deactivates bob: his session no longer works, and the SDK
	// takes the organization's data back from his device.
	s.setUser(t, ada, `{"groups":["staff"],"active":false}`)
	if st := s.call(t, "GET", "/device-mgmt/api/agent/devices", bob, nil, nil); st != 401 {
		t.Errorf("a deactivated user's session: %d", st)
	}
	s.device(t, ada, id, &d)
	if d.Device.State != "deprovisioning" || !pending(d, "RemoveProfile") {
		t.Errorf("after deactivation: state %s, actions %+v; want deprovisioning with RemoveProfile pending", d.Device.State, d.Actions)
	}
}

func (s *acmeServer) device(t *testing.T, token, id string, d *adminDevice) string {
	t.Helper()
	*d = adminDevice{}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", s.base+"/device-mgmt/api/admin/devices/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(data, d); err != nil || resp.StatusCode != 200 {
		t.Fatalf("device %s: %d %v", id, resp.StatusCode, err)
	}
	return string(data)
}

// setUser changes bob in Acme as its admin.
func (s *acmeServer) setUser(t *testing.T, admin, body string) {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	if st := s.call(t, "PUT", "/admin/users/u_bob", admin, v, nil); st != 204 {
		t.Fatalf("set user: %d", st)
	}
}

func pending(d adminDevice, requestType string) bool {
	for _, a := range d.Actions {
		if a.RequestType == requestType && a.Pending {
			return true
		}
	}
	return false
}
