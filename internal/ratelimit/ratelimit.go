// Package ratelimit holds the in-memory limiters the SDK puts in front of
// work that anyone on the network can trigger: fixed windows that let a
// number of events per key through and count the rest (for audit entries
// that must not flood a log), and token buckets per key (for requests that
// cost real CPU before they can be refused). Both bound their memory
// whatever the number of keys, and take the time from the caller, so that
// tests need no sleeping.
//
// They are per process: several replicas each allow their own share.
package ratelimit

import (
	"sync"
	"time"
)

// Window lets at most Limit events per key through in each fixed window of
// Period, and counts the ones it refuses, so that the key's next event let
// through can say how many were left out. It is safe for concurrent use.
type Window struct {
	limit   int
	period  time.Duration
	maxKeys int

	mu         sync.Mutex
	start      time.Time
	count      map[string]int
	suppressed map[string]int
}

// NewWindow returns a window of limit events per key and period, tracking
// at most maxKeys keys per window: beyond them, events of new keys are
// refused and counted in bulk (see Admit).
func NewWindow(limit int, period time.Duration, maxKeys int) *Window {
	return &Window{limit: limit, period: period, maxKeys: maxKeys}
}

// Admit reports whether an event of key at now may go through and, if so,
// how many of the key's events were refused since the last one let through.
func (w *Window) Admit(key string, now time.Time) (ok bool, suppressed int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.count == nil || now.Sub(w.start) >= w.period || now.Before(w.start) {
		w.start, w.count = now, map[string]int{}
		if w.suppressed == nil || len(w.suppressed) > w.maxKeys {
			w.suppressed = map[string]int{}
		}
	}
	_, known := w.count[key]
	if w.count[key] >= w.limit || !known && len(w.count) >= w.maxKeys {
		if _, counted := w.suppressed[key]; counted || len(w.suppressed) < w.maxKeys {
			w.suppressed[key]++
		}
		return false, 0
	}
	w.count[key]++
	n := w.suppressed[key]
	delete(w.suppressed, key)
	return true, n
}

// Buckets is a token bucket per key: each holds up to Burst tokens and
// gains one every Every. It is safe for concurrent use.
type Buckets struct {
	burst   float64
	every   time.Duration
	maxKeys int

	mu sync.Mutex
	m  map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewBuckets returns buckets of burst tokens gaining one every every,
// tracking at most maxKeys keys: when more are needed, the full buckets
// are forgotten first, then all (the limit restarts; memory stays
// bounded).
func NewBuckets(burst int, every time.Duration, maxKeys int) *Buckets {
	return &Buckets{burst: float64(burst), every: every, maxKeys: maxKeys, m: map[string]*bucket{}}
}

// level brings b's tokens up to now.
func (bs *Buckets) level(b *bucket, now time.Time) {
	if now.After(b.at) {
		b.tokens = min(bs.burst, b.tokens+float64(now.Sub(b.at))/float64(bs.every))
		b.at = now
	}
}

// Take takes a token from key's bucket at now. When it is empty it takes
// nothing and says how long until a token is there.
func (bs *Buckets) Take(key string, now time.Time) (ok bool, retry time.Duration) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	b, found := bs.m[key]
	if !found {
		bs.evict(now)
		b = &bucket{tokens: bs.burst, at: now}
		bs.m[key] = b
	}
	bs.level(b, now)
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) * float64(bs.every))
	}
	b.tokens--
	return true, 0
}

// Refund gives back a token taken from key's bucket: for a request that
// turned out to be one the limit is not meant for.
func (bs *Buckets) Refund(key string, now time.Time) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if b, ok := bs.m[key]; ok {
		bs.level(b, now)
		b.tokens = min(bs.burst, b.tokens+1)
	}
}

// evict makes room for a new key.
func (bs *Buckets) evict(now time.Time) {
	if len(bs.m) < bs.maxKeys {
		return
	}
	for k, b := range bs.m {
		bs.level(b, now)
		if b.tokens >= bs.burst {
			delete(bs.m, k)
		}
	}
	if len(bs.m) >= bs.maxKeys {
		clear(bs.m)
	}
}
