package main

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// reexecEnv marks a process that setTimerSlack already re-executed, so a
// kernel that reports another slack than it was given cannot loop us.
const reexecEnv = "MPAXOS_TIMER_SLACK_REEXEC"

// setTimerSlack gives every thread of this process a timer slack of d.
//
// Why: on the 2-vCPU virtual machine this project measures on, the Go
// runtime's monitor thread (sysmon) costs a node 18-24% of its CPU. After
// any idle moment a syscall wakes it, and it then polls every 20 µs for a
// millisecond, each poll a nanosleep and two context switches; a follower,
// idle between writes, pays that hundreds of times a second. A timer may
// fire up to its thread's slack late, so with 1 ms those polls come about
// once a millisecond. Timers the node relies on are 10 ms ticks and longer.
//
// How: slack is per thread and a new thread inherits its creator's, but
// the runtime started sysmon and other threads before main ran. So this
// sets it on the current thread and re-executes the binary from it (same
// pid, arguments, environment and descriptors; nothing is open yet): every
// thread of the new image descends from that one. It returns nil when the
// slack was already d, or an error when it cannot be set; on success it
// does not return.
func setTimerSlack(d time.Duration) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cur, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		return fmt.Errorf("PR_GET_TIMERSLACK: %w", err)
	}
	if time.Duration(cur) == d {
		return nil
	}
	if os.Getenv(reexecEnv) != "" {
		return fmt.Errorf("still %v after re-executing", time.Duration(cur))
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(d), 0, 0, 0); err != nil {
		return fmt.Errorf("PR_SET_TIMERSLACK: %w", err)
	}
	err = syscall.Exec(exe, os.Args, append(os.Environ(), reexecEnv+"=1"))
	// Exec failed: put the slack back so this process is as it was.
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(cur), 0, 0, 0)
	return fmt.Errorf("re-executing %s: %w", exe, err)
}
