package profile

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/openomm/omm/internal/appleschema"
)

func newProfile(id string) *Profile {
	return &Profile{
		Identifier:   id,
		DisplayName:  "Example Corp Device Management",
		Organization: "Example Corp",
		Description:  "Lets Example Corp install work apps and settings. Your personal data stays private.",
		ConsentText:  map[string]string{"default": "Example Corp can see the device name, model, serial number, OS version and app names."},
	}
}

const (
	identityUUID = "6D0F54AB-3A3F-4A3B-9C49-1B0C7D2E5F10"
	anchorUUID   = "0B7C1D2E-3F40-4152-8364-758697A8B9CA"
)

func testSCEP() *SCEP {
	return &SCEP{
		Meta:             Meta{DisplayName: "Device identity"},
		URL:              "https://mdm.example.com/scep",
		Name:             "example-device-ca",
		Subject:          [][][]string{{{"O", "Example Corp"}}, {{"CN", "device-7"}}},
		Challenge:        "one-time-7f3a",
		KeySize:          2048,
		KeyType:          "RSA",
		KeyUsage:         5,
		Retries:          3,
		RetryDelay:       10,
		KeyIsExtractable: Bool(false),
		SubjectAltName:   &SubjectAltName{DNSName: "device-7.example.com"},
	}
}

func testMDM() *MDM {
	return &MDM{
		Meta:                Meta{DisplayName: "Remote Management"},
		Topic:               "com.apple.mgmt.External.2f0e1c2b-8a7d-4c2a-9d0e-5e6f7a8b9c0d",
		ServerURL:           "https://mdm.example.com/mdm/command",
		CheckInURL:          "https://mdm.example.com/mdm/checkin",
		SignMessage:         true,
		AccessRights:        RightInspectProfiles | RightInstallProfiles | RightDeviceLock | RightQueryDeviceInfo | RightQueryApps | RightManageApps,
		CheckOutWhenRemoved: true,
		ServerCapabilities:  []string{"com.apple.mdm.per-user-connections"},
	}
}

// payloadKinds lists one representative profile per payload kind. Each is
// encoded, compared with its golden file, checked against Apple's schema
// and decoded back.
func payloadKinds(t *testing.T) []struct {
	name    string
	profile *Profile
} {
	root := testRoot(t)
	mdm := testMDM()
	mdm.IdentityCertificateUUID = identityUUID
	kinds := []struct {
		name    string
		profile *Profile
	}{
		{"scep", newProfile("com.example.scep").Add(testSCEP())},
		{"mdm", newProfile("com.example.mdm").Add(mdm)},
		{"enrollment", newProfile("com.example.enroll").Add(testSCEP(), testMDM())},
		{"root", newProfile("com.example.root").Add(NewRootCertificate(root))},
		{"pkcs1", newProfile("com.example.pkcs1").Add(NewCertificate(root))},
		{"passcode", newProfile("com.example.passcode").Add(&Passcode{
			AllowSimple: Bool(false), ForcePIN: true, MinLength: 6, MaxFailedAttempts: 10,
			MaxInactivity: 5, MaxPINAgeInDays: 365, PINHistory: 3, MaxGracePeriod: 1,
		})},
		{"restrictions", newProfile("com.example.restrictions").Add(&Restrictions{
			AllowOpenFromManagedToUnmanaged:      Bool(false),
			AllowOpenFromUnmanagedToManaged:      Bool(false),
			AllowManagedToWriteUnmanagedContacts: Bool(false),
			AllowUnmanagedToReadManagedContacts:  Bool(false),
			RequireManagedPasteboard:             Bool(true),
			AllowManagedAppsCloudSync:            Bool(false),
			ForceEncryptedBackup:                 Bool(true),
			AllowEnterpriseAppTrust:              Bool(false),
			ForceAirDropUnmanaged:                Bool(true),
		})},
		{"exchange", newProfile("com.example.exchange").Add(&Exchange{
			Meta: Meta{DisplayName: "Work mail"}, Host: "outlook.example.com", SSL: Bool(true),
			EmailAddress: "ada@example.com", UserName: "ada@example.com", PreventMove: true,
			PreventAppSheet: true, MailNumberOfPastDaysToSync: 14,
		})},
		{"mail", newProfile("com.example.mail").Add(&Mail{
			AccountType: MailIMAP, AccountDescription: "Work", EmailAddress: "ada@example.com",
			IncomingAuthentication: MailAuthPassword, IncomingHost: "imap.example.com", IncomingPort: 993, IncomingUseSSL: true,
			OutgoingAuthentication: MailAuthPassword, OutgoingHost: "smtp.example.com", OutgoingPort: 587, OutgoingUseSSL: true,
			OutgoingPasswordSameAsIncoming: true, PreventMove: true,
		})},
		{"wifi-personal", newProfile("com.example.wifi").Add(&WiFi{
			SSID: "Example Guest", AutoJoin: Bool(true), Security: SecurityWPA2, Password: "correct horse",
		})},
		{"wifi-enterprise", func() *Profile {
			p := newProfile("com.example.wifi-eap")
			anchor := NewRootCertificate(root)
			anchor.UUID = anchorUUID
			scep := testSCEP()
			p.Add(anchor, scep)
			return p.Add(&WiFi{
				SSID: "Example Corp", Security: SecurityWPA2, CertificateUUID: scep.UUID,
				EAP: &EAP{
					AcceptEAPTypes:          []EAPType{EAPTLS},
					TrustedCertificateUUIDs: []string{anchor.UUID},
					TrustedServerNames:      []string{"radius.example.com"},
					TLSMinimumVersion:       "1.2",
					TLSAllowTrustExceptions: Bool(false),
				},
			})
		}()},
		{"vpn-ikev2", newProfile("com.example.vpn").Add(&VPN{
			Type: VPNIKEv2, Name: "Example VPN",
			IKEv2: &IKEv2{
				RemoteAddress: "vpn.example.com", LocalIdentifier: "device-7", RemoteIdentifier: "vpn.example.com",
				AuthenticationMethod: "Certificate", CertificateUUID: identityUUID,
				ServerCertificateIssuerCommonName: "OMM Test Root CA", EnablePFS: 1,
			},
		})},
		{"vpn-app", newProfile("com.example.vpn-app").Add(&VPN{
			Type: VPNProvider, SubType: "com.example.vpnclient", Name: "Example App VPN",
			App:          &VPNAppConfig{AuthenticationMethod: "Password", ProviderBundleIdentifier: "com.example.vpnclient.tunnel"},
			VendorConfig: map[string]string{"Realm": "corp"},
		})},
		{"webclip", newProfile("com.example.webclip").Add(&WebClip{
			URL: "https://apps.example.com/store", Label: "Work Apps", IsRemovable: Bool(false), FullScreen: true,
			Icon: []byte("\x89PNG\r\n\x1a\n"),
		})},
	}
	return kinds
}

func TestPayloadKinds(t *testing.T) {
	for _, kind := range payloadKinds(t) {
		t.Run(kind.name, func(t *testing.T) {
			encoded, err := kind.profile.Encode()
			if err != nil {
				t.Fatal(err)
			}
			golden(t, kind.name, encoded)

			again, err := kind.profile.Encode()
			if err != nil || !bytes.Equal(again, encoded) {
				t.Fatal("encoding the same profile twice differs")
			}

			t.Run("schema", func(t *testing.T) { checkEncodedProfile(t, encoded) })

			decoded, err := Decode(encoded)
			if err != nil {
				t.Fatal(err)
			}
			assertSameProfile(t, kind.profile, decoded)
			reencoded, err := decoded.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(reencoded, encoded) {
				t.Fatalf("decode + encode changed the profile:\n%s", cmp.Diff(string(encoded), string(reencoded)))
			}
		})
	}
}

// assertSameProfile compares a decoded profile with the one that was
// encoded, after filling in what the encoder fills in.
func assertSameProfile(t *testing.T, want, got *Profile) {
	t.Helper()
	uuid, payloads, err := want.normalized()
	if err != nil {
		t.Fatal(err)
	}
	w := *want
	w.UUID, w.Payloads = uuid, payloads
	if d := cmp.Diff(&w, got, cmpopts.EquateEmpty()); d != "" {
		t.Fatalf("round trip (-want +got):\n%s", d)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from output (-want +got):\n%s", path, cmp.Diff(string(want), string(got)))
	}
}

func TestServiceDocument(t *testing.T) {
	s := &Service{
		Meta: Meta{
			Identifier: "com.example.ota", DisplayName: "Example Corp Enrollment",
			Organization: "Example Corp", Description: "Enrolls this device with Example Corp.",
		},
		URL:              "https://mdm.example.com/ota/phase2",
		DeviceAttributes: []string{AttrUDID, AttrVersion, AttrProduct, AttrSerial, AttrDeviceName},
		Challenge:        "c0ffee",
	}
	encoded, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "service", encoded)
	t.Run("schema", func(t *testing.T) {
		var top map[string]any
		if err := plistUnmarshal(encoded, &top); err != nil {
			t.Fatal(err)
		}
		for _, p := range appleschema.Check("service", top, payloadSchema(t, TypeService)) {
			t.Error(p)
		}
	})
	got, err := DecodeService(encoded)
	if err != nil {
		t.Fatal(err)
	}
	want := *s
	want.Type, want.Version, want.UUID = TypeService, 1, nameUUID(s.Identifier)
	if d := cmp.Diff(&want, got); d != "" {
		t.Fatalf("round trip (-want +got):\n%s", d)
	}
	if _, err := Decode(encoded); err == nil {
		t.Fatal("Decode accepted a Profile Service document as a configuration profile")
	}
}
