package storagetest

import (
	"context"
	"errors"
	"testing"

	"github.com/openomm/omm/events"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// cursorAcrossOrgs stores a consumer's cursor in every org.
type cursorAcrossOrgs struct{ *memory.Store }

func (s cursorAcrossOrgs) SetEventCursor(ctx context.Context, org storage.OrgID, consumer string, seq int64) error {
	if err := s.Store.SetEventCursor(ctx, org, consumer, seq); err != nil {
		return err
	}
	orgs, err := s.ListOrgs(ctx)
	for _, o := range orgs {
		err = errors.Join(err, s.Store.SetEventCursor(ctx, o.ID, consumer, seq))
	}
	return err
}

// newestLast ignores Newest: a person reading recent events sees the
// oldest.
type newestLast struct{ *memory.Store }

func (s newestLast) Events(ctx context.Context, org storage.OrgID, q events.Query) (events.Page, error) {
	q.Newest = false
	return s.Store.Events(ctx, org, q)
}

// eventsForgetDevice drops the device filter.
type eventsForgetDevice struct{ *memory.Store }

func (s eventsForgetDevice) Events(ctx context.Context, org storage.OrgID, q events.Query) (events.Page, error) {
	q.Device = ""
	return s.Store.Events(ctx, org, q)
}

func TestSuiteCatchesBrokenEventBackends(t *testing.T) {
	broken := map[string]func() Store{
		"cursor shared by orgs": func() Store { return cursorAcrossOrgs{memory.New()} },
		"newest first ignored":  func() Store { return newestLast{memory.New()} },
		"device filter ignored": func() Store { return eventsForgetDevice{memory.New()} },
	}
	expectCaught(t, broken, "Events/")
}
