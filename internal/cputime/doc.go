// Package cputime reads the CPU time the process has used, user and system,
// for benchmarks that report a store's or a service's work per operation
// beside wall time (which includes waits, such as a synchronous commit's
// fsync).
package cputime
