package main

import (
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/openomm/omm"
	"github.com/openomm/omm/android"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
)

// The portal's Android enrollment: after the eligibility check, a one-time
// enrollment code as a link and a QR code drawn as inline SVG (the page's
// Content-Security-Policy loads nothing from elsewhere, and the code is
// shown once, so it is not served as a separate image).

type androidEnrollData struct {
	Mode policy.Mode
	// Kind is the enrollment in words ("work profile", "fully managed",
	// "Samsung Knox", "native device admin"): a company-owned device in
	// the work-profile mode is fully managed.
	Kind    string
	Link    string
	QR      bool   // a provisioning QR code for a device at setup
	Agent   bool   // enrolled through our agent app (the legacy modes)
	Payload []byte // what the QR code holds
	Expires string
}

func (s *server) portalAndroidEnrollPost(w http.ResponseWriter, r *http.Request) {
	p, token, ok := s.webPrincipal(w, r)
	if !ok || !s.parseForm(w, r, csrfSession, token) {
		return
	}
	f := formFacts(r)
	if r.PostFormValue("agree") != "on" {
		s.renderPortal(w, r, p, token, http.StatusBadRequest, "Please accept the agreement to enroll.", f)
		return
	}
	ae, err := s.sdk.BeginAndroidEnrollment(r.Context(), p.User.Org, p.User.ID, "user:"+p.User.ID, f)
	if err != nil {
		if status, _, msg := omm.HTTPStatus(err); status < 500 {
			s.renderPortal(w, r, p, token, status, msg, f)
			return
		}
		s.webFailure(w, "portal", err)
		return
	}
	e := ae.Issued
	d := androidEnrollData{Mode: e.Plan.Mode, Kind: enrollmentKind(e.Plan.Type), Link: e.Link, QR: e.QR != nil, Agent: e.Plan.Channel == android.ChannelAgent,
		Payload: []byte(e.Link), Expires: e.Token.Expires.UTC().Format("2006-01-02 15:04 UTC")}
	if e.QR != nil {
		d.Payload = e.QR
	}
	s.render(w, http.StatusOK, "android_enroll", page{Title: "Enroll your Android device", Nav: "portal", Data: d})
}

// enrollmentKind is an enrollment type in words.
func enrollmentKind(t inventory.EnrollmentType) string {
	switch t {
	case inventory.EnrollAndroidWorkProfile:
		return "work profile"
	case inventory.EnrollAndroidFullyManaged:
		return "fully managed"
	case inventory.EnrollAndroidKnox:
		return "Samsung Knox"
	case inventory.EnrollAndroidDeviceAdmin:
		return "native device admin"
	case inventory.EnrollAppleDevice:
		return "device enrollment"
	case inventory.EnrollAppleUser:
		return "User Enrollment"
	case inventory.EnrollAppleAutomated:
		return "automated device enrollment"
	}
	return string(t)
}

// qrSVG draws payload as a QR code in inline SVG: one path of unit squares
// in a viewBox with the standard quiet zone.
func qrSVG(payload []byte) (template.HTML, error) {
	m, err := android.QRMatrix(payload)
	if err != nil {
		return "", err
	}
	size := len(m) + 2*android.QRQuietZone
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="QR code">`,
		size, size, size*android.QRScale/2, size*android.QRScale/2)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, size, size)
	for y, row := range m {
		for x, dark := range row {
			if dark {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x+android.QRQuietZone, y+android.QRQuietZone)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String()), nil // numbers only: nothing from the payload reaches the markup
}
