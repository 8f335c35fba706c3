package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/openomm/omm/events"
	"github.com/openomm/omm/events/webhook"
	"github.com/openomm/omm/storage"
	"github.com/openomm/omm/storage/memory"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

// referenceVerify checks a delivery the way the package documentation
// tells a receiver to, written independently of Verify.
func referenceVerify(key []byte, header string, body []byte) bool {
	m := regexp.MustCompile(`^t=(\d+),v1=([0-9a-f]{64})$`).FindStringSubmatch(header)
	if m == nil {
		return false
	}
	h := hmac.New(sha256.New, key)
	h.Write([]byte(m[1] + "." + string(body)))
	return hex.EncodeToString(h.Sum(nil)) == m[2]
}

func TestSignVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"org":"org_x","events":[]}`)
	sig := webhook.Sign(secret, now, body)
	if !referenceVerify(secret, sig, body) {
		t.Fatalf("the reference verifier refuses %q", sig)
	}
	if err := webhook.Verify(secret, sig, body, now.Add(time.Minute), 0); err != nil {
		t.Errorf("Verify: %v", err)
	}
	for name, tc := range map[string]struct {
		header string
		body   []byte
		at     time.Time
		want   error
	}{
		"tampered body":       {sig, []byte(`{"org":"org_y","events":[]}`), now, webhook.ErrSignature},
		"other secret":        {webhook.Sign([]byte("another secret, long enough"), now, body), body, now, webhook.ErrSignature},
		"replayed later":      {sig, body, now.Add(6 * time.Minute), webhook.ErrStale},
		"from the future":     {sig, body, now.Add(-6 * time.Minute), webhook.ErrStale},
		"empty":               {"", body, now, webhook.ErrSignature},
		"no MAC":              {"t=1800000000", body, now, webhook.ErrSignature},
		"not hex":             {"t=1800000000,v1=zz", body, now, webhook.ErrSignature},
		"time not a number":   {"t=soon,v1=" + sig[len("t=1800000000,v1="):], body, now, webhook.ErrSignature},
		"time changed":        {"t=1800000001" + sig[len("t=1800000000"):], body, now, webhook.ErrSignature},
		"garbage":             {"v1", body, now, webhook.ErrSignature},
		"two MACs, one right": {sig + ",v1=" + hex.EncodeToString(make([]byte, 32)), body, now, nil},
	} {
		if err := webhook.Verify(secret, tc.header, tc.body, tc.at, 0); !errors.Is(err, tc.want) && (tc.want != nil || err != nil) {
			t.Errorf("%s: Verify = %v, want %v", name, err, tc.want)
		}
	}
}

func FuzzVerify(f *testing.F) {
	body := []byte(`{"org":"org_x","events":[]}`)
	now := time.Unix(1_800_000_000, 0)
	f.Add(webhook.Sign(secret, now, body), body)
	f.Add("t=1800000000,v1=00", body)
	f.Add("t=,v1=", []byte{})
	f.Add(",,,=,=", []byte("x"))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		err := webhook.Verify(secret, header, body, now, 0)
		if err == nil && !referenceVerify(secret, header, body) && !regexp.MustCompile(`,v1=`).MatchString(header) {
			t.Fatalf("Verify accepted %q, which the reference verifier refuses", header)
		}
		if err != nil && !errors.Is(err, webhook.ErrSignature) && !errors.Is(err, webhook.ErrStale) {
			t.Fatalf("Verify = %v, not one of its errors", err)
		}
	})
}

// receiver records verified deliveries; it answers fail(n) for the n-th
// request when set.
type receiver struct {
	mu      sync.Mutex
	batches []webhook.Batch
	seen    map[string]int // event ID → deliveries
	refused int
	fail    func(n int) bool
	n       int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	if !referenceVerify(secret, req.Header.Get(webhook.SignatureHeader), body) {
		r.refused++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if r.fail != nil && r.fail(r.n) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	var b webhook.Batch
	if err := json.Unmarshal(body, &b); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if want := fmt.Sprintf("%s/%d-%d", b.Org, b.Events[0].Seq, b.Events[len(b.Events)-1].Seq); req.Header.Get(webhook.DeliveryHeader) != want {
		http.Error(w, "delivery header "+req.Header.Get(webhook.DeliveryHeader), http.StatusBadRequest)
		return
	}
	r.batches = append(r.batches, b)
	if r.seen == nil {
		r.seen = map[string]int{}
	}
	for _, e := range b.Events {
		r.seen[e.ID]++
	}
}

// received returns the events received, deduplicated by ID, in arrival
// order.
func (r *receiver) received() []events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []events.Event
	got := map[string]bool{}
	for _, b := range r.batches {
		for _, e := range b.Events {
			if !got[e.ID] {
				got[e.ID] = true
				out = append(out, e)
			}
		}
	}
	return out
}

type env struct {
	store *memory.Store
	org   storage.OrgID
	recv  *receiver
	srv   *httptest.Server
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{store: memory.New(), org: storage.NewOrgID(), recv: &receiver{}}
	if _, err := e.store.CreateOrg(t.Context(), storage.Org{ID: e.org, Name: "acme", DisplayName: "Acme"},
		storage.AuditEntry{Org: e.org, Time: time.Now(), Actor: "admin:root", Action: "org.create"}); err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.recv)
	t.Cleanup(e.srv.Close)
	return e
}

// emit appends n events, device by device in turn.
func (e *env) emit(t *testing.T, n int) []events.Event {
	t.Helper()
	var out []events.Event
	for i := range n {
		ev, err := e.store.AppendEvent(t.Context(), events.Event{ID: events.NewID(), Org: e.org, Kind: events.EnrollmentFailed,
			Time: time.Now(), Device: "dev_" + strconv.Itoa(i%3), Data: map[string]string{"reason": strconv.Itoa(i)}})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

func ids(evs []events.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return out
}

func TestDeliverAndResume(t *testing.T) {
	e := newEnv(t)
	sent := e.emit(t, 7)
	d, err := webhook.New(e.store, e.srv.URL, secret, webhook.WithBatch(3), webhook.WithLease("replica-1", 0))
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for {
		n, err := d.DeliverOnce(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		total += n
	}
	if total != 7 || !slices.Equal(ids(e.recv.received()), ids(sent)) {
		t.Fatalf("delivered %d: %v, want %v in order", total, ids(e.recv.received()), ids(sent))
	}
	if len(e.recv.batches) != 3 {
		t.Errorf("%d batches of at most 3, want 3", len(e.recv.batches))
	}
	// A new deliverer (a restart, keeping its lease's name) resumes after
	// what was delivered.
	more := e.emit(t, 2)
	d2, _ := webhook.New(e.store, e.srv.URL, secret, webhook.WithLease("replica-1", 0))
	if n, err := d2.DeliverOnce(t.Context()); err != nil || n != 2 {
		t.Fatalf("after a restart: %d, %v", n, err)
	}
	if got := ids(e.recv.received()); !slices.Equal(got, ids(append(sent, more...))) {
		t.Errorf("after the restart the receiver has %v", got)
	}
	for id, n := range e.recv.seen {
		if n != 1 {
			t.Errorf("event %s delivered %d times", id, n)
		}
	}
	// Each device's events arrive in the order they happened.
	last := map[string]int64{}
	for _, ev := range e.recv.received() {
		if ev.Seq <= last[ev.Device] {
			t.Errorf("device %s: seq %d after %d", ev.Device, ev.Seq, last[ev.Device])
		}
		last[ev.Device] = ev.Seq
	}
}

// TestReceiverDown: a receiver down for a while gets everything once it
// is back, in order; the deliverer retries with back-off meanwhile.
func TestReceiverDown(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	down := true
	e.recv.fail = func(int) bool { mu.Lock(); defer mu.Unlock(); return down }
	sent := e.emit(t, 5)
	d, err := webhook.New(e.store, e.srv.URL, secret, webhook.WithBatch(2), webhook.WithBackoff(time.Millisecond, 20*time.Millisecond),
		webhook.WithPoll(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.DeliverOnce(t.Context()); err == nil {
		t.Fatal("a delivery to a receiver that is down succeeded")
	}
	if c, _ := e.store.EventCursor(t.Context(), e.org, "webhook"); c != 0 {
		t.Fatalf("cursor moved to %d on a failed delivery", c)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	waitFor(t, func() bool { e.recv.mu.Lock(); defer e.recv.mu.Unlock(); return e.recv.n >= 4 }) // retried while down
	mu.Lock()
	down = false
	mu.Unlock()
	sent = append(sent, e.emit(t, 3)...)
	d.Poke()
	waitFor(t, func() bool { return len(e.recv.received()) == len(sent) })
	cancel()
	<-done
	if !slices.Equal(ids(e.recv.received()), ids(sent)) {
		t.Errorf("received %v, want %v", ids(e.recv.received()), ids(sent))
	}
	if e.recv.refused != 0 {
		t.Errorf("%d deliveries failed the reference verifier", e.recv.refused)
	}
}

// waitFor waits for cond, failing the test after a generous deadline.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestNewRefuses(t *testing.T) {
	s := memory.New()
	for _, u := range []string{"http://example.com/hook", "ftp://127.0.0.1/x", "https://user:pw@example.com/", "://", "/relative"} {
		if _, err := webhook.New(s, u, secret); !errors.Is(err, webhook.ErrURL) {
			t.Errorf("New(%q) = %v, want ErrURL", u, err)
		}
	}
	for _, u := range []string{"https://hooks.example.com/omm", "http://127.0.0.1:9000/hook", "http://localhost/hook", "http://[::1]:80/"} {
		if _, err := webhook.New(s, u, secret); err != nil {
			t.Errorf("New(%q) = %v", u, err)
		}
	}
	if _, err := webhook.New(s, "https://hooks.example.com/", []byte("short")); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("a short secret: %v", err)
	}
}

// TestReplicasShareDelivery: two replicas' deliverers on one store deliver
// each event once, in order: the org's lease holder does; when it stops
// (dies), the other takes over once the lease runs out.
func TestReplicasShareDelivery(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	clock := time.Now()
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	a, _ := webhook.New(e.store, e.srv.URL, secret, webhook.WithBatch(2), webhook.WithClock(now), webhook.WithLease("a", time.Minute))
	b, _ := webhook.New(e.store, e.srv.URL, secret, webhook.WithBatch(2), webhook.WithClock(now), webhook.WithLease("b", time.Minute))
	sent := e.emit(t, 9)
	var wg sync.WaitGroup
	for _, d := range []*webhook.Deliverer{a, b} {
		wg.Go(func() {
			for range 20 {
				if _, err := d.DeliverOnce(t.Context()); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if got := ids(e.recv.received()); !slices.Equal(got, ids(sent)) {
		t.Fatalf("received %v, want %v", got, ids(sent))
	}
	for id, n := range e.recv.seen {
		if n != 1 {
			t.Errorf("event %s delivered %d times", id, n)
		}
	}
	// Whoever held the lease dies; the other delivers nothing until the
	// lease runs out, then everything.
	more := e.emit(t, 3)
	holder, other := a, b
	if n, _ := a.DeliverOnce(t.Context()); n == 0 {
		holder, other = b, a
		if n, _ := b.DeliverOnce(t.Context()); n == 0 {
			t.Fatal("neither replica delivers")
		}
	}
	_ = holder // dies here
	more = more[2:]
	if n, _ := other.DeliverOnce(t.Context()); n != 0 {
		t.Errorf("the other replica delivered %d events under a running lease", n)
	}
	mu.Lock()
	clock = clock.Add(time.Minute)
	mu.Unlock()
	if n, err := other.DeliverOnce(t.Context()); n != len(more) || err != nil {
		t.Errorf("after the lease ran out the other replica delivered %d, %v; want %d", n, err, len(more))
	}
	if got := len(e.recv.received()); got != 12 {
		t.Errorf("received %d events, want 12", got)
	}
}
