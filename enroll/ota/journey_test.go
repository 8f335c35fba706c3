package ota_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/micromdm/plist"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/apns"
	"github.com/openomm/omm/enroll/apns/apnstest"
	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/internal/cms"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/profile"
)

// TestAppleJourney is the whole Apple path: OTA phases 1–3 with SCEP, then
// the MDM identity authenticates, sends its push token, is woken through
// (fake) APNs, and answers its first commands — the policy profile and the
// inventory — with Acknowledged, NotNow and Error.
func TestAppleJourney(t *testing.T) {
	f := newFixture(t)
	dev := newDevice(t, "00008110-000A1D2E3F40801E")
	session, otaCert := f.toIdentity(t, dev, "alice", deviceKey(t, 2))
	resp, err := f.ota.Post(t.Context(), f.org, session, phase3Body(t, dev, otaCert, deviceKey(t, 2)))
	if err != nil {
		t.Fatal(err)
	}
	mdmProfile, err := profile.Decode(f.verified(t, resp))
	if err != nil {
		t.Fatal(err)
	}
	if err := mdmProfile.Decrypt(otaCert, deviceKey(t, 2)); err != nil {
		t.Fatal(err)
	}
	if mdmProfile.Identifier != enroll.MDMProfileIdentifier(f.org) {
		t.Errorf("MDM profile identifier %q, deprovisioning removes %q", mdmProfile.Identifier, enroll.MDMProfileIdentifier(f.org))
	}
	mdmKey := deviceKey(t, 3)
	mdmCert := f.getCert(t, scepPayload(t, mdmProfile).Challenge, mdmKey)

	// The MDM service, waking devices through a fake APNs.
	fake := apnstest.NewServer()
	defer fake.Close()
	push, err := apns.New(topic, apns.WithCertificate(pushCertificate(t)), apns.WithEndpoint(fake.URL()), apns.WithRootCAs(fake.RootCAs()))
	if err != nil {
		t.Fatal(err)
	}
	defer push.Close()
	inv := inventory.New(f.store, inventory.WithClock(f.clock.Now), inventory.WithLogger(quiet))
	pusher := checkin.NewPusher(f.store, push, checkin.WithPushLogger(quiet))
	svc := checkin.New(f.store, checkin.Inventory{Service: inv, Store: f.store}, f.scep,
		checkin.WithClock(f.clock.Now), checkin.WithLogger(quiet), checkin.WithProfiles(f.ota), checkin.WithWaker(pusher))

	send := func(connect bool, msg map[string]any) []byte {
		t.Helper()
		msg["UDID"] = dev.UDID
		body, err := plist.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := cms.SignDetached(body, mdmKey, mdmCert, nil)
		if err != nil {
			t.Fatal(err)
		}
		proof := checkin.Proof{Signature: b64(sig)}
		var out []byte
		if connect {
			out, err = svc.Connect(t.Context(), f.org, proof, body)
		} else {
			out, err = svc.CheckIn(t.Context(), f.org, proof, body)
		}
		if err != nil {
			t.Fatalf("%v: %v", msg, err)
		}
		return out
	}
	send(false, map[string]any{"MessageType": "Authenticate", "Topic": topic, "ProductName": "iPhone15,2", "SerialNumber": "F2LXK0ABCDEF"})
	send(false, map[string]any{"MessageType": "TokenUpdate", "Topic": topic, "Token": []byte{0xab, 0xcd}, "PushMagic": "magic-1"})

	pushes := fake.Pushes()
	if len(pushes) != 1 || pushes[0].Token != hex.EncodeToString([]byte{0xab, 0xcd}) || pushes[0].PushMagic != "magic-1" {
		t.Fatalf("APNs pushes %+v", pushes)
	}
	rec, err := f.store.DeviceByIdentifier(t.Context(), f.org, dev.UDID)
	if err != nil || rec.State != inventory.StateEnrolled || rec.UserID != "alice" {
		t.Fatalf("device %+v, %v", rec, err)
	}

	// The device answers: the policy profile first, then the inventory;
	// one NotNow and one Error on the way.
	var seen []string
	out := send(true, map[string]any{"Status": "Idle"})
	for i := 0; out != nil; i++ {
		var cmd struct {
			CommandUUID string
			Command     map[string]any
		}
		if err := plist.Unmarshal(out, &cmd); err != nil {
			t.Fatal(err)
		}
		rt, _ := cmd.Command["RequestType"].(string)
		seen = append(seen, rt)
		status := "Acknowledged"
		switch {
		case rt == "SecurityInfo" && !slices.Contains(seen[:len(seen)-1], "SecurityInfo"):
			status = "NotNow"
		case rt == "ProfileList":
			status = "Error"
		}
		reply := map[string]any{"Status": status, "CommandUUID": cmd.CommandUUID}
		if rt == "DeviceInformation" && status == "Acknowledged" {
			reply["QueryResponses"] = map[string]any{"DeviceName": "Alice's iPhone", "WiFiMAC": "aa:bb:cc:dd:ee:ff"}
		}
		out = send(true, reply)
		if i > 20 {
			t.Fatal("the queue never empties")
		}
	}
	t.Logf("commands delivered: %v", seen)
	if seen[0] != "InstallProfile" {
		t.Errorf("first command %s, want the policy profile", seen[0])
	}
	// The NotNow command comes back on the next connection.
	out = send(true, map[string]any{"Status": "Idle"})
	var again struct{ Command map[string]any }
	if err := plist.Unmarshal(out, &again); err != nil || again.Command["RequestType"] != "SecurityInfo" {
		t.Fatalf("next connection got %v, want the NotNow SecurityInfo", again.Command["RequestType"])
	}
	values, _ := f.store.DeviceValues(t.Context(), f.org, rec.ID)
	for _, v := range values {
		if v.Value == "aa:bb:cc:dd:ee:ff" {
			t.Errorf("the Wi-Fi MAC was stored as %s", v.Key)
		}
	}
	actions, _ := svc.Actions(t.Context(), f.org, rec.ID, 0)
	statuses := map[string]enroll.CommandStatus{}
	for _, a := range actions {
		statuses[a.RequestType] = a.Status
	}
	if statuses["ProfileList"] != enroll.StatusError || statuses["InstallProfile"] != enroll.StatusAcknowledged || statuses["SecurityInfo"] != enroll.StatusNotNow {
		t.Errorf("command states %v", statuses)
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// pushCertificate is a stand-in MDM push certificate for the fake APNs.
func pushCertificate(t testing.TB) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "APSP:" + topic},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
