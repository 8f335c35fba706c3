package omm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/openomm/omm/enroll/ota"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// DefaultIssueTTL is how long the links of pre-staged enrollment profiles
// stay valid unless the administrator says otherwise.
const DefaultIssueTTL = 7 * 24 * time.Hour

// IssuedProfile is one pre-staged enrollment profile: the one-time link
// of a direct .mobileconfig for one device, and the session that revokes
// it.
type IssuedProfile struct {
	Session string    `json:"session"`
	URL     string    `json:"url"`
	Expires time.Time `json:"expires"`
}

// IssueRequest is what an administrator pre-stages.
type IssueRequest struct {
	UserID string `json:"user_id"`
	// Platform is macos (the default), or ios / ipados where the
	// policy's iOS rule accepts direct profiles.
	Platform  string `json:"platform"`
	Ownership string `json:"ownership,omitempty"`
	// Count is how many profiles (1 to ota.MaxIssue; default 1).
	Count int `json:"count"`
	// ValidFor is how long the links stay valid (DefaultIssueTTL when 0,
	// at most ota.MaxIssueTTL).
	ValidFor time.Duration `json:"-"`
}

// IssueEnrollmentProfiles issues one-time direct enrollment profiles for
// a user of org, one or many at once, on behalf of actor (an
// administrator pre-staging Macs or iPads): each is a session of its own,
// audited, valid until used or revoked ([SDK.RevokeEnrollmentProfile]) or
// ValidFor has passed, under the policy decision for the user on the
// platform (preliminary: the device is checked when it enrolls). The user
// must be an active user of org whose decision is Enroll; iPhones and
// iPads only where the policy accepts direct profiles.
func (s *SDK) IssueEnrollmentProfiles(ctx context.Context, org storage.OrgID, req IssueRequest, actor string) (policy.Decision, []IssuedProfile, error) {
	if req.Platform == "" {
		req.Platform = string(policy.MacOS)
	}
	if req.Count == 0 {
		req.Count = 1
	}
	if req.ValidFor == 0 {
		req.ValidFor = DefaultIssueTTL
	}
	if req.Count < 0 || req.Count > ota.MaxIssue || req.ValidFor < 0 || req.ValidFor > ota.MaxIssueTTL {
		return policy.Decision{}, nil, fmt.Errorf("%w: count must be 1-%d and valid_for at most %s", ErrBadRequest, ota.MaxIssue, ota.MaxIssueTTL)
	}
	if req.UserID == "" || len(req.UserID) > storage.MaxIDLen {
		return policy.Decision{}, nil, fmt.Errorf("%w: user_id is required", ErrBadRequest)
	}
	if _, err := s.Directory.User(ctx, org, req.UserID); err != nil {
		return policy.Decision{}, nil, err
	}
	dec, err := s.Decide(ctx, org, req.UserID, Facts{Platform: req.Platform, Ownership: req.Ownership, FromPerson: true})
	if err != nil {
		return dec, nil, err
	}
	if dec.Platform == policy.Android {
		return dec, nil, fmt.Errorf("%w: Android devices enroll with an Android enrollment token", ErrNotPermitted)
	}
	if err := directAccepted(dec); err != nil {
		return dec, nil, err
	}
	if dec.Outcome != policy.Enroll {
		return dec, nil, fmt.Errorf("%w: the policy decision is %q, not enroll", ErrNotPermitted, dec.Outcome)
	}
	tickets, err := s.OTA.Issue(ctx, org, req.UserID, dec, req.Count, req.ValidFor, actor)
	out := make([]IssuedProfile, len(tickets))
	for i, t := range tickets {
		out[i] = IssuedProfile{Session: t.Session, URL: t.URL, Expires: t.Expires}
	}
	return dec, out, err
}

// directAccepted refuses the direct profile to an iPhone or iPad whose
// policy does not accept it (policy.Requirements.AcceptDirectProfile):
// that profile carries no attestation that a genuine Apple device asked
// for it.
func directAccepted(dec policy.Decision) error {
	if dec.Platform == policy.IOS && dec.Outcome == policy.Enroll && !dec.Requirements.AcceptDirectProfile {
		return fmt.Errorf("%w: this organization enrolls iPhones and iPads over the air only; "+
			"the direct profile (for simulators) is not accepted by the policy", ErrNotPermitted)
	}
	return nil
}

// RevokeEnrollmentProfile ends an issued enrollment profile (or any
// enrollment session) of org that no device has completed: its link and
// SCEP challenge are refused from then on. One already used yields an
// error wrapping storage.ErrConflict (deprovision the device instead),
// an unknown one storage.ErrNotFound.
func (s *SDK) RevokeEnrollmentProfile(ctx context.Context, org storage.OrgID, session, actor string) error {
	now := s.now()
	return s.Store.RevokeEnrollSession(ctx, org, session, now, storage.AuditEntry{Org: org, Time: now, Actor: actor,
		Action: ActionEnrollmentRevoked, Target: "enrollment:" + session})
}

// ActionEnrollmentRevoked is the audit action of a revoked enrollment
// profile.
const ActionEnrollmentRevoked = "enroll.session.revoke"

func (s *SDK) adminIssueProfiles(w http.ResponseWriter, r *http.Request) {
	var req struct {
		IssueRequest
		ValidFor string `json:"valid_for"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		writeErr(w, s.log, err)
		return
	}
	if req.ValidFor != "" {
		d, err := time.ParseDuration(req.ValidFor)
		if err != nil {
			writeAPIError(w, http.StatusBadRequest, "invalid_request", `valid_for must be a duration such as "72h"`)
			return
		}
		req.IssueRequest.ValidFor = d
	}
	a := adminFrom(r)
	dec, list, err := s.IssueEnrollmentProfiles(r.Context(), a.Org, req.IssueRequest, a.Actor)
	if err != nil && len(list) == 0 {
		writeErr(w, s.log, err)
		return
	}
	if err != nil {
		s.log.Warn("enrollment profiles: a batch stopped short", "issued", len(list), "err", err)
	}
	writeJSON(w, http.StatusCreated, map[string]any{"policy": dec.Policy, "profiles": list})
}

func (s *SDK) adminRevokeProfile(w http.ResponseWriter, r *http.Request) {
	a := adminFrom(r)
	err := s.RevokeEnrollmentProfile(r.Context(), a.Org, r.PathValue("id"), a.Actor)
	if errors.Is(err, storage.ErrInvalid) {
		err = fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
