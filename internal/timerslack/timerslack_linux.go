package timerslack

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// reexecEnv marks a process that Set already re-executed and carries the
// slack it had before, in nanoseconds. Set removes it from the environment
// once read, so children do not inherit it.
const reexecEnv = "MPAXOS_TIMER_SLACK_REEXEC"

// original is the slack before Set re-executed the process; 0 if it did
// not.
var original time.Duration

// Set gives every thread of this process a timer slack of d. It returns
// nil when the slack was already d, or an error when it cannot be set; on
// success it does not return (the process re-executes and its next Set
// returns nil).
func Set(d time.Duration) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cur, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		return fmt.Errorf("PR_GET_TIMERSLACK: %w", err)
	}
	prev, reexeced := os.LookupEnv(reexecEnv)
	if reexeced {
		os.Unsetenv(reexecEnv)
		if ns, err := strconv.ParseInt(prev, 10, 64); err == nil && ns > 0 {
			original = time.Duration(ns)
		}
	}
	if time.Duration(cur) == d {
		return nil
	}
	if reexeced {
		// A kernel that reports another slack than it was given must not
		// make us loop.
		return fmt.Errorf("still %v after re-executing", time.Duration(cur))
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(d), 0, 0, 0); err != nil {
		return fmt.Errorf("PR_SET_TIMERSLACK: %w", err)
	}
	err = syscall.Exec(exe, os.Args, append(os.Environ(), reexecEnv+"="+strconv.Itoa(cur)))
	// Exec failed: put the slack back so this process is as it was.
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(cur), 0, 0, 0)
	return fmt.Errorf("re-executing %s: %w", exe, err)
}

// WithOriginal runs start, which starts a child process, on a thread whose
// slack is the one this process had before Set re-executed it, so that
// the child inherits that one; without a re-execution it just runs start.
// The thread gets its slack back afterwards.
func WithOriginal(start func() error) error {
	if original <= 0 {
		return start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cur, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil || unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(original), 0, 0, 0) != nil {
		return start() // the child gets this process's slack; nothing worse
	}
	defer unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(cur), 0, 0, 0)
	return start()
}

// ThreadSlacks returns the distinct timer slacks, in nanoseconds as the
// kernel prints them, of process pid's threads: what Set and WithOriginal
// promise, for tests and for looking at a running node.
// (/proc/TID/timerslack_ns is each thread's; it is not under
// /proc/PID/task/TID.)
func ThreadSlacks(pid int) ([]string, error) {
	tids, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, tid := range tids {
		b, err := os.ReadFile(filepath.Join("/proc", tid.Name(), "timerslack_ns"))
		if errors.Is(err, fs.ErrNotExist) {
			continue // the thread exited meanwhile
		}
		if err != nil {
			return nil, err
		}
		if v := strings.TrimSpace(string(b)); !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
}
