package main

import (
	"context"
	"fmt"

	"github.com/openomm/omm"
	"github.com/openomm/omm/android"
	"github.com/openomm/omm/android/amapi/amapitest"
)

// The Android Management API side of the example. Without Google
// credentials (which this example does not take) work-profile and fully
// managed enrollments go to a local stand-in for Google's service
// (android/amapi/amapitest), on by default and announced in the log, the
// same way push is pointed at a local fake. Simulated phones play Android
// Device Policy against its device side, served under fakeAMAPIPath.

const (
	fakeAMAPIPath       = "/amapi-fake"
	fakeAMAPIEnterprise = "enterprises/LOCAL_FAKE"

	amapiLocal = "local"
	amapiOff   = "off"

	// demoKnoxLicense is handed out when no license file is given: real
	// Knox devices reject it, simulated ones accept it.
	demoKnoxLicense = "DEMO-KNOX-LICENSE-NOT-VALID-ON-REAL-DEVICES"
	// knoxNone turns Knox enrollment off.
	knoxNone = "none"
)

// googleDPCChecksum is the published signature checksum of Google's
// Android Device Policy app, which the QR code of a fully managed device
// names.
const googleDPCChecksum = "I5YvS0O5hXY46mb01BlRjq4oJJGs2kuUcHvVkAPEXlg"

// androidConfig is the SDK's Android configuration from the flags: the
// Knox license source (the file given, a clearly logged demo key when none
// is, nothing with -knox-license-file none) and the Android Management API
// provider (the local fake unless -android-amapi off).
func (srv *server) androidConfig(cfg config, publicURL string) (omm.AndroidConfig, error) {
	log := srv.log
	var ac omm.AndroidConfig
	switch cfg.knoxLicenseFile {
	case knoxNone:
		log.Info("Samsung Knox enrollment off (-knox-license-file none)")
	case "":
		ac.Knox = knoxLicense{org: demoOrg.ID, key: demoKnoxLicense}
		log.Warn("Samsung Knox: no license key given (-knox-license-file); the demo org hands out a DEMO key that only simulated devices accept",
			"org", demoOrg.ID)
	default:
		var err error
		if ac.Knox, err = loadKnoxLicense(cfg.knoxLicenseFile, demoOrg.ID); err != nil {
			return ac, err
		}
	}
	switch cfg.androidAMAPI {
	case amapiOff:
		log.Warn("Android Management API off (-android-amapi off): work-profile and fully managed enrollments are refused")
	case amapiLocal, "":
		fake, err := amapitest.New(fakeAMAPIEnterprise, amapitest.WithClock(srv.now), amapitest.WithNotifier(srv.amapiNotified))
		if err != nil {
			return ac, err
		}
		srv.amapi = fake
		ac.Provider, ac.Enterprise, ac.DPC = fake, fake.Enterprise(), android.GoogleDPC(googleDPCChecksum)
		log.Warn("Android enrollment goes to a LOCAL FAKE of Google's Android Management API: work-profile and fully managed devices enroll against it, not Google; simulated devices use its device side",
			"enterprise", fakeAMAPIEnterprise, "device_endpoint", publicURL+fakeAMAPIPath+"/")
	default:
		return ac, fmt.Errorf("-android-amapi %q: want %s or %s", cfg.androidAMAPI, amapiLocal, amapiOff)
	}
	return ac, nil
}

// amapiNotified plays the embedder's Pub/Sub subscriber: an ENROLLMENT
// records the device in the org its enrollment token names, a
// STATUS_REPORT stores what Google reports of it (through the privacy
// filter).
func (srv *server) amapiNotified(ctx context.Context, n amapitest.Notification) {
	switch n.Type {
	case amapitest.NotifyEnrollment:
		d, err := srv.sdk.Android.EnrollNotified(ctx, n.Device)
		if err != nil {
			srv.log.WarnContext(ctx, "android: enrollment notification refused", "provider_device", n.Device, "err", err)
			return
		}
		srv.log.InfoContext(ctx, "android: device enrolled through the Android Management API", "org", d.Org, "device", d.ID,
			"type", d.Type, "provider_device", n.Device)
	case amapitest.NotifyStatusReport:
		res, err := srv.sdk.Android.SyncNotified(ctx, n.Device)
		if err != nil {
			srv.log.WarnContext(ctx, "android: status notification not stored", "provider_device", n.Device, "err", err)
			return
		}
		srv.log.DebugContext(ctx, "android: status stored", "provider_device", n.Device, "apps", res.Apps)
	}
}
