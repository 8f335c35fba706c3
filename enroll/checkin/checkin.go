package checkin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/openomm/omm/events"

	"github.com/micromdm/plist"

	"github.com/openomm/omm/auth"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/mdm"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// CheckIn handles one check-in message from a device of org and returns the
// response body (empty for every message but GetBootstrapToken and
// DeclarativeManagement, whose answers are JSON).
func (s *Service) CheckIn(ctx context.Context, org storage.OrgID, p Proof, body []byte) ([]byte, error) {
	out, _, err := s.checkIn(ctx, org, p, body)
	return out, err
}

// checkIn is CheckIn, also reporting whether the answer is JSON.
func (s *Service) checkIn(ctx context.Context, org storage.OrgID, p Proof, body []byte) (out []byte, isJSON bool, err error) {
	msg, err := mdm.ParseCheckIn(body)
	if err != nil {
		return nil, false, err
	}
	channel := msg.From().Device()
	if msg.From().User() != "" {
		return nil, false, ErrDeclined
	}
	switch m := msg.(type) {
	case *mdm.Authenticate:
		return nil, false, s.authenticate(ctx, org, p, body, m)
	case *mdm.UserAuthenticate:
		return nil, false, ErrDeclined
	case *mdm.GetToken:
		return nil, false, fmt.Errorf("%w: %s", ErrUnsupported, msg.Type())
	case *mdm.DeclarativeManagement:
		if s.ddm == nil {
			return nil, false, fmt.Errorf("%w: %s", ErrUnsupported, msg.Type())
		}
	}
	d, id, err := s.boundDevice(ctx, org, p, body, channel)
	if err != nil {
		return nil, false, err
	}
	if _, out := msg.(*mdm.CheckOut); out {
		// Also for an enrollment that has ended: saying so again is harmless.
		return nil, false, s.checkOut(ctx, d)
	}
	if d.State.Terminal() {
		// Checked out, deprovisioned, wiped or superseded: an identity of
		// an ended enrollment gets nothing (no bootstrap token, no token
		// update), and is told to remove its enrollment.
		return nil, false, ended(d)
	}
	if m, ok := msg.(*mdm.DeclarativeManagement); ok {
		out, err := s.declarative(ctx, d, m)
		return out, true, err
	}
	out, err = s.message(ctx, d, id, msg)
	return out, false, err
}

// declarative hands a DeclarativeManagement message of a bound device
// whose enrollment is live to the declarative service.
func (s *Service) declarative(ctx context.Context, d inventory.Device, m *mdm.DeclarativeManagement) ([]byte, error) {
	s.seen(ctx, d)
	out, err := s.ddm.DeclarativeManagement(ctx, d, m.Endpoint, m.Data)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return out, err
}

// message handles a check-in message of a bound device whose enrollment
// is live.
func (s *Service) message(ctx context.Context, d inventory.Device, id enroll.Identity, msg mdm.Message) ([]byte, error) {
	now := s.clock()
	s.seen(ctx, d)
	switch m := msg.(type) {
	case *mdm.TokenUpdate:
		return nil, s.tokenUpdate(ctx, d, id, m)
	case *mdm.SetBootstrapToken:
		return nil, s.store.SetBootstrapToken(ctx, d.Org, d.ID, m.BootstrapToken, now)
	case *mdm.GetBootstrapToken:
		e, err := s.store.Enrollment(ctx, d.Org, d.ID)
		if err != nil {
			return nil, err
		}
		answer := map[string]any{}
		if len(e.BootstrapToken) > 0 {
			answer["BootstrapToken"] = e.BootstrapToken
		}
		return plist.Marshal(answer)
	}
	return nil, fmt.Errorf("%w: %s", ErrUnsupported, msg.Type())
}

// authenticate binds the identity to the device that presents it, creating
// the device's record (or continuing an interrupted Authenticate), and
// starts the enrollment afresh.
func (s *Service) authenticate(ctx context.Context, org storage.OrgID, p Proof, body []byte, m *mdm.Authenticate) error {
	id, err := s.identity(ctx, org, p, body)
	if err != nil {
		return err
	}
	// An identity issued to a user who has since left enrolls nothing.
	if err := auth.CheckActive(ctx, s.users, org, id.UserID); err != nil {
		s.failed(ctx, org, id, "the user is not active")
		return fmt.Errorf("%w: %w", ErrForbidden, err)
	}
	channel := m.From().Device()
	actor := "device:" + channel
	if id.AttestedUDID != "" && id.AttestedUDID != channel {
		// Phase 2 of the identity's session named the device, signed by
		// Apple's device CA: the identity enrolls that device only.
		return forbidden("identity %s was issued to the device its enrollment attested, not to %q", id.Serial, channel)
	}
	if id.Platform != "" && id.Platform != policyPlatform(platformOf(m)) {
		return forbidden("identity %s was issued for a %s enrollment, not for a %s device", id.Serial, id.Platform, platformOf(m))
	}
	a := enroll.Authentication{
		ClearEntry: storage.AuditEntry{Org: org, Actor: actor, Action: ActionAuthenticate},
		Enrollment: enroll.Enrollment{Org: org, Channel: channel, UserEnrollment: m.From().IsUserEnrollment(), Topic: m.Topic},
	}
	var d inventory.Device
	switch {
	case id.Device != "":
		// The same identity again (a retried Authenticate): same device only.
		if d, err = s.devices.Device(ctx, org, id.Device); err != nil {
			return fmt.Errorf("checkin: device %s: %w", id.Device, err)
		}
		if d.Identifier != channel {
			return forbidden("identity %s belongs to another device", id.Serial)
		}
		if d.State.Terminal() {
			// The enrollment this identity belonged to has ended (checked
			// out, deprovisioned, wiped): enrolling again takes a new one.
			return ended(d)
		}
		if id.Renews != "" {
			return nil // a retried Authenticate of a renewed identity: nothing restarts
		}
	case !id.Revoked.IsZero():
		s.failed(ctx, org, id, "the enrollment credential was revoked")
		return forbidden("identity %s was revoked before any device used it", id.Serial)
	case id.Renews != "":
		// A device that installed its renewal profile authenticates with
		// the new identity: the same enrollment goes on, with its queue,
		// tokens, inventory and apps (the TokenUpdate that follows only
		// refreshes the token).
		_, err := s.bindRenewal(ctx, id, channel)
		return err
	default:
		if d, a.Register, err = s.deviceFor(ctx, org, id, m); err != nil {
			return err
		}
		if a.Register != nil {
			a.RegisterEntry = inventory.RegisterEntry(d, actor, s.clock())
		}
		a.Identity = id.Fingerprint
		a.BindEntry = storage.AuditEntry{Org: org, Time: s.clock(), Actor: actor, Action: ActionIdentityBind, Target: "device:" + d.ID,
			Details: map[string]string{"serial": id.Serial, "session": id.Session}}
	}
	// Register (a new device), bind, then start afresh: a new enrollment
	// starts with an empty queue and fresh tokens. One transaction: a
	// failure leaves no device registered without its identity, and no
	// identity bound without its enrollment started.
	now := s.clock()
	a.ClearEntry.Time, a.ClearEntry.Target = now, "device:"+d.ID
	a.Enrollment.Device, a.Enrollment.Updated = d.ID, now
	if _, err := s.store.Authenticate(ctx, a); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return forbidden("identity %s is bound to another device", id.Serial)
		}
		return err
	}
	return nil
}

// deviceFor finds the inventory record of a device authenticating with a
// fresh identity, or makes the new one Authenticate is to store (returned
// also as new). A UDID names one device under management at a time, and
// whose it is decides:
//
//   - no record that has not left management: a new record;
//   - another user's record: refused, nothing changes — a user of the org
//     must not end a colleague's enrollment (and leave the org's data on
//     that phone) by naming its UDID; an admin deprovisions the device
//     before it can enroll for someone else;
//   - the same user's pending record (an Authenticate interrupted before
//     the identity was bound, as one stored in several transactions could
//     be): reused;
//   - the same user's enrolled (or deprovisioning) record: a
//     re-enrollment of the same phone, after a local wipe or with a new
//     identity. The old record is superseded — deprovisioned, its queue
//     cleared, audited as ActionReenroll with both records — and a device
//     still presenting the old identity is answered ErrEnded (401), which
//     makes it remove the MDM profile and the org's data with it.
func (s *Service) deviceFor(ctx context.Context, org storage.OrgID, id enroll.Identity, m *mdm.Authenticate) (inventory.Device, *inventory.Device, error) {
	channel := m.From().Device()
	old, err := s.devices.DeviceByIdentifier(ctx, org, channel)
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		return inventory.Device{}, nil, err
	case old.UserID != id.UserID:
		return inventory.Device{}, nil, forbidden("device %q is under management for another user; it must be deprovisioned before it enrolls again", channel)
	case old.State == inventory.StatePending:
		return old, nil, nil
	default:
		if err := s.supersede(ctx, old, id); err != nil {
			return inventory.Device{}, nil, err
		}
	}
	typ := inventory.EnrollAppleDevice
	if m.From().IsUserEnrollment() {
		typ = inventory.EnrollAppleUser
	}
	d := inventory.Device{
		ID: inventory.NewDeviceID(), Org: org, UserID: id.UserID, Platform: platformOf(m), Ownership: inventory.OwnershipPersonal,
		EnrollmentType: typ, Identifier: channel, SerialNumber: m.SerialNumber, State: inventory.StatePending,
	}
	return d, &d, nil
}

// supersede ends old, the same user's earlier enrollment of the device
// that re-enrolls with identity id.
func (s *Service) supersede(ctx context.Context, old inventory.Device, id enroll.Identity) error {
	actor := "device:" + old.Identifier
	if _, err := s.devices.SetState(ctx, old.Org, old.ID, inventory.StateDeprovisioned, actor,
		"superseded: the device enrolled again"); err != nil {
		return fmt.Errorf("checkin: supersede enrollment %s: %w", old.ID, err)
	}
	_, err := s.store.ClearQueue(ctx, old.Org, old.ID, storage.AuditEntry{
		Org: old.Org, Time: s.clock(), Actor: actor, Action: ActionReenroll, Target: "device:" + old.ID,
		Details: map[string]string{"user": id.UserID, "serial": id.Serial, "session": id.Session, "attested": fmt.Sprint(id.AttestedUDID != "")},
	})
	return err
}

// ended is the error for a request of an enrollment that has ended.
func ended(d inventory.Device) error {
	return fmt.Errorf("%w: device %s is %s", ErrEnded, d.ID, d.State)
}

// policyPlatform is the policy platform of an inventory platform.
func policyPlatform(p inventory.Platform) policy.Platform {
	if p == inventory.PlatformMacOS {
		return policy.MacOS
	}
	return policy.IOS
}

// platformOf tells the platform from the product name ("iPhone14,2",
// "iPad8,1", "MacBookPro18,3", "iMac14,2").
func platformOf(m *mdm.Authenticate) inventory.Platform {
	switch p := m.ProductName; {
	case strings.HasPrefix(p, "iPad"):
		return inventory.PlatformIPadOS
	case strings.HasPrefix(p, "iPhone"), strings.HasPrefix(p, "iPod"):
		return inventory.PlatformIOS
	case strings.Contains(p, "Mac"), m.ModelName != "" && strings.Contains(m.ModelName, "Mac"):
		return inventory.PlatformMacOS
	}
	return inventory.PlatformIOS
}

// tokenUpdate stores the push token; the first one (or a retried one while
// the device is still pending) completes the enrollment: the device counts
// as enrolled, its policy profile and first inventory are queued and it is
// woken to fetch them.
func (s *Service) tokenUpdate(ctx context.Context, d inventory.Device, id enroll.Identity, m *mdm.TokenUpdate) error {
	if d.State.Terminal() {
		return ended(d)
	}
	if d.State == inventory.StatePending {
		// This token would complete the enrollment: not for a user who
		// has left. (An enrolled device's tokens keep coming: its removal
		// commands need them.)
		if err := auth.CheckActive(ctx, s.users, d.Org, id.UserID); err != nil {
			return fmt.Errorf("%w: %w", ErrForbidden, err)
		}
	}
	u := enroll.TokenUpdate{Topic: m.Topic, Token: m.Token, PushMagic: m.PushMagic, UnlockToken: m.UnlockToken, At: s.clock()}
	if d.State == inventory.StatePending {
		// The token completes the enrollment: both in one transaction.
		done, err := s.completeEnrollment(ctx, d, id, &u)
		if err == nil {
			s.emit(ctx, Enrolled, done)
			return nil
		}
		if !errors.Is(err, storage.ErrConflict) {
			return err
		}
		// The device left pending meanwhile (a concurrent TokenUpdate
		// completed it): nothing was stored; go the way of a device that
		// is no longer pending.
	}
	_, first, err := s.store.UpdateToken(ctx, d.Org, d.ID, u)
	if err != nil {
		return err
	}
	// A device still pending has not completed enrollment, even when this
	// is not its first token: an earlier completion failed and the device
	// retried its TokenUpdate.
	if !first && d.State != inventory.StatePending {
		return nil
	}
	d, err = s.completeEnrollment(ctx, d, id, nil)
	if !first && errors.Is(err, storage.ErrConflict) {
		// A concurrent TokenUpdate of the same device completed it first
		// (or the device has left pending otherwise): nothing is left to do.
		return nil
	}
	if err != nil {
		return err
	}
	s.emit(ctx, Enrolled, d)
	return nil
}

// completeEnrollment stores what the first TokenUpdate starts, in one
// transaction: the move from pending to enrolled, the token u (unless nil:
// stored already), the policy's profile (passcode rules and data
// separation arrive right after enrollment), the first inventory
// commands and what the WithCompletion hook adds; then it wakes the device
// to fetch them.
func (s *Service) completeEnrollment(ctx context.Context, d inventory.Device, id enroll.Identity, u *enroll.TokenUpdate) (inventory.Device, error) {
	var cmds []queuedCommand
	if s.profiles != nil && id.Session != "" {
		payload, err := s.profiles.SignedPolicyProfile(ctx, d.Org, id.Session)
		if err != nil {
			return d, fmt.Errorf("checkin: policy profile for %s: %w", d.ID, err)
		}
		if payload != nil {
			cmds = append(cmds, queuedCommand{action: ActionProfileInstall, cmd: mdm.InstallProfile(payload)})
		}
	}
	inv, err := inventoryCommands(d.Platform)
	if err != nil {
		return d, err
	}
	for _, c := range inv {
		cmds = append(cmds, queuedCommand{action: ActionInventoryRefresh, cmd: c})
	}
	var to inventory.State
	if d.State == inventory.StatePending {
		to = inventory.StateEnrolled
	}
	var extend func(*enroll.DeviceAction)
	if s.completing != nil && to == inventory.StateEnrolled {
		extend = func(a *enroll.DeviceAction) { s.completing(ctx, d, id, a) }
	}
	return s.actAllWith(ctx, d, to, "device:"+d.Identifier, "system:enrollment", "first token update", cmds, u, extend)
}

// checkOut ends the enrollment: the device removed its MDM profile, so
// whatever was queued will never be delivered.
func (s *Service) checkOut(ctx context.Context, d inventory.Device) error {
	now := s.clock()
	if err := s.store.CheckOut(ctx, d.Org, d.ID, now); err != nil {
		return err
	}
	if _, err := s.store.ClearQueue(ctx, d.Org, d.ID, storage.AuditEntry{
		Org: d.Org, Time: now, Actor: "device:" + d.Identifier, Action: ActionCheckout, Target: "device:" + d.ID, Event: events.CheckedOut,
	}); err != nil {
		return err
	}
	if d.State.Terminal() {
		return nil
	}
	d, err := s.devices.SetState(ctx, d.Org, d.ID, inventory.StateDeprovisioned, "device:"+d.Identifier, "the MDM profile was removed")
	if err != nil {
		return err
	}
	s.emit(ctx, CheckedOut, d)
	return nil
}

// failed records a refused enrollment in the event stream, when the
// service has one; a failure to record it is logged, the refusal stands.
func (s *Service) failed(ctx context.Context, org storage.OrgID, id enroll.Identity, reason string) {
	if s.eventLog == nil {
		return
	}
	if _, err := s.eventLog.AppendEvent(ctx, events.Failed(org, "", id.UserID, "identity:"+id.Serial, reason, s.clock())); err != nil {
		s.log.WarnContext(ctx, "checkin: record a refused enrollment", "org", org, "err", err)
	}
}
