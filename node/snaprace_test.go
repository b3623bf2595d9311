package node

import (
	"sync/atomic"
	"testing"

	"github.com/mpaxos/mpaxos/engine"
)

// storedSnapshot returns the slot of the snapshot in n's store.
func storedSnapshot(n *Node) engine.Slot {
	first, _ := n.st.Log(0).FirstSlot()
	return first - 1
}

// TestOwnSnapshotCancelledByInstalled is, at node level, the interleaving
// where a follower's own snapshot is still being taken when it installs
// a newer one from the leader. The own one must not be written after it
// (it is cancelled), the installed one stays the stored snapshot, and the
// node restarts from it. A hook holds the follower's snapshot between its
// encoding and its save while the rest happens: the follower is cut off,
// the others move on and compact their logs past it, and on healing it
// can only catch up by installing a snapshot.
func TestOwnSnapshotCancelledByInstalled(t *testing.T) {
	const every = 20
	var (
		follower atomic.Int32 // node id whose next own snapshot the hook holds; 0 none
		heldAt   atomic.Uint64
	)
	held := make(chan struct{})    // the follower's snapshot is encoded and held
	release := make(chan struct{}) // it may go on
	done := make(chan struct{})    // the test is over: never hold a node
	t.Cleanup(func() { close(done) })
	c := newTestCluster(t, 3, func(cfg *Config) {
		id := int32(cfg.ID)
		cfg.SnapshotEvery = every
		cfg.SnapshotBytes = 0
		cfg.hooks = &testHooks{beforeSnapshotSave: func(slot engine.Slot) {
			if !follower.CompareAndSwap(id, 0) {
				return
			}
			heldAt.Store(uint64(slot))
			close(held)
			select {
			case <-release:
			case <-done:
			}
		}}
	})
	l := c.leader()
	f := (l + 1) % 3
	other := 3 - l - f
	fn := c.nodes[f]
	follower.Store(int32(f + 1))
	s := c.client().Session()
	for i := 0; ; i++ {
		put(t, s, "a", 1)
		select {
		case <-held:
		default:
			if i > 10*every {
				t.Fatal("the follower took no snapshot")
			}
			continue
		}
		break
	}
	own := engine.Slot(heldAt.Load())

	// Cut the follower off; the majority goes on until both its members
	// compacted their logs past everything the follower has.
	if err := fn.SetFaults(FaultSpec{Isolate: []uint16{uint16(l + 1), uint16(other + 1)}}); err != nil {
		t.Fatal(err)
	}
	last, _ := fn.st.Log(0).LastSlot()
	for i := 0; storedSnapshot(c.nodes[l]) <= last+1 || storedSnapshot(c.nodes[other]) <= last+1; i++ {
		if i > 20 {
			t.Fatalf("the majority did not compact past slot %d (snapshots %d, %d)", last+1, storedSnapshot(c.nodes[l]), storedSnapshot(c.nodes[other]))
		}
		put(t, s, "b", every)
	}
	if err := fn.SetFaults(FaultSpec{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the follower to install a snapshot", func() bool { return storedSnapshot(fn) > own })
	installed := storedSnapshot(fn)

	close(release)
	waitFor(t, "the follower to drop its own snapshot", func() bool { return fn.stats.snapshotsCancelled.Load() == 1 })
	if got := storedSnapshot(fn); got < installed {
		t.Fatalf("stored snapshot went back from %d to %d", installed, got)
	}
	if err := fn.Err(); err != nil {
		t.Fatalf("follower stopped: %v", err)
	}

	// It restarts from what it stored and catches up.
	put(t, s, "c", 5)
	c.stop(f)
	c.start(f)
	fn = c.nodes[f]
	if got := storedSnapshot(fn); got < installed {
		t.Errorf("after restart the stored snapshot is at %d, below the installed %d", got, installed)
	}
	put(t, s, "d", 1)
	commit := c.nodes[l].groups[0].commit.Load()
	waitFor(t, "the restarted follower to catch up", func() bool { return fn.groups[0].appliedP.Load() >= commit })
}
