package ota_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"net/url"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/ota"
	"github.com/openomm/omm/enroll/ota/otatest"
	"github.com/openomm/omm/enroll/scep"
	"github.com/openomm/omm/enroll/scep/sceptest"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/profile"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// An iPhone (played by otatest, with a stand-in for Apple's device CA)
// walks through the three OTA phases and ends with the MDM profile.
func Example() {
	ctx := context.Background()
	now := func() time.Time { return time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC) }
	store := memory.New()
	org := storage.Org{ID: storage.NewOrgID(), Name: "acme", DisplayName: "Acme Corp"}
	_, _ = store.CreateOrg(ctx, org, storage.AuditEntry{Org: org.ID, Time: now(), Actor: "admin:root", Action: "org.create"})

	// One CA per org, shared by the SCEP endpoint and the OTA service.
	cas := scep.NewGeneratedCAs(store, now)
	ca, _ := scep.New(store, scep.WithAuthorities(cas), scep.WithClock(now))
	apple, _ := otatest.NewChain()
	appleChain, _ := ota.NewAppleChain(apple.PEM)
	svc, err := ota.New(store, cas, ota.Config{PublicURL: "https://mdm.example.com", Topic: "com.apple.mgmt.External.example"},
		ota.WithClock(now), ota.WithAppleChain(appleChain))
	if err != nil {
		panic(err)
	}

	// The signed-in user's policy decision says: enroll.
	decision := policy.Decision{Outcome: policy.Enroll, Policy: "phones"}
	ticket, _ := svc.Begin(ctx, org.ID, "alice", decision, enroll.KindOTA)

	// Phase 1: the Profile Service document.
	signed, _ := svc.ServiceProfile(ctx, org.ID, ticket.Token)
	caCert := must(ca.CACertificate(ctx, org.ID))
	content, _, _ := profile.Verify(signed, profile.VerifyOptions{Signer: caCert})
	doc, _ := profile.DecodeService(content)
	fmt.Println("asks for:", doc.DeviceAttributes)

	// Phase 2: signed attributes; the answer asks for a SCEP identity.
	iphone, _ := apple.NewDevice("00008110-000A1D2E3F40801E")
	body, _ := iphone.Phase2(doc.Challenge, map[string]string{"SERIAL": "F2LXK0ABCDEF"})
	u, _ := url.Parse(doc.URL)
	resp, err := svc.Post(ctx, org.ID, u.Query().Get("session"), body)
	if err != nil {
		panic(err)
	}
	p := decode(resp, caCert)
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	cert := enrollSCEP(ctx, ca, org.ID, p, key)

	// Phase 3: signed with that identity; the MDM profile comes back
	// encrypted to it.
	body, _ = otatest.SignBER(iphone.Attributes("", nil), key, cert, nil)
	resp, err = svc.Post(ctx, org.ID, u.Query().Get("session"), body)
	if err != nil {
		panic(err)
	}
	p = decode(resp, caCert)
	_ = p.Decrypt(cert, key)
	for _, pl := range p.Payloads {
		if m, ok := pl.(*profile.MDM); ok {
			fmt.Println("check-in:", m.CheckInURL == "https://mdm.example.com/mdm/"+string(org.ID)+"/checkin")
			fmt.Println("signs messages:", m.SignMessage)
			fmt.Println("may erase:", m.AccessRights&profile.RightDeviceErase != 0)
		}
	}
	// Output:
	// asks for: [UDID DEVICE_NAME SERIAL PRODUCT VERSION]
	// check-in: true
	// signs messages: true
	// may erase: false
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// decode verifies a profile the org CA signed and decodes it.
func decode(signed []byte, caCert *x509.Certificate) *profile.Profile {
	content, _, err := profile.Verify(signed, profile.VerifyOptions{Signer: caCert})
	if err != nil {
		panic(err)
	}
	return must(profile.Decode(content))
}

// enrollSCEP gets a certificate for key with the profile's SCEP payload.
func enrollSCEP(ctx context.Context, ca *scep.Service, org storage.OrgID, p *profile.Profile, key *rsa.PrivateKey) *x509.Certificate {
	caCert := must(ca.CACertificate(ctx, org))
	for _, pl := range p.Payloads {
		if s, ok := pl.(*profile.SCEP); ok {
			msg, pending, _ := sceptest.Request{Key: key, Challenge: s.Challenge}.Build(caCert)
			return must(pending.Read(must(ca.PKIOperation(ctx, org, msg)), caCert))
		}
	}
	panic("no SCEP payload")
}

// An integrator checks a captured phase 2 body: what the SDK would record
// of it, who signed it and how. A real capture is checked against Apple's
// chain (leave Chain nil); here a test device plays the iPhone.
func ExampleVerifyPhase2() {
	apple, _ := otatest.NewChain()
	iphone, _ := apple.NewDevice("00008110-000A1D2E3F40801E")
	capture, _ := iphone.Phase2("a-spent-challenge", map[string]string{
		"SERIAL": "F2LXK0ABCDEF", "PRODUCT": "iPhone15,2", "IMEI": "35 123456 789012 3"})

	chain, _ := ota.NewAppleChain(apple.PEM)
	p, err := ota.VerifyPhase2(capture, ota.Phase2Options{Chain: chain, Now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)})
	if err != nil {
		panic(err)
	}
	fmt.Println("device:", p.UDID)
	fmt.Println("recorded:", p.Attributes)
	fmt.Println("dropped by the privacy filter:", p.Dropped)
	fmt.Println("signed with:", p.SignatureAlgorithm)
	for _, c := range p.Chain {
		fmt.Println("chain:", c.Subject.CommonName)
	}
	// Output:
	// device: 00008110-000A1D2E3F40801E
	// recorded: map[product_name:iPhone15,2 serial_number:F2LXK0ABCDEF]
	// dropped by the privacy filter: 1
	// signed with: SHA1-RSA
	// chain: 00008110-000A1D2E3F40801E
	// chain: Test Apple iPhone Device CA
	// chain: Test Apple iPhone Certification Authority
	// chain: Test Apple Root CA
}
