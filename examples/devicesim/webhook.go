package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/openomm/omm/events"
	"github.com/openomm/omm/events/webhook"
)

// hookReceiver is the receiving end of the server's event webhook during a
// load run (-webhook-listen): it verifies each delivery's signature and
// measures how far behind the events arrive (their lag: receipt time minus
// the event's time).
type hookReceiver struct {
	secret []byte
	srv    *http.Server
	addr   string
	now    func() time.Time

	mu      sync.Mutex
	seen    map[string]bool
	lags    []time.Duration
	dups    int
	refused int
	maxSeq  int64
}

// maxDelivery bounds one delivery's body.
const maxDelivery = 16 << 20

// startReceiver listens on addr (loopback only) for deliveries signed with
// the secret in secretFile.
func startReceiver(addr, secretFile string, now func() time.Time) (*hookReceiver, error) {
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("%w: -webhook-listen must be a loopback address with a port", errUsage)
	}
	secret, err := os.ReadFile(secretFile)
	if err != nil {
		return nil, fmt.Errorf("webhook secret: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	h := &hookReceiver{secret: bytes.TrimSpace(secret), addr: ln.Addr().String(), now: now, seen: map[string]bool{}}
	h.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go h.srv.Serve(ln)
	return h, nil
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxDelivery))
	at := h.now()
	var b webhook.Batch
	if err == nil {
		err = webhook.Verify(h.secret, r.Header.Get(webhook.SignatureHeader), body, at, 0)
	}
	if err == nil {
		err = json.Unmarshal(body, &b)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.refused++
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for _, e := range b.Events {
		if h.seen[e.ID] {
			h.dups++
			continue
		}
		h.seen[e.ID] = true
		h.lags = append(h.lags, at.Sub(e.Time))
		h.maxSeq = max(h.maxSeq, e.Seq)
	}
	w.WriteHeader(http.StatusNoContent)
}

// hookStats is what the receiver saw.
type hookStats struct {
	Events, Duplicates, Refused int
	LagP50, LagP99, LagMax      time.Duration
	// CatchUp is how long after the load stopped the last event arrived
	// (the backlog's drain time); Missing counts events the server had
	// then and the receiver never got.
	CatchUp time.Duration
	Missing int64
}

func (h *hookReceiver) maxSeen() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.maxSeq
}

// finish waits (up to a minute) until every event up to the server's
// latest has arrived, then stops the receiver and returns what it saw.
func (h *hookReceiver) finish(ctx context.Context, a *api, adminToken string) hookStats {
	var latest int64
	if adminToken != "" {
		var page struct {
			Events []events.Event `json:"events"`
		}
		if err := a.call(ctx, "GET", "/api/admin/events?newest=true&limit=1", adminToken, nil, &page); err == nil && len(page.Events) > 0 {
			latest = page.Events[0].Seq
		}
	}
	start := h.now()
	for h.maxSeen() < latest && h.now().Sub(start) < time.Minute && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	catchUp := h.now().Sub(start)
	_ = h.srv.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	lags := slices.Clone(h.lags)
	slices.Sort(lags)
	p := phase{Latencies: lags}
	return hookStats{Events: len(h.seen), Duplicates: h.dups, Refused: h.refused, LagP50: p.Percentile(50), LagP99: p.Percentile(99),
		LagMax: p.Percentile(100), CatchUp: catchUp, Missing: max(latest-h.maxSeq, 0)}
}
