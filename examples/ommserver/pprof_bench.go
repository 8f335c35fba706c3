//go:build ommbench

// Profiling for benchmark runs only: a binary built with -tags ommbench
// (scripts/bench -profile) serves net/http/pprof on the loopback address
// in OMM_PPROF_ADDR. Product builds carry none of this.

package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
)

// startProfiling serves pprof when OMM_PPROF_ADDR is set.
func startProfiling() {
	addr := os.Getenv("OMM_PPROF_ADDR")
	if addr == "" {
		return
	}
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fmt.Fprintln(os.Stderr, "ommserver: OMM_PPROF_ADDR must be a loopback host:port")
		os.Exit(2)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	go func() {
		if err := http.ListenAndServe(addr, mux); err != nil {
			fmt.Fprintln(os.Stderr, "ommserver: pprof:", err)
		}
	}()
}
