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
	"github.com/openomm/omm/profile"
)

// appleDevice is a simulated iPhone enrolled through the server's own
// endpoints (direct enrollment, SCEP, check-in), talking MDM with its SCEP
// identity as TLS client certificate.
type appleDevice struct {
	id        string // the inventory device ID
	udid      string
	serverURL string
	client    *http.Client
	// scep and mdm are the payloads of the enrollment profile it installed.
	scep *profile.SCEP
	mdm  *profile.MDM
}

// enrollApple enrolls a new iPhone for the signed-in user with agent
// session token and returns it after its TokenUpdate.
func enrollApple(t *testing.T, w *world, token, udid string) *appleDevice {
	t.Helper()
	before := map[string]bool{}
	for _, d := range must[struct{ Devices []deviceView }](t, 200)(w.do(t, "GET", "/api/agent/devices", token, nil)).Devices {
		before[d.ID] = true
	}
	dec := must[decisionView](t, 200)(w.do(t, "POST", "/api/agent/enroll", token,
		enrollRequest{Facts: deviceFacts{Platform: "ios", OSVersion: "17.4"}, Delivery: "direct"}))
	path, _ := strings.CutPrefix(dec.EnrollURL, w.base)
	status, signed := w.do(t, "GET", path, "", nil)
	if status != 200 {
		t.Fatalf("mobileconfig = %d %s", status, signed)
	}
	status, caDER := w.do(t, "GET", "/scep/"+string(demoOrg.ID)+"?operation=GetCACert", "", nil)
	if status != 200 {
		t.Fatalf("GetCACert = %d", status)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	content, _, err := profile.Verify(signed, profile.VerifyOptions{Signer: ca})
	if err != nil {
		t.Fatalf("profile: %v", err)
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
	pem, err := os.ReadFile(filepath.Join(w.dir, "tls", caFile))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	d := &appleDevice{udid: udid, serverURL: mdmPayload.ServerURL, scep: scepPayload, mdm: mdmPayload, client: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: roots, Certificates: []tls.Certificate{{Certificate: [][]byte{identity.Raw}, PrivateKey: key}}}}}}
	if st, out := d.put(t, mdmPayload.CheckInURL, map[string]any{"MessageType": "Authenticate", "Topic": mdmPayload.Topic,
		"ProductName": "iPhone15,2", "SerialNumber": "F2LXK0" + udid[len(udid)-6:]}); st != 200 {
		t.Fatalf("Authenticate = %d %s", st, out)
	}
	if st, out := d.put(t, mdmPayload.CheckInURL, map[string]any{"MessageType": "TokenUpdate", "Topic": mdmPayload.Topic,
		"Token": []byte{1, 2, 3, 4}, "PushMagic": "magic"}); st != 200 {
		t.Fatalf("TokenUpdate = %d %s", st, out)
	}
	for _, dv := range must[struct{ Devices []deviceView }](t, 200)(w.do(t, "GET", "/api/agent/devices", token, nil)).Devices {
		if !before[dv.ID] {
			d.id = dv.ID
		}
	}
	if d.id == "" {
		t.Fatal("the enrolled device is not in the user's list")
	}
	return d
}

func (d *appleDevice) put(t *testing.T, url string, m map[string]any) (int, []byte) {
	t.Helper()
	m["UDID"] = d.udid
	body, err := plist.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "PUT", url, bytes.NewReader(body))
	resp, err := d.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// mdmCommand is a command as the device receives it.
type mdmCommand struct {
	CommandUUID string
	Command     map[string]any
}

func (c mdmCommand) requestType() string { s, _ := c.Command["RequestType"].(string); return s }

// poll sends result (or Idle when nil) to the server URL and returns the
// next command, ok false when there is none.
func (d *appleDevice) poll(t *testing.T, result map[string]any) (mdmCommand, bool) {
	t.Helper()
	if result == nil {
		result = map[string]any{"Status": "Idle"}
	}
	st, out := d.put(t, d.serverURL, result)
	if st != 200 {
		t.Fatalf("server URL = %d %s", st, out)
	}
	if len(out) == 0 {
		return mdmCommand{}, false
	}
	var c mdmCommand
	if err := plist.Unmarshal(out, &c); err != nil || c.CommandUUID == "" {
		t.Fatalf("command %s: %v", out, err)
	}
	return c, true
}

// drain acknowledges every queued command, answering with answer(c) when
// it returns a result, and returns the commands seen.
func (d *appleDevice) drain(t *testing.T, answer func(c mdmCommand) map[string]any) []mdmCommand {
	t.Helper()
	var seen []mdmCommand
	c, ok := d.poll(t, nil)
	for ok {
		seen = append(seen, c)
		if len(seen) > 100 {
			t.Fatal("the queue does not drain")
		}
		var res map[string]any
		if answer != nil {
			res = answer(c)
		}
		if res == nil {
			res = map[string]any{}
		}
		if res["Status"] == nil {
			res["Status"] = "Acknowledged"
		}
		res["CommandUUID"] = c.CommandUUID
		c, ok = d.poll(t, res)
	}
	return seen
}
