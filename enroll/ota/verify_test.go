package ota_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/openomm/omm/enroll/ota"
	"github.com/openomm/omm/enroll/ota/otatest"
	"github.com/openomm/omm/internal/cms"
	"github.com/openomm/omm/inventory"
)

// TestVerifyPhase2 checks a captured phase 2 body outside a session: what
// it returns for a genuine post (played by the test chain), and that it
// refuses what Post refuses.
func TestVerifyPhase2(t *testing.T) {
	chain, err := ota.NewAppleChain(appleChain(t).PEM)
	if err != nil {
		t.Fatal(err)
	}
	dev := newDevice(t, "00008110-000A1D2E3F40801E")
	good, err := dev.Phase2("spent-challenge", attrs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ota.VerifyPhase2(good, ota.Phase2Options{Chain: chain, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	want := map[inventory.Key]string{inventory.KeySerialNumber: "F2LXK0ABCDEF", inventory.KeyProductName: "iPhone15,2",
		inventory.KeyOSBuild: "21A329", inventory.KeyDeviceName: "Alice's iPhone"}
	if d := cmp.Diff(want, got.Attributes); d != "" {
		t.Errorf("attributes (-want +got):\n%s", d)
	}
	if got.UDID != dev.UDID || got.Dropped != 1 || !got.HasChallenge || got.SignatureAlgorithm != x509.SHA1WithRSA {
		t.Errorf("UDID %q, dropped %d, challenge %v, algorithm %v", got.UDID, got.Dropped, got.HasChallenge, got.SignatureAlgorithm)
	}
	wantChain := append([]*x509.Certificate{dev.Cert}, chain.Chain()...)
	if len(got.Chain) != 4 || !slices.EqualFunc(got.Chain, wantChain, (*x509.Certificate).Equal) || !got.Signer.Equal(dev.Cert) {
		t.Errorf("chain %v", subjects(got.Chain))
	}
	if strings.Contains(strings.Join(slices.Collect(maps.Values(got.Attributes)), " "), "35 123456") {
		t.Error("the IMEI the device added was kept")
	}

	expired, err := appleChain(t).NewDeviceValid(dev.UDID, t0.AddDate(-10, 0, 0), t0.Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	expiredBody, err := expired.Phase2("", attrs)
	if err != nil {
		t.Fatal(err)
	}
	other, err := otatest.NewChain()
	if err != nil {
		t.Fatal(err)
	}
	forger, err := other.NewDevice(dev.UDID)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := forger.Phase2("", attrs)
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Clone(good)
	tampered[bytes.Index(tampered, []byte("F2LXK0ABCDEF"))] = 'X'
	noUDID := *dev
	noUDID.UDID = ""
	noUDIDBody, err := noUDID.Phase2("", attrs)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		body []byte
		opts ota.Phase2Options
		want []error
	}{
		{"expired device certificate, within the clock skew", expiredBody, ota.Phase2Options{Chain: chain, Now: t0}, nil},
		{"expired device certificate", expiredBody, ota.Phase2Options{Chain: chain, Now: t0.Add(ota.DeviceCertificateClockSkew + time.Minute)},
			[]error{ota.ErrSignature, ota.ErrAppleChain, ota.ErrDeviceCertificateValidity}},
		{"checked before the device certificate's time", good, ota.Phase2Options{Chain: chain, Now: time.Date(2019, 6, 1, 0, 0, 0, 0, time.UTC)},
			[]error{ota.ErrSignature, ota.ErrDeviceCertificateValidity}},
		{"signer of another chain", forged, ota.Phase2Options{Chain: chain, Now: t0}, []error{ota.ErrSignature, ota.ErrAppleChain}},
		{"test device against Apple's chain", good, ota.Phase2Options{Now: t0}, []error{ota.ErrSignature, ota.ErrAppleChain}},
		{"content changed after signing", tampered, ota.Phase2Options{Chain: chain, Now: t0}, []error{ota.ErrSignature, cms.ErrBadSignature}},
		{"no UDID", noUDIDBody, ota.Phase2Options{Chain: chain, Now: t0}, []error{ota.ErrBody}},
		{"truncated", good[:len(good)-30], ota.Phase2Options{Chain: chain, Now: t0}, []error{ota.ErrBody}},
		{"oversized", make([]byte, ota.MaxBodySize+1), ota.Phase2Options{Chain: chain}, []error{ota.ErrBody, cms.ErrTooLarge}},
		{"nested too deeply", []byte(strings.Repeat("\x30\x80", 500) + strings.Repeat("\x00\x00", 500)), ota.Phase2Options{Chain: chain},
			[]error{ota.ErrBody, cms.ErrTooDeep}},
		{"not CMS", []byte("<plist/>"), ota.Phase2Options{Chain: chain}, []error{ota.ErrBody}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ota.VerifyPhase2(tt.body, tt.opts)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("error %v, want %v", err, w)
				}
			}
			if p.UDID != "" || p.Attributes != nil || p.Signer != nil {
				t.Errorf("a refused body returned %+v", p)
			}
		})
	}
}

func subjects(certs []*x509.Certificate) []string {
	var s []string
	for _, c := range certs {
		s = append(s, c.Subject.CommonName)
	}
	return s
}
