package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/apns/apnstest"
	"github.com/openomm/omm/storage/sqlite"
)

// TestPushToFakeAPNs runs the server with a provider token against the
// apnstest fake and checks that a device action wakes the device.
func TestPushToFakeAPNs(t *testing.T) {
	w := newWorld(t)
	w.stop()
	const topic = "com.apple.mgmt.External.test"

	// Give alice's device the push token a TokenUpdate would have stored.
	s, err := sqlite.Open(t.Context(), filepath.Join(w.dir, "omm.db"), sqlite.WithLogger(discardLog()))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := s.StartEnrollment(t.Context(), enroll.Enrollment{Org: demoOrg.ID, Device: w.aliceDev, Channel: "UDID-ALICE", Topic: topic, Updated: now}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.UpdateToken(t.Context(), demoOrg.ID, w.aliceDev, enroll.TokenUpdate{Topic: topic, Token: []byte{0xab, 0xcd}, PushMagic: "magic-alice", At: now}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	fake := apnstest.NewServer()
	defer fake.Close()
	tmp := t.TempDir()
	roots := filepath.Join(tmp, "apns-roots.pem")
	writeServerCert(t, fake.URL(), roots)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	p8 := filepath.Join(tmp, "AuthKey.p8")
	if err := os.WriteFile(p8, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}

	ts := startServerArgs(t, w.dir, "-postgres", "", "-apns-token-key", p8, "-apns-key-id", "KEYID12345",
		"-apns-team-id", "TEAMID1234", "-apns-topic", topic, "-apns-endpoint", fake.URL(), "-apns-roots", roots)
	w.testServer = ts
	if !strings.Contains(ts.out.String(), `"msg":"push enabled","auth":"provider token"`) {
		t.Errorf("start-up log does not say push is enabled with a provider token:\n%s", ts.out)
	}
	pushed := make(chan apnstest.Push, 10)
	fake.OnPush(func(p apnstest.Push) { pushed <- p })
	if status, body := ts.do(t, "POST", "/api/admin/devices/"+w.aliceDev+"/lock", w.first.adminToken, nil); status != 202 {
		t.Fatalf("lock = %d %s", status, body)
	}
	select {
	case p := <-pushed:
		if p.PushMagic != "magic-alice" || p.Topic != topic || p.Token != "abcd" || !strings.HasPrefix(p.Authorization, "bearer ") {
			t.Errorf("push = %+v", p)
		}
	case <-t.Context().Done():
		t.Fatal("no push arrived")
	}
}

// writeServerCert saves the self-signed certificate the server at rawURL
// presents, as the roots to trust it with.
func writeServerCert(t *testing.T, rawURL, path string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", u.Host, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}) // only to read its certificate
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	certs := conn.ConnectionState().PeerCertificates
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}
