//go:build unix

package storagetest

import (
	"syscall"
	"time"
)

// processCPU is the CPU time the process has used, user and system: a
// store's work per operation, whatever its waits (a synchronous commit's
// fsync is wall time, not CPU).
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
