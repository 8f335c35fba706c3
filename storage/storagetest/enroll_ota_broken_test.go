package storagetest

import (
	"context"
	"testing"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// Broken enrollment-session and identity backends, each breaking one rule
// of enroll.SessionStore or enroll.IdentityStore.

// replayableSession ignores the version, so a challenge can be used twice.
type replayableSession struct{ *memory.Store }

func (s replayableSession) AdvanceEnrollSession(ctx context.Context, se enroll.Session, id *enroll.Identity, e storage.AuditEntry) (enroll.Session, error) {
	if stored, err := s.EnrollSession(ctx, se.Org, se.ID); err == nil {
		se.Version = stored.Version
		if se.Phase == stored.Phase { // let the replay through the phase check too
			return s.Store.EnrollSession(ctx, se.Org, se.ID)
		}
	}
	return s.Store.AdvanceEnrollSession(ctx, se, id, e)
}

// leakySessions finds a session in any org.
type leakySessions struct{ *memory.Store }

func (s leakySessions) EnrollSession(ctx context.Context, org storage.OrgID, id string) (enroll.Session, error) {
	orgs, _ := s.ListOrgs(ctx)
	for _, o := range orgs {
		if se, err := s.Store.EnrollSession(ctx, o.ID, id); err == nil {
			return se, nil
		}
	}
	return s.Store.EnrollSession(ctx, org, id)
}

// halfIssue records the identity before the session step, outside one
// transaction, so a refused step leaves an issued identity behind.
type halfIssue struct{ *memory.Store }

func (s halfIssue) AdvanceEnrollSession(ctx context.Context, se enroll.Session, id *enroll.Identity, e storage.AuditEntry) (enroll.Session, error) {
	if id != nil {
		if _, err := s.RecordIdentity(ctx, *id, e); err != nil {
			return enroll.Session{}, err
		}
	}
	return s.Store.AdvanceEnrollSession(ctx, se, nil, e)
}

// stealableIdentity lets a second device take a bound identity.
type stealableIdentity struct{ *memory.Store }

func (s stealableIdentity) BindIdentity(ctx context.Context, org storage.OrgID, f enroll.Fingerprint, device string, e storage.AuditEntry) (enroll.Identity, error) {
	id, err := s.Store.BindIdentity(ctx, org, f, device, e)
	if err != nil && id.Device == "" {
		stored, gerr := s.Identity(ctx, org, f)
		if gerr == nil {
			stored.Device = device
			return stored, nil
		}
	}
	return id, err
}

// closedBinding never sees a device's queue: an idle check-in would miss
// its commands.
type closedBinding struct{ *memory.Store }

func (s closedBinding) Binding(ctx context.Context, org storage.OrgID, f enroll.Fingerprint) (enroll.Binding, error) {
	b, err := s.Store.Binding(ctx, org, f)
	b.Open = false
	return b, err
}

// leakyBinding finds a binding in any org.
type leakyBinding struct{ *memory.Store }

func (s leakyBinding) Binding(ctx context.Context, org storage.OrgID, f enroll.Fingerprint) (enroll.Binding, error) {
	orgs, _ := s.ListOrgs(ctx)
	for _, o := range orgs {
		if b, err := s.Store.Binding(ctx, o.ID, f); err == nil {
			return b, nil
		}
	}
	return s.Store.Binding(ctx, org, f)
}

// unboundBinding answers for an identity bound to no device, with an
// empty device.
type unboundBinding struct{ *memory.Store }

func (s unboundBinding) Binding(ctx context.Context, org storage.OrgID, f enroll.Fingerprint) (enroll.Binding, error) {
	b, err := s.Store.Binding(ctx, org, f)
	if err != nil {
		if id, ierr := s.Identity(ctx, org, f); ierr == nil {
			return enroll.Binding{Identity: id}, nil
		}
	}
	return b, err
}

func TestSuiteCatchesBrokenEnrollOTABackends(t *testing.T) {
	broken := map[string]func() Store{
		"replayable session": func() Store { return replayableSession{memory.New()} },
		"leaky sessions":     func() Store { return leakySessions{memory.New()} },
		"half issue":         func() Store { return halfIssue{memory.New()} },
		"stealable identity": func() Store { return stealableIdentity{memory.New()} },
		"closed binding":     func() Store { return closedBinding{memory.New()} },
		"leaky binding":      func() Store { return leakyBinding{memory.New()} },
		"unbound binding":    func() Store { return unboundBinding{memory.New()} },
	}
	expectCaught(t, broken, "EnrollSession/", "Identity/", "SCEPCA/")
}
