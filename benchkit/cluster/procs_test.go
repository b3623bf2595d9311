package cluster

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// The main goroutine keeps the main thread to itself: Go never ends the
// main thread, so a goroutine that ends locked to it would prove nothing
// (TestStartProcOutlivesTheCallersThread).
func init() { runtime.LockOSThread() }

// TestStartProcOutlivesTheCallersThread: a child started from a goroutine
// that then ends locked to its OS thread (so Go ends the thread) keeps
// running. Its parent-death signal used to fire with that thread: the
// netns clients' dials ended locked threads, and killed whichever nodes
// had been forked from them, at random, a few milliseconds after the
// cluster had elected its leader (TestNetnsKernelFaults, 0 ops/s).
func TestStartProcOutlivesTheCallersThread(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep(1):", err)
	}
	type started struct {
		p   *Proc
		err error
	}
	ch := make(chan started, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		p, err := StartProc("sleeper", sleep, []string{"60"}, filepath.Join(t.TempDir(), "sleeper.log"))
		ch <- started{p, err}
	}()
	s := <-ch
	if s.err != nil {
		t.Fatal(s.err)
	}
	defer s.p.Kill()
	// The thread's end, and a death signal it would send, come at once;
	// a second is ample on a loaded machine, and the check cannot pass
	// for a child that was killed.
	select {
	case <-s.p.Done():
		t.Fatalf("the child died when the thread that started it ended: %v", s.p.err)
	case <-time.After(time.Second):
	}
}
