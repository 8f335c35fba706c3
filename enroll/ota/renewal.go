package ota

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/mdm"
	"github.com/openomm/omm/events"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

// RenewalStore is what a [Renewer] needs from storage. storage/memory,
// storage/sqlite and storage/postgres implement it.
type RenewalStore interface {
	enroll.RenewalStore
	// DeviceEnrollSession returns the session the device enrolled with
	// (see ReapplyStore): the renewal profile is built from its decision,
	// so that a renewal never changes what the org may do.
	DeviceEnrollSession(ctx context.Context, org storage.OrgID, device string) (enroll.Session, error)
	// Device returns the inventory record of a device.
	Device(ctx context.Context, org storage.OrgID, id string) (inventory.Device, error)
	// Commands lists the device's latest commands (enroll.CommandQueue).
	Commands(ctx context.Context, org storage.OrgID, device string, limit int) ([]enroll.QueuedCommand, error)
}

// Renewer renews the MDM identities of enrolled Apple devices before they
// expire. An Apple device does not renew its MDM identity by itself: the
// server installs a fresh MDM enrollment profile (the same payload
// identifier, topic, server URLs, access rights and consent as the one the
// device enrolled with, built from the same enrollment decision) whose SCEP
// payload carries a one-time challenge of a renewal session bound to the
// identity being renewed. The device replaces its MDM profile, enrolls the
// new identity over SCEP and authenticates with it; check-in binds it to
// the same device (enroll.KindRenewal), which completes the renewal. The
// old identity stays valid until its own NotAfter: a device whose profile
// installation failed half-way still has it, and refusing it early would
// cut the device off.
//
// [Renewer.Renew] is meant to run periodically on every replica: each
// renewal is claimed in the database with a lease (enroll.RenewalStore),
// so that it is attempted once per due time whichever process runs it.
// A renewal the device has not completed is retried with back-off
// (enroll.RenewalBackoff): while the last renewal command still waits in
// the device's queue, only the push is repeated; once the device took it
// without completing, a fresh profile (with a fresh challenge; the previous
// one ends) is queued.
type Renewer struct {
	svc    *Service
	store  RenewalStore
	waker  Waker
	log    *slog.Logger
	now    func() time.Time
	window time.Duration
	lease  time.Duration
	atRisk time.Duration
	batch  int
}

// RenewOption configures [NewRenewer].
type RenewOption func(*Renewer)

// WithRenewalWindow sets how long before an identity's NotAfter its
// renewal starts (enroll.DefaultRenewalWindow).
func WithRenewalWindow(d time.Duration) RenewOption { return func(r *Renewer) { r.window = d } }

// WithRenewalWaker wakes a device after its renewal is queued (default:
// it finds it at its next check-in).
func WithRenewalWaker(w Waker) RenewOption { return func(r *Renewer) { r.waker = w } }

// WithRenewalLease sets how long a claimed renewal is reserved for this
// process (enroll.DefaultRenewalLease).
func WithRenewalLease(d time.Duration) RenewOption { return func(r *Renewer) { r.lease = d } }

// WithRenewalAtRisk sets how close to expiry an unfinished renewal is
// reported at risk (enroll.DefaultRenewalAtRisk).
func WithRenewalAtRisk(d time.Duration) RenewOption { return func(r *Renewer) { r.atRisk = d } }

// NewRenewer returns a renewer that builds and signs the renewal profiles
// with svc (the very MDM profile enrollment delivers), with svc's logger
// and clock.
func NewRenewer(svc *Service, store RenewalStore, opts ...RenewOption) *Renewer {
	r := &Renewer{svc: svc, store: store, log: svc.log, now: svc.now, window: enroll.DefaultRenewalWindow,
		lease: enroll.DefaultRenewalLease, atRisk: enroll.DefaultRenewalAtRisk, batch: 100}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Window is how long before NotAfter identities are renewed.
func (r *Renewer) Window() time.Duration { return r.window }

// AtRisk is how close to expiry an unfinished renewal is at risk.
func (r *Renewer) AtRisk() time.Duration { return r.atRisk }

// RenewalRound says what one [Renewer.Renew] did.
type RenewalRound struct {
	// Queued counts renewal profiles queued, Repushed devices woken again
	// for a profile still waiting in their queue, AtRisk attempts on
	// identities expiring within the at-risk period, Failed attempts that
	// failed (they are retried after their lease).
	Queued, Repushed, AtRisk, Failed int
}

// maxRenewalRounds bounds the claims of one Renew call.
const maxRenewalRounds = 100

// Renew attempts every due renewal of org's device identities (see
// [Renewer]). Errors of single devices are logged and counted, and the
// renewal is claimed again once its lease runs out; the error returned
// is the claim's.
func (r *Renewer) Renew(ctx context.Context, org storage.OrgID) (RenewalRound, error) {
	var out RenewalRound
	for range maxRenewalRounds {
		claimed, err := r.store.ClaimRenewals(ctx, enroll.RenewalClaim{Org: org, Now: r.now(), Window: r.window, Lease: r.lease, Limit: r.batch})
		if err != nil {
			return out, fmt.Errorf("ota: claim renewals of %q: %w", org, err)
		}
		for _, rn := range claimed {
			repushed, err := r.attempt(ctx, rn)
			switch {
			case err != nil:
				out.Failed++
				r.log.WarnContext(ctx, "ota: identity renewal attempt failed", "org", org, "device", rn.Device, "attempt", rn.Attempts, "err", err)
				continue
			case repushed:
				out.Repushed++
			default:
				out.Queued++
			}
			if rn.AtRisk(r.now(), r.atRisk) {
				out.AtRisk++
			}
		}
		if len(claimed) < r.batch {
			break
		}
	}
	return out, nil
}

// attempt queues the renewal profile of a claimed renewal, or wakes the
// device again when the last one still waits in its queue.
func (r *Renewer) attempt(ctx context.Context, rn enroll.Renewal) (repushed bool, err error) {
	now := r.now()
	next := now.Add(enroll.RenewalBackoff(rn.Attempts))
	entry := storage.AuditEntry{Org: rn.Org, Time: now, Actor: "system:renewal", Action: enroll.ActionRenewalQueued,
		Target: "device:" + rn.Device, Details: map[string]string{
			"attempt": strconv.Itoa(rn.Attempts), "attempts": strconv.Itoa(rn.Attempts),
			"not_after": rn.NotAfter.UTC().Format(time.RFC3339), "identity": string(rn.Identity),
		}}
	if rn.AtRisk(now, r.atRisk) {
		entry.Event = events.IdentityRenewalAtRisk
	}
	waiting, err := r.waiting(ctx, rn)
	if err != nil {
		return false, err
	}
	if waiting {
		entry.Details["wake"] = "again"
		if _, err := r.store.QueueRenewal(ctx, rn, nil, nil, next, entry); err != nil {
			return false, err
		}
		r.wake(ctx, rn)
		return true, nil
	}
	sess, cmd, err := r.profile(ctx, rn)
	if err != nil {
		return false, err
	}
	if entry.Event == "" {
		entry.Event = events.IdentityRenewalQueued
	}
	entry.Details["session"], entry.Details["uuid"] = sess.ID, cmd.UUID
	if _, err := r.store.QueueRenewal(ctx, rn, &sess, &cmd, next, entry); err != nil {
		return false, err
	}
	r.log.InfoContext(ctx, "ota: identity renewal queued", "org", rn.Org, "device", rn.Device, "attempt", rn.Attempts,
		"not_after", rn.NotAfter)
	r.wake(ctx, rn)
	return false, nil
}

// waiting reports whether the renewal's last command is still open in the
// device's queue.
func (r *Renewer) waiting(ctx context.Context, rn enroll.Renewal) (bool, error) {
	if rn.Command == "" {
		return false, nil
	}
	cmds, err := r.store.Commands(ctx, rn.Org, rn.Device, 1000)
	if err != nil {
		return false, err
	}
	for _, c := range cmds {
		if c.UUID == rn.Command {
			return c.Status.Open(), nil
		}
	}
	return false, nil
}

// profile builds the renewal session of rn and the InstallProfile command
// that carries its signed MDM enrollment profile.
func (r *Renewer) profile(ctx context.Context, rn enroll.Renewal) (enroll.Session, enroll.Command, error) {
	orig, err := r.store.DeviceEnrollSession(ctx, rn.Org, rn.Device)
	if errors.Is(err, storage.ErrNotFound) {
		return enroll.Session{}, enroll.Command{}, fmt.Errorf("ota: device %s has no enrollment session to renew from: %w", rn.Device, err)
	}
	if err != nil {
		return enroll.Session{}, enroll.Command{}, err
	}
	d, err := r.store.Device(ctx, rn.Org, rn.Device)
	if err != nil {
		return enroll.Session{}, enroll.Command{}, err
	}
	id := enroll.NewSessionID()
	challenge, hash := enroll.NewChallenge(id)
	sess := enroll.Session{
		Org: rn.Org, ID: id, Kind: enroll.KindRenewal, UserID: orig.UserID, Policy: orig.Policy, Requirements: orig.Requirements, Platform: orig.Platform,
		Phase: enroll.PhaseProfileSent, ChallengeHash: hash, Expires: rn.NotAfter, UDID: d.Identifier, Renews: rn.Identity,
	}
	signed, err := r.svc.RenewalProfile(ctx, sess, challenge)
	if err != nil {
		return enroll.Session{}, enroll.Command{}, err
	}
	c := mdm.InstallProfile(signed)
	body, err := c.Encode()
	if err != nil {
		return enroll.Session{}, enroll.Command{}, err
	}
	return sess, enroll.Command{UUID: c.UUID, RequestType: c.RequestType, Body: body}, nil
}

func (r *Renewer) wake(ctx context.Context, rn enroll.Renewal) {
	if r.waker == nil {
		return
	}
	if err := r.waker.Wake(ctx, rn.Org, []string{rn.Device}); err != nil {
		r.log.WarnContext(ctx, "ota: wake device for its identity renewal", "device", rn.Device, "err", err)
	}
}

// RenewalProfile returns the signed MDM enrollment profile of a renewal
// session: the profile enrollment delivers (same identifier, topic, server
// URLs; access rights and consent from the session's requirements, which
// the renewal copies from the device's enrollment), with a SCEP payload
// carrying challenge.
func (s *Service) RenewalProfile(ctx context.Context, sess enroll.Session, challenge string) ([]byte, error) {
	if sess.Kind != enroll.KindRenewal {
		return nil, fmt.Errorf("%w: %s session is not a renewal", storage.ErrInvalid, sess.Kind)
	}
	name, err := s.orgName(ctx, sess.Org)
	if err != nil {
		return nil, err
	}
	signer, err := s.signer(ctx, sess.Org)
	if err != nil {
		return nil, err
	}
	return signer.SignProfile(s.mdmProfile(name, sess, challenge))
}
