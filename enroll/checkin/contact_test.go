package checkin_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/openomm/omm/enroll/checkin"
)

// TestContactResolution: an idle check-in records the device's contact
// only when the stored one is older than the resolution, so that a device
// polling often costs one write per interval; with resolution 0 every
// check-in records it.
func TestContactResolution(t *testing.T) {
	tests := []struct {
		name       string
		resolution time.Duration
		after      time.Duration // clock advance before the second check-in
		moved      bool          // whether LastSeen moves to the second check-in's time
	}{
		{"within the default minute", -1, 30 * time.Second, false},
		{"after the default minute", -1, 61 * time.Second, true},
		{"resolution 0 records every check-in", 0, time.Second, true},
		{"custom resolution", 10 * time.Minute, 5 * time.Minute, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opts []checkin.Option
			if tc.resolution >= 0 {
				opts = append(opts, checkin.WithContactResolution(tc.resolution))
			}
			e := newEnv(t, opts...)
			d := e.newDevice(e.orgA, "UDID-CONTACT", "alice").enroll()
			for { // drain the enrollment's commands
				st, cmd := d.connect("Idle", "", nil)
				if st != http.StatusOK {
					t.Fatalf("idle: %d", st)
				}
				if cmd == nil {
					break
				}
				d.connect("Acknowledged", commandUUID(cmd), nil)
			}
			first := d.record().LastSeen
			if !first.Equal(e.clock()) {
				t.Fatalf("LastSeen %v after check-ins at %v", first, e.clock())
			}
			e.advance(tc.after)
			if st, _ := d.connect("Idle", "", nil); st != http.StatusOK {
				t.Fatalf("idle: %d", st)
			}
			got := d.record().LastSeen
			want := first
			if tc.moved {
				want = e.clock()
			}
			if !got.Equal(want) {
				t.Errorf("LastSeen = %v, want %v", got, want)
			}
		})
	}
}
