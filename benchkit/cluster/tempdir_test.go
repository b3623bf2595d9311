package cluster

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestRemoveStale: the directories of a bench that no longer runs go; its
// own, kept ones and anything else stay.
func TestRemoveStale(t *testing.T) {
	parent := t.TempDir()
	// A pid that surely no longer runs: a child that has exited and been
	// waited for.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true(1):", err)
	}
	dead := strconv.Itoa(cmd.Process.Pid)
	own := strconv.Itoa(os.Getpid())
	mk := func(name string) string {
		p := filepath.Join(parent, name)
		if err := os.MkdirAll(filepath.Join(p, "n1"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	gone := []string{mk("mpaxos-bench-" + dead + "-data-123"), mk("mpaxos-bench-" + dead + "-bin-456")}
	stay := []string{
		mk("mpaxos-bench-" + own + "-data-789"),
		mk("mpaxos-bench-kept-111"),
		mk("mpaxos-bench-rescued-222"),
		mk("mpaxos-bench-333"), // an older bench's naming: its -keep cannot be told apart
		mk("mpaxos-bench-" + dead + "-other-444"),
	}
	if kept, err := MkdirRun(parent, TempData, true); err != nil {
		t.Fatal(err)
	} else {
		stay = append(stay, kept)
	}
	if mine, err := MkdirRun(parent, TempData, false); err != nil {
		t.Fatal(err)
	} else {
		stay = append(stay, mine)
	}
	removed, err := RemoveStale(parent)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(removed)
	slices.Sort(gone)
	if !slices.Equal(removed, gone) {
		t.Fatalf("removed %v, want %v", removed, gone)
	}
	for _, p := range gone {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still there: %v", p, err)
		}
	}
	for _, p := range stay {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
}

// TestZombieIsNotAlive: a bench killed -9 whose parent has not reaped it
// yet is a zombie, and its run's leftovers are stale all the same.
func TestZombieIsNotAlive(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Skip("no true(1):", err)
	}
	defer cmd.Wait()
	pid := cmd.Process.Pid
	for deadline := time.Now().Add(5 * time.Second); !zombie(pid); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Skip("the child never showed as a zombie (no /proc?)")
		}
	}
	if alive(pid) {
		t.Errorf("zombie %d counts as alive", pid)
	}
	if !alive(os.Getpid()) {
		t.Error("this process does not count as alive")
	}
}
