//go:build unix

package kv

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time this process has used, user and system,
// on all threads (the garbage collector's included). Benchmarks report it
// per operation because the wall-clock ns/op of a shared machine counts
// other processes' time too.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
