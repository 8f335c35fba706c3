package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/android/agent"
	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// The Android channel: enrollment tokens for signed-in users, the agent
// protocol of the legacy modes (Samsung Knox, native device admin), the
// Android Management API path of work-profile and fully managed devices
// (a local fake unless turned off: android_amapi.go), and ownership-aware
// commands.

// androidAgentPath is where the agent protocol is served; the enrollment
// links of the legacy modes point at it.
const androidAgentPath = "/android/agent"

// maxKnoxLicense bounds the license key file.
const maxKnoxLicense = 1024

// knoxLicense is one org's Samsung Knox license key; every other org has
// none.
type knoxLicense struct {
	org storage.OrgID
	key string
}

func (k knoxLicense) KnoxLicense(_ context.Context, org storage.OrgID) (string, error) {
	if org != k.org {
		return "", fmt.Errorf("knox license of org %s: %w", org, storage.ErrNotFound)
	}
	return k.key, nil
}

// loadKnoxLicense reads the demo org's license key from path; "" means
// none (nil, so that Knox enrollment is refused).
func loadKnoxLicense(path string, org storage.OrgID) (android.KnoxLicenses, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("knox license: %w", err)
	}
	key := strings.TrimSpace(string(data))
	if key == "" || len(key) > maxKnoxLicense || strings.ContainsAny(key, "\r\n") {
		return nil, fmt.Errorf("knox license: %s must hold one key of at most %d bytes", path, maxKnoxLicense)
	}
	return knoxLicense{org: org, key: key}, nil
}

// catalogAndroidApps adapts the catalog to android.Apps: the Play apps
// assigned to the user's groups, forced where the assignment installs
// automatically, offered otherwise.
type catalogAndroidApps struct {
	dir   catalog.Directory
	store catalog.Store
}

func (c catalogAndroidApps) AndroidApps(ctx context.Context, org storage.OrgID, userID, _ string) ([]android.App, error) {
	groups, err := c.dir.UserGroups(ctx, org, userID)
	if err != nil || len(groups) == 0 {
		return nil, err
	}
	assigned, err := c.store.AssignedApps(ctx, org, groups)
	if err != nil {
		return nil, err
	}
	var apps []android.App
	seen := map[string]bool{}
	for _, a := range assigned {
		if a.App.Kind != catalog.Play || seen[a.App.Identifier] {
			continue
		}
		seen[a.App.Identifier] = true
		install := android.InstallAvailable
		if m := a.Mode(); m == catalog.AutoInstall || m == catalog.TakeOver {
			install = android.InstallForced
		}
		apps = append(apps, android.App{PackageName: a.App.Identifier, Install: install})
	}
	return apps, nil
}

// androidRoutes serves the agent protocol and the signed-in user's
// enrollment tokens:
//
//	/android/agent/…                  the agent protocol (android/agent)
//	POST /api/agent/android/enroll    device facts → plan + token + link or QR JSON (+ QR PNG, base64)
//	POST /api/agent/android/enroll.png   the same, answered with the QR code as image/png
//	POST /api/agent/android/devices/{id}/credential   the agent credential of a work profile or fully managed device
//	/amapi-fake/…                     the device side of the local Android Management API fake, when on
func (s *server) androidRoutes(mux *router) {
	mux.Handle(androidAgentPath+"/", http.StripPrefix(androidAgentPath, agent.New(s.android, agent.WithLogger(s.log))))
	guard := func(h http.HandlerFunc) http.Handler { return bodyLimit(maxJSONBody, s.auth.Require(h)) }
	mux.Handle("POST /api/agent/android/enroll", guard(s.agentAndroidEnroll))
	mux.Handle("POST /api/agent/android/enroll.png", guard(s.agentAndroidEnrollPNG))
	mux.Handle("POST /api/agent/android/devices/{id}/credential", guard(s.agentAndroidCredential))
	s.fakeAMAPIRoutes(mux)
}

// androidEnrollment is an issued Android enrollment as the agent API shows
// it. Token is shown once.
type androidEnrollment struct {
	Decision     decisionView `json:"decision"`
	Mode         string       `json:"mode"`
	Type         string       `json:"enrollment_type"`
	Channel      string       `json:"channel"`
	Provisioning string       `json:"provisioning"`
	Token        string       `json:"token"`
	Expires      time.Time    `json:"expires"`
	// Link is the enrollment link (a device in use); QR the provisioning
	// JSON a company-owned device scans at setup.
	Link  string          `json:"link,omitempty"`
	QR    json.RawMessage `json:"qr,omitempty"`
	QRPNG []byte          `json:"qr_png"`
}

// beginAndroid re-evaluates the policy for the device facts and issues a
// one-time enrollment token for the user's Android device.
func (s *server) beginAndroid(ctx context.Context, p auth.Principal, f deviceFacts) (androidEnrollment, error) {
	if f.Platform != "android" {
		return androidEnrollment{}, fmt.Errorf("%w: platform must be android", errBadRequest)
	}
	own := inventory.Ownership(f.Ownership)
	if own != inventory.OwnershipCompany && own != inventory.OwnershipPersonal {
		return androidEnrollment{}, fmt.Errorf("%w: ownership must be company or personal", errBadRequest)
	}
	dec, err := s.decide(ctx, p, f)
	if err != nil {
		return androidEnrollment{}, err
	}
	plan, err := android.PlanFor(dec, own)
	if err != nil {
		return androidEnrollment{}, err
	}
	if plan.Mode == policy.ModeKnox && !s.knox {
		return androidEnrollment{}, fmt.Errorf("%w: Samsung Knox enrollment needs the org's Knox license, and this server's Knox enrollment is off (-knox-license-file none)", errNotPermitted)
	}
	iss, err := s.android.CreateToken(ctx, userActor(p), android.TokenRequest{Org: p.User.Org, UserID: p.User.ID,
		Decision: dec, Ownership: own, OneTime: true})
	if err != nil {
		return androidEnrollment{}, err
	}
	payload := iss.QR
	if payload == nil {
		payload = []byte(iss.Link) // scanned with the device's camera, it opens the link
	}
	png, err := android.QRPNG(payload)
	if err != nil {
		return androidEnrollment{}, err
	}
	e := androidEnrollment{Decision: viewDecision(dec), Mode: string(iss.Plan.Mode), Type: string(iss.Plan.Type),
		Channel: string(iss.Plan.Channel), Provisioning: string(iss.Plan.Provisioning), Token: iss.Value,
		Expires: iss.Token.Expires, Link: iss.Link, QRPNG: png}
	if iss.QR != nil {
		e.QR = json.RawMessage(iss.QR)
	}
	return e, nil
}

func (s *server) agentAndroidEnroll(w http.ResponseWriter, r *http.Request) {
	var f deviceFacts
	if err := decodeJSON(w, r, &f); err != nil {
		writeErr(w, s.log, err)
		return
	}
	e, err := s.beginAndroid(r.Context(), principal(r), f)
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, e)
}

func (s *server) agentAndroidEnrollPNG(w http.ResponseWriter, r *http.Request) {
	var f deviceFacts
	if err := decodeJSON(w, r, &f); err != nil {
		writeErr(w, s.log, err)
		return
	}
	e, err := s.beginAndroid(r.Context(), principal(r), f)
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/png")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(e.QRPNG)
}

// androidLock, androidDeprovision and androidErase are the device actions
// on Android devices. Deprovisioning removes the organization's data only,
// also on a company-owned device whose policy would allow a factory reset
// (the android service refuses it where there is no personal side to
// keep: a fully managed device); erasing is a factory reset, refused
// unless ownership, enrollment type and policy all allow one.
func (s *server) androidLock(ctx context.Context, d inventory.Device, actor string) error {
	_, err := s.android.Lock(ctx, actor, d.Org, d.ID)
	return err
}

func (s *server) androidWipe(ctx context.Context, d inventory.Device, actor string, want android.WipeKind) error {
	var err error
	if want == android.WipeFactoryReset {
		_, err = s.android.FactoryReset(ctx, actor, d.Org, d.ID)
	} else {
		_, err = s.android.RemoveWorkData(ctx, actor, d.Org, d.ID)
	}
	return err
}

// deviceActions lists a device's latest actions: the MDM command queue of
// an Apple device, the pending commands of an Android device (the agent
// fetches them; settled ones leave the list).
func (s *server) deviceActions(ctx context.Context, d inventory.Device) ([]actionView, error) {
	if d.Platform.Apple() {
		cmds, err := s.mdm.Actions(ctx, d.Org, d.ID, maxActionsShown)
		if err != nil {
			return nil, err
		}
		return viewActions(cmds), nil
	}
	ad, err := s.store.AndroidDevice(ctx, d.Org, d.ID)
	if errors.Is(err, storage.ErrNotFound) { // registered, never enrolled through the channel
		return []actionView{}, nil
	}
	if err != nil {
		return nil, err
	}
	cmds, err := s.android.Commands(ctx, ad)
	if err != nil {
		return nil, err
	}
	views := make([]actionView, 0, len(cmds))
	for _, c := range cmds {
		kind := string(c.Kind)
		if c.Wipe != "" {
			kind += " (" + string(c.Wipe) + ")"
		}
		views = append(views, actionView{UUID: c.ID, RequestType: kind, Status: enroll.StatusPending, Pending: true,
			Detail: c.Detail, Queued: c.Created, Updated: c.Updated})
	}
	return views, nil
}
