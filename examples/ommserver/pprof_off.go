//go:build !ommbench

package main

// startProfiling does nothing in product builds: pprof is served only by
// binaries built with -tags ommbench (see pprof_bench.go).
func startProfiling() {}
