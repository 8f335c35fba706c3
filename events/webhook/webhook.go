// Package webhook delivers the SDK's event stream (package events) to an
// HTTPS endpoint of the product that embeds it: batches of events as JSON,
// signed with HMAC-SHA256, retried with back-off until the endpoint
// answers 2xx, resumed from a cursor kept in the database after a
// restart. Delivery runs on its own goroutine and only reads what the
// stores already committed, so a slow or absent receiver never slows a
// device's request.
//
// # The request
//
// Each delivery is a POST of one org's events, oldest first:
//
//	POST <url>
//	Content-Type: application/json
//	OMM-Signature: t=1733500000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd
//	OMM-Delivery: org_x/41-57
//
//	{"org":"org_x","events":[{"id":"evt_…","seq":41,"kind":"enrollment.completed",…},…]}
//
// v1 is the hex HMAC-SHA256, keyed with the shared secret, of the
// decimal Unix time t, a period, and the body exactly as received.
// [Verify] checks it and refuses a t further than a tolerance (5 minutes
// by default) from the receiver's clock, so that a captured request
// cannot be replayed later. OMM-Delivery names the org and the range of
// seqs. Delivery is at least once: a receiver deduplicates by event ID
// (or by org and seq), and events of one org arrive in seq order.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/openomm/omm/events"
	"github.com/openomm/omm/storage"
)

// Header names.
const (
	SignatureHeader = "OMM-Signature"
	DeliveryHeader  = "OMM-Delivery"
)

// DefaultTolerance is how far a signature's time may be from the
// receiver's clock.
const DefaultTolerance = 5 * time.Minute

// MinSecretLen is the shortest secret accepted: 128 bits.
const MinSecretLen = 16

// Errors of Verify.
var (
	// ErrSignature: the header is missing, malformed, or its MAC does not
	// match the body and secret.
	ErrSignature = errors.New("webhook: signature not valid")
	// ErrStale: the signature's time is outside the tolerance (a replay,
	// or a clock far off).
	ErrStale = errors.New("webhook: signature too old or from the future")
)

// Sign returns the OMM-Signature header value for body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks the OMM-Signature header of a delivery against its body,
// at now, allowing tolerance (DefaultTolerance when not positive). It
// compares in constant time.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrSignature
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil {
				return ErrSignature
			}
			sigs = append(sigs, sig)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrSignature
	}
	want := mac(secret, ts, body)
	ok := false
	for _, s := range sigs {
		ok = hmac.Equal(s, want) || ok
	}
	if !ok {
		return ErrSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	return nil
}

// Batch is a delivery's body.
type Batch struct {
	Org    storage.OrgID  `json:"org"`
	Events []events.Event `json:"events"`
}

// Store is what the deliverer reads: the event stream with its cursors,
// and the orgs.
type Store interface {
	events.Store
	ListOrgs(ctx context.Context) ([]storage.Org, error)
}

// Deliverer sends the event stream of every org to one endpoint. Every
// replica of a deployment (server processes on one database) may run
// one: when the store has leases (storage.Leases, as the SDK's stores
// do), an org's events are delivered by the replica that holds the org's
// lease (LeasePrefix and the consumer), renewed before each delivery and
// taken over by another replica once it runs out (WithLease) — so each
// batch goes once and in seq order, except that the batch a replica was
// sending when it died goes again.
type Deliverer struct {
	store    Store
	url      string
	secret   []byte
	client   *http.Client
	consumer string
	batch    int
	poll     time.Duration
	minWait  time.Duration
	maxWait  time.Duration
	now      func() time.Time
	log      *slog.Logger
	poke     chan struct{}
	holder   string
	term     time.Duration
}

// LeasePrefix starts the name of an org's delivery lease; the consumer
// (WithConsumer) follows.
const LeasePrefix = "webhook:"

// DefaultLeaseTerm is how long a replica's lease on an org's delivery
// lasts after its last renewal: well beyond the HTTP client's timeout, so
// that a delivery in flight ends before another replica may start.
const DefaultLeaseTerm = 2 * time.Minute

// Option configures New.
type Option func(*Deliverer)

// WithClient sets the HTTP client (default: one with a 30 s timeout).
func WithClient(c *http.Client) Option { return func(d *Deliverer) { d.client = c } }

// WithConsumer names the deliverer's cursor (default "webhook"): two
// deliverers to different endpoints need different names.
func WithConsumer(name string) Option { return func(d *Deliverer) { d.consumer = name } }

// WithBatch sets how many events a delivery carries at most (default 100).
func WithBatch(n int) Option { return func(d *Deliverer) { d.batch = n } }

// WithPoll sets how often the stream is read when caught up (default 1 s;
// Poke reads it at once).
func WithPoll(p time.Duration) Option { return func(d *Deliverer) { d.poll = p } }

// WithBackoff sets the wait after a failed delivery, doubling from min up
// to max (default 1 s to 5 min).
func WithBackoff(min, max time.Duration) Option {
	return func(d *Deliverer) { d.minWait, d.maxWait = min, max }
}

// WithLease names this deliverer as the holder of the orgs' delivery
// leases (default: a random name per New) and sets their term (default
// DefaultLeaseTerm; keep it well above the client's timeout).
func WithLease(holder string, term time.Duration) Option {
	return func(d *Deliverer) {
		if holder != "" {
			d.holder = holder
		}
		if term > 0 {
			d.term = term
		}
	}
}

// WithClock sets the clock that stamps signatures.
func WithClock(now func() time.Time) Option { return func(d *Deliverer) { d.now = now } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(d *Deliverer) { d.log = l } }

// ErrURL: the endpoint is not an https URL (http is allowed to a
// loopback address only).
var ErrURL = errors.New("webhook: endpoint must be an https URL (http only on loopback)")

// New returns a deliverer of store's events to endpoint, signed with
// secret (at least MinSecretLen bytes).
func New(store Store, endpoint string, secret []byte, opts ...Option) (*Deliverer, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("%w: %q", ErrURL, endpoint)
	}
	switch u.Scheme {
	case "https":
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("%w: %q", ErrURL, endpoint)
		}
	default:
		return nil, fmt.Errorf("%w: %q", ErrURL, endpoint)
	}
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("%w: webhook secret of %d bytes, at least %d", storage.ErrInvalid, len(secret), MinSecretLen)
	}
	d := &Deliverer{store: store, url: endpoint, secret: append([]byte(nil), secret...), consumer: "webhook", batch: 100,
		poll: time.Second, minWait: time.Second, maxWait: 5 * time.Minute, now: time.Now, log: slog.Default(),
		client: &http.Client{Timeout: 30 * time.Second}, poke: make(chan struct{}, 1),
		holder: "webhook-" + rand.Text(), term: DefaultLeaseTerm}
	for _, o := range opts {
		o(d)
	}
	if len(d.holder) > storage.MaxLeaseHolderLen || len(LeasePrefix+d.consumer) > storage.MaxLeaseNameLen {
		return nil, fmt.Errorf("%w: webhook lease holder %q or consumer %q too long", storage.ErrInvalid, d.holder, d.consumer)
	}
	if d.batch <= 0 || d.batch > events.MaxPage {
		return nil, fmt.Errorf("%w: webhook batch of %d", storage.ErrInvalid, d.batch)
	}
	return d, nil
}

// Poke makes a running deliverer read the stream now rather than at its
// next poll (call it after a change, if you like; it never blocks).
func (d *Deliverer) Poke() {
	select {
	case d.poke <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends: every org's events after its cursor, a
// batch at a time; after a failure it waits (doubling, up to the maximum)
// and tries the same batch again.
func (d *Deliverer) Run(ctx context.Context) {
	wait := d.minWait
	for ctx.Err() == nil {
		n, err := d.DeliverOnce(ctx)
		var pause time.Duration
		switch {
		case err != nil:
			d.log.WarnContext(ctx, "webhook: delivery failed; retrying", "endpoint", d.url, "in", wait, "err", err)
			pause, wait = wait, min(2*wait, d.maxWait)
		case n > 0:
			wait = d.minWait
			continue // more may be waiting
		default:
			wait, pause = d.minWait, d.poll
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-d.poke:
		}
		t.Stop()
	}
}

// DeliverOnce delivers one batch of each org that has events after its
// cursor, and returns how many events were delivered. It stops at the
// first failure, leaving that org's cursor where it was.
func (d *Deliverer) DeliverOnce(ctx context.Context) (int, error) {
	orgs, err := d.store.ListOrgs(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, o := range orgs {
		n, err := d.deliverOrg(ctx, o.ID)
		total += n
		if err != nil {
			return total, fmt.Errorf("org %s: %w", o.ID, err)
		}
	}
	return total, nil
}

func (d *Deliverer) deliverOrg(ctx context.Context, org storage.OrgID) (int, error) {
	page, err := d.pending(ctx, org)
	if err != nil || len(page.Events) == 0 {
		return 0, err
	}
	if l, ok := d.store.(storage.Leases); ok {
		// Only an org with events to deliver is leased; the cursor is read
		// again under the lease, as the last holder may have moved it.
		now := d.now()
		mine, err := l.TakeLease(ctx, org, LeasePrefix+d.consumer, d.holder, now, now.Add(d.term))
		if err != nil || !mine {
			return 0, err
		}
		if page, err = d.pending(ctx, org); err != nil || len(page.Events) == 0 {
			return 0, err
		}
	}
	body, err := json.Marshal(Batch{Org: org, Events: page.Events})
	if err != nil {
		return 0, fmt.Errorf("webhook: encode: %w", err)
	}
	first, last := page.Events[0].Seq, page.Events[len(page.Events)-1].Seq
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, Sign(d.secret, d.now(), body))
	req.Header.Set(DeliveryHeader, fmt.Sprintf("%s/%d-%d", org, first, last))
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return 0, fmt.Errorf("endpoint answered %s", resp.Status)
	}
	if err := d.store.SetEventCursor(ctx, org, d.consumer, last); err != nil {
		// Delivered, not recorded: the batch goes again, which the
		// receiver's deduplication absorbs.
		return 0, err
	}
	return len(page.Events), nil
}

// pending reads the org's next batch after the cursor.
func (d *Deliverer) pending(ctx context.Context, org storage.OrgID) (events.Page, error) {
	cur, err := d.store.EventCursor(ctx, org, d.consumer)
	if err != nil {
		return events.Page{}, err
	}
	return d.store.Events(ctx, org, events.Query{After: cur, Limit: d.batch})
}
