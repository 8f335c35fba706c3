package omm

import (
	"context"
	"errors"

	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/enroll/declarative"
	"github.com/openomm/omm/enroll/ota"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/policy"
	"github.com/openomm/omm/storage"
)

// Declarative device management in the composition: the SDK is the
// declarative service's source (the policy decision, the catalog apps and
// the policy profile MDM installed), policy changes reach declarative
// devices as new declarations instead of profiles, app assignments
// refresh their declarations, and the admin views show per device which
// channel manages it and its compliance.

// declarativeSource is the SDK as the declarative service's Source.
type declarativeSource struct{ s *SDK }

// Decide implements declarative.Source: the decision policy
// re-application takes for the device.
func (src declarativeSource) Decide(ctx context.Context, d inventory.Device, osVersion string) (policy.Decision, error) {
	_, dec, err := src.decide(ctx, d, osVersion)
	return dec, err
}

// decide is Decide, with the user it read.
func (src declarativeSource) decide(ctx context.Context, d inventory.Device, osVersion string) (policy.User, policy.Decision, error) {
	u, err := src.s.policyUser(ctx, d.Org, d.UserID)
	if err != nil {
		return u, policy.Decision{}, err
	}
	dec, err := src.s.Policy.Reevaluate(ctx, d.Org, u, ota.AppleFacts(d, osVersion))
	return u, dec, err
}

// DecideApps implements declarative.AppsDecider: Decide and Apps from one
// directory read of the user.
func (src declarativeSource) DecideApps(ctx context.Context, d inventory.Device, osVersion string) (policy.Decision, []declarative.App, error) {
	u, dec, err := src.decide(ctx, d, osVersion)
	if err != nil || dec.Outcome == policy.Denied {
		return dec, nil, err
	}
	apps, err := src.apps(ctx, d, u)
	return dec, apps, err
}

// Apps implements declarative.Source: the in-house apps assigned to the
// user's groups to be installed automatically. They become declarative
// managed apps (the device installs them by itself and reports their
// state); apps the user installs from the store, and App Store apps (whose
// declarations need volume-purchase licenses the catalog does not model),
// go through MDM commands as before.
func (src declarativeSource) Apps(ctx context.Context, d inventory.Device) ([]declarative.App, error) {
	u, err := src.s.policyUser(ctx, d.Org, d.UserID)
	if err != nil {
		return nil, err
	}
	return src.apps(ctx, d, u)
}

// apps is Apps for user u, already read.
func (src declarativeSource) apps(ctx context.Context, d inventory.Device, u policy.User) ([]declarative.App, error) {
	if len(u.Groups) == 0 {
		return nil, nil
	}
	assigned, err := src.s.Store.AssignedApps(ctx, d.Org, u.Groups)
	if err != nil {
		return nil, err
	}
	var apps []declarative.App
	for _, aa := range assigned {
		m := aa.Mode()
		if aa.App.Kind != catalog.InHouse || !aa.App.Kind.RunsOn(d.Platform) || (m != catalog.AutoInstall && m != catalog.TakeOver) {
			continue
		}
		apps = append(apps, declarative.App{ID: aa.App.ID, Identifier: aa.App.Identifier, ManifestURL: aa.App.ManifestURL, Required: true})
	}
	return apps, nil
}

// CommandProfile implements declarative.Source: the policy profile MDM
// installed, by what its last re-application recorded or, before any, by
// the enrollment's requirements.
func (src declarativeSource) CommandProfile(ctx context.Context, d inventory.Device) (string, error) {
	fingerprint := ""
	a, err := src.s.Store.AppliedPolicy(ctx, d.Org, d.ID)
	switch {
	case err == nil:
		fingerprint = a.Fingerprint
	case errors.Is(err, storage.ErrNotFound):
		sess, err := src.s.Store.DeviceEnrollSession(ctx, d.Org, d.ID)
		if errors.Is(err, storage.ErrNotFound) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		fingerprint = ota.ProfileFingerprint(sess.Requirements)
	default:
		return "", err
	}
	if fingerprint == "" {
		return "", nil
	}
	return src.s.OTA.PolicyProfileIdentifier(d.Org), nil
}

// declarativeEvent is the declarative service's event hook: logged (the
// SDK has no event system yet).
func (s *SDK) declarativeEvent(ctx context.Context, e declarative.Event) {
	attrs := []any{"org", e.Org, "device", e.Device, "kind", e.Kind}
	if e.Compliance != nil {
		attrs = append(attrs, "compliance", e.Compliance.State)
	}
	if e.Kind == declarative.EventStatus {
		s.log.DebugContext(ctx, "declarative event", attrs...)
		return
	}
	s.log.InfoContext(ctx, "declarative event", attrs...)
}

// appNudger is the catalog's nudger: devices on the declarative channel
// get their declarations refreshed (a new automatic app is a new
// declaration, and one push), the others are woken to fetch their
// commands.
type appNudger struct {
	s *SDK
	w checkin.Waker
}

// Nudge implements catalog.Nudger.
func (n appNudger) Nudge(ctx context.Context, org storage.OrgID, devices []string) error {
	wake := devices
	if n.s.Declarative != nil {
		wake = nil
		for _, id := range devices {
			d, err := n.s.Store.Device(ctx, org, id)
			if err != nil {
				return err
			}
			_, err = n.s.Declarative.Refresh(ctx, d, AutoInstallActor)
			if errors.Is(err, declarative.ErrNotDeclarative) {
				wake = append(wake, id)
				continue
			}
			if err != nil {
				n.s.log.ErrorContext(ctx, "app store: refresh declarations", "org", org, "device", id, "err", err)
				wake = append(wake, id) // its commands at least
			}
		}
	}
	if n.w == nil || len(wake) == 0 {
		return nil
	}
	return n.w.Wake(ctx, org, wake)
}

// Channel says how an Apple device is managed — declarations or commands —
// and why; on the declarative channel with its compliance, recomputed
// from the status it reports. Nil for Android devices and without the
// declarative service.
func (s *SDK) Channel(ctx context.Context, d inventory.Device) (*declarative.Channel, error) {
	if s.Declarative == nil || !d.Platform.Apple() {
		return nil, nil
	}
	c, err := s.Declarative.Channel(ctx, d)
	if err != nil {
		return nil, err
	}
	return &c, nil
}
