package node

import (
	"time"

	"github.com/mpaxos/mpaxos/batch"
)

// propose hands the leader's queued commands to the engine while its
// pipeline has room. It returns how long until the batcher wants another
// look (a max-delay deadline), if it does.
func (n *Node) propose() (time.Duration, bool) {
	if !n.isLeader.Load() {
		return 0, false
	}
	now := time.Now()
	for n.eng.CanPropose() {
		b, oldest, ok := n.inbox.take(now)
		if !ok {
			break
		}
		if err := n.eng.Propose(b); err != nil {
			// Leadership or room vanished between CanPropose and Propose;
			// the commands' clients retry.
			n.log.Debug("propose", "err", err)
			break
		}
		n.stats.batches.Add(1)
		if c, err := batch.Count(b); err == nil {
			n.stats.commands.Add(uint64(c))
			n.stages.batchSize(c)
		}
		if oldest.IsZero() {
			oldest = now
		} else {
			n.stages.since(StageBatchWait, oldest)
		}
		n.ls.proposedAt[&b[0]] = proposal{at: now, oldest: oldest}
	}
	// A full pipeline makes room only when a peer's Accepted or a sync
	// arrives, and either wakes the loop; a deadline timer then would
	// only spin the loop.
	if !n.eng.CanPropose() {
		return 0, false
	}
	if dl, ok := n.inbox.deadline(); ok {
		d := dl.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}
