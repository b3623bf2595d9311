package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestDiskFullExitsWithOneLine runs a node whose disk really fills (a
// small tmpfs, as root; skipped where it cannot be mounted) with the space
// checks off, so nothing stops the writes before the disk does. Pebble
// cannot undo a failed WAL write and stops the process; it must do so
// with one line naming the directory and the cause, not a panic's stack
// trace.
func TestDiskFullExitsWithOneLine(t *testing.T) {
	mnt := t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=24m"); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, 0); err != nil {
			t.Errorf("unmounting the test tmpfs %s: %v", mnt, err)
		}
	})
	c := startCluster(t, 1, "-min-free-bytes", "0", "-memtable", "1048576")
	nd := c.nodes[0]
	c.kill(nd)
	nd.dataDir = filepath.Join(mnt, "n1")
	c.start(nd)
	c.waitLeader(c.nodes, 10*time.Second)

	var st unix.Statfs_t
	if err := unix.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	if err := os.WriteFile(filepath.Join(mnt, "filler"), make([]byte, free-(512<<10)), 0o600); err != nil {
		t.Fatal(err)
	}
	s := dial(t, nd.clientAddr).Session()
	val := make([]byte, 16<<10)
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; ; i++ {
		select {
		case <-nd.exited:
		default:
			if time.Now().After(deadline) {
				t.Fatalf("the node still runs after %d writes on a full disk", i)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			s.Put(ctx, []byte("k"), val)
			cancel()
			continue
		}
		break
	}
	code := nd.cmd.ProcessState.ExitCode()
	nd.cmd = nil
	b, _ := os.ReadFile(nd.logPath)
	log := string(b)
	lines := strings.Split(strings.TrimSpace(log), "\n")
	t.Logf("exit code %d; last line: %s", code, lines[len(lines)-1])
	if code == 0 {
		t.Errorf("exit code 0 on a full disk")
	}
	if strings.Contains(log, "goroutine ") || strings.Contains(log, "panic:") || strings.Contains(log, "stack trace") {
		t.Errorf("the node died with a stack trace:\n%.3000s", log)
	}
	want := "store: " + nd.dataDir + ": disk full"
	if !strings.Contains(log, want) {
		t.Errorf("no line %q in the node's output:\n%.3000s", want, log)
	}
}
