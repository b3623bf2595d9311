package node

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/store"
)

func (n *Node) installSnapshot(s *engine.Snapshot) {
	if err := n.sm.Restore(s.Data); err != nil {
		// The leader's snapshot failed its checksum: refuse to apply past
		// it rather than diverge. The node stops; an operator must look.
		n.fatal(fmt.Errorf("node: snapshot at slot %d from leader: %w", s.Slot, err))
		return
	}
	n.ls.applied, n.snap.last, n.snap.logBytes = s.Slot, s.Slot, 0
	if n.snap.taking && s.Slot >= n.snap.slot {
		// Our own snapshot, still being encoded or saved, is older: it is
		// of no use any more, and saving it after this one would only be
		// refused (store.ErrSnapshotOlder). Cancel it rather than spend a
		// write of many megabytes on it.
		n.snap.cancel.Store(true)
	}
	n.log.Info("snapshot installed", "slot", s.Slot, "bytes", len(s.Data))
}

// maybeSnapshot snapshots the state machine every SnapshotEvery slots, or
// every SnapshotBytes of applied log if that comes first.
// Replicas apply the same slots, so without care every node would snapshot
// at once, and the whole cluster would stall together (a 5-node run lost
// two thirds of its throughput for 2 s at each snapshot). Each node's first
// snapshot therefore comes early by its position among the members times
// SnapshotEvery/members (snapStagger; the same for bytes); afterwards the
// interval is SnapshotEvery (SnapshotBytes), so the nodes stay spread over
// it.
// Only the capture (Freeze: copying key and value headers, no sorting)
// runs here on the loop; encoding and the store write run on a goroutine
// of their own, beside the writer, so neither the loop nor the log's
// writes queue behind a snapshot of many megabytes. Entries at or below
// the snapshot that the writer stores after the truncation are harmless:
// the store never returns entries below its snapshot and the next
// snapshot's range deletion removes them. Once the snapshot is durable,
// loop tells the engine to compact (snapDone).
func (n *Node) maybeSnapshot() {
	if n.snap.taking {
		return
	}
	bySlots := n.cfg.SnapshotEvery > 0 &&
		n.ls.applied+n.snap.stagger >= n.snap.last+engine.Slot(n.cfg.SnapshotEvery)
	byBytes := n.cfg.SnapshotBytes > 0 && n.ls.applied > n.snap.last &&
		n.snap.logBytes+n.snap.staggerBytes >= n.cfg.SnapshotBytes
	if !bySlots && !byBytes {
		return
	}
	n.snap.stagger, n.snap.staggerBytes, n.snap.logBytes = 0, 0, 0
	start := time.Now()
	frozen := n.sm.Freeze()
	slot := n.ls.applied
	membership := n.ls.membership // shared slices, read-only
	n.snap.taking = true
	n.snap.last = slot
	n.snap.slot = slot
	cancel := new(atomic.Bool)
	n.snap.cancel = cancel
	freeze := time.Since(start)
	var hook func(engine.Slot)
	if n.cfg.hooks != nil {
		hook = n.cfg.hooks.beforeSnapshotSave
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		snap := engine.Snapshot{Slot: slot, Data: frozen.Encode(), Membership: membership}
		if hook != nil {
			hook(slot)
		}
		var err error
		cancelled := cancel.Load()
		if !cancelled && !n.cfg.UnsafeNoPersist {
			// A newer snapshot installed from here on is still safe: the
			// store refuses ours atomically then (ErrSnapshotOlder).
			err = n.save(store.Write{Group: group, Snapshot: &snap})
		}
		r := snapResult{slot: slot, bytes: len(snap.Data), freeze: freeze, took: time.Since(start), cancelled: cancelled, err: err}
		select {
		case n.snapDone <- r:
		case <-n.stop:
		}
	}()
}

// snapResult reports a finished snapshot to loop.
type snapResult struct {
	slot         engine.Slot
	bytes        int
	freeze, took time.Duration
	// cancelled: a newer snapshot was installed before this one was
	// saved, so it was not.
	cancelled bool
	err       error
}

func (n *Node) onSnapshotDone(r snapResult) {
	n.snap.taking = false
	n.snap.cancel = nil
	if r.cancelled {
		n.stats.snapshotsCancelled.Add(1)
	}
	if r.cancelled || errors.Is(r.err, store.ErrSnapshotOlder) {
		// A newer snapshot from the leader was installed meanwhile; ours
		// is moot (and the store refuses to go back to it).
		n.log.Info("own snapshot superseded by the leader's", "slot", r.slot, "installed", n.snap.last, "cancelled", r.cancelled)
		return
	}
	if r.err != nil {
		n.fatal(fmt.Errorf("node: saving snapshot at slot %d: %w", r.slot, r.err))
		return
	}
	if err := n.eng.Compact(r.slot); err != nil {
		n.log.Warn("compact", "slot", r.slot, "err", err)
	}
	n.log.Info("snapshot taken", "slot", r.slot, "bytes", r.bytes, "loop_pause", r.freeze, "took", r.took)
}
