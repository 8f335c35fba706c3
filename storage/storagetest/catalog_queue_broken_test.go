package storagetest

import (
	"context"
	"testing"

	"github.com/openomm/omm/catalog"
	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

// twoSteps records the install, then queues its command, as two
// transactions: a refused command leaves the record behind (as a crash
// between the two would).
type twoSteps struct{ *memory.Store }

func (s twoSteps) QueueInstall(ctx context.Context, in catalog.Install, prev string, cmd enroll.Command, e, qe storage.AuditEntry) (catalog.Install, error) {
	got, err := s.StartInstall(ctx, in, prev, e)
	if err != nil {
		return catalog.Install{}, err
	}
	return got, s.EnqueueCommand(ctx, in.Org, []string{in.Device}, cmd, qe)
}

// recordOnly records the install and never queues the command.
type recordOnly struct{ *memory.Store }

func (s recordOnly) QueueInstall(ctx context.Context, in catalog.Install, prev string, _ enroll.Command, e, _ storage.AuditEntry) (catalog.Install, error) {
	return s.StartInstall(ctx, in, prev, e)
}

func TestSuiteCatchesBrokenQueueInstall(t *testing.T) {
	broken := map[string]func() Store{
		"install and command in two transactions": func() Store { return twoSteps{memory.New()} },
		"command never queued":                    func() Store { return recordOnly{memory.New()} },
	}
	expectCaught(t, broken, "Catalog/QueueInstall")
}
