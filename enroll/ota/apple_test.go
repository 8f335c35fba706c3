package ota_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/openomm/omm/enroll/ota"
	"github.com/openomm/omm/enroll/ota/otatest"
	"github.com/openomm/omm/internal/cms"
	"github.com/openomm/omm/inventory"
)

func TestDefaultAppleChain(t *testing.T) {
	c := ota.DefaultAppleChain()
	ca := c.DeviceCA()
	if ca.Subject.CommonName != "Apple iPhone Device CA" || ca.SignatureAlgorithm != x509.SHA1WithRSA {
		t.Errorf("device CA %q signed with %v", ca.Subject.CommonName, ca.SignatureAlgorithm)
	}
	// Go's own verifier refuses this chain (SHA-1, expired), which is why
	// the walk is written by hand.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(mustRead(t, "apple_iphone_device_ca.pem"))
	if _, err := ca.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: t0}); err == nil {
		t.Error("x509.Verify accepts Apple's expired chain: the premise of the hand-written walk changed")
	}
	// The embedded copy is Apple's published chain, byte for byte.
	shared := filepath.Join("..", "..", "..", "shared", "apple-ca", "Apple_iPhone_Device_CA_Fullchain.pem")
	if b, err := os.ReadFile(shared); err == nil && !bytes.Equal(b, mustRead(t, "apple_iphone_device_ca.pem")) {
		t.Error("embedded Apple chain differs from ../shared/apple-ca")
	}
	// A device of the test chain is no Apple device.
	dev := newDevice(t, "00008110-000A1D2E3F40801E")
	if err := c.Verify(dev.Cert, dev.Chain); !errors.Is(err, ota.ErrAppleChain) {
		t.Errorf("test device against Apple's chain: %v", err)
	}
	if err := c.Verify(ca, nil); !errors.Is(err, ota.ErrAppleChain) {
		t.Errorf("a CA as signer: %v", err)
	}
}

func TestNewAppleChainRejects(t *testing.T) {
	good := appleChain(t).PEM
	blocks := bytes.SplitAfter(good, []byte("-----END CERTIFICATE-----\n"))
	for name, bundle := range map[string][]byte{
		"empty":           nil,
		"one certificate": blocks[0],
		"no root":         append(append([]byte{}, blocks[0]...), blocks[1]...),
		"foreign root":    append(append(append([]byte{}, blocks[0]...), blocks[1]...), mustRead(t, "apple_iphone_device_ca.pem")...),
	} {
		if _, err := ota.NewAppleChain(bundle); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ota.NewAppleChain(good); err != nil {
		t.Errorf("test chain: %v", err)
	}
}

// Environment of TestGenuinePhase2.
const (
	// genuineEnv names a file holding a phase 2 body captured from a real
	// Apple device (the raw PKCS #7 it posted).
	genuineEnv = "OMM_GENUINE_PHASE2"
	// genuineAtEnv optionally gives the time (RFC 3339) to check the
	// device certificate's validity at, for a capture older than its
	// certificate; the current time otherwise.
	genuineAtEnv = "OMM_GENUINE_PHASE2_AT"
)

// TestGenuinePhase2 verifies a phase 2 body captured from a real Apple
// device against Apple's own chain (SHA-1, BER, intermediates long
// expired), and that tampered and forged copies of it are refused. It is
// opt-in: captures carry a device's UDID and serial number and are not
// kept in the repository. Run it with
//
//	OMM_GENUINE_PHASE2=/path/to/capture.der go test -run TestGenuinePhase2 ./enroll/ota
func TestGenuinePhase2(t *testing.T) {
	path := os.Getenv(genuineEnv)
	if path == "" {
		t.Skipf("opt-in: set %s to a captured phase 2 body (and %s to its capture time if its device certificate has expired since)", genuineEnv, genuineAtEnv)
	}
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	opts := ota.Phase2Options{}
	if at := os.Getenv(genuineAtEnv); at != "" {
		if opts.Now, err = time.Parse(time.RFC3339, at); err != nil {
			t.Fatalf("%s: %v", genuineAtEnv, err)
		}
	}
	p, err := ota.VerifyPhase2(body, opts)
	if err != nil {
		t.Fatalf("genuine device post refused: %v", err)
	}
	apple := ota.DefaultAppleChain()
	if p.UDID == "" || len(p.Chain) != 1+len(apple.Chain()) || !p.Chain[1].Equal(apple.DeviceCA()) || !p.Signer.Equal(p.Chain[0]) {
		t.Errorf("UDID %q, chain %v", p.UDID, subjects(p.Chain))
	}
	requested := inventory.OTADeviceAttributes()
	for k := range p.Attributes {
		if a, ok := inventory.AttributeFor(k); !ok || !slices.Contains(requested, a.OTA) {
			t.Errorf("attribute %s kept, which the contract does not request", k)
		}
	}
	// Names, algorithms and counts only: the values are the device's.
	t.Logf("signer %q (%v), signature %v, attributes %v, %d dropped, challenge %v",
		p.Signer.Issuer.CommonName, p.Signer.SignatureAlgorithm, p.SignatureAlgorithm, slices.Sorted(maps.Keys(p.Attributes)), p.Dropped, p.HasChallenge)

	// Tampered: one byte of the signed attributes changed.
	i := bytes.Index(body, []byte("<plist"))
	if i < 0 {
		t.Fatal("no plist content in the capture")
	}
	tampered := bytes.Clone(body)
	tampered[i+1] ^= 0x20 // "<Plist"
	if _, err := ota.VerifyPhase2(tampered, opts); !errors.Is(err, ota.ErrSignature) {
		t.Errorf("tampered copy: %v, want ErrSignature", err)
	}
	// Forged: the same attributes signed by a look-alike device, whose
	// certificate names the same UDID but was not issued by Apple.
	sd, err := cms.Parse(body, cms.Limits{MaxSize: ota.MaxBodySize})
	if err != nil {
		t.Fatal(err)
	}
	forger, err := appleChain(t).NewDevice(p.UDID)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := otatest.SignBER(sd.Content(), forger.Key, forger.Cert, forger.Chain)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ota.VerifyPhase2(forged, opts); !errors.Is(err, ota.ErrSignature) || !errors.Is(err, ota.ErrAppleChain) {
		t.Errorf("copy signed by a look-alike device: %v, want ErrSignature and ErrAppleChain", err)
	}
	// Expired: the same body checked after its certificate ended.
	late := opts
	late.Now = p.Signer.NotAfter.Add(ota.DeviceCertificateClockSkew + time.Hour)
	if _, err := ota.VerifyPhase2(body, late); !errors.Is(err, ota.ErrDeviceCertificateValidity) {
		t.Errorf("checked after the device certificate expired: %v, want ErrDeviceCertificateValidity", err)
	}
}

func mustRead(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
