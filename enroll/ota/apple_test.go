package ota_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/openomm/omm/enroll/ota"
	"github.com/openomm/omm/internal/cms"
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

// TestGenuinePhase2 verifies a phase 2 body captured from a real iPhone, if
// one has been placed in testdata/genuine-phase2.der (see the package
// documentation): SHA-1, BER, a chain whose intermediates expired.
func TestGenuinePhase2(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "genuine-phase2.der"))
	if err != nil {
		t.Skip("no captured phase 2 body in testdata/genuine-phase2.der; the test-chain devices cover the path")
	}
	sd, err := cms.Parse(body, cms.Limits{MaxSize: ota.MaxBodySize})
	if err != nil {
		t.Fatal(err)
	}
	c := ota.DefaultAppleChain()
	signer, err := sd.Verify(cms.VerifyOptions{VerifyChain: c.Verify})
	if err != nil {
		t.Fatalf("genuine device post refused: %v", err)
	}
	if !bytes.Contains(sd.Content(), []byte("UDID")) {
		t.Errorf("content of %s has no UDID", signer.Subject)
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
