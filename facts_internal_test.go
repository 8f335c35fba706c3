package omm

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/enroll/mdm"
	"github.com/openomm/omm/inventory"
	"github.com/openomm/omm/storage"
)

// deviceReads counts the device reads a re-decision starts with; any other
// store call panics (none is expected).
type deviceReads struct {
	Store
	n int
}

func (c *deviceReads) Device(context.Context, storage.OrgID, string) (inventory.Device, error) {
	c.n++
	return inventory.Device{}, storage.ErrNotFound
}

// TestReportReevaluatesOnlyOffTheChannel: after a DeviceInformation answer
// the SDK decides again for a device on the command path, not for one the
// declarative channel has just decided for on the same answer.
func TestReportReevaluatesOnlyOffTheChannel(t *testing.T) {
	for _, tt := range []struct {
		name        string
		declarative bool
		reads       int
	}{{"command path", false, 1}, {"declarative channel decided", true, 0}} {
		t.Run(tt.name, func(t *testing.T) {
			st := &deviceReads{}
			h := reevaluateOnReport{&SDK{Store: st, log: slog.New(slog.NewTextHandler(io.Discard, nil))}}
			r := checkin.Result{Device: inventory.Device{Org: "org", ID: "dev"}, Status: mdm.Acknowledged,
				Inventory: &inventory.IngestResult{Command: string(inventory.AppleDeviceInformation)}, Declarative: tt.declarative}
			if err := h.HandleResult(t.Context(), r); err != nil {
				t.Fatal(err)
			}
			if st.n != tt.reads {
				t.Errorf("device read %d times, want %d", st.n, tt.reads)
			}
		})
	}
}
