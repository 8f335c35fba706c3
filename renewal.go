package omm

import (
	"context"
	"net/http"
	"time"

	"github.com/openomm/omm/enroll/ota"
	"github.com/openomm/omm/storage"
)

// RenewIdentities renews the MDM identities of org's Apple devices that
// enter their renewal window (Config.IdentityRenewalWindow): each gets a
// fresh enrollment profile and a push, and a device that does not complete
// its renewal is tried again with back-off (see ota.Renewer). Every
// replica may call it at once: each renewal is claimed in the database.
// [SDK.Run] calls it every round.
func (s *SDK) RenewIdentities(ctx context.Context, org storage.OrgID) (ota.RenewalRound, error) {
	return s.renewer.Renew(ctx, org)
}

// RenewalWindow is how long before an MDM identity expires it is renewed.
func (s *SDK) RenewalWindow() time.Duration { return s.renewer.Window() }

// IdentityRenewal is the unfinished renewal of a device's MDM identity, as
// the admin API shows it.
type IdentityRenewal struct {
	Device string `json:"device"`
	// NotAfter is when the device's current identity expires: unless the
	// device renews before, it falls off management then.
	NotAfter    time.Time `json:"not_after"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt"`
	// AtRisk: the identity expires within the at-risk period (a quarter
	// of the renewal window, at most enroll.DefaultRenewalAtRisk) and the
	// device has not renewed; Lapsed: it has expired.
	AtRisk bool `json:"at_risk"`
	Lapsed bool `json:"lapsed"`
}

// IdentityRenewals lists org's unfinished identity renewals, soonest
// expiry first (at most limit; see enroll.ListLimit): the devices an admin
// should look at before they fall off management.
func (s *SDK) IdentityRenewals(ctx context.Context, org storage.OrgID, limit int) ([]IdentityRenewal, error) {
	list, err := s.Store.Renewals(ctx, org, limit)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := make([]IdentityRenewal, 0, len(list))
	for _, r := range list {
		out = append(out, IdentityRenewal{Device: r.Device, NotAfter: r.NotAfter, Attempts: r.Attempts, NextAttempt: r.NextAttempt,
			AtRisk: r.AtRisk(now, s.renewer.AtRisk()), Lapsed: r.Lapsed(now)})
	}
	return out, nil
}

// renewIdentities is the renewal part of a reconcile round.
func (s *SDK) renewIdentities(ctx context.Context, org storage.OrgID) {
	r, err := s.RenewIdentities(ctx, org)
	if err != nil || r != (ota.RenewalRound{}) {
		s.log.Info("identity renewals", "org", org, "queued", r.Queued, "woken_again", r.Repushed, "at_risk", r.AtRisk,
			"failed", r.Failed, "err", err)
	}
}

func (s *SDK) adminRenewals(w http.ResponseWriter, r *http.Request) {
	limit, err := queryInt(r, "limit")
	if err != nil || limit < 0 {
		writeAPIError(w, http.StatusBadRequest, "invalid_request", "?limit= must be a positive number")
		return
	}
	list, err := s.IdentityRenewals(r.Context(), adminFrom(r).Org, int(limit))
	if err != nil {
		writeErr(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"renewals": list, "window": s.renewer.Window().String()})
}

// DefaultRenewalInterval is how often [SDK.RunRenewals] runs by default.
const DefaultRenewalInterval = time.Hour

// RunRenewals renews the device identities of every org
// ([SDK.RenewIdentities]) every interval (DefaultRenewalInterval when not
// positive) until ctx ends. [SDK.Run] renews at each of its rounds too;
// RunRenewals is for a cadence of its own (a short identity validity in a
// test, or renewals checked more often than the directory).
func (s *SDK) RunRenewals(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultRenewalInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.RenewAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RenewAll renews the due device identities of every org once, and warns
// of deployment credentials about to expire ([SDK.Credentials]).
func (s *SDK) RenewAll(ctx context.Context) {
	s.warnCredentials(ctx)
	orgs, err := s.Store.ListOrgs(ctx)
	if err != nil {
		s.log.Error("identity renewals: list orgs", "err", err)
		return
	}
	for _, o := range orgs {
		if ctx.Err() != nil {
			return
		}
		s.renewIdentities(ctx, o.ID)
	}
}
