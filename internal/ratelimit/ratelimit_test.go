package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestWindow(t *testing.T) {
	w := NewWindow(3, time.Minute, 2)
	for i := range 3 {
		if ok, n := w.Admit("a", t0); !ok || n != 0 {
			t.Fatalf("event %d: %v %d", i, ok, n)
		}
	}
	for range 4 {
		if ok, _ := w.Admit("a", t0.Add(time.Second)); ok {
			t.Fatal("event over the limit let through")
		}
	}
	if ok, _ := w.Admit("b", t0); !ok {
		t.Fatal("another key is limited by the first")
	}
	if ok, _ := w.Admit("c", t0); ok {
		t.Fatal("a third key let through beyond maxKeys")
	}
	ok, n := w.Admit("a", t0.Add(time.Minute))
	if !ok || n != 4 {
		t.Errorf("next window: %v, %d suppressed; want true and 4", ok, n)
	}
	if ok, n := w.Admit("c", t0.Add(time.Minute)); !ok || n != 1 {
		t.Errorf("key refused for room: %v, %d suppressed; want true and 1", ok, n)
	}
}

func TestBuckets(t *testing.T) {
	b := NewBuckets(2, time.Second, 3)
	for i := range 2 {
		if ok, _ := b.Take("a", t0); !ok {
			t.Fatalf("take %d refused", i)
		}
	}
	ok, retry := b.Take("a", t0)
	if ok || retry != time.Second {
		t.Fatalf("empty bucket: %v, retry %v", ok, retry)
	}
	b.Refund("a", t0)
	if ok, _ := b.Take("a", t0); !ok {
		t.Fatal("refunded token not there")
	}
	if ok, _ := b.Take("a", t0.Add(500*time.Millisecond)); ok {
		t.Fatal("half a token taken")
	}
	if ok, _ := b.Take("a", t0.Add(time.Second)); !ok {
		t.Fatal("refilled token not there")
	}
	// Memory stays bounded: many keys never grow the map past maxKeys.
	for i := range 100 {
		b.Take(fmt.Sprint("k", i), t0)
		if len(b.m) > 3 {
			t.Fatalf("%d keys tracked, at most 3", len(b.m))
		}
	}
}

func ExampleBuckets() {
	// Two requests at once per source, then one a second.
	limit := NewBuckets(2, time.Second, 10000)
	for i := range 3 {
		ok, retry := limit.Take("203.0.113.7", t0)
		fmt.Println(i, ok, retry)
	}
	// Output:
	// 0 true 0s
	// 1 true 0s
	// 2 false 1s
}
