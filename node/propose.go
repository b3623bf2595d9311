package node

import (
	"time"

	"github.com/mpaxos/mpaxos/batch"
)

// propose hands the queued commands of every group this node leads to its
// engine while its pipeline has room. It returns how long until some
// group's batcher wants another look (a max-delay deadline), if one does.
func (n *Node) propose() (time.Duration, bool) {
	var now time.Time
	var wait time.Duration
	waits := false
	for _, g := range n.groups {
		if !g.isLeader.Load() {
			continue
		}
		if now.IsZero() {
			now = time.Now()
		}
		if d, ok := n.proposeGroup(g, now); ok && (!waits || d < wait) {
			wait, waits = d, true
		}
	}
	return wait, waits
}

// proposeGroup is propose for one group.
func (n *Node) proposeGroup(g *group, now time.Time) (time.Duration, bool) {
	for g.eng.CanPropose() {
		b, oldest, ok := g.inbox.take(now)
		if !ok {
			break
		}
		if err := g.eng.Propose(b); err != nil {
			// Leadership or room vanished between CanPropose and Propose;
			// the commands' clients retry.
			n.log.Debug("propose", "group", g.id, "err", err)
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
		n.ls.proposedAt[&b[0]] = proposal{at: now, oldest: oldest, group: g.id}
	}
	// A full pipeline makes room only when a peer's Accepted or a sync
	// arrives, and either wakes the loop; a deadline timer then would
	// only spin the loop.
	if !g.eng.CanPropose() {
		return 0, false
	}
	if dl, ok := g.inbox.deadline(); ok {
		return max(dl.Sub(now), 0), true
	}
	return 0, false
}
