package storagetest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// Backends that each break one rule of the android contract; the suite
// must catch every one.

// leakyAndroidDevice finds a device in any org.
type leakyAndroidDevice struct{ *memory.Store }

func (s leakyAndroidDevice) AndroidDevice(ctx context.Context, org storage.OrgID, id string) (android.Device, error) {
	orgs, _ := s.ListOrgs(ctx)
	for _, o := range orgs {
		if d, err := s.Store.AndroidDevice(ctx, o.ID, id); err == nil {
			return d, nil
		}
	}
	return s.Store.AndroidDevice(ctx, org, id)
}

// reusableToken lets a one-time token be used again: its read and its use
// are not one step.
type reusableToken struct{ *memory.Store }

func (s reusableToken) UseAndroidToken(ctx context.Context, org storage.OrgID, id string, at time.Time, e storage.AuditEntry) (android.Token, error) {
	t, err := s.Store.AndroidToken(ctx, org, id)
	if err != nil {
		return t, err
	}
	if t.OneTime && t.Uses > 0 && at.Before(t.Expires) {
		t.Uses++
		return t, nil
	}
	return s.Store.UseAndroidToken(ctx, org, id, at, e)
}

// refinish lets a settled command be settled again, silently.
type refinish struct{ *memory.Store }

func (s refinish) FinishAndroidCommand(ctx context.Context, org storage.OrgID, id string, st android.Status, detail string, e storage.AuditEntry) (android.Command, error) {
	c, err := s.Store.AndroidCommand(ctx, org, id)
	if err == nil && c.Status != android.StatusPending {
		c.Status, c.Detail = st, detail
		return c, nil
	}
	return s.Store.FinishAndroidCommand(ctx, org, id, st, detail, e)
}

// unorderedPending returns pending commands in ID order only.
type unorderedPending struct{ *memory.Store }

func (s unorderedPending) PendingAndroidCommands(ctx context.Context, org storage.OrgID, device string) ([]android.Command, error) {
	cs, err := s.Store.PendingAndroidCommands(ctx, org, device)
	for i := range cs {
		for j := i + 1; j < len(cs); j++ {
			if cs[j].ID < cs[i].ID {
				cs[i], cs[j] = cs[j], cs[i]
			}
		}
	}
	return cs, err
}

// commandFirst stores the wipe, then moves the device in a second step:
// a refused move leaves the command behind.
type commandFirst struct{ *memory.Store }

func (s commandFirst) StartAndroidWipe(ctx context.Context, c android.Command, e, state storage.AuditEntry) (android.Command, error) {
	c, err := s.Store.CreateAndroidCommand(ctx, c, e)
	if err != nil {
		return c, err
	}
	d, err := s.Store.Device(ctx, c.Org, c.DeviceID)
	if err != nil || d.State == inventory.StateDeprovisioning {
		return c, err
	}
	_, err = s.Store.UpdateDeviceState(ctx, c.Org, c.DeviceID, inventory.StateDeprovisioning, state)
	return c, err
}

// spendFirst spends the token in a step of its own before it registers
// the device, so that an enrollment that then fails has spent it (issue
// 22, finding 14).
type spendFirst struct{ *memory.Store }

func (s spendFirst) EnrollAndroidDevice(ctx context.Context, e android.TokenEnrollment) (android.Device, error) {
	if _, err := s.UseAndroidToken(ctx, e.Device.Org, e.Token, e.At, e.UseEntry); err != nil {
		return android.Device{}, err
	}
	if _, err := s.CreateDevice(ctx, e.Inventory, e.RegisterEntry); err != nil {
		return android.Device{}, err
	}
	return s.CreateAndroidDevice(ctx, e.Device, e.DeviceEntry)
}

// uncappedTokens counts open tokens, then creates one in another step, so
// that concurrent creations pass the limit together.
type uncappedTokens struct {
	*memory.Store
	n *atomic.Int64
}

func (s uncappedTokens) CreateAndroidToken(ctx context.Context, t android.Token, e storage.AuditEntry) (android.Token, error) {
	n, err := s.OpenAndroidTokens(ctx, t.Org, t.UserID, e.Time)
	if err != nil || t.MaxOpen > 0 && int64(n)+s.n.Load() >= int64(t.MaxOpen) {
		return android.Token{}, errors.Join(err, storage.ErrLimit)
	}
	time.Sleep(time.Millisecond)
	// The store's own limit counts per user: out of its sight, under
	// another name each time.
	user := t.UserID
	t.UserID = fmt.Sprintf("%s-%d", user, s.n.Add(1))
	out, err := s.Store.CreateAndroidToken(ctx, t, e)
	out.UserID = user
	return out, err
}

func TestSuiteCatchesBrokenAndroidBackends(t *testing.T) {
	broken := map[string]func() Store{
		"device read across orgs":            func() Store { return leakyAndroidDevice{memory.New()} },
		"one-time token reusable":            func() Store { return reusableToken{memory.New()} },
		"settled command settled again":      func() Store { return refinish{memory.New()} },
		"pending not oldest first":           func() Store { return unorderedPending{memory.New()} },
		"wipe stored without its state":      func() Store { return commandFirst{memory.New()} },
		"token spent by a failed enrollment": func() Store { return spendFirst{memory.New()} },
	}
	expectCaught(t, broken, "Android/")
	expectCaught(t, map[string]func() Store{
		"token limit raced": func() Store { return uncappedTokens{memory.New(), new(atomic.Int64)} },
	}, "Limits/OpenAndroidTokensConcurrent")
}
