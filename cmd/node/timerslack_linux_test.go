package main

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/internal/timerslack"
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
	got, err := timerslack.ThreadSlacks(pid)
	if errors.Is(err, fs.ErrPermission) {
		t.Skipf("the kernel does not let this test read thread slacks: %v", err)
	}
	if err != nil || len(got) == 0 {
		t.Fatalf("thread slacks of %d: %v %v", pid, got, err)
	}
	return got
}
