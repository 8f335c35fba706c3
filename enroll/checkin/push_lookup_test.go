package checkin_test

import (
	"context"
	"errors"
	"testing"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/apns/apnstest"
	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/storage"
)

// failingEnrollments is an enrollment store whose batch look-up fails.
type failingEnrollments struct {
	enroll.EnrollmentStore
	err error
}

func (f failingEnrollments) Enrollments(context.Context, storage.OrgID, []string) ([]enroll.Enrollment, error) {
	return nil, f.err
}

// TestWakeAllLookupEnds: the push tokens are read ahead of the pushes; a
// failed read and an ended context are still reported as errors, and
// nothing is pushed after them.
func TestWakeAllLookupEnds(t *testing.T) {
	broken := errors.New("store down")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name  string
		ctx   context.Context
		store func(enroll.EnrollmentStore) enroll.EnrollmentStore
		want  error
	}{
		{"store error", context.Background(), func(s enroll.EnrollmentStore) enroll.EnrollmentStore {
			return failingEnrollments{s, broken}
		}, broken},
		{"context ended", cancelled, func(s enroll.EnrollmentStore) enroll.EnrollmentStore { return s }, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := apnstest.NewServer()
			defer fake.Close()
			e := newEnv(t)
			e.newDevice(e.orgA, "UDID-L", "alice").enroll()
			before := len(fake.Pushes())
			pusher := checkin.NewPusher(tc.store(e.store), apnsClient(t, fake), checkin.WithPushLogger(quiet), checkin.WithCoalesce(0))
			devices := make([]string, 12_000) // three batches
			for i := range devices {
				devices[i] = "UDID-L"
			}
			st, err := pusher.WakeAll(tc.ctx, e.orgA, devices)
			if !errors.Is(err, tc.want) {
				t.Fatalf("WakeAll: %v, want %v", err, tc.want)
			}
			if st.Pushed != 0 || len(fake.Pushes()) != before {
				t.Errorf("pushed %d (fake saw %d more) after the look-up ended", st.Pushed, len(fake.Pushes())-before)
			}
		})
	}
}
