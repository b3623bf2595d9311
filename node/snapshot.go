package node

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/store"
)

func (n *Node) installSnapshot(g *group, s *engine.Snapshot) {
	if err := g.sm.Restore(s.Data); err != nil {
		// The leader's snapshot failed its checksum: refuse to apply past
		// it rather than diverge. The node stops; an operator must look.
		n.fatal(fmt.Errorf("node: group %d: snapshot at slot %d from leader: %w", g.id, s.Slot, err))
		return
	}
	g.applied, g.snap.last, g.snap.logBytes = s.Slot, s.Slot, 0
	if g.snap.taking && s.Slot >= g.snap.slot {
		// Our own snapshot, still being encoded or saved, is older: it is
		// of no use any more, and saving it after this one would only be
		// refused (store.ErrSnapshotOlder). Cancel it rather than spend a
		// write of many megabytes on it.
		g.snap.cancel.Store(true)
	}
	n.log.Info("snapshot installed", "group", g.id, "slot", s.Slot, "bytes", len(s.Data))
}

// maybeSnapshot snapshots a group's state machine every SnapshotEvery of
// its slots, or every SnapshotBytes of its applied log if that comes first.
// Replicas apply the same slots, so without care every node would snapshot
// at once, and the whole cluster would stall together (a 5-node run lost
// two thirds of its throughput for 2 s at each snapshot); and a node's
// groups, loaded alike, would all snapshot together. Each (node, group)
// pair's first snapshot therefore comes early by its position among all
// pairs times SnapshotEvery/pairs (snapStagger; the same for bytes);
// afterwards the interval is SnapshotEvery (SnapshotBytes), so they stay
// spread over it. A node takes one snapshot at a time: a group whose turn
// comes meanwhile waits for the next pass.
// Only the capture (sm.Applier.Capture: the sessions, and kv's Freeze,
// copying key and value headers, no sorting; a machine that cannot capture
// is encoded here whole) runs here on the loop; encoding and the store write run on a goroutine
// of their own, beside the writer, so neither the loop nor the log's
// writes queue behind a snapshot of many megabytes. Entries at or below
// the snapshot that the writer stores after the truncation are harmless:
// the store never returns entries below its snapshot and the next
// snapshot's range deletion removes them. Once the snapshot is durable,
// loop tells the engine to compact (snapDone).
func (n *Node) maybeSnapshot() {
	if n.ls.snapTaking {
		return
	}
	for k := range n.groups {
		g := n.groups[(n.ls.snapNext+k)%len(n.groups)]
		if n.maybeSnapshotGroup(g) {
			n.ls.snapNext = (int(g.id) + 1) % len(n.groups)
			return
		}
	}
}

// maybeSnapshotGroup starts a snapshot of g if it is due; true if it did.
func (n *Node) maybeSnapshotGroup(g *group) bool {
	bySlots := n.cfg.SnapshotEvery > 0 &&
		g.applied+g.snap.stagger >= g.snap.last+engine.Slot(n.cfg.SnapshotEvery)
	byBytes := n.cfg.SnapshotBytes > 0 && g.applied > g.snap.last &&
		g.snap.logBytes+g.snap.staggerBytes >= n.cfg.SnapshotBytes
	if !bySlots && !byBytes {
		return false
	}
	g.snap.stagger, g.snap.staggerBytes, g.snap.logBytes = 0, 0, 0
	start := time.Now()
	encode := g.sm.Capture() // sessions and machine as of now; encoded below
	slot := g.applied
	membership := g.membership // shared slices, read-only
	g.snap.taking = true
	n.ls.snapTaking = true
	g.snap.last = slot
	g.snap.slot = slot
	cancel := new(atomic.Bool)
	g.snap.cancel = cancel
	freeze := time.Since(start)
	var hook func(engine.Slot)
	if n.cfg.hooks != nil {
		hook = n.cfg.hooks.beforeSnapshotSave
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		data, err := encode()
		snap := engine.Snapshot{Slot: slot, Data: data, Membership: membership}
		if hook != nil {
			hook(slot)
		}
		cancelled := cancel.Load()
		if err == nil && !cancelled && !n.cfg.UnsafeNoPersist {
			// A newer snapshot installed from here on is still safe: the
			// store refuses ours atomically then (ErrSnapshotOlder).
			err = n.save(store.Write{Group: g.id, Snapshot: &snap})
		}
		r := snapResult{g: g, slot: slot, bytes: len(snap.Data), freeze: freeze, took: time.Since(start), cancelled: cancelled, err: err}
		select {
		case n.snapDone <- r:
		case <-n.stop:
		}
	}()
	return true
}

// snapResult reports a finished snapshot to loop.
type snapResult struct {
	g            *group
	slot         engine.Slot
	bytes        int
	freeze, took time.Duration
	// cancelled: a newer snapshot was installed before this one was
	// saved, so it was not.
	cancelled bool
	err       error
}

func (n *Node) onSnapshotDone(r snapResult) {
	g := r.g
	n.ls.snapTaking = false
	g.snap.taking = false
	g.snap.cancel = nil
	if r.cancelled {
		n.stats.snapshotsCancelled.Add(1)
	}
	if r.cancelled || errors.Is(r.err, store.ErrSnapshotOlder) {
		// A newer snapshot from the leader was installed meanwhile; ours
		// is moot (and the store refuses to go back to it).
		n.log.Info("own snapshot superseded by the leader's", "group", g.id, "slot", r.slot, "installed", g.snap.last, "cancelled", r.cancelled)
		return
	}
	if r.err != nil {
		n.fatal(fmt.Errorf("node: group %d: saving snapshot at slot %d: %w", g.id, r.slot, r.err))
		return
	}
	if err := g.eng.Compact(r.slot); err != nil {
		n.log.Warn("compact", "group", g.id, "slot", r.slot, "err", err)
	}
	n.log.Info("snapshot taken", "group", g.id, "slot", r.slot, "bytes", r.bytes, "loop_pause", r.freeze, "took", r.took)
}
