package checkin

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/openomm/omm/enroll"
	"github.com/openomm/omm/storage"
)

// Outbox wakes devices through the durable push outbox
// (enroll.PushOutbox), so that a push survives the server that decided
// it: every queued command leaves its devices in the outbox in the same
// transaction, and whichever server (replica) claims them pushes them.
//
// Its Wake (it implements [Waker]) pushes at once, in the request that
// queued the commands, the devices it can claim, a batch at a time; a
// device another replica is pushing is left to it, so that a large
// fan-out is shared by every replica draining the outbox. [Outbox.Drain]
// pushes what is waiting unclaimed — left by a server that died after its
// commit, or by a fan-out larger than one batch — and [Outbox.Run] drains
// every org now and then. A claim lasts the claim time (WithOutboxClaim)
// and is renewed while its devices are pushed: the devices of a pusher
// that died are pushed again once its claim runs out, those of a living
// one are not, however long its batch takes.
//
// Without a pusher (no APNs configured) the outbox is only emptied:
// devices get their commands at their next regular check-in.
type Outbox struct {
	store  enroll.PushOutbox
	pusher *Pusher
	claim  time.Duration
	batch  int
	clock  func() time.Time
	log    *slog.Logger
}

// OutboxOption configures [NewOutbox].
type OutboxOption func(*Outbox)

// WithOutboxClaim sets how long a claim on devices lasts (default 2
// minutes; renewed every third of it while the devices are pushed): how
// long the devices of a pusher that died wait to be pushed again.
func WithOutboxClaim(d time.Duration) OutboxOption { return func(o *Outbox) { o.claim = d } }

// WithOutboxBatch sets how many devices are claimed at a time (default
// 1000, at most enroll.MaxPushClaim).
func WithOutboxBatch(n int) OutboxOption { return func(o *Outbox) { o.batch = n } }

// WithOutboxClock sets the clock.
func WithOutboxClock(now func() time.Time) OutboxOption { return func(o *Outbox) { o.clock = now } }

// WithOutboxLogger sets the logger.
func WithOutboxLogger(l *slog.Logger) OutboxOption { return func(o *Outbox) { o.log = l } }

// NewOutbox returns an outbox over store that pushes with p (nil: no
// push; the outbox is only emptied).
func NewOutbox(store enroll.PushOutbox, p *Pusher, opts ...OutboxOption) *Outbox {
	o := &Outbox{store: store, pusher: p, claim: 2 * time.Minute, batch: 1000, clock: time.Now, log: slog.Default()}
	for _, opt := range opts {
		opt(o)
	}
	o.batch = min(max(o.batch, 1), enroll.MaxPushClaim)
	return o
}

// Wake implements [Waker]: it records the devices in the outbox (a wake
// not made by queueing a command has no row yet), then pushes those it
// claims (as WakeQueued). It returns the first error that left devices unpushed; they
// stay in the outbox for the next drain.
func (o *Outbox) Wake(ctx context.Context, org storage.OrgID, devices []string) error {
	if len(devices) == 0 {
		return nil
	}
	for start := 0; start < len(devices); start += enroll.MaxFanOut {
		chunk := devices[start:min(start+enroll.MaxFanOut, len(devices))]
		if err := o.store.QueuePushes(ctx, org, chunk, o.clock()); err != nil {
			return fmt.Errorf("checkin: push outbox: %w", err)
		}
	}
	return o.WakeQueued(ctx, org, devices)
}

// WakeQueued implements [QueuedWaker]: it pushes those of devices it
// claims, without recording them in the outbox first, for devices whose
// commands were just queued (the queueing transaction recorded them). A
// device another replica has pushed and cleared since stays cleared,
// where Wake would record it anew and push it a second time for the same
// command.
func (o *Outbox) WakeQueued(ctx context.Context, org storage.OrgID, devices []string) error {
	for start := 0; start < len(devices); start += o.batch {
		if _, err := o.push(ctx, org, devices[start:min(start+o.batch, len(devices))], true); err != nil {
			return err
		}
	}
	return nil
}

// Drain pushes the devices of org waiting unclaimed in the outbox, a
// batch at a time, until none is left, and returns how many it claimed.
func (o *Outbox) Drain(ctx context.Context, org storage.OrgID) (int, error) {
	total := 0
	for {
		n, err := o.push(ctx, org, nil, false)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

// push claims one batch (among devices, when not nil), pushes it (with the
// pusher's coalescing when coalesce is set: a Wake, not a drain) and marks
// it done.
func (o *Outbox) push(ctx context.Context, org storage.OrgID, devices []string, coalesce bool) (int, error) {
	claim := "push-" + rand.Text()
	now := o.clock()
	claimed, err := o.store.ClaimPushes(ctx, org, devices, claim, now, now.Add(o.claim), o.batch)
	if err != nil {
		return 0, fmt.Errorf("checkin: claim pushes: %w", err)
	}
	if len(claimed) == 0 {
		return 0, nil
	}
	done := claimed
	if o.pusher != nil {
		var h held
		err := func() error {
			// Deferred: a pusher that panics must not leave the claim
			// renewed for ever.
			defer o.renew(ctx, org, claim, claimed)()
			var err error
			_, h, err = o.pusher.wakeAll(ctx, org, claimed, coalesce)
			return err
		}()
		if err != nil {
			// Unpushed: the claim runs out and the devices go again.
			return len(claimed), err
		}
		if len(h.devices) > 0 {
			// Coalesced: pushed moments ago for an earlier command, and
			// the device may have checked in for that one already, so
			// nothing would bring it for this one. They stay claimed
			// until the window ends and a drain pushes them then; should
			// that fail, when the claim runs out.
			if _, err := o.store.RenewPushes(ctx, org, claim, h.devices, o.clock(), h.until); err != nil {
				o.log.WarnContext(ctx, "checkin: coalesced pushes left to the claim's end", "org", org, "devices", len(h.devices), "err", err)
			}
			later := make(map[string]bool, len(h.devices))
			for _, d := range h.devices {
				later[d] = true
			}
			done = slices.DeleteFunc(slices.Clone(claimed), func(d string) bool { return later[d] })
		}
	}
	if len(done) == 0 {
		return len(claimed), nil
	}
	if err := o.store.PushesDone(ctx, org, claim, done); err != nil {
		// Pushed, not recorded: pushed again once the claim runs out,
		// which wakes the devices once more and loses nothing.
		return len(claimed), fmt.Errorf("checkin: pushes done: %w", err)
	}
	return len(claimed), nil
}

// renew renews claim on devices every third of the claim time until the
// returned stop is called, so that a batch pushed slowly (a loaded
// machine, APNs retries) keeps its devices: otherwise another replica
// would claim and push them again while this one still pushes them.
// Stop returns once no renewal is running.
func (o *Outbox) renew(ctx context.Context, org storage.OrgID, claim string, devices []string) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(max(o.claim/3, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			now := o.clock()
			if _, err := o.store.RenewPushes(ctx, org, claim, devices, now, now.Add(o.claim)); err != nil && ctx.Err() == nil {
				o.log.WarnContext(ctx, "checkin: push outbox: renew claim", "org", org, "devices", len(devices), "err", err)
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// DefaultOutboxPoll is how often [Outbox.Run] drains by default.
const DefaultOutboxPoll = time.Second

// Run drains the outbox of every org that orgs lists every poll
// (DefaultOutboxPoll when not positive) until ctx ends, logging failures.
func (o *Outbox) Run(ctx context.Context, orgs func(context.Context) ([]storage.Org, error), poll time.Duration) {
	if poll <= 0 {
		poll = DefaultOutboxPoll
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		list, err := orgs(ctx)
		if err != nil && ctx.Err() == nil {
			o.log.WarnContext(ctx, "checkin: push outbox: list orgs", "err", err)
		}
		for _, org := range list {
			n, err := o.Drain(ctx, org.ID)
			if err != nil && !errors.Is(err, context.Canceled) {
				o.log.WarnContext(ctx, "checkin: push outbox: drain", "org", org.ID, "devices", n, "err", err)
			} else if n > 0 {
				o.log.InfoContext(ctx, "checkin: push outbox drained", "org", org.ID, "devices", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
