package node

import (
	"maps"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/valyala/bytebufferpool"

	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/kv"
	"github.com/mpaxos/mpaxos/net/transport"
)

// Membership at run time (the protocol is the engine's, membership.go
// there): each group's configuration comes from its log (Ready.Membership)
// and snapshots; the node keeps its peer transport in step with the union
// of its groups' members (syncPeers), reports members by GET /members and
// changes them by POST /members (membersapi.go), and stops serving a group
// whose configuration no longer names it (removed).
//
// Addresses. A configuration records, for members the runtime gave one,
// an address (engine.Membership.Addrs, opaque to the engine): the peer
// address, then, after a space, the admin address when known
// (memberAddr). A node learns the addresses of the members it was not
// started with from there; members of the initial configuration may have
// none recorded, and the node falls back to Config.Peers. Every change
// this node proposes records the addresses it knows of every member that
// lacks one (its own with its admin address), so after the first change
// the configuration names everyone.

// memberAddr is a member's entry in engine.Membership.Addrs.
type memberAddr struct {
	peer, admin string
}

func (a memberAddr) String() string {
	if a.admin == "" {
		return a.peer
	}
	return a.peer + " " + a.admin
}

// parseMemberAddr reads a memberAddr; fields it does not know are
// ignored, so a later runtime may append some.
func parseMemberAddr(s string) memberAddr {
	f := strings.Fields(s)
	var a memberAddr
	if len(f) > 0 {
		a.peer = f[0]
	}
	if len(f) > 1 {
		a.admin = f[1]
	}
	return a
}

// peerGrace is how many ticks a member that left every configuration
// stays linked: the leader's last word to it (the commit index that tells
// it it was removed) goes out in the Ready that brings the change into
// force, and must not be cut off with the link.
const peerGraceElections = 4

// memberState is the loop's view of the peer transport's members.
type memberState struct {
	// linked is every peer the transport has, at its address.
	linked map[engine.NodeID]string
	// unwanted counts, for a linked peer no configuration names any more,
	// the ticks since syncPeers first saw it so.
	unwanted map[engine.NodeID]int
}

// addrOf is where member id of group g is, as far as this node knows.
func (n *Node) addrOf(g *group, id engine.NodeID) memberAddr {
	var a memberAddr
	if s, ok := g.membership.Addrs[id]; ok {
		a = parseMemberAddr(s)
	} else if s, ok := g.status.PendingConf.Addrs[id]; ok {
		a = parseMemberAddr(s)
	}
	if a.peer == "" {
		a.peer = n.cfg.Peers[id]
	}
	if id == n.cfg.ID {
		a.peer = n.cfg.Peers[id]
		a.admin = n.adminAddr()
	}
	return a
}

// adminAddr is the address this node's admin port listens on, "" without
// one.
func (n *Node) adminAddr() string {
	if p := n.adminBound.Load(); p != nil {
		return *p
	}
	return ""
}

// wantedPeers is every member of some group's configuration (a leader's
// pending one included: it sends the new member the log before the
// change is chosen) other than this node, at its peer address where
// known.
func (n *Node) wantedPeers() map[engine.NodeID]string {
	want := make(map[engine.NodeID]string)
	for _, g := range n.groups {
		for _, m := range []engine.Membership{g.membership, g.status.PendingConf} {
			for _, l := range [][]engine.NodeID{m.Voters, m.Learners} {
				for _, id := range l {
					if id == n.cfg.ID {
						continue
					}
					if a := n.addrOf(g, id); a.peer != "" {
						want[id] = a.peer
					} else if _, ok := want[id]; !ok {
						want[id] = ""
					}
				}
			}
		}
	}
	return want
}

// syncPeers links the transport to every member it lacks, relinks one
// whose address changed, and unlinks those no configuration has named
// for peerGraceElections election timeouts (ticks: the ticks since the
// last call, 0 when a configuration changed). Runs on loop.
func (n *Node) syncPeers(ticks int) {
	if n.peers == nil {
		return
	}
	ms := &n.ls.members
	want := n.wantedPeers()
	for _, id := range slices.Sorted(maps.Keys(want)) {
		addr := want[id]
		delete(ms.unwanted, id)
		if addr == "" {
			continue // a member nobody told us where to find; it may dial us
		}
		if old, ok := ms.linked[id]; ok {
			if old == addr {
				continue
			}
			if err := n.peers.RemovePeer(uint64(id)); err != nil {
				n.log.Warn("membership: unlinking a moved member", "peer", id, "err", err)
			}
			delete(ms.linked, id)
		}
		if err := n.peers.AddPeer(uint64(id), addr); err != nil {
			n.log.Warn("membership: linking a new member", "peer", id, "addr", addr, "err", err)
			continue
		}
		ms.linked[id] = addr
		n.log.Info("membership: linked member", "peer", id, "addr", addr)
	}
	grace := peerGraceElections * n.cfg.ticks(n.cfg.ElectionTimeout)
	for _, id := range slices.Sorted(maps.Keys(ms.linked)) {
		if _, ok := want[id]; ok {
			continue
		}
		if ms.unwanted[id] += ticks; ms.unwanted[id] < grace {
			continue
		}
		delete(ms.unwanted, id)
		delete(ms.linked, id)
		if err := n.peers.RemovePeer(uint64(id)); err != nil {
			n.log.Warn("membership: unlinking a removed member", "peer", id, "err", err)
			continue
		}
		n.log.Info("membership: unlinked member no configuration names", "peer", id)
	}
	if heard := *n.heard.Load(); slices.ContainsFunc(slices.Collect(maps.Keys(ms.linked)), func(id engine.NodeID) bool { return heard[id] == nil }) {
		// A new member: count its frames too (maybeHandOff), in a new
		// map, as the transport's readers read the old one.
		next := maps.Clone(heard)
		for id := range ms.linked {
			if next[id] == nil {
				next[id] = new(atomic.Uint64)
			}
		}
		n.heard.Store(&next)
	}
	ids := append(slices.Collect(maps.Keys(ms.linked)), n.cfg.ID)
	slices.Sort(ids)
	n.linkedIDs.Store(&ids)
}

// peerIDs is every node the transport links, this one included, in
// order: the members the fault hook may name (a member that joined since
// Start included). Before the transport starts, Config.Peers'.
func (n *Node) peerIDs() []engine.NodeID {
	if p := n.linkedIDs.Load(); p != nil {
		return *p
	}
	return n.cfg.members()
}

// onMembership is called on loop when group g's configuration in force
// became m (Ready.Membership, once its Committed are applied).
func (n *Node) onMembership(g *group, m engine.Membership) {
	g.membership = m
	g.setPreferred()
	n.log.Info("membership in force", "group", g.id, "voters", m.Voters, "learners", m.Learners)
	n.setRemoved(g)
	if n.peers != nil {
		n.syncPeers(0)
	}
}

// setRemoved publishes whether g's configuration still names this node;
// a node it no longer names stops serving g (clients get
// kv.StatusRemoved) and says so.
func (n *Node) setRemoved(g *group) {
	if g.joining && g.membership.Contains(n.cfg.ID) && g.eng.Status().Applied > 0 {
		g.joining = false // named by a configuration the log or a snapshot brought
	}
	removed := !g.joining && !g.membership.IsZero() && !g.membership.Contains(n.cfg.ID)
	if g.removed.Swap(removed) == removed || !removed {
		return
	}
	n.stats.removals.Add(1)
	n.log.Warn("this node was removed from the group's configuration: it no longer serves the group",
		"group", g.id, "voters", g.membership.Voters, "learners", g.membership.Learners)
	n.failPending(g, kv.StatusRemoved)
	if n.removed() {
		n.log.Warn("this node was removed from every group: it serves nothing and can be stopped")
	}
}

// removed reports whether no group's configuration names this node.
func (n *Node) removed() bool {
	for _, g := range n.groups {
		if !g.removed.Load() {
			return false
		}
	}
	return len(n.groups) == n.cfg.Groups
}

// tickMembers is the loop's tick for membership: it links the members of
// a change a leader is proposing (they get the log before it is chosen)
// and unlinks, after their grace, members no configuration names. ticks
// is how many ticks passed since the last call.
func (n *Node) tickMembers(ticks int) {
	busy := len(n.ls.members.unwanted) > 0
	for _, g := range n.groups {
		busy = busy || !g.status.PendingConf.IsZero()
	}
	if busy {
		n.syncPeers(ticks)
	}
}

// removedReply refuses a command of group g, whose configuration no
// longer names this node, naming the leader it last knew.
func (n *Node) removedReply(g *group, c *transport.Conn, reqID uint64) {
	resp := kv.Response{ReqID: reqID, Status: kv.StatusRemoved, Node: uint16(n.cfg.ID), Leader: uint16(g.leader.Load())}
	buf := bytebufferpool.Get()
	buf.B = kv.AppendResponse(buf.B[:0], &resp)
	c.Send(kv.FrameResponse, buf)
}
