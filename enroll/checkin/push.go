package checkin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/enroll/apns"
	"github.com/openomm/omm/storage"
)

// PushClient sends MDM pushes; *apns.Client implements it.
type PushClient interface {
	PushAll(ctx context.Context, targets []apns.Target) []apns.Result
}

// Pusher wakes devices through APNs. It implements [Waker]: it looks up the
// devices' push tokens, skips devices it woke moments ago (a burst of queued
// commands needs one push), retries pushes APNs could not take with
// backoff, and marks tokens APNs reports dead so that they are not pushed
// again until the device sends a new one.
type Pusher struct {
	store    enroll.EnrollmentStore
	client   PushClient
	log      *slog.Logger
	clock    func() time.Time
	sleep    func(context.Context, time.Duration) error
	coalesce time.Duration
	retries  int
	backoff  time.Duration
	batch    int

	mu     sync.Mutex
	recent map[deviceKey]time.Time
}

type deviceKey struct {
	org    storage.OrgID
	device string
}

// PushOption configures [NewPusher].
type PushOption func(*Pusher)

// WithPushLogger sets the logger.
func WithPushLogger(l *slog.Logger) PushOption { return func(p *Pusher) { p.log = l } }

// WithPushClock sets the clock and the sleep used between retries.
func WithPushClock(now func() time.Time, sleep func(context.Context, time.Duration) error) PushOption {
	return func(p *Pusher) { p.clock, p.sleep = now, sleep }
}

// WithCoalesce sets the window in which a device is woken only once
// (default 5s; 0 turns coalescing off). Through an [Outbox], a wake the
// window holds back is pushed when the window ends (the device may have
// checked in for the earlier push already); a Pusher used alone drops it.
func WithCoalesce(d time.Duration) PushOption { return func(p *Pusher) { p.coalesce = d } }

// WithRetries sets how often a push APNs could not take is retried, and the
// first backoff, doubled at each retry (default 3, 1s).
func WithRetries(n int, backoff time.Duration) PushOption {
	return func(p *Pusher) { p.retries, p.backoff = n, backoff }
}

// NewPusher returns a pusher over the enrollment store and an APNs client.
func NewPusher(store enroll.EnrollmentStore, client PushClient, opts ...PushOption) *Pusher {
	p := &Pusher{
		store: store, client: client, log: slog.Default(), clock: time.Now, sleep: sleepCtx,
		coalesce: 5 * time.Second, retries: 3, backoff: time.Second, batch: 5000,
		recent: map[deviceKey]time.Time{},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WakeStats says what a Wake did.
type WakeStats struct {
	Pushed, Coalesced, NoToken, Dead, Failed int
}

// Wake implements [Waker].
func (p *Pusher) Wake(ctx context.Context, org storage.OrgID, devices []string) error {
	_, err := p.WakeAll(ctx, org, devices)
	return err
}

// WakeAll wakes the devices and reports what happened. It fails only when
// APNs refuses the credentials or ctx ends; single devices that cannot be
// reached are counted, not returned.
func (p *Pusher) WakeAll(ctx context.Context, org storage.OrgID, devices []string) (WakeStats, error) {
	st, _, err := p.wakeAll(ctx, org, devices, true)
	return st, err
}

// held is the devices a wake coalesced: pushed within the window, and
// until when their window lasts.
type held struct {
	devices []string
	until   time.Time
}

// wakeAll is WakeAll, with coalescing or without (the outbox's drain:
// what it pushes was not pushed when its commands were queued, so a push
// moments earlier is no reason to skip it). It returns the devices it
// coalesced.
func (p *Pusher) wakeAll(ctx context.Context, org storage.OrgID, devices []string, coalesce bool) (WakeStats, held, error) {
	var st WakeStats
	var h held
	if coalesce {
		devices, h = p.admit(org, devices, &st)
	}
	st, err := p.pushAll(ctx, org, devices, st)
	return st, h, err
}

// pushAll pushes devices, adding to st.
func (p *Pusher) pushAll(ctx context.Context, org storage.OrgID, devices []string, st WakeStats) (WakeStats, error) {
	// The next batch's tokens are read while this batch is pushed, so a
	// large fan-out waits for the store once, not once per batch.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan lookup, 1)
	go p.lookUp(ctx, org, devices, batches)
	for b := range batches {
		if b.err != nil {
			return st, b.err
		}
		st.NoToken += b.size - len(b.enrollments)
		var targets []apns.Target
		owner := make(map[string]enroll.Enrollment, len(b.enrollments))
		for _, e := range b.enrollments {
			if len(e.Token) == 0 || e.PushMagic == "" || e.TokenDead || !e.CheckedOut.IsZero() {
				st.NoToken++
				continue
			}
			targets = append(targets, apns.Target{Token: e.Token, PushMagic: e.PushMagic})
			owner[string(e.Token)] = e
		}
		if err := p.push(ctx, targets, owner, &st); err != nil {
			return st, err
		}
	}
	// lookUp stops without a word when ctx ends.
	return st, ctx.Err()
}

// lookup is one batch's enrollments, read ahead of its push.
type lookup struct {
	size        int // devices asked for
	enrollments []enroll.Enrollment
	err         error
}

// lookUp reads the devices' enrollments a batch at a time into out, which
// it closes after the last batch, the first error, or when ctx ends.
func (p *Pusher) lookUp(ctx context.Context, org storage.OrgID, devices []string, out chan<- lookup) {
	defer close(out)
	for start := 0; start < len(devices); start += p.batch {
		chunk := devices[start:min(start+p.batch, len(devices))]
		enrollments, err := p.store.Enrollments(ctx, org, chunk)
		select {
		case out <- lookup{size: len(chunk), enrollments: enrollments, err: err}:
		case <-ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

// admit drops devices woken within the coalescing window, returned as
// held with the window's end, and remembers the others as woken now.
func (p *Pusher) admit(org storage.OrgID, devices []string, st *WakeStats) ([]string, held) {
	var h held
	if p.coalesce <= 0 {
		return devices, h
	}
	now := p.clock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.recent) > 100_000 { // forget what is outside the window
		for k, t := range p.recent {
			if now.Sub(t) >= p.coalesce {
				delete(p.recent, k)
			}
		}
	}
	out := devices[:0:0]
	for _, d := range devices {
		k := deviceKey{org, d}
		if t, ok := p.recent[k]; ok && now.Sub(t) < p.coalesce {
			st.Coalesced++
			h.devices = append(h.devices, d)
			if end := t.Add(p.coalesce); end.After(h.until) {
				h.until = end
			}
			continue
		}
		p.recent[k] = now
		out = append(out, d)
	}
	return out, h
}

func (p *Pusher) push(ctx context.Context, targets []apns.Target, owner map[string]enroll.Enrollment, st *WakeStats) error {
	backoff := p.backoff
	for attempt := 0; len(targets) > 0; attempt++ {
		var retry []apns.Target
		for _, r := range p.client.PushAll(ctx, targets) {
			switch {
			case r.Err == nil:
				st.Pushed++
			case errors.Is(r.Err, apns.ErrTokenDead):
				st.Dead++
				e := owner[string(r.Target.Token)]
				if err := p.store.MarkTokenDead(ctx, e.Org, e.Device, e.Token, p.clock()); err != nil {
					p.log.WarnContext(ctx, "checkin: mark push token dead", "device", e.Device, "err", err)
				}
			case errors.Is(r.Err, apns.ErrAuth):
				return fmt.Errorf("checkin: push: %w", r.Err)
			case errors.Is(r.Err, apns.ErrRetry) && attempt < p.retries:
				retry = append(retry, r.Target)
			case ctx.Err() != nil:
				return ctx.Err()
			default:
				st.Failed++
				p.log.WarnContext(ctx, "checkin: push failed", "device", owner[string(r.Target.Token)].Device, "err", r.Err)
			}
		}
		if len(retry) > 0 {
			if err := p.sleep(ctx, backoff); err != nil {
				return err
			}
			backoff *= 2
		}
		targets = retry
	}
	return nil
}
