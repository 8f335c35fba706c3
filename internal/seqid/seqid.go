// Package seqid makes unguessable identifiers that sort in the order one
// process made them.
//
// A store indexes commands and events by their identifiers. A fully
// random identifier lands each insert on a random page of that index, and
// every page a transaction touches is written again when it commits;
// identifiers made one after another land next to each other, so that a
// group of inserts shares a page or two. Each identifier is a 128-bit
// UUID of version 8 (RFC 9562's layout for custom content): 48 random
// bits chosen when the process starts, a 28-bit counter starting at a
// random value, and 46 random bits. It carries no time.
package seqid

import (
	"crypto/rand"
	"encoding/binary"
	"sync/atomic"
)

var (
	prefix  [6]byte
	counter atomic.Uint32
)

func init() {
	var b [10]byte
	rand.Read(b[:]) //nolint:errcheck // crypto/rand.Read never fails
	copy(prefix[:], b[:6])
	counter.Store(binary.BigEndian.Uint32(b[6:]))
}

// New returns the next identifier: the process's prefix, then the
// counter's 28 bits split around the UUID's version (8) and variant (2)
// bits, then random bits.
func New() [16]byte {
	var id [16]byte
	rand.Read(id[10:]) //nolint:errcheck // crypto/rand.Read never fails
	copy(id[:6], prefix[:])
	c := counter.Add(1) & (1<<28 - 1)
	id[6] = 0x80 | byte(c>>24)        // version 8, counter bits 27–24
	id[7] = byte(c >> 16)             // 23–16
	id[8] = 0x80 | byte(c>>10)&0x3f   // variant, 15–10
	id[9] = byte(c >> 2)              // 9–2
	id[10] = byte(c<<6) | id[10]&0x3f // 1–0, then random
	return id
}
