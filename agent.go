package omm

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// The agent app's API: every handler acts for the request's principal, in
// its org, on its own devices only.

func (s *SDK) agentEligibility(w http.ResponseWriter, r *http.Request) {
	var f Facts
	if err := decodeJSON(w, r, &f); err != nil {
		writeErr(w, s.log, err)
		return
	}
	p := principal(r)
	dec, err := s.Decide(r.Context(), p.Org, p.UserID, f)
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, s.ViewDecisionFor(r.Context(), p.Org, dec, f))
}

// EnrollRequest is what the agent app sends to start an Apple enrollment.
type EnrollRequest struct {
	Facts
	// Delivery is "ota" (the iOS profile service, the default on iOS) or
	// "direct" (one .mobileconfig: macOS, and device simulators).
	Delivery enroll.SessionKind `json:"delivery,omitempty"`
}

func (s *SDK) agentEnroll(w http.ResponseWriter, r *http.Request) {
	var req EnrollRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeErr(w, s.log, err)
		return
	}
	p := principal(r)
	e, err := s.BeginAppleEnrollment(r.Context(), p.Org, p.UserID, req.Facts, req.Delivery)
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	v := s.ViewDecisionFor(r.Context(), p.Org, e.Decision, req.Facts)
	v.EnrollURL, v.EnrollExpiry = e.URL, &e.Expires
	writeJSON(w, http.StatusOK, v)
}

func (s *SDK) agentDevices(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	devices, err := s.UserDevices(r.Context(), p.Org, p.UserID)
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	views := make([]DeviceView, len(devices))
	for i, d := range devices {
		views[i] = ViewDevice(d)
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": views})
}

func (s *SDK) agentReport(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	d, err := s.UserDevice(r.Context(), p.Org, p.UserID, r.PathValue("id"))
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	rep, err := s.Report(r.Context(), d)
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func (s *SDK) agentAction(a Action) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := principal(r)
		d, err := s.UserDevice(r.Context(), p.Org, p.UserID, r.PathValue("id"))
		if err != nil {
			writeErr(w, s.log, err)
			return
		}
		if err := s.Act(r.Context(), d, a, p.actor()); err != nil {
			writeErr(w, s.log, err)
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "queued"})
	}
}

// AndroidEnrollmentView is an issued Android enrollment as the agent API
// shows it. Token is shown once.
type AndroidEnrollmentView struct {
	Decision     DecisionView `json:"decision"`
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

func (s *SDK) agentAndroidEnroll(png bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var f Facts
		if err := decodeJSON(w, r, &f); err != nil {
			writeErr(w, s.log, err)
			return
		}
		p := principal(r)
		e, err := s.BeginAndroidEnrollment(r.Context(), p.Org, p.UserID, p.actor(), f)
		if err != nil {
			writeErr(w, s.log, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		if png {
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write(e.QRPNG)
			return
		}
		iss := e.Issued
		v := AndroidEnrollmentView{Decision: s.ViewDecisionFor(r.Context(), p.Org, e.Decision, f), Mode: string(iss.Plan.Mode),
			Type: string(iss.Plan.Type), Channel: string(iss.Plan.Channel), Provisioning: string(iss.Plan.Provisioning),
			Token: iss.Value, Expires: iss.Token.Expires, Link: iss.Link, QRPNG: e.QRPNG}
		if iss.QR != nil {
			v.QR = json.RawMessage(iss.QR)
		}
		writeJSON(w, http.StatusOK, v)
	}
}

// agentAndroidCredential gives the agent app inside a work profile (or on
// a fully managed device) its credential for the agent protocol's status
// reports.
func (s *SDK) agentAndroidCredential(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	cred, err := s.Android.IssueStatusCredential(r.Context(), p.Org, p.UserID, r.PathValue("id"))
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]string{"credential": cred})
}

// DeviceView is a device as the APIs show it.
type DeviceView struct {
	ID             string                   `json:"id"`
	UserID         string                   `json:"user_id"`
	Platform       inventory.Platform       `json:"platform"`
	Ownership      inventory.Ownership      `json:"ownership"`
	EnrollmentType inventory.EnrollmentType `json:"enrollment_type"`
	State          inventory.State          `json:"state"`
	SerialNumber   string                   `json:"serial_number,omitempty"`
	LastSeen       *time.Time               `json:"last_seen"`
	LastInventory  *time.Time               `json:"last_inventory"`
	Created        time.Time                `json:"created"`
	Values         map[inventory.Key]string `json:"values,omitempty"`
}

// ViewDevice is d as the APIs show it.
func ViewDevice(d inventory.Device) DeviceView {
	return DeviceView{ID: d.ID, UserID: d.UserID, Platform: d.Platform, Ownership: d.Ownership,
		EnrollmentType: d.EnrollmentType, State: d.State, SerialNumber: d.SerialNumber,
		LastSeen: timePtr(d.LastSeen), LastInventory: timePtr(d.LastInventory), Created: d.Created}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// DecisionView is a policy decision as the APIs show it.
type DecisionView struct {
	Outcome      policy.Outcome `json:"outcome"`
	Policy       policy.ID      `json:"policy"`
	PolicyName   string         `json:"policy_name"`
	MatchedGroup string         `json:"matched_group,omitempty"`
	// MatchedGroupName is the matched group's name in the directory.
	MatchedGroupName string               `json:"matched_group_name,omitempty"`
	Platform         policy.Platform      `json:"platform"`
	Reasons          []string             `json:"reasons"`
	Warnings         []string             `json:"warnings,omitempty"`
	Requirements     *policy.Requirements `json:"requirements,omitempty"`
	Agreement        string               `json:"agreement,omitempty"`
	Android          *AndroidPlanView     `json:"android,omitempty"`
	// Facts are the facts the decision used and where each came from
	// (ExplainFacts); Privacy is what the organization will see of the
	// device once enrolled (SDK.PrivacyPreview), to read before agreeing.
	Facts        []FactView        `json:"facts,omitempty"`
	Privacy      *inventory.Report `json:"privacy,omitempty"`
	EnrollURL    string            `json:"enroll_url,omitempty"`
	EnrollExpiry *time.Time        `json:"enroll_expires,omitempty"`
}

// AndroidPlanView is the Android enrollment mode chosen, and why each mode
// was or was not.
type AndroidPlanView struct {
	Mode  policy.Mode       `json:"mode"`
	Steps []AndroidModeStep `json:"steps"`
}

// AndroidModeStep is one mode considered.
type AndroidModeStep struct {
	Mode   policy.Mode `json:"mode"`
	Chosen bool        `json:"chosen"`
	Reason string      `json:"reason"`
}

// ViewDecision is dec as the APIs show it, with the matched group's name
// beside its ID.
func (s *SDK) ViewDecision(ctx context.Context, org storage.OrgID, dec policy.Decision) DecisionView {
	v := ViewDecision(dec)
	if dec.MatchedGroup != "" {
		if g, err := s.Directory.Group(ctx, org, dec.MatchedGroup); err == nil {
			v.MatchedGroupName = g.Name
		}
	}
	return v
}

// ViewDecisionFor is [SDK.ViewDecision] with the facts the decision was
// made on and where each came from, and the privacy preview of the device.
func (s *SDK) ViewDecisionFor(ctx context.Context, org storage.OrgID, dec policy.Decision, f Facts) DecisionView {
	v := s.ViewDecision(ctx, org, dec)
	v.Facts = ExplainFacts(f)
	if rep, ok := s.PrivacyPreview(dec, f); ok {
		v.Privacy = &rep
	}
	return v
}

// ViewDecision is dec as the APIs show it.
func ViewDecision(dec policy.Decision) DecisionView {
	v := DecisionView{Outcome: dec.Outcome, Policy: dec.Policy, PolicyName: dec.PolicyName, MatchedGroup: dec.MatchedGroup,
		Platform: dec.Platform, Reasons: dec.Reasons, Warnings: dec.Warnings, Agreement: dec.Agreement}
	if dec.Outcome != policy.Denied {
		req := dec.Requirements
		v.Requirements = &req
	}
	if dec.Android != nil {
		v.Android = &AndroidPlanView{Mode: dec.Android.Mode}
		for _, st := range dec.Android.Steps {
			v.Android.Steps = append(v.Android.Steps, AndroidModeStep{st.Mode, st.Chosen, st.Reason})
		}
	}
	return v
}
