package main

import "runtime/debug"

// The garbage collector's settings. A phone's check-in allocates tens of
// kilobytes, most of it in crypto/tls's handshake, while the server's live
// heap is small (tens of MiB): at Go's default (GOGC=100) the collector
// ran about ten times a second under load; with GOGC=400 a resumed TLS
// check-in costs about a fifth less server CPU (BENCHMARKS.md, issue 27
// round 10). ommserver trades heap for that CPU, and bounds the trade with
// a soft memory limit, near which the collector works harder again
// instead of growing the heap. They apply once the server is ready (main),
// after the start-up's password hashing. GOGC and GOMEMLIMIT in the
// environment (GOGC=100 is Go's default) take precedence; an embedding
// product chooses its own.
const (
	defaultGCPercent   = 400
	defaultMemoryLimit = 512 << 20
)

// tuneGC applies the defaults above that the environment (getenv) does not
// set itself.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}
