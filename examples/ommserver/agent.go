package main

import (
	"net/http"

	"github.com/openomm/omm/auth"
)

// agentRoutes serves the agent app's API besides sign-in (which
// auth.NewHandler serves under /api/agent/auth/). Every route needs a fully
// signed-in user (auth.Service.Require) and acts for that user only.
//
//	POST /api/agent/eligibility                device facts → policy decision
//	POST /api/agent/enroll                     device facts [+ "delivery"] → decision + enrollment URL (Apple)
//	GET  /api/agent/devices                    my devices
//	GET  /api/agent/devices/{id}/report        "What your organization can see"
//	POST /api/agent/devices/{id}/deprovision   remove work data
//	POST /api/agent/devices/{id}/erase         factory reset, where allowed
//
// The app store (catalogRoutes) and Android enrollment codes
// (androidRoutes) are served beside them, behind the same check:
//
//	GET  /api/agent/store/devices/{id}/apps                my store on the device
//	POST /api/agent/store/devices/{id}/apps/{app}/install  install (or update, or take over)
//	POST /api/agent/store/devices/{id}/apps/{app}/uninstall
//	POST /api/agent/android/enroll                          Android device facts → one-time token, link or QR
//	POST /api/agent/android/enroll.png                      the same, as the QR code image
func (s *server) agentRoutes(mux *router) {
	guard := func(h http.HandlerFunc) http.Handler { return bodyLimit(maxJSONBody, s.auth.Require(h)) }
	mux.Handle("POST /api/agent/eligibility", guard(s.agentEligibility))
	mux.Handle("POST /api/agent/enroll", guard(s.agentEnroll))
	mux.Handle("GET /api/agent/devices", guard(s.agentDevices))
	mux.Handle("GET /api/agent/devices/{id}/report", guard(s.agentReport))
	mux.Handle("POST /api/agent/devices/{id}/deprovision", guard(s.agentDeprovision))
	mux.Handle("POST /api/agent/devices/{id}/erase", guard(s.agentErase))
}

func principal(r *http.Request) auth.Principal {
	p, _ := auth.PrincipalFrom(r.Context()) // Require guarantees it
	return p
}

func userActor(p auth.Principal) string { return "user:" + p.User.ID }

func (s *server) agentEligibility(w http.ResponseWriter, r *http.Request) {
	var f deviceFacts
	if err := decodeJSON(w, r, &f); err != nil {
		writeErr(w, s.log, err)
		return
	}
	dec, err := s.decide(r.Context(), principal(r), f)
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, viewDecision(dec))
}

func (s *server) agentEnroll(w http.ResponseWriter, r *http.Request) {
	var req enrollRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeErr(w, s.log, err)
		return
	}
	dec, url, expires, err := s.beginEnrollment(r.Context(), principal(r), req)
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	v := viewDecision(dec)
	v.EnrollURL, v.EnrollExpiry = url, &expires
	writeJSON(w, http.StatusOK, v)
}

func (s *server) agentDevices(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	devices, err := s.userDevices(r.Context(), p.User.Org, p.User.ID)
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	views := make([]deviceView, len(devices))
	for i, d := range devices {
		views[i] = viewDevice(d)
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": views})
}

func (s *server) agentReport(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	d, err := s.userDevice(r.Context(), p.User.Org, p.User.ID, r.PathValue("id"))
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	rep, err := s.report(r.Context(), d)
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func (s *server) agentDeprovision(w http.ResponseWriter, r *http.Request) {
	s.agentAction(w, r, s.deprovision)
}

func (s *server) agentErase(w http.ResponseWriter, r *http.Request) {
	s.agentAction(w, r, s.erase)
}

func (s *server) agentAction(w http.ResponseWriter, r *http.Request, act deviceAction) {
	p := principal(r)
	d, err := s.userDevice(r.Context(), p.User.Org, p.User.ID, r.PathValue("id"))
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	if err := act(r.Context(), d, userActor(p)); err != nil {
		writeErr(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "queued"})
}
