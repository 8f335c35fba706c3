package checkin_test

import (
	"net/http"
	"os"
	"testing"

	"github.com/openomm/omm/inventory"
)

// TestRealDeviceMessages replays a real iPad's Authenticate and TokenUpdate,
// signed with an identity recorded for it.
func TestRealDeviceMessages(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(e.orgA, "663b07bb783e9ade1dae4fbb92ea12afc0ce5b69", "alice")
	for _, f := range []string{"Authenticate.1.plist", "TokenUpdate.1.plist"} {
		body, err := os.ReadFile("testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if st, out := d.put("/mdm/org_acme/checkin", body, d); st != http.StatusOK {
			t.Fatalf("%s: %d %s", f, st, out)
		}
	}
	rec := d.record()
	if rec.State != inventory.StateEnrolled || rec.Platform != inventory.PlatformIPadOS || rec.SerialNumber != "F5JM992LF193" {
		t.Errorf("device after the real messages: %+v", rec)
	}
	en, _ := e.store.Enrollment(t.Context(), e.orgA, rec.ID)
	if len(en.Token) != 32 || en.PushMagic != "CEFDF0BD-E342-4A27-8742-E930EA116B0A" || len(en.UnlockToken) == 0 {
		t.Errorf("enrollment after the real TokenUpdate: token %d bytes, magic %q, unlock %d bytes", len(en.Token), en.PushMagic, len(en.UnlockToken))
	}
}
