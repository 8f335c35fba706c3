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
	if m, ok := msg.(*mdm.DeclarativeManagement); ok {
		out, err := s.declarative(ctx, d, m)
		return out, true, err
	}
	out, err = s.message(ctx, d, id, msg)
	return out, false, err
}

// declarative hands a DeclarativeManagement message of a bound device to
// the declarative service.
func (s *Service) declarative(ctx context.Context, d inventory.Device, m *mdm.DeclarativeManagement) ([]byte, error) {
	if d.State.Terminal() {
		return nil, forbidden("device %s is %s: its enrollment has ended", d.ID, d.State)
	}
	s.seen(ctx, d)
	out, err := s.ddm.DeclarativeManagement(ctx, d, m.Endpoint, m.Data)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return out, err
}

// message handles a check-in message of a bound device.
func (s *Service) message(ctx context.Context, d inventory.Device, id enroll.Identity, msg mdm.Message) ([]byte, error) {
	now := s.clock()
	s.seen(ctx, d)
	switch m := msg.(type) {
	case *mdm.TokenUpdate:
		return nil, s.tokenUpdate(ctx, d, id, m)
	case *mdm.CheckOut:
		return nil, s.checkOut(ctx, d)
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
			return forbidden("identity %s belongs to an enrollment that has ended (device %s is %s)", id.Serial, d.ID, d.State)
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
		if d, err = s.deviceFor(ctx, org, id, m); err != nil {
			return err
		}
		if id, err = s.store.BindIdentity(ctx, org, id.Fingerprint, d.ID, storage.AuditEntry{
			Org: org, Time: s.clock(), Actor: actor, Action: "device.identity.bind", Target: "device:" + d.ID,
			Details: map[string]string{"serial": id.Serial, "session": id.Session},
		}); err != nil {
			if errors.Is(err, storage.ErrConflict) {
				return forbidden("identity %s is bound to another device", id.Serial)
			}
			return err
		}
	}
	if id.Renews != "" {
		return nil // a retried Authenticate of a renewed identity: nothing restarts
	}
	// A new enrollment starts with an empty queue and fresh tokens.
	if _, err := s.store.ClearQueue(ctx, org, d.ID, storage.AuditEntry{
		Org: org, Time: s.clock(), Actor: actor, Action: "device.authenticate", Target: "device:" + d.ID,
	}); err != nil {
		return err
	}
	_, err = s.store.StartEnrollment(ctx, enroll.Enrollment{
		Org: org, Device: d.ID, Channel: channel, UserEnrollment: m.From().IsUserEnrollment(), Topic: m.Topic, Updated: s.clock(),
	})
	return err
}

// deviceFor finds or registers the inventory record of a device
// authenticating with a fresh identity. An earlier enrollment of the same
// device is superseded; a pending record of the same user (an Authenticate
// that was interrupted before binding) is reused.
func (s *Service) deviceFor(ctx context.Context, org storage.OrgID, id enroll.Identity, m *mdm.Authenticate) (inventory.Device, error) {
	channel := m.From().Device()
	old, err := s.devices.DeviceByIdentifier(ctx, org, channel)
	switch {
	case err == nil && old.State == inventory.StatePending && old.UserID == id.UserID:
		return old, nil
	case err == nil:
		if _, err := s.devices.SetState(ctx, org, old.ID, inventory.StateDeprovisioned, "device:"+channel,
			"the device enrolled again"); err != nil {
			return inventory.Device{}, fmt.Errorf("checkin: supersede enrollment %s: %w", old.ID, err)
		}
		if _, err := s.store.ClearQueue(ctx, org, old.ID, storage.AuditEntry{
			Org: org, Time: s.clock(), Actor: "device:" + channel, Action: "device.queue.clear", Target: "device:" + old.ID,
		}); err != nil {
			return inventory.Device{}, err
		}
	case !errors.Is(err, storage.ErrNotFound):
		return inventory.Device{}, err
	}
	typ := inventory.EnrollAppleDevice
	if m.From().IsUserEnrollment() {
		typ = inventory.EnrollAppleUser
	}
	return s.devices.Register(ctx, inventory.Device{
		Org: org, UserID: id.UserID, Platform: platformOf(m), Ownership: inventory.OwnershipPersonal,
		EnrollmentType: typ, Identifier: channel, SerialNumber: m.SerialNumber,
	}, "device:"+channel)
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
		return forbidden("device %s is %s: its enrollment has ended", d.ID, d.State)
	}
	if d.State == inventory.StatePending {
		// This token would complete the enrollment: not for a user who
		// has left. (An enrolled device's tokens keep coming: its removal
		// commands need them.)
		if err := auth.CheckActive(ctx, s.users, d.Org, id.UserID); err != nil {
			return fmt.Errorf("%w: %w", ErrForbidden, err)
		}
	}
	_, first, err := s.store.UpdateToken(ctx, d.Org, d.ID, enroll.TokenUpdate{
		Topic: m.Topic, Token: m.Token, PushMagic: m.PushMagic, UnlockToken: m.UnlockToken, At: s.clock(),
	})
	if err != nil {
		return err
	}
	// A device still pending has not completed enrollment, even when this
	// is not its first token: an earlier completion failed and the device
	// retried its TokenUpdate.
	if !first && d.State != inventory.StatePending {
		return nil
	}
	d, err = s.completeEnrollment(ctx, d, id)
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
// transaction: the move from pending to enrolled, the policy's profile
// (passcode rules and data separation arrive right after enrollment) and
// the first inventory commands; then it wakes the device to fetch them.
func (s *Service) completeEnrollment(ctx context.Context, d inventory.Device, id enroll.Identity) (inventory.Device, error) {
	var cmds []queuedCommand
	if s.profiles != nil && id.Session != "" {
		payload, err := s.profiles.SignedPolicyProfile(ctx, d.Org, id.Session)
		if err != nil {
			return d, fmt.Errorf("checkin: policy profile for %s: %w", d.ID, err)
		}
		if payload != nil {
			cmds = append(cmds, queuedCommand{action: "device.profile.install", cmd: mdm.InstallProfile(payload)})
		}
	}
	inv, err := inventoryCommands(d.Platform)
	if err != nil {
		return d, err
	}
	for _, c := range inv {
		cmds = append(cmds, queuedCommand{action: "device.inventory.refresh", cmd: c})
	}
	var to inventory.State
	if d.State == inventory.StatePending {
		to = inventory.StateEnrolled
	}
	return s.actAll(ctx, d, to, "device:"+d.Identifier, "system:enrollment", "first token update", cmds)
}

// checkOut ends the enrollment: the device removed its MDM profile, so
// whatever was queued will never be delivered.
func (s *Service) checkOut(ctx context.Context, d inventory.Device) error {
	now := s.clock()
	if err := s.store.CheckOut(ctx, d.Org, d.ID, now); err != nil {
		return err
	}
	if _, err := s.store.ClearQueue(ctx, d.Org, d.ID, storage.AuditEntry{
		Org: d.Org, Time: now, Actor: "device:" + d.Identifier, Action: "device.checkout", Target: "device:" + d.ID, Event: events.CheckedOut,
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
