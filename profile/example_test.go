package profile_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/openomm/omm/profile"
)

// Build the direct enrollment profile: a SCEP payload for the device
// identity and an MDM payload that uses it.
func Example() {
	p := &profile.Profile{
		Identifier:   "com.example.enroll",
		DisplayName:  "Example Corp Device Management",
		Organization: "Example Corp",
		Description:  "Installs work apps and settings. Your personal data stays private.",
	}
	scep := &profile.SCEP{URL: "https://mdm.example.com/scep", Challenge: "one-time", KeySize: 2048}
	mdm := &profile.MDM{
		Topic:        "com.apple.mgmt.External.example",
		ServerURL:    "https://mdm.example.com/mdm",
		AccessRights: profile.RightInspectProfiles | profile.RightInstallProfiles | profile.RightQueryApps,
	}
	p.Add(scep, mdm)
	mdm.IdentityCertificateUUID = scep.UUID

	fmt.Println(scep.Identifier, scep.UUID)
	fmt.Println(mdm.Identifier)
	if _, err := p.Encode(); err != nil {
		fmt.Println(err)
	}

	p.Add(&profile.WiFi{SSID: "Example Corp", Security: "WPA9"})
	err := p.Validate()
	fmt.Println(errors.Is(err, profile.ErrInvalidSecurityType))
	// Output:
	// com.example.enroll.scep 1D564F40-5DBE-551D-8A3E-55DEE7F519A3
	// com.example.enroll.mdm
	// true
}

func ExampleSigner() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "Example Corp profile signing"},
		NotBefore:    time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2045, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	cert, _ := x509.ParseCertificate(der)

	signer, err := profile.NewSigner(key, cert)
	if err != nil {
		panic(err)
	}
	p := (&profile.Profile{Identifier: "com.example.webclip"}).
		Add(&profile.WebClip{URL: "https://apps.example.com", Label: "Work Apps"})
	signed, err := signer.SignProfile(p)
	if err != nil {
		panic(err)
	}

	content, by, err := profile.Verify(signed, profile.VerifyOptions{Signer: cert})
	if err != nil {
		panic(err)
	}
	back, _ := profile.Decode(content)
	fmt.Println(by.Subject.CommonName)
	fmt.Println(back.Payloads[0].(*profile.WebClip).Label)

	_, err = profile.NewSigner(key, nil)
	fmt.Println(errors.Is(err, profile.ErrNoCertificate))
	// Output:
	// Example Corp profile signing
	// Work Apps
	// true
}

func ExampleService() {
	s := &profile.Service{
		Meta:             profile.Meta{Identifier: "com.example.ota", DisplayName: "Example Corp Enrollment"},
		URL:              "https://mdm.example.com/ota",
		DeviceAttributes: []string{profile.AttrUDID, profile.AttrVersion, profile.AttrProduct, profile.AttrSerial},
		Challenge:        "c0ffee",
	}
	b, err := s.Encode()
	if err != nil {
		panic(err)
	}
	back, err := profile.DecodeService(b)
	fmt.Println(back.Type, back.URL, back.DeviceAttributes, err)
	// Output: Profile Service https://mdm.example.com/ota [UDID VERSION PRODUCT SERIAL] <nil>
}
