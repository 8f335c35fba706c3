package storagetest

import (
	"context"
	"testing"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage/memory"
)

// authenticateInSteps writes an Authenticate as four transactions, as the
// check-in service did before the contract: a refused binding leaves the
// device registered, as a crash between the writes would.
type authenticateInSteps struct{ *memory.Store }

func (s authenticateInSteps) Authenticate(ctx context.Context, a enroll.Authentication) (enroll.Identity, error) {
	if a.Register != nil {
		if _, err := s.CreateDevice(ctx, *a.Register, a.RegisterEntry); err != nil {
			return enroll.Identity{}, err
		}
	}
	var id enroll.Identity
	if a.Identity != "" {
		var err error
		if id, err = s.BindIdentity(ctx, a.Enrollment.Org, a.Identity, a.Enrollment.Device, a.BindEntry); err != nil {
			return enroll.Identity{}, err
		}
	}
	if _, err := s.ClearQueue(ctx, a.Enrollment.Org, a.Enrollment.Device, a.ClearEntry); err != nil {
		return enroll.Identity{}, err
	}
	_, err := s.StartEnrollment(ctx, a.Enrollment)
	return id, err
}

// authenticateNoBind registers the device and starts its enrollment but
// leaves the identity unbound.
type authenticateNoBind struct{ *memory.Store }

func (s authenticateNoBind) Authenticate(ctx context.Context, a enroll.Authentication) (enroll.Identity, error) {
	a.Identity = ""
	return s.Store.Authenticate(ctx, a)
}

func TestSuiteCatchesBrokenAuthenticate(t *testing.T) {
	broken := map[string]func() Store{
		"an Authenticate in four transactions": func() Store { return authenticateInSteps{memory.New()} },
		"an Authenticate that binds nothing":   func() Store { return authenticateNoBind{memory.New()} },
	}
	expectCaught(t, broken, "Authenticate/")
}
