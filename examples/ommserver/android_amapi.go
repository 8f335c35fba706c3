package main

import (
	"context"
	"fmt"
	"net/http"

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

// setupAndroid builds the Android service: the Knox license source (the
// file given, a clearly logged demo key when none is, nothing with
// -knox-license-file none) and the Android Management API provider (the
// local fake unless -android-amapi off).
func (srv *server) setupAndroid(cfg config, apps android.Apps, publicURL string) error {
	log := srv.log
	var knox android.KnoxLicenses
	switch cfg.knoxLicenseFile {
	case knoxNone:
		log.Info("Samsung Knox enrollment off (-knox-license-file none)")
	case "":
		knox = knoxLicense{org: demoOrg.ID, key: demoKnoxLicense}
		log.Warn("Samsung Knox: no license key given (-knox-license-file); the demo org hands out a DEMO key that only simulated devices accept",
			"org", demoOrg.ID)
	default:
		var err error
		if knox, err = loadKnoxLicense(cfg.knoxLicenseFile, demoOrg.ID); err != nil {
			return err
		}
	}
	srv.knox = knox != nil

	opts := []android.Option{android.WithApps(apps), android.WithAgentURL(publicURL + androidAgentPath),
		android.WithLogger(log), android.WithClock(srv.now)}
	if knox != nil {
		opts = append(opts, android.WithKnoxLicenses(knox))
	}
	switch cfg.androidAMAPI {
	case amapiOff:
		log.Warn("Android Management API off (-android-amapi off): work-profile and fully managed enrollments are refused")
	case amapiLocal, "":
		fake, err := amapitest.New(fakeAMAPIEnterprise, amapitest.WithClock(srv.now), amapitest.WithNotifier(srv.amapiNotified))
		if err != nil {
			return err
		}
		srv.amapi = fake
		opts = append(opts, android.WithProvider(fake, fake.Enterprise(), android.GoogleDPC(googleDPCChecksum)))
		log.Warn("Android enrollment goes to a LOCAL FAKE of Google's Android Management API: work-profile and fully managed devices enroll against it, not Google; simulated devices use its device side",
			"enterprise", fakeAMAPIEnterprise, "device_endpoint", publicURL+fakeAMAPIPath+"/")
	default:
		return fmt.Errorf("-android-amapi %q: want %s or %s", cfg.androidAMAPI, amapiLocal, amapiOff)
	}
	srv.android = android.New(srv.store, srv.inv, srv.store, opts...)
	return nil
}

// amapiNotified plays the embedder's Pub/Sub subscriber: an ENROLLMENT
// records the device in the org its enrollment token names, a
// STATUS_REPORT stores what Google reports of it (through the privacy
// filter).
func (srv *server) amapiNotified(ctx context.Context, n amapitest.Notification) {
	switch n.Type {
	case amapitest.NotifyEnrollment:
		d, err := srv.android.EnrollNotified(ctx, n.Device)
		if err != nil {
			srv.log.WarnContext(ctx, "android: enrollment notification refused", "provider_device", n.Device, "err", err)
			return
		}
		srv.log.InfoContext(ctx, "android: device enrolled through the Android Management API", "org", d.Org, "device", d.ID,
			"type", d.Type, "provider_device", n.Device)
	case amapitest.NotifyStatusReport:
		res, err := srv.android.SyncNotified(ctx, n.Device)
		if err != nil {
			srv.log.WarnContext(ctx, "android: status notification not stored", "provider_device", n.Device, "err", err)
			return
		}
		srv.log.DebugContext(ctx, "android: status stored", "provider_device", n.Device, "apps", res.Apps)
	}
}

// fakeAMAPIRoutes serves the fake's device side, when it is on.
func (srv *server) fakeAMAPIRoutes(mux *router) {
	if srv.amapi == nil {
		return
	}
	mux.Handle(fakeAMAPIPath+"/", http.StripPrefix(fakeAMAPIPath, srv.amapi.Handler()))
}

// agentAndroidCredential gives the agent app inside a work profile (or on
// a fully managed device) its credential for the agent protocol's status
// reports: POST /api/agent/android/devices/{id}/credential.
func (srv *server) agentAndroidCredential(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	cred, err := srv.android.IssueStatusCredential(r.Context(), p.User.Org, p.User.ID, r.PathValue("id"))
	if err != nil {
		writeErr(w, srv.log, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]string{"credential": cred})
}
