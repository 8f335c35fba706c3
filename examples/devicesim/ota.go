package main

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/openomm/omm/enroll/ota/otatest"
	"github.com/openomm/omm/profile"
)

// enrollOTA walks the over-the-air enrollment from the Profile Service URL
// the agent API returned:
//
//	phase 1: fetch the signed Profile Service document
//	phase 2: post the device attributes, signed with the device identity
//	         (a stand-in Apple chain: the server must run with
//	         -allow-simulators), and receive a profile with a SCEP payload
//	SCEP:    get the OTA identity
//	phase 3: post the attributes signed with that identity, and receive the
//	         MDM profile encrypted to it
//
// then installs the MDM profile like a direct enrollment.
func enrollOTA(ctx context.Context, a *api, chain *otatest.Chain, enrollURL string, s spec, logf logFunc) (*device, error) {
	p3, err := otaToPhase3(ctx, a, chain, enrollURL, s, logf)
	if err != nil {
		return nil, err
	}
	mdmProf, err := a.fetchProfile(ctx, "POST", p3.url, p3.body, p3.ca)
	if err != nil {
		return nil, fmt.Errorf("OTA phase 3: %w", err)
	}
	if err := mdmProf.Decrypt(p3.cert, p3.key); err != nil {
		return nil, fmt.Errorf("OTA phase 3: %w", err)
	}
	logf("OTA phase 3: MDM profile %q received and decrypted with the OTA identity", mdmProf.Identifier)
	return a.enrollMDM(ctx, p3.ca, mdmProf, s, logf)
}

// phase3 is an OTA enrollment ready for its phase 3: the post, signed by
// the OTA identity, and where it goes.
type phase3 struct {
	ca, cert *x509.Certificate
	key      *rsa.PrivateKey
	url      string
	body     []byte
}

// otaToPhase3 plays phases 1 and 2 and gets the OTA identity.
func otaToPhase3(ctx context.Context, a *api, chain *otatest.Chain, enrollURL string, s spec, logf logFunc) (phase3, error) {
	ca, err := a.orgCA(ctx, enrollURL)
	if err != nil {
		return phase3{}, err
	}
	signed, err := do(ctx, a.client, a.base, "GET", enrollURL, "", "", nil, maxOtherReply)
	if err != nil {
		return phase3{}, fmt.Errorf("OTA phase 1: %w", err)
	}
	content, _, err := profile.Verify(signed, profile.VerifyOptions{Signer: ca})
	if err != nil {
		return phase3{}, fmt.Errorf("OTA phase 1: signature: %w", err)
	}
	svc, err := profile.DecodeService(content)
	if err != nil {
		return phase3{}, fmt.Errorf("OTA phase 1: %w", err)
	}
	logf("OTA phase 1: Profile Service verified (signed by %s), asks for %v", ca.Subject.CommonName, svc.DeviceAttributes)

	dev, err := chain.NewDevice(s.UDID)
	if err != nil {
		return phase3{}, err
	}
	attrs := map[string]string{"SERIAL": s.Serial, "PRODUCT": s.Product, "VERSION": s.Build,
		"DEVICE_NAME": s.Name, "IMEI": s.IMEI}
	body, err := dev.Phase2(svc.Challenge, attrs)
	if err != nil {
		return phase3{}, err
	}
	p2, err := a.fetchProfile(ctx, "POST", svc.URL, body, ca)
	if err != nil {
		var se *statusError
		if errors.As(err, &se) && se.Status/100 == 4 {
			return phase3{}, fmt.Errorf("OTA phase 2 refused (a simulated device needs a server started with -allow-simulators; or use -delivery direct): %w", err)
		}
		return phase3{}, fmt.Errorf("OTA phase 2: %w", err)
	}
	scepP, _ := payloads(p2)
	if scepP == nil {
		return phase3{}, fmt.Errorf("OTA phase 2: profile %s has no SCEP payload", p2.Identifier)
	}
	logf("OTA phase 2: device attributes accepted, profile %q asks for an OTA identity", p2.Identifier)
	otaCert, otaKey, err := a.scepEnroll(ctx, ca, scepP, s.UDID)
	if err != nil {
		return phase3{}, fmt.Errorf("OTA identity: %w", err)
	}
	logf("SCEP: OTA identity issued, subject %q", otaCert.Subject.CommonName)

	body, err = otatest.SignBER(dev.Attributes("", attrs), otaKey, otaCert, nil)
	if err != nil {
		return phase3{}, err
	}
	return phase3{ca: ca, cert: otaCert, key: otaKey, url: svc.URL, body: body}, nil
}
