package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTimerSlack: a started node re-executes itself once so that every one
// of its threads, the Go runtime's own included, has the 1 ms default
// slack; -timer-slack 0 leaves the OS default (50 µs) alone.
func TestTimerSlack(t *testing.T) {
	c := startCluster(t, 1)
	c.waitLeader(c.nodes, 10*time.Second)
	if got := threadSlacks(t, c.nodes[0].cmd.Process.Pid); len(got) != 1 || got[0] != "1000000" {
		t.Fatalf("thread timer slacks %v, want all 1000000", got)
	}
	if strings.Contains(readLog(t, c.nodes[0].logPath), "timer slack not set") {
		t.Fatal("the node logged that it could not set its timer slack")
	}

	c2 := startCluster(t, 1, "-timer-slack", "0")
	c2.waitLeader(c2.nodes, 10*time.Second)
	if got := threadSlacks(t, c2.nodes[0].cmd.Process.Pid); len(got) != 1 || got[0] != "50000" {
		t.Fatalf("with -timer-slack 0: thread timer slacks %v, want the default 50000", got)
	}
}

// threadSlacks returns the distinct timerslack_ns values of pid's threads.
func threadSlacks(t *testing.T, pid int) []string {
	t.Helper()
	// /proc/TID/timerslack_ns is each thread's (the file is not under
	// /proc/PID/task/TID).
	tids, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
	if err != nil || len(tids) == 0 {
		t.Fatalf("no threads of %d: %v", pid, err)
	}
	seen := map[string]bool{}
	var out []string
	for _, tid := range tids {
		p := filepath.Join("/proc", tid.Name(), "timerslack_ns")
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrPermission) {
			t.Skipf("the kernel does not let this test read %s: %v", p, err)
		}
		if err != nil {
			continue // the thread exited meanwhile
		}
		v := strings.TrimSpace(string(b))
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
