package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/micromdm/plist"

	"github.com/openomm/omm/enroll/scep/sceptest"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/profile"
)

// TestAppleEnrollmentEndToEnd plays an Apple device through the server's
// own endpoints: the agent API starts a direct enrollment, the device
// fetches the signed profile, gets its identity from the SCEP CA, checks
// in with it as its TLS client certificate, and fetches its first command.
// It proves the composition: public URL, SCEP, OTA and MDM share one CA,
// TLS asks for client certificates, and the policy profile and inventory
// refresh are queued at enrollment.
func TestAppleEnrollmentEndToEnd(t *testing.T) {
	w := newWorld(t)
	alice := w.agentSignIn(t, "alice")
	org := string(demoOrg.ID)

	dec := must[decisionView](t, 200)(w.do(t, "POST", "/api/agent/enroll", alice,
		enrollRequest{deviceFacts: deviceFacts{Platform: "ios", OSVersion: "17.4"}, Delivery: "direct"}))
	path, _ := strings.CutPrefix(dec.EnrollURL, w.base)
	status, signed := w.do(t, "GET", path, "", nil)
	if status != 200 {
		t.Fatalf("mobileconfig = %d %s", status, signed)
	}

	// The profile is signed by the org's SCEP CA.
	status, caDER := w.do(t, "GET", "/scep/"+org+"?operation=GetCACert", "", nil)
	if status != 200 {
		t.Fatalf("GetCACert = %d", status)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	content, _, err := profile.Verify(signed, profile.VerifyOptions{Signer: ca})
	if err != nil {
		t.Fatalf("profile signature: %v", err)
	}
	prof, err := profile.Decode(content)
	if err != nil {
		t.Fatal(err)
	}
	var scepPayload *profile.SCEP
	var mdmPayload *profile.MDM
	for _, p := range prof.Payloads {
		switch p := p.(type) {
		case *profile.SCEP:
			scepPayload = p
		case *profile.MDM:
			mdmPayload = p
		}
	}
	if scepPayload == nil || mdmPayload == nil {
		t.Fatalf("profile payloads %T", prof.Payloads)
	}
	if scepPayload.URL != w.base+"/scep/"+org || mdmPayload.CheckInURL != w.base+"/mdm/"+org+"/checkin" ||
		mdmPayload.ServerURL != w.base+"/mdm/"+org+"/server" || mdmPayload.Topic != defaultTopic {
		t.Errorf("URLs: SCEP %s, check-in %s, server %s, topic %s", scepPayload.URL, mdmPayload.CheckInURL, mdmPayload.ServerURL, mdmPayload.Topic)
	}

	// SCEP: the device's identity.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	msg, pending, err := sceptest.Request{Key: key, Challenge: scepPayload.Challenge, Subject: pkix.Name{CommonName: "device"}}.Build(ca)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "POST", scepPayload.URL+"?operation=PKIOperation", bytes.NewReader(msg))
	req.Header.Set("Content-Type", "application/x-pki-message")
	resp, err := w.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	reply, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	identity, err := pending.Read(reply, ca)
	if err != nil {
		t.Fatalf("SCEP (status %d): %v", resp.StatusCode, err)
	}

	// Check in with the identity as the TLS client certificate.
	pem, err := os.ReadFile(filepath.Join(w.dir, "tls", caFile))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	device := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots,
		Certificates: []tls.Certificate{{Certificate: [][]byte{identity.Raw}, PrivateKey: key}}}}}
	const udid = "00008110-000A1D2E3F40801E"
	put := func(url string, m map[string]any) (int, []byte) {
		t.Helper()
		m["UDID"] = udid
		body, err := plist.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(t.Context(), "PUT", url, bytes.NewReader(body))
		resp, err := device.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}
	if st, out := put(mdmPayload.CheckInURL, map[string]any{"MessageType": "Authenticate", "Topic": mdmPayload.Topic,
		"ProductName": "iPhone15,2", "SerialNumber": "F2LXK0ABCDEF"}); st != 200 {
		t.Fatalf("Authenticate = %d %s", st, out)
	}
	if st, out := put(mdmPayload.CheckInURL, map[string]any{"MessageType": "TokenUpdate", "Topic": mdmPayload.Topic,
		"Token": []byte{1, 2, 3, 4}, "PushMagic": "magic"}); st != 200 {
		t.Fatalf("TokenUpdate = %d %s", st, out)
	}

	// The device is alice's and enrolled; its first commands are queued.
	mine := must[struct{ Devices []deviceView }](t, 200)(w.do(t, "GET", "/api/agent/devices", alice, nil))
	var enrolled string
	for _, d := range mine.Devices {
		if d.ID != w.aliceDev {
			enrolled = d.ID
			if d.State != inventory.StateEnrolled || d.Platform != inventory.PlatformIOS {
				t.Errorf("new device %+v", d)
			}
		}
	}
	if enrolled == "" {
		t.Fatalf("alice's devices %+v lack the new one", mine.Devices)
	}
	detail := must[struct{ Actions []actionView }](t, 200)(w.do(t, "GET", "/api/admin/devices/"+enrolled, w.first.adminToken, nil))
	queued := map[string]bool{}
	for _, a := range detail.Actions {
		queued[a.RequestType] = a.Pending
	}
	for _, want := range []string{"InstallProfile", "DeviceInformation", "SecurityInfo"} {
		if !queued[want] {
			t.Errorf("pending actions %v lack %s", queued, want)
		}
	}

	// The device fetches a command and acknowledges it.
	st, out := put(mdmPayload.ServerURL, map[string]any{"Status": "Idle"})
	var cmd struct {
		CommandUUID string
		Command     struct{ RequestType string }
	}
	if st != 200 || plist.Unmarshal(out, &cmd) != nil || cmd.CommandUUID == "" {
		t.Fatalf("first command = %d %s", st, out)
	}
	if st, out := put(mdmPayload.ServerURL, map[string]any{"Status": "Acknowledged", "CommandUUID": cmd.CommandUUID}); st != 200 {
		t.Fatalf("acknowledge = %d %s", st, out)
	}
	detail = must[struct{ Actions []actionView }](t, 200)(w.do(t, "GET", "/api/admin/devices/"+enrolled, w.first.adminToken, nil))
	for _, a := range detail.Actions {
		if a.UUID == cmd.CommandUUID && (a.Pending || a.Status != "Acknowledged") {
			t.Errorf("acknowledged %s still shows %+v", cmd.Command.RequestType, a)
		}
	}

	// A request without the identity is refused, never with 401.
	if st, _ := w.do(t, "PUT", "/mdm/"+org+"/server", "", "<plist version=\"1.0\"><dict><key>UDID</key><string>"+udid+"</string><key>Status</key><string>Idle</string></dict></plist>"); st != 400 {
		t.Errorf("anonymous command poll = %d, want 400", st)
	}
}
