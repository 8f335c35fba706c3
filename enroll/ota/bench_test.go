package ota_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/profile"
)

// BenchmarkEnrollment is one full OTA enrollment as the server sees it:
// phase 1, phase 2, SCEP for the OTA identity, phase 3 and SCEP for the MDM
// identity. Device-side work (signing the posts, building the SCEP
// requests, reading the answers) is done outside the timer.
func BenchmarkEnrollment(b *testing.B) {
	f := newFixture(b)
	dev := newDevice(b, "00008110-000A1D2E3F40801E")
	otaKey, mdmKey := deviceKey(b, 0), deviceKey(b, 1)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		ticket, err := f.ota.Begin(ctx, f.org, "alice", decision(false), enroll.KindOTA)
		if err != nil {
			b.Fatal(err)
		}
		signed, err := f.ota.ServiceProfile(ctx, f.org, ticket.Token)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		svc, _ := profile.DecodeService(f.verified(b, signed))
		body, _ := dev.Phase2(svc.Challenge, attrs)
		b.StartTimer()
		resp, err := f.ota.Post(ctx, f.org, ticket.Session, body)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		p, _ := profile.Decode(f.verified(b, resp))
		msg, pending := scepRequest(b, f, scepPayload(b, p).Challenge, otaKey)
		b.StartTimer()
		reply, err := f.scep.PKIOperation(ctx, f.org, msg)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cert, err := pending.Read(reply, f.ca)
		if err != nil {
			b.Fatal(err)
		}
		body = phase3Body(b, dev, cert, otaKey)
		b.StartTimer()
		resp, err = f.ota.Post(ctx, f.org, ticket.Session, body)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		p, _ = profile.Decode(f.verified(b, resp))
		if err := p.Decrypt(cert, otaKey); err != nil {
			b.Fatal(err)
		}
		msg, _ = scepRequest(b, f, scepPayload(b, p).Challenge, mdmKey)
		b.StartTimer()
		if _, err := f.scep.PKIOperation(ctx, f.org, msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCASignature is the raw RSA-2048 PKCS #1 v1.5 signature rate of
// a CA key, the unit enrollment cost is compared with.
func BenchmarkCASignature(b *testing.B) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	sum := sha256.Sum256([]byte("tbs"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := key.Sign(rand.Reader, sum[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}
