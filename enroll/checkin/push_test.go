package checkin_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/openomm/omm/enroll/apns"
	"github.com/openomm/omm/enroll/apns/apnstest"
	"github.com/openomm/omm/enroll/checkin"
	"github.com/openomm/omm/storage"
)

func apnsClient(t testing.TB, srv *apnstest.Server) *apns.Client {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	c, err := apns.New(topic, apns.WithToken(key, "KEY", "TEAM"), apns.WithEndpoint(srv.URL()), apns.WithRootCAs(srv.RootCAs()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestEnrolledDeviceIsPushed: the first TokenUpdate queues the inventory
// and wakes the device through (fake) APNs with its own token and magic.
func TestEnrolledDeviceIsPushed(t *testing.T) {
	fake := apnstest.NewServer()
	defer fake.Close()
	var e *env
	var pusher *checkin.Pusher
	e = newEnv(t, checkin.WithWaker(wakeFunc(func(ctx context.Context, org storage.OrgID, ds []string) error {
		return pusher.Wake(ctx, org, ds)
	})))
	pusher = checkin.NewPusher(e.store, apnsClient(t, fake), checkin.WithPushLogger(quiet), checkin.WithPushClock(e.clock, noSleep))
	e.newDevice(e.orgA, "UDID-P", "alice").enroll()
	pushes := fake.Pushes()
	if len(pushes) != 1 {
		t.Fatalf("%d pushes, want 1", len(pushes))
	}
	if pushes[0].Token != hex.EncodeToString([]byte("token-UDID-P")) || pushes[0].PushMagic != "magic-token-UDID-P" || pushes[0].Topic != topic {
		t.Errorf("push %+v", pushes[0])
	}
}

func noSleep(context.Context, time.Duration) error { return nil }

func TestPusherCoalescesAndMarksDeadTokens(t *testing.T) {
	fake := apnstest.NewServer()
	defer fake.Close()
	e := newEnv(t)
	a := e.newDevice(e.orgA, "UDID-1", "alice").enroll().record()
	b := e.newDevice(e.orgA, "UDID-2", "bob").enroll().record()
	fake.Answer(hex.EncodeToString([]byte("token-UDID-2")), apnstest.Answer{Status: http.StatusGone, Reason: "Unregistered"})
	p := checkin.NewPusher(e.store, apnsClient(t, fake), checkin.WithPushLogger(quiet), checkin.WithPushClock(e.clock, noSleep),
		checkin.WithCoalesce(10*time.Second))

	st, err := p.WakeAll(t.Context(), e.orgA, []string{a.ID, b.ID, "no-such-device"})
	if err != nil {
		t.Fatal(err)
	}
	if st != (checkin.WakeStats{Pushed: 1, Dead: 1, NoToken: 1}) {
		t.Errorf("first wake %+v", st)
	}
	en, _ := e.store.Enrollment(t.Context(), e.orgA, b.ID)
	if !en.TokenDead {
		t.Error("410 did not mark the token dead")
	}
	// Within the window: coalesced.
	e.advance(5 * time.Second)
	st, _ = p.WakeAll(t.Context(), e.orgA, []string{a.ID})
	if st != (checkin.WakeStats{Coalesced: 1}) {
		t.Errorf("wake within the window %+v", st)
	}
	// After it: a's pushed again; b's dead token is not tried.
	e.advance(10 * time.Second)
	st, _ = p.WakeAll(t.Context(), e.orgA, []string{a.ID, b.ID})
	if st != (checkin.WakeStats{Pushed: 1, NoToken: 1}) {
		t.Errorf("wake after the window %+v", st)
	}
	if n := len(fake.Pushes()); n != 3 {
		t.Errorf("APNs saw %d pushes, want 3", n)
	}
}

// flaky answers ErrRetry a number of times per target, then accepts.
type flaky struct {
	mu    sync.Mutex
	fails int
	calls int
	auth  bool
}

func (f *flaky) PushAll(_ context.Context, ts []apns.Target) []apns.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	out := make([]apns.Result, len(ts))
	for i, t := range ts {
		out[i].Target = t
		switch {
		case f.auth:
			out[i].Err = &apns.Error{Status: http.StatusForbidden, Reason: "InvalidProviderToken"}
		case f.calls <= f.fails:
			out[i].Err = &apns.Error{Status: http.StatusServiceUnavailable}
		default:
			out[i].ID = "ok"
		}
	}
	return out
}

func TestPusherRetriesWithBackoff(t *testing.T) {
	e := newEnv(t)
	a := e.newDevice(e.orgA, "UDID-1", "alice").enroll().record()
	var waits []time.Duration
	sleep := func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }

	f := &flaky{fails: 2}
	p := checkin.NewPusher(e.store, f, checkin.WithPushLogger(quiet), checkin.WithPushClock(e.clock, sleep),
		checkin.WithRetries(3, time.Second), checkin.WithCoalesce(0))
	st, err := p.WakeAll(t.Context(), e.orgA, []string{a.ID})
	if err != nil || st.Pushed != 1 || f.calls != 3 {
		t.Fatalf("stats %+v, %d calls, %v", st, f.calls, err)
	}
	if len(waits) != 2 || waits[0] != time.Second || waits[1] != 2*time.Second {
		t.Errorf("backoff %v, want 1s then 2s", waits)
	}

	f = &flaky{fails: 10}
	p = checkin.NewPusher(e.store, f, checkin.WithPushLogger(quiet), checkin.WithPushClock(e.clock, sleep),
		checkin.WithRetries(2, time.Second), checkin.WithCoalesce(0))
	st, err = p.WakeAll(t.Context(), e.orgA, []string{a.ID})
	if err != nil || st.Failed != 1 || f.calls != 3 {
		t.Errorf("after giving up: %+v, %d calls, %v", st, f.calls, err)
	}

	p = checkin.NewPusher(e.store, &flaky{auth: true}, checkin.WithPushLogger(quiet), checkin.WithCoalesce(0))
	if _, err := p.WakeAll(t.Context(), e.orgA, []string{a.ID}); !errors.Is(err, apns.ErrAuth) {
		t.Errorf("refused credentials: %v", err)
	}
}
