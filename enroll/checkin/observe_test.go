package checkin_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/openomm/omm/enroll/checkin"
)

// A result handler for an inventory query observes: the built-in ingest
// still stores the device's name, and the handler gets what the privacy
// filter kept, never the IMEI the device sent.
func TestResultHandlersObserve(t *testing.T) {
	var got []checkin.Result
	observe := checkin.ResultHandlerFunc(func(_ context.Context, r checkin.Result) error {
		got = append(got, r)
		return nil
	})
	e := newEnv(t, checkin.WithResultHandler("DeviceInformation", observe), checkin.WithResultHandler("DeviceInformation", observe))
	d := e.newDevice(e.orgA, "UDID-OBS", "alice").enroll()
	const imei = "35 209900 176148 1"
	st, cmd := d.connect("Idle", "", nil)
	for cmd != nil && st == http.StatusOK {
		extra := map[string]any{}
		if requestType(cmd) == "DeviceInformation" {
			extra["QueryResponses"] = map[string]any{"DeviceName": "Alice's iPhone", "IMEI": imei, "OSVersion": "18.1"}
		}
		st, cmd = d.connect("Acknowledged", commandUUID(cmd), extra)
	}
	if len(got) != 2 {
		t.Fatalf("the two handlers were called %d times, want once each", len(got))
	}
	r := got[0]
	if r.Body != nil || r.Inventory == nil || r.Inventory.Values == 0 || r.Inventory.Dropped.Forbidden == 0 {
		t.Errorf("handler got body %q and inventory %+v; want no body and the filter's summary", r.Body, r.Inventory)
	}
	if strings.Contains(string(r.Body), imei) {
		t.Error("the handler saw the IMEI")
	}
	if name := storedName(t, e, d.record().ID); name != "Alice's iPhone" {
		t.Errorf("with a handler registered the built-in ingest stored name %q", name)
	}
}
