package profile

import (
	"errors"
	"testing"
)

func TestValidationErrors(t *testing.T) {
	valid := func() *Profile { return newProfile("com.example.v") }
	dupUUID := valid()
	dupUUID.Add(&WebClip{Meta: Meta{UUID: identityUUID}, URL: "https://a", Label: "a"},
		&WebClip{Meta: Meta{UUID: identityUUID}, URL: "https://b", Label: "b"})
	profileUUIDClash := valid()
	profileUUIDClash.UUID = identityUUID
	profileUUIDClash.Add(&WebClip{Meta: Meta{UUID: identityUUID}, URL: "https://a", Label: "a"})
	samePointer := &WebClip{URL: "https://a", Label: "a"}
	dupID := valid()
	dupID.Add(&WebClip{Meta: Meta{Identifier: "x"}, URL: "https://a", Label: "a"},
		&Passcode{Meta: Meta{Identifier: "x"}})
	twoSCEP := valid().Add(testSCEP(), testSCEP(), testMDM())

	for _, tc := range []struct {
		name string
		p    *Profile
		want error
	}{
		{"empty profile identifier", (&Profile{}).Add(&Passcode{}), ErrEmptyIdentifier},
		{"no payloads", valid(), ErrNoPayloads},
		{"nil payload", valid().Add(nil), ErrMissingField},
		{"typed nil payload", valid().Add((*WiFi)(nil)), ErrMissingField},
		{"duplicate payload UUIDs", dupUUID, ErrDuplicateUUID},
		{"payload UUID equals profile UUID", profileUUIDClash, ErrDuplicateUUID},
		{"same payload twice", valid().Add(samePointer, samePointer), ErrDuplicateIdentifier},
		{"duplicate identifiers", dupID, ErrDuplicateIdentifier},
		{"bad scope", func() *Profile { p := valid().Add(&Passcode{}); p.Scope = "Device"; return p }(), ErrInvalidValue},
		{"wifi unknown security", valid().Add(&WiFi{SSID: "x", Security: "WPA4"}), ErrInvalidSecurityType},
		{"wifi lowercase security", valid().Add(&WiFi{SSID: "x", Security: "wpa2"}), ErrInvalidSecurityType},
		{"wifi no security", valid().Add(&WiFi{SSID: "x"}), ErrInvalidSecurityType},
		{"wifi open with password", valid().Add(&WiFi{SSID: "x", Security: SecurityNone, Password: "p"}), ErrInvalidSecurityType},
		{"wifi WEP enterprise", valid().Add(&WiFi{SSID: "x", Security: SecurityWEP, EAP: &EAP{AcceptEAPTypes: []EAPType{EAPPEAP}}}), ErrInvalidSecurityType},
		{"wifi no SSID", valid().Add(&WiFi{Security: SecurityWPA2}), ErrMissingField},
		{"wifi EAP without types", valid().Add(&WiFi{SSID: "x", Security: SecurityWPA2, EAP: &EAP{}}), ErrMissingField},
		{"wifi EAP-TLS without identity", valid().Add(&WiFi{SSID: "x", Security: SecurityWPA2, EAP: &EAP{AcceptEAPTypes: []EAPType{EAPTLS}}}), ErrMissingField},
		{"wifi bad EAP type", valid().Add(&WiFi{SSID: "x", Security: SecurityWPA2, EAP: &EAP{AcceptEAPTypes: []EAPType{99}}}), ErrInvalidValue},
		{"wifi bad anchor UUID", valid().Add(&WiFi{SSID: "x", Security: SecurityWPA2, EAP: &EAP{AcceptEAPTypes: []EAPType{EAPPEAP}, TrustedCertificateUUIDs: []string{"nope"}}}), ErrInvalidValue},
		{"mdm without identity", valid().Add(testMDM()), ErrMissingField},
		{"mdm with two SCEP payloads", twoSCEP, ErrMissingField},
		{"mdm http server", valid().Add(testSCEP(), func() *MDM { m := testMDM(); m.ServerURL = "http://x/mdm"; return m }()), ErrInvalidValue},
		{"mdm no topic", valid().Add(testSCEP(), func() *MDM { m := testMDM(); m.Topic = ""; return m }()), ErrMissingField},
		{"mdm no rights", valid().Add(testSCEP(), func() *MDM { m := testMDM(); m.AccessRights = 0; return m }()), ErrInvalidValue},
		{"mdm rights too high", valid().Add(testSCEP(), func() *MDM { m := testMDM(); m.AccessRights = 8192; return m }()), ErrInvalidValue},
		{"mdm install without inspect", valid().Add(testSCEP(), func() *MDM { m := testMDM(); m.AccessRights = RightInstallProfiles; return m }()), ErrInvalidValue},
		{"scep no URL", valid().Add(&SCEP{}), ErrMissingField},
		{"scep bad key size", valid().Add(&SCEP{URL: "https://x", KeySize: 3000}), ErrInvalidValue},
		{"scep bad subject", valid().Add(&SCEP{URL: "https://x", Subject: [][][]string{{{"CN"}}}}), ErrInvalidValue},
		{"root without content", valid().Add(&RootCertificate{}), ErrMissingField},
		{"root not a certificate", valid().Add(&RootCertificate{Content: []byte("x")}), ErrInvalidValue},
		{"passcode out of range", valid().Add(&Passcode{MinLength: 17}), ErrInvalidValue},
		{"passcode one attempt", valid().Add(&Passcode{MaxFailedAttempts: 1}), ErrInvalidValue},
		{"exchange sync days", valid().Add(&Exchange{MailNumberOfPastDaysToSync: 2}), ErrInvalidValue},
		{"mail no account type", valid().Add(&Mail{IncomingHost: "a", OutgoingHost: "b"}), ErrMissingField},
		{"mail bad auth", valid().Add(&Mail{AccountType: MailIMAP, IncomingHost: "a", OutgoingHost: "b", IncomingAuthentication: "x", OutgoingAuthentication: MailAuthNone}), ErrInvalidValue},
		{"vpn no type", valid().Add(&VPN{Name: "v"}), ErrMissingField},
		{"vpn unknown type", valid().Add(&VPN{Name: "v", Type: "PPTP"}), ErrInvalidValue},
		{"vpn IKEv2 without dictionary", valid().Add(&VPN{Name: "v", Type: VPNIKEv2}), ErrMissingField},
		{"vpn shared secret missing", valid().Add(&VPN{Name: "v", Type: VPNIKEv2, IKEv2: &IKEv2{RemoteAddress: "a", LocalIdentifier: "b", RemoteIdentifier: "c", AuthenticationMethod: "SharedSecret"}}), ErrMissingField},
		{"vpn app without subtype", valid().Add(&VPN{Name: "v", Type: VPNProvider}), ErrMissingField},
		{"webclip no label", valid().Add(&WebClip{URL: "https://x"}), ErrMissingField},
		{"unknown without type", valid().Add(&Unknown{}), ErrMissingField},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			if !errors.Is(err, tc.want) {
				t.Fatalf("Validate = %v, want %v", err, tc.want)
			}
			if _, err := tc.p.Encode(); !errors.Is(err, tc.want) {
				t.Fatalf("Encode = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDerivedIdentifiers(t *testing.T) {
	build := func() *Profile {
		return newProfile("com.example.net").Add(
			&WiFi{SSID: "a", Security: SecurityWPA2},
			&WiFi{SSID: "b", Security: SecurityWPA2},
			&WebClip{URL: "https://x", Label: "x"},
		)
	}
	p := build()
	ids := []string{"com.example.net.wifi", "com.example.net.wifi.2", "com.example.net.webclip"}
	for i, pl := range p.Payloads {
		if got := pl.meta().Identifier; got != ids[i] {
			t.Errorf("payload %d identifier = %q, want %q", i, got, ids[i])
		}
		if got, again := pl.meta().UUID, build().Payloads[i].meta().UUID; got != again || !uuidPattern.MatchString(got) {
			t.Errorf("payload %d UUID %q not stable (%q)", i, got, again)
		}
	}
	other := newProfile("com.example.other").Add(&WiFi{SSID: "a", Security: SecurityWPA2})
	if other.Payloads[0].meta().UUID == p.Payloads[0].meta().UUID {
		t.Error("payloads of different profiles share a UUID")
	}
	// Encode derives what Add could not (profile identifier set late) and
	// leaves the caller's payloads untouched.
	late := &Profile{}
	w := &WebClip{URL: "https://x", Label: "x"}
	late.Add(w)
	late.Identifier = "com.example.late"
	b, err := late.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if w.Identifier != "" || w.Type != "" {
		t.Error("Encode modified the caller's payload")
	}
	d, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Payloads[0].meta().Identifier; got != "com.example.late.webclip" {
		t.Errorf("late identifier = %q", got)
	}
}

func TestNameUUID(t *testing.T) {
	// Pinned: changing the name space or the algorithm would give every
	// deployed profile new UUIDs.
	if got, want := nameUUID("com.example.enroll"), "4D0C7F86-07F3-50C4-9B7C-A582F86443C2"; got != want {
		t.Fatalf("nameUUID = %s, want %s", got, want)
	}
	if nameUUID("a.b", "c") == nameUUID("a", "b.c") {
		t.Fatal("name parts are ambiguous")
	}
}
