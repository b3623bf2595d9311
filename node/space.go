package node

import (
	"errors"

	"github.com/mpaxos/mpaxos/store"
)

// checkSpace measures the store's disk use against Config.SpaceQuota and
// MinFreeBytes, on loop every SpaceCheck, and publishes the verdict in
// noSpace, which the client readers consult per request (one atomic load).
// The measurement (a Pebble metrics snapshot and a statfs) is too costly
// per command and cheap at a few per second.
//
// While out of space the leader refuses new writes (kv.StatusNoSpace) and
// keeps serving reads; commands already proposed go on, so the log and
// the state machine stay whole. Snapshots go on too: they truncate the
// log, which is how usage falls, and the refusal lifts by itself at the
// first check that finds room (no restart).
//
// A follower does not refuse the leader's Accepts when over its own quota:
// it cannot tell the leader (no such message), and dropping Accepts would
// only make it lag, then need a snapshot it has no room for either. The
// quota is a margin below the disk's size, so it logs the condition and
// writes on; should its disk really fill, the store's write fails, the
// node stops with one line naming the disk, and the others, a majority,
// go on without it.
func (n *Node) checkSpace() {
	sp, err := n.st.Space()
	if err != nil {
		if !errors.Is(err, store.ErrClosed) {
			n.log.Warn("measuring the store's disk space", "err", err)
		}
		return
	}
	if n.cfg.hooks != nil && n.cfg.hooks.space != nil {
		n.cfg.hooks.space(&sp)
	}
	full := sp.Err()
	if was := n.noSpace.Load(); (full != nil) == was {
		return
	}
	n.noSpace.Store(full != nil)
	if full != nil {
		n.log.Error("store out of space: refusing client writes until space is freed (a follower keeps accepting the leader's)",
			"path", sp.Dir, "used", sp.Used, "quota", sp.Quota, "free", sp.Free, "min_free", sp.MinFree, "err", full)
		return
	}
	n.log.Info("store has space again: accepting client writes",
		"path", sp.Dir, "used", sp.Used, "quota", sp.Quota, "free", sp.Free, "min_free", sp.MinFree)
}

// refusedForSpace reports whether a client command must be refused with
// kv.StatusNoSpace: a write (not sm.Info.ReadOnly) while the store is out
// of space. Reads still go through the log: a get adds a few bytes, and
// serving them is the point of refusing before the disk is full.
func (n *Node) refusedForSpace(readOnly bool) bool {
	return !readOnly && n.noSpace.Load()
}
