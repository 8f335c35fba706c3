package main

import (
	"os"
	"time"
)

// A load run's summary: throughput and nearest-rank latency percentiles.
func Example_printSummary() {
	lat := make([]time.Duration, 100)
	for i := range lat {
		lat[i] = time.Duration(i+1) * time.Millisecond
	}
	printSummary(os.Stdout, loadResult{
		Devices: 200, Concurrency: 20,
		Enroll:   phase{Elapsed: 10 * time.Second, Requests: 200, Latencies: lat},
		CheckIn:  phase{Elapsed: 4 * time.Second, Requests: 1000, Latencies: lat},
		Commands: 600,
	})
	// Output:
	// summary: 200 devices, concurrency 20
	//   enrollment: 200 devices in 10s (20.0/s), 0 errors; per device p50 50.00ms p90 90.00ms p99 99.00ms
	//   check-ins:  1000 requests in 4s = 250.0 req/s, 600 command round trips, 0 errors
	//   latency:    p50 50.00ms  p90 90.00ms  p99 99.00ms  max 100.00ms
}
