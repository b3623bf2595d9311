package node

import (
	"fmt"
	"sync/atomic"

	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/route"
	"github.com/mpaxos/mpaxos/sm"
)

// group is one of the Paxos groups a node runs (Config.Groups): its own
// engine, state machine, queue of client commands, applied index and
// snapshots. The loop drives every group; the peer transport, the store,
// the writer and the read ring are the node's, shared by all of them.
type group struct {
	id  engine.GroupID
	eng protocol    // *engine.Engine, or a naive scheme (Config.Protocol, one group)
	sm  *sm.Applier // the group's machine behind its sessions (machine.go)
	// preferred is the member this group's leadership goes back to when
	// it is healthy (Config.Groups' doc, handoff.go).
	preferred engine.NodeID
	inbox     inbox

	// Owned by loop.
	status     engine.Status // from the end of the last loop pass
	applied    engine.Slot   // last slot applied to sm
	wasLeader  bool
	appliedLog *appliedRing // nil unless Config.RecordApplied > 0
	snap       snapState
	// membership is the configuration in force at applied (from
	// Ready.Membership), which every snapshot taken records.
	membership engine.Membership
	// removed: membership does not name this node; it serves the group
	// no more (members.go). Published for the client port's readers.
	removed atomic.Bool
	// joining: this node started empty to join (Config.InitialMembers)
	// and no configuration in force has named it yet. A leader catches a
	// joiner up with a snapshot older than the change that added it, whose
	// configuration lacks it: that is not a removal.
	joining bool
	// healthyTicks counts the ticks in a row this node, leading, saw the
	// preferred member caught up (maybeHandOff); prefHeard is the count of
	// frames heard from that member at the last look, prefSilent the
	// ticks since it last changed.
	healthyTicks int
	prefHeard    uint64
	prefSilent   int

	// Published by loop for readers on other goroutines.
	isLeader atomic.Bool
	leader   atomic.Uint32
	commit   atomic.Uint64
	appliedP atomic.Uint64
	ballot   atomic.Uint64
	// peerLag is, on the leader, how far each member's acknowledged slot
	// trails the last slot; refreshed every tick.
	peerLag atomic.Pointer[[]PeerLag]
}

// newGroup recovers group id from the store: its latest snapshot restored
// into a new state machine and an engine over its log (which hands the
// committed part above the snapshot back in its first Readies).
func (n *Node) newGroup(id engine.GroupID) (*group, error) {
	members := n.cfg.members()
	g := &group{id: id, preferred: members[int(id)%len(members)]}
	if err := g.inbox.init(n.cfg.Batch); err != nil {
		return nil, err
	}
	if n.cfg.RecordApplied > 0 {
		g.appliedLog = &appliedRing{buf: make([]AppliedCommand, n.cfg.RecordApplied)}
	}
	var err error
	if g.sm, err = n.newMachine(id); err != nil {
		return nil, err
	}
	lg := n.st.Log(id)
	snap, err := lg.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("node: group %d: reading snapshot: %w", id, err)
	}
	if snap.Slot > 0 {
		if err := g.sm.Restore(snap.Data); err != nil {
			return nil, fmt.Errorf("node: group %d: restoring snapshot at slot %d: %w", id, snap.Slot, err)
		}
		g.applied, g.snap.last = snap.Slot, snap.Slot
	}
	g.snap.stagger, g.snap.staggerBytes = n.snapStagger(id)
	ecfg := n.engineConfig(id)
	if g.eng, err = newProtocol(n.cfg.Protocol, ecfg, lg); err != nil {
		return nil, err
	}
	g.membership = g.eng.Status().Membership
	last0, err := lg.LastSlot()
	if err != nil {
		return nil, fmt.Errorf("group %d: %w", id, err)
	}
	g.joining = int(id) < len(n.cfg.InitialMembers) && snap.Slot == 0 && last0 == 0
	n.setRemoved(g)
	g.setPreferred()
	hs, _ := lg.InitialState()
	last, _ := lg.LastSlot()
	n.log.Info("recovered", "snapshot", snap.Slot, "promised", hs.Promised.String(),
		"commit", hs.Commit, "last_slot", last, "group", id)
	return g, nil
}

// setPreferred makes g prefer voter g mod V of its configuration's V
// voters (in id order), the same on every member that has it in force:
// with the initial configuration, member g mod N of Config.Peers.
func (g *group) setPreferred() {
	if v := g.membership.Voters; len(v) > 0 {
		g.preferred = v[int(g.id)%len(v)]
	}
}

// snapStagger is how far group id's first snapshot on this node comes
// early (maybeSnapshot): the node's position among the members and the
// group's among the groups spread the (node, group) pairs evenly over one
// snapshot interval, so neither the replicas of a group nor the groups of
// a node snapshot together.
func (n *Node) snapStagger(id engine.GroupID) (engine.Slot, uint64) {
	members := n.cfg.members()
	pairs := uint64(len(members) * n.cfg.Groups)
	for i, m := range members {
		if m == n.cfg.ID {
			pos := uint64(int(id)*len(members) + i)
			return engine.Slot(n.cfg.SnapshotEvery * pos / pairs), n.cfg.SnapshotBytes / pairs * pos
		}
	}
	return 0, 0
}

// groupOf returns the group that owns key (route.GroupOf). With one group
// there is nothing to hash.
func (n *Node) groupOf(key []byte) *group {
	if len(n.groups) == 1 {
		return n.groups[0]
	}
	return n.groups[route.GroupOf(key, len(n.groups))]
}

// groupByID returns group id, false if the node runs no such group.
func (n *Node) groupByID(id int) (*group, bool) {
	if id < 0 || id >= len(n.groups) {
		return nil, false
	}
	return n.groups[id], true
}

// handOffTicks is how many election timeouts in a row a group's preferred
// member must be a caught-up follower before its leader hands the group
// back to it: long enough that a member that just restarted has shown it
// stays, short enough that leaders spread again soon after a failover.
const handOffTicks = 3

// maybeHandOff returns each group this node leads to its preferred member
// (engine.TransferLeadership) once that member has followed it, caught
// up, for handOffTicks election timeouts: group g prefers voter g mod V (setPreferred),
// so the leaders, and the leaders' work, spread over the nodes. ticks is
// how many ticks passed since the last call. With one group there is
// nothing to spread, and the leader stays where elections put it, as it
// always did.
func (n *Node) maybeHandOff(ticks int) {
	if len(n.groups) == 1 {
		return
	}
	need := handOffTicks * n.cfg.ticks(n.cfg.ElectionTimeout)
	// A follower answers every heartbeat, so a member heard from within a
	// few heartbeats is up and reachable; one that is down or cut off is
	// not healthy, whatever it acknowledged before.
	silence := 3 * n.cfg.ticks(n.cfg.Heartbeat)
	for _, g := range n.groups {
		if g.preferred == n.cfg.ID {
			continue
		}
		if c := (*n.heard.Load())[g.preferred]; c == nil {
			// Not linked (yet): nothing heard from it.
			g.prefSilent = silence + 1
		} else if h := c.Load(); h != g.prefHeard {
			g.prefHeard, g.prefSilent = h, 0
		} else {
			g.prefSilent += ticks
		}
		st := &g.status
		if st.Role != engine.RoleLeader || st.HandoffTo != 0 || g.prefSilent > silence || !st.Membership.IsVoter(g.preferred) {
			g.healthyTicks = 0
			continue
		}
		caughtUp := false
		for _, m := range st.Match {
			if m.ID == g.preferred {
				caughtUp = st.LastSlot-min(m.Match, st.LastSlot) <= engine.Slot(n.cfg.Pipeline)
			}
		}
		if !caughtUp {
			g.healthyTicks = 0
			continue
		}
		if g.healthyTicks += ticks; g.healthyTicks < need {
			continue
		}
		g.healthyTicks = 0
		paxos, ok := g.eng.(*engine.Engine)
		if !ok {
			continue // a naive scheme (one group) has no hand-off
		}
		if err := paxos.TransferLeadership(g.preferred); err != nil {
			n.log.Debug("hand-off", "group", g.id, "to", g.preferred, "err", err)
			continue
		}
		n.stats.handoffs.Add(1)
		n.log.Info("handing group back to its preferred node", "group", g.id, "to", g.preferred)
	}
}
